"""The baselines: the explorer makes real progress from the symbolic view alone; both are deterministic."""

from __future__ import annotations

import gymnasium as gym

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.agents.baselines import ExplorerAgent, RandomAgent


def _play(agent, steps: int, seed: int = 0) -> dict[str, int]:
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic", max_episode_steps=None)
    obs, info = env.reset(seed=seed)
    agent.reset(env, obs, info, seed)
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        if terminated or truncated:
            break
    return dict(info["milestones"])


def test_explorer_takes_a_partner_and_leaves_town() -> None:
    # It walks out of the house, finds the capsule table and talks to it, and does not loop through a door.
    reached = _play(ExplorerAgent(), 2_500)
    assert {"left_house", "got_partner"} <= set(reached)
    assert len(reached) >= 4, reached


def test_baselines_are_deterministic() -> None:
    for make in (ExplorerAgent, RandomAgent):
        assert _play(make(), 1_500, seed=3) == _play(make(), 1_500, seed=3)
