"""Pixels of the quest game: the overworld, text boxes, menus and battles as 160x144 four-shade frames.

Every screen can be drawn as a ``uint8`` image of shade indices (0 lightest .. 3 darkest,
:func:`render_shades`) and turned into RGB with a palette; the art (tiles, sprites, font, creatures) is in
:mod:`~longplay.envs.quest.art`.

Speed matters (RL wants thousands of frames a second in one process), so the overworld is gathered, not
drawn:

* each map is stored once per world, padded with VOID, so the visible 9x10 window is one slice;
* a "cell" atlas holds every metatile with every sprite (in every facing) already standing on it, so the
  window plus what stands on it becomes 90 cell indices, and one gather lays out the whole screen;
* frames without a full-screen menu or battle (walking, reading a text box, the start menu) are gathered
  straight in RGB from 48-byte cell rows, and the boxes over them are converted to RGB once per content;
* the other screens are drawn in shades and converted four pixels per table lookup.

Text is rendered once per distinct string and cached. ``render_frame`` and ``palette[render_shades]`` give
identical pixels (a test checks every screen).

Public functions:
    * :func:`render_frame` — the RGB frame of a state.
    * :func:`render_shades` — the same frame as shade indices.
    * :func:`symbolic_tiles` — the visible window as tile kinds and entity sprites (for RL).
    * :func:`tile_window`, :func:`visible_entities` — window queries shared with the text view.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from longplay.envs.quest import art, battle, overworld
from longplay.envs.quest.constants import (
    BATTLE_MAIN_OPTIONS,
    ITEM_NAMES,
    ITEM_PRICE,
    MOVE_SLOTS,
    PLAYER_VIEW_X,
    PLAYER_VIEW_Y,
    START_MENU_OPTIONS,
    TILE_PX,
    TYPE_NAMES,
    VIEW_H,
    VIEW_W,
    BattleKind,
    BattlePhase,
    MenuKind,
    Sprite,
    Tile,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import message_text, wrap
from longplay.envs.quest.menus import bag_items
from longplay.envs.quest.state import Mon, QuestState, World

HEIGHT = VIEW_H * TILE_PX  # 144
WIDTH = VIEW_W * TILE_PX  # 160
GLYPH = 8  # pixels per character cell
#: VOID border stored around every map: windows up to 17 wide/high centred on the map edge fit.
PAD = 8

# The battle's bottom box and the overworld text box share one place on the screen.
_BOX_Y = HEIGHT - 48


# ============================================================================================= world cache


@dataclass(frozen=True)
class _WorldView:
    """What the renderer derives once per world: padded tile grids and entities per map."""

    padded: tuple[np.ndarray, ...]  # per map: uint8 (height + 2*PAD, width + 2*PAD), VOID outside
    entities: tuple[tuple[int, ...], ...]  # per map: entities that are drawn (sprite != NONE)
    sprites: tuple[int, ...]  # per entity
    facings: tuple[int, ...]  # per entity


def _build_view(world: World) -> _WorldView:
    padded = []
    for m in world.maps:
        grid = np.full((m.height + 2 * PAD, m.width + 2 * PAD), Tile.VOID, np.uint8)
        grid[PAD:PAD + m.height, PAD:PAD + m.width] = np.frombuffer(m.tiles, np.uint8).reshape(
            m.height, m.width)
        grid.setflags(write=False)
        padded.append(grid)
    per_map: list[list[int]] = [[] for _ in world.maps]
    for e in world.entities:
        if e.sprite != Sprite.NONE and 0 <= e.map < len(world.maps):
            per_map[e.map].append(e.index)
    return _WorldView(tuple(padded), tuple(tuple(es) for es in per_map),
                      tuple(e.sprite for e in world.entities), tuple(e.facing for e in world.entities))


# id(world) -> (world, view). Hashing a World (all its tuples) on every frame would be slow; keeping the
# world in the entry stops its id from being reused by another object while the entry lives.
_VIEWS: dict[int, tuple[World, _WorldView]] = {}


def _world_view(world: World) -> _WorldView:
    cached = _VIEWS.get(id(world))
    if cached is None or cached[0] is not world:
        if len(_VIEWS) >= 32:  # procedural worlds per episode: keep the cache bounded
            _VIEWS.clear()
        cached = _VIEWS[id(world)] = (world, _build_view(world))
    return cached[1]


# ============================================================================================= windows


def padded_tiles(world: World, map_index: int) -> np.ndarray:
    """The map's tile kinds with :data:`PAD` VOID tiles on every side, read-only and built once per world:
    tile (x, y) is at ``[y + PAD, x + PAD]``."""
    return _world_view(world).padded[map_index]


def tile_window(world: World, map_index: int, left: int, top: int, width: int, height: int) -> np.ndarray:
    """Tile kinds of the ``height`` x ``width`` area whose top-left tile is (left, top); VOID off the map.

    Returns a read-only ``uint8`` view when the area fits the stored padding (it always does for the screen),
    else a new array.
    """
    grid = _world_view(world).padded[map_index]
    r0, c0 = top + PAD, left + PAD
    if r0 >= 0 and c0 >= 0 and r0 + height <= grid.shape[0] and c0 + width <= grid.shape[1]:
        return grid[r0:r0 + height, c0:c0 + width]
    out = np.full((height, width), Tile.VOID, np.uint8)
    y0, y1 = max(0, -r0), min(height, grid.shape[0] - r0)
    x0, x1 = max(0, -c0), min(width, grid.shape[1] - c0)
    if y0 < y1 and x0 < x1:
        out[y0:y1, x0:x1] = grid[r0 + y0:r0 + y1, c0 + x0:c0 + x1]
    return out


def visible_entities(world: World, state: QuestState, left: int, top: int, width: int, height: int
                     ) -> list[tuple[int, int, int]]:
    """``(column, row, entity)`` of each visible entity of the current map inside the area (relative
    coordinates), in entity order. Visibility is :func:`~longplay.envs.quest.overworld.visible`."""
    found = []
    ex, ey = state.entity_x, state.entity_y
    for e in _world_view(world).entities[state.map]:
        col, row = ex[e] - left, ey[e] - top
        if 0 <= col < width and 0 <= row < height and overworld.visible(state, world, e):
            found.append((col, row, e))
    return found


def _screen_origin(state: QuestState) -> tuple[int, int]:
    return state.x - PLAYER_VIEW_X, state.y - PLAYER_VIEW_Y


def symbolic_tiles(world: World, state: QuestState) -> tuple[np.ndarray, np.ndarray]:
    """The visible screen area as symbols.

    Returns:
        ``(tiles, entities)``, both ``int16`` (VIEW_H, VIEW_W): the Tile kind of each visible metatile
        (VOID off the map), and the Sprite of the visible entity on it (0 for none; the player is not
        included). The window is the one :func:`render_frame` draws: the player at (PLAYER_VIEW_Y,
        PLAYER_VIEW_X).
    """
    left, top = _screen_origin(state)
    tiles = tile_window(world, state.map, left, top, VIEW_W, VIEW_H).astype(np.int16)
    entities = np.zeros((VIEW_H, VIEW_W), np.int16)
    sprites = _world_view(world).sprites
    for col, row, e in visible_entities(world, state, left, top, VIEW_W, VIEW_H):
        entities[row, col] = sprites[e]
    return tiles, entities


# ============================================================================================= drawing


_SWIMMER = len(Sprite)  # the sprite row after the last Sprite: the player swimming
_LAYERS = 1 + (len(Sprite) + 1) * 4  # what can stand on a cell: nothing, or a sprite row in a facing


def _layer(sprite: int, facing: int) -> int:
    return 1 + sprite * 4 + facing


def _pixels_and_keep(shades: np.ndarray, opaque: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sprite as ``pixels`` (0 where transparent) and ``keep`` (0xFF where transparent, else 0): drawing it
    is ``region & keep | pixels``, two ufuncs, faster than a masked copy."""
    pixels = np.where(opaque, shades, 0).astype(np.uint8)
    keep = np.where(opaque, 0, 0xFF).astype(np.uint8)
    pixels.setflags(write=False)
    keep.setflags(write=False)
    return pixels, keep


