r"""Env-only speed of the batched quest engine against batch size, beside the reference engine, in one run.

    python benchmarks/batched_speed.py                         # CPU: eager and compiled, symbolic and pixels
    python benchmarks/batched_speed.py --batch 1,64,4096 --modes eager --obs symbolic
    python benchmarks/batched_speed.py --device cuda --batch 1024,65536,1048576   # see batched_gpu.py
    python benchmarks/batched_speed.py --ab 80 --batch 16384,65536 --obs symbolic  # compiled vs eager, CPU time
    python benchmarks/batched_speed.py --batch 16384,65536 --modes compiled --obs symbolic \
        --battle-pass auto,none --workload random,oracle   # battle passes against one press over every env
    python benchmarks/batched_speed.py --batch 16384 --modes compiled --obs symbolic --native auto,off

Prints steps/s (env steps: one button press of one env, observation included) for each batch size, step
implementation (``eager`` torch ops; ``compiled``: ``BatchedQuest.compile``, inductor with the engine's
``CPU_INDUCTOR_OPTIONS``, changed with ``--inductor-options``) and observation mode, the
reference engine's single-env steps/s measured in the same run (``gym.make`` env with the same observation,
and the bare game), the ratio of the best batched figure to it, the state bytes per env (the shared world
excluded) and where a step's time goes (``--profile``).

``--ab STEPS`` instead steps an eager and a compiled engine in turn with the same presses (one process, CPU
time per step by ``time.thread_time``, so other jobs' load cancels out of the ratio) and checks that both give
the same observations, rewards, terminations and state at every step and the same state documents at the end.

Workloads (``--workload``): ``random`` presses drive every env from a new game (the figure; envs walk,
talk, open menus and reset; under random presses they rarely get into a battle); ``oracle`` replays pieces
of the oracle's games (``parity.oracle_chunks``: a game from the first step to the badge, about a third of
its steps in a battle), each env one piece and its presses, reloaded after each piece's 64 presses (untimed).

``--battle-pass`` sets ``BatchedQuest(battle_pass=...)``: ``auto`` (the default: on CPU from 8,192 envs on,
the battle rules run on the envs in a battle only, in one pass rounded up to an eighth of the envs) and
``none`` (one branch-free battle press over every env, as on CUDA) side by side show what the passes change.
``--native auto,off`` sets ``BatchedQuest(native=...)`` side by side: the native CPU kernel observes
(``auto``, the default) or the torch ops do (``off``); on CUDA and for pixels both are the torch ops.
``--keep-memory off`` measures without ``BatchedQuest(keep_memory=True)`` (process-wide: compare separate
runs).

Absolute numbers drift with the load of the machine; the ratios within one run hold. ``--threads`` sets
torch's intra-op threads (default: torch's, one per core; on a busy shared machine 1 can be faster: OpenMP
threads spin while another job holds a core).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable

import numpy as np
import torch
from _args import choice_list, int_list, nonnegative_int, positive_float

DEFAULT_BATCHES = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)
PIXEL_BATCH_LIMIT = 8192  # a pixel observation is 69 KB per env: 65,536 envs would need 4.5 GB per step
COMPILE_FROM = 4096  # without --compiled-batch, the batch sizes compiled (each one a compilation: minutes)
AB_UNTIMED = 4  # --ab: the first step compiles and the next three warm up caches and the allocator
AB_MIN_STEPS = AB_UNTIMED + 2  # and the ratio's quartiles need two timed pairs


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


ORACLE_PIECE = 64  # presses per piece of the oracle workload


def oracle_pieces(size: str) -> list[tuple[object, np.ndarray]]:
    """Pieces of the oracle's games on the benchmark's world (seeds 0-7, 3,000 presses each, 3 % noise)."""
    from longplay.envs.quest import worldgen
    from longplay.envs.quest.batched.parity import oracle_chunks

    return oracle_chunks(worldgen.build_world(size, 0), seeds=list(range(8)), steps=3000, chunk=ORACLE_PIECE,
                         noise=0.03)


def load_pieces(engine: object, pieces: list[tuple[object, np.ndarray]], device: torch.device) -> torch.Tensor:
    """Puts piece ``i % len(pieces)`` into env ``i``; returns the presses [N, ORACLE_PIECE] on the device."""
    n = engine.num_envs
    k = min(n, len(pieces))
    engine.load_states(list(range(k)), [state for state, _ in pieces[:k]])
    rows = torch.arange(n, device=device) % k
    for name, t in engine.state.tensors().items():  # the other envs copy the first k (one world)
        setattr(engine.state, name, t[rows].contiguous())
    return torch.as_tensor(np.stack([presses for _, presses in pieces[:k]]), device=device)[rows.cpu()]


def oracle_rate(make: Callable[[], object], pieces: list, batch: int, device: torch.device, seconds: float
                ) -> tuple[float, float]:
    """Steps/s replaying the oracle's pieces (timing the steps only), and the share of env steps in a battle."""
    engine = make()
    engine.reset(seed=0)
    presses = load_pieces(engine, pieces, device)
    engine.step(presses[:, 0])  # compiles
    steps, elapsed, battle = 0, 0.0, 0.0
    while elapsed < seconds:
        presses = load_pieces(engine, pieces, device)
        sync(device)
        start = time.perf_counter()
        for k in range(ORACLE_PIECE):
            engine.step(presses[:, k])
        sync(device)
        elapsed += time.perf_counter() - start
        steps += ORACLE_PIECE
        battle += float((engine.state.battle_kind != 0).float().mean())
    return batch * steps / elapsed, battle / (steps // ORACLE_PIECE)


def batched_rate(make: Callable[[], object], batch: int, device: torch.device, seconds: float, warmup: int = 3,
                 max_steps: int = 2000) -> float:
    """Steps/s (env steps) of the engine ``make()`` returns, stepped with random presses."""
    engine = make()
    engine.reset(seed=0)
    gen = torch.Generator(device="cpu").manual_seed(0)
    actions = [torch.randint(0, 8, (batch,), generator=gen).to(device) for _ in range(16)]
    for k in range(warmup):
        engine.step(actions[k % 16])
    sync(device)
    steps, start = 0, time.perf_counter()
    while steps < max_steps:
        engine.step(actions[steps % 16])
        steps += 1
        if steps % 4 == 0:
            sync(device)
            if time.perf_counter() - start >= seconds:
                break
    sync(device)
    return batch * steps / (time.perf_counter() - start)


def interleaved_ab(size: str, batch: int, device: torch.device, obs_mode: str, steps: int,
                   compile_kwargs: dict) -> dict:
    """Eager against compiled, stepped in turn with the same presses: CPU seconds per step and equality."""
    import statistics

    from longplay.envs.quest.batched.engine import BatchedQuest

    def same(x: object, y: object) -> bool:
        if isinstance(x, dict):
            return all(same(x[k], y[k]) for k in x)  # type: ignore[index]
        if isinstance(x, (tuple, list)):
            return all(same(u, v) for u, v in zip(x, y, strict=True))  # type: ignore[call-overload]
        return torch.equal(x, y)  # type: ignore[arg-type]

    engines = [BatchedQuest(batch, size=size, device=device, obs_mode=obs_mode, max_episode_steps=2000)
               for _ in range(2)]
    for e in engines:
        e.reset(seed=0)
    engines[1].compile(dynamic=False, **compile_kwargs)
    gen = torch.Generator(device="cpu").manual_seed(0)
    actions = [torch.randint(0, 8, (batch,), generator=gen).to(device) for _ in range(64)]
    start = time.perf_counter()
    if engines[1].battle_pass:  # the battle pass too, not at the first battle
        engines[1].warm_up()
    engines[1].step(actions[0])  # compiles
    compile_s = time.perf_counter() - start
    engines[0].step(actions[0])
    times: list[list[float]] = [[], []]
    equal = True
    for k in range(1, steps):
        out = [None, None]
        for i in (0, 1) if k % 2 else (1, 0):
            sync(device)
            c = time.thread_time()
            out[i] = engines[i].step(actions[k % 64])
            sync(device)
            times[i].append(time.thread_time() - c)
        equal = equal and same(out[0], out[1]) and all(
            torch.equal(u, v) for u, v in zip(engines[0].state.tensors().values(),
                                              engines[1].state.tensors().values(), strict=True))
    documents_equal = engines[0].documents() == engines[1].documents()
    eager, compiled = times[0][AB_UNTIMED - 1:], times[1][AB_UNTIMED - 1:]  # step 0 was never timed
    return {"eager": batch / statistics.median(eager), "compiled": batch / statistics.median(compiled),
            **paired_ratio(eager, compiled), "compile_s": compile_s, "equal": equal and documents_equal}


def paired_ratio(eager: list[float], compiled: list[float]) -> dict:
    """Compiled over eager speed, step by step (eager seconds over compiled): the median and quartiles of the
    pairs, and how many pairs there were."""
    import statistics

    ratios = sorted(a / b for a, b in zip(eager, compiled, strict=True))
    q = statistics.quantiles(ratios, n=4, method="inclusive")  # "exclusive" extrapolated: below 0 for few pairs
    return {"ratio": q[1], "ratio_q1": q[0], "ratio_q3": q[2], "pairs": len(ratios)}


def reference_rates(size: str, obs_mode: str, seconds: float) -> dict[str, float]:
    """The reference engine, one env: through ``gym.make`` (observation included) and the bare game."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401  (registers the ids)

    env = gym.make("longplay/QuestMini-v0" if size == "mini" else "longplay/Quest-v0", size=size, world_seed=0,
                   obs_mode=obs_mode, max_episode_steps=None)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 8, 200_000).tolist()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions[steps % 100_000:steps % 100_000 + 500]:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        steps += 500
    env_rate = steps / (time.perf_counter() - start)
    game = env.unwrapped.game
    game.reset(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions[steps % 100_000:steps % 100_000 + 1000]:
            game.press(a)
        steps += 1000
    env.close()
    return {"env": env_rate, "game": steps / (time.perf_counter() - start)}


def profile_step(size: str, batch: int, device: torch.device, obs_mode: str) -> str:
    """Where an eager step's time goes: self time per subsystem and per torch op."""
    from torch.profiler import ProfilerActivity, profile, record_function

    from longplay.envs.quest.batched import battle, dialog, engine, menus, overworld, render

    def wrap(module: object, name: str, label: str) -> None:
        fn = getattr(module, name)

        def timed(*args: object, **kwargs: object) -> object:
            with record_function(label):
                return fn(*args, **kwargs)

        setattr(module, name, timed)

    for module, name, label in ((overworld, "press", "overworld"), (dialog, "press", "dialog"),
                                (menus, "press", "menus"), (battle, "press", "battle"), (battle, "start", "start"),
                                (engine, "symbolic_view", "obs:symbolic"), (engine, "apply_say", "dialog queue"),
                                (render.PixelRenderer, "frames", "obs:pixels")):
        wrap(module, name, label)
    q = engine.BatchedQuest(batch, size=size, device=device, obs_mode=obs_mode)
    q.reset(seed=0)
    for name, label in (("_reset_envs", "autoreset"), ("vector", "obs:vector")):
        wrap(q, name, label)
    acts = torch.randint(0, 8, (batch,), device=device)
    for _ in range(3):
        q.step(acts)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            q.step(torch.randint(0, 8, (batch,), device=device))
    return prof.key_averages().table(sort_by="cpu_time_total", row_limit=25)


def compiled_sizes(batches: list[int], named: list[int] | None) -> set[int]:
    """The batch sizes to compile: ``named`` (``--compiled-batch``; all of ``batches`` when it is empty), else
    those of ``batches`` from ``COMPILE_FROM`` up (a fixed list skipped sizes that ``--batch`` asked for)."""
    if named is None:
        return {b for b in batches if b >= COMPILE_FROM}
    return set(named) or set(batches)


def battle_pass_list(text: str) -> list[object]:
    """``--battle-pass``: comma-separated ``auto``, ``none`` (None) or the envs a pass is rounded to."""
    passes: list[object] = []
    for value in text.split(","):
        if value in ("auto", "none"):
            passes.append(None if value == "none" else value)
        elif value.isdigit() and int(value) >= 1:
            passes.append(int(value))
        else:
            raise argparse.ArgumentTypeError(f"invalid value {value!r}; use auto, none or an int >= 1")
    return passes


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="mini", choices=("mini", "small", "standard"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int_list, default=",".join(map(str, DEFAULT_BATCHES)),
                        help="comma-separated batch sizes")
    parser.add_argument("--modes", type=choice_list("eager", "compiled"), default="eager,compiled",
                        help="eager and/or compiled")
    parser.add_argument("--compiled-batch", type=lambda text: int_list(text) if text else [], default=None,
                        help=f"batch sizes to compile (default: those of --batch from {COMPILE_FROM:,} up; '': all; "
                             "each size is one compilation: minutes on a small CPU)")
    parser.add_argument("--obs", type=choice_list("symbolic", "pixels"), default="symbolic,pixels",
                        help="symbolic and/or pixels")
    parser.add_argument("--seconds", type=positive_float, default=2.0, help="time per measurement")
    parser.add_argument("--threads", type=nonnegative_int, default=0,
                        help="torch intra-op threads (CPU; 0: torch's default)")
    parser.add_argument("--battle-pass", type=battle_pass_list, default="auto",
                        help="comma-separated BatchedQuest(battle_pass=...) values: auto, none or the envs a pass is "
                             "rounded to")
    parser.add_argument("--native", type=choice_list("auto", "off"), default="auto",
                        help="comma-separated BatchedQuest(native=...) values: auto (the native observation kernel "
                             "on CPU) and/or off (the torch ops)")
    parser.add_argument("--workload", type=choice_list("random", "oracle"), default="random",
                        help="random and/or oracle (see above)")
    parser.add_argument("--keep-memory", default="on", choices=("on", "off"),
                        help="BatchedQuest(keep_memory=...): off leaves glibc's malloc as it is (process-wide: "
                             "compare in separate runs)")
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode (e.g. max-autotune-no-cudagraphs)")
    parser.add_argument("--inductor-options", type=json.loads, default=None,
                        help='JSON inductor options over the engine\'s CPU_INDUCTOR_OPTIONS ({"cpp.simdlen": null})')
    parser.add_argument("--ab", type=nonnegative_int, default=0,
                        help=f"only an interleaved eager-vs-compiled A/B of this many steps on CPU time (at least "
                             f"{AB_MIN_STEPS}: the first {AB_UNTIMED} are not timed)")
    parser.add_argument("--pixel-limit", type=nonnegative_int, default=PIXEL_BATCH_LIMIT)
    parser.add_argument("--profile", type=nonnegative_int, default=0,
                        help="also profile an eager step at this batch size")
    args = parser.parse_args(argv)
    if 0 < args.ab < AB_MIN_STEPS:  # found after the compilation, as a traceback, before
        parser.error(f"--ab must be 0 or at least {AB_MIN_STEPS}: its first {AB_UNTIMED} steps are not timed, and "
                     "the ratio's quartiles need two more")

    from longplay.envs.quest.batched.engine import BatchedQuest

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device here")
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    batches = args.batch
    modes = args.modes
    compiled_batches = compiled_sizes(batches, args.compiled_batch)
    obs_modes = args.obs
    passes = args.battle_pass
    workloads = args.workload
    pieces = oracle_pieces(args.size) if "oracle" in workloads else []
    print(f"quest.batched speed: size={args.size} device={device} torch={torch.__version__} "
          f"threads={torch.get_num_threads()}", flush=True)
    compile_kwargs: dict = {}
    if args.compile_mode:
        compile_kwargs["mode"] = args.compile_mode
    if args.inductor_options:
        compile_kwargs["options"] = args.inductor_options
    if args.ab:
        ab = {}
        for obs_mode in obs_modes:
            for batch in batches:
                r = ab[(obs_mode, batch)] = interleaved_ab(args.size, batch, device, obs_mode, args.ab,
                                                           compile_kwargs)
                print(f"  {obs_mode:8s} batch {batch:>8,}: eager {r['eager']:>10,.0f}, compiled "
                      f"{r['compiled']:>10,.0f} steps per CPU second (medians); compiled/eager {r['ratio']:.2f}x "
                      f"(quartiles {r['ratio_q1']:.2f}-{r['ratio_q3']:.2f}, {r['pairs']} timed pairs); compile "
                      f"{r['compile_s']:.0f} s; {'identical' if r['equal'] else 'DIFFERENT'} outputs and states",
                      flush=True)
        return {"ab": ab}

    ref = {m: reference_rates(args.size, m, args.seconds) for m in obs_modes}
    for m in obs_modes:
        print(f"reference engine, one env ({m}): {ref[m]['env']:,.0f} env steps/s through gym.make, "
              f"{ref[m]['game']:,.0f} presses/s bare game", flush=True)

    probe = BatchedQuest(1, size=args.size, device=device, keep_memory=args.keep_memory == "on")
    per_env = probe.state_bytes_per_env()
    del probe
    print(f"state per env: {per_env:,} bytes (world tables shared, not counted)", flush=True)

    if "compiled" in modes and (eager_only := [b for b in batches if b not in compiled_batches]):
        print(f"compiled: not at batch {', '.join(f'{b:,}' for b in eager_only)} (--compiled-batch names the sizes "
              f"to compile; without it, those from {COMPILE_FROM:,} up)", flush=True)

    # one column per workload, observation, step implementation, battle_pass and native
    natives = args.native
    cols = [(w, o, m, p, n) for w in workloads for o in obs_modes for m in modes for p in passes for n in natives]
    results: dict[tuple[str, str, str, object, str, int], float] = {}
    battle_share: dict[tuple[str, str, str, object, str, int], float] = {}
    for col in cols:
        workload, obs_mode, mode, battle_pass, native = col
        for batch in batches:
            if obs_mode == "pixels" and batch > args.pixel_limit:
                continue
            if mode == "compiled" and batch not in compiled_batches:
                continue

            def make(batch: int = batch, obs_mode: str = obs_mode, mode: str = mode, battle_pass: object = battle_pass,
                     native: str = native) -> object:
                engine = BatchedQuest(batch, size=args.size, device=device, obs_mode=obs_mode, max_episode_steps=2000,
                                      battle_pass=battle_pass if device.type == "cpu" else "auto",
                                      keep_memory=args.keep_memory == "on",
                                      native="auto" if native == "auto" else False)
                if mode == "compiled":
                    engine.compile(dynamic=False, **compile_kwargs)
                    if engine.battle_pass:  # compile the battle pass now, not at the first battle while timed
                        engine.warm_up()
                return engine

            start = time.perf_counter()
            try:
                if workload == "oracle":
                    rate, share = oracle_rate(make, pieces, batch, device, args.seconds)
                    battle_share[(*col, batch)] = share
                else:
                    rate = batched_rate(make, batch, device, args.seconds)
            except Exception as exc:  # e.g. out of memory at the largest batches
                print(f"  {_label(col):40s} batch {batch:>8,}: failed ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:100]})", flush=True)
                continue
            results[(*col, batch)] = rate
            share = f", {battle_share[(*col, batch)]:.0%} of env steps in a battle" if workload == "oracle" else ""
            print(f"  {_label(col):40s} batch {batch:>8,}: {rate:>14,.0f} steps/s "
                  f"({time.perf_counter() - start:.0f} s incl. setup/compile{share})", flush=True)
            gc.collect()

    print("\nenv steps/s by batch size (one process)")
    print("| batch | " + " | ".join(_label(c) for c in cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for batch in batches:
        cells = [f"{results[(*c, batch)]:,.0f}" if (*c, batch) in results else "-" for c in cols]
        print(f"| {batch:,} | " + " | ".join(cells) + " |")
    print_ratios(results, cols, batches, 3, passes, "battle_pass")
    print_ratios(results, cols, batches, 4, natives, "native")
    summary = {}
    for o in obs_modes:
        best = max(((r, m, b, p, n) for (w, oo, m, p, n, b), r in results.items() if oo == o and w == workloads[0]),
                   default=None)
        if best is None:
            continue
        rate, mode, batch, battle_pass, native = best
        ratio = rate / ref[o]["env"]
        summary[o] = {"best": rate, "mode": mode, "batch": batch, "battle_pass": battle_pass, "native": native,
                      "reference": ref[o]["env"], "ratio": ratio}
        print(f"best {o} ({workloads[0]} workload): {rate:,.0f} steps/s ({mode}, batch {batch:,}, battle_pass="
              f"{_pass_name(battle_pass)}, native={native}) = {ratio:,.2f}x the reference env's "
              f"{ref[o]['env']:,.0f}/s")
    print(f"state per env: {per_env:,} bytes")
    if args.profile:
        print(f"\nprofile of an eager symbolic step, batch {args.profile:,}:")
        print(profile_step(args.size, args.profile, device, "symbolic"))
    return {"results": results, "battle_share": battle_share, "reference": ref, "bytes_per_env": per_env,
            "summary": summary}


def print_ratios(results: dict, cols: list[tuple], batches: list[int], axis: int, values: list, name: str) -> None:
    """Each column's steps/s as a ratio of the column that differs only in option ``axis`` (``name``), set to
    its first value, batch by batch (nothing when the option has one value)."""
    if len(values) < 2:
        return
    base = values[0]
    for c in cols:
        if c[axis] == base:
            continue
        twin = (*c[:axis], base, *c[axis + 1:])
        ratios = [f"{results[(*twin, b)] / results[(*c, b)]:.2f}x at {b:,}" for b in batches
                  if (*c, b) in results and (*twin, b) in results]
        if ratios:
            rest = ", ".join(_pass_name(v) for i, v in enumerate(c) if i != axis)
            print(f"{name}={_pass_name(base)} / {name}={_pass_name(c[axis])} ({rest}): " + ", ".join(ratios))


def _pass_name(battle_pass: object) -> str:
    return "none" if battle_pass is None else str(battle_pass)


def _label(col: tuple) -> str:
    """A column's name: the observation and step implementation, then what differs from the defaults."""
    workload, obs_mode, mode, battle_pass, native = col
    extra = "" if battle_pass == "auto" else f" battle_pass={_pass_name(battle_pass)}"
    extra += "" if native == "auto" else f" native={native}"
    return ("" if workload == "random" else f"{workload} ") + f"{obs_mode} {mode}{extra}"


if __name__ == "__main__":
    main()
