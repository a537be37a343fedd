"""Reference numbers of the quest game: how fast the oracle finishes, and how far the baselines get.

Prints three tables:

1. the oracle's step count for every milestone of the canonical standard world (``longplay/QuestCanon-v0``);
2. the oracle over procedural worlds of every size: how many finish and the median steps to finish;
3. the random agent and the explorer on the canonical world: milestones reached in a step budget (median
   over seeds) and the step at which each milestone was first reached.

Usage::

    .venv/bin/python benchmarks/oracle_reference.py            # 20 worlds per size, 100,000 baseline steps
    .venv/bin/python benchmarks/oracle_reference.py --quick    # 3 worlds per size, 10,000 baseline steps
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import gymnasium as gym
from _args import positive_int

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.agents.baselines import ExplorerAgent, RandomAgent
from longplay.agents.oracle import reference_run
from longplay.agents.runner import run

CANON = "longplay/QuestCanon-v0"
SIZES = ("mini", "small", "standard")
MAX_STEPS = {"mini": 50_000, "small": 400_000, "standard": 2_000_000}


@dataclass
class Args:
    """Command-line arguments."""

    seeds: int = 20
    """Procedural worlds per size (world seeds 0 .. seeds-1)."""
    baseline_steps: int = 100_000
    """Steps per baseline run on the canonical world."""
    baseline_seeds: int = 5
    """Baseline runs per agent (the median is reported)."""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 worlds per size, 10,000 baseline steps")
    parser.add_argument("--seeds", type=positive_int, default=None, help="procedural worlds per size")
    parser.add_argument("--baseline-steps", type=positive_int, default=None, help="steps per baseline run")
    parser.add_argument("--baseline-seeds", type=positive_int, default=None, help="baseline runs per agent")
    ns = parser.parse_args()
    args = Args(seeds=3, baseline_steps=10_000, baseline_seeds=3) if ns.quick else Args()
    if ns.seeds is not None:
        args.seeds = ns.seeds
    if ns.baseline_steps is not None:
        args.baseline_steps = ns.baseline_steps
    if ns.baseline_seeds is not None:
        args.baseline_seeds = ns.baseline_seeds
    return args


def canonical_table() -> None:
    """(1) The oracle on the canonical world, milestone by milestone."""
    result = reference_run(CANON, seed=0, max_steps=MAX_STEPS["standard"])
    env = gym.make(CANON)
    names = {m.id: m.name for m in env.unwrapped.catalog}  # type: ignore[attr-defined]
    env.close()
    print(f"== oracle on {CANON} (seed 0): the step each milestone was first reached, in catalog order")
    print("   (nth: its rank in time; since: steps after the milestone reached just before it)")
    print(f"{'#':>3}  {'step':>9}  {'nth':>4}  {'since':>7}  milestone")
    times = sorted(result["milestones"].values())
    for i, milestone in enumerate(result["catalog"]):
        step = result["milestones"].get(milestone)
        if step is None:
            print(f"{i + 1:>3}  {'-':>9}  {'':>4}  {'':>7}  {names[milestone]}")
            continue
        nth = times.index(step)
        since = step - times[nth - 1] if nth > 0 else step
        print(f"{i + 1:>3}  {step:>9,}  {nth + 1:>4}  {since:>7,}  {names[milestone]}")
    print(f"finished: {result['finished']} in {result['steps']:,} steps, {result['seconds']:.1f} s wall "
          f"({result['steps'] / max(result['seconds'], 1e-9):,.0f} steps/s); oracle stats: {result['stats']}")


def procedural_table(seeds: int) -> None:
    """(2) The oracle over procedural worlds of each size."""
    print(f"\n== oracle over procedural worlds (world seeds 0..{seeds - 1}, reset seed = world seed)")
    print(f"{'size':<9} {'finished':>9} {'median steps':>13} {'max steps':>10} {'median s':>9} {'total s':>8}"
          "  failed seeds")
    for size in SIZES:
        start = time.perf_counter()
        results = [reference_run({"size": size, "world_seed": seed}, seed=seed, max_steps=MAX_STEPS[size])
                   for seed in range(seeds)]
        done = [r for r in results if r["finished"]]
        failed = [seed for seed, r in enumerate(results) if not r["finished"]]
        steps = [r["steps"] for r in done]
        median = f"{statistics.median(steps):,.0f}" if steps else "-"
        most = f"{max(steps):,}" if steps else "-"
        wall = statistics.median(r["seconds"] for r in results)
        print(f"{size:<9} {len(done):>4}/{seeds:<4} {median:>13} {most:>10} {wall:>9.2f} "
              f"{time.perf_counter() - start:>8.1f}  {failed or ''}")


def baseline_table(steps: int, seeds: int) -> None:
    """(3) Random and explorer agents on the canonical world within a step budget."""
    print(f"\n== baselines on {CANON}: {steps:,} steps, median over seeds 0..{seeds - 1}")
    for agent_class in (RandomAgent, ExplorerAgent):
        start = time.perf_counter()
        runs = []
        for seed in range(seeds):
            env = gym.make(CANON)
            runs.append(run(env, agent_class(), steps, seed=seed, progress=False))
            env.close()
        counts = [len(r.milestones) for r in runs]
        print(f"{agent_class.name}: milestones reached {counts} -> median {statistics.median(counts):g} "
              f"({time.perf_counter() - start:.1f} s)")
        reached = sorted({m for r in runs for m in r.milestones})
        for milestone in reached:
            at = [r.milestones.get(milestone) for r in runs]
            shown = ", ".join(f"{s:,}" if s is not None else "-" for s in at)
            print(f"    {milestone:<28} steps per seed: {shown}")


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    canonical_table()
    procedural_table(args.seeds)
    baseline_table(args.baseline_steps, args.baseline_seeds)
    print(f"\ntotal wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