@dataclass(frozen=True)
class _ShadeArt:
    """The art as shade indices, laid out for drawing.

    ``cells`` holds every metatile with every sprite standing on it (index ``tile * _LAYERS + layer``), so
    the whole overworld, people included, is one gather with no per-sprite drawing.
    """

    cells: np.ndarray  # (NUM_TILES * _LAYERS, 16, 16)
    font: np.ndarray  # (glyphs, 8, 8)


@functools.cache
def _shade_art() -> _ShadeArt:
    """Built on first use, so importing this module stays cheap."""
    shades, opaque = art.sprite_atlas()
    swim, swim_opaque = art.swim_atlas()
    pixels, keep = _pixels_and_keep(np.concatenate([shades, swim[None]]),
                                    np.concatenate([opaque, swim_opaque[None]]))
    nothing = np.zeros((1, TILE_PX, TILE_PX), np.uint8)
    layers_pixels = np.concatenate([nothing, pixels.reshape(-1, TILE_PX, TILE_PX)])
    layers_keep = np.concatenate([nothing | 0xFF, keep.reshape(-1, TILE_PX, TILE_PX)])
    atlas = art.metatile_atlas()
    cells = (atlas[:, None] & layers_keep[None]) | layers_pixels[None]
    cells = cells.reshape(-1, TILE_PX, TILE_PX)
    cells.setflags(write=False)
    return _ShadeArt(cells, art.font_atlas())


