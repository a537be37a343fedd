"""Benchmarks of the LM agent harness with the offline model (no network, no key).

Two measurements, both on the built-in game with the deterministic offline model:

1. **Harness overhead per turn**: everything a turn costs except the model call (building the observation
   and prompt, the scaffold's work, the tools' button presses and the game itself, the replay writes,
   checkpoints), with the ``full`` scaffold, around turn 10 and over the last 100 turns (around turn 10,000
   at the default length; left out of a run of 100 turns or fewer, where they are the whole run); plus the
   size of the run's state (what a checkpoint holds) and the process's peak memory, to show nothing grows
   without bound.
2. **Context size per turn** over a long run for each preset: the estimated input tokens of every request,
   against each scaffold's bound. A plot goes to ``--out`` when matplotlib is installed.

Run::

    python benchmarks/lm_harness.py                     # both, 10,000 and 5,000 turns
    python benchmarks/lm_harness.py --overhead-turns 2000 --context-turns 1000 --out /tmp/lm_bench

The env is ``QuestEnv(size="small")`` without a step limit, so the run lasts the whole benchmark.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _args import nonnegative_int, output_folder

from longplay.agents.lm.config import BudgetConfig, CheckpointConfig, LMConfig
from longplay.agents.lm.loop import LMRun
from longplay.agents.lm.providers import OfflineProvider
from longplay.scaffolds import PRESETS, build_scaffold


@dataclass
class TurnStats:
    """A :class:`~longplay.agents.lm.loop.TurnLog` that keeps numbers, not turns (memory stays flat)."""

    harness_s: list[float] = field(default_factory=list)
    context: list[int] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def log_turn(self, **fields: Any) -> None:
        extra = fields.get("extra") or {}
        kind = extra.get("kind", "act")
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "act":
            self.harness_s.append(extra.get("harness_s", 0.0))
            self.context.append(extra.get("context_tokens_est") or 0)

    def log_memory(self, name: str, content: Any, **_: Any) -> None:
        pass


class CpuTimedProvider(OfflineProvider):
    """The offline model, counting the CPU time it uses (so the harness's own CPU time can be told apart)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.cpu_s = 0.0

    def complete(self, request: Any) -> Any:
        start = time.process_time()
        try:
            return super().complete(request)
        finally:
            self.cpu_s += time.process_time() - start


class Tee:
    """Logs to the replay recorder and to :class:`TurnStats`."""

    def __init__(self, recorder: Any, stats: TurnStats) -> None:
        self.recorder, self.stats = recorder, stats

    def log_turn(self, **fields: Any) -> None:
        self.recorder.log_turn(**fields)
        self.stats.log_turn(**fields)

    def log_memory(self, name: str, content: Any, **kwargs: Any) -> None:
        self.recorder.log_memory(name, content, **kwargs)


def make_run(preset: str, turns: int, folder: Path | None) -> tuple[LMRun, TurnStats, Any]:
    """An offline run of ``turns`` turns on a small world with no step limit, recorded in ``folder``."""
    from longplay.agents.lm.checkpoint import CheckpointStore
    from longplay.envs.quest.game import QuestEnv

    env: Any = QuestEnv(size="small", world_seed=0, obs_mode="symbolic", max_episode_steps=None)
    config = LMConfig(budget=BudgetConfig(max_turns=turns), checkpoint=CheckpointConfig(every_turns=50))
    scaffold = build_scaffold(preset)
    stats = TurnStats()
    log: Any = stats
    store = None
    recorder = None
    if folder is not None:
        from longplay.replays.recorder import Recorder

        replay = folder / f"{preset}.lpr"
        recorder = env = Recorder(env, replay, env_id="longplay/Quest-v0",
                                  env_kwargs={"size": "small", "world_seed": 0, "obs_mode": "symbolic",
                                              "max_episode_steps": None},
                                  agent="lm", model="offline-explorer", scaffold_card=scaffold.card())
        log = Tee(recorder, stats)
        store = CheckpointStore(replay.with_suffix(".ckpt"), "longplay/Quest-v0", {}, replay, recorder)
    run = LMRun(env, CpuTimedProvider(config.provider), scaffold, config, log=log, checkpoints=store)
    return run, stats, env


def window(values: list[float], start: int, size: int) -> dict[str, float]:
    """Mean, median, 95th percentile and max of ``values[start:start + size]``, in milliseconds."""
    part = sorted(values[start:start + size])
    p95 = float(np.percentile(part, 95))  # as the other benchmarks report it
    return {"turns": f"{start + 1}-{start + len(part)}", "mean_ms": 1000 * statistics.fmean(part),
            "median_ms": 1000 * statistics.median(part), "p95_ms": 1000 * p95, "max_ms": 1000 * part[-1]}


def windows(values: list[float]) -> dict[str, dict[str, float]]:
    """The turns of a run :func:`overhead` reports: 2-21 (turn 1 pays one-time imports, reported apart), the last
    100 when the run is longer (the whole run otherwise: a second copy of its line) and the whole run."""
    out = {"around_turn_10": window(values, 1, 20)}
    if len(values) > 100:
        out["last_100_turns"] = window(values, len(values) - 100, 100)
    out["whole_run"] = window(values, 0, len(values))
    return out


def overhead(turns: int, folder: Path) -> dict[str, Any]:
    """Harness overhead per turn with the full scaffold, early and late in a long run."""
    run, stats, env = make_run("full", turns, folder)
    state_sizes: dict[int, int] = {}
    rss: dict[int, int] = {}
    marks = {10, 100, 1000, turns // 2, turns}
    cpu: list[float] = []  # harness CPU seconds of each turn (process time minus the model's)
    last = [time.process_time(), 0.0]

    def on_turn(r: LMRun) -> None:
        now, model = time.process_time(), r.provider.cpu_s  # type: ignore[attr-defined]
        cpu.append((now - last[0]) - (model - last[1]))
        last[0], last[1] = now, model
        if r.counters.turns in marks:
            state_sizes[r.counters.turns] = len(json.dumps(r.state_dict()))
            rss[r.counters.turns] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    run.on_turn = on_turn
    start = time.perf_counter()
    outcome = run.run()
    wall = time.perf_counter() - start
    env.close()
    h = stats.harness_s
    return {
        "turns": len(h), "steps": run.driver.steps, "stop": outcome.reason,
        "milestones": list(outcome.milestones),
        "wall_s": wall, "model_s": run.counters.model_seconds, "calls": stats.kinds,
        # Turn 1 pays one-time imports (text view, renderer): reported apart, not in the turn-10 window.
        "first_turn_ms": 1000 * h[0] if h else None, "wall": windows(h), "cpu": windows(cpu),
        "steps_per_turn": run.driver.steps / max(1, len(h)),
        "state_bytes_at_turn": state_sizes, "peak_rss_kb_at_turn": rss,
    }


def context_sizes(turns: int) -> dict[str, list[int]]:
    """Estimated input tokens of every turn's request, per preset."""
    out = {}
    for preset in PRESETS:
        run, stats, _ = make_run(preset, turns, None)
        run.run()
        out[preset] = stats.context
    return out


def bounds() -> dict[str, str]:
    """What bounds each preset's context, in words."""
    return {"minimal": "window k=20", "notes": "window k=20 + notes <= 4000 chars",
            "full": "summary when a request would pass 8000 tokens"}


def plot(sizes: dict[str, list[int]], path: Path) -> bool:
    """Context size per turn, one panel per preset with its bound; ``False`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(len(sizes), 1, figsize=(9, 2.2 * len(sizes)), sharex=True, sharey=True)
    for ax, (preset, values) in zip(axes, sizes.items(), strict=True):
        ax.plot(range(1, len(values) + 1), values, lw=0.6, color="tab:blue")
        if preset == "full":
            ax.axhline(8000, color="tab:red", ls="--", lw=0.8, label="summary budget")
        else:
            ax.axhline(max(values), color="grey", ls=":", lw=0.8, label=f"max {max(values):,}")
        ax.set_title(f"{preset}: {bounds()[preset]}", fontsize=9, loc="left")
        ax.set_ylabel("tokens")
        ax.set_ylim(0, 9000)
        ax.legend(loc="lower right", fontsize=8)
    axes[-1].set_xlabel("turn")
    fig.suptitle("Context size per turn (estimated input tokens), offline model, Quest (small)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--overhead-turns", type=nonnegative_int, default=10_000,
                        help="turns of the overhead run (0: skip it; else at least 2)")
    parser.add_argument("--context-turns", type=nonnegative_int, default=5_000,
                        help="turns of each context run (0: skip them)")
    parser.add_argument("--out", type=output_folder, default="runs/benchmarks/lm_harness",
                        help="folder for results and the plot")
    args = parser.parse_args(argv)
    if args.overhead_turns == 1:  # turn 1 is reported apart: the windows would be empty
        parser.error("--overhead-turns must be 0 or at least 2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    if args.overhead_turns:
        with tempfile.TemporaryDirectory(prefix="lm-bench-") as scratch:
            results["overhead"] = overhead(args.overhead_turns, Path(scratch))
        o = results["overhead"]
        print(f"harness overhead, full scaffold, {o['turns']} turns / {o['steps']} steps ({o['stop']}), "
              f"{o['wall_s']:.0f} s wall, {o['model_s']:.0f} s in the offline model")
        print(f"  {o['steps_per_turn']:.1f} button presses per turn on average; the first turn (one-time "
              f"imports) took {o['first_turn_ms']:.1f} ms")
        for clock, label in (("wall", "wall"), ("cpu", "CPU ")):
            for w in o[clock].values():
                print(f"  {label} turns {w['turns']:>12}: mean {w['mean_ms']:.2f} ms, "
                      f"median {w['median_ms']:.2f} ms, p95 {w['p95_ms']:.2f} ms, max {w['max_ms']:.2f} ms")
        print(f"  run state (checkpoint JSON) bytes at turn: {o['state_bytes_at_turn']}")
        print(f"  peak RSS (KB) at turn: {o['peak_rss_kb_at_turn']}")
    if args.context_turns:
        sizes = context_sizes(args.context_turns)
        results["context"] = {p: {"max": max(v), "mean": statistics.fmean(v), "last": v[-1],
                                  "bound": bounds()[p]} for p, v in sizes.items()}
        for preset, s in results["context"].items():
            print(f"context, {preset:>7}: max {s['max']:,} tokens, mean {s['mean']:,.0f}, "
                  f"at the end {s['last']:,} ({s['bound']})")
        if plot(sizes, out / "context_per_turn.png"):
            print(f"plot: {out / 'context_per_turn.png'}")
        (out / "context_per_turn.json").write_text(json.dumps(sizes))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
