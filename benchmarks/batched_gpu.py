"""The batched quest engine on one CUDA GPU: env steps/s by batch size, beside the reference engine, in one run.

    python benchmarks/batched_gpu.py                          # one command on a CUDA machine
    python benchmarks/batched_gpu.py --budget-s 240 --json out/batched_gpu.json
    bash benchmarks/device_check.sh                           # this and rl_gpu.py on a lent device machine
    python benchmarks/batched_gpu.py --device cpu --plan symbolic:eager:64,symbolic:compiled:64   # a dry run

A lent GPU comes with minutes, not hours, and every ``torch.compile`` of a step costs about one of them on
the lent H200 machine (45-64 s there; each batch size is a compilation). So the measurements run in
order of importance (``--plan``), each row printed as it is measured, and none starts once ``--budget-s``
seconds have passed: a run cut short still holds the figures that matter most. The default plan:

1. symbolic, eager replayed as a CUDA graph (``engine.capture_graph()``) at 16,384 envs: no compilation, and
   whether graphs work at all, within seconds (below a few hundred thousand envs a step waits on its kernel
   launches, which a graph replay removes);
2. symbolic, eager and compiled (inductor's default mode) at 1,048,576 envs: the goal's figure (50,000,000
   env steps/s on one H200);
3. symbolic, compiled and replayed as a CUDA graph at 65,536 and 16,384 envs;
4. symbolic eager and compiled at 65,536 and 262,144 envs, for the table against batch size;
5. pixels, compiled in a graph and compiled at 65,536 envs, eager at 16,384;
6. the smaller batches.

A graph row first steps the captured engine beside an uncaptured one for ``--graph-check`` steps with the
same presses (``parity.compare_batched``: every state tensor, the observation, reward and info at every
step, with episode ends and a reset; scratch slots left out); a difference fails the row, naming the tensor and
step and whether two uncaptured engines differ as well, instead of timing it.

The reference engine's single-env rate (``gym.make`` env, host CPU, same observation) is measured first, and
the table gives each figure's ratio to it. Exits with a message when no GPU is present, unless ``--device cpu``
(a dry run of the plan, for tests and for checking the script before a lease).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from _args import output_file, positive_float
from _checks import write_json

GOAL = 50_000_000
DEFAULT_PLAN = ("symbolic:eager+graph:16384,symbolic:eager:1048576,symbolic:compiled:1048576,"
                "symbolic:compiled+graph:65536,symbolic:compiled+graph:16384,symbolic:eager:65536,symbolic:compiled:65536,"
                "symbolic:eager:262144,symbolic:compiled:262144,pixels:compiled+graph:65536,pixels:compiled:65536,"
                "pixels:eager:16384,symbolic:compiled:16384,symbolic:eager:16384,symbolic:eager+graph:4096,"
                "symbolic:eager:4096,symbolic:eager:1024")
# eager+graph / compiled+graph: the step (eager or compiled) replayed as a CUDA graph (engine.capture_graph())
KINDS = ("eager", "compiled", "eager+graph", "compiled+graph")


def parse_plan(text: str) -> list[tuple[str, str, int]]:
    """``obs:kind:batch`` items, comma-separated, in the order they run; raises ValueError on a bad item."""
    plan = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 3 or parts[0] not in ("symbolic", "pixels") or parts[1] not in KINDS \
                or not parts[2].isdigit() or int(parts[2]) < 1:
            raise ValueError(f"bad plan item {item!r}: expected obs:kind:batch, obs symbolic or pixels, "
                             f"kind one of {', '.join(KINDS)}, batch a positive integer")
        plan.append((parts[0], parts[1], int(parts[2])))
    return plan


def graph_breaks() -> dict[str, int]:
    """Dynamo's graph breaks so far, by reason (a compiled step should have none)."""
    from torch._dynamo.utils import counters

    return dict(counters["graph_break"])


def measure(obs: str, kind: str, batch: int, size: str, device: torch.device, seconds: float,
            graph_check: int = 0) -> float:
    """Env steps/s of one plan item (random presses; compilation, capture and warm-up left out of the time);
    a graph item is first checked against an uncaptured engine for ``graph_check`` steps (``compare_batched``)."""
    import batched_speed

    from longplay.envs.quest.batched.engine import BatchedQuest

    def make() -> BatchedQuest:
        engine = prepare(BatchedQuest(batch, size=size, device=device, obs_mode=obs, max_episode_steps=2000), kind)
        if kind.endswith("+graph") and graph_check:
            check_graph(engine, graph_check)
        return engine

    return batched_speed.batched_rate(make, batch, device, seconds)


def prepare(engine, kind: str):
    """``engine`` made ``kind`` (one of :data:`KINDS`): compiled (``compiled...``), then reset and captured as a
    CUDA graph (``...+graph``), or else its battle passes compiled up front (``warm_up``)."""
    if kind.startswith("compiled"):
        engine.compile(dynamic=False)
    if kind.endswith("+graph"):
        engine.reset(seed=0)
        engine.capture_graph()
    elif kind != "eager" and engine.battle_pass:
        engine.warm_up()
    return engine


