"""The checks evaluation runs before training starts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import pytest

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


def test_an_evaluations_scalars_are_the_means_of_its_episodes(tmp_path: Path) -> None:
    """``charts/eval/...`` are means over the evaluation's episodes, whose lines ``eval.jsonl`` holds; ``progress`` is
    the fraction of the world's milestone catalog reached."""
    from longplay.agents.rl.evaluation import evaluate, read_evals
    from longplay.agents.rl.policy_agent import DEFAULT_CHECKPOINT, load_policy

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint in this checkout")
    policy = load_policy(DEFAULT_CHECKPOINT)
    config = dataclasses.replace(policy.config, eval_episodes=2, eval_steps=300, record_eval=False)
    scalars = evaluate(policy, config, step=64, run_dir=tmp_path, run_name="r")
    lines = read_evals(tmp_path)
    assert [(line["step"], line["episode"]) for line in lines] == [(64, 0), (64, 1)]
    catalog = len(gym.make(config.env_id).unwrapped.catalog)
    reached = [len(line["milestones"]) for line in lines]
    assert sum(reached) > 0  # (random presses leave the house: the means below are not of zeros)
    assert scalars["charts/eval/milestones"] == pytest.approx(sum(reached) / 2)
    assert scalars["charts/eval/progress"] == pytest.approx(sum(reached) / catalog / 2)
    assert scalars["charts/eval/return"] == pytest.approx(sum(line["return"] for line in lines) / 2)
    assert scalars["charts/eval/finished"] == pytest.approx(sum(line["finished"] for line in lines) / 2)
