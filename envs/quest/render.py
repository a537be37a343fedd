"""Pixels of the quest game: the overworld, text boxes, menus and battles as 160x144 four-shade frames.

Every screen can be drawn as a ``uint8`` image of shade indices (0 lightest .. 3 darkest,
:func:`render_shades`) and turned into RGB with a palette; the art (tiles, sprites, font, creatures) is in
:mod:`~longplay.envs.quest.art`.

Speed matters (RL wants thousands of frames a second in one process), so a frame is copied, not drawn:

* each map is drawn once per palette into a backdrop (the whole map, with VOID around it), so the screen of
  a player on the map is one slice of it;
* a "cell" atlas holds every metatile with every sprite (in every facing) already standing on it, so each
  visible person is one 16x16 copy over the slice;
* text lines, boxes, text boxes and creatures are coloured once per palette and content and then pasted.

Shade images are drawn by the same code with the palette ``0, 1, 2, 3``, so ``render_frame`` and
``palette[render_shades]`` give identical pixels.

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
from longplay.envs.quest.cache import IdentityCache
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

#: The overworld text box (and the battle's bottom box, in the same place): full width, the bottom 48 px.
TEXT_BOX_H = 48
TEXT_BOX_Y = HEIGHT - TEXT_BOX_H


# ============================================================================================= world cache


@dataclass(frozen=True)
class _WorldView:
    """What the renderer derives once per world: padded tile grids and entities per map."""

    padded: tuple[np.ndarray, ...]  # per map: uint8 (height + 2*PAD, width + 2*PAD), VOID outside
    entities: tuple[tuple[int, ...], ...]  # per map: entities that are drawn (sprite != NONE)
    sprites: tuple[int, ...]  # per entity
    layers: tuple[int, ...]  # per entity: what it looks like standing on a cell (see _layer)


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
    return _WorldView(tuple(padded), tuple(tuple(es) for es in per_map), tuple(e.sprite for e in world.entities),
                      tuple(_layer(e.sprite, e.facing & 3) for e in world.entities))


_VIEWS: IdentityCache[_WorldView] = IdentityCache(32)


def _world_view(world: World) -> _WorldView:
    return _VIEWS.get(world, lambda: _build_view(world))


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


# ============================================================================================= art


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
    a person on a tile is one copy, with no transparency to work out per frame.
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


def _lay_out(cells: np.ndarray) -> np.ndarray:
    """(rows, columns, 16, 16[, 3]) cell pixels -> one (rows * 16, columns * 16[, 3]) image (a copy)."""
    rows, columns = cells.shape[:2]
    return cells.swapaxes(1, 2).reshape(rows * TILE_PX, columns * TILE_PX, *cells.shape[4:])


# ============================================================================================= looks


class _Look:
    """The art in the colours of one palette, and what has been drawn with it, kept for the next frames.

    A palette of four RGB triples gives RGB images (h, w, 3); the shade palette ``0, 1, 2, 3`` gives shade
    images (h, w). The drawing code is the same for both, so ``render_frame`` equals
    ``palette[render_shades]`` by construction.
    """

    def __init__(self, palette: np.ndarray) -> None:
        self.palette = palette
        if palette.ndim == 2:  # RGB runs of four pixels: pixel j of run k has shade (k >> 2j) & 3
            self._quads = np.stack([palette[(np.arange(256) >> (2 * j)) & 3] for j in range(4)], axis=1).reshape(
                256, 12)
        self.cells = self.colour(_shade_art().cells)  # (cells, 16, 16[, 3])
        self.cells.setflags(write=False)
        self._images: dict[tuple[object, ...], np.ndarray] = {}  # boxes, text boxes, menus: up to ~25 KB each
        self._frames: dict[tuple[object, ...], np.ndarray] = {}  # whole screens: ~70 KB each, fewer kept
        self._texts: dict[str, np.ndarray] = {}  # the most used images, without building a key
        self._sprites: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._backdrops: IdentityCache[np.ndarray] = IdentityCache(8)  # a few MB each: the maps in play

    def blank(self) -> np.ndarray:
        """A new frame to draw every pixel of."""
        return np.empty((HEIGHT, WIDTH, *self.palette.shape[1:]), np.uint8)

    def colour(self, shades: np.ndarray) -> np.ndarray:
        """A shade image in this look's colours (a new array)."""
        if self.palette.ndim == 2 and shades.shape[-1] % 4 == 0:
            # four pixels per table lookup: several times faster than indexing the palette per pixel
            v = np.ascontiguousarray(shades).view("<u4")  # pixel j of a word in bits 8j, 8j+1
            quad = (v | (v >> 6) | (v >> 12) | (v >> 18)) & 0xFF  # pixel j's shade moves to bits 2j, 2j+1
            return np.take(self._quads, quad, axis=0).reshape(*shades.shape, 3)
        return np.take(self.palette, shades, axis=0)

    def image(self, key: tuple[object, ...], shades: Callable[[], np.ndarray]) -> np.ndarray:
        """The shade image ``shades()`` in this look's colours, converted once per ``key``."""
        return self._kept(self._images, 1024, key, lambda: self.colour(shades()))

    def frame(self, key: tuple[object, ...], draw: Callable[[], np.ndarray]) -> np.ndarray:
        """A whole screen (or most of one) ``draw()`` draws in this look, drawn once per ``key``."""
        return self._kept(self._frames, 64, key, draw)

    @staticmethod
    def _kept(store: dict[tuple[object, ...], np.ndarray], size: int, key: tuple[object, ...],
              make: Callable[[], np.ndarray]) -> np.ndarray:
        image = store.get(key)
        if image is None:
            if len(store) >= size:
                store.clear()
            image = store[key] = make()
            image.setflags(write=False)
        return image

    def text(self, line: str) -> np.ndarray:
        image = self._texts.get(line)
        if image is None:
            if len(self._texts) >= 4096:
                self._texts.clear()
            image = self._texts[line] = self.colour(_text(line))
            image.setflags(write=False)
        return image

    def creature(self, species: int, back: bool) -> tuple[np.ndarray, np.ndarray]:
        """A battle creature as ``pixels`` and ``keep`` (see :func:`_pixels_and_keep`) in this look."""
        sprite = self._sprites.get((species, back))
        if sprite is None:
            pixels, keep = _creature(species, back)
            channels = self.palette.shape[1:]
            per_channel = keep.shape + (1,) * len(channels)
            colours = np.where(keep.reshape(per_channel) == 0, self.palette[pixels], 0).astype(np.uint8)
            keep = np.ascontiguousarray(np.broadcast_to(keep.reshape(per_channel), keep.shape + channels))
            colours.setflags(write=False)
            keep.setflags(write=False)
            sprite = self._sprites[(species, back)] = (colours, keep)
        return sprite

    def backdrop(self, world: World, map_index: int) -> np.ndarray:
        """The whole map drawn once, with VOID around it so that the screen of a player standing anywhere on
        the map is one slice: the screen of (x, y) starts at pixel (16 y, 16 x)."""
        view = _world_view(world)

        def draw() -> np.ndarray:
            m = world.maps[map_index]
            tiles = view.padded[map_index][PAD - PLAYER_VIEW_Y:PAD + m.height + VIEW_H - 1 - PLAYER_VIEW_Y,
                                           PAD - PLAYER_VIEW_X:PAD + m.width + VIEW_W - 1 - PLAYER_VIEW_X]
            image = _lay_out(self.cells[tiles.astype(np.intp) * _LAYERS])
            image.setflags(write=False)
            return image

        return self._backdrops.get(view, draw, map_index)


