"""Runs an agent on an env for a number of steps: the loop behind ``longplay run``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from longplay.agents.base import Agent
from longplay.replays.recorder import sigint_held
from longplay.replays.verify import counted

if TYPE_CHECKING:
    from longplay.envs.game import Milestone


@dataclass
class EpisodeResult:
    """What one episode of a run reached, counted against its own world's catalog."""

    seed: int
    catalog: tuple[Milestone, ...] = ()  # the env's catalog in this episode (longplay/Quest-v0: a world per seed)
    steps: int = 0
    milestones: dict[str, int] = field(default_factory=dict)  # id -> step reached, within the episode


@dataclass
class RunResult:
    """What one run reached."""

    steps: int = 0
    episodes: int = 0
    reward: float = 0.0
    milestones: dict[str, int] = field(default_factory=dict)  # id -> first step reached (whole run)
    finished: bool = False
    seconds: float = 0.0
    episode_results: list[EpisodeResult] = field(default_factory=list)  # one per episode played, in order


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
    episode = _begin_episode(env, result, seed, info, 0)
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
                episode.steps += 1
                result.reward += float(reward)
                for milestone in info.get("new_milestones", ()):
                    result.milestones.setdefault(milestone, offset + info["step"])
                    episode.milestones.setdefault(milestone, info["step"])
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
                    episode = _begin_episode(env, result, seed + result.episodes, info, offset)
        finally:
            bar.close()
    if episode_open:
        result.episodes += 1
    result.seconds = time.perf_counter() - start
    return result


def _begin_episode(env: gym.Env, result: RunResult, seed: int, info: dict[str, Any], offset: int) -> EpisodeResult:
    """The new episode's record, with what its start (a start state) already holds at its step 0."""
    episode = EpisodeResult(seed, tuple(getattr(env.unwrapped, "catalog", ())))
    result.episode_results.append(episode)
    for milestone, step in info.get("milestones", {}).items():
        episode.milestones.setdefault(milestone, step)
        result.milestones.setdefault(milestone, offset + step)
    return episode


def milestone_table(env: gym.Env, result: RunResult) -> str:
    """A plain table of the catalog: each milestone with the step it was first reached, or '-'.

    When the episodes played worlds with different catalogs (``longplay/Quest-v0``: a world per reset seed), one
    id may name another milestone in each, or none: the table is then the first episode's, in its own steps, and
    each later episode gets a line counted against its own catalog."""
    catalogs = [e.catalog for e in result.episode_results]
    rate = f"{result.steps / max(result.seconds, 1e-9):,.0f} steps/s"
    if len(catalogs) < 2 or all(c == catalogs[0] for c in catalogs):
        catalog = catalogs[0] if catalogs else getattr(env.unwrapped, "catalog", ())
        rows = _table(catalog, result.milestones)
        rows.append(f"{_reached(catalog, result.milestones)} in {counted(result.steps, 'step')} ({rate})")
        return "\n".join(rows)
    first, *later = result.episode_results
    rows = [f"episode 1 of {len(result.episode_results)} (seed {first.seed}):"]
    rows += _table(first.catalog, first.milestones)
    rows.append(f"{_reached(first.catalog, first.milestones)} in {counted(first.steps, 'step')}")
    for number, episode in enumerate(later, start=2):
        line = (f"episode {number} (seed {episode.seed}): {_reached(episode.catalog, episode.milestones)} in "
                f"{counted(episode.steps, 'step')}")
        names = {m.id: m.name for m in episode.catalog}
        if episode.milestones:
            latest = max(episode.milestones, key=episode.milestones.__getitem__)
            line += f"; latest: {names.get(latest, latest)} (step {episode.milestones[latest]})"
        rows.append(line)
    rows.append(f"{result.steps} steps in {len(result.episode_results)} episodes ({rate}); the episodes played "
                "different worlds, so each is counted against its own catalog")
    return "\n".join(rows)


def _table(catalog: Sequence[Milestone], milestones: dict[str, int]) -> list[str]:
    rows = [f"{'#':>3}  {'tier':>4}  {'step':>9}  milestone"]
    for i, m in enumerate(catalog):
        step = milestones.get(m.id)
        rows.append(f"{i + 1:>3}  {m.tier:>4}  {step if step is not None else '-':>9}  {m.name}")
    return rows


def _reached(catalog: Sequence[Milestone], milestones: dict[str, int]) -> str:
    return f"reached {sum(1 for m in catalog if m.id in milestones)}/{len(catalog)} milestones"
