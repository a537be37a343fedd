"""The run loop behind ``longplay run``: steps, episodes and the milestones of the whole run."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces

from longplay.agents.runner import run


class EpisodesEnv(gym.Env):
    """Episodes of ``length`` steps; episode ``e`` (counted from 0) reaches milestone ``m{e}`` at its step 2 and
    ends there: terminated (the game finished) in the episodes listed in ``finish``, else truncated at
    ``length``."""

    observation_space = spaces.Discrete(1)
    action_space = spaces.Discrete(2)

    def __init__(self, length: int = 3, finish: tuple[int, ...] = ()) -> None:
        self.length, self.finish, self.episode, self.steps = length, finish, -1, 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.episode, self.steps = self.episode + 1, 0
        return 0, {"step": 0, "milestones": {}, "new_milestones": ()}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        self.steps += 1
        new = (f"m{self.episode}",) if self.steps == 2 else ()
        finished = self.episode in self.finish and self.steps == 2
        info = {"step": self.steps, "milestones": {}, "new_milestones": new}
        return 0, float(len(new)), finished, not finished and self.steps >= self.length, info


class FirstButton:
    name, obs_mode = "first", "symbolic"

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        return 0


def test_milestones_of_the_run_count_steps_from_the_start_of_the_run() -> None:
    """``RunResult.milestones`` is each milestone's first step in the whole run (what the table prints), and each
    episode's result counts within its episode."""
    result = run(EpisodesEnv(), FirstButton(), steps=9, progress=False)
    assert (result.steps, result.episodes, result.reward) == (9, 3, 3.0)
    assert result.milestones == {"m0": 2, "m1": 5, "m2": 8}
    assert [e.milestones for e in result.episode_results] == [{"m0": 2}, {"m1": 2}, {"m2": 2}]


def test_a_run_that_goes_on_after_finishing_the_game_still_finished_it() -> None:
    result = run(EpisodesEnv(finish=(0,)), FirstButton(), steps=5, progress=False, stop_when_finished=False)
    assert result.steps == 5 and result.episodes == 2  # the second episode was truncated at its step 3
    assert result.finished
