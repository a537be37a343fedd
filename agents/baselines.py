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
    """Presses one of the eight buttons uniformly at random (seeded per episode); never the no-op of an env made
    with ``noop=True``."""

    name = "random"
    obs_mode = "symbolic"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        return int(self.rng.integers(0, 8))


class ExplorerAgent:
    """Frontier-seeking exploration over the symbolic view (quest's ``tiles``/``entities``/``vector``).

    In the overworld it walks (breadth-first over the visible, walkable tiles) to the nearest person, sign,
    item or capsule in sight that it has not talked to (it steps next to it, or to the counter in front of it,
    turns to face it and presses A), else to the nearest tile it has not stood on (a door or mat that took it
    elsewhere counts as stood on), keeping to the path it chose when a detour takes the target out of sight;
    with neither in sight it wanders toward the least-visited neighbour. Text
    boxes and battles are advanced with A (fighting with the move under the cursor); menus are closed with B.
    """

    name = "explorer"
    obs_mode = "symbolic"

    def __init__(self) -> None:
        from longplay.envs.quest.constants import PLAYER_VIEW_X, PLAYER_VIEW_Y, TILE_WALKABLE, Sprite, Tile

        self.walkable = np.array(TILE_WALKABLE, bool)
        self.counter = int(Tile.COUNTER)
        self.ignored = {int(Sprite.NONE), int(Sprite.PLAYER), int(Sprite.BOULDER), int(Sprite.CUT_TREE)}
        self.px, self.py = PLAYER_VIEW_X, PLAYER_VIEW_Y
        self.rng = np.random.default_rng(0)
        self.visits: dict[tuple[int, int, int], int] = {}
        self.talked: set[tuple[int, int, int]] = set()
        self.heading: tuple[int, int, int] | None = None
        self.path: list[tuple[int, int, int]] = []  # world tiles (map, x, y) still to walk, in order
        self.presses = 0  # presses toward the path's next tile so far
        self.view_size = (0, 0)  # (width, height) of the symbolic view, set at reset with the tables below
        self.neighbours: list[list[tuple[int, int]]] = []
        self.offsets: list[tuple[int, int]] = []

    @staticmethod
    def check_env(env: gym.Env) -> None:
        """``ValueError`` unless ``env`` gives the quest game's symbolic view."""
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or not {"tiles", "entities", "vector"} <= set(space.spaces):
            raise ValueError("the explorer reads the built-in quest game's symbolic view (tiles, entities, vector): "
                             "run it on a quest env with obs_mode symbolic")

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        self.check_env(env)
        height, width = env.observation_space["tiles"].shape
        if self.view_size != (width, height):
            self.view_size = (width, height)
            cells = [(vx, vy) for vy in range(height) for vx in range(width)]
            # view cell -> (direction, neighbouring cell) in _STEP's order, and its offset from the player
            self.neighbours = [[(d, (vy + dy) * width + vx + dx) for d, (dx, dy) in enumerate(_STEP)
                                if 0 <= vx + dx < width and 0 <= vy + dy < height] for vx, vy in cells]
            self.offsets = [(vx - self.px, vy - self.py) for vx, vy in cells]
        self.rng = np.random.default_rng(seed)
        self.visits.clear()
        self.talked.clear()
        self.heading = None
        self.path.clear()
        self.presses = 0

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
        if self.path and self.path[0] == here:  # the last press reached the next tile of the path
            self.path.pop(0)
            self.presses = 0
        direction = self._along_path(here)
        if direction is None:
            passable = self._passable(tiles, entities)
            direction = self._route(passable, spots, map_id, x, y)
            if direction is None:
                direction = self._least_visited(passable, map_id, x, y)
        self.presses += 1
        self.heading = (map_id, x + _STEP[direction][0], y + _STEP[direction][1])
        return int(_DPAD[direction])

    def _along_path(self, here: tuple[int, int, int]) -> int | None:
        """The direction of the path's next tile, or None (the path dropped) when there is none: the path is
        walked, the next tile is not beside the player (a door or mat took it elsewhere), or two presses (a turn
        and a step) did not reach it (something stands there now)."""
        if self.path and self.presses < 2:
            step = (self.path[0][1] - here[1], self.path[0][2] - here[2])
            if self.path[0][0] == here[0] and step in _STEP:
                return _STEP.index(step)
        self.path.clear()
        self.presses = 0
        return None

    def _passable(self, tiles: np.ndarray, entities: np.ndarray) -> list[bool]:
        """Per view cell (index ``y * width + x``), whether the player can step on it: a walkable tile with no
        entity. One numpy pass per step; the searches below then index a list, not numpy elements."""
        return (self.walkable[tiles] & (entities == 0)).ravel().tolist()

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

    def _route(self, passable: list[bool], spots: dict, map_id: int, x: int, y: int) -> int | None:
        """The first step toward the nearest spot to talk from, else toward the nearest tile not yet stood on;
        None if neither is in sight. Standing on the spot already, it is the direction to face."""
        width, height = self.view_size
        facing_at = {vy * width + vx: d for vx, vy, d in spots if 0 <= vx < width and 0 <= vy < height}
        start = self.py * width + self.px
        first = [-2] * len(passable)  # view cell -> the first step toward it (-1: the start; -2: not reached)
        first[start] = -1
        parent = [-1] * len(passable)  # view cell -> the cell it was reached from
        queue = deque([start])
        frontier: int | None = None
        while queue:
            here = queue.popleft()
            if here in facing_at:  # standing on it already: turn to face it
                return facing_at[here] if here == start else self._walk_to(here, first, parent, map_id, x, y)
            for d, nxt in self.neighbours[here]:
                if first[nxt] != -2 or not passable[nxt]:
                    continue
                first[nxt] = d if first[here] < 0 else first[here]
                parent[nxt] = here
                if frontier is None:
                    dx, dy = self.offsets[nxt]
                    if (map_id, x + dx, y + dy) not in self.visits:
                        frontier = nxt
                        if not facing_at:  # no one to talk to: the rest of the view cannot beat this tile
                            return self._walk_to(frontier, first, parent, map_id, x, y)
                queue.append(nxt)
        return None if frontier is None else self._walk_to(frontier, first, parent, map_id, x, y)

    def _walk_to(self, goal: int, first: list[int], parent: list[int], map_id: int, x: int, y: int) -> int:
        """Keeps the path to view cell ``goal`` (as world tiles) to walk on to it when it leaves the view (a detour
        can turn away from it); returns its first step."""
        cells = [goal]
        while parent[cells[-1]] >= 0:
            cells.append(parent[cells[-1]])
        self.path = [(map_id, x + self.offsets[c][0], y + self.offsets[c][1]) for c in reversed(cells[:-1])]
        self.presses = 0
        return first[goal]

    def _least_visited(self, passable: list[bool], map_id: int, x: int, y: int) -> int:
        best, best_count = int(self.rng.integers(0, 4)), None
        width = self.view_size[0]
        for d in self.rng.permutation(4):
            dx, dy = _STEP[d]
            if not passable[(self.py + dy) * width + self.px + dx]:
                continue
            count = self.visits.get((map_id, x + dx, y + dy), 0)
            if best_count is None or count < best_count:
                best, best_count = int(d), count
        return best