_LOOKS: dict[tuple[tuple[int, ...], bytes], _Look] = {}
_SHADES = np.arange(4, dtype=np.uint8)  # the palette whose colours are the shade indices
_SHADES.setflags(write=False)
_last_look: list = [None, None]


def _look(palette: np.ndarray) -> _Look:
    """The :class:`_Look` of a palette, built on first use (about 1 MB, plus the maps drawn) and kept."""
    if palette is _last_look[0]:  # the same read-only palette as last time (named palettes are)
        return _last_look[1]
    key = (palette.shape, palette.tobytes())
    look = _LOOKS.get(key)
    if look is None:
        if len(_LOOKS) >= 8:
            _LOOKS.clear()
        look = _LOOKS[key] = _Look(palette)
    if not palette.flags.writeable:
        _last_look[:] = palette, look
    return look


class _Canvas:
    """A frame being drawn in a look; every call copies pixels the look has already coloured."""

    __slots__ = ("img", "look")

    def __init__(self, img: np.ndarray, look: _Look) -> None:
        self.img = img
        self.look = look

    def fill(self, shade: int) -> None:
        # copying a whole coloured frame is far faster than numpy broadcasting one RGB triple over it
        height, width = self.img.shape[:2]
        self.img[:] = self.look.image(("fill", height, width, shade), lambda: np.full((height, width), shade, np.uint8))

    def hline(self, y: int, x0: int, x1: int, shade: int) -> None:
        self.paste(x0, y, self.look.image(("fill", 1, x1 - x0, shade), lambda: np.full((1, x1 - x0), shade, np.uint8)))

    def paste(self, x: int, y: int, image: np.ndarray) -> None:
        self.img[y:y + image.shape[0], x:x + image.shape[1]] = image

    def text(self, x: int, y: int, line: str) -> None:
        """Writes ``line`` with its top-left at (x, y), clipped at the right edge of the screen."""
        if not line:
            return
        pixels = self.look.text(line)
        w = min(pixels.shape[1], WIDTH - x)
        if w > 0:
            self.img[y:y + GLYPH, x:x + w] = pixels[:, :w]

    def box(self, x: int, y: int, width: int, height: int) -> None:
        self.paste(x, y, self.look.image(("box", width, height), lambda: _box(width, height)))

    def creature(self, x: int, y: int, species: int, back: bool) -> None:
        """Draws a battle creature (opaque pixels only) with its top-left at (x, y)."""
        pixels, keep = self.look.creature(species, back)
        h, w = pixels.shape[:2]
        region = self.img[y:y + h, x:x + w]
        np.bitwise_and(region, keep, out=region)
        np.bitwise_or(region, pixels, out=region)


