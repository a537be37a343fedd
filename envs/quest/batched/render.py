"""Observations of N envs on the device: the symbolic view and pixels gathered from the tile atlas.

* :func:`symbolic_view` is :func:`longplay.envs.quest.render.symbolic_tiles` for every env at once: the 9x10
  window of tile kinds around the player (VOID off the map) and the sprite of the visible entity on each
  cell (the later entity in world order wins a shared cell, as the reference draws them).
* :class:`PixelRenderer` draws every frame exactly as :func:`longplay.envs.quest.render.render_frame` does:
  the overworld (tiles, entities, the player walking or swimming), text boxes, menus and battles, with one
  gather per 16x4 pixels of the screen from an atlas of composed pairs of 8x4 pieces made from
  :mod:`longplay.envs.quest.art` (the screens over the overworld: :mod:`~longplay.envs.quest.batched.screens`).
"""

from __future__ import annotations

import numpy as np
import torch

from longplay.envs.quest.batched.common import Ctx, put, take
from longplay.envs.quest.batched.screens import (
    COLS,
    PIECE_H,
    PIECE_W,
    ROWS,
    PairAtlas,
    PieceAtlas,
    ScreenDrawer,
    cell_quarters,
    cut_cells,
)
from longplay.envs.quest.batched.state import BatchedState
from longplay.envs.quest.batched.tables import D_, WorldTables
from longplay.envs.quest.constants import PLAYER_VIEW_X, PLAYER_VIEW_Y, TILE_PX, VIEW_H, VIEW_W, Sprite

_PLAYER = int(Sprite.PLAYER)
_SPRITE_BITS = 5  # sprites < 32 (the drawn-entity key: rank << 10 | facing << 5 | sprite)
_SPRITE_MASK = (1 << _SPRITE_BITS) - 1


def view_tiles(s: BatchedState, cx: Ctx) -> torch.Tensor:
    """[N, VIEW_H, VIEW_W] uint8 tile kinds of the visible window (VOID off the map: the padding around every
    map is as wide as the screen's reach), one gather of a packed row (``WorldTables.tile_rows``) per screen
    row."""
    oy = torch.arange(VIEW_H, device=s.x.device, dtype=torch.int32) - PLAYER_VIEW_Y
    first = cx.cell(s.map, s.x - PLAYER_VIEW_X, s.y)[:, None] + oy[None, :] * cx.t.wp  # [N, VIEW_H]
    return take(cx.t.tile_rows, first).view(torch.uint8)[..., :VIEW_W].contiguous()


def visible_entity_grid(s: BatchedState, cx: Ctx) -> torch.Tensor:
    """[N, VIEW_H * VIEW_W] ``key`` (``rank << 10 | facing << 5 | sprite``, 0: none) of the visible entity
    drawn on each window cell: the last one in the map's list, as the reference draws them in order."""
    n = s.x.shape[0]
    d = take(cx.t.map_drawn, cx.map_base + s.map)  # [N, EM, cols]
    entity = d[..., D_["entity"]]
    vis = s.events.gather(1, d[..., D_["show_col"]]) & ~s.events.gather(1, d[..., D_["hide_col"]]) \
        & ~(s.done.gather(1, entity) & (d[..., D_["hidden_when_done"]] != 0))
    ex, ey = d[..., D_["x"]], d[..., D_["y"]]
    if cx.t.num_boulders:  # boulders move: their positions are state
        slot = d[..., D_["boulder_slot"]]
        bxy = s.boulder_xy.gather(1, slot[:, :, None].expand(-1, -1, 2))
        moves = slot < cx.t.num_boulders
        ex, ey = torch.where(moves, bxy[..., 0], ex), torch.where(moves, bxy[..., 1], ey)
    col = ex - (s.x - PLAYER_VIEW_X)[:, None]
    row = ey - (s.y - PLAYER_VIEW_Y)[:, None]
    inside = vis & (col >= 0) & (col < VIEW_W) & (row >= 0) & (row < VIEW_H)
    cells = VIEW_H * VIEW_W
    index = torch.where(inside, row * VIEW_W + col, cells).long()  # hidden or off screen: a scratch cell
    key = d[..., D_["key"]]
    grid = torch.zeros((n, cells + 1), dtype=torch.int32, device=d.device)
    if not torch.compiler.is_compiling():  # eager, one op: the highest rank (the later entity) wins a cell
        return grid.scatter_reduce(1, index, key, reduce="amax")[:, :cells]
    for rank in range(index.shape[1]):  # in drawing order, one write each: inductor leaves scatter_reduce to aten
        put(grid, index[:, rank:rank + 1], key[:, rank:rank + 1])
    return grid[:, :cells]


