"""The look of the quest game, as data: tiles, sprites, a bitmap font, creature art and palettes.

Everything is original pixel art in four shades (``0`` lightest .. ``3`` darkest), written as string art and
parsed once (lazily, on first use) into numpy arrays that :mod:`~longplay.envs.quest.render` gathers from:

* 8x8 tiles composed 2x2 into one 16x16 metatile per :class:`~longplay.envs.quest.constants.Tile` kind
  (:func:`metatile_atlas`);
* 16x16 sprites per :class:`~longplay.envs.quest.constants.Sprite` in four facings, with a transparency mask
  (:func:`sprite_atlas`); people share three body templates (down, up, side; left mirrors right) and differ
  by hair/shirt/trouser shades and a hat or beard overlay;
* an 8x8 bitmap font with letters, digits, punctuation, a cursor, a "more" arrow and HP-bar pieces
  (:func:`font_atlas`, :func:`glyph_codes`, :func:`hp_bar_text`);
* 48x48 battle art for every species, generated from the species index and types: a symmetric creature
  (:func:`creature_sprite`), front and back views;
* palettes of four RGB shades (:data:`PALETTES`, :func:`palette_array`).

Nothing here depends on game state; every function is deterministic and cached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from longplay.envs.quest.constants import NUM_SPRITES, NUM_TILES, Direction, Sprite, Tile, Type

TILE8 = 8  # pixels per side of a tile
META = 16  # pixels per side of a metatile and of an overworld sprite
CREATURE = 48  # pixels per side of a battle creature

# ============================================================================================== palettes

#: Named palettes: four RGB shades, lightest first.
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "green": ((226, 238, 204), (150, 182, 118), (70, 104, 82), (18, 36, 32)),
    "grey": ((242, 242, 242), (170, 170, 170), (88, 88, 88), (16, 16, 16)),
    "sepia": ((246, 232, 202), (196, 160, 112), (112, 78, 52), (36, 22, 14)),
}
DEFAULT_PALETTE = "green"

PaletteLike = str | Sequence[Sequence[int]] | np.ndarray | None


def palette_array(palette: PaletteLike = None) -> np.ndarray:
    """The palette as a ``uint8`` array of shape (4, 3).

    Args:
        palette: ``None`` (the default green-grey ramp), a name in :data:`PALETTES`, or four RGB triples
            (lightest first) as a sequence or array.

    Raises:
        ValueError: an unknown name or a value that is not four RGB triples in 0..255.

    >>> palette_array("grey")[3].tolist()
    [16, 16, 16]
    """
    if palette is None or isinstance(palette, str):
        return _named_palette(DEFAULT_PALETTE if palette is None else palette)
    array = np.asarray(palette)
    if array.shape != (4, 3) or not np.issubdtype(array.dtype, np.number) or array.min() < 0 \
            or array.max() > 255:
        raise ValueError(f"a palette is four RGB triples in 0..255 (shape (4, 3)), got {palette!r}")
    return array.astype(np.uint8)


@functools.cache
def _named_palette(name: str) -> np.ndarray:
    if name not in PALETTES:
        raise ValueError(f"unknown palette {name!r}; valid palettes: {', '.join(PALETTES)}")
    array = np.array(PALETTES[name], np.uint8)
    array.setflags(write=False)
    return array


# ============================================================================================== parsing


def _parse(rows: Sequence[str], mapping: dict[str, int] | None = None) -> np.ndarray:
    """String art to an int8 array: digits are shades, ``.`` transparent (-1), letters go via ``mapping``."""
    out = np.empty((len(rows), len(rows[0])), np.int8)
    for y, row in enumerate(rows):
        if len(row) != len(rows[0]):
            raise ValueError(f"ragged string art at row {y}: {row!r}")
        for x, ch in enumerate(row):
            if ch == ".":
                out[y, x] = -1
            elif ch.isdigit():
                out[y, x] = int(ch)
            else:
                out[y, x] = (mapping or {})[ch]
    return out


# ============================================================================================== tiles

#: 8x8 tiles, shades 0..3. Composed 2x2 into metatiles below; a name may carry ``|h``/``|v``/``|hv`` flips.
_TILES8: dict[str, tuple[str, ...]] = {
    "void": ("33333333",) * 8,
    "ground": ("00000000", "00000000", "00010000", "00000000",
               "00000000", "00000010", "00000000", "00000000"),
    "ground2": ("00000000", "00000100", "00000000", "00000000",
                "01000000", "00000000", "00000000", "00000000"),
    # staggered stone blocks: a full block above, two half blocks below
    "wall": ("00000003", "01111123", "02222223", "33333333",
             "00030000", "11230111", "22230222", "33333333"),
    "tree_top": ("00000333", "00033222", "00322221", "03222212",
                 "03221222", "32212222", "32122221", "32222212"),
    "tree_bottom": ("32122222", "32212221", "03222212", "03322222",
                    "00333333", "00000032", "00000032", "00000333"),
    # tufts of tall grass on a mid shade
    "grass": ("11111111", "31313111", "13331111", "11311111",
              "11111111", "11131313", "11113331", "11111311"),
    # light wave crests on a mid shade; "water2" is the same shifted half a tile
    "water": ("11111111", "11111111", "11100011", "11022201",
              "11111111", "11111111", "00111110", "22011102"),
    "ledge": ("00000000", "00000000", "11111111", "22222222",
              "33333333", "03000030", "00000000", "00000000"),
    "door_top": ("11111111", "11111111", "11222222", "11233333",
                 "11233333", "11233333", "11233333", "11233333"),
    "door_bottom": ("11233333", "11233333", "11233333", "11233333",
                    "11233333", "11233333", "11233333", "11222222"),
    # diagonal shingles
    "roof": ("22223333", "22233332", "22333322", "23333222",
             "33332222", "33322223", "33222233", "32222333"),
    # vertical boards with staggered joints
    "floor": ("00010001", "00010001", "00010001", "11110001",
              "00010001", "00010001", "00010001", "00011111"),
    "counter_top": ("33333333", "00000000", "00000000", "00000000",
                    "11111111", "33333333", "22222222", "22222222"),
    "counter_bottom": ("22222222", "21212121", "22222222", "22222222",
                       "22222222", "33333333", "11111111", "00000000"),
    "mat": ("00000000", "03333333", "03121212", "03212121",
            "03121212", "03212121", "03121212", "03212121"),
    "cave_floor": ("11111111", "11121111", "11111111", "11111112",
                   "11111111", "12111111", "11111111", "11111211"),
    "cave_wall": ("32223322", "21122232", "21112223", "32222233",
                  "33232223", "22322112", "23221112", "33222223"),
    "flower": ("00000000", "00200000", "02320000", "00200000",
               "00100200", "00002320", "00000200", "00000100"),
    "bridge": ("33333333", "22222222", "00020002", "00020002",
               "00020002", "00020002", "00020002", "00020002"),
    "shelf_top": ("33333333", "32222222", "32101210", "32101210",
                  "32101210", "32333333", "32012101", "32012101"),
    "shelf_bottom": ("32012101", "32333333", "32210120", "32210120",
                     "32210120", "33333333", "00000000", "00000000"),
}

#: Each Tile kind as (top-left, top-right, bottom-left, bottom-right) 8x8 tiles.
METATILES: dict[Tile, tuple[str, str, str, str]] = {
    Tile.VOID: ("void", "void", "void", "void"),
    Tile.GROUND: ("ground", "ground2", "ground2", "ground"),
    Tile.WALL: ("wall", "wall", "wall", "wall"),
    Tile.TREE: ("tree_top", "tree_top|h", "tree_bottom", "tree_bottom|h"),
    Tile.TALL_GRASS: ("grass", "grass", "grass", "grass"),
    Tile.WATER: ("water", "water2", "water2", "water"),
    Tile.LEDGE: ("ground", "ground2", "ledge", "ledge"),
    Tile.DOOR: ("door_top", "door_top|h", "door_bottom", "door_bottom|h"),
    Tile.ROOF: ("roof", "roof", "roof", "roof"),
    Tile.FLOOR: ("floor", "floor", "floor", "floor"),
    Tile.COUNTER: ("counter_top", "counter_top", "counter_bottom", "counter_bottom"),
    Tile.MAT: ("mat", "mat|h", "mat|v", "mat|hv"),
    Tile.CAVE_FLOOR: ("cave_floor", "cave_floor2", "cave_floor2", "cave_floor"),
    Tile.CAVE_WALL: ("cave_wall", "cave_wall|h", "cave_wall|v", "cave_wall|hv"),
    Tile.FLOWERS: ("flower", "ground2", "ground", "flower"),
    Tile.BRIDGE: ("bridge", "bridge", "bridge|v", "bridge|v"),
    Tile.SHELF: ("shelf_top", "shelf_top|h", "shelf_bottom", "shelf_bottom|h"),
}
assert set(METATILES) == set(Tile)


@functools.cache
def tile8_atlas() -> dict[str, np.ndarray]:
    """The 8x8 tiles by name, as ``uint8`` shade arrays (derived half-tile shifts included)."""
    tiles = {name: _parse(rows).astype(np.uint8) for name, rows in _TILES8.items()}
    # shifted copies break the grid look of large water and cave areas
    tiles["water2"] = np.roll(tiles["water"], 4, axis=1)
    tiles["cave_floor2"] = np.roll(tiles["cave_floor"], 4, axis=1)
    return tiles


def _tile8(name: str) -> np.ndarray:
    base, _, flips = name.partition("|")
    tile = tile8_atlas()[base]
    if "h" in flips:
        tile = tile[:, ::-1]
    if "v" in flips:
        tile = tile[::-1, :]
    return tile


@functools.cache
def metatile_atlas() -> np.ndarray:
    """Shade indices of every Tile kind: ``uint8`` array (NUM_TILES, 16, 16), read-only."""
    atlas = np.zeros((NUM_TILES, META, META), np.uint8)
    for kind, (tl, tr, bl, br) in METATILES.items():
        atlas[kind] = np.block([[_tile8(tl), _tile8(tr)], [_tile8(bl), _tile8(br)]])
    atlas.setflags(write=False)
    return atlas


# ============================================================================================== sprites

# People: ``h`` hair, ``s`` shirt, ``p`` trousers (shades chosen per sprite), ``0`` skin, ``3`` outline.
_BODY_DOWN = (
    ".....333333.....", "....3hhhhhh3....", "...3hhhhhhhh3...", "...3hhhhhhhh3...",
    "...3hh0000hh3...", "...3h030030h3...", "...3000000003...", "....33000033....",
    "...3ssssssss3...", "..3ssssssssss3..", "..30ssssssss03..", "..33ssssssss33..",
    "...3pppppppp3...", "...3ppp33ppp3...", "...3pp3..3pp3...", "...333....333...",
)
_BODY_UP = (
    ".....333333.....", "....3hhhhhh3....", "...3hhhhhhhh3...", "...3hhhhhhhh3...",
    "...3hhhhhhhh3...", "...3hhhhhhhh3...", "...3hhhhhhhh3...", "....33hhhh33....",
    "...3ssssssss3...", "..3ssssssssss3..", "..30ssssssss03..", "..33ssssssss33..",
    "...3pppppppp3...", "...3ppp33ppp3...", "...3pp3..3pp3...", "...333....333...",
)
_BODY_SIDE = (  # facing right; facing left is the mirror image
    ".....333333.....", "....3hhhhhh3....", "...3hhhhhhhh3...", "...3hhhhhhhh3...",
    "...3hhhhh0003...", "...3hhhh00303...", "...3hhh0000003..", "....33h000033...",
    "....3ssssss3....", "....3ssssss3....", "....3sss0ss3....", "....33ssss33....",
    "....3pppppp3....", "....3ppp3pp3....", "....3pp3.3pp3...", "....333..3333...",
)

# Head (and chin) overlays by facing: row index -> replacement row.
_HATS: dict[str, dict[str, dict[int, str]]] = {
    "cap": {
        "down": {1: "....32222223....", 2: "...3220000223...", 3: "..333333333333.."},
        "up": {1: "....32222223....", 2: "...3222222223...", 3: "...3333333333..."},
        "side": {1: "....32222223....", 2: "...3222222223...", 3: "...3333333333333"},
    },
    "visor": {
        "down": {3: "..333333333333.."},
        "up": {},
        "side": {3: "...3333333333333"},
    },
    "spiky": {
        "down": {0: "..3..3.33.3..3..", 1: "..33h3hhhh3h33..", 2: "..3hhhhhhhhhh3.."},
        "up": {0: "..3..3.33.3..3..", 1: "..33h3hhhh3h33..", 2: "..3hhhhhhhhhh3.."},
        "side": {0: "..3.3.3.3.......", 1: "..3h3h3hhhh3....", 2: "..3hhhhhhhhh3..."},
    },
    "nurse": {
        "down": {0: "....33333333....", 1: "....30033003....", 2: "...3303333033...",
                 3: "...3300330033..."},
        "up": {0: "....33333333....", 1: "....30000003....", 2: "...3300000033...",
               3: "...3333333333..."},
        "side": {0: "....33333333....", 1: "....30000003....", 2: "...3300000033...",
                 3: "...3333333333..."},
    },
    "helmet": {
        "down": {1: "....32222223....", 2: "...3222222223...", 3: "...3222222223...",
                 4: "...3333333333..."},
        "up": {1: "....32222223....", 2: "...3222222223...", 3: "...3222222223...",
               4: "...3222222223..."},
        "side": {1: "....32222223....", 2: "...3222222223...", 3: "...3222222223...",
                 4: "...3333333333..."},
    },
    "crown": {
        "down": {0: "....3..33..3....", 1: "....30300303....", 2: "...3333333333..."},
        "up": {0: "....3..33..3....", 1: "....30300303....", 2: "...3333333333..."},
        "side": {0: "....3..33..3....", 1: "....30300303....", 2: "...3333333333..."},
    },
    "band": {
        "down": {3: "...3000000003..."},
        "up": {3: "...3000000003..."},
        "side": {3: "...3000000003..."},
    },
    "beard": {
        "down": {7: "....30000003....", 8: "...3ss3003ss3..."},
        "up": {},
        "side": {7: "....33h000003...", 8: "....3sss003....."},
    },
}

#: Per person sprite: hair, shirt and trouser shades, and an optional head overlay.
_PEOPLE: dict[Sprite, tuple[int, int, int, str | None]] = {
    Sprite.PLAYER: (3, 1, 3, "cap"),
    Sprite.PERSON: (2, 1, 2, None),
    Sprite.ELDER: (0, 2, 2, "beard"),
    Sprite.TRAINER: (3, 2, 1, "band"),
    Sprite.LEADER: (3, 3, 2, "spiky"),
    Sprite.HEALER: (2, 0, 0, "nurse"),
    Sprite.CLERK: (3, 1, 3, "visor"),
    Sprite.GUARD: (3, 2, 3, "helmet"),
    Sprite.RIVAL: (1, 3, 1, "spiky"),
    Sprite.ELITE: (3, 3, 3, "crown"),
}

# Things on the ground: one view for every facing.
_OBJECTS: dict[Sprite, tuple[str, ...]] = {
    Sprite.NONE: ("................",) * 16,
    Sprite.ITEM_ORB: (
        "................", "................", "................", ".....333333.....",
        "....32222223....", "...3221222223...", "...3212222223...", "...3333003333...",
        "...3333003333...", "...3000000003...", "...3000000003...", "....30000003....",
        ".....333333.....", "................", "................", "................",
    ),
    Sprite.CAPSULE: (
        "................", "......3333......", ".....322223.....", "....32122223....",
        "....31222223....", "....32222223....", "....33333333....", "....30000003....",
        "....30033003....", "....30000003....", "....30000003....", ".....300003.....",
        "......3333......", "...3333333333...", "...3111111113...", "...3333333333...",
    ),
    Sprite.BOULDER: (
        "................", "................", ".....333333.....", "...3321112233...",
        "..321100111223..", "..310011112223..", ".32111111122223.", ".31111111222223.",
        ".31111112222323.", ".31111122223223.", ".32111122232223.", ".32211222322223.",
        "..322222222223..", "..332222222233..", "...3333333333...", "................",
    ),
    Sprite.CUT_TREE: (
        "................", "......3333......", "....33222233....", "...3221222223...",
        "...3212222123...", "..322222221223..", "..321222222223..", "..322212222123..",
        "...3222222223...", "...3322222233...", ".....333333.....", "......3223......",
        "......3223......", "......3223......", ".....332233.....", "................",
    ),
    Sprite.SIGN: (
        "................", "................", "..333333333333..", "..300000000003..",
        "..303330333003..", "..300000000003..", "..303333033303..", "..300000000003..",
        "..322222222223..", "..333333333333..", "......3223......", "......3223......",
        "......3223......", "......3223......", ".....333333.....", "................",
    ),
}
assert set(_PEOPLE) | set(_OBJECTS) == set(Sprite)

#: Rows that replace the player's legs while swimming: a ring of ripples around the body.
_SWIM_ROWS = {12: ".00111111111100.", 13: "0011111111111100", 14: ".00111111111100.",
              15: "................"}


def _person(template: tuple[str, ...], hair: int, shirt: int, trousers: int,
            overlay: dict[int, str]) -> np.ndarray:
    rows = [overlay.get(y, row) for y, row in enumerate(template)]
    return _parse(rows, {"h": hair, "s": shirt, "p": trousers})


def _person_views(hair: int, shirt: int, trousers: int, hat: str | None) -> np.ndarray:
    """(4, 16, 16) int8 views in Direction order: up, down, left, right."""
    over = _HATS[hat] if hat else {"down": {}, "up": {}, "side": {}}
    down = _person(_BODY_DOWN, hair, shirt, trousers, over["down"])
    up = _person(_BODY_UP, hair, shirt, trousers, over["up"])
    right = _person(_BODY_SIDE, hair, shirt, trousers, over["side"])
    views = np.empty((4, META, META), np.int8)
    views[Direction.UP], views[Direction.DOWN] = up, down
    views[Direction.LEFT], views[Direction.RIGHT] = right[:, ::-1], right
    return views


@functools.cache
def sprite_atlas() -> tuple[np.ndarray, np.ndarray]:
    """Every Sprite in every facing.

    Returns:
        ``(shades, opaque)``: ``uint8`` (NUM_SPRITES, 4, 16, 16) shade indices (0 where transparent) and
        ``bool`` (NUM_SPRITES, 4, 16, 16), True where the sprite covers the background. Indexed by
        ``[Sprite, Direction]``; read-only.
    """
    raw = np.empty((NUM_SPRITES, 4, META, META), np.int8)
    for sprite, (hair, shirt, trousers, hat) in _PEOPLE.items():
        raw[sprite] = _person_views(hair, shirt, trousers, hat)
    for sprite, rows in _OBJECTS.items():
        raw[sprite] = _parse(rows)[None]
    return _split(raw)


@functools.cache
def swim_atlas() -> tuple[np.ndarray, np.ndarray]:
    """The player swimming, (4, 16, 16) shades and mask per facing (legs replaced by ripples)."""
    hair, shirt, trousers, hat = _PEOPLE[Sprite.PLAYER]
    raw = _person_views(hair, shirt, trousers, hat)
    ripples = _parse([_SWIM_ROWS[y] for y in sorted(_SWIM_ROWS)])
    raw[:, 12:16] = ripples[None]
    return _split(raw)


def _split(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    opaque = raw >= 0
    shades = np.where(opaque, raw, 0).astype(np.uint8)
    shades.setflags(write=False)
    opaque.setflags(write=False)
    return shades, opaque


# ============================================================================================== font

#: Private characters for the non-text glyphs (they never occur in game text).
CURSOR = "\x10"  # a right-pointing arrow before the chosen row
MORE = "\x11"  # a down-pointing arrow: more pages follow
HP_LABEL = "\x12"  # "HP" in one cell
BAR_LEFT = "\x13"
BAR_RIGHT = "\x14"
BAR_FILL = tuple(chr(0x15 + k) for k in range(9))  # a bar segment with k of 8 pixels filled
EMPTY_CURSOR = " "

# Text glyphs are 6 columns wide (padded to 8 with one blank column each side), 8 rows: capitals and
# digits use rows 0..6; descenders reach row 7. ``#`` is ink (shade 3), ``.`` paper (shade 0).
_FONT6: dict[str, tuple[str, ...]] = {
    " ": ("......",) * 7,
    "A": ("..##..", ".#..#.", "#....#", "#....#", "######", "#....#", "#....#"),
    "B": ("#####.", "#....#", "#....#", "#####.", "#....#", "#....#", "#####."),
    "C": (".####.", "#....#", "#.....", "#.....", "#.....", "#....#", ".####."),
    "D": ("####..", "#...#.", "#....#", "#....#", "#....#", "#...#.", "####.."),
    "E": ("######", "#.....", "#.....", "#####.", "#.....", "#.....", "######"),
    "F": ("######", "#.....", "#.....", "#####.", "#.....", "#.....", "#....."),
    "G": (".####.", "#....#", "#.....", "#..###", "#....#", "#....#", ".#####"),
    "H": ("#....#", "#....#", "#....#", "######", "#....#", "#....#", "#....#"),
    "I": ("#####.", "..#...", "..#...", "..#...", "..#...", "..#...", "#####."),
    "J": ("..####", "....#.", "....#.", "....#.", "#...#.", "#...#.", ".###.."),
    "K": ("#...#.", "#..#..", "#.#...", "##....", "#.#...", "#..#..", "#...#."),
    "L": ("#.....", "#.....", "#.....", "#.....", "#.....", "#.....", "######"),
    "M": ("#....#", "##..##", "#.##.#", "#.##.#", "#....#", "#....#", "#....#"),
    "N": ("#....#", "##...#", "#.#..#", "#..#.#", "#...##", "#....#", "#....#"),
    "O": (".####.", "#....#", "#....#", "#....#", "#....#", "#....#", ".####."),
    "P": ("#####.", "#....#", "#....#", "#####.", "#.....", "#.....", "#....."),
    "Q": (".####.", "#....#", "#....#", "#....#", "#..#.#", "#...#.", ".###.#"),
    "R": ("#####.", "#....#", "#....#", "#####.", "#..#..", "#...#.", "#....#"),
    "S": (".####.", "#....#", "#.....", ".####.", ".....#", "#....#", ".####."),
    "T": ("#####.", "..#...", "..#...", "..#...", "..#...", "..#...", "..#..."),
    "U": ("#....#", "#....#", "#....#", "#....#", "#....#", "#....#", ".####."),
    "V": ("#....#", "#....#", "#....#", "#....#", ".#..#.", ".#..#.", "..##.."),
    "W": ("#....#", "#....#", "#....#", "#.##.#", "#.##.#", "##..##", "#....#"),
    "X": ("#....#", "#....#", ".#..#.", "..##..", ".#..#.", "#....#", "#....#"),
    "Y": ("#...#.", "#...#.", ".#.#..", "..#...", "..#...", "..#...", "..#..."),
    "Z": ("######", ".....#", "....#.", "...#..", "..#...", ".#....", "######"),
    "a": ("......", "......", ".####.", ".....#", ".#####", "#....#", ".#####"),
    "b": ("#.....", "#.....", "#####.", "#....#", "#....#", "#....#", "#####."),
    "c": ("......", "......", ".####.", "#.....", "#.....", "#.....", ".####."),
    "d": (".....#", ".....#", ".#####", "#....#", "#....#", "#....#", ".#####"),
    "e": ("......", "......", ".####.", "#....#", "######", "#.....", ".####."),
    "f": ("...##.", "..#...", ".####.", "..#...", "..#...", "..#...", "..#..."),
    "g": ("......", "......", ".#####", "#....#", "#....#", ".#####", ".....#", ".####."),
    "h": ("#.....", "#.....", "#####.", "#....#", "#....#", "#....#", "#....#"),
    "i": ("..#...", "......", ".##...", "..#...", "..#...", "..#...", ".###.."),
    "j": ("....#.", "......", "...##.", "....#.", "....#.", "....#.", "#...#.", ".###.."),
    "k": ("#.....", "#.....", "#...#.", "#..#..", "###...", "#..#..", "#...#."),
    "l": (".##...", "..#...", "..#...", "..#...", "..#...", "..#...", ".###.."),
    "m": ("......", "......", "##.##.", "#.#.#.", "#.#.#.", "#.#.#.", "#.#.#."),
    "n": ("......", "......", "#####.", "#....#", "#....#", "#....#", "#....#"),
    "o": ("......", "......", ".####.", "#....#", "#....#", "#....#", ".####."),
    "p": ("......", "......", "#####.", "#....#", "#....#", "#####.", "#.....", "#....."),
    "q": ("......", "......", ".#####", "#....#", "#....#", ".#####", ".....#", ".....#"),
    "r": ("......", "......", "#.###.", "##...#", "#.....", "#.....", "#....."),
    "s": ("......", "......", ".#####", "#.....", ".####.", ".....#", "#####."),
    "t": ("..#...", "..#...", "#####.", "..#...", "..#...", "..#...", "...##."),
    "u": ("......", "......", "#....#", "#....#", "#....#", "#....#", ".#####"),
    "v": ("......", "......", "#....#", "#....#", "#....#", ".#..#.", "..##.."),
    "w": ("......", "......", "#....#", "#....#", "#.##.#", "#.##.#", ".#..#."),
    "x": ("......", "......", "#....#", ".#..#.", "..##..", ".#..#.", "#....#"),
    "y": ("......", "......", "#....#", "#....#", "#....#", ".#####", ".....#", ".####."),
    "z": ("......", "......", "######", "....#.", "..##..", ".#....", "######"),
    "0": (".####.", "#...##", "#..#.#", "#.#..#", "##...#", "#....#", ".####."),
    "1": ("..##..", ".#.#..", "...#..", "...#..", "...#..", "...#..", ".#####"),
    "2": (".####.", "#....#", ".....#", "...##.", "..#...", ".#....", "######"),
    "3": (".####.", "#....#", ".....#", "..###.", ".....#", "#....#", ".####."),
    "4": ("...##.", "..#.#.", ".#..#.", "#...#.", "######", "....#.", "....#."),
    "5": ("######", "#.....", "#####.", ".....#", ".....#", "#....#", ".####."),
    "6": ("..###.", ".#....", "#.....", "#####.", "#....#", "#....#", ".####."),
    "7": ("######", ".....#", "....#.", "...#..", "..#...", "..#...", "..#..."),
    "8": (".####.", "#....#", "#....#", ".####.", "#....#", "#....#", ".####."),
    "9": (".####.", "#....#", "#....#", ".#####", ".....#", "....#.", ".###.."),
    ".": ("......", "......", "......", "......", "......", ".##...", ".##..."),
    ",": ("......", "......", "......", "......", "......", ".##...", ".##...", ".#...."),
    "!": ("..#...", "..#...", "..#...", "..#...", "..#...", "......", "..#..."),
    "?": (".####.", "#....#", ".....#", "...##.", "..#...", "......", "..#..."),
    "'": ("..#...", "..#...", ".#....", "......", "......", "......", "......"),
    '"': (".#..#.", ".#..#.", "#..#..", "......", "......", "......", "......"),
    "-": ("......", "......", "......", ".####.", "......", "......", "......"),
    ":": ("......", "..##..", "..##..", "......", "..##..", "..##..", "......"),
    ";": ("......", "..##..", "..##..", "......", "..##..", "..##..", "..#..."),
    "/": (".....#", "....#.", "....#.", "...#..", "..#...", "..#...", ".#...."),
    "(": ("...#..", "..#...", ".#....", ".#....", ".#....", "..#...", "...#.."),
    ")": (".#....", "..#...", "...#..", "...#..", "...#..", "..#...", ".#...."),
    "$": ("..#...", ".####.", "#.#...", ".###..", "..#.#.", "####..", "..#..."),
    "%": ("##...#", "##..#.", "...#..", "..#...", ".#....", "#..##.", "...##."),
    "&": (".##...", "#..#..", "#.#...", ".#....", "#.#..#", "#..##.", ".##..#"),
    "+": ("......", "..#...", "..#...", "#####.", "..#...", "..#...", "......"),
    "*": ("......", "#.#.#.", ".###..", "#####.", ".###..", "#.#.#.", "......"),
    "=": ("......", "......", "#####.", "......", "#####.", "......", "......"),
    "<": ("....#.", "...#..", "..#...", ".#....", "..#...", "...#..", "....#."),
    ">": (".#....", "..#...", "...#..", "....#.", "...#..", "..#...", ".#...."),
    "#": (".#..#.", ".#..#.", "######", ".#..#.", "######", ".#..#.", ".#..#."),
    "_": ("......", "......", "......", "......", "......", "......", "......", "######"),
}

# Full-width (8x8) symbol glyphs; ``2`` is a mid shade (the HP bar's fill).
_FONT8: dict[str, tuple[str, ...]] = {
    CURSOR: ("#.......", "##......", "###.....", "####....", "###.....", "##......", "#.......",
             "........"),
    MORE: ("........", "#######.", ".#####..", "..###...", "...#....", "........", "........",
           "........"),
    HP_LABEL: ("........", "#.#.##..", "#.#.#.#.", "###.##..", "#.#.#...", "#.#.#...", "........",
               "........"),
    BAR_LEFT: ("........", ".......#", ".......#", ".......#", ".......#", ".......#", "........",
               "........"),
    BAR_RIGHT: ("........", "#.......", "#.......", "#.......", "#.......", "#.......", "........",
                "........"),
}
for _k, _ch in enumerate(BAR_FILL):
    _FONT8[_ch] = ("........", "########", *(("2" * _k + "." * (8 - _k)),) * 3, "########", "........",
                   "........")

#: Every character the font can draw, in glyph-index order (index 0 is the space).
FONT_CHARS: str = "".join(_FONT6) + "".join(_FONT8)
_GLYPH_INDEX: dict[str, int] = {ch: i for i, ch in enumerate(FONT_CHARS)}
_UNKNOWN = _GLYPH_INDEX["?"]


def _glyph_rows(rows: tuple[str, ...], pad: bool) -> list[str]:
    rows = tuple(rows) + ("......" if pad else "........",) * (8 - len(rows))
    rows = tuple("." + row + "." for row in rows) if pad else rows
    return [row.replace("#", "3") for row in rows]


@functools.cache
def font_atlas() -> np.ndarray:
    """The glyphs of :data:`FONT_CHARS`: ``uint8`` (len(FONT_CHARS), 8, 8) shades (0 paper, 3 ink)."""
    glyphs = np.zeros((len(FONT_CHARS), TILE8, TILE8), np.uint8)
    for ch, rows in _FONT6.items():
        glyphs[_GLYPH_INDEX[ch]] = np.maximum(_parse(_glyph_rows(rows, pad=True)), 0)
    for ch, rows in _FONT8.items():
        glyphs[_GLYPH_INDEX[ch]] = np.maximum(_parse(_glyph_rows(rows, pad=False)), 0)
    glyphs.setflags(write=False)
    return glyphs


def glyph_codes(text: str) -> list[int]:
    """Glyph indices of ``text``; a character the font lacks is drawn as ``?``."""
    return [_GLYPH_INDEX.get(ch, _UNKNOWN) for ch in text]


def hp_bar_text(hp: int, max_hp: int, segments: int = 6) -> str:
    """The glyphs of an HP bar: the HP label, a left cap, ``segments`` cells, a right cap.

    The fill is proportional to ``hp / max_hp``, at least one pixel while ``hp > 0``.

    >>> len(hp_bar_text(10, 20))
    9
    """
    pixels = segments * 8
    filled = 0 if max_hp <= 0 or hp <= 0 else max(1, min(pixels, hp * pixels // max_hp))
    cells = "".join(BAR_FILL[max(0, min(8, filled - 8 * k))] for k in range(segments))
    return HP_LABEL + BAR_LEFT + cells + BAR_RIGHT


# ============================================================================================== creatures


def _hash(*values: int) -> int:
    """A 64-bit mix of integers (splitmix64 steps): stable across platforms and numpy versions."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h