def _shade_canvas(img: np.ndarray) -> _Canvas:
    return _Canvas(img, _look(_SHADES))


# ============================================================================================= overworld


def _standing(world: World, state: QuestState, left: int, top: int) -> dict[tuple[int, int], int]:
    """What stands on the screen's cells: ``(row, column) -> layer``, entities in entity order then the player
    on top (one layer per cell, the last drawn wins)."""
    entity_layers = _world_view(world).layers
    layers = {(row, col): entity_layers[e] for col, row, e in visible_entities(world, state, left, top, VIEW_W, VIEW_H)}
    player = _SWIMMER if state.surfing else Sprite.PLAYER
    layers[PLAYER_VIEW_Y, PLAYER_VIEW_X] = _layer(player, state.facing & 3)
    return layers


def _overworld(world: World, state: QuestState, look: _Look) -> np.ndarray:
    """The overworld as a new image: tiles, visible entities, the player."""
    left, top = _screen_origin(state)
    layers = _standing(world, state, left, top)
    m = world.maps[state.map]
    if not (0 <= state.x < m.width and 0 <= state.y < m.height):  # no game puts the player there
        cells = tile_window(world, state.map, left, top, VIEW_W, VIEW_H).astype(np.intp) * _LAYERS
        for (row, col), layer in layers.items():
            cells[row, col] += layer
        return _lay_out(look.cells[cells])
    # the map's backdrop, then each cell with someone on it
    y0, x0 = state.y * TILE_PX, state.x * TILE_PX
    img = look.backdrop(world, state.map)[y0:y0 + HEIGHT, x0:x0 + WIDTH].copy()
    grid = padded_tiles(world, state.map)
    for (row, col), layer in layers.items():
        tile = grid.item(top + PAD + row, left + PAD + col)
        img[row * TILE_PX:(row + 1) * TILE_PX, col * TILE_PX:(col + 1) * TILE_PX] = look.cells[
            tile * _LAYERS + layer]
    return img


def _cursor(row: int, cursor: int) -> str:
    return art.CURSOR if row == cursor else art.EMPTY_CURSOR


