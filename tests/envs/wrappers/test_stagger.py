"""StaggerFirstEpisode: the first episode ends early at a seeded random step, later ones at the limit."""

from __future__ import annotations

import gymnasium as gym
import pytest

from longplay.envs.wrappers.stagger import StaggerFirstEpisode


def _lengths(env: gym.Env, episodes: int) -> list[int]:
    out = []
    env.reset(seed=0)
    for _ in range(episodes):
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            steps, done = steps + 1, terminated or truncated
        out.append(steps)
        env.reset()
    return out


class Endless(gym.Env):
    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        return 0, 0.0, False, False, {}


def test_first_episode_ends_at_a_seeded_step_and_later_ones_at_the_limit() -> None:
    firsts = []
    for seed in range(20):
        env = StaggerFirstEpisode(gym.wrappers.TimeLimit(Endless(), 50), limit=50, seed=seed)
        lengths = _lengths(env, 3)
        assert lengths[0] == env.first_length and 1 <= lengths[0] <= 50
        assert lengths[1:] == [50, 50]
        firsts.append(lengths[0])
    assert len(set(firsts)) > 10  # spread, not one value
    again = StaggerFirstEpisode(gym.wrappers.TimeLimit(Endless(), 50), limit=50, seed=7)
    assert again.first_length == firsts[7]  # seeded


def test_a_reset_before_any_step_keeps_the_first_episode_short() -> None:
    env = StaggerFirstEpisode(gym.wrappers.TimeLimit(Endless(), 50), limit=50, seed=1)
    env.reset(seed=0)
    assert _lengths(env, 1) == [env.first_length]


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 step"):
        StaggerFirstEpisode(Endless(), limit=0, seed=0)


@pytest.mark.parametrize("limit", [2.5, "10", None, True, float("nan")])
def test_a_limit_that_is_not_a_whole_number_is_refused(limit: object) -> None:
    """2.5 drew from 1..2 without a word, "10" or None raised a TypeError from a comparison."""
    with pytest.raises(ValueError, match="StaggerFirstEpisode needs a whole number of steps as limit") as info:
        StaggerFirstEpisode(Endless(), limit=limit, seed=0)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_a_whole_float_limit_draws_as_the_int() -> None:
    import numpy as np

    env = StaggerFirstEpisode(Endless(), limit=np.float64(500.0), seed=3)  # type: ignore[arg-type]
    assert env.first_length == StaggerFirstEpisode(Endless(), limit=500, seed=3).first_length


@pytest.mark.parametrize("seed", [1.5, "3", None, True, -1, float("nan")])
def test_a_seed_that_is_not_a_whole_number_of_at_least_0_is_refused(seed: object) -> None:
    """1.5 or "3" raised numpy's TypeError, -1 its ValueError, None drew unseeded, True drew as seed 1."""
    with pytest.raises(ValueError, match="StaggerFirstEpisode needs a whole number >= 0 as seed") as info:
        StaggerFirstEpisode(Endless(), limit=50, seed=seed)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_a_whole_float_seed_draws_as_the_int() -> None:
    import numpy as np

    for seed in (np.float64(7.0), np.int64(7), 7.0):
        env = StaggerFirstEpisode(Endless(), limit=500, seed=seed)  # type: ignore[arg-type]
        assert env.first_length == StaggerFirstEpisode(Endless(), limit=500, seed=7).first_length


def test_the_first_length_is_drawn_from_1_to_the_limit_both_included() -> None:
    """The docstring: ``first_length`` is drawn uniformly from 1 to ``limit``: a limit of 1 gives 1, and over
    seeds a limit of 3 gives each of 1, 2 and 3."""
    assert StaggerFirstEpisode(Endless(), limit=1, seed=0).first_length == 1
    assert {StaggerFirstEpisode(Endless(), limit=3, seed=seed).first_length for seed in range(60)} == {1, 2, 3}


class EndsAt(Endless):
    """Terminates at step ``n`` of each episode."""

    def __init__(self, n: int) -> None:
        self.n, self.steps = n, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        self.steps = 0
        return super().reset(seed=seed)

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        self.steps += 1
        return 0, 0.0, self.steps >= self.n, False, {}


def test_a_first_episode_that_terminates_on_its_drawn_length_is_not_truncated() -> None:
    # the episode ended because the game did: a truncation beside it would have the learner bootstrap its value
    length = StaggerFirstEpisode(Endless(), limit=50, seed=3).first_length  # the draw depends on the seed alone
    env = StaggerFirstEpisode(EndsAt(length), limit=50, seed=3)
    env.reset(seed=0)
    ends = [env.step(0)[2:4] for _ in range(length)]
    assert ends == [(False, False)] * (length - 1) + [(True, False)]
