"""Runs an agent on an env for a number of steps: the loop behind ``longplay run``."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import gymnasium as gym

from longplay.agents.base import Agent


@dataclass
class RunResult:
    """What one run reached."""

    steps: int = 0
    episodes: int = 0
    reward: float = 0.0
    milestones: dict[str, int] = field(default_factory=dict)  # id -> first step reached (whole run)
    finished: bool = False
    seconds: float = 0.0


@contextlib.contextmanager
def _interrupt_between_steps() -> Iterator[list[bool]]:
    """Holds the first Ctrl+C (SIGINT) until the step under way is done: yields a flag the loop checks between
    steps, leaving the loop when it is set; the held signal then goes to the handler that was there (Python's
    raises ``KeyboardInterrupt``; a sweep worker's stops its cell). Raised inside a step, it left the game one
    press ahead of the actions a replay recorder had buffered (or halfway through a press), so the hash the
    recorder took as it closed matched no recorded state and ``verify`` failed the run. A second Ctrl+C goes to
    that handler at once. Nothing is held outside the main thread (signals arrive there only) or where SIGINT is
    ignored."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield [False]
        return
    flag = [False]

    def deliver() -> None:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    def hold(signum: int, frame: object) -> None:
        if flag[0]:  # asked twice: now, wherever the loop is
            signal.signal(signal.SIGINT, previous)
            deliver()
        flag[0] = True

    signal.signal(signal.SIGINT, hold)
    try:
        yield flag
    finally:
        if signal.getsignal(signal.SIGINT) is hold:  # (a handler that ran may have set another one)
            signal.signal(signal.SIGINT, previous)
    if flag[0]:
        deliver()


def run(env: gym.Env, agent: Agent, steps: int, seed: int = 0, progress: bool = True,
        stop_when_finished: bool = True) -> RunResult:
    """Steps ``agent`` on ``env`` for ``steps`` button presses (resetting when an episode ends). Ctrl+C stops it
    between two steps (``KeyboardInterrupt``), so a recorded replay ends on a whole step."""
    from tqdm import tqdm

    result = RunResult()
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    agent.reset(env, obs, info, seed)
    offset = 0  # steps taken in earlier episodes
    episode_open = True
    bar = tqdm(total=steps, disable=not progress, unit="step", dynamic_ncols=True, leave=False)
    with _interrupt_between_steps() as interrupted:
        try:
            while result.steps < steps:
                if interrupted[0]:
                    break  # Ctrl+C during the last step: it reaches its handler as the loop's context ends
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
                    obs, info = env.reset(seed=seed + result.episodes)
                    agent.reset(env, obs, info, seed + result.episodes)
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


