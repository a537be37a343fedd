"""The counter-based random numbers of the quest engine."""

from __future__ import annotations

from longplay.envs.quest.rng import episode_key, rand, rand_below


def test_seeds_that_differ_only_above_32_bits_get_different_keys() -> None:
    """``episode_key`` folds the high bits in: ``mix32`` alone keeps only the low 32 bits of a seed."""
    assert episode_key(0) != episode_key(1 << 32)
    assert episode_key(5) != episode_key(5 + (1 << 40))


def test_draws_are_a_pure_function_of_key_tick_and_slot() -> None:
    key = episode_key(7)
    assert rand(key, 3, 1) == rand(key, 3, 1)
    assert len({rand(key, 3, 1), rand(key, 4, 1), rand(key, 3, 2), rand(episode_key(8), 3, 1)}) == 4
    assert all(0 <= rand_below(key, t, 0, 39) < 39 for t in range(200))
