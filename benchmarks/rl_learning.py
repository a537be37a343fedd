"""Learning curves on QuestMini: PPO with sparse reward and with shaping, three seeds each, on one chart
with the random agent and the oracle.

    python benchmarks/rl_learning.py [--steps 400000] [--seeds 0,1,2] [--workers 2] [--out runs/benchmarks]

Each run trains from scratch with ``longplay train``'s code (``--learner auto``: the device-resident PPO on
the batched engine when it is installed, else Stable-Baselines3 PPO) and is evaluated every
``--eval-every`` env steps: one episode of ``--eval-steps`` steps on the reference env from a fixed seed,
recorded as a replay. The random agent and the oracle play the same evaluation episodes.

The chart (``rl_learning.png``) has two panels: milestones reached in the evaluation episode against
training env steps (each seed thin, the mean thick; random and oracle as horizontal lines), and the final
policies' milestones against steps within the evaluation episode beside random and oracle. The numbers go
to ``rl_learning.json``. Runs go to ``--runs-dir`` (their TensorBoard logs, checkpoints and replays stay).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.evaluation import EVAL_SEED, read_evals

ENV_ID = "longplay/QuestMini-v0"
REWARDS = {"sparse": "none", "shaped": "quest"}


def batched_engine_installed() -> bool:
    """True when the batched quest engine can be imported."""
    try:
        from longplay.envs.quest.batched import BatchedQuest  # noqa: F401
    except ImportError:
        return False
    return True


def run_config(reward: str, seed: int, args: argparse.Namespace) -> TrainConfig:
    """The config of one learning run (the same for every seed and reward but those two)."""
    device_learner = args.learner == "ppo-device"
    return TrainConfig(
        env_id=ENV_ID, learner=args.learner, vec_env="batched" if device_learner else "dummy",
        num_envs=args.num_envs or (128 if device_learner else 8), n_steps=64 if device_learner else 128,
        n_minibatches=8 if device_learner else 4, total_steps=args.steps, shaping=REWARDS[reward], seed=seed,
        device=args.device, torch_threads=1,
        max_episode_steps=args.episode_steps, eval_every=args.eval_every, eval_steps=args.eval_steps,
        eval_episodes=1, checkpoint_every=args.eval_every, keep_checkpoints=1, progress=False,
        runs_dir=args.runs_dir, run_name=f"learning__{reward}__seed{seed}")


def train_one(config: TrainConfig) -> dict[str, Any]:
    """Trains one run (in a worker process); returns its evaluations."""
    if config.learner == "ppo":
        from longplay.agents.rl.sb3_train import train
    else:
        from longplay.agents.rl.ppo_device import train  # type: ignore[assignment]
    start = time.perf_counter()
    result = train(config)
    return {"run": config.run_name, "shaping": config.shaping, "seed": config.seed, "steps": result.steps,
            "seconds": time.perf_counter() - start, "checkpoint": str(result.checkpoint),
            "evals": [{"step": e["step"], "milestones": e["milestones"]} for e in read_evals(result.run_dir)]}


def baseline(name: str, eval_steps: int) -> dict[str, int]:
    """The milestones (id -> step) that agent ``name`` reaches in the evaluation episode."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401
    from longplay.agents.base import make_agent
    from longplay.agents.runner import run

    agent = make_agent(name)
    env = gym.make(ENV_ID, obs_mode="symbolic", max_episode_steps=eval_steps)
    result = run(env, agent, eval_steps, seed=EVAL_SEED, progress=False)
    env.close()
    return dict(result.milestones)