def _put_list(canvas: _Canvas, x: int, y: int, rows: list[str], cursor: int, visible: int, pitch: int) -> None:
    """A column of rows with the cursor glyph before the chosen one, scrolled to keep the cursor in view.

    A cursor one past the last row (an engine that adds a closing row) is drawn on an empty row.
    """
    count = max(len(rows), cursor + 1)
    first = min(max(0, cursor - visible + 1), max(0, count - visible))
    for i in range(first, min(count, first + visible)):
        canvas.text(x, y + (i - first) * pitch, _cursor(i, cursor) + (rows[i] if i < len(rows) else ""))


# ============================================================================================= text box


def _text_lines(text: str) -> list[str]:
    """Wraps text to the box width (already wrapped text is unchanged)."""
    return wrap(text).split("\n")


@functools.lru_cache(maxsize=1024)
def _text_box(text: str, more: bool) -> np.ndarray:
    """The bottom text box (48, 160) with one page: two lines 16 px apart, or up to four 8 px apart when a
    page runs longer than the box's two lines."""
    box = _shade_canvas(_box(WIDTH, TEXT_BOX_H).copy())
    lines = _text_lines(text)
    if len(lines) <= 2:
        for k, line in enumerate(lines):
            box.text(8, 12 + 16 * k, line)
    else:
        for k, line in enumerate(lines[:4]):
            box.text(8, 8 + 8 * k, line)
    if more:
        box.paste(144, 36, _text(art.MORE))
    box.img.setflags(write=False)
    return box.img


def _put_text_box(canvas: _Canvas, text: str, more: bool) -> None:
    canvas.paste(0, TEXT_BOX_Y, canvas.look.image(("text box", text, more), lambda: _text_box(text, more)))


# ============================================================================================= menus


def _party_rows(canvas: _Canvas, party: list[Mon], cursor: int) -> None:
    """The party list in a box over the top 112 rows: name and level, then HP bar and HP numbers."""
    canvas.box(0, 0, WIDTH, 112)
    for i, mon in enumerate(party[:6]):
        y = 8 + 16 * i
        canvas.text(8, y, _cursor(i, cursor) + SPECIES[mon.species].name[:10])
        canvas.text(104, y, f"Lv{mon.level}")
        canvas.text(16, y + 8, art.hp_bar_text(mon.hp, mon.max_hp))
        canvas.text(96, y + 8, f"{mon.hp:>3}/{mon.max_hp:<3}")
    if not party:
        canvas.text(16, 8, "No partners yet.")
    if party and len(party) <= cursor < 6:  # a closing row an engine may add
        canvas.text(8, 8 + 16 * cursor, art.CURSOR)


def _hint(canvas: _Canvas, text: str) -> None:
    """A short prompt in a 32 px box at the bottom (up to two lines)."""
    canvas.box(0, 112, WIDTH, 32)
    lines = _text_lines(text)[:2]
    for k, line in enumerate(lines):
        canvas.text(8, (124 if len(lines) == 1 else 120) + 8 * k, line)


#: The start menu box, top right: its left edge, width and height in pixels.
START_MENU_X, START_MENU_W, START_MENU_H = 88, 72, 64


@functools.lru_cache(maxsize=8)
def _start_menu(cursor: int) -> np.ndarray:
    """The start menu box (64, 72) with the cursor on row ``cursor``."""
    box = _shade_canvas(_box(START_MENU_W, START_MENU_H).copy())
    for i, option in enumerate(START_MENU_OPTIONS):
        box.text(8, 12 + 16 * i, _cursor(i, cursor) + option)
    box.img.setflags(write=False)
    return box.img


