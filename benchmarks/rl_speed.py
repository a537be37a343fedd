"""Training steps/s of the RL learners, side by side in one run on this machine.

    python benchmarks/rl_speed.py [--iterations 6] [--device cpu] [--out runs/benchmarks]

Rows (same PPO settings and network everywhere; only the envs and the learner change):

* ``sb3 + subproc``: Stable-Baselines3 PPO over ``SubprocVecEnv`` of the reference engine (QuestMini);
* ``sb3 + dummy``: the same in one process (often faster than subprocesses on a 2-core machine);
* ``sb3 + batched``: SB3 PPO over the batched torch engine as a ``VecEnv``;
* ``ppo-device + batched``: the device-resident PPO over the batched engine;
* ``ppo-device + toy`` and ``sb3 + toy``: the same learners on the toy stand-in engine, whose step costs
  almost nothing: the learners' own ceiling on this device.

``--network`` instead times one PPO minibatch update (2,048 symbolic QuestMini samples that the shipped policy
met: forward, backward, Adam) of the policy network, each way in turn: ``EmbeddingBag``'s own backward, a
one-hot product over every grid row (``networks.grid_sum`` before), over the rows the minibatch uses (now),
with Adam fused, and with the network compiled; and checks that all give the same weights.

``--passes 4,2`` instead trains the QuestMini badge recipe's setting (ppo-device on the batched engine, 512
envs x 32 steps, 8 minibatches, the ``quest`` shaping, position-cell archive starts, the engine compiled) for
``--iterations`` updates with each number of PPO passes over a rollout (``--n-epochs``) in turn, ``--rounds``
times interleaved after a round that warms the compiled engine up, and prints the median training steps/s
of each and their ratio to the first.

A row whose engine is missing is reported as skipped. Training steps/s counts env steps per second of
training (rollouts and updates), from the first logged iteration to the last (start-up and compilation
left out). ``--compile`` compiles the batched engine's step in the batched rows (``--torch-compile``).
Absolute numbers drift on a shared machine; compare rows from one run: each row's ratio to the first measured
(``sb3 + subproc`` unless ``--rows`` leaves it out) is printed beside it. Writes ``rl_speed.json`` and
``rl_speed.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _args import nonnegative_int, output_folder, positive_int

from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.runlog import read_metrics

#: (label, learner, vec_env, env_id or None for the default, num_envs)
ROWS = (
    ("sb3 + subproc", "ppo", "subproc", None, 8),
    ("sb3 + dummy", "ppo", "dummy", None, 8),
    ("sb3 + batched", "ppo", "batched", None, 64),
    ("ppo-device + batched", "ppo-device", "batched", None, 256),
    ("sb3 + toy", "ppo", "toy", "LongplayToy/Grid-v0", 64),
    ("ppo-device + toy", "ppo-device", "toy", "LongplayToy/Grid-v0", 256),
)


def measure(label: str, learner: str, vec_env: str, env_id: str | None, num_envs: int,
            args: argparse.Namespace, runs_dir: str) -> dict[str, Any]:
    """Trains one row for ``args.iterations`` updates; returns its steady training steps/s."""
    if learner == "ppo":
        from longplay.agents.rl.sb3_train import train
    else:
        from longplay.agents.rl.ppo_device import train  # type: ignore[assignment]
    config = TrainConfig(
        learner=learner, vec_env=vec_env, num_envs=num_envs, n_steps=args.n_steps,
        total_steps=num_envs * args.n_steps * args.iterations, n_epochs=args.n_epochs, n_minibatches=4,
        device=args.device, torch_threads=args.threads, eval_every=-1, checkpoint_every=10**12,
        progress=False, runs_dir=runs_dir, run_name=label.replace(" + ", "_"), max_episode_steps=4096,
        torch_compile=args.compile and (learner == "ppo-device" or vec_env == "batched"))
    if env_id:
        config.env_id = env_id
    start = time.perf_counter()
    try:
        result = train(config)
    except ValueError as exc:  # the engine is not installed, or cannot run this env
        return {"label": label, "skipped": str(exc)}
    return {"label": label, "learner": learner, "vec_env": vec_env, "num_envs": num_envs,
            "steps": result.steps, "train_sps": steady_sps(result.run_dir), "wall_s": time.perf_counter() - start}


def steady_sps(run_dir: Path, skip: int = 0) -> float:
    """A run's steady training steps/s: from its first logged point (after the first ``skip``, left out as
    warm-up) to its last. ``charts/SPS`` counts from the start of training, so time(step) = step / SPS and the
    time to the first point, with any compilation in it, is left out. A run that logged one point (past the
    skipped) gives that point's figure."""
    points = [(p["step"], p["charts/SPS"]) for p in read_metrics(run_dir) if "charts/SPS" in p]
    (first, first_rate), (last, last_rate) = points[skip], points[-1]
    if last == first:
        return last_rate
    return (last - first) / (last / last_rate - first / first_rate)


