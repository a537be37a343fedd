"""What the LM loop reads from a game beyond the screen and the text view: one adapter per backend.

The loop itself is backend-agnostic: the screenshot comes from ``game.frame()``, the text view from
``game.text()`` and the status line from ``game.state()``. Map memory and ``navigate_to`` also need the
player's position every step and the tiles on screen; a :class:`GameAdapter` reads them from the env's
symbolic observation. Backends without an adapter still run, without ``navigate_to`` and map memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from longplay.agents.lm.navigation import UNSEEN, TileRules
from longplay.envs.quest.constants import Direction


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
    """The tiles on screen: ``tiles[r, c]`` is at map coordinates (``x0 + c``, ``y0 + r``); ``UNSEEN`` where the
    screen does not show the map there (a text box or a menu over it)."""

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
        """The tiles in ``obs`` the screen shows (``None`` when it shows no map, e.g. in battle)."""

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


def _cells_under(x: int, y: int, width: int, height: int) -> tuple[slice, slice]:
    """The quest view's cells (rows, columns) a box of pixels at (``x``, ``y``) covers, in whole or in part."""
    from longplay.envs.quest.constants import TILE_PX

    return np.s_[y // TILE_PX:math.ceil((y + height) / TILE_PX), x // TILE_PX:math.ceil((x + width) / TILE_PX)]


class QuestAdapter:
    """The built-in quest game: the symbolic view's ``vector`` (mode, facing, map, x, y) and tile grids."""

    obs_mode = "symbolic"
    _MODES = ("overworld", "dialog", "menu", "battle")
    _FACING = tuple(d.name.lower() for d in Direction)  # the game's facing values, in order

    def __init__(self) -> None:
        from longplay.envs.quest import render
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
        # The view's cells a box hides on the frame (every menu but the start menu covers the whole screen).
        self._text_box = _cells_under(0, render.TEXT_BOX_Y, render.WIDTH, render.TEXT_BOX_H)
        self._start_menu = _cells_under(render.START_MENU_X, 0, render.START_MENU_W, render.START_MENU_H)
        self._i = {name: VECTOR_FIELDS.index(name)
                   for name in ("mode", "facing", "map", "x", "y", "menu", "dialog_pages")}
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
        from longplay.envs.quest.constants import MenuKind

        sym = _symbolic(obs)
        pos = self.position(obs)
        vector = sym["vector"]
        menu = int(vector[self._i["menu"]])
        if pos.mode == "battle" or menu not in (MenuKind.NONE, MenuKind.START):
            return None
        tiles = np.array(sym["tiles"], np.uint8)
        entities = np.array(sym["entities"], np.uint8)
        entities[self.py, self.px] = 0  # the player
        # the symbolic view has the map under a box too; the model, shown the frame, saw the box
        if menu == MenuKind.START:
            tiles[self._start_menu] = UNSEEN
        if vector[self._i["dialog_pages"]] > 0:
            tiles[self._text_box] = UNSEEN
        return Screen(pos.map_id, pos.x - self.px, pos.y - self.py, tiles, entities)

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