@dataclass(frozen=True)
class _Look:
    """The art in the colours of one palette, for the RGB fast path of overworld and dialog frames."""

    cell_rows: np.ndarray  # (NUM_TILES * _LAYERS * 16,) 48-byte rows: row r of cell c is entry 16 c + r
    quads: np.ndarray  # (256, 12) RGB runs of four pixels: pixel j of run k has shade (k >> 2j) & 3
    overlays: dict[tuple[object, ...], np.ndarray]  # boxes drawn over the overworld, in RGB, by content


_LOOKS: dict[bytes, _Look] = {}


def _look(palette: np.ndarray) -> _Look:
    """The :class:`_Look` of a palette, built once (about 1 MB) and kept for the next frames."""
    key = palette.tobytes()
    look = _LOOKS.get(key)
    if look is None:
        if len(_LOOKS) >= 8:
            _LOOKS.clear()
        rows = np.ascontiguousarray(palette[_shade_art().cells]).reshape(-1, TILE_PX * 3)
        quads = np.empty((256, 4, 3), np.uint8)
        for j in range(4):
            quads[:, j] = palette[(np.arange(256) >> (2 * j)) & 3]
        look = _LOOKS[key] = _Look(rows.view(np.dtype((np.void, TILE_PX * 3))).ravel(),
                                   quads.reshape(256, 12), {})
    return look


def _to_rgb(shades: np.ndarray, look: _Look) -> np.ndarray:
    """Shade image -> RGB, four pixels per table lookup (fancy indexing per pixel is ~5x slower)."""
    v = shades.view("<u4")  # four pixels per little-endian word: pixel j in bits 8j, 8j+1
    quad = (v | (v >> 6) | (v >> 12) | (v >> 18)) & 0xFF  # pixel j's shade moves to bits 2j, 2j+1
    return np.take(look.quads, quad, axis=0).reshape(*shades.shape, 3)


def _overlay(look: _Look, key: tuple[object, ...], draw: Callable[[], np.ndarray]) -> np.ndarray:
    """The RGB of a box drawn over the overworld (``draw()`` gives its shades), converted once per content."""
    rgb = look.overlays.get(key)
    if rgb is None:
        if len(look.overlays) >= 1024:
            look.overlays.clear()
        rgb = look.overlays[key] = _to_rgb(np.ascontiguousarray(draw()), look)
    return rgb