def check_graph(engine, steps: int) -> None:
    """``compare_batched`` of a captured engine against the same envs uncaptured and eager. On a difference,
    two uncaptured engines are compared too, and the error says whether they differ as well (then the cause is
    not the graph), so one run on a lent GPU tells the two apart."""
    from longplay.envs.quest.batched.engine import BatchedQuest
    from longplay.envs.quest.batched.parity import ParityError, compare_batched

    def plain() -> BatchedQuest:
        return BatchedQuest(engine.num_envs, size=engine.size, device=engine.device, obs_mode=engine.obs_mode,
                            max_episode_steps=engine.max_episode_steps)

    try:
        compare_batched(engine, plain(), steps)
    except ParityError as exc:
        try:
            compare_batched(plain(), plain(), steps)
        except ParityError as control:
            raise ParityError(f"graph: {exc}; two uncaptured engines differ too: {control}") from None
        raise ParityError(f"graph: {exc}; two uncaptured engines agree") from None



def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", default="mini", choices=("mini", "small", "standard"))
    parser.add_argument("--plan", default=DEFAULT_PLAN,
                        help="obs:kind:batch items in the order they run (kind: " + ", ".join(KINDS) + ")")
    parser.add_argument("--budget-s", type=float, default=300.0,
                        help="start no measurement after this many seconds (the reference's included)")
    parser.add_argument("--seconds", type=positive_float, default=2.0, help="time per measurement")
    parser.add_argument("--graph-check", type=int, default=64,
                        help="steps of a graph row checked against an uncaptured engine before it is timed (0: none)")
    parser.add_argument("--json", type=output_file, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    try:
        plan = parse_plan(args.plan)
    except ValueError as exc:
        parser.error(f"--plan: {exc}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("batched_gpu: no CUDA device here: run it on a GPU machine (benchmarks/batched_speed.py measures "
              "the CPU; --device cpu is a dry run)", file=sys.stderr)
        sys.exit(2)
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import batched_speed

    # each plan item compiles the step of a new engine: a recompile for dynamo, which past its limit (8) would
    # run the step eagerly without a word
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"  # before torch 2.6
    setattr(config, limit, max(getattr(config, limit), 64))
    start = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"batched_gpu: {name}, torch {torch.__version__}, size={args.size}, budget {args.budget_s:.0f} s",
          flush=True)
    reference = {}
    for obs in dict.fromkeys(o for o, _, _ in plan):
        reference[obs] = batched_speed.reference_rates(args.size, obs, min(args.seconds, 2.0))["env"]
        print(f"reference engine, one env ({obs}, host CPU): {reference[obs]:,.0f} env steps/s", flush=True)
    rows: list[dict] = []
    for obs, kind, batch in plan:
        row = {"obs": obs, "kind": kind, "batch": batch}
        if time.perf_counter() - start > args.budget_s:
            row["skipped"] = "budget"
            print(f"  {obs:8s} {kind:14s} {batch:>9,}: skipped (past the {args.budget_s:.0f} s budget)", flush=True)
            rows.append(row)
            continue
        t0 = time.perf_counter()
        breaks = dict(graph_breaks())
        try:
            rate = measure(obs, kind, batch, args.size, device, args.seconds, args.graph_check)
        except Exception as exc:  # out of memory at the largest batches; a graph that fails or differs
            row["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
            print(f"  {obs:8s} {kind:14s} {batch:>9,}: failed ({row['failed']})", flush=True)
        else:
            row.update(rate=rate, ratio=rate / reference[obs], seconds=time.perf_counter() - t0)
            new = {reason: n - breaks.get(reason, 0) for reason, n in graph_breaks().items()
                   if n > breaks.get(reason, 0)}
            note = ""
            if new:  # a compiled step split in pieces: slower than it should be (another torch, say)
                row["graph_breaks"] = new
                note = f"; {sum(new.values())} graph breaks: {next(iter(new))[:120]}"
            print(f"  {obs:8s} {kind:14s} {batch:>9,}: {rate:>15,.0f} env steps/s = {row['ratio']:,.1f}x the "
                  f"reference ({row['seconds']:.0f} s with setup and compiling{note})", flush=True)
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rows.append(row)
    print(f"\nenv steps/s on {name} (ratio to the reference env on the host CPU); "
          f"{time.perf_counter() - start:.0f} s in all")
    print("| obs | step | batch | env steps/s | x reference |")
    print("|---|---|---|---|---|")
    for row in sorted(rows, key=lambda r: (r["obs"] != "symbolic", KINDS.index(r["kind"]), r["batch"])):
        rate = f"{row['rate']:,.0f}" if "rate" in row else row.get("failed", "") or f"skipped ({row['skipped']})"
        ratio = f"{row['ratio']:,.1f}x" if "ratio" in row else "-"
        print(f"| {row['obs']} | {row['kind']} | {row['batch']:,} | {rate} | {ratio} |")
    best = max((r for r in rows if r["obs"] == "symbolic" and "rate" in r), key=lambda r: r["rate"], default=None)
    if best is not None:
        print(f"best symbolic: {best['rate']:,.0f} env steps/s ({best['kind']}, {best['batch']:,} envs) = "
              f"{best['rate'] / GOAL:.2f}x the goal of {GOAL:,}; {best['ratio']:,.1f}x the reference env")
    out = {"device": name, "torch": torch.__version__, "size": args.size, "reference": reference, "rows": rows,
           "goal": GOAL}
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
