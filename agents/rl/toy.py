"""A toy grid task in two engines with the shapes of quest's: a stand-in for the batched engine.

The device-resident PPO is written against the batched quest engine's interface
(``longplay.envs.quest.batched.BatchedQuest``). Until that engine is installed, and in fast tests, this module
gives the same interface over a tiny task, in the same two forms as quest:

* :class:`ToyGame`: the reference rules as a :class:`~longplay.envs.game.Game` (so :class:`LongplayEnv`,
  replays and the ``ppo`` agent work on it), registered on demand as ``LongplayToy/Grid-v0``;
* :class:`ToyBatched`: the same rules in torch, one tensor per state field with a leading env dimension,
  branch-free, same-step autoreset, episode statistics in ``info`` (the ``BatchedQuest`` contract).

The task: a 12x12 room with a wall across it; walk off the start tile (milestone 1), step on the flag
(milestone 2), then on the goal (milestone 3, the episode ends). Observations match quest's symbolic
ones: ``tiles`` and ``entities`` (9, 10) ``uint8`` around the player, ``vector`` (32,) ``float32``; pixels
are 144x160x3 (one 16x16 block of shade per tile).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
from gymnasium import spaces

from longplay.envs.env import LongplayEnv
from longplay.envs.game import Button, GameError, GameState, Milestone, Mode

TOY_ENV_ID = "LongplayToy/Grid-v0"
VIEW_H, VIEW_W = 9, 10
PLAYER_ROW, PLAYER_COL = 4, 4
VECTOR_SIZE = 32
VOID, FLOOR, WALL, FLAG, GOAL = range(5)
NUM_TILES = 5
LAYOUT = (
    "############",
    "#.........F#",
    "#..........#",
    "#..........#",
    "#..........#",
    "#######.####",
    "#..........#",
    "#..........#",
    "#..........#",
    "#..........#",
    "#.........G#",
    "############",
)
START = (1, 1)
_CHARS = {"#": WALL, ".": FLOOR, "F": FLAG, "G": GOAL}
GRID = np.array([[_CHARS[c] for c in row] for row in LAYOUT], np.uint8)
FLAG_XY = next((x, y) for y, row in enumerate(LAYOUT) for x, c in enumerate(row) if c == "F")
GOAL_XY = next((x, y) for y, row in enumerate(LAYOUT) for x, c in enumerate(row) if c == "G")
#: Movement of each button (index = Button value); A, B, START, SELECT and no-op do not move.
DX = (0, 0, -1, 1, 0, 0, 0, 0, 0)
DY = (-1, 1, 0, 0, 0, 0, 0, 0, 0)
FACING = (0, 1, 2, 3, -1, -1, -1, -1, -1)
SHADES = np.array([[8, 24, 32], [224, 248, 208], [52, 104, 86], [136, 192, 112], [136, 192, 112]], np.uint8)
PLAYER_SHADE = np.array([8, 24, 32], np.uint8)
DEFAULT_MAX_STEPS = 256
_STATE = struct.Struct("<4sBBBBBI")
_MAGIC = b"TOY1"


def _padded_grid() -> np.ndarray:
    pad = np.zeros((GRID.shape[0] + 2 * VIEW_H, GRID.shape[1] + 2 * VIEW_W), np.uint8)
    pad[VIEW_H:VIEW_H + GRID.shape[0], VIEW_W:VIEW_W + GRID.shape[1]] = GRID
    return pad


class ToyGame:
    """The toy task's reference rules behind the :class:`~longplay.envs.game.Game` protocol."""

    backend = "toy"

    def __init__(self) -> None:
        self._catalog = (Milestone("left_start", "Left the start tile", 0),
                         Milestone("got_flag", "Stood on the flag", 1),
                         Milestone("reached_goal", "Reached the goal with the flag", 2))
        self._padded = _padded_grid()
        self.reset(0)

    def reset(self, seed: int | None = None) -> None:
        self.x, self.y = START
        self.facing = 1
        self.mask = 0
        self.ticks = 0

    def press(self, button: Button | int | None) -> int:
        self.ticks += 1
        b = 8 if button is None else int(button)
        if self.mask & 4:
            return 1
        nx, ny = self.x + DX[b], self.y + DY[b]
        if FACING[b] >= 0:
            self.facing = FACING[b]
        if GRID[ny, nx] != WALL:
            self.x, self.y = nx, ny
        if (self.x, self.y) != START:
            self.mask |= 1
        if (self.x, self.y) == FLAG_XY:
            self.mask |= 2
        if (self.x, self.y) == GOAL_XY and self.mask & 2:
            self.mask |= 4
        return 1

    def _view(self) -> np.ndarray:
        top, left = self.y - PLAYER_ROW + VIEW_H, self.x - PLAYER_COL + VIEW_W
        return self._padded[top:top + VIEW_H, left:left + VIEW_W].copy()

    def state(self) -> GameState:
        facing = ("up", "down", "left", "right")[self.facing]
        return GameState(0, "room", self.x, self.y, facing, Mode.OVERWORLD,
                         flags=frozenset(m.id for i, m in enumerate(self._catalog) if self.mask >> i & 1))

    def frame(self) -> np.ndarray:
        frame = SHADES[self._view()].repeat(16, axis=0).repeat(16, axis=1)
        r, c = PLAYER_ROW * 16, PLAYER_COL * 16
        frame[r + 4:r + 12, c + 4:c + 12] = PLAYER_SHADE
        return frame

    def text(self) -> str:
        return f"room at ({self.x}, {self.y}), milestones {self.mask:03b}"

    def symbolic(self) -> dict[str, np.ndarray]:
        entities = np.zeros((VIEW_H, VIEW_W), np.uint8)
        entities[PLAYER_ROW, PLAYER_COL] = 1
        vector = np.zeros(VECTOR_SIZE, np.float32)
        vector[1], vector[3], vector[4] = self.facing, self.x, self.y
        vector[5] = float(self.mask >> 1 & 1)
        vector[6] = float(self.mask.bit_count())
        return {"tiles": self._view(), "entities": entities, "vector": vector}

    def symbolic_space(self) -> spaces.Dict:
        return spaces.Dict({"tiles": spaces.Box(0, NUM_TILES - 1, (VIEW_H, VIEW_W), np.uint8),
                            "entities": spaces.Box(0, 1, (VIEW_H, VIEW_W), np.uint8),
                            "vector": spaces.Box(-1.0, 1e7, (VECTOR_SIZE,), np.float32)})

    def save_state(self) -> bytes:
        return _STATE.pack(_MAGIC, self.x, self.y, self.facing, self.mask, 0, self.ticks)

    def load_state(self, data: bytes) -> None:
        if len(data) != _STATE.size or data[:4] != _MAGIC:
            raise GameError("not a toy-grid save state")
        _, self.x, self.y, self.facing, self.mask, _, self.ticks = _STATE.unpack(data)

    def milestones(self) -> tuple[Milestone, ...]:
        return self._catalog

    def milestone_mask(self) -> int:
        return self.mask

    def finished(self) -> bool:
        return bool(self.mask & 4)

    def state_hash(self) -> bytes:
        return hashlib.blake2b(self.save_state(), digest_size=16).digest()

    def identity(self) -> dict[str, Any]:
        return {"backend": self.backend, "world_seed": 0}


