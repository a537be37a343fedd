"""The screens drawn over the overworld (battles, menus, text boxes) for N envs, as grids of 8x4 pieces.

Every screen :func:`longplay.envs.quest.render.render_frame` draws is built from aligned parts: text starts at
x multiples of 8 and y multiples of 4 (a glyph is 8x8: a top and a bottom piece), boxes start and end on that
grid, the battle creatures stand at (104, 0) and (8, 48) and the panels' underlines are rows 33 and 89. So a
frame is a [36, 20] grid of pieces of 8x4 pixels (:class:`PieceAtlas`), gathered two side by side: [36, 10]
rows of a :class:`PairAtlas`, 48 bytes of pixels each. A screen is two layers over the overworld, the upper
drawn where it is opaque:

* the box layer: the bottom text box, or the battle phase's boxes (choices, moves and the type box, bag);
* the screen layer: a menu (the START box over the overworld, or a whole-screen menu), the battle scene
  (the panels, the underlines, both creatures) or the battle's party screen.

Each layer's boxes and fixed text (hints, options, the cursor of START and of the battle's choices) are a
*template*, drawn on the host by the reference's own functions; every pair of templates is one table row of
pairs (:class:`_Layout`): a fixed pair, an overworld cell's, a creature's, or a pair text may be drawn on,
given as the *classes* of its two pieces (the template's pieces there: paper, a box's edge, ...). The text of
the state, in :data:`FIELDS` (names, levels, HP bars and numbers, lists, a text box page, the MORE arrow),
comes from tables of glyph codes gathered by what the state holds; its glyph halves are written over the
classes, and a pair of classes is a row of a table of every class beside every class. Text box pages are
tables too: every page a world or a template can show, wrapped on the host by the reference
(:func:`longplay.envs.quest.render._text_lines`); a number in a page is a run of digit markers placed by
wrapping a stand-in of the same length (wrapping depends on lengths only), filled with the number's digits
on the device.

Everything is fixed shapes and branch-free over the envs (no host synchronisation), so a step that draws
pixels stays one graph for ``torch.compile`` and CUDA graphs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from longplay.envs.quest import art
from longplay.envs.quest import render as ref
from longplay.envs.quest.batched.common import BKIND, MENU, PHASE, Ctx, dialog_length, gather_mon, put, take
from longplay.envs.quest.batched.state import HP, LEVEL, MAX_HP, MOVES, PP, SPECIES, BatchedState
from longplay.envs.quest.batched.tables import WorldTables, unpack_page
from longplay.envs.quest.battle import BATTLE_ITEMS, BATTLE_MESSAGES, MESSAGE_ARGS, Arg, BattleMsg
from longplay.envs.quest.battle import battle_message_text as _battle_text
from longplay.envs.quest.cache import IdentityCache
from longplay.envs.quest.constants import (
    ABILITY_NAMES,
    ITEM_NAMES,
    ITEM_PRICE,
    MAX_LEVEL,
    NUM_ITEMS,
    PARTY_SIZE,
    TEXT_COLS,
    TILE_PX,
    TYPE_NAMES,
    VIEW_H,
    VIEW_W,
)
from longplay.envs.quest.content import MOVES as MOVE_DEFS
from longplay.envs.quest.content import SPECIES as SPECIES_DEFS
from longplay.envs.quest.dialog import MESSAGES, Msg, message_text
from longplay.envs.quest.state import World

PIECE_W, PIECE_H = 8, 4
COLS, ROWS = VIEW_W * TILE_PX // PIECE_W, VIEW_H * TILE_PX // PIECE_H  # 20 x 36
_CLEAR = 255  # a template pixel nothing is drawn on (the layer below shows)
_BOX_ROW = ref.TEXT_BOX_Y // PIECE_H  # 24: the bottom text box's first piece row
_PAGE_LINES = 4  # a text box shows up to four lines
_DIGITS = 10  # numbers in pages have up to this many digits
_MARK = 200  # a page's code _MARK + k while building (-1 - k on the device): digit k of its number
_BAR_PIXELS = 48  # art.hp_bar_text's six segments


def _codes(text: str, width: int) -> list[int]:
    """Glyph codes + 1 of ``text``, padded with 0 (nothing drawn) to ``width``."""
    codes = [g + 1 for g in art.glyph_codes(text)]
    if len(codes) > width:
        raise ValueError(f"{text!r} is longer than {width}")
    return codes + [0] * (width - len(codes))


# ============================================================================================ the atlas


class PieceAtlas:
    """Distinct 4x8 pieces of shade indices; :meth:`add` returns a piece's row (the same piece, the same row)."""

    def __init__(self) -> None:
        self.pieces: list[np.ndarray] = []
        self._ids: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.pieces)

    def extend(self, pieces: np.ndarray, share: bool = False) -> int:
        """Appends ``pieces`` [k, 4, 8] in order (``share``: later equal pieces get their rows); returns the
        first row."""
        first = len(self.pieces)
        for k, piece in enumerate(np.asarray(pieces, np.uint8)):
            if share:
                self._ids.setdefault(piece.tobytes(), first + k)
            self.pieces.append(piece)
        return first

    def add(self, piece: np.ndarray) -> int:
        key = np.ascontiguousarray(piece, np.uint8).tobytes()
        if key not in self._ids:
            self._ids[key] = len(self.pieces)
            self.pieces.append(np.asarray(piece, np.uint8).reshape(PIECE_H, PIECE_W))
        return self._ids[key]

    def cut(self, image: np.ndarray) -> np.ndarray:
        """``int32`` [rows, cols] piece rows of a shade image (-1 where it is all :data:`_CLEAR`)."""
        rows, cols = image.shape[0] // PIECE_H, image.shape[1] // PIECE_W
        out = np.full((rows, cols), -1, np.int32)
        for r in range(rows):
            for c in range(cols):
                piece = image[r * PIECE_H:(r + 1) * PIECE_H, c * PIECE_W:(c + 1) * PIECE_W]
                clear = piece == _CLEAR
                if clear.all():
                    continue
                if clear.any():
                    raise ValueError(f"piece ({r}, {c}) is partly drawn: a screen part is off the piece grid")
                out[r, c] = self.add(piece)
        return out


class PairAtlas:
    """Distinct 4x16 images: two pieces side by side, what one gathered pixel row of a frame copies."""

    def __init__(self, images: np.ndarray) -> None:
        self.images: list[np.ndarray] = list(np.asarray(images, np.uint8))
        self._ids: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.images)

    def add(self, left: np.ndarray, right: np.ndarray) -> int:
        image = np.concatenate([left, right], 1).astype(np.uint8)
        key = image.tobytes()
        if key not in self._ids:
            self._ids[key] = len(self.images)
            self.images.append(image)
        return self._ids[key]

    def extend(self, images: np.ndarray) -> int:
        """Appends ``images`` [k, 4, 16] in order; returns the first row."""
        first = len(self.images)
        self.images.extend(np.asarray(images, np.uint8))
        return first


