"""How the viewer locates the player and draws the map of an area, per backend.

The viewer is backend-agnostic: positions come from ``Game.state()`` (map id, x, y) and an area without a
map image is drawn as a grid of the tiles the run visited. A backend can register an :class:`AreaSupport`
to do better: a faster position probe (the trajectory re-simulates every step) and the area's tiles as an
image. The built-in game (``quest``) has both; any other backend gets the generic behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from longplay.envs.game import Game

#: Returns (map id, x, y) of the player now; made once per trajectory by a position probe factory.
Probe = Callable[[], tuple[int, int, int]]


@dataclass(frozen=True)
class AreaInfo:
    """What the viewer knows of one area (map) of a world."""

    map_id: int
    name: str
    width: int  # in tiles
    height: int


@dataclass(frozen=True)
class AreaImage:
    """An area's tiles as an indexed image: ``indices`` (H, W) into ``palette`` (N, 3); ``tile_px`` per tile."""

    indices: np.ndarray
    palette: np.ndarray
    tile_px: int


@dataclass(frozen=True)
class AreaSupport:
    """A backend's extras: a position probe factory, area descriptions and area images (each optional)."""

    probe: Callable[[Game], Probe] | None = None
    describe: Callable[[Game, int], AreaInfo | None] | None = None
    image: Callable[[Game, int], AreaImage | None] | None = None


def generic_probe(game: Game, names: dict[int, str] | None = None) -> Probe:
    """A probe through ``game.state()``: works for every backend; records each map's name in ``names``."""

    def probe() -> tuple[int, int, int]:
        state = game.state()
        if names is not None and state.map_id not in names:
            names[state.map_id] = state.map_name
        return state.map_id, state.x, state.y

    return probe


# ============================================================================================ quest


def _quest_world(game: Game) -> Any:
    return getattr(game, "world", None)


def _quest_probe(game: Game) -> Probe:
    # The engine's own state: about five times faster than building a GameState every step. It is read
    # through the property each time: the state object is replaced on reset and load_state.
    def probe() -> tuple[int, int, int]:
        raw = game.raw  # type: ignore[attr-defined]
        return raw.map, raw.x, raw.y

    return probe


def _quest_describe(game: Game, map_id: int) -> AreaInfo | None:
    world = _quest_world(game)
    if world is None or not 0 <= map_id < len(world.maps):
        return None
    area = world.maps[map_id]
    return AreaInfo(map_id, area.name, area.width, area.height)


def _quest_image(game: Game, map_id: int) -> AreaImage | None:
    from longplay.envs.quest import art

    world = _quest_world(game)
    if world is None or not 0 <= map_id < len(world.maps):
        return None
    area = world.maps[map_id]
    tiles = np.frombuffer(area.tiles, np.uint8).reshape(area.height, area.width)
    atlas = art.metatile_atlas()  # (kinds, 16, 16) shade indices
    px = atlas.shape[1]
    shades = atlas[tiles].transpose(0, 2, 1, 3).reshape(area.height * px, area.width * px)
    return AreaImage(shades, art.palette_array(getattr(game, "palette", None)), px)


#: Backend name (``Game.backend``) -> what the viewer can do beyond the generic.
AREA_SUPPORT: dict[str, AreaSupport] = {
    "quest": AreaSupport(probe=_quest_probe, describe=_quest_describe, image=_quest_image),
}


def support_for(game: Game) -> AreaSupport:
    """The :class:`AreaSupport` of ``game``'s backend (empty for backends without one)."""
    return AREA_SUPPORT.get(getattr(game, "backend", ""), AreaSupport())
