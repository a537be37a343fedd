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

    In the overworld it walks (breadth-first over the visible, walkable tiles) to the nearest person, sign,
    item or capsule in sight that it has not talked to (it steps next to it, or to the counter in front of it,
    turns to face it and presses A), else to the nearest tile it has not stood on (a door or mat that took it
    elsewhere counts as stood on); with neither in sight it wanders toward the least-visited neighbour. Text
    boxes and battles are advanced with A (fighting with the move under the cursor); menus are closed with B.
    """

    name = "explorer"
    obs_mode = "symbolic"

    def __init__(self, **_: Any) -> None:
        from longplay.envs.quest.constants import PLAYER_VIEW_X, PLAYER_VIEW_Y, TILE_WALKABLE, Sprite, Tile

        self.walkable = np.array(TILE_WALKABLE, bool)
        self.counter = int(Tile.COUNTER)
        self.ignored = {int(Sprite.NONE), int(Sprite.PLAYER), int(Sprite.BOULDER), int(Sprite.CUT_TREE)}
        self.px, self.py = PLAYER_VIEW_X, PLAYER_VIEW_Y
        self.rng = np.random.default_rng(0)
        self.visits: dict[tuple[int, int, int], int] = {}
        self.talked: set[tuple[int, int, int]] = set()
        self.heading: tuple[int, int, int] | None = None

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or not {"tiles", "entities", "vector"} <= set(space.spaces):
            raise ValueError("the explorer reads the built-in quest game's symbolic view (tiles, entities, vector): "
                             "run it on a quest env with obs_mode symbolic")
        self.rng = np.random.default_rng(seed)
        self.visits.clear()
        self.talked.clear()
        self.heading = None

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
        if self.heading is not None and self.heading[0] != map_id:  # a door or mat took us away: count it
            self.visits[self.heading] = self.visits.get(self.heading, 0) + 1
        tiles, entities = obs["tiles"], obs["entities"]
        spots = self._talk_spots(tiles, entities, map_id, x, y)
        if (self.px, self.py, facing) in spots:  # facing someone new: talk
            self.talked.add(spots[(self.px, self.py, facing)])
            return int(Button.A)
        direction = self._route(tiles, entities, spots, map_id, x, y)
        if direction is None:
            direction = self._least_visited(tiles, entities, map_id, x, y)
        self.heading = (map_id, x + _STEP[direction][0], y + _STEP[direction][1])
        return int(_DPAD[direction])

    def _passable(self, tiles: np.ndarray, entities: np.ndarray, vx: int, vy: int) -> bool:
        return (0 <= vy < tiles.shape[0] and 0 <= vx < tiles.shape[1] and bool(self.walkable[tiles[vy, vx]])
                and not entities[vy, vx])

    def _talk_spots(self, tiles: np.ndarray, entities: np.ndarray, map_id: int, x: int,
                    y: int) -> dict[tuple[int, int, int], tuple[int, int, int]]:
        """(view x, view y, facing) to stand at and face -> the world position of an entity in sight not yet
        talked to (next to it, or across a counter)."""
        spots: dict[tuple[int, int, int], tuple[int, int, int]] = {}
        for ey, ex in zip(*np.nonzero(entities), strict=True):
            world = (map_id, x + int(ex) - self.px, y + int(ey) - self.py)
            if int(entities[ey, ex]) in self.ignored or world in self.talked:
                continue
            for d, (dx, dy) in enumerate(_STEP):
                vx, vy = int(ex) - dx, int(ey) - dy
                if not (0 <= vy < tiles.shape[0] and 0 <= vx < tiles.shape[1]):
                    continue
                if tiles[vy, vx] == self.counter:
                    vx, vy = vx - dx, vy - dy
                spots[(vx, vy, d)] = world
        return spots

    def _route(self, tiles: np.ndarray, entities: np.ndarray, spots: dict, map_id: int, x: int,
               y: int) -> int | None:
        """The first step toward the nearest spot to talk from, else toward the nearest tile not yet stood on;
        None if neither is in sight. Standing on the spot already, it is the direction to face."""
        facing_at: dict[tuple[int, int], int] = {(vx, vy): d for vx, vy, d in spots}
        start = (self.px, self.py)
        first: dict[tuple[int, int], int] = {start: -1}
        queue = deque([start])
        frontier: int | None = None
        while queue:
            here = queue.popleft()
            if here in facing_at:
                return facing_at[here] if first[here] < 0 else first[here]
            for d, (dx, dy) in enumerate(_STEP):
                nxt = (here[0] + dx, here[1] + dy)
                if nxt in first or not self._passable(tiles, entities, *nxt):
                    continue
                first[nxt] = d if first[here] < 0 else first[here]
                if frontier is None and (map_id, x + nxt[0] - self.px, y + nxt[1] - self.py) not in self.visits:
                    frontier = first[nxt]
                queue.append(nxt)
        return frontier

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