def _blit(img: np.ndarray, x: int, y: int, pixels: np.ndarray, keep: np.ndarray) -> None:
    """Draws a sprite (``pixels`` where ``keep`` is 0) with its top-left at (x, y); it must fit the image."""
    h, w = pixels.shape[:2]
    region = img[y:y + h, x:x + w]
    np.bitwise_and(region, keep, out=region)
    np.bitwise_or(region, pixels, out=region)


def _overworld_cells(world: World, state: QuestState) -> np.ndarray:
    """The screen's cells (VIEW_H, VIEW_W) as indices into ``_ShadeArt.cells``: tile kind and what stands
    on it (entities in entity order, then the player on top)."""
    view = _world_view(world)
    left, top = _screen_origin(state)
    cells = tile_window(world, state.map, left, top, VIEW_W, VIEW_H).astype(np.intp) * _LAYERS
    # one layer per cell, the last drawn wins; a dict keeps that order-independent of numpy's write order
    layers = {(row, col): _layer(view.sprites[e], view.facings[e] & 3)
              for col, row, e in visible_entities(world, state, left, top, VIEW_W, VIEW_H)}
    player = _SWIMMER if state.surfing else Sprite.PLAYER
    layers[PLAYER_VIEW_Y, PLAYER_VIEW_X] = _layer(player, state.facing & 3)
    flat = cells.reshape(-1)  # a view; element-wise writes beat fancy indexing for a handful of cells
    for (row, col), layer in layers.items():
        flat[row * VIEW_W + col] += layer
    return cells


def _overworld(world: World, state: QuestState) -> np.ndarray:
    """The overworld as a (144, 160) shade image: tiles, visible entities, the player."""
    cells = _overworld_cells(world, state)
    # (9, 10, 16, 16) cell pixels -> rows of cells side by side -> the screen (one copy)
    return _shade_art().cells[cells].transpose(0, 2, 1, 3).reshape(HEIGHT, WIDTH)


_ROW_IN_CELL = np.arange(TILE_PX, dtype=np.intp)[None, :, None]


def _overworld_rgb(world: World, state: QuestState, look: _Look) -> np.ndarray:
    """The overworld straight in RGB: one gather of 48-byte cell rows lays out the whole screen."""
    rows = (_overworld_cells(world, state)[:, None, :] * TILE_PX + _ROW_IN_CELL).reshape(HEIGHT, VIEW_W)
    return np.take(look.cell_rows, rows).view(np.uint8).reshape(HEIGHT, WIDTH, 3)


@functools.cache
def _creature(species: int, back: bool) -> tuple[np.ndarray, np.ndarray]:
    shades, opaque = art.creature_sprite(species, SPECIES[species].types, back)
    return _pixels_and_keep(shades, opaque)


@functools.lru_cache(maxsize=4096)
def _text(line: str) -> np.ndarray:
    """One line of text as a (8, 8 * len(line)) shade image (cached: game text repeats constantly)."""
    glyphs = _shade_art().font[art.glyph_codes(line)]  # (n, 8, 8)
    out = glyphs.transpose(1, 0, 2).reshape(GLYPH, GLYPH * len(line))
    out.setflags(write=False)
    return out


def _put_text(img: np.ndarray, x: int, y: int, line: str) -> None:
    """Writes ``line`` with its top-left at (x, y), clipped at the right edge of the screen."""
    if not line:
        return
    pixels = _text(line)
    w = min(pixels.shape[1], WIDTH - x)
    if w > 0:
        img[y:y + GLYPH, x:x + w] = pixels[:, :w]


@functools.lru_cache(maxsize=64)
def _box(width: int, height: int) -> np.ndarray:
    """An empty window: light inside, a thick dark frame with rounded corners and a thin inner line."""
    box = np.zeros((height, width), np.uint8)
    box[1:3, 1:-1] = box[-3:-1, 1:-1] = 3
    box[1:-1, 1:3] = box[1:-1, -3:-1] = 3
    box[4, 4:-4] = box[-5, 4:-4] = 2
    box[4:-4, 4] = box[4:-4, -5] = 2
    for y, x in ((1, 1), (1, -2), (-2, 1), (-2, -2)):  # round the outer corners
        box[y, x] = 0
    box.setflags(write=False)
    return box


