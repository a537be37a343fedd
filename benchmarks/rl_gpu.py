"""Training steps/s of the device-resident PPO on a CUDA GPU: one command.

    python benchmarks/rl_gpu.py                      # QuestMini on the batched engine, 16,384 envs
    python benchmarks/rl_gpu.py --compile            # with torch.compile (network and engine step)
    python benchmarks/rl_gpu.py --engine toy         # the learner alone, on the toy stand-in engine
    python benchmarks/rl_gpu.py --cuda-graph         # also with the engine's step in a CUDA graph, side by side

Prints the engine's own steps/s (random actions, no learning) and the learner's training steps/s (rollouts,
GAE and PPO updates, everything on the GPU), measured after ``--warmup`` iterations so compilation and
allocator warm-up are left out. The goal on one H200 is at least 5,000,000 training steps/s. Exits with a
one-line message when no CUDA device is present (``--device cpu`` runs it anyway, slowly).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch
from _args import output_file, positive_int
from _checks import write_json
from rl_speed import steady_sps

from longplay.agents.rl.config import TrainConfig

GOAL = 5_000_000


def engine_rate(config: TrainConfig, steps: int, compile_engine: bool) -> float:
    """Env-only steps/s of the batched engine with random actions (the learner's ceiling); its step replayed
    as a CUDA graph where ``config.cuda_graph``."""
    from longplay.agents.rl.batched import make_engine

    engine = make_engine(config, config.device)
    if compile_engine and hasattr(engine, "compile"):
        engine.compile()
    engine.reset(seed=0)
    if config.cuda_graph:
        engine.capture_graph()
    n = engine.num_envs
    for _ in range(5):
        engine.step(torch.randint(0, 8, (n,), device=config.device))
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        engine.step(torch.randint(0, 8, (n,), device=config.device))
    sync()
    return n * steps / (time.perf_counter() - start)


def sync() -> None:
    """Waits for queued GPU work (timing needs it)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("batched", "toy"), default="batched")
    parser.add_argument("--env", default="longplay/QuestMini-v0")
    parser.add_argument("--num-envs", type=positive_int, default=16_384)
    parser.add_argument("--n-steps", type=positive_int, default=32, help="rollout length per env")
    parser.add_argument("--n-epochs", type=positive_int, default=2)
    parser.add_argument("--n-minibatches", type=positive_int, default=8)
    parser.add_argument("--iterations", type=positive_int, default=12, help="measured PPO iterations")
    parser.add_argument("--warmup", type=positive_int, default=3,
                        help="iterations left out of the measure (at least the first: its rate starts the measure)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (and the engine)")
    parser.add_argument("--cuda-graph", action="store_true",
                        help="also measure with the engine's step replayed as a CUDA graph (train --cuda-graph), "
                             "after the plain step, and print the ratio (skipped off CUDA)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", type=output_file, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("rl_gpu: no CUDA device here; run it on a GPU machine (or pass --device cpu)", file=sys.stderr)
        return 2
    if args.engine == "toy":
        from longplay.agents.rl.toy import register_toy

        args.env = register_toy()
    with tempfile.TemporaryDirectory(prefix="rl_gpu_") as runs_dir:  # the run's checkpoint and logs: not kept
        return measure(args, parser, runs_dir)


def measure(args: argparse.Namespace, parser: argparse.ArgumentParser, runs_dir: str) -> int:
    """Measures the engine alone, then PPO training, with the run's files in ``runs_dir``; with ``--cuda-graph``
    on CUDA, both again with the engine's step in a CUDA graph."""
    from longplay.agents.rl.ppo_device import train

    total_iterations = args.warmup + args.iterations
    config = TrainConfig(
        env_id=args.env, learner="ppo-device", vec_env=args.engine, num_envs=args.num_envs,
        n_steps=args.n_steps, n_epochs=args.n_epochs, n_minibatches=args.n_minibatches, device=args.device,
        total_steps=args.num_envs * args.n_steps * total_iterations, torch_compile=args.compile,
        eval_every=-1, checkpoint_every=10**15, progress=False, runs_dir=runs_dir, run_name="gpu",
        max_episode_steps=4096)
    try:
        config.validate()
    except ValueError as exc:  # e.g. a batch that --n-minibatches does not divide
        parser.error(str(exc))
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"device: {name}; engine: {args.engine}; env: {config.env_id}; {args.num_envs:,} envs; "
          f"batch {config.batch_size:,}; compile: {args.compile}")
    kinds = [False]
    if args.cuda_graph and args.engine == "batched" and args.device.startswith("cuda"):
        kinds.append(True)
    elif args.cuda_graph:
        print("rl_gpu: --cuda-graph skipped (it needs the batched engine on a CUDA device)")
    results = {}
    for graph in kinds:
        config.cuda_graph, config.run_name = graph, "gpu-graph" if graph else "gpu"
        label = " (CUDA graph)" if graph else ""
        try:
            env_sps = engine_rate(config, 50, args.compile)
        except ValueError as exc:  # the batched engine is not installed
            print(f"rl_gpu: {exc}", file=sys.stderr)
            return 2
        print(f"engine only (random actions){label}:  {env_sps:>14,.0f} steps/s")
        train_sps = steady_sps(train(config).run_dir, skip=args.warmup - 1)  # the warm-up's last point starts it
        print(f"ppo-device training{label}:           {train_sps:>14,.0f} steps/s  "
              f"({train_sps / GOAL:.2f}x the goal of {GOAL:,})")
        results["graph" if graph else "plain"] = {"engine_sps": env_sps, "train_sps": train_sps}
        if args.json:  # after each kind: a run stopped at its timeout keeps what it measured
            write_json(args.json, {
                "device": name, "engine": args.engine, "num_envs": args.num_envs, "batch": config.batch_size,
                "compile": args.compile, **results["plain"], "cuda_graph": results.get("graph"), "goal": GOAL})
    if "graph" in results:
        plain, graph = results["plain"], results["graph"]
        print(f"CUDA graph against the plain step, same run: engine {graph['engine_sps'] / plain['engine_sps']:.2f}x, "
              f"training {graph['train_sps'] / plain['train_sps']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
