"""Fixtures shared across the test packages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


@pytest.fixture(scope="session")
def oracle_state() -> Callable[..., tuple[bytes, dict[str, int]]]:
    """``oracle_state(env_id="longplay/QuestMini-v0", *, milestones=N | steps=N, seed=0, **env_kwargs)``: the
    save state after the oracle plays a quest env from the reset ``seed`` until it holds ``milestones``
    milestones, or for ``steps`` presses, and the milestones reached by then (id -> step)."""

    def play(env_id: str = "longplay/QuestMini-v0", *, milestones: int | None = None, steps: int | None = None,
             seed: int = 0, **env_kwargs: object) -> tuple[bytes, dict[str, int]]:
        import gymnasium as gym

        import longplay.envs  # noqa: F401  (registers the ids)
        from longplay.agents.base import make_agent

        assert (milestones is None) != (steps is None), "give milestones or steps"
        env = gym.make(env_id, obs_mode="symbolic", **env_kwargs)
        agent = make_agent("oracle")
        obs, info = env.reset(seed=seed)
        agent.reset(env, obs, info, seed)
        pressed = 0
        while len(info["milestones"]) < (milestones or 0) or pressed < (steps or 0):
            obs, _, _, _, info = env.step(agent.act(obs, info))
            pressed += 1
        data = env.unwrapped.game.save_state()
        env.close()
        return data, dict(info["milestones"])

    return play


@pytest.fixture
def eager_compile(monkeypatch: pytest.MonkeyPatch) -> list[Callable]:
    """``torch.compile`` on the eager backend with ``fullgraph=True`` for the test (it traces as inductor does,
    graph breaks included, but compiles in seconds); returns the list of the functions compiled."""
    compiled: list[Callable] = []
    real = torch.compile

    def eager_backend(fn: Callable, **kwargs: object) -> Callable:
        compiled.append(fn)
        return real(fn, backend="eager", fullgraph=True)

    monkeypatch.setattr(torch, "compile", eager_backend)
    return compiled
