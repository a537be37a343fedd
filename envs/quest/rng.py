"""Counter-based random numbers: a pure function of (episode key, tick, slot).

No generator object is carried in the state, so save states hold two integers, and the batched engine
computes the same numbers for thousands of envs at once with the same 32-bit integer operations.
"""

from __future__ import annotations

from longplay.envs.quest.constants import RNG_SLOTS

MASK32 = 0xFFFFFFFF


def mix32(x: int) -> int:
    """A 32-bit integer hash (the 'lowbias32' mixer): every bit of the input flips about half the output.

    >>> mix32(0), mix32(1) != mix32(2)
    (0, True)
    """
    x &= MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    x ^= x >> 16
    return x


def episode_key(seed: int) -> int:
    """The 32-bit key of an episode started with ``seed`` (any non-negative int)."""
    return mix32((seed ^ 0x9E3779B9) + (seed >> 32))


def rand(key: int, tick: int, slot: int) -> int:
    """A uniform 32-bit random number for ``slot`` at ``tick`` of the episode keyed ``key``."""
    return mix32(key ^ mix32(tick * RNG_SLOTS + slot))


def rand_below(key: int, tick: int, slot: int, n: int) -> int:
    """A random integer in ``[0, n)`` (modulo reduction: exact and cheap, bias below 1e-8 for small n)."""
    return rand(key, tick, slot) % n