def passes(args: argparse.Namespace) -> None:
    """``--passes``: the badge recipe's training steps/s with each number of PPO passes, interleaved."""
    from longplay.agents.rl.ppo_device import train

    counts = [int(n) for n in args.passes.split(",")]
    sps: dict[int, list[float]] = {n: [] for n in counts}
    runs_dir = tempfile.mkdtemp(prefix="rl_speed_")
    try:
        for round_ in range(-1, args.rounds):  # round -1 warms the compiled engine up and is not counted
            for n in counts:
                config = TrainConfig(
                    learner="ppo-device", vec_env="batched", num_envs=512, n_steps=32, n_minibatches=8,
                    n_epochs=n, total_steps=512 * 32 * args.iterations, shaping="quest",
                    buttons="up,down,left,right,a,b", archive_starts=0.5, archive_cell="position",
                    max_episode_steps=2048, torch_compile=True, device=args.device, torch_threads=args.threads,
                    eval_every=-1, checkpoint_every=10**12, progress=False, runs_dir=runs_dir,
                    run_name=f"passes{n}_round{round_}", seed=max(round_, 0))
                result = train(config)
                if round_ < 0:
                    continue
                sps[n].append(steady_sps(result.run_dir))
                print(f"round {round_}: {n} passes {sps[n][-1]:>9,.0f} training steps/s", flush=True)
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    base = statistics.median(sps[counts[0]])
    for n in counts:
        median = statistics.median(sps[n])
        print(f"{n} PPO passes: {median:>9,.0f} training steps/s (median of {args.rounds}), {median / base:.2f}x")


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """A horizontal bar chart of the measured rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if "train_sps" in r]
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.55 * len(done)))
    labels = [f"{r['label']} ({r['num_envs']} envs)" for r in done][::-1]
    values = [r["train_sps"] for r in done][::-1]
    colors = ["#888888" if "toy" in r["label"] else "#1f77b4" for r in done][::-1]
    ax.barh(labels, values, color=colors)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center")
    ax.set_xlabel("training steps/s (rollouts + PPO updates)")
    ax.set_title(title)
    ax.set_xlim(0, max(values) * 1.25 if values else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def played_observations(samples: int, num_envs: int = 512, steps: int = 400) -> dict[str, Any]:
    """``samples`` symbolic QuestMini observations as training sees them: the shipped policy plays ``num_envs``
    envs of the batched engine for ``steps`` steps, and the samples are drawn from its last 32 steps (how many
    grid rows a minibatch uses depends on where the envs are: random ids would use every row)."""
    import torch

    from longplay.agents.rl.milestone_rates import play
    from longplay.agents.rl.policy_agent import DEFAULT_CHECKPOINT, load_policy
    from longplay.envs.quest.batched import BatchedQuest

    engine = BatchedQuest(num_envs, size="mini", max_episode_steps=None)
    kept = [{k: v.clone() for k, v in obs.items()}
            for step, obs, _, _ in play(load_policy(DEFAULT_CHECKPOINT, "cpu"), engine, steps, seed=0)
            if step > steps - 32]
    batch = {k: torch.cat([o[k] for o in kept]) for k in kept[0]}
    pick = torch.randperm(len(batch["vector"]), generator=torch.Generator().manual_seed(0))[:samples]
    return {k: v[pick] for k, v in batch.items()}


def network(args: argparse.Namespace) -> None:
    """``--network``: one PPO minibatch update of the policy network, each way of computing it in turn."""

    import torch

    from longplay.agents.rl import networks

    torch.set_num_threads(max(args.threads, 1))
    description = {"entities": {"kind": "grid", "shape": [9, 10], "classes": 16},
                   "tiles": {"kind": "grid", "shape": [9, 10], "classes": 17},
                   "vector": {"kind": "vector", "shape": [32], "size": 32}}
    obs = played_observations(2048)
    for key in ("entities", "tiles"):
        ids = obs[key].long().flatten(1) + torch.arange(90) * description[key]["classes"]
        used = int(torch.unique(ids).numel())
        print(f"{key}: the minibatch uses {used} of {90 * description[key]['classes']} grid rows")

    class AllRows(torch.autograd.Function):
        """The grid backward before: one-hot over every (cell, id) row."""

        @staticmethod
        def forward(ctx: Any, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(ids)
            ctx.rows = weight.shape[0]
            return torch.nn.functional.embedding_bag(ids, weight, mode="sum")

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
            (ids,) = ctx.saved_tensors
            return None, grad.new_zeros(ids.shape[0], ctx.rows).scatter_(1, ids, 1.0).t() @ grad

    own = networks.grid_sum
    ways = {  # label -> (grid_sum, fused Adam, compiled network)
        "EmbeddingBag backward": (lambda ids, bag: bag(ids), False, False),
        "one-hot, all rows": (lambda ids, bag: AllRows.apply(ids, bag.weight), False, False),
        "one-hot, used rows": (own, False, False),
        "used rows + fused Adam (ppo-device)": (own, True, False),
        "the same, compiled network": (own, True, True),
    }
    nets = {}
    for label, (_, fused, compiled) in ways.items():
        torch.manual_seed(0)
        net = networks.ActorCritic(description, 6)
        nets[label] = (net, torch.compile(net) if compiled else net,
                       torch.optim.Adam(net.parameters(), lr=5e-4, eps=1e-5, fused=fused))
    times: dict[str, list[float]] = {label: [] for label in ways}
    for round_ in range(args.iterations * 4 + 2):
        for label, (_net, forward, optimizer) in nets.items():
            networks.grid_sum = ways[label][0]
            t0 = time.perf_counter()
            logits, value = forward(obs)
            loss = (logits ** 2).mean() + value.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if round_ >= 2:  # (the first rounds compile and warm up)
                times[label].append(time.perf_counter() - t0)
    networks.grid_sum = own
    base = statistics.median(times["EmbeddingBag backward"])
    print(f"one PPO minibatch update, 2,048 played samples, {args.threads} thread(s), medians of "
          f"{len(times[label])} interleaved rounds:")
    for label in ways:
        ms = statistics.median(times[label])
        print(f"  {label:<38} {ms * 1e3:6.1f} ms  {base / ms:4.2f}x EmbeddingBag's")
    reference = list(nets["EmbeddingBag backward"][0].parameters())
    for label in ways:
        same = all(torch.allclose(p, q, atol=1e-4) for p, q in zip(reference, nets[label][0].parameters(), strict=True))
        print(f"  same weights as EmbeddingBag's after the rounds: {label}: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=positive_int, default=6, help="PPO updates per row")
    parser.add_argument("--n-steps", type=positive_int, default=64, help="rollout length per env")
    parser.add_argument("--n-epochs", type=positive_int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=nonnegative_int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--compile", action="store_true",
                        help="--torch-compile for the batched-engine rows and ppo-device (the engine's step; on "
                             "CUDA also the ppo-device network)")
    parser.add_argument("--rows", default="", help="comma-separated labels to run (default: all)")
    parser.add_argument("--out", type=output_folder, default="runs/benchmarks", help="where the JSON and PNG go")
    parser.add_argument("--network", action="store_true",
                        help="time the policy network's minibatch update with each grid backward instead")
    parser.add_argument("--passes", default="",
                        help="comma-separated PPO pass counts: time the badge recipe's setting with each instead")
    parser.add_argument("--rounds", type=positive_int, default=3, help="--passes: interleaved rounds")
    args = parser.parse_args()
    labels = [row[0] for row in ROWS]
    unknown = [r.strip() for r in args.rows.split(",") if r.strip() and r.strip() not in labels]
    if unknown:
        parser.error(f"--rows: no row {unknown[0]!r}; the rows: {', '.join(labels)}")
    if args.passes:
        try:
            [positive_int(n) for n in args.passes.split(",")]
        except argparse.ArgumentTypeError as exc:
            parser.error(f"--passes: {exc}")
        passes(args)
        return
    if args.network:
        network(args)
        return
    wanted = {r.strip() for r in args.rows.split(",") if r.strip()}
    runs_dir = tempfile.mkdtemp(prefix="rl_speed_")
    rows = []
    try:
        for label, learner, vec_env, env_id, num_envs in ROWS:
            if wanted and label not in wanted:
                continue
            row = measure(label, learner, vec_env, env_id, num_envs, args, runs_dir)
            rows.append(row)
            if "skipped" in row:
                print(f"{label:<24} skipped: {row['skipped']}")
                continue
            base = next(r for r in rows if "train_sps" in r)  # the first row measured: the ratios' reference
            print(f"{label:<24} {row['num_envs']:>4} envs  {row['train_sps']:>9,.0f} training steps/s  "
                  f"{row['train_sps'] / base['train_sps']:>6.2f}x {base['label']}", flush=True)
    finally:
        shutil.rmtree(runs_dir, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"device": args.device, "threads": args.threads, "n_steps": args.n_steps,
            "n_epochs": args.n_epochs, "iterations": args.iterations, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}
    (out / "rl_speed.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    plot(rows, out / "rl_speed.png", f"PPO training throughput on {args.device} ({os.cpu_count()} CPUs, "
         f"load {meta['load_average'][0]:.1f})")
    print(f"wrote {out / 'rl_speed.json'} and {out / 'rl_speed.png'}")


if __name__ == "__main__":
    main()
