"""Text boxes for N envs: A or B dismisses a page; after the last one the queued effect runs (mirrors
:mod:`longplay.envs.quest.dialog`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longplay.envs.quest.batched.common import (
    EFFECT,
    MENU,
    Ctx,
    dialog_length,
)
from longplay.envs.quest.batched.state import BatchedState
from longplay.envs.quest.batched.tables import E_

_A, _B = 4, 5


@dataclass
class TrainerStart:
    """A trainer battle to start (``battle.start_trainer``), where ``mask``."""

    mask: torch.Tensor
    trainer: torch.Tensor
    entity: torch.Tensor


def press(s: BatchedState, cx: Ctx, mask: torch.Tensor, button: torch.Tensor) -> tuple[TrainerStart, torch.Tensor]:
    """One button for the envs in ``mask`` (a text box is open); returns the trainer battle its effect starts
    and the envs that whited out (the engine heals their party)."""
    ab = mask & ((button == _A) | (button == _B))
    s.dialog_head = s.dialog_head + ab.to(torch.int32)
    ends = ab & (dialog_length(s) == 0)
    effect, arg = s.dialog_effect, s.dialog_arg
    s.dialog_effect = torch.where(ends, EFFECT.NONE, s.dialog_effect)
    s.dialog_arg = torch.where(ends, 0, s.dialog_arg)
    fight = ends & (effect == EFFECT.TRAINER_BATTLE)
    shop = ends & (effect == EFFECT.OPEN_SHOP)
    whiteout = ends & (effect == EFFECT.WHITEOUT)
    s.finished = s.finished | (ends & (effect == EFFECT.FINISH))
    s.menu = torch.where(shop, MENU.SHOP, s.menu)
    s.menu_cursor = torch.where(shop, 0, s.menu_cursor)
    s.menu_choice = torch.where(shop, arg, s.menu_choice)
    # whiteout: back to the last rest house, facing up, half the money (and healed, by the engine)
    s.map = torch.where(whiteout, s.respawn[:, 0], s.map)
    s.x = torch.where(whiteout, s.respawn[:, 1], s.x)
    s.y = torch.where(whiteout, s.respawn[:, 2], s.y)
    s.facing = torch.where(whiteout, 0, s.facing)
    s.surfing = s.surfing & ~whiteout
    s.money = torch.where(whiteout, s.money // 2, s.money)
    trainer = cx.rows(arg.clamp(0, cx.dummy))[:, E_["trainer"]]
    return TrainerStart(fight, trainer, arg), whiteout


__all__ = ["TrainerStart", "press"]
