"""The checks evaluation runs before training starts."""

from __future__ import annotations

import gymnasium as gym

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.evaluation import check_env_settings


def test_an_env_factory_may_build_an_env_that_is_not_registered() -> None:
    """check_env_settings checked the options against the registered id even with a factory, which may build
    another env: an id only the factory knows was a KeyError traceback."""
    built = []

    def factory(config: TrainConfig) -> gym.Env:
        built.append(config.env_id)
        return gym.make("longplay/QuestMini-v0", max_episode_steps=config.eval_steps)

    config = TrainConfig(env_id="mine/Custom-v0", env_kwargs={"difficulty": 3}, vec_env="dummy")
    check_env_settings(config, factory)
    assert built == ["mine/Custom-v0"]