def cell_quarters(cells: np.ndarray) -> np.ndarray:
    """[C, 16, 16] cells -> [C * 4, 4, 16]: cell ``c``'s rows ``4 r`` to ``4 r + 3`` at row ``4 c + r``."""
    return cells.reshape(-1, PIECE_H, TILE_PX)


def cut_cells(cells: np.ndarray) -> np.ndarray:
    """[C, 16, 16] cells -> [C * 8, 4, 8] pieces, cell ``c``'s piece (r, k) at row ``8 c + 2 r + k``."""
    c = cells.shape[0]
    return cells.reshape(c, TILE_PX // PIECE_H, PIECE_H, TILE_PX // PIECE_W, PIECE_W).swapaxes(2, 3).reshape(
        -1, PIECE_H, PIECE_W)


# ============================================================================================ templates


def _canvas() -> ref._Canvas:
    return ref._shade_canvas(np.full((ref.HEIGHT, ref.WIDTH), _CLEAR, np.uint8))


def _party_box(hint: str) -> ref._Canvas:
    canvas = _canvas()
    canvas.box(0, 0, ref.WIDTH, 112)
    ref._hint(canvas, hint)
    return canvas


def _scene(foe: bool, me: bool) -> ref._Canvas:
    canvas = _canvas()
    canvas.fill(0)
    if foe:
        canvas.hline(33, 8, 88, 3)
    if me:
        canvas.hline(89, 80, ref.WIDTH, 3)
    return canvas


def _bottom(image: np.ndarray) -> ref._Canvas:
    canvas = _canvas()
    canvas.paste(0, ref.TEXT_BOX_Y, image)
    return canvas


def _fight(type_box: bool) -> ref._Canvas:
    canvas = _bottom(ref._box(ref.WIDTH, 48))
    if type_box:
        canvas.box(0, 48, 80, 48)
    return canvas


def _start(cursor: int) -> ref._Canvas:
    canvas = _canvas()
    canvas.paste(ref.START_MENU_X, 0, ref._start_menu(cursor))
    return canvas


def _shop() -> ref._Canvas:
    canvas = _canvas()
    canvas.box(88, 0, 72, 32)
    canvas.box(0, 0, 88, 32)
    canvas.box(0, 32, ref.WIDTH, ref.HEIGHT - 32)
    return canvas


def _full_box() -> ref._Canvas:
    canvas = _canvas()
    canvas.box(0, 0, ref.WIDTH, ref.HEIGHT)
    return canvas


_START_ROWS = 3  # START_MENU_OPTIONS: cursor 3 stands for "no row chosen"
_MAIN_ROWS = 4  # BATTLE_MAIN_OPTIONS
_HINT_ITEMS = NUM_ITEMS + 1  # the BAG_TARGET hint of each item, and "Use on?"

#: The templates of the screen layer (menus, the battle scene) and of the box layer (bottom boxes, battle
#: phases), in table order: name -> how many, and the drawing of each.
SCREEN_TEMPLATES = {
    "none": (1, lambda k: _canvas()),
    "start": (_START_ROWS + 1, _start),
    "party": (1, lambda k: _party_box("Choose who leads.")),
    "bag_target": (_HINT_ITEMS, lambda k: _party_box(
        f"Use {ITEM_NAMES[k]} on?" if k < NUM_ITEMS else "Use on?")),
    "bag": (1, lambda k: _full_box()),
    "shop": (1, lambda k: _shop()),
    "scene": (4, lambda k: _scene(bool(k & 2), bool(k & 1))),
    "battle_party": (1, lambda k: _party_box("Switch to whom?")),  # they cover the scene
    "battle_forced": (1, lambda k: _party_box("Who will fight next?")),
}
BOX_TEMPLATES = {
    "none": (1, lambda k: _canvas()),
    "text": (1, lambda k: _bottom(ref._box(ref.WIDTH, 48))),
    "main": (_MAIN_ROWS + 1, lambda k: _bottom(ref._battle_choices(k))),
    "fight": (2, lambda k: _fight(bool(k))),
    "bag": (1, lambda k: _bottom(ref._box(ref.WIDTH, 48))),
}


def _templates(atlas: PieceAtlas, spec: dict) -> tuple[np.ndarray, dict[str, int]]:
    grids, first = [], {}
    for name, (count, draw) in spec.items():
        first[name] = len(grids)
        grids += [atlas.cut(draw(k).img) for k in range(count)]
    return np.stack(grids).reshape(len(grids), ROWS * COLS), first


# ============================================================================================ text pages


_NONE, _SPECIES, _MOVE, _ITEM, _NUMBER, _TRAINER, _TEXT, _BADGE, _ABILITY = range(9)
_BATTLE_ARG = {Arg.NONE: _NONE, Arg.SPECIES: _SPECIES, Arg.MOVE: _MOVE, Arg.ITEM: _ITEM, Arg.NUMBER: _NUMBER,
               Arg.TRAINER: _TRAINER, Arg.TEXT: _TEXT}
_WORLD_ARGS = (_TRAINER, _TEXT, _BADGE)  # domains that differ between worlds


def _dialog_args(msg: int) -> tuple[int, int]:
    """The argument kinds of a dialog template (see :class:`longplay.envs.quest.dialog.Msg`)."""
    if msg == Msg.TEXT:
        return _TEXT, _NONE
    if msg == Msg.USED_ITEM:  # arg1 is the species here
        return _ITEM, _SPECIES
    template = MESSAGES[msg]
    first = [kind for mark, kind in (("{s}", _SPECIES), ("{i}", _ITEM), ("{n}", _NUMBER), ("{b}", _BADGE),
                                     ("{a}", _ABILITY)) if mark in template]
    if len(first) > 1:
        raise ValueError(f"dialog template {msg} has two first arguments")
    return (first[0] if first else _NONE), (_NUMBER if "{m}" in template else _NONE)


#: Page families: the dialog templates, then the battle messages; each with its argument kinds.
FAMILIES: tuple[tuple[str, int, tuple[int, int]], ...] = (
    *(("dialog", int(m), _dialog_args(m)) for m in Msg),
    *(("battle", int(m), tuple(_BATTLE_ARG[a] for a in MESSAGE_ARGS[m])) for m in BattleMsg),  # type: ignore[misc]
)
_BATTLE_FAMILY = len(Msg)
assert len(BATTLE_MESSAGES) == len(BattleMsg)


def _domain(kind: int, world: World | None) -> int:
    """How many values an argument of ``kind`` takes (for a number: how many digit counts)."""
    fixed = {_NONE: 1, _SPECIES: len(SPECIES_DEFS), _MOVE: len(MOVE_DEFS), _ITEM: NUM_ITEMS, _NUMBER: _DIGITS,
             _ABILITY: len(ABILITY_NAMES)}
    if kind in fixed:
        return fixed[kind]
    return len({_TRAINER: world.trainers, _TEXT: world.texts, _BADGE: world.badge_names}[kind])