# Types drawn on a darker body (the rest use the light-mid shade); the belly is one shade lighter.
_DARK_TYPES = frozenset({Type.FIRE, Type.POISON, Type.GROUND, Type.MIND, Type.STONE, Type.FIGHTING})


@functools.cache
def creature_sprite(species: int, types: tuple[int, int] = (0, 0), back: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A 48x48 battle sprite for ``species``: a symmetric creature seeded by its index and types.

    The body, head, ears, limbs and markings are drawn on a 24x24 half-resolution grid from hashes of the
    species index (so every species looks different, and the same on every machine), mirrored, doubled and
    outlined. The front view has eyes and a lighter belly; the back view (the player's side) shows the
    same silhouette from behind.

    Returns:
        ``(shades, opaque)``: ``uint8`` (48, 48) and ``bool`` (48, 48), read-only.
    """
    def pick(slot: int, n: int) -> int:
        return _hash(species, slot) % n

    g = CREATURE // 2
    yy, xx = np.mgrid[0:g, 0:g].astype(np.float64) + 0.5
    cx = g / 2
    body_cy = 15.0 + pick(1, 3)
    rx, ry = 5.0 + pick(2, 4), 4.0 + pick(3, 4)
    head_r = 4.0 + pick(4, 3)
    head_cy = max(head_r + 3.0, body_cy - ry - head_r + 4.0 + pick(5, 2))
    body = ((xx - cx) / rx) ** 2 + ((yy - body_cy) / ry) ** 2 <= 1.0
    head = (xx - cx) ** 2 + (yy - head_cy) ** 2 <= head_r ** 2
    shape = body | head
    # ears / horns / antennae on top of the head
    ear = pick(6, 4)
    top = head_cy - head_r
    if ear == 0:  # pointed ears
        for k in range(4):
            shape |= (np.abs(xx - (cx - head_r + 1.5)) <= (3 - k) * 0.6) & (np.abs(yy - (top + 1 - k)) < 0.5)
    elif ear == 1:  # round ears
        shape |= (xx - (cx - head_r + 0.5)) ** 2 + (yy - (top + 1)) ** 2 <= 4.0
    elif ear == 2:  # one horn
        for k in range(4):
            shape |= (np.abs(xx - cx) <= (3 - k) * 0.5) & (np.abs(yy - (top - k + 0.5)) < 0.5)
    else:  # antennae
        shape |= (np.abs(xx - (cx - 2.5)) < 0.5) & (yy > top - 3) & (yy < top + 1)  # one cell wide
        shape |= (xx - (cx - 2.5)) ** 2 + (yy - (top - 3)) ** 2 <= 1.5
    # arms, wings or fins at the sides, chosen by type first
    main_type = types[0]
    side = 2 if main_type == Type.AIR else 3 if main_type == Type.WATER else pick(7, 2)
    if side == 0:  # stubby arms
        shape |= ((xx - (cx - rx - 0.5)) / 2.0) ** 2 + ((yy - body_cy) / 1.5) ** 2 <= 1.0
    elif side == 1:  # a tail to one side (mirrored: two tails)
        shape |= (np.abs(yy - (body_cy + ry * 0.3 - (cx - rx - xx) * 0.8)) < 1.0) & (xx < cx - rx + 1) \
            & (xx > cx - rx - 4)
    elif side == 2:  # wings, raised
        shape |= ((xx - (cx - rx - 2)) / 3.0) ** 2 + ((yy - (body_cy - 3)) / 2.0) ** 2 <= 1.0
    else:  # fins
        shape |= (xx < cx - rx + 1) & (xx > cx - rx - 3) & (yy > body_cy - 1) \
            & (yy - body_cy < (xx - (cx - rx - 3)))
    # feet
    for fx in (cx - rx * 0.55, cx + rx * 0.55):
        shape |= (np.abs(xx - fx) < 1.5) & (yy > body_cy + ry - 1.5) & (yy < body_cy + ry + 1.5)
    shape |= shape[:, ::-1]  # symmetric about the vertical axis
    shape[g - 1, :] = False  # keep the bottom row free for the outline

    fill = 2 if main_type in _DARK_TYPES else 1
    shades = np.where(shape, fill, 0).astype(np.uint8)
    markings = pick(8, 3)
    if back:
        # the back: darker stripes across the back of the head and body
        shades[shape & (np.floor(yy).astype(int) % 4 == 0) & (yy > head_cy)] = min(3, fill + 1)
    else:
        belly = ((xx - cx) / (rx * 0.55)) ** 2 + ((yy - (body_cy + 1)) / (ry * 0.6)) ** 2 <= 1.0
        shades[shape & belly] = fill - 1
        if markings == 1:  # spots on the flanks
            spots = ((xx - (cx - rx * 0.7)) ** 2 + (yy - (body_cy - 1)) ** 2 <= 1.0)
            spots |= spots[:, ::-1]
            shades[shape & spots] = min(3, fill + 1)
        elif markings == 2:  # a crest on the forehead
            shades[shape & (np.abs(xx - cx) < 1) & (yy > top) & (yy < top + 2)] = min(3, fill + 1)
    full_shades = np.repeat(np.repeat(shades, 2, 0), 2, 1)
    full_shape = np.repeat(np.repeat(shape, 2, 0), 2, 1)
    if not back:  # eyes: dark 4x4 with a light glint, on the head's middle row
        eye_y = int(2 * head_cy) - 1
        for ex in (int(2 * (cx - head_r * 0.45)) - 2, int(2 * (cx + head_r * 0.45)) - 2):
            full_shades[eye_y:eye_y + 4, ex:ex + 4] = 3
            full_shades[eye_y, ex + 1] = 0
    # a one-pixel dark outline around the silhouette
    grown = full_shape.copy()
    grown[1:] |= full_shape[:-1]
    grown[:-1] |= full_shape[1:]
    grown[:, 1:] |= full_shape[:, :-1]
    grown[:, :-1] |= full_shape[:, 1:]
    full_shades[grown & ~full_shape] = 3
    full_shades[~grown] = 0
    full_shades.setflags(write=False)
    grown.setflags(write=False)
    return full_shades, grown


__all__ = [
    "BAR_FILL", "BAR_LEFT", "BAR_RIGHT", "CREATURE", "CURSOR", "DEFAULT_PALETTE", "EMPTY_CURSOR",
    "FONT_CHARS", "HP_LABEL", "META", "METATILES", "MORE", "PALETTES", "TILE8", "creature_sprite",
    "font_atlas", "glyph_codes", "hp_bar_text", "metatile_atlas", "palette_array", "sprite_atlas",
    "swim_atlas", "tile8_atlas",
]