def plot(runs: list[dict[str, Any]], baselines: dict[str, dict[str, int]], catalog: list[str],
         args: argparse.Namespace, path: Path) -> None:
    """The two-panel chart described in the module docstring."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"sparse": "#1f77b4", "shaped": "#d62728"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for reward, color in colors.items():
        mine = [r for r in runs if r["shaping"] == REWARDS[reward]]
        curves = []
        for r in mine:
            xs = [0] + [e["step"] for e in r["evals"]]
            ys = [0] + [len(e["milestones"]) for e in r["evals"]]
            left.plot(xs, ys, color=color, alpha=0.3, lw=1, drawstyle="steps-post")
            curves.append((xs, ys))
        if curves:
            n = min(len(c[0]) for c in curves)
            mean = np.mean([c[1][:n] for c in curves], axis=0)
            left.plot(curves[0][0][:n], mean, color=color, lw=2.5, drawstyle="steps-post",
                      label=f"PPO {reward} (mean of {len(curves)} seeds)")
        for r in mine:
            if r["evals"]:
                final = r["evals"][-1]["milestones"]
                xs, ys = _step_curve(final, args.eval_steps)
                right.plot(xs, ys, color=color, alpha=0.6, drawstyle="steps-post",
                           label=f"PPO {reward}" if r is mine[0] else None)
    for name, style in (("random", ":"), ("oracle", "--")):
        reached = baselines[name]
        left.axhline(len(reached), color="k", ls=style, lw=1.2, label=f"{name} ({len(reached)} in "
                     f"{args.eval_steps:,} steps)")
        xs, ys = _step_curve(reached, args.eval_steps)
        right.plot(xs, ys, color="k", ls=style, drawstyle="steps-post", label=name)
    left.set_xlabel("training env steps")
    left.set_ylabel(f"milestones in the evaluation episode (of {len(catalog)})")
    left.set_title(f"Learning on {ENV_ID} ({args.learner})")
    left.set_ylim(-0.2, len(catalog) + 0.5)
    left.legend(loc="upper left", fontsize=8)
    right.set_xlabel("step of the evaluation episode")
    right.set_ylabel("milestones reached")
    right.set_title("Final policies within one episode")
    right.set_ylim(-0.2, len(catalog) + 0.5)
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _step_curve(milestones: dict[str, int], horizon: int) -> tuple[list[int], list[int]]:
    steps = sorted(milestones.values())
    return [0, *steps, horizon], [0, *range(1, len(steps) + 1), len(steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learner", choices=("auto", "ppo", "ppo-device"), default="auto")
    parser.add_argument("--steps", type=int, default=400_000, help="training env steps per run")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--num-envs", type=int, default=0, help="0: 128 for ppo-device, 8 for ppo")
    parser.add_argument("--episode-steps", type=int, default=1024,
                        help="training episode length: short enough that every env restarts several times")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU run at a larger --steps")
    parser.add_argument("--eval-every", type=int, default=100_000)
    parser.add_argument("--eval-steps", type=int, default=4096, help="evaluation episode length")
    parser.add_argument("--workers", type=int, default=2, help="runs trained at once")
    parser.add_argument("--runs-dir", default="runs/benchmarks/learning")
    parser.add_argument("--out", default="runs/benchmarks")
    args = parser.parse_args()
    if args.learner == "auto":
        args.learner = "ppo-device" if batched_engine_installed() else "ppo"
    seeds = [int(s) for s in args.seeds.split(",")]
    configs = [run_config(reward, seed, args) for reward in REWARDS for seed in seeds]
    print(f"{len(configs)} runs of {args.steps:,} steps ({args.learner}), {args.workers} at a time")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(train_one, configs))
    train_seconds = time.perf_counter() - start
    baselines = {name: baseline(name, args.eval_steps) for name in ("random", "oracle")}
    import gymnasium as gym

    env = gym.make(ENV_ID)
    catalog = [m.id for m in env.unwrapped.catalog]
    env.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"env": ENV_ID, "learner": args.learner, "steps_per_run": args.steps,
               "eval_steps": args.eval_steps, "train_wall_s": train_seconds, "cpus": os.cpu_count(),
               "catalog": catalog, "baselines": baselines, "runs": runs}
    (out / "rl_learning.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(runs, baselines, catalog, args, out / "rl_learning.png")
    print(f"trained in {train_seconds / 60:.1f} min")
    print(f"{'run':<28} {'final milestones':>16}  first step with the badge")
    for r in runs:
        final = r["evals"][-1]["milestones"] if r["evals"] else {}
        badge = next((e["step"] for e in r["evals"] if "badge_1" in e["milestones"]), None)
        print(f"{r['run']:<28} {len(final):>16}  {badge if badge is not None else '-'}")
    for name, reached in baselines.items():
        print(f"{name:<28} {len(reached):>16}  {reached.get('badge_1', '-')}")
    print(f"wrote {out / 'rl_learning.json'} and {out / 'rl_learning.png'}")


if __name__ == "__main__":
    main()
