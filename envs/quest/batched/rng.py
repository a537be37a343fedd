"""The reference engine's counter-based random numbers (:mod:`longplay.envs.quest.rng`) for many envs at once.

Every value is a 32-bit unsigned integer held in int64; products are taken modulo 2**64 by torch's int64
arithmetic and masked to 32 bits, which keeps exactly the low 32 bits the reference computes.
"""

from __future__ import annotations

import torch

from longplay.envs.quest.constants import RNG_SLOTS, Rng

MASK32 = 0xFFFFFFFF
USED_SLOTS = len(Rng)


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The 'lowbias32' mixer of :func:`longplay.envs.quest.rng.mix32`, elementwise on int64 tensors."""
    x = x & MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def episode_keys(seeds: torch.Tensor) -> torch.Tensor:
    """:func:`longplay.envs.quest.rng.episode_key` of non-negative int64 seeds."""
    return mix32((seeds ^ 0x9E3779B9) + (seeds >> 32))


def draw_all(key: torch.Tensor, tick: torch.Tensor) -> torch.Tensor:
    """``rand(key, tick, slot)`` of every used slot (:class:`~longplay.envs.quest.constants.Rng`): [N, slots].

    The reference draws at most once per slot and press, so drawing every slot for every env reproduces
    whichever draws it makes.
    """
    slots = torch.arange(USED_SLOTS, device=key.device, dtype=torch.int64)
    return mix32(key[:, None] ^ mix32(tick[:, None] * RNG_SLOTS + slots))
