"""Runs an agent on an env for a number of steps: the loop behind ``longplay run``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from longplay.agents.base import Agent
from longplay.replays.recorder import sigint_held


@dataclass
class RunResult:
    """What one run reached."""

    steps: int = 0
    episodes: int = 0
    reward: float = 0.0
    milestones: dict[str, int] = field(default_factory=dict)  # id -> first step reached (whole run)
    finished: bool = False
    seconds: float = 0.0


def run(env: gym.Env, agent: Agent, steps: int, seed: int = 0, progress: bool = True,
        stop_when_finished: bool = True, options: dict[str, Any] | None = None) -> RunResult:
    """Steps ``agent`` on ``env`` for ``steps`` button presses (resetting when an episode ends). Ctrl+C stops it
    between two steps (``KeyboardInterrupt``), so a recorded replay ends on a whole step. Every reset gets
    ``options`` (``{"state": bytes}``: each episode starts from that save state)."""
    from tqdm import tqdm

    result = RunResult()
    start = time.perf_counter()
    obs, info = env.reset(seed=seed, options=options)
    agent.reset(env, obs, info, seed)
    result.milestones.update(info.get("milestones", {}))  # what a start state already holds: step 0
    offset = 0  # steps taken in earlier episodes
    episode_open = True
    bar = tqdm(total=steps, disable=not progress, unit="step", dynamic_ncols=True, leave=False)
    # Ctrl+C waits for the step under way: raised inside it, it left the game a press ahead of the actions a
    # replay recorder had buffered (or halfway through a press), the recorder closed on a state hash no recorded
    # step has, and verify failed the run. The held signal reaches its handler (Python's, a sweep worker's) as
    # the loop's block ends; a second one goes at once.
    with sigint_held(second_goes_through=True) as interrupted:
        try:
            while result.steps < steps:
                if interrupted[0]:
                    break  # Ctrl+C during the last step
                obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
                result.steps += 1
                result.reward += float(reward)
                for milestone in info.get("new_milestones", ()):
                    result.milestones.setdefault(milestone, offset + info["step"])
                    bar.set_postfix_str(f"{len(result.milestones)} milestones, last: {milestone}")
                if result.steps % 256 == 0:
                    bar.update(256)
                if terminated or truncated:
                    result.episodes += 1
                    episode_open = False
                    result.finished = result.finished or bool(terminated)
                    if (terminated and stop_when_finished) or result.steps >= steps:
                        break  # no new episode on the last step: it would be empty
                    episode_open = True
                    offset = result.steps
                    obs, info = env.reset(seed=seed + result.episodes, options=options)
                    agent.reset(env, obs, info, seed + result.episodes)
                    for milestone, step in info.get("milestones", {}).items():
                        result.milestones.setdefault(milestone, offset + step)
        finally:
            bar.close()
    if episode_open:
        result.episodes += 1
    result.seconds = time.perf_counter() - start
    return result


def milestone_table(env: gym.Env, result: RunResult) -> str:
    """A plain table of the catalog: each milestone with the step it was first reached, or '-'."""
    catalog = getattr(env.unwrapped, "catalog", ())
    rows = [f"{'#':>3}  {'tier':>4}  {'step':>9}  milestone"]
    for i, m in enumerate(catalog):
        step = result.milestones.get(m.id)
        rows.append(f"{i + 1:>3}  {m.tier:>4}  {step if step is not None else '-':>9}  {m.name}")
    reached = sum(1 for m in catalog if m.id in result.milestones)
    rows.append(f"reached {reached}/{len(catalog)} milestones in {result.steps} steps "
                f"({result.steps / max(result.seconds, 1e-9):,.0f} steps/s)")
    return "\n".join(rows)