def _put_box(img: np.ndarray, x: int, y: int, width: int, height: int) -> None:
    img[y:y + height, x:x + width] = _box(width, height)


def _cursor(row: int, cursor: int) -> str:
    return art.CURSOR if row == cursor else art.EMPTY_CURSOR


def _put_list(img: np.ndarray, x: int, y: int, rows: list[str], cursor: int, visible: int,
              pitch: int) -> None:
    """A column of rows with the cursor glyph before the chosen one, scrolled to keep the cursor in view.

    A cursor one past the last row (an engine that adds a closing row) is drawn on an empty row.
    """
    count = max(len(rows), cursor + 1)
    first = min(max(0, cursor - visible + 1), max(0, count - visible))
    for i in range(first, min(count, first + visible)):
        _put_text(img, x, y + (i - first) * pitch, _cursor(i, cursor) + (rows[i] if i < len(rows) else ""))


# ============================================================================================= text box


def _text_lines(text: str) -> list[str]:
    """Wraps text to the box width (already wrapped text is unchanged)."""
    return wrap(text).split("\n")


@functools.lru_cache(maxsize=1024)
def _text_box(text: str, more: bool) -> np.ndarray:
    """The bottom text box (48, 160) with one page: two lines 16 px apart, or up to four 8 px apart when a
    page runs longer than the box's two lines."""
    box = _box(WIDTH, 48).copy()
    lines = _text_lines(text)
    if len(lines) <= 2:
        for k, line in enumerate(lines):
            _put_text(box, 8, 12 + 16 * k, line)
    else:
        for k, line in enumerate(lines[:4]):
            _put_text(box, 8, 8 + 8 * k, line)
    if more:
        box[36:44, 144:152] = _text(art.MORE)
    box.setflags(write=False)
    return box


def _put_text_box(img: np.ndarray, text: str, more: bool) -> None:
    img[_BOX_Y:] = _text_box(text, more)


# ============================================================================================= menus


def _party_rows(img: np.ndarray, party: list[Mon], cursor: int) -> None:
    """The party list in a box over the top 112 rows: name and level, then HP bar and HP numbers."""
    _put_box(img, 0, 0, WIDTH, 112)
    for i, mon in enumerate(party[:6]):
        y = 8 + 16 * i
        _put_text(img, 8, y, _cursor(i, cursor) + SPECIES[mon.species].name[:10])
        _put_text(img, 104, y, f"Lv{mon.level}")
        _put_text(img, 16, y + 8, art.hp_bar_text(mon.hp, mon.max_hp))
        _put_text(img, 96, y + 8, f"{mon.hp:>3}/{mon.max_hp:<3}")
    if not party:
        _put_text(img, 16, 8, "No partners yet.")
    if party and len(party) <= cursor < 6:  # a closing row an engine may add
        _put_text(img, 8, 8 + 16 * cursor, art.CURSOR)


def _hint(img: np.ndarray, text: str) -> None:
    """A short prompt in a 32 px box at the bottom (up to two lines)."""
    _put_box(img, 0, 112, WIDTH, 32)
    lines = _text_lines(text)[:2]
    for k, line in enumerate(lines):
        _put_text(img, 8, (124 if len(lines) == 1 else 120) + 8 * k, line)


_START_X, _START_W, _START_H = 88, 72, 64  # the start menu box, top right


@functools.lru_cache(maxsize=8)
def _start_menu(cursor: int) -> np.ndarray:
    """The start menu box (64, 72) with the cursor on row ``cursor``."""
    box = _box(_START_W, _START_H).copy()
    for i, option in enumerate(START_MENU_OPTIONS):
        _put_text(box, 8, 12 + 16 * i, _cursor(i, cursor) + option)
    box.setflags(write=False)
    return box


