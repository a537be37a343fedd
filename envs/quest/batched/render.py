"""Observations of N envs on the device: the symbolic view and pixels gathered from the tile atlas.

* :func:`symbolic_view` is :func:`longplay.envs.quest.render.symbolic_tiles` for every env at once: the 9x10
  window of tile kinds around the player (VOID off the map) and the sprite of the visible entity on each
  cell (the later entity in world order wins a shared cell, as the reference draws them).
* :class:`PixelRenderer` draws the overworld frame exactly as :func:`longplay.envs.quest.render.render_frame`
  does (tiles, entities, the player walking or swimming) by gathering rows of the atlases of
  :mod:`longplay.envs.quest.art`. Screens drawn over the overworld (text boxes, menus, battles) are drawn
  by :meth:`PixelRenderer.frames` as plain panels (see its docstring); the exact frame of any single env,
  text included, is ``render_frame(world, engine.state_of(i))``.
"""

from __future__ import annotations

import numpy as np
import torch

from longplay.envs.quest.batched.common import Ctx, take, visible
from longplay.envs.quest.batched.state import BatchedState
from longplay.envs.quest.batched.tables import E_
from longplay.envs.quest.constants import PLAYER_VIEW_X, PLAYER_VIEW_Y, TILE_PX, VIEW_H, VIEW_W, EntityKind, Sprite

_BOULDER, _PLAYER = int(EntityKind.BOULDER), int(Sprite.PLAYER)
_SPRITE_BITS = 5  # sprites < 32: the rest of a packed value is the entity's rank on its map


def view_cells(s: BatchedState, cx: Ctx) -> torch.Tensor:
    """[N, VIEW_H * VIEW_W] flat cell indices of the visible window: offsets from the player's cell (the
    padding around every map is as wide as the screen's reach)."""
    dev = s.x.device
    ox = torch.arange(VIEW_W, device=dev, dtype=torch.int32) - PLAYER_VIEW_X
    oy = torch.arange(VIEW_H, device=dev, dtype=torch.int32) - PLAYER_VIEW_Y
    offsets = (oy[:, None] * cx.t.wp + ox[None, :]).reshape(-1)
    return cx.cell(s.map, s.x, s.y)[:, None] + offsets[None, :]


def visible_entity_grid(s: BatchedState, cx: Ctx) -> tuple[torch.Tensor, torch.Tensor]:
    """(sprite, facing) [N, VIEW_H * VIEW_W] of the visible entity drawn on each window cell (0: none)."""
    n = s.x.shape[0]
    drawn = take(cx.t.map_entities, cx.map_base + s.map)  # [N, EM]
    rows = cx.rows(drawn)
    vis = visible(s, drawn, rows)
    slot = rows[..., E_["boulder_slot"]].long()
    bxy = s.boulder_xy.gather(1, slot[:, :, None].expand(-1, -1, 2))
    boulder = rows[..., E_["kind"]] == _BOULDER
    ex = torch.where(boulder, bxy[..., 0], rows[..., E_["x"]])
    ey = torch.where(boulder, bxy[..., 1], rows[..., E_["y"]])
    col = ex - (s.x - PLAYER_VIEW_X)[:, None]
    row = ey - (s.y - PLAYER_VIEW_Y)[:, None]
    inside = vis & (col >= 0) & (col < VIEW_W) & (row >= 0) & (row < VIEW_H)
    cells = VIEW_H * VIEW_W
    index = torch.where(inside, row * VIEW_W + col, cells).long()
    rank = torch.arange(drawn.shape[1], device=drawn.device, dtype=torch.int32)[None, :] + 1
    packed = (rank << (2 * _SPRITE_BITS)) | (rows[..., E_["facing"]] << _SPRITE_BITS) | rows[..., E_["sprite"]]
    grid = torch.zeros((n, cells + 1), dtype=torch.int32, device=drawn.device)
    grid = grid.scatter_reduce(1, index, packed, reduce="amax")[:, :cells]
    mask = (1 << _SPRITE_BITS) - 1
    return grid & mask, (grid >> _SPRITE_BITS) & 3