def _stand_in(kind: int, index: int) -> int | str:
    """The argument a page is written with: the index, or for a number digit markers of its length."""
    return "".join(chr(0xE000 + k) for k in range(index + 1)) if kind == _NUMBER else index


def _page_codes(text: str) -> list[int]:
    """The lines of a text box page as :data:`_PAGE_LINES` x TEXT_COLS codes (digit markers kept), then the
    line count."""
    lines = ref._text_lines(text)
    out = []
    for k in range(_PAGE_LINES):
        line = lines[k] if k < len(lines) else ""
        codes = [_MARK + ord(ch) - 0xE000 if ord(ch) >= 0xE000 else art.glyph_codes(ch)[0] + 1 for ch in line]
        out += codes + [0] * (TEXT_COLS - len(codes))
    return out + [len(lines)]


def _family_pages(world: World, family: int) -> list[list[int]]:
    source, msg, (kind0, kind1) = FAMILIES[family]
    pages = []
    for a in range(_domain(kind0, world)):
        for b in range(_domain(kind1, world)):
            a0, a1 = _stand_in(kind0, a), _stand_in(kind1, b)
            if source == "dialog":
                text = message_text(world, (msg, a0, a1))  # type: ignore[arg-type]
            else:
                text = _battle_text(world, None, (msg, a0, a1))  # type: ignore[arg-type]
            pages.append(_page_codes(text))
    return pages


_WORLD_PAGES: IdentityCache[tuple[list[list[int]], list[int]]] = IdentityCache(64)


@functools.cache
def _shared_pages() -> tuple[list[list[int]], list[int]]:
    """The pages that read the same in every world: (pages, first page of each family, -1 if per world), built
    once per process (callers do not change them)."""
    pages = [_page_codes("")]  # page 0: an empty box
    first = []
    for family, (_, _, kinds) in enumerate(FAMILIES):
        if any(k in _WORLD_ARGS for k in kinds):
            first.append(-1)
        else:
            first.append(len(pages))
            pages += _family_pages(None, family)
    return pages, first


def _world_pages(world: World) -> tuple[list[list[int]], list[int]]:
    """A world's own pages: (pages, first page of each family within them, -1 if shared)."""

    def build() -> tuple[list[list[int]], list[int]]:
        pages: list[list[int]] = []
        first = []
        for family, (_, _, kinds) in enumerate(FAMILIES):
            if any(k in _WORLD_ARGS for k in kinds):
                first.append(len(pages))
                pages += _family_pages(world, family)
            else:
                first.append(-1)
        return pages, first

    return _WORLD_PAGES.get(world, build)


# ============================================================================================ the layout


_TEAM_ORBS = 6  # the trainer's orbs: one per enemy creature, the first six

#: The text fields of the screens, in the order :meth:`ScreenDrawer.pairs` fills them: name -> (piece row,
#: column, rows, row step, width, layer). A field of several rows is one per list row; ``layer`` 1 is the
#: screen layer (menus, the scene), whose text the box layer's boxes hide, 2 the box layer.
FIELDS: dict[str, tuple[int, int, int, int, int, int]] = {
    "foe_name": (2, 1, 1, 0, 10, 1),  # (8, 8)
    "foe_level": (4, 5, 1, 0, 5, 1),  # (40, 16)
    "foe_bar": (6, 1, 1, 0, 9, 1),  # (8, 24)
    "orbs": (9, 1, 1, 0, _TEAM_ORBS, 1),  # (8, 36)
    "me_name": (14, 10, 1, 0, 10, 1),  # (80, 56)
    "me_level": (16, 15, 1, 0, 5, 1),  # (120, 64)
    "me_bar": (18, 10, 1, 0, 9, 1),  # (80, 72)
    "me_numbers": (20, 13, 1, 0, 7, 1),  # (104, 80)
    "menu_rows": (3, 1, 8, 4, 19, 1),  # the bag's (8, 12 + 16 k), the shop's (8, 44 + 16 k) from k = 2
    "shop_money": (3, 12, 1, 0, 8, 1),  # (96, 12)
    "shop_held": (3, 1, 1, 0, 10, 1),  # (8, 12)
    "party_names": (2, 1, 6, 4, 11, 1),  # (8, 8 + 16 k)
    "party_levels": (2, 13, 6, 4, 5, 1),  # (104, 8 + 16 k)
    "party_bars": (4, 2, 6, 4, 9, 1),  # (16, 16 + 16 k)
    "party_numbers": (4, 12, 6, 4, 7, 1),  # (96, 16 + 16 k)
    "no_partners": (2, 2, 1, 0, 16, 1),  # (16, 8)
    "party_closing": (2, 1, 6, 4, 1, 1),  # (8, 8 + 16 cursor)
    "page_two": (_BOX_ROW + 3, 1, 2, 4, TEXT_COLS, 2),  # (8, 108 + 16 k)
    "bottom_rows": (_BOX_ROW + 2, 1, 4, 2, TEXT_COLS, 2),  # a longer page's lines, the moves, the battle bag:
    # (8, 104 + 8 k)
    "more": (_BOX_ROW + 9, 18, 1, 0, 1, 2),  # (144, 132)
    "move_type": (15, 1, 1, 0, 8, 2),  # (8, 60)
    "move_pp": (19, 1, 1, 0, 8, 2),  # (8, 76)
}

_MENU_FIELDS = frozenset(name for name in FIELDS if name.startswith(("menu_", "shop_", "party_", "no_")))
_FOE_AT, _ME_AT = (0, 13), (12, 1)  # the creatures' first piece (row, column): (104, 0) and (8, 48)
_CREATURE_PAIRS = 12 * 4  # a creature's 48 px and the lightest 8 px beside it: 12 rows of 4 pairs
#: What a pair of pieces (columns 2 k, 2 k + 1) of a template shows.
_FIXED, _WORLD, _WORLD_LEFT, _CREATURE, _GLYPHS = range(5)
#: Where a pair's row comes from (a column of :meth:`ScreenDrawer.pairs`'s sources): nothing (a fixed pair or
#: classes side by side), an overworld cell's first pair, a creature's pair.
_SRC_CELLS = 1
_SRC_CREATURES = _SRC_CELLS + VIEW_H * VIEW_W