def _draw_menu(img: np.ndarray, world: World, state: QuestState) -> None:
    """Draws the open menu; every menu but START covers the whole screen."""
    kind, cursor = state.menu, state.menu_cursor
    if kind == MenuKind.START:
        img[:_START_H, _START_X:] = _start_menu(cursor)
    elif kind == MenuKind.PARTY:
        _party_rows(img, state.party, cursor)
        _hint(img, "Choose who leads.")
    elif kind == MenuKind.BAG_TARGET:
        _party_rows(img, state.party, cursor)
        item = state.menu_choice
        _hint(img, f"Use {ITEM_NAMES[item]} on?" if 0 <= item < len(ITEM_NAMES) else "Use on?")
    elif kind == MenuKind.BAG:
        _put_box(img, 0, 0, WIDTH, HEIGHT)
        items = bag_items(state)
        rows = [f"{ITEM_NAMES[i]:<13}x{state.bag[i]:>2}" for i in items]
        _put_list(img, 8, 12, rows or ["No items."], cursor if rows else -1, visible=8, pitch=16)
    elif kind == MenuKind.SHOP:
        stock = world.shops[state.menu_choice] if 0 <= state.menu_choice < len(world.shops) else ()
        _put_box(img, 88, 0, 72, 32)
        _put_text(img, 96, 12, f"${state.money}")
        _put_box(img, 0, 0, 88, 32)
        if 0 <= cursor < len(stock):
            _put_text(img, 8, 12, f"Bag x{state.bag[stock[cursor]]}")
        _put_box(img, 0, 32, WIDTH, HEIGHT - 32)
        rows = [f"{ITEM_NAMES[i]:<12} {ITEM_PRICE[i]:>4}" for i in stock] + ["EXIT"]  # prices in $
        _put_list(img, 8, 44, rows, cursor, visible=6, pitch=16)


# ============================================================================================= battle


def _battle_message(world: World, state: QuestState) -> str:
    msg = state.battle.messages[0] if state.battle.messages else None
    return battle.battle_message_text(world, state, msg) if msg is not None else ""