def make_toy_env(obs_mode: str = "symbolic", max_episode_steps: int | None = DEFAULT_MAX_STEPS,
                 **kwargs: Any) -> LongplayEnv:
    """The toy task as a :class:`LongplayEnv` (the entry point of ``LongplayToy/Grid-v0``)."""
    return LongplayEnv(ToyGame(), obs_mode=obs_mode, max_episode_steps=max_episode_steps, **kwargs)


def register_toy() -> str:
    """Registers ``LongplayToy/Grid-v0`` (outside the ``longplay/`` namespace, idempotent); returns the id."""
    from gymnasium.envs.registration import register, registry

    if TOY_ENV_ID not in registry:
        register(id=TOY_ENV_ID, entry_point="longplay.agents.rl.toy:make_toy_env", disable_env_checker=True)
    return TOY_ENV_ID


class ToyBatched:
    """The toy task for ``num_envs`` envs at once in torch, with ``BatchedQuest``'s interface.

    ``reset(seed) -> obs``; ``step(actions) -> (obs, reward, terminated, truncated, info)``, every tensor on
    ``device``, done envs reset on the same step (their returned obs is the new episode's first), and
    ``info["episode_return"]``, ``info["episode_length"]``, ``info["milestones"]`` valid where done;
    ``final_obs=True``: each finished episode's last observation in ``info["final_obs"]``, as quest's engine.
    """

    def __init__(self, num_envs: int, device: str | Any = "cpu", obs_mode: str = "symbolic",
                 max_episode_steps: int | None = DEFAULT_MAX_STEPS, final_obs: bool = False, **_: Any) -> None:
        import torch

        if obs_mode not in ("symbolic", "pixels"):
            raise ValueError(f"invalid obs_mode {obs_mode!r}; valid: symbolic, pixels")
        self.torch = torch
        self.num_envs, self.device, self.obs_mode = num_envs, torch.device(device), obs_mode
        self.max_episode_steps = max_episode_steps
        self.final_obs = final_obs
        self.single_observation_space = (ToyGame().symbolic_space() if obs_mode == "symbolic" else
                                         spaces.Dict({"pixels": spaces.Box(0, 255, (144, 160, 3), np.uint8)}))
        self.single_action_space = spaces.Discrete(8)
        d = self.device
        self.padded = torch.as_tensor(_padded_grid(), device=d)
        self.rows = torch.arange(VIEW_H, device=d).view(1, VIEW_H, 1)
        self.cols = torch.arange(VIEW_W, device=d).view(1, 1, VIEW_W)
        self.dx = torch.tensor(DX, device=d)
        self.dy = torch.tensor(DY, device=d)
        self.face = torch.tensor(FACING, device=d)
        self.grid = torch.as_tensor(GRID, device=d)
        self.shades = torch.as_tensor(SHADES, device=d)
        n = num_envs
        self.x = torch.full((n,), START[0], dtype=torch.long, device=d)
        self.y = torch.full((n,), START[1], dtype=torch.long, device=d)
        self.facing = torch.ones(n, dtype=torch.long, device=d)
        self.mask = torch.zeros(n, dtype=torch.long, device=d)
        self.steps = torch.zeros(n, dtype=torch.long, device=d)
        self.returns = torch.zeros(n, dtype=torch.float32, device=d)

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        """Starts every env (the toy task has no randomness; ``seed`` is accepted for the interface)."""
        self._reset_where(self.torch.ones(self.num_envs, dtype=self.torch.bool, device=self.device))
        return self._observe()

    def _reset_where(self, done: Any) -> None:
        t = self.torch
        self.x = t.where(done, START[0], self.x)
        self.y = t.where(done, START[1], self.y)
        self.facing = t.where(done, 1, self.facing)
        self.mask = t.where(done, 0, self.mask)
        self.steps = t.where(done, 0, self.steps)
        self.returns = t.where(done, 0.0, self.returns)

    def step(self, actions: Any) -> tuple[dict[str, Any], Any, Any, Any, dict[str, Any]]:
        """One button per env; see the class docstring."""
        t = self.torch
        a = actions.long().clamp(0, 8)
        nx, ny = self.x + self.dx[a], self.y + self.dy[a]
        self.facing = t.where(self.face[a] >= 0, self.face[a], self.facing)
        free = self.grid[ny, nx] != WALL
        self.x, self.y = t.where(free, nx, self.x), t.where(free, ny, self.y)
        before = self.mask
        mask = self.mask | ((self.x != START[0]) | (self.y != START[1])).long()
        mask = mask | ((self.x == FLAG_XY[0]) & (self.y == FLAG_XY[1])).long() * 2
        mask = mask | ((self.x == GOAL_XY[0]) & (self.y == GOAL_XY[1]) & (mask & 2 > 0)).long() * 4
        self.mask = mask
        self.steps = self.steps + 1
        reward = (_popcount(mask) - _popcount(before)).float()
        self.returns = self.returns + reward
        terminated = mask & 4 > 0
        truncated = (self.steps >= self.max_episode_steps) & ~terminated if self.max_episode_steps else \
            t.zeros_like(terminated)
        done = terminated | truncated
        info = {"episode_return": self.returns.clone(), "episode_length": self.steps.clone(),
                "milestones": _popcount(mask)}
        if self.final_obs:
            info["final_obs"] = self._observe()
        self._reset_where(done)
        return self._observe(), reward, terminated, truncated, info

    def _observe(self) -> dict[str, Any]:
        t = self.torch
        view = self.padded[(self.y.view(-1, 1, 1) - PLAYER_ROW + VIEW_H + self.rows),
                           (self.x.view(-1, 1, 1) - PLAYER_COL + VIEW_W + self.cols)]
        if self.obs_mode == "pixels":
            frame = self.shades[view.long()].repeat_interleave(16, dim=1).repeat_interleave(16, dim=2)
            r, c = PLAYER_ROW * 16, PLAYER_COL * 16
            frame[:, r + 4:r + 12, c + 4:c + 12] = self.shades.new_tensor(PLAYER_SHADE)
            return {"pixels": frame}
        n = self.num_envs
        entities = t.zeros((n, VIEW_H, VIEW_W), dtype=t.uint8, device=self.device)
        entities[:, PLAYER_ROW, PLAYER_COL] = 1
        vector = t.zeros((n, VECTOR_SIZE), dtype=t.float32, device=self.device)
        vector[:, 1], vector[:, 3], vector[:, 4] = self.facing.float(), self.x.float(), self.y.float()
        vector[:, 5] = (self.mask >> 1 & 1).float()
        vector[:, 6] = _popcount(self.mask).float()
        return {"tiles": view, "entities": entities, "vector": vector}


def _popcount(mask: Any) -> Any:
    return (mask & 1) + (mask >> 1 & 1) + (mask >> 2 & 1)
