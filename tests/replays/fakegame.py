"""A small deterministic test double of the :class:`~longplay.envs.game.Game` protocol.

The replay tests run against it so they need neither the built-in game nor a ROM: a 16x16 grid on two
maps, a menu opened with START, random "encounters" drawn from a counter-based RNG, and four milestones.
Every button press changes the state (a press counter and the last button are part of it), so a replay
with one action changed always re-simulates to a different state hash.

Milestones (in catalog order):

* ``left_home``: the player stood off the start tile.
* ``opened_menu``: START was pressed once.
* ``hundred_presses``: 100 buttons were pressed (exactly at step 100: handy for tests).
* ``finish``: ``finish_at`` buttons were pressed (never when ``finish_at`` is ``None``); the game is finished.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
from gymnasium import spaces

from longplay.envs.env import LongplayEnv
from longplay.envs.game import Button, GameError, GameState, Milestone, Mode

ENV_ID = "LongplayTest/Fake-v0"
SIZE = 16
_MAGIC = b"FAKE"
_STATE = struct.Struct("<4sQQBBBBBBBI")  # magic, key, presses, map, x, y, mode, last, menu_once, pad, rng
_MODES = (Mode.OVERWORLD, Mode.MENU, Mode.BATTLE, Mode.DIALOG)
_MOVES = {Button.UP: (0, -1), Button.DOWN: (0, 1), Button.LEFT: (-1, 0), Button.RIGHT: (1, 0)}
_SHADES = np.array([[224, 248, 208], [136, 192, 112], [52, 104, 86], [8, 24, 32]], dtype=np.uint8)


def _mix(x: int) -> int:
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


class FakeGame:
    """A tiny deterministic game implementing the ``Game`` protocol (see the module docstring)."""

    backend = "fake"

    def __init__(self, world_seed: int = 0, finish_at: int | None = None) -> None:
        self.world_seed = world_seed
        self.finish_at = finish_at
        self._catalog = (
            Milestone("left_home", "Left the start tile", 0),
            Milestone("opened_menu", "Opened the menu", 0),
            Milestone("hundred_presses", "Pressed 100 buttons", 1, 2.0),
            Milestone("finish", "Finished the game", 2),
        )
        self._base = [np.tile(_SHADES[m], (144, 160, 1)) for m in (0, 1)]
        self.reset(0)

    # ------------------------------------------------------------------------------------------ dynamics
    def reset(self, seed: int | None = None) -> None:
        self.key = _mix((seed or 0) ^ self.world_seed ^ 0x9E3779B9)
        self.presses = 0
        self.map = 0
        self.x = self.y = SIZE // 2
        self.mode = 0
        self.last = 255
        self.menu_once = 0
        self.rng = self.key

    def press(self, button: Button | None) -> int:
        self.presses += 1
        self.last = 255 if button is None else int(button)
        self.rng = _mix(self.rng + self.presses)
        if self.mode == 1:  # menu: START or B closes it
            if button in (Button.START, Button.B):
                self.mode = 0
        elif self.mode == 2:  # battle: A wins it
            if button == Button.A:
                self.mode = 0
        elif button == Button.START:
            self.mode = 1
            self.menu_once = 1
        elif button in _MOVES:
            dx, dy = _MOVES[button]
            self.x = min(SIZE - 1, max(0, self.x + dx))
            self.y = min(SIZE - 1, max(0, self.y + dy))
            if self.x == 0 and self.y == 0:
                self.map ^= 1
            if self.rng % 16 == 0:
                self.mode = 2
        return 1

    # ------------------------------------------------------------------------------------------ views
    def state(self) -> GameState:
        return GameState(self.map, f"map{self.map}", self.x, self.y, "down", _MODES[self.mode])

    def frame(self) -> np.ndarray:
        frame = self._base[self.map].copy()
        frame[self.y * 9:self.y * 9 + 8, self.x * 10:self.x * 10 + 8] = _SHADES[3]
        frame[140:144, : min(160, self.presses % 161)] = _SHADES[2]
        return frame

    def text(self) -> str:
        return f"map {self.map} at ({self.x}, {self.y}), {_MODES[self.mode].value}, {self.presses} presses"

    def symbolic(self) -> dict[str, np.ndarray]:
        return {"pos": np.array([self.map, self.x, self.y, self.mode], dtype=np.int16)}

    def symbolic_space(self) -> Any:
        return spaces.Dict({"pos": spaces.Box(0, SIZE, (4,), np.int16)})

    # ------------------------------------------------------------------------------------------ state
    def save_state(self) -> bytes:
        return _STATE.pack(_MAGIC, self.key, self.presses, self.map, self.x, self.y, self.mode, self.last,
                           self.menu_once, 0, self.rng)

    def load_state(self, data: bytes) -> None:
        if len(data) != _STATE.size or data[:4] != _MAGIC:
            raise GameError("not a fake-game save state")
        (_, self.key, self.presses, self.map, self.x, self.y, self.mode, self.last, self.menu_once, _,
         self.rng) = _STATE.unpack(data)

    def state_hash(self) -> bytes:
        return hashlib.blake2b(self.save_state(), digest_size=16).digest()

    def fingerprint(self) -> int:
        """The optional cheap per-step digest replays record (see ``replays/FORMAT.md``)."""
        return hash((self.presses, self.map, self.x, self.y, self.mode, self.last))

    # ------------------------------------------------------------------------------------------ progress
    def milestones(self) -> tuple[Milestone, ...]:
        return self._catalog

    def milestone_mask(self) -> int:
        mask = 0
        if (self.x, self.y) != (SIZE // 2, SIZE // 2) or self.map:
            mask |= 1
        if self.menu_once:
            mask |= 2
        if self.presses >= 100:
            mask |= 4
        if self.finish_at is not None and self.presses >= self.finish_at:
            mask |= 8
        return mask

    def finished(self) -> bool:
        return self.finish_at is not None and self.presses >= self.finish_at

    def identity(self) -> dict[str, Any]:
        return {"backend": self.backend, "world_seed": self.world_seed, "finish_at": self.finish_at}


class FakeGameWithoutFingerprint(FakeGame):
    """The fake game without the optional ``fingerprint``: replays then rely on periodic state hashes."""

    fingerprint = None  # type: ignore[assignment]


def make_fake_env(world_seed: int = 0, finish_at: int | None = None, fingerprint: bool = True,
                  **env_kwargs: Any) -> LongplayEnv:
    """The env entry point registered under :data:`ENV_ID`."""
    game = (FakeGame if fingerprint else FakeGameWithoutFingerprint)(world_seed, finish_at)
    return LongplayEnv(game, **env_kwargs)


def register() -> None:
    """Registers :data:`ENV_ID` (idempotent)."""
    from gymnasium.envs.registration import register as gym_register
    from gymnasium.envs.registration import registry

    if ENV_ID not in registry:
        gym_register(id=ENV_ID, entry_point=make_fake_env, kwargs={"world_seed": 0},
                     disable_env_checker=True)