class _Layout:
    """The pair-level templates of every screen template under every box template (host side).

    Each pair's atlas row is column ``source`` of an env's sources (0, then each overworld cell's first
    pair, then each creature pair) plus ``add``, plus ``left * len(classes) + right`` of its two pieces'
    classes: a fixed pair (source 0, add its row), an overworld cell's pair (add: the row in the cell), a
    cell's left half beside a fixed piece (the START menu's left edge; add: the first row of that piece's
    block of every cell, plus the row), a creature's pair, or a pair text may be drawn on (add:
    ``dense_base``, the first of every class beside every class). ``source`` and ``add`` are
    [screens * boxes, 360]; ``classes_table`` [screens * boxes, 720 + 1] holds the classes of the pieces of
    the pairs text may be drawn on (the template's pieces there, glyph halves drawn over them on the device;
    glyph half ``k`` is class ``k``), 0 elsewhere.
    """

    def __init__(self, pieces: PieceAtlas, pairs: PairAtlas, num_cells: int, glyph_base: int, glyph_halves: int,
                 screens: np.ndarray, boxes: np.ndarray, scenes: dict[int, tuple[bool, bool]],
                 text_cells: np.ndarray) -> None:
        self.classes = [glyph_base + k for k in range(glyph_halves)]  # glyph halves first: class = half index
        class_of = {piece: k for k, piece in enumerate(self.classes)}
        blocks: dict[int, int] = {}
        r, c = np.divmod(np.arange(ROWS * COLS), COLS)
        foe = (r < _FOE_AT[0] + 12) & (c >= _FOE_AT[1]) & (c < _FOE_AT[1] + 6)
        me = (r >= _ME_AT[0]) & (r < _ME_AT[0] + 12) & (c >= _ME_AT[1]) & (c < _ME_AT[1] + 6)
        texty = np.zeros(ROWS * COLS, bool)
        texty[text_cells] = True
        texty = (texty[0::2] | texty[1::2]).reshape(-1)  # per pair
        raw = np.zeros((screens.shape[0], boxes.shape[0], ROWS * COLS // 2, 3), np.int64)  # kind, left, right
        for a, lower in enumerate(screens):
            has_foe, has_me = scenes.get(a, (False, False))
            for b, upper in enumerate(boxes):
                piece = np.where(upper >= 0, upper, lower)  # -1: the overworld
                creature = np.where((upper < 0) & foe & has_foe, 1, np.where((upper < 0) & me & has_me, 2, 0))
                left, right = piece[0::2], piece[1::2]
                for k in range(ROWS * COLS // 2):
                    row, pc = divmod(k, COLS // 2)
                    cl, cr = creature[2 * k], creature[2 * k + 1]
                    if cl or cr:  # the creature, and the lightest shade beside it
                        first = _FOE_AT if (cl or cr) == 1 else _ME_AT
                        side = 0 if (cl or cr) == 1 else _CREATURE_PAIRS
                        beside = [p for p, inside in ((left[k], cl), (right[k], cr)) if not inside]
                        if any(pieces.pieces[p].any() for p in beside):
                            raise ValueError("a creature stands beside something drawn")
                        raw[a, b, k] = (_CREATURE, side + (row - first[0]) * 4 + pc - first[1] // 2, 0)
                    elif left[k] < 0 and right[k] < 0:
                        raw[a, b, k] = (_WORLD, 0, 0)
                    elif left[k] < 0:
                        if right[k] not in blocks:
                            blocks[right[k]] = -1
                        raw[a, b, k] = (_WORLD_LEFT, right[k], 0)
                    elif right[k] < 0:
                        raise ValueError("a template draws the left half of a pair over the overworld")
                    elif texty[k]:
                        for p in (left[k], right[k]):
                            if p not in class_of:
                                class_of[p] = len(self.classes)
                                self.classes.append(p)
                        raw[a, b, k] = (_GLYPHS, class_of[left[k]], class_of[right[k]])
                    else:
                        raw[a, b, k] = (_FIXED, pairs.add(pieces.pieces[left[k]], pieces.pieces[right[k]]), 0)
        # the blocks: a fixed piece beside the left half of every cell
        world_left = np.asarray(pieces.pieces[:num_cells * 8]).reshape(num_cells, 4, 2, PIECE_H, PIECE_W)[:, :, 0]
        for p in blocks:
            right = np.broadcast_to(pieces.pieces[p], world_left.shape)
            blocks[p] = pairs.extend(np.concatenate([world_left, right], -1).reshape(-1, PIECE_H, 2 * PIECE_W))
        # every class beside every class
        images = np.stack([pieces.pieces[p] for p in self.classes])
        d = len(self.classes)
        self.dense_base = pairs.extend(np.concatenate([np.broadcast_to(images[:, None], (d, d, PIECE_H, PIECE_W)),
                                                       np.broadcast_to(images[None, :], (d, d, PIECE_H, PIECE_W))],
                                                      -1).reshape(-1, PIECE_H, 2 * PIECE_W))
        kind, left, right = raw[..., 0], raw[..., 1], raw[..., 2]
        world_cell = _SRC_CELLS + (np.arange(ROWS * COLS // 2) // (COLS // 2) // 4) * VIEW_W \
            + np.arange(ROWS * COLS // 2) % (COLS // 2)
        world_row = np.arange(ROWS * COLS // 2) // (COLS // 2) % 4
        block = np.vectorize(lambda p: blocks.get(p, 0))(left)
        self.source = np.select([kind == _WORLD, kind == _WORLD_LEFT, kind == _CREATURE],
                                [world_cell, world_cell, _SRC_CREATURES + left], 0).reshape(-1, ROWS * COLS // 2)
        self.add = np.select([kind == _WORLD, kind == _WORLD_LEFT, kind == _FIXED, kind == _GLYPHS],
                             [world_row, block + world_row, left, self.dense_base], 0).reshape(-1, ROWS * COLS // 2)
        if self.add.max() >= 2 ** 31:
            raise ValueError("too many pairs for int32 rows")
        # the classes under the text, per piece (glyph halves are drawn over them)
        classes = np.zeros(raw.shape[:3] + (2,), np.int64)
        classes[..., 0] = np.where(kind == _GLYPHS, left, 0)
        classes[..., 1] = np.where(kind == _GLYPHS, right, 0)
        classes = classes.reshape(-1, ROWS * COLS)
        self.classes_table = np.concatenate([classes, np.zeros((classes.shape[0], 1), np.int64)], 1).astype(np.int32)


# ============================================================================================ the drawer


@dataclass
class _Shown:
    """What each env's frame shows, read once per frame (tensors over the envs)."""

    battle: torch.Tensor  # a battle is on (its screens hide everything else)
    talking: torch.Tensor  # a text box is open outside a battle
    message: torch.Tensor  # a battle message is up
    menu: torch.Tensor  # the open menu (none in a battle)
    party_battle: torch.Tensor  # the battle's PARTY or FORCED_SWITCH screen (it hides the scene)
    foe: torch.Tensor  # [N, MON_WIDTH] the enemy's active creature
    me: torch.Tensor  # the player's
    has_foe: torch.Tensor  # the scene shows the enemy's creature and panel
    has_me: torch.Tensor
    moves: torch.Tensor  # [N, 4] the player's creature's moves (-1 none)
    slot: torch.Tensor  # [N, 1] the battle cursor as a move slot
    move: torch.Tensor  # the move under it
    type_box: torch.Tensor  # FIGHT shows its type and PP
    screen: torch.Tensor  # int64: the screen layer's template
    box: torch.Tensor  # int64: the box layer's template


_Field = Callable[[torch.Tensor, torch.Tensor], None]  # a field's codes, drawn where the mask holds


class ScreenDrawer:
    """The device tables of the screens of a pool of worlds, and :meth:`pairs`, the rows of each env's frame."""

    def __init__(self, pieces: PieceAtlas, pairs: PairAtlas, num_cells: int, tables: WorldTables,
                 device: torch.device) -> None:
        i32 = dict(dtype=torch.int32, device=device)
        self.device = device
        glyphs = art.font_atlas()  # [G, 8, 8]: glyph g's top half is piece glyph_base + 2 g, its bottom the next
        self.glyph_base = pieces.extend(glyphs.reshape(-1, PIECE_H, PIECE_W), share=True)
        screens, self.screen_first = _templates(pieces, SCREEN_TEMPLATES)
        boxes, self.box_first = _templates(pieces, BOX_TEMPLATES)
        self.num_boxes = boxes.shape[0]
        # the text fields' cells; the text box hides the screen layer's (a menu's) from piece row 24 on, and
        # no box hides any other (checked here): a field's rows there are masked when a text box is open
        places, low_tops, low_bottoms = [], [], []
        text_box = np.arange(boxes.shape[0]) == self.box_first["text"]
        self.low_rows: dict[str, torch.Tensor] = {}
        for name, (row, col, rows, step, width, layer) in FIELDS.items():
            at = np.array([(row + step * k) * COLS + col + j for k in range(rows) for j in range(width)])
            places.append(at)
            for cells, low in ((at, low_tops), (at + COLS, low_bottoms)):
                low.append((layer == 1) & (cells >= _BOX_ROW * COLS))
                over = [self.box_first["none"], self.box_first["text"]] if name in _MENU_FIELDS else slice(None)
                if layer == 1 and not np.array_equal(boxes[over][:, cells] >= 0, text_box[over][:, None] & low[-1]):
                    raise ValueError(f"a box hides field {name} elsewhere than the text box from row {_BOX_ROW}")
            if low_tops[-1].any():
                self.low_rows[name] = torch.tensor([row + step * k >= _BOX_ROW for k in range(rows)], device=device)
        at = np.concatenate(places)
        self.places = torch.as_tensor(at, dtype=torch.int64, device=device)
        self.low_bottoms = torch.as_tensor(np.concatenate(low_bottoms), device=device)  # [W]
        scenes = {self.screen_first["scene"] + k: (bool(k & 2), bool(k & 1)) for k in range(4)}
        layout = _Layout(pieces, pairs, num_cells, self.glyph_base, 2 * glyphs.shape[0], screens, boxes, scenes,
                         np.concatenate([at, at + COLS]))
        self.sources = torch.as_tensor(layout.source, dtype=torch.int64, device=device)
        self.adds = torch.as_tensor(layout.add, dtype=torch.int32, device=device)
        self.classes_table = torch.as_tensor(layout.classes_table, device=device)
        self.classes, self.dense_base = len(layout.classes), layout.dense_base
        # battle creatures with the lightest 8 px beside them: [species * 2 + back, 12 * 4] pairs
        creatures = []
        for sp in range(len(SPECIES_DEFS)):
            for back in (False, True):
                shades, opaque = art.creature_sprite(sp, SPECIES_DEFS[sp].types, back)
                image = np.zeros((art.CREATURE, art.CREATURE + 2 * PIECE_W), np.uint8)
                image[:, PIECE_W:-PIECE_W] = np.where(opaque, shades, 0)
                creatures.append([pairs.add(image[y:y + PIECE_H, x:x + PIECE_W],
                                            image[y:y + PIECE_H, x + PIECE_W:x + 2 * PIECE_W])
                                  for y in range(0, art.CREATURE, PIECE_H) for x in range(0, image.shape[1], 16)])
        self.creatures = torch.as_tensor(np.array(creatures), **i32)
        # names and numbers as glyph codes + 1
        self.species_names = torch.tensor([_codes(s.name[:10], 10) for s in SPECIES_DEFS], **i32)
        self.levels = torch.tensor([_codes(f"Lv{n}", 5) for n in range(MAX_LEVEL + 1)], **i32)
        self.bars = torch.tensor([_codes(art.hp_bar_text(f, _BAR_PIXELS), 9) for f in range(_BAR_PIXELS + 1)],
                                 **i32)  # row f: a bar with f pixels filled
        self.right3 = torch.tensor([_codes(f"{v:>3}", 3) for v in range(1000)], **i32)
        self.left3 = torch.tensor([_codes(f"{v:<3}", 3) for v in range(1000)], **i32)
        self.right2 = torch.tensor([_codes(f"{v:>2}", 2) for v in range(100)], **i32)
        moves = ["-"] + [m.name for m in MOVE_DEFS]  # row m + 1: move m; row 0: an empty slot
        self.move_names = torch.tensor([_codes(name, 14) for name in moves], **i32)
        self.move_types = torch.tensor([[0] * 8] + [_codes(TYPE_NAMES[m.type], 8) for m in MOVE_DEFS], **i32)
        self.move_pp = torch.tensor([[0] * 3] + [_codes(f"/{m.pp}", 3) for m in MOVE_DEFS], **i32)
        # list rows: an item and its count, and "No items." (row NUM_ITEMS)
        self.item_rows = torch.tensor([_codes(f"{name:<13}x", 14) for name in ITEM_NAMES]
                                      + [_codes("No items.", 14)], **i32)
        self.shop_rows = torch.tensor([_codes(f"{ITEM_NAMES[i]:<12} {ITEM_PRICE[i]:>4}", 18)
                                       for i in range(NUM_ITEMS)] + [_codes("EXIT", 18)], **i32)
        self.no_partners = torch.tensor(_codes("No partners yet.", 16), **i32)
        self.digits = torch.tensor([c + 1 for c in art.glyph_codes("0123456789")], **i32)
        self.battle_items = torch.tensor(BATTLE_ITEMS, dtype=torch.int64, device=device)
        self.pow10 = torch.tensor([10 ** k for k in range(_DIGITS)], dtype=torch.int64, device=device)
        self.code = {ch: 2 * art.glyph_codes(ch)[0] + 1 for ch in (" ", "o", "-", "/", "$", art.CURSOR,
                                                                                  art.MORE)}
        self.code_text = {text: self._tops(torch.tensor(_codes(text, len(text)), **i32)) for text in ("PP", "Bag x")}
        for table in ("species_names", "levels", "bars", "right3", "left3", "right2", "move_names", "move_types",
                      "move_pp", "item_rows", "shop_rows", "no_partners", "digits"):  # codes -> top-half pieces
            setattr(self, table, self._tops(getattr(self, table)))
        # per world: shops, and the text pages
        worlds = tables.worlds
        self.num_shops = torch.tensor([len(w.shops) for w in worlds], **i32)
        shared, shared_first = _shared_pages()
        pages, base, dom0 = list(shared), [], []
        for w in worlds:
            own, own_first = _world_pages(w)
            base.append([shared_first[f] if own_first[f] < 0 else len(pages) + own_first[f]
                         for f in range(len(FAMILIES))])
            dom0.append([_domain(kinds[0], w) for _, _, kinds in FAMILIES])
            pages += own
        page_array = np.array(pages, np.uint8)
        lines = page_array[:, :-1].astype(np.int32)
        lines = np.where(lines >= _MARK, _MARK - 1 - lines, lines)  # digit k: -1 - k
        self.page_lines = self._tops(torch.as_tensor(lines, device=device)).view(-1, _PAGE_LINES, TEXT_COLS)
        self.page_count = torch.as_tensor(page_array[:, -1].astype(np.int32), device=device)
        self.family_base = torch.tensor(base, dtype=torch.int64, device=device).view(-1)  # [P * F]
        self.family_dom0 = torch.tensor(dom0, dtype=torch.int64, device=device).view(-1)  # [P * F]
        self.family_dom1 = torch.tensor([_domain(kinds[1], None) if kinds[1] not in _WORLD_ARGS else 1
                                         for _, _, kinds in FAMILIES], dtype=torch.int64, device=device)
        self.family_number = torch.tensor([[kinds[0] == _NUMBER, kinds[1] == _NUMBER] for _, _, kinds in FAMILIES],
                                          dtype=torch.bool, device=device)  # [F, 2]

    @staticmethod
    def _tops(codes: torch.Tensor) -> torch.Tensor:
        """Glyph codes + 1 (0 nothing, negative kept) -> the class of the glyphs' top halves + 1, that is of their
        bottom halves (glyph ``g``'s halves are classes ``2 g`` and ``2 g + 1``)."""
        return torch.where(codes > 0, 2 * codes - 1, codes).to(torch.int32)

    # ------------------------------------------------------------------------------------------ numbers
    def _ndigits(self, v: torch.Tensor) -> torch.Tensor:
        return 1 + (v[..., None] >= self.pow10[1:]).sum(-1)

    def _digit(self, v: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
        """Code of digit ``10 ** power`` of ``v`` (int64, power >= 0)."""
        d = torch.div(v, take(self.pow10, power.clamp(0, _DIGITS - 1)), rounding_mode="floor") % 10
        return take(self.digits, d)

    def _left(self, v: torch.Tensor, width: int) -> torch.Tensor:
        """``str(v)`` in ``width`` cells, left-aligned (nothing after it): codes [..., width]."""
        v = v.to(torch.int64).clamp(min=0)
        n = self._ndigits(v)[..., None]
        power = n - 1 - torch.arange(width, device=v.device)
        return torch.where(power >= 0, self._digit(v[..., None], power), 0)

    def _mon_lines(self, mons: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Name, ``Lv``, HP bar and ``hp/max`` codes of creature records [..., MON_WIDTH]."""
        hp, max_hp = mons[..., HP], mons[..., MAX_HP]
        filled = torch.div(hp * _BAR_PIXELS, max_hp.clamp(min=1), rounding_mode="floor").clamp(1, _BAR_PIXELS)
        filled = torch.where((max_hp <= 0) | (hp <= 0), 0, filled)
        slash = torch.full_like(hp, self.code["/"])[..., None]
        numbers = torch.cat([take(self.right3, hp.clamp(0, 999)), slash, take(self.left3, max_hp.clamp(0, 999))], -1)
        return (take(self.species_names, mons[..., SPECIES].clamp(0, len(SPECIES_DEFS) - 1)),
                take(self.levels, mons[..., LEVEL].clamp(0, MAX_LEVEL)), take(self.bars, filled), numbers)

    def _cursor(self, index: torch.Tensor, cursor: torch.Tensor) -> torch.Tensor:
        """The cursor glyph before row ``index`` [N, k]: an arrow on the chosen row, else a space."""
        return torch.where(index == cursor[:, None], self.code[art.CURSOR], self.code[" "])[..., None]

    def _list(self, count: torch.Tensor, cursor: torch.Tensor, visible: int,
              row_codes: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """The visible rows of ``render._put_list`` (cursor glyph, then the row): codes [N, visible, w], 0 on
        rows past the end. ``row_codes(i)`` gives row ``i``'s codes [N, visible, w - 1]."""
        total = torch.maximum(count, cursor + 1)
        first = torch.minimum((cursor - visible + 1).clamp(min=0), (total - visible).clamp(min=0))
        index = first[:, None] + torch.arange(visible, device=count.device)
        codes = torch.where((index < count[:, None])[..., None], row_codes(index.clamp(min=0)), 0)
        line = torch.cat([self._cursor(index, cursor), codes], -1)
        return torch.where((index < total[:, None])[..., None], line, 0)

    @staticmethod
    def _nth(held: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Column of the ``index``-th (from 0) true column of ``held`` [N, K], for ``index`` [N, k] (a column not
        held past the end): a stable sort puts the held columns first, in order."""
        order = torch.sort(held.to(torch.uint8), dim=1, descending=True, stable=True).indices
        return order.gather(1, index.clamp(0, held.shape[1] - 1))

    # ------------------------------------------------------------------------------------------ screens
    def pairs(self, s: BatchedState, cx: Ctx, cells: torch.Tensor) -> torch.Tensor:
        """[N, 36 * 10] pairs of the pair atlas of each env's frame (16 px wide, 4 tall each), given its
        overworld cells [N, 90] (cell ``c``'s rows 4 r .. 4 r + 3 are pair ``4 c + r``)."""
        n = s.x.shape[0]
        v = self._shown(s)
        composite = v.screen * self.num_boxes + v.box  # the row of the tables of _Layout
        # the text, field by field in FIELDS order: its codes (a glyph's classes, 0 nothing) where it is drawn
        codes: list[torch.Tensor] = []
        names = iter(FIELDS)

        def field(c: torch.Tensor, m: torch.Tensor) -> None:
            name = next(names)
            if name in self.low_rows:  # its rows from piece row 24 on are under the text box
                m = m.view(n, 1) if m.dim() == 1 else m
                m = m & ~(v.talking[:, None] & self.low_rows[name])
            codes.append(torch.where(m.reshape(*m.shape, *[1] * (c.dim() - m.dim())), c, 0).reshape(n, -1))

        self._scene_text(s, v, field)
        self._menu_text(s, cx, v, field)
        self._party_text(s, v, field)
        self._box_text(s, cx, v, field)
        text = torch.cat(codes, 1)
        if text.shape[1] != self.places.shape[0]:
            raise RuntimeError(f"the text fields give {text.shape[1]} cells, FIELDS places {self.places.shape[0]}")

        # glyph halves over the templates' classes: every bottom half, then every top half (a top half drawn
        # later, the MORE arrow under a page's fourth line, wins); the text box hides a menu's from row 24 on
        drawn = text > 0  # text: a glyph's bottom-half class, its top half's + 1
        classes = take(self.classes_table, composite)  # [N, cells + 1]
        scratch = ROWS * COLS
        bottom = drawn & ~(v.talking[:, None] & self.low_bottoms)
        put(classes, torch.where(bottom, self.places + COLS, scratch), text)
        put(classes, torch.where(drawn, self.places, scratch), text - 1)
        classes = classes[:, :scratch].view(n, -1, 2)

        # the pairs: a template's, an overworld cell's, a creature's, or two classes side by side
        def species(mon: torch.Tensor) -> torch.Tensor:
            return mon[:, SPECIES].clamp(0, len(SPECIES_DEFS) - 1) * 2

        sources = torch.cat([torch.zeros((n, 1), dtype=torch.int32, device=s.x.device), cells * 4,
                             take(self.creatures, species(v.foe)), take(self.creatures, species(v.me) + 1)], 1)
        return sources.gather(1, take(self.sources, composite)) + take(self.adds, composite) \
            + classes[..., 0] * self.classes + classes[..., 1]

    def _shown(self, s: BatchedState) -> _Shown:
        """Which screen each env shows, and the templates of its two layers."""
        battle = s.battle_kind != BKIND.NONE
        talking = ~battle & (dialog_length(s) > 0)
        menu = torch.where(battle, MENU.NONE, s.menu)
        phase, cursor, bcursor = s.battle_phase, s.menu_cursor, s.battle_cursor
        foe, me = gather_mon(s.enemy, s.enemy_active), gather_mon(s.party, s.player_active)
        has_foe = battle & (s.enemy_active >= 0) & (s.enemy_active < s.enemy_count)
        has_me = battle & (s.player_active >= 0) & (s.player_active < s.party_count)
        moves = torch.where(has_me[:, None], me[:, MOVES], -1)
        slot = bcursor.clamp(0, 3).long()[:, None]
        move = moves.gather(1, slot)[:, 0]
        type_box = has_me & (bcursor >= 0) & (bcursor < 4) & (move >= 0)
        party_battle = battle & ((phase == PHASE.PARTY) | (phase == PHASE.FORCED_SWITCH))
        message = battle & (phase == PHASE.MESSAGE)
        # the screen layer's template (a menu, the scene, the battle's party screen) and the box layer's (the
        # text box, the battle phase's boxes)
        sf, bf = self.screen_first, self.box_first
        start_row = torch.where((cursor >= 0) & (cursor < _START_ROWS), cursor, _START_ROWS)
        item = s.menu_choice
        hint_item = torch.where((item >= 0) & (item < NUM_ITEMS), item, NUM_ITEMS)
        scene = sf["scene"] + 2 * has_foe.to(torch.int32) + has_me.to(torch.int32)
        screen = torch.where(battle, torch.where(phase == PHASE.PARTY, sf["battle_party"],
                                                 torch.where(phase == PHASE.FORCED_SWITCH, sf["battle_forced"], scene)),
                             torch.where(menu == MENU.START, sf["start"] + start_row,
                             torch.where(menu == MENU.PARTY, sf["party"],
                             torch.where(menu == MENU.BAG_TARGET, sf["bag_target"] + hint_item,
                             torch.where(menu == MENU.BAG, sf["bag"],
                             torch.where(menu == MENU.SHOP, sf["shop"], sf["none"]))))))
        main_row = torch.where((bcursor >= 0) & (bcursor < _MAIN_ROWS), bcursor, _MAIN_ROWS)
        box = torch.where(talking | message, bf["text"],
                          torch.where(battle & (phase == PHASE.MAIN), bf["main"] + main_row,
                          torch.where(battle & (phase == PHASE.FIGHT), bf["fight"] + type_box.to(torch.int32),
                          torch.where(battle & (phase == PHASE.BAG), bf["bag"], bf["none"]))))
        return _Shown(battle=battle, talking=talking, message=message, menu=menu, party_battle=party_battle,
                      foe=foe, me=me, has_foe=has_foe & ~party_battle, has_me=has_me & ~party_battle, moves=moves,
                      slot=slot, move=move, type_box=type_box, screen=screen.long(), box=box.long())

    def _scene_text(self, s: BatchedState, v: _Shown, field: _Field) -> None:
        """The battle scene: the enemy's panel, the trainer's orbs (one per enemy creature), the player's."""
        name, level, bar, _ = self._mon_lines(v.foe)
        for codes in (name, level, bar):
            field(codes, v.has_foe)
        team = min(_TEAM_ORBS, s.enemy.shape[1])
        orbs = torch.where(s.enemy[:, :team, HP] > 0, self.code["o"], self.code["-"])
        orbs = torch.nn.functional.pad(orbs, (0, _TEAM_ORBS - team))
        trainer = v.battle & ~v.party_battle & (s.battle_kind == BKIND.TRAINER)
        field(orbs, trainer[:, None] & (torch.arange(_TEAM_ORBS, device=s.x.device) < s.enemy_count[:, None]))
        for codes in self._mon_lines(v.me):
            field(codes, v.has_me)

    def _item_rows(self, s: BatchedState, index: torch.Tensor, held: torch.Tensor, items: torch.Tensor | None,
                   count: torch.Tensor) -> torch.Tensor:
        """``f"{name:<13}x{count:>2}"`` of the listed item at ``index`` (the ``index``-th held of ``items``, or of
        every item), or ``No items.`` on an empty list."""
        it = self._nth(held, index)
        it = it if items is None else take(items, it)
        some = (count > 0)[:, None, None]
        return torch.cat([take(self.item_rows, torch.where(some[..., 0], it, NUM_ITEMS)),
                          torch.where(some, take(self.right2, s.bag.gather(1, it).clamp(0, 99)), 0)], -1)

    def _menu_text(self, s: BatchedState, cx: Ctx, v: _Shown, field: _Field) -> None:
        """The bag (the items held, in item order) and the shop (the stock and EXIT, the money, how many of the
        chosen item the bag holds): their lists share rows, the shop's from the third."""
        n, cursor = s.x.shape[0], s.menu_cursor
        held = s.bag[:, :NUM_ITEMS] > 0
        count = held.sum(1, dtype=torch.int32)
        bag_rows = self._list(torch.where(count > 0, count, 1), torch.where(count > 0, cursor, -1), 8,
                              lambda i: self._item_rows(s, i, held, None, count))
        in_shop = v.menu == MENU.SHOP
        choice = s.menu_choice
        shop_ok = (choice >= 0) & (choice < take(self.num_shops, cx.world))
        shop_row = (cx.shop_base + choice.clamp(0, cx.t.num_shops - 1)).long()
        stock_len = torch.where(shop_ok, take(cx.t.shop_len, shop_row), 0)
        stock = take(cx.t.shop_stock, shop_row).long().clamp(0, NUM_ITEMS - 1)  # [N, L]

        def shop_rows(index: torch.Tensor) -> torch.Tensor:
            it = stock.gather(1, index.clamp(max=stock.shape[1] - 1))
            return take(self.shop_rows, torch.where(index < stock_len[:, None], it, NUM_ITEMS))

        pad = torch.nn.functional.pad
        shop = pad(self._list(stock_len + 1, cursor, 6, shop_rows), (0, 0, 2, 0))
        field(torch.where(in_shop[:, None, None], shop, pad(bag_rows, (0, 2))), (v.menu == MENU.BAG) | in_shop)
        dollar = torch.full((n, 1), self.code["$"], dtype=torch.int32, device=s.x.device)
        field(torch.cat([dollar, self._left(s.money, 7)], -1), in_shop)
        chosen = stock.gather(1, cursor.clamp(0, stock.shape[1] - 1).long()[:, None])
        field(torch.cat([self.code_text["Bag x"].expand(n, -1), self._left(s.bag.gather(1, chosen)[:, 0], 5)], -1),
              in_shop & (cursor >= 0) & (cursor < stock_len))

    def _party_text(self, s: BatchedState, v: _Shown, field: _Field) -> None:
        """The party list (``render._party_rows``), in the party menus and the battle's party screens."""
        n = s.x.shape[0]
        slots = torch.arange(PARTY_SIZE, device=s.x.device)[None, :].expand(n, -1)
        name, level, bar, numbers = self._mon_lines(s.party[:, :PARTY_SIZE])
        shown = (v.menu == MENU.PARTY) | (v.menu == MENU.BAG_TARGET) | v.party_battle
        at = torch.where(v.battle, s.battle_cursor, s.menu_cursor)
        present = shown[:, None] & (slots < s.party_count[:, None])
        field(torch.cat([self._cursor(slots, at), name], -1), present)
        field(level, present)
        field(bar, present)
        field(numbers, present)
        field(self.no_partners.expand(n, -1), shown & (s.party_count == 0))
        field(torch.full((n, PARTY_SIZE, 1), self.code[art.CURSOR], dtype=torch.int32, device=s.x.device),
              shown[:, None] & (s.party_count[:, None] > 0) & (slots == at[:, None])
              & (slots >= s.party_count[:, None]))

    def _box_text(self, s: BatchedState, cx: Ctx, v: _Shown, field: _Field) -> None:
        """The text box's page (two lines 16 px apart, or up to four 8 px apart) and its MORE arrow, the FIGHT
        phase's moves (and the chosen one's type and PP), the battle bag: the last three share four rows."""
        n, bcursor = s.x.shape[0], s.battle_cursor
        lines, few, more = self._page(s, cx, v.talking, v.message)
        field(lines[:, :2], few)
        fight = v.battle & (s.battle_phase == PHASE.FIGHT)
        names = take(self.move_names, (v.moves + 1).clamp(0, len(MOVE_DEFS)))
        moves = torch.cat([self._cursor(torch.arange(4, device=s.x.device).expand(n, -1), bcursor), names], -1)
        held = s.bag.gather(1, self.battle_items[None, :].expand(n, -1)) > 0  # in BATTLE_ITEMS order
        count = held.sum(1, dtype=torch.int32)
        bag = self._list(torch.where(count > 0, count, 1), torch.where(count > 0, bcursor, -1), 4,
                         lambda i: self._item_rows(s, i, held, self.battle_items, count))
        in_bag = v.battle & (s.battle_phase == PHASE.BAG)
        pad = torch.nn.functional.pad
        field(torch.where(fight[:, None, None], pad(moves, (0, 3)),
                          torch.where(in_bag[:, None, None], pad(bag, (0, 1)), lines)), fight | in_bag | ~few)
        field(torch.full((n, 1), self.code[art.MORE], dtype=torch.int32, device=s.x.device), more)
        row = (v.move + 1).clamp(0, len(MOVE_DEFS))
        field(take(self.move_types, row), fight & v.type_box)
        pp = v.me[:, PP].gather(1, v.slot)[:, 0].clamp(0, 999)
        field(torch.cat([self.code_text["PP"].expand(n, -1), take(self.right3, pp), take(self.move_pp, row)], -1),
              fight & v.type_box)

    def _page(self, s: BatchedState, cx: Ctx, talking: torch.Tensor, message: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The text box's page (the dialog's current page, or the battle's current message): its lines [N, 4,
        18] as codes, whether it has two lines or fewer (16 px apart) and whether the MORE arrow shows."""
        extra_at = (s.dialog_head - s.dialog_texts).clamp(0, s.dialog_extra.shape[1] - 1).long()
        extra = s.dialog_extra.gather(1, extra_at[:, None])[:, 0]
        from_run = talking & (s.dialog_head < s.dialog_texts)
        battle_msg = s.messages.gather(1, s.message_head.clamp(0, s.messages.shape[1] - 1).long()[:, None])[:, 0]
        packed = torch.where(message, battle_msg, extra)
        kind, arg0, arg1 = unpack_page(packed)
        family = torch.where(message, _BATTLE_FAMILY + kind, kind).clamp(0, len(FAMILIES) - 1)
        arg0 = torch.where(from_run, (s.dialog_first + s.dialog_head).to(torch.int64), arg0)
        family = torch.where(from_run, int(Msg.TEXT), family)
        number = take(self.family_number, family)  # [N, 2]
        value = torch.where(number[:, 0], arg0, arg1).clamp(min=0)
        digits = self._ndigits(value)
        index0 = torch.where(number[:, 0], digits - 1, arg0).clamp(min=0)
        index1 = torch.where(number[:, 1], digits - 1, arg1).clamp(min=0)
        at = cx.world * len(FAMILIES) + family
        dom1 = take(self.family_dom1, family)
        page = take(self.family_base, at) + index0.clamp(max=take(self.family_dom0, at) - 1) * dom1 \
            + index1.clamp(max=dom1 - 1)
        left = torch.where(message, s.message_count - s.message_head, dialog_length(s))
        page = torch.where((talking | message) & (left > 0), page, 0)
        lines = take(self.page_lines, page)  # [N, 4, 18]
        power = digits[:, None, None] + lines  # digit k (-1 - k) is the number's digit 10 ** (digits - 1 - k)
        lines = torch.where(lines < 0, self._digit(value[:, None, None], power), lines)
        return lines, take(self.page_count, page) <= 2, (talking | message) & (left > 1)


__all__ = ["COLS", "FIELDS", "PIECE_H", "PIECE_W", "ROWS", "PairAtlas", "PieceAtlas", "ScreenDrawer", "cell_quarters",
           "cut_cells"]