def _draw_battle(img: np.ndarray, world: World, state: QuestState) -> None:
    b = state.battle
    img[:] = 0
    foe = b.enemy[b.enemy_active] if 0 <= b.enemy_active < len(b.enemy) else None
    me = state.party[b.player_active] if 0 <= b.player_active < len(state.party) else None
    if foe is not None:
        spec = SPECIES[foe.species]
        _put_text(img, 8, 8, spec.name[:10])
        _put_text(img, 40, 16, f"Lv{foe.level}")
        _put_text(img, 8, 24, art.hp_bar_text(foe.hp, foe.max_hp))
        img[33, 8:88] = 3  # the enemy panel's underline
        _blit(img, 104, 0, *_creature(foe.species, False))
    if b.kind == BattleKind.TRAINER:  # one orb per enemy creature still able to fight
        _put_text(img, 8, 36, "".join("o" if m.hp > 0 else "-" for m in b.enemy[:6]))
    if me is not None:
        spec = SPECIES[me.species]
        _blit(img, 8, 48, *_creature(me.species, True))
        # the panel starts at x=80 so the FIGHT screen's move box (x < 80) never hides it
        _put_text(img, 80, 56, spec.name[:10])
        _put_text(img, 120, 64, f"Lv{me.level}")
        _put_text(img, 80, 72, art.hp_bar_text(me.hp, me.max_hp))
        _put_text(img, 104, 80, f"{me.hp:>3}/{me.max_hp:<3}")
        img[89, 80:160] = 3
    phase = b.phase
    if phase == BattlePhase.MESSAGE:
        _put_text_box(img, _battle_message(world, state), len(b.messages) > 1)
    elif phase == BattlePhase.MAIN:
        _put_box(img, 0, _BOX_Y, 56, 48)
        _put_text(img, 8, _BOX_Y + 12, "What")
        _put_text(img, 8, _BOX_Y + 28, "next?")
        _put_box(img, 56, _BOX_Y, 104, 48)
        for i, option in enumerate(BATTLE_MAIN_OPTIONS):  # 0 1 / 2 3
            _put_text(img, 64 + 56 * (i % 2), _BOX_Y + 12 + 16 * (i // 2), _cursor(i, b.cursor) + option)
    elif phase == BattlePhase.FIGHT:
        _put_box(img, 0, _BOX_Y, WIDTH, 48)
        moves = me.moves if me is not None else [-1] * MOVE_SLOTS
        rows = [MOVES[m].name if m >= 0 else "-" for m in moves]
        for i, row in enumerate(rows):
            _put_text(img, 8, _BOX_Y + 8 + 8 * i, _cursor(i, b.cursor) + row)
        if me is not None and 0 <= b.cursor < len(moves) and moves[b.cursor] >= 0:
            move = MOVES[moves[b.cursor]]
            _put_box(img, 0, 48, 80, 48)
            _put_text(img, 8, 60, TYPE_NAMES[move.type])
            _put_text(img, 8, 76, f"PP{me.pp[b.cursor]:>3}/{move.pp}")
    elif phase == BattlePhase.BAG:
        _put_box(img, 0, _BOX_Y, WIDTH, 48)
        items = battle.battle_items(state)
        rows = [f"{ITEM_NAMES[i]:<13}x{state.bag[i]:>2}" for i in items]
        _put_list(img, 8, _BOX_Y + 8, rows or ["No items."], b.cursor if rows else -1, visible=4, pitch=8)
    elif phase in (BattlePhase.PARTY, BattlePhase.FORCED_SWITCH):
        _party_rows(img, state.party, b.cursor)
        _hint(img, "Switch to whom?" if phase == BattlePhase.PARTY else "Who will fight next?")


# ============================================================================================= frames


def render_shades(world: World, state: QuestState) -> np.ndarray:
    """The frame as a (144, 160) ``uint8`` image of shade indices (0 lightest .. 3 darkest)."""
    if state.battle.kind != BattleKind.NONE:
        img = np.empty((HEIGHT, WIDTH), np.uint8)
        _draw_battle(img, world, state)
        return img
    if state.menu in (MenuKind.NONE, MenuKind.START):
        img = _overworld(world, state)
    else:  # the menu covers the whole screen: no overworld to draw
        img = np.empty((HEIGHT, WIDTH), np.uint8)
    if state.menu != MenuKind.NONE:
        _draw_menu(img, world, state)
    if state.dialog:
        _put_text_box(img, message_text(world, state.dialog[0]), len(state.dialog) > 1)
    return img


def render_frame(world: World, state: QuestState, palette: art.PaletteLike = None) -> np.ndarray:
    """The screen of ``state`` as ``uint8`` RGB, shape (144, 160, 3).

    Args:
        world: The world the state plays in.
        state: The game state (not modified).
        palette: ``None`` (the default shades), a name in :data:`~longplay.envs.quest.art.PALETTES`, or four
            RGB triples, lightest first.

    The same world, state and palette always give the same bytes.
    """
    look = _look(art.palette_array(palette))
    if state.battle.kind != BattleKind.NONE or state.menu not in (MenuKind.NONE, MenuKind.START):
        return _to_rgb(render_shades(world, state), look)
    # the common frames (walking, reading, the start menu) skip the shade image: the overworld is gathered
    # in RGB directly and the boxes over it are converted once per content
    img = _overworld_rgb(world, state, look)
    if state.menu == MenuKind.START:
        cursor = state.menu_cursor
        img[:_START_H, _START_X:] = _overlay(look, ("start", cursor), lambda: _start_menu(cursor))
    if state.dialog:
        text, more = message_text(world, state.dialog[0]), len(state.dialog) > 1
        img[_BOX_Y:] = _overlay(look, ("text", text, more), lambda: _text_box(text, more))
    return img


__all__ = ["HEIGHT", "PAD", "WIDTH", "padded_tiles", "render_frame", "render_shades", "symbolic_tiles", "tile_window",
           "visible_entities"]