def _draw_menu(canvas: _Canvas, world: World, state: QuestState) -> None:
    """Draws the open menu; every menu but START covers the whole screen."""
    kind, cursor = state.menu, state.menu_cursor
    if kind == MenuKind.START:
        canvas.paste(START_MENU_X, 0, canvas.look.image(("start", cursor), lambda: _start_menu(cursor)))
    elif kind == MenuKind.PARTY:
        _party_rows(canvas, state.party, cursor)
        _hint(canvas, "Choose who leads.")
    elif kind == MenuKind.BAG_TARGET:
        _party_rows(canvas, state.party, cursor)
        item = state.menu_choice
        _hint(canvas, f"Use {ITEM_NAMES[item]} on?" if 0 <= item < len(ITEM_NAMES) else "Use on?")
    elif kind == MenuKind.BAG:
        canvas.box(0, 0, WIDTH, HEIGHT)
        items = bag_items(state)
        rows = [f"{ITEM_NAMES[i]:<13}x{state.bag[i]:>2}" for i in items]
        _put_list(canvas, 8, 12, rows or ["No items."], cursor if rows else -1, visible=8, pitch=16)
    elif kind == MenuKind.SHOP:
        stock = world.shops[state.menu_choice] if 0 <= state.menu_choice < len(world.shops) else ()
        canvas.box(88, 0, 72, 32)
        canvas.text(96, 12, f"${state.money}")
        canvas.box(0, 0, 88, 32)
        if 0 <= cursor < len(stock):
            canvas.text(8, 12, f"Bag x{state.bag[stock[cursor]]}")
        canvas.box(0, 32, WIDTH, HEIGHT - 32)
        rows = [f"{ITEM_NAMES[i]:<12} {ITEM_PRICE[i]:>4}" for i in stock] + ["EXIT"]  # prices in $
        _put_list(canvas, 8, 44, rows, cursor, visible=6, pitch=16)


# ============================================================================================= battle


def _battle_message(world: World, state: QuestState) -> str:
    msg = state.battle.messages[0] if state.battle.messages else None
    return battle.battle_message_text(world, state, msg) if msg is not None else ""


_MonLook = tuple[int, int, int, int]  # what a battle screen shows of a creature: species, level, HP, max HP


def _shown(mon: Mon | None) -> _MonLook | None:
    return None if mon is None else (mon.species, mon.level, mon.hp, mon.max_hp)


def _battle_scene(look: _Look, foe: _MonLook | None, orbs: str | None, me: _MonLook | None) -> np.ndarray:
    """A battle screen without the phase's boxes: both creatures with their panels, and the trainer's orbs
    (one per enemy creature, ``o`` able to fight, ``-`` fainted)."""
    canvas = _Canvas(look.blank(), look)
    canvas.fill(0)
    if foe is not None:
        species, level, hp, max_hp = foe
        canvas.text(8, 8, SPECIES[species].name[:10])
        canvas.text(40, 16, f"Lv{level}")
        canvas.text(8, 24, art.hp_bar_text(hp, max_hp))
        canvas.hline(33, 8, 88, 3)  # the enemy panel's underline
        canvas.creature(104, 0, species, False)
    if orbs is not None:
        canvas.text(8, 36, orbs)
    if me is not None:
        species, level, hp, max_hp = me
        canvas.creature(8, 48, species, True)
        # the panel starts at x=80 so the FIGHT screen's move box (x < 80) never hides it
        canvas.text(80, 56, SPECIES[species].name[:10])
        canvas.text(120, 64, f"Lv{level}")
        canvas.text(80, 72, art.hp_bar_text(hp, max_hp))
        canvas.text(104, 80, f"{hp:>3}/{max_hp:<3}")
        canvas.hline(89, 80, 160, 3)
    return canvas.img


