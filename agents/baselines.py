"""Baseline agents: uniform random buttons, and an explorer that seeks tiles it has not stood on.

Both use only what the env shows: the explorer reads the symbolic view (visible tiles and entities, and
the scalar vector's mode, map and position), never the game's internals.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from longplay.envs.game import Button

_DPAD = (Button.UP, Button.DOWN, Button.LEFT, Button.RIGHT)
_STEP = ((0, -1), (0, 1), (-1, 0), (1, 0))


class RandomAgent:
    """Presses one of the eight buttons uniformly at random (seeded per episode)."""

    name = "random"
    obs_mode = "symbolic"

    def __init__(self, **_: Any) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.n = int(env.action_space.n)

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        return int(self.rng.integers(0, 8))


class ExplorerAgent:
    """Frontier-seeking exploration over the symbolic view (quest's ``tiles``/``entities``/``vector``).

    In the overworld it walks (breadth-first over the visible, walkable tiles) to the nearest tile it has
    not stood on, talks once to each person it meets, and wanders toward the least-visited neighbour when no
    frontier is in sight. Text boxes and battles are advanced with A; menus are closed with B.
    """

    name = "explorer"
    obs_mode = "symbolic"

    def __init__(self, **_: Any) -> None:
        from longplay.envs.quest.constants import PLAYER_VIEW_X, PLAYER_VIEW_Y, TILE_WALKABLE

        self.walkable = np.array(TILE_WALKABLE, bool)
        self.px, self.py = PLAYER_VIEW_X, PLAYER_VIEW_Y
        self.rng = np.random.default_rng(0)
        self.visits: dict[tuple[int, int, int], int] = {}
        self.talked: set[tuple[int, int, int]] = set()

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.visits.clear()
        self.talked.clear()

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        vec = obs["vector"]
        mode = int(vec[0])
        if mode == 1 or mode == 3:  # dialog, battle: A advances, fights with the move under the cursor
            return int(Button.A)
        if mode == 2:
            return int(Button.B)
        facing, map_id, x, y = int(vec[1]), int(vec[2]), int(vec[3]), int(vec[4])
        here = (map_id, x, y)
        self.visits[here] = self.visits.get(here, 0) + 1
        tiles, entities = obs["tiles"], obs["entities"]
        # Talk once to whoever stands in front.
        fx, fy = self.px + _STEP[facing][0], self.py + _STEP[facing][1]
        front = (map_id, x + _STEP[facing][0], y + _STEP[facing][1])
        if 0 <= fy < tiles.shape[0] and 0 <= fx < tiles.shape[1] and entities[fy, fx] and front not in self.talked:
            self.talked.add(front)
            return int(Button.A)
        direction = self._toward_frontier(tiles, entities, map_id, x, y)
        if direction is None:
            direction = self._least_visited(tiles, entities, map_id, x, y)
        return int(_DPAD[direction])

    def _passable(self, tiles: np.ndarray, entities: np.ndarray, vx: int, vy: int) -> bool:
        return (0 <= vy < tiles.shape[0] and 0 <= vx < tiles.shape[1] and bool(self.walkable[tiles[vy, vx]])
                and not entities[vy, vx])

    def _toward_frontier(self, tiles: np.ndarray, entities: np.ndarray, map_id: int, x: int, y: int) -> int | None:
        start = (self.px, self.py)
        first: dict[tuple[int, int], int] = {start: -1}
        queue = deque([start])
        while queue:
            vx, vy = queue.popleft()
            for d, (dx, dy) in enumerate(_STEP):
                nxt = (vx + dx, vy + dy)
                if nxt in first or not self._passable(tiles, entities, *nxt):
                    continue
                first[nxt] = d if first[(vx, vy)] < 0 else first[(vx, vy)]
                world = (map_id, x + nxt[0] - self.px, y + nxt[1] - self.py)
                if world not in self.visits:
                    return first[nxt]
                queue.append(nxt)
        return None

    def _least_visited(self, tiles: np.ndarray, entities: np.ndarray, map_id: int, x: int, y: int) -> int:
        best, best_count = int(self.rng.integers(0, 4)), None
        for d in self.rng.permutation(4):
            dx, dy = _STEP[d]
            if not self._passable(tiles, entities, self.px + dx, self.py + dy):
                continue
            count = self.visits.get((map_id, x + dx, y + dy), 0)
            if best_count is None or count < best_count:
                best, best_count = int(d), count
        return best
