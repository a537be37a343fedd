"""The agent interface and the registry of agents the command line knows.

An agent sees what the env gives (observation and info) and returns one action per step. Agents that need
privileged state (the oracle) say so with ``privileged = True`` and read ``env.unwrapped.game``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Protocol

import gymnasium as gym


class Agent(Protocol):
    """Chooses buttons. ``obs_mode`` is the observation it wants from the env."""

    name: str
    obs_mode: str

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        """Called at the start of each episode."""

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        """The action (a Button value, or 8 for no-op in envs made with ``noop=True``)."""


def check_agent_env(agent: Agent, env: gym.Env) -> None:
    """``ValueError`` (one line) when ``agent`` cannot play ``env``: its ``check_env``, for the agents that have one
    (those that read one game's view or state). ``longplay run`` asks before the run starts; ``reset`` asks too."""
    check = getattr(agent, "check_env", None)
    if check is not None:
        check(env)


#: agent name -> "module:Class". Classes take keyword arguments only.
AGENTS: dict[str, str] = {
    "random": "longplay.agents.baselines:RandomAgent",
    "explorer": "longplay.agents.baselines:ExplorerAgent",
    "oracle": "longplay.agents.oracle:OracleAgent",
    "ppo": "longplay.agents.rl.policy_agent:PPOAgent",
}

#: Agents whose class takes ``checkpoint=`` (a policy to load); the others have nothing to load.
CHECKPOINT_AGENTS = frozenset({"ppo"})

#: Agents that run their own loop (by model turns, with budgets and resume) rather than per step.
LOOP_AGENTS = {"lm": "longplay.agents.lm.cli:run_lm"}


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Builds the agent called ``name``; raises ``ValueError`` listing the valid names."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; valid agents: {', '.join(sorted({*AGENTS, *LOOP_AGENTS}))}")
    module, cls = AGENTS[name].split(":")
    agent_class = getattr(importlib.import_module(module), cls)
    taken = inspect.signature(agent_class).parameters
    unknown = [key for key in kwargs if key not in taken]
    if unknown:  # the random agent took checkpoint= and played on as if it had loaded a policy
        raise ValueError(f"agent {name!r} takes no option {unknown[0]!r}"
                         + (f"; valid: {', '.join(taken)}" if taken else ""))
    return agent_class(**kwargs)
