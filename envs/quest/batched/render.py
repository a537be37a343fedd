"""Observations of N envs on the device: the symbolic view and pixels gathered from the tile atlas.

* :func:`symbolic_view` is :func:`longplay.envs.quest.render.symbolic_tiles` for every env at once: the 9x10
  window of tile kinds around the player (VOID off the map) and the sprite of the visible entity on each
  cell (the later entity in world order wins a shared cell, as the reference draws them).
* :class:`PixelRenderer` draws the overworld frame exactly as :func:`longplay.envs.quest.render.render_frame`
  does (tiles, entities, the player walking or swimming) with one gather per screen cell from an atlas of
  composed cells made from :mod:`longplay.envs.quest.art`. Screens drawn over the overworld (text boxes,
  menus, battles) show their empty boxes (see its docstring); the exact frame of any single env, text
  included, is ``render_frame(world, engine.state_of(i))``.
"""

from __future__ import annotations

import numpy as np
import torch

from longplay.envs.quest.batched.common import Ctx, put, take
from longplay.envs.quest.batched.state import BatchedState
from longplay.envs.quest.batched.tables import D_
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
    """Frames [N, 144, 160, 3] uint8, each screen cell one gather from an RGB atlas of composed cells.

    The atlas (built once per device and palette, about 1 MB) holds every tile kind under every sprite and
    facing (and the player swimming), already composed and coloured, plus the 16x16 pieces of the empty text
    box and menu panel. A frame is then: the kind of each of the 90 cells, and one gather of 48-byte pixel
    rows written straight in screen order.

    The overworld is pixel-exact (two visible entities on one cell show the later one only; the reference
    blits both). Where a text box, menu or battle is open, the reference draws text; here the same place
    shows the empty box: the bottom text box (cell rows 6-8) while a text box is open or a battle is on, a
    panel over the top right (cell rows 0-3, columns 5-9) while a menu is open, and the lightest shade
    elsewhere during a battle. The symbolic ``vector`` says which screen is up; ``BatchedQuest.frame(i)``
    and ``text(i)`` give the exact screen of one env.
    """

    def __init__(self, device: torch.device, palette: object = None) -> None:
        from longplay.envs.quest import art, render

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
        # empty boxes, cut into cells: the bottom text box (3 x 10 cells) and the menu panel (4 x 5 cells)
        text_box = render._box(VIEW_W * TILE_PX, 3 * TILE_PX)
        panel = render._box(5 * TILE_PX, 4 * TILE_PX)
        self.box_base = len(cells)
        cells += [text_box[r * TILE_PX:(r + 1) * TILE_PX, c * TILE_PX:(c + 1) * TILE_PX]
                  for r in range(3) for c in range(VIEW_W)]
        self.panel_base = len(cells)
        cells += [panel[r * TILE_PX:(r + 1) * TILE_PX, c * TILE_PX:(c + 1) * TILE_PX]
                  for r in range(4) for c in range(5)]
        self.blank = len(cells)
        cells.append(np.zeros((TILE_PX, TILE_PX), np.uint8))
        rgb = palette_rgb[np.stack(cells)]  # [C, 16, 16, 3]
        # one 48-byte pixel row per (cell, row): frames are gathered straight into screen order
        rows = np.ascontiguousarray(rgb.reshape(len(cells) * TILE_PX, TILE_PX * 3)).view(np.int64)
        self.atlas = torch.as_tensor(rows, device=device)  # [C * 16, 6]: 48-byte rows copied as 6 int64
        self.pixel_rows = torch.arange(TILE_PX, device=device, dtype=torch.int32)
        self.swim_layer = 1 + sprites.shape[0] * 4
        n_cells = VIEW_H * VIEW_W
        index = torch.arange(n_cells, device=device)
        row, col = index // VIEW_W, index % VIEW_W
        self.player_cell = PLAYER_VIEW_Y * VIEW_W + PLAYER_VIEW_X
        self.in_box = row >= VIEW_H - 3
        self.box_piece = (self.box_base + (row - (VIEW_H - 3)) * VIEW_W + col).clamp(min=0).to(torch.int32)
        self.in_panel = (row < 4) & (col >= VIEW_W - 5)
        self.panel_piece = (self.panel_base + row * 5 + (col - (VIEW_W - 5))).clamp(min=0).to(torch.int32)

    def cells(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 90] atlas cell of every screen cell."""
        tiles = view_tiles(s, cx).view(-1, VIEW_H * VIEW_W).to(torch.int32)
        key = visible_entity_grid(s, cx)
        layer = torch.where(key > 0, 1 + (key & _SPRITE_MASK) * 4 + ((key >> _SPRITE_BITS) & 3), 0)
        player = torch.where(s.surfing, self.swim_layer + (s.facing & 3), 1 + _PLAYER * 4 + (s.facing & 3))
        layer[:, self.player_cell] = player
        cell = tiles * self.layers + layer
        dialog = (s.dialog_texts + s.dialog_extras - s.dialog_head) > 0
        battle = s.battle_kind != 0
        menu = (s.menu != 0) & ~dialog & ~battle
        cell = torch.where(battle[:, None], self.blank, cell)
        cell = torch.where((dialog | battle)[:, None] & self.in_box[None, :], self.box_piece[None, :], cell)
        return torch.where(menu[:, None] & self.in_panel[None, :], self.panel_piece[None, :], cell)

    def frames(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 144, 160, 3] RGB frames (see the class docstring for what is exact)."""
        n = s.x.shape[0]
        cells = self.cells(s, cx).view(n, VIEW_H, 1, VIEW_W) * TILE_PX
        rows = (cells + self.pixel_rows[None, None, :, None]).view(n, VIEW_H * TILE_PX, VIEW_W)
        return take(self.atlas, rows).view(torch.uint8).view(n, VIEW_H * TILE_PX, VIEW_W * TILE_PX, 3)


__all__ = ["PixelRenderer", "symbolic_view", "view_tiles", "visible_entity_grid"]
