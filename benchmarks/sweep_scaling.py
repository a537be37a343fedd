"""Benchmark of ``longplay sweep``: wall time of a 16-cell offline grid with 1 and 2 workers, on the local
process pool and on a local Ray instance (scaling, and what Ray costs on top).

The grid: the offline model (no network, no key) on ``QuestMini-v0``, scaffolds ``minimal`` and ``notes``, seeds
0-7, ``--steps`` button presses each. Every configuration runs the same cells into a fresh folder through the
same :class:`~longplay.agents.sweep.scheduler.Scheduler` the command uses; the time is from the first
submission to the last result (worker start-up included: it is part of what a user waits for). Ray's own
start (``ray.init``) is timed apart. A serial run in this process (``inline``, as ``longplay sweep --workers 0``
runs a grid) is the reference with no worker processes at all.

Run::

    python benchmarks/sweep_scaling.py                        # 16 cells x 400 steps, 3 repeats
    python benchmarks/sweep_scaling.py --steps 1000 --json /tmp/sweep_scaling.json
    python benchmarks/sweep_scaling.py --no-ray               # the local pool only
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _args import output_file, positive_int
from _checks import write_json

from longplay.agents.sweep.backends import InlineBackend, LocalBackend, RayBackend
from longplay.agents.sweep.grid import parse_grid
from longplay.agents.sweep.scheduler import Scheduler


def grid_cells(steps: int) -> list[Any]:
    """The 16 cells: 2 scaffolds x 8 seeds of the offline model."""
    return parse_grid({"run": [{"env": "QuestMini-v0", "models": ["offline"], "scaffolds": ["minimal", "notes"],
                                "seeds": {"start": 0, "count": 8}, "steps": steps}]}).cells


def timed_sweep(cells: list[Any], backend_name: str, workers: int, root: Path, rep: int = 0) -> dict[str, Any]:
    """Runs the cells on a fresh folder; returns the wall time and what the cells did."""
    out = root / f"{backend_name}-{workers}-{rep}"
    out.mkdir(parents=True)
    if backend_name == "inline":
        backend: Any = InlineBackend(out)
    elif backend_name == "local":
        backend = LocalBackend(out, workers)
    else:
        backend = RayBackend(out)
    start = time.perf_counter()
    outcome = Scheduler(cells, out, backend, workers=max(workers, 1), poll=0.05).run()
    wall = time.perf_counter() - start
    states = outcome.states.values()
    done = sum(s.get("status") == "done" for s in states)
    cell_seconds = sum(float(s.get("seconds") or 0.0) for s in states)
    steps = sum(int(s.get("steps") or 0) for s in states)
    return {"backend": backend_name, "workers": workers, "wall_s": round(wall, 2), "done": done,
            "cells": len(cells), "cell_s": round(cell_seconds, 2), "steps": steps}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median and the best of repeated runs of one configuration."""
    walls = sorted(r["wall_s"] for r in runs)
    return {**runs[0], "wall_s": statistics.median(walls), "best_s": walls[0], "repeats": len(walls),
            "cell_s": statistics.median(r["cell_s"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=positive_int, default=400, help="button presses per cell (default 400)")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="runs of each configuration, interleaved (default 3)")
    parser.add_argument("--no-ray", action="store_true", help="skip Ray")
    parser.add_argument("--json", type=output_file, default=None, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if not args.no_ray:
        try:
            import ray
        except ImportError:
            parser.error('Ray is not installed (pip install -e ".[distributed]"); --no-ray times the local pool only')
    cells = grid_cells(args.steps)
    plan = [("inline", 0), ("local", 1), ("local", 2)] + ([] if args.no_ray else [("ray", 1), ("ray", 2)])
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {key: [] for key in plan}
    ray_init_s = None
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sweep-scaling-") as tmp:
        root = Path(tmp)
        if not args.no_ray:
            start = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            ray_init_s = round(time.perf_counter() - start, 2)
        try:
            for rep in range(args.repeat):  # interleaved, so a change in the machine's load hits every one
                for name, workers in plan:
                    result = timed_sweep(cells, name, workers, root, rep)
                    runs[(name, workers)].append(result)
                    print(result, flush=True)
        finally:
            if not args.no_ray:
                ray.shutdown()
    results = [summarise(r) for r in runs.values()]
    base = next(r["wall_s"] for r in results if r["backend"] == "local" and r["workers"] == 1)
    load = max(load, os.getloadavg()[0])
    print(f"\n16-cell offline grid, {args.steps} steps per cell, median of {args.repeat}; {os.cpu_count()} CPUs, "
          f"load average up to {load:.1f}; Python {platform.python_version()}"
          + (f"; ray.init {ray_init_s} s (not included)" if ray_init_s is not None else ""))
    print("| backend | workers | wall (s), median | best (s) | cells/min | vs local, 1 worker | "
          "sum of cell times (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['backend']} | {r['workers']} | {r['wall_s']:.1f} | {r['best_s']:.1f} | "
              f"{60 * r['cells'] / r['wall_s']:.1f} | {base / r['wall_s']:.2f}x | {r['cell_s']:.1f} |")
    if args.json:
        write_json(args.json, {"steps": args.steps, "cpus": os.cpu_count(), "load": load, "ray_init_s": ray_init_s,
                               "results": results, "runs": [r for rs in runs.values() for r in rs]})


if __name__ == "__main__":
    main()