@functools.lru_cache(maxsize=8)
def _battle_choices(cursor: int) -> np.ndarray:
    """The MAIN phase's boxes (TEXT_BOX_H, WIDTH): "What next?" and the four options with the cursor."""
    canvas = _shade_canvas(np.empty((TEXT_BOX_H, WIDTH), np.uint8))
    canvas.box(0, 0, 56, TEXT_BOX_H)
    canvas.text(8, 12, "What")
    canvas.text(8, 28, "next?")
    canvas.box(56, 0, 104, TEXT_BOX_H)
    for i, option in enumerate(BATTLE_MAIN_OPTIONS):  # 0 1 / 2 3
        canvas.text(64 + 56 * (i % 2), 12 + 16 * (i // 2), _cursor(i, cursor) + option)
    canvas.img.setflags(write=False)
    return canvas.img


@functools.lru_cache(maxsize=256)
def _move_list(names: tuple[str, ...], cursor: int) -> np.ndarray:
    """The FIGHT phase's bottom box (TEXT_BOX_H, WIDTH): one move per row, the cursor on the chosen one."""
    canvas = _shade_canvas(_box(WIDTH, TEXT_BOX_H).copy())
    for i, name in enumerate(names):
        canvas.text(8, 8 + 8 * i, _cursor(i, cursor) + name)
    canvas.img.setflags(write=False)
    return canvas.img


def _battle(world: World, state: QuestState, look: _Look) -> np.ndarray:
    """A battle screen: the scene (coloured once per what it shows), then the phase's boxes."""
    b = state.battle
    foe = b.enemy[b.enemy_active] if 0 <= b.enemy_active < len(b.enemy) else None
    me = state.party[b.player_active] if 0 <= b.player_active < len(state.party) else None
    scene = (_shown(foe), "".join("o" if m.hp > 0 else "-" for m in b.enemy[:6]) if b.kind == BattleKind.TRAINER
             else None, _shown(me))
    canvas = _Canvas(look.frame(("battle", *scene), lambda: _battle_scene(look, *scene)).copy(), look)
    phase = b.phase
    if phase == BattlePhase.MESSAGE:
        _put_text_box(canvas, _battle_message(world, state), len(b.messages) > 1)
    elif phase == BattlePhase.MAIN:
        cursor = b.cursor
        canvas.paste(0, TEXT_BOX_Y, look.image(("choices", cursor), lambda: _battle_choices(cursor)))
    elif phase == BattlePhase.FIGHT:
        moves = me.moves if me is not None else [-1] * MOVE_SLOTS
        names, cursor = tuple(MOVES[m].name if m >= 0 else "-" for m in moves), b.cursor
        canvas.paste(0, TEXT_BOX_Y, look.image(("moves", names, cursor), lambda: _move_list(names, cursor)))
        if me is not None and 0 <= b.cursor < len(moves) and moves[b.cursor] >= 0:
            move = MOVES[moves[b.cursor]]
            canvas.box(0, 48, 80, 48)
            canvas.text(8, 60, TYPE_NAMES[move.type])
            canvas.text(8, 76, f"PP{me.pp[b.cursor]:>3}/{move.pp}")
    elif phase == BattlePhase.BAG:
        canvas.box(0, TEXT_BOX_Y, WIDTH, TEXT_BOX_H)
        items = battle.battle_items(state)
        rows = [f"{ITEM_NAMES[i]:<13}x{state.bag[i]:>2}" for i in items]
        _put_list(canvas, 8, TEXT_BOX_Y + 8, rows or ["No items."], b.cursor if rows else -1, visible=4, pitch=8)
    elif phase in (BattlePhase.PARTY, BattlePhase.FORCED_SWITCH):
        _party_rows(canvas, state.party, b.cursor)
        _hint(canvas, "Switch to whom?" if phase == BattlePhase.PARTY else "Who will fight next?")
    return canvas.img


# ============================================================================================= frames


def _draw(world: World, state: QuestState, look: _Look) -> np.ndarray:
    """The frame of ``state`` in ``look``: the overworld (unless a battle or a full-screen menu hides it),
    then the open menu, then the text box."""
    if state.battle.kind != BattleKind.NONE:
        return _battle(world, state, look)
    if state.menu in (MenuKind.NONE, MenuKind.START):
        canvas = _Canvas(_overworld(world, state, look), look)
    else:  # the menu covers the whole screen: no overworld to draw
        canvas = _Canvas(look.blank(), look)
    if state.menu != MenuKind.NONE:
        _draw_menu(canvas, world, state)
    if state.dialog:
        _put_text_box(canvas, message_text(world, state.dialog[0]), len(state.dialog) > 1)
    return canvas.img


def render_shades(world: World, state: QuestState) -> np.ndarray:
    """The frame as a (144, 160) ``uint8`` image of shade indices (0 lightest .. 3 darkest)."""
    return _draw(world, state, _look(_SHADES))


def render_frame(world: World, state: QuestState, palette: art.PaletteLike = None) -> np.ndarray:
    """The screen of ``state`` as ``uint8`` RGB, shape (144, 160, 3).

    Args:
        world: The world the state plays in.
        state: The game state (not modified).
        palette: ``None`` (the default shades), a name in :data:`~longplay.envs.quest.art.PALETTES`, or four
            RGB triples, lightest first.

    The same world, state and palette always give the same bytes.
    """
    return _draw(world, state, _look(art.palette_array(palette)))


__all__ = ["HEIGHT", "PAD", "WIDTH", "padded_tiles", "render_frame", "render_shades", "symbolic_tiles",
           "tile_window", "visible_entities"]
