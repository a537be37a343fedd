"""How often a policy reaches each milestone from the world's start, over many episodes at once.

The evaluation during training plays two episodes on the reference env: enough to see where a policy goes,
too few for a rate. :func:`milestone_rates` plays the first episode of each of ``episodes`` envs of the
batched engine (the reference engine's rules, checked step for step by the parity tests) for up to ``steps``
steps, sampling the policy's actions as ``longplay run --agent ppo`` does, and returns the step at which each
episode first reached each milestone. It is what ``benchmarks/rl_policy_milestones.py`` prints and what
``longplay train --select-episodes N`` scores checkpoints by (``checkpoints/best.pt``).

>>> from longplay.agents.rl.policy_agent import DEFAULT_CHECKPOINT, load_policy   # doctest: +SKIP
>>> engine = BatchedQuest(128, size="mini", max_episode_steps=None)              # doctest: +SKIP
>>> rates = milestone_rates(load_policy(DEFAULT_CHECKPOINT), engine)             # doctest: +SKIP
>>> rates.rate("badge_1"), rates.median_step("badge_1")                           # doctest: +SKIP
(0.9296875, 2022)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

#: Episode ``i`` of a rate resets with this seed plus ``i`` (apart from the training envs' and evaluation's).
RATES_SEED = 20_000
#: ``--select-episodes`` plays other episodes, so the rates of the checkpoint it keeps, measured with
#: ``RATES_SEED`` (``benchmarks/rl_policy_milestones.py``), are not the ones it was chosen by.
SELECT_SEED = 30_000


def play(policy: Any, engine: Any, steps: int, seed: int) -> Iterator[tuple[int, dict, torch.Tensor, dict]]:
    """Plays ``policy`` (a :class:`~longplay.agents.rl.policy_agent.LoadedPolicy`) on every env of ``engine``
    (a ``BatchedQuest``) for ``steps`` steps from a reset (env ``i``'s first episode has seed ``seed + i``),
    sampling its actions from a generator seeded with ``seed`` (the global RNG is not touched). Yields
    ``(step, obs, done, info)`` after each step (``step`` from 1; ``done``: the episodes that ended, terminated or
    truncated; ``info``: the engine's); the policy's buttons are mapped with ``button_subset``, as in training."""
    from longplay.envs.wrappers.buttons import button_subset

    presses = torch.tensor(button_subset(policy.config.buttons or tuple(range(8)), 8), device=engine.device)
    obs = engine.reset(seed=seed)
    sampler = torch.Generator(device=engine.device).manual_seed(seed)
    for step in range(1, steps + 1):
        with torch.no_grad():
            logits, _ = policy.net(obs)
        action = torch.multinomial(torch.softmax(logits.float(), 1), 1, generator=sampler).squeeze(1)
        obs, _, terminated, truncated, info = engine.step(presses[action])
        yield step, obs, terminated | truncated, info


@dataclass
class MilestoneRates:
    """Where ``episodes`` episodes of up to ``steps`` steps from the world's start got.

    Attributes:
        names: The world's milestones, in catalog order.
        first: ``(episodes, milestones)``: the step each episode first reached each milestone, -1 if never.
        steps: The steps each episode had.
        finish: The milestone that finishes the world and ends the episode (QuestMini's ``badge_1``), if any.
    """

    names: list[str]
    first: torch.Tensor
    steps: int
    finish: str | None = None

    @property
    def episodes(self) -> int:
        """How many episodes were played."""
        return int(self.first.shape[0])

    @property
    def mean(self) -> float:
        """Milestones per episode."""
        return float((self.first >= 0).sum()) / self.episodes

    @property
    def finished(self) -> float:
        """The fraction of episodes that finished the world (0 when it has no finishing milestone)."""
        return self.rate(self.finish) if self.finish else 0.0

    @property
    def score(self) -> tuple[float, float]:
        """What ``--select-episodes`` keeps the best checkpoint by: the finished fraction, then milestones per
        episode (the finish ends the episode, so a policy that finishes cannot also collect the milestones it
        skipped: on QuestMini a catch instead of the badge would otherwise count as much)."""
        return self.finished, self.mean

    def rate(self, name: str) -> float:
        """The fraction of episodes that reached milestone ``name``."""
        return float((self.first[:, self.names.index(name)] >= 0).float().mean())

    def median_step(self, name: str) -> int | None:
        """The median step at which the episodes that reached ``name`` reached it (None: none did)."""
        steps = self.first[:, self.names.index(name)]
        steps = steps[steps >= 0]
        return int(steps.float().median()) if len(steps) else None

    def as_dict(self) -> dict[str, Any]:
        """For JSON: episodes, steps, finish, finished, mean, and per milestone its rate and median step."""
        return {"episodes": self.episodes, "steps": self.steps, "finish": self.finish, "finished": self.finished,
                "mean": self.mean,
                "milestones": {n: {"rate": self.rate(n), "median_step": self.median_step(n)} for n in self.names}}

    def table(self) -> str:
        """One line per milestone: the fraction of episodes that reached it and the median step."""
        lines = [f"{'milestone':<24} {'reached':>9} {'median step':>12}"]
        for name in self.names:
            median = self.median_step(name)
            lines.append(f"{name:<24} {self.rate(name):>9.1%} {f'{median:,}' if median is not None else '-':>12}")
        return "\n".join(lines)


def milestone_slots(engine: Any) -> tuple[list[str], torch.Tensor]:
    """The milestone ids of ``engine``'s worlds (a ``BatchedQuest``), and where each env's milestone columns
    (``info["milestones_reached"]``, ``state.events``) count among them.

    Worlds of a pool (``world_seeds``) have catalogs of their own (mini world 0's third milestone is
    ``reached_kelglen_lane``, world 1's ``reached_zelwind_path``; standard worlds differ in length too), so the
    ids are world 0's catalog then the others' new ids (as the SB3 learner's), and ``slots`` (long, on the CPU,
    ``[num_envs, milestone_columns]``) holds at ``[i, j]`` the index in ids of env ``i``'s column ``j``:
    ``len(ids)`` for a column past its world's catalog (a slot no one reads).
    """
    catalogs = [world.milestone_ids for world in engine.worlds]
    ids = list(dict.fromkeys(m for catalog in catalogs for m in catalog))
    columns = max(len(catalog) for catalog in catalogs)
    slot = {m: i for i, m in enumerate(ids)}
    by_world = torch.tensor([[slot[m] for m in catalog] + [len(ids)] * (columns - len(catalog))
                             for catalog in catalogs])
    return ids, by_world[torch.as_tensor(engine.world_of, dtype=torch.long)]


def rates_engine(config: Any, episodes: int, device: str = "cpu") -> Any:
    """A ``BatchedQuest`` of ``episodes`` envs, never truncated, on the world a run of ``config`` (a
    :class:`~longplay.agents.rl.config.TrainConfig`, the policy's) trained on: its env's size, ``world_seed``,
    ``world`` and palette. ``ValueError`` (one line) for a run the engine cannot play (not quest, or an env
    option such as ``noop`` it does not take)."""
    from longplay.agents.rl.batched import quest_engine_kwargs
    from longplay.envs.quest.batched import BatchedQuest

    # max_episode_steps=None: never truncated (make_engine reads None as the env's default)
    return BatchedQuest(episodes, max_episode_steps=None, device=device, **quest_engine_kwargs(config))


def milestone_rates(policy: Any, engine: Any, steps: int = 4096, seed: int = RATES_SEED) -> MilestoneRates:
    """Plays the first episode of every env of ``engine`` (a ``BatchedQuest`` built with
    ``max_episode_steps=None``, one env per episode) for up to ``steps`` steps and records when each reached
    each milestone (an episode's last step included, which the same-step reset clears from the engine's state:
    its ``info["milestones_reached"]`` holds it). Stops early once every episode has ended (terminated, or cut by
    an engine that truncates). Deterministic for a given seed. On a pool of worlds each env's milestones count
    by id (:func:`milestone_slots`); a milestone of some worlds only is reached by none of the others' episodes.

    Raises ``ValueError`` (one line) for a policy that reads pixels (the engine here gives the symbolic view),
    and for a pool whose worlds finish at milestones of different ids."""
    if policy.config.obs_mode != "symbolic":
        raise ValueError(f"milestone rates play symbolic policies; this one reads {policy.config.obs_mode}")
    names, slots = milestone_slots(engine)
    finishes = {world.milestone_ids[world.ev_finish] for world in engine.worlds
                if 0 <= world.ev_finish < len(world.milestone_ids)}
    if len(finishes) > 1:
        raise ValueError(f"milestone rates need one finishing milestone; the worlds finish at {sorted(finishes)}")
    n, columns = slots.shape
    first = torch.full((n, columns), -1, dtype=torch.long, device=engine.device)  # by env's own columns
    live = torch.ones(n, dtype=torch.bool, device=engine.device)  # still in its first episode
    for step, _, done, info in play(policy, engine, steps, seed):
        reached = info["milestones_reached"][:, :columns]
        first = torch.where(reached & (first < 0) & live[:, None], step, first)
        live &= ~done
        if step % 64 == 0 and not bool(live.any()):  # (a host sync, so only now and then)
            break
    by_id = torch.full((n, len(names) + 1), -1, dtype=torch.long)  # (the last: columns past a world's catalog)
    by_id.scatter_(1, slots, first.cpu())
    return MilestoneRates(names, by_id[:, :-1], steps, finishes.pop() if finishes else None)