def symbolic_view(s: BatchedState, cx: Ctx) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tiles, entities)`` uint8 [N, VIEW_H, VIEW_W], as :func:`longplay.envs.quest.render.symbolic_tiles`."""
    sprites = visible_entity_grid(s, cx) & _SPRITE_MASK
    return view_tiles(s, cx), sprites.to(torch.uint8).view(-1, VIEW_H, VIEW_W)


class PixelRenderer:
    """Frames [N, 144, 160, 3] uint8 as :func:`longplay.envs.quest.render.render_frame` draws them, each 16x4
    pixels of the screen one gather from an RGB atlas of distinct images.

    The screen is a grid of 8x4 pieces (the reference draws text at x multiples of 8 and y multiples of 4,
    and every box, creature and line on that grid too), gathered in pairs side by side: 36 rows of 10
    pairs, one 48-byte pixel row each, written straight in screen order. The atlas (built once per device,
    palette and pool of worlds, about 14 MB) holds every overworld cell (each tile kind under every sprite
    and facing, and the player swimming) as four pairs, the battle creatures, the boxes of every screen with
    their fixed text, and every glyph half beside every glyph half or box piece text can stand next to.
    Without ``tables`` (no pool of worlds) only the overworld is drawn.

    Exact, pixel for pixel, on every screen the game shows: the overworld; the text box (world text pages
    and every generated page: found items, partners, money, badges, abilities, whiteouts, shop and item
    messages, wrapped as the reference wraps them; up to four lines; the MORE arrow), over the overworld
    or a menu; the menus (START, PARTY, BAG, BAG_TARGET with its hint, SHOP with money, stock, prices and
    the count held); the battle screens: the scene (the enemy's name, level, HP bar and underline, the
    trainer's orbs, both creatures, the player's panel with HP numbers) and every phase (MAIN's choices,
    FIGHT's moves with the type and PP of the chosen one, BAG's items and counts, PARTY and FORCED_SWITCH's
    party list and hint, MESSAGE's battle messages with their names and numbers), cursors and scrolling
    included. Two visible entities on one overworld cell show the later one only (the reference blits
    both). Values past the game's bounds are clamped into their tables where the reference would print
    more: HP, max HP and PP past 999, levels past 100, bag counts past 99, a number in a text box past ten
    digits, an out-of-range species, move, item, trainer or text index.
    """

    def __init__(self, device: torch.device, palette: object = None, tables: WorldTables | None = None) -> None:
        from longplay.envs.quest import art

        self.device = device
        palette_rgb = np.array(art.palette_array(palette))  # [4, 3]
        tiles = np.array(art.metatile_atlas())  # [T, 16, 16] shades
        sprites, opaque = (np.array(a) for a in art.sprite_atlas())  # [S, 4, 16, 16]
        swim, swim_opaque = (np.array(a) for a in art.swim_atlas())  # [4, 16, 16]
        layers = [np.zeros((TILE_PX, TILE_PX), bool)]  # layer 0: nothing over the tile
        shades = [np.zeros((TILE_PX, TILE_PX), np.uint8)]
        for sp in range(sprites.shape[0]):
            for f in range(4):
                layers.append(opaque[sp, f].astype(bool))
                shades.append(sprites[sp, f])
        for f in range(4):
            layers.append(swim_opaque[f].astype(bool))
            shades.append(swim[f])
        self.layers = len(layers)
        cells = [np.where(layers[k], shades[k], tiles[t]) for t in range(tiles.shape[0]) for k in range(self.layers)]
        cells = np.stack(cells)
        pairs = PairAtlas(cell_quarters(cells))  # cell c's rows 4 r .. 4 r + 3 are pair 4 c + r
        if tables is not None:
            pieces = PieceAtlas()
            pieces.extend(cut_cells(cells))  # cell c's piece (r, k) is piece 8 c + 2 r + k
            self.screens: ScreenDrawer | None = ScreenDrawer(pieces, pairs, cells.shape[0], tables, device)
        else:
            self.screens = None
        rgb = palette_rgb[np.stack(pairs.images)]  # [Q, 4, 16, 3]
        # one 48-byte pixel row per (pair, row): frames are gathered straight into screen order
        rows = np.ascontiguousarray(rgb.reshape(len(pairs) * PIECE_H, 2 * PIECE_W * 3)).view(np.int64)
        self.atlas = torch.as_tensor(rows, device=device)  # [Q * 4, 6]: 48-byte rows copied as 6 int64
        self.swim_layer = 1 + sprites.shape[0] * 4
        self.player_cell = PLAYER_VIEW_Y * VIEW_W + PLAYER_VIEW_X
        r, c = np.divmod(np.arange(ROWS * COLS // 2), COLS // 2)  # pair (r, c) is cell (r // 4, c)'s row r % 4
        self.pair_cell = torch.as_tensor((r // 4) * VIEW_W + c, dtype=torch.int64, device=device)
        self.pair_row = torch.as_tensor(r % 4, dtype=torch.int32, device=device)
        self.pixel_rows = torch.arange(PIECE_H, device=device, dtype=torch.int32)

    def cells(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 90] overworld cell (tile kind and what stands on it) of every screen cell."""
        tiles = view_tiles(s, cx).view(-1, VIEW_H * VIEW_W).to(torch.int32)
        key = visible_entity_grid(s, cx)
        layer = torch.where(key > 0, 1 + (key & _SPRITE_MASK) * 4 + ((key >> _SPRITE_BITS) & 3), 0)
        player = torch.where(s.surfing, self.swim_layer + (s.facing & 3), 1 + _PLAYER * 4 + (s.facing & 3))
        layer[:, self.player_cell] = player
        return tiles * self.layers + layer

    def pairs(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 36 * 10] atlas pair (16x4 pixels) of every place of the screen."""
        cells = self.cells(s, cx)
        if self.screens is not None:
            return self.screens.pairs(s, cx, cells)
        return cells[:, self.pair_cell] * 4 + self.pair_row

    def frames(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 144, 160, 3] RGB frames (see the class docstring for what is exact)."""
        n = s.x.shape[0]
        pairs = self.pairs(s, cx).view(n, ROWS, 1, COLS // 2) * PIECE_H
        rows = (pairs + self.pixel_rows[None, None, :, None]).view(n, ROWS * PIECE_H, COLS // 2)
        return take(self.atlas, rows).view(torch.uint8).view(n, ROWS * PIECE_H, COLS * PIECE_W, 3)


__all__ = ["PixelRenderer", "symbolic_view", "view_tiles", "visible_entity_grid"]
