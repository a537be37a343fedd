"""Every longplay wrapper as Gymnasium's own wrappers are: recorded in ``env.spec``, so ``check_env`` (which
remakes the env from its spec to check render modes) and ``gym.make(env.spec)`` rebuild the whole stack."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import longplay.envs  # noqa: F401 - registers the ids
from longplay.envs.wrappers import ButtonSubset, PixelPreprocess, RewardShaping, StackFrames, StaggerFirstEpisode
from longplay.envs.wrappers.shaping import ShapingWeights

WRAPPERS: dict[str, tuple[str, Callable[[gym.Env], gym.Env]]] = {
    "shaping preset": ("symbolic", lambda e: RewardShaping(e, "pokemonred-v2")),
    "shaping weights": ("symbolic", lambda e: RewardShaping(e, ShapingWeights(novelty=0.5, level_cap=3))),
    "pixels": ("pixels", lambda e: PixelPreprocess(e, grayscale=True, downsample=4)),
    "stack": ("pixels+symbolic", lambda e: StackFrames(e, 2)),
    "buttons": ("symbolic", lambda e: ButtonSubset(e, "up,down,a")),
    "stagger": ("symbolic", lambda e: StaggerFirstEpisode(e, limit=50, seed=0)),
    "all": ("pixels", lambda e: StaggerFirstEpisode(StackFrames(PixelPreprocess(ButtonSubset(RewardShaping(
        e, "novelty,level=1"), (0, 1, 4)), False, 2), 3), limit=20, seed=1)),
}


def _equal(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b))


@pytest.mark.parametrize("name", WRAPPERS)
def test_check_env_with_its_render_check_passes_through_every_wrapper(name: str) -> None:
    obs_mode, wrap = WRAPPERS[name]
    env = wrap(gym.make("longplay/QuestMini-v0", obs_mode=obs_mode, render_mode="rgb_array"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version")
        check_env(env)  # skip_render_check=False: remakes the env from env.spec with each render mode
    env.close()


@pytest.mark.parametrize("name", WRAPPERS)
def test_the_spec_rebuilds_the_same_stack(name: str) -> None:
    obs_mode, wrap = WRAPPERS[name]
    env = wrap(gym.make("longplay/QuestMini-v0", obs_mode=obs_mode))
    for spec in (env.spec, gym.envs.registration.EnvSpec.from_json(env.spec.to_json())):
        again = gym.make(spec)
        assert str(again) == str(env) and again.observation_space == env.observation_space
        assert again.action_space == env.action_space
        a, b = env.reset(seed=5)[0], again.reset(seed=5)[0]
        for _ in range(4):
            a, b = env.step(1)[0], again.step(1)[0]
        assert _equal(a, b)
        again.close()
    env.close()
