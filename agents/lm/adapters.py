"""What the LM loop reads from a game beyond the screen and the text view: one adapter per backend.

The loop itself is backend-agnostic: the screenshot comes from ``game.frame()``, the text view from
``game.text()`` and the status line from ``game.state()``. Map memory and ``navigate_to`` also need the
player's position every step and the tiles on screen; a :class:`GameAdapter` reads them from the env's
symbolic observation. Backends without an adapter still run, without ``navigate_to`` and map memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from longplay.agents.lm.navigation import TileRules


@dataclass(frozen=True)
class Position:
    """Where the player is and what has its attention, read from one observation."""

    map_id: int
    x: int
    y: int
    facing: str
    mode: str  # overworld | dialog | menu | battle


@dataclass(frozen=True)
class Screen:
    """The tiles on screen: ``tiles[r, c]`` is at map coordinates (``x0 + c``, ``y0 + r``)."""

    map_id: int
    x0: int
    y0: int
    tiles: np.ndarray
    entities: np.ndarray


class GameAdapter(Protocol):
    """Reads positions and screens from observations of one backend."""

    #: The env observation mode the adapter reads (``symbolic`` for quest).
    obs_mode: str
    rules: TileRules

    def position(self, obs: Any) -> Position:
        """The player's position in ``obs``."""

    def screen(self, obs: Any) -> Screen | None:
        """The tiles in ``obs`` (``None`` when no map is shown, e.g. in battle)."""

    def text_screen(self, game: Any) -> Screen | None:
        """The tiles the text view's map shows now (it may reach further than the screen), or ``None``."""

    def can_swim(self, game: Any) -> bool:
        """Whether the player may walk on the rules' ``swim`` tiles now."""

    def can_chop(self, game: Any) -> bool:
        """Whether A facing one of the rules' ``choppable`` entities clears it now."""

    def can_shove(self, game: Any) -> bool:
        """Whether walking into one of the rules' ``pushable`` entities pushes it now."""


def _symbolic(obs: Any) -> dict[str, np.ndarray]:
    return obs["symbolic"] if isinstance(obs, dict) and "symbolic" in obs else obs


class QuestAdapter:
    """The built-in quest game: the symbolic view's ``vector`` (mode, facing, map, x, y) and tile grids."""

    obs_mode = "symbolic"
    _MODES = ("overworld", "dialog", "menu", "battle")
    _FACING = ("up", "down", "left", "right")

    def __init__(self) -> None:
        from longplay.envs.quest.constants import (
            PLAYER_VIEW_X,
            PLAYER_VIEW_Y,
            TILE_CHARS,
            TILE_LEGEND,
            TILE_WALKABLE,
            Sprite,
            Tile,
        )
        from longplay.envs.quest.game import VECTOR_FIELDS

        self.px, self.py = PLAYER_VIEW_X, PLAYER_VIEW_Y
        self._i = {name: VECTOR_FIELDS.index(name) for name in ("mode", "facing", "map", "x", "y")}
        self.rules = TileRules(
            passable=tuple(TILE_WALKABLE),
            chars=tuple(TILE_CHARS),
            ledges=frozenset({int(Tile.LEDGE)}),
            warps=frozenset({int(Tile.DOOR), int(Tile.MAT)}),
            legend=tuple(TILE_LEGEND),
            counters=frozenset({int(Tile.COUNTER)}),
            swim=frozenset({int(Tile.WATER)}),
            pushable=frozenset({int(Sprite.BOULDER)}),  # screens carry each entity's sprite
            choppable=frozenset({int(Sprite.CUT_TREE)}),
            outside=frozenset({int(Tile.VOID)}),  # every passable tile at a map's edge is an exit (worldgen)
        )

    def position(self, obs: Any) -> Position:
        v = _symbolic(obs)["vector"]
        i = self._i
        return Position(
            int(v[i["map"]]),
            int(v[i["x"]]),
            int(v[i["y"]]),
            self._FACING[int(v[i["facing"]]) % 4],
            self._MODES[int(v[i["mode"]]) % 4],
        )

    def screen(self, obs: Any) -> Screen | None:
        sym = _symbolic(obs)
        pos = self.position(obs)
        if pos.mode == "battle":
            return None
        entities = np.array(sym["entities"], np.uint8)
        entities[self.py, self.px] = 0  # the player
        return Screen(
            pos.map_id, pos.x - self.px, pos.y - self.py, np.asarray(sym["tiles"], np.uint8), entities
        )

    def text_screen(self, game: Any) -> Screen | None:
        from longplay.envs.quest.engine import mode
        from longplay.envs.quest.render import tile_window, visible_entities
        from longplay.envs.quest.textview import MAP_RADIUS

        state, world = game.raw, game.world
        if mode(state).value == "battle":
            return None
        rx, ry = MAP_RADIUS
        left, top, width, height = state.x - rx, state.y - ry, 2 * rx + 1, 2 * ry + 1
        tiles = np.array(tile_window(world, state.map, left, top, width, height), np.uint8)
        entities = np.zeros((height, width), np.uint8)
        for col, row, e in visible_entities(world, state, left, top, width, height):
            entities[row, col] = world.entities[e].sprite  # as the screen has it: a boulder is told apart
        return Screen(state.map, left, top, tiles, entities)

    def can_swim(self, game: Any) -> bool:
        return self._has(game, "SWIM")

    def can_chop(self, game: Any) -> bool:
        return self._has(game, "CHOP")

    def can_shove(self, game: Any) -> bool:
        return self._has(game, "SHOVE")

    @staticmethod
    def _has(game: Any, ability: str) -> bool:
        """Whether the party has the field ability named ``ability`` (an ``Ability`` member) now."""
        from longplay.envs.quest.constants import Ability
        from longplay.envs.quest.overworld import has_ability

        return has_ability(game.raw, game.world, Ability[ability])


def adapter_for(game: Any) -> GameAdapter | None:
    """The adapter of ``game``'s backend, or ``None`` (no map memory, no ``navigate_to``)."""
    if getattr(game, "backend", None) == "quest":
        return QuestAdapter()
    return None