def symbolic_view(s: BatchedState, cx: Ctx) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tiles, entities)`` uint8 [N, VIEW_H, VIEW_W], as :func:`longplay.envs.quest.render.symbolic_tiles`."""
    tiles = take(cx.t.tiles, view_cells(s, cx))
    sprites, _ = visible_entity_grid(s, cx)
    return tiles.view(-1, VIEW_H, VIEW_W), sprites.to(torch.uint8).view(-1, VIEW_H, VIEW_W)


class PixelRenderer:
    """Frames [N, 144, 160, 3] uint8 gathered from the quest atlases (built once per device and palette)."""

    def __init__(self, device: torch.device, palette: object = None) -> None:
        from longplay.envs.quest import art

        self.device = device
        self.palette = torch.as_tensor(np.array(art.palette_array(palette)), device=device)  # [4, 3]
        self.tiles = torch.as_tensor(np.array(art.metatile_atlas()), device=device).to(torch.uint8)  # [T, 16, 16]
        sprites, opaque = art.sprite_atlas()  # [S, 4, 16, 16]
        swim, swim_opaque = art.swim_atlas()  # [4, 16, 16]
        # one layer of shades per (sprite, facing) with 4 meaning "transparent"; row 0 of sprite 0 is empty
        layer = torch.as_tensor(np.array(sprites)).to(torch.uint8)
        layer[~torch.as_tensor(np.array(opaque)).bool()] = 4
        self.sprites = layer.reshape(-1, TILE_PX, TILE_PX).to(device)  # [S * 4, 16, 16]
        swim_layer = torch.as_tensor(np.array(swim)).to(torch.uint8)
        swim_layer[~torch.as_tensor(np.array(swim_opaque)).bool()] = 4
        self.swim = swim_layer.to(device)  # [4, 16, 16]

    def shades(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 144, 160] shade indices of the overworld (tiles, entities, the player)."""
        n = s.x.shape[0]
        tiles = take(cx.t.tiles, view_cells(s, cx)).view(n, VIEW_H, VIEW_W)
        img = take(self.tiles, tiles.to(torch.int32))  # [N, 9, 10, 16, 16]
        sprite, facing = visible_entity_grid(s, cx)
        ent = take(self.sprites, sprite * 4 + facing).view(n, VIEW_H, VIEW_W, TILE_PX, TILE_PX)
        img = torch.where(ent == 4, img, ent)
        # the player, walking or swimming, at its fixed cell
        player = torch.where(s.surfing[:, None, None], self.swim[s.facing.long() & 3],
                             self.sprites[(_PLAYER * 4 + (s.facing & 3)).long()])
        cell = img[:, PLAYER_VIEW_Y, PLAYER_VIEW_X]
        img[:, PLAYER_VIEW_Y, PLAYER_VIEW_X] = torch.where(player == 4, cell, player)
        return img.permute(0, 1, 3, 2, 4).reshape(n, VIEW_H * TILE_PX, VIEW_W * TILE_PX)

    def frames(self, s: BatchedState, cx: Ctx) -> torch.Tensor:
        """[N, 144, 160, 3] RGB frames.

        The overworld is exact. Where a text box, menu or battle is open, the reference draws text; here the
        screen shows the overworld with a blank panel instead: the bottom text box while a text box is open,
        the right-hand panel while a menu is open, and a blank (lightest shade) screen with an empty bottom
        box during a battle. The symbolic ``vector`` says which screen is showing; ``text(i)`` and
        ``render_frame(world, state_of(i))`` give the exact screen of one env.
        """
        img = self.shades(s, cx)
        dialog = (s.dialog_texts + s.dialog_extras - s.dialog_head) > 0
        menu = s.menu != 0
        battle = s.battle_kind != 0
        rows = torch.arange(img.shape[1], device=img.device)[None, :, None]
        cols = torch.arange(img.shape[2], device=img.device)[None, None, :]
        box = rows >= img.shape[1] - 48
        frame_edge = box & ((rows == img.shape[1] - 47) | (rows == img.shape[1] - 2) | (cols == 1) | (cols == 158))
        panel = (cols >= 88) & (rows < 64)
        img = torch.where(battle[:, None, None], torch.zeros_like(img), img)
        boxed = (dialog | battle)[:, None, None] & box
        img = torch.where(boxed, torch.where(frame_edge, 3, 0).to(img.dtype), img)
        img = torch.where(menu[:, None, None] & ~dialog[:, None, None] & panel, torch.zeros_like(img), img)
        return take(self.palette, img.to(torch.int32))


__all__ = ["PixelRenderer", "symbolic_view", "view_cells", "visible_entity_grid"]
