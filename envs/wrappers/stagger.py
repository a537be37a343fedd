"""Staggered episode ends for vectorised training.

Envs that start together and are truncated after the same number of steps stay in lockstep for the whole
run: late in every round all of them are far from the start, the rollouts hold no early-game states, and a
policy forgets the way out of the start (seen on QuestMini with the device learner, docs/rl.md).
:class:`StaggerFirstEpisode` truncates an env's first episode after a random number of steps (from 1 to the
time limit, drawn from its own seed), so the envs of a vector spread over episode ages at once; every later
episode runs to the time limit as usual.

>>> import gymnasium as gym
>>> env = StaggerFirstEpisode(gym.make("CartPole-v1", max_episode_steps=500), limit=500, seed=3)
>>> env.first_length
406
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from longplay.envs.checks import is_whole


class StaggerFirstEpisode(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Truncates the first episode after ``first_length`` steps (drawn uniformly from 1 to ``limit``).

    Args:
        env: Any env (usually with a time limit of ``limit`` steps).
        limit: The episodes' time limit; ``first_length`` is drawn from ``1..limit``.
        seed: Seeds the draw, a whole number >= 0 (each env of a vector passes its own).
    """

    def __init__(self, env: gym.Env, limit: int, seed: int) -> None:
        if not is_whole(limit):
            raise ValueError(f"StaggerFirstEpisode needs a whole number of steps as limit, got {limit!r}")
        limit = int(limit)  # 500.0 draws as 500 does
        if limit < 1:
            raise ValueError(f"StaggerFirstEpisode needs a time limit of at least 1 step, got {limit}")
        # numpy takes only ints (and None, which would draw unseeded): 1.5 or "3" raised its TypeError
        if not is_whole(seed) or seed < 0:
            raise ValueError(f"StaggerFirstEpisode needs a whole number >= 0 as seed, got {seed!r}")
        seed = int(seed)  # 7.0 draws as 7 does
        gym.utils.RecordConstructorArgs.__init__(self, limit=limit, seed=seed)
        gym.Wrapper.__init__(self, env)
        self.first_length = int(np.random.default_rng(seed).integers(1, limit + 1))
        self._steps: int | None = 0  # steps of the first episode; None once it is over

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if self._steps is not None and self._steps > 0:
            self._steps = None  # the first episode ended: later ones run to the time limit
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._steps is not None:
            self._steps += 1
            if self._steps >= self.first_length and not terminated:
                truncated = True
        return obs, reward, terminated, truncated, info
