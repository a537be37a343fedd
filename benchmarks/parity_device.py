"""The batched engine's lockstep parity with the reference engine on any device, within a time budget.

    python benchmarks/parity_device.py --device cuda                        # on a GPU: eager, then compiled+graph
    python benchmarks/parity_device.py --device cpu --kinds eager --sizes mini --budget-s 30    # a dry run
    bash benchmarks/device_check.sh                                         # this, then the GPU benchmarks

The tests run the parity on CPU (CI has no GPU). On CUDA the same step runs other kernels (Triton's when
compiled), whose scatters keep any one of several values written to one place, and a captured graph replays
the step on the storages it recorded: so the engine's agreement with the reference there is a claim to check
on the GPU itself. For each kind (``eager``, ``compiled``, ``compiled+graph``: ``compile()`` then
``capture_graph()``) and world size, one engine of ``--envs`` envs with episodes of 50 steps is stepped in
lockstep with one reference game per env (:class:`~longplay.envs.quest.batched.parity.Lockstep`: every env's
full state document, reward, termination and truncation at every step, the symbolic observation every few):

1. ``rules``: hand-set situations with press scripts (catching, the box, items, levelling, the whiteout,
   badges, abilities, the final win, shops...), with the message templates they reach counted;
2. ``oracle``: the oracle's games in 50-press pieces (whole mini games; the larger worlds' openings);
3. ``mid-game``: random mid-game states (battles in progress, menus open, full boxes), fuzzed;
4. ``new games``: fresh games fuzzed past their 50-step episodes (same-step autoresets).

Checks run in order and none starts past ``--budget-s``; a line is printed per check. Exit status 1 when a
check differs (its line names the field, env and step), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from _args import output_file
from _checks import write_json

KINDS = ("eager", "compiled", "compiled+graph")
EPISODE = 50  # steps: longer than every press script (45) and oracle piece (50 presses, truncated at the last)


def make_engine(kind: str, world, envs: int, device: torch.device):
    from batched_gpu import prepare

    from longplay.envs.quest.batched.engine import BatchedQuest

    return prepare(BatchedQuest(envs, worlds=[world], device=device, max_episode_steps=EPISODE), kind)


def checks(world, size: str, envs: int, steps: int) -> list[tuple[str, object]]:
    """``(name, run(lockstep))`` in order; each run returns a note for its line."""
    from longplay.envs.quest.batched.parity import (
        fuzz_actions,
        message_coverage,
        oracle_chunks,
        replay_pieces,
        replay_scripts,
        scenario_states,
        targeted_states,
    )

    def first(items: list, what: str) -> tuple[list, str]:
        """One item per env: the first ``envs`` of ``items``, and how many ran, out of how many."""
        if len(items) <= envs:
            return items, f"{len(items)} {what}"
        return items[:envs], f"{envs} of {len(items)} {what} (one per env: --envs {envs} leaves the rest out)"

    def rules(lock) -> str:
        scripts, ran = first(targeted_states(world, seed=5), "scripts")
        lock.reset(seed=0)
        replay_scripts(lock, scripts)
        reached, possible = message_coverage(lock.seen)
        return f"{ran}, {len(reached & possible)} of {len(possible)} message templates reached"

    def oracle(lock) -> str:
        if size == "mini":
            pieces = oracle_chunks(world, seeds=[1, 2, 3], steps=2000, chunk=50, noise=0.03)
        else:
            pieces = oracle_chunks(world, seeds=[0], steps=1500, chunk=50, noise=0.02)
        pieces, ran = first(pieces, "pieces of the oracle's games")
        lock.reset(seed=0)
        replay_pieces(lock, pieces)
        return ran

    def mid_game(lock) -> str:
        lock.reset(seed=7)
        lock.load(list(range(envs)), scenario_states(world, envs, seed=3))
        gen = np.random.default_rng(2)
        for _ in range(steps):
            lock.step(fuzz_actions(gen, envs, a_bias=0.35))
        return f"{envs} mid-game states, {steps} presses"

    def new_games(lock) -> str:
        lock.reset(seed=1000)
        gen = np.random.default_rng(1)
        for _ in range(steps + EPISODE // 2):
            lock.step(fuzz_actions(gen, envs))
        return f"{envs} new games, {steps + EPISODE // 2} presses (autoresets at {EPISODE})"

    return [("rules", rules), ("oracle", oracle), ("mid-game", mid_game), ("new games", new_games)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="a torch device (cpu: a dry run)")
    parser.add_argument("--kinds", default="eager,compiled+graph",
                        help=f"comma-separated, in order (of {', '.join(KINDS)})")
    parser.add_argument("--sizes", default="mini,standard", help="world sizes, in order (mini, small, standard)")
    parser.add_argument("--envs", type=int, default=256,
                        help="envs per engine; the rules and oracle checks run one script or piece per env, so "
                        "with fewer envs than scripts only the first ones run (a check's line says how many of how "
                        "many)")
    parser.add_argument("--steps", type=int, default=100, help="fuzzed presses of the mid-game check")
    parser.add_argument("--budget-s", type=float, default=150.0, help="start no check after this many seconds")
    parser.add_argument("--json", type=output_file, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",")]
    sizes = [s.strip() for s in args.sizes.split(",")]
    if bad := [k for k in kinds if k not in KINDS]:
        parser.error(f"--kinds: unknown {', '.join(bad)} (valid: {', '.join(KINDS)})")
    if bad := [s for s in sizes if s not in ("mini", "small", "standard")]:
        parser.error(f"--sizes: unknown {', '.join(bad)} (valid: mini, small, standard)")
    if args.envs < 1 or args.steps < 1:
        parser.error("--envs and --steps must be at least 1")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("parity_device: no CUDA device here (--device cpu runs the same checks on the CPU)", file=sys.stderr)
        sys.exit(2)
    from longplay.envs.quest import worldgen
    from longplay.envs.quest.batched.parity import Lockstep, ParityError

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"parity_device: {name}, torch {torch.__version__}, {args.envs} envs, budget {args.budget_s:.0f} s",
          flush=True)
    start = time.perf_counter()
    rows: list[dict] = []
    for kind in kinds:
        for size in sizes:
            world = worldgen.build_world(size, 0)
            engine, broken = None, None
            for check, run in checks(world, size, args.envs, args.steps):
                row = {"kind": kind, "size": size, "check": check}
                rows.append(row)
                label = f"  {kind:14s} {size:8s} {check:9s}"
                if time.perf_counter() - start > args.budget_s:
                    row["result"] = "skipped"
                    print(f"{label}: skipped (past the {args.budget_s:.0f} s budget)", flush=True)
                    continue
                t0 = time.perf_counter()
                try:
                    if broken is not None:  # the engine could not be built (a compile or capture failed)
                        raise broken
                    if engine is None:
                        try:
                            engine = make_engine(kind, world, args.envs, device)
                        except Exception as exc:
                            broken = exc
                            raise
                    lock = Lockstep(engine, check_obs_every=5, hash_every=5)
                    note = run(lock)
                except ParityError as exc:
                    row.update(result="differs", error=str(exc))
                    print(f"{label}: DIFFERS: {exc}", flush=True)
                except Exception as exc:
                    row.update(result="failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                    print(f"{label}: failed ({row['error']})", flush=True)
                else:
                    row.update(result="same", env_steps=lock.env_steps, note=note)
                    print(f"{label}: same ({lock.env_steps:,} env-steps; {note}; "
                          f"{time.perf_counter() - t0:.0f} s)", flush=True)
    same = sum(r.get("env_steps", 0) for r in rows)
    bad = [r for r in rows if r["result"] in ("differs", "failed")]
    print(f"parity_device: {len(rows) - len(bad) - sum(r['result'] == 'skipped' for r in rows)} checks the same "
          f"({same:,} env-steps), {len(bad)} differing or failed, "
          f"{sum(r['result'] == 'skipped' for r in rows)} skipped; {time.perf_counter() - start:.0f} s")
    out = {"device": name, "torch": torch.__version__, "envs": args.envs, "rows": rows}
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    result = main()
    sys.exit(1 if any(r["result"] in ("differs", "failed") for r in result["rows"]) else 0)
