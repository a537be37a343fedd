"""Learning curves on QuestMini: PPO with sparse reward and with shaping, three seeds each, on one chart
with the random agent and the oracle.

    python benchmarks/rl_learning.py [--steps 1310720] [--seeds 0,1,2] [--workers 2] [--out runs/benchmarks]

Each run trains from scratch with ``longplay train``'s code (``--learner auto``: the device-resident PPO on
the batched engine when it is installed, else Stable-Baselines3 PPO) and is evaluated every
``--eval-every`` env steps: ``--eval-episodes`` episodes of ``--eval-steps`` steps on the reference env from
fixed seeds, recorded as replays. The random agent and the oracle play the same evaluation episodes. The
defaults are those of ``docs/rl.md`` ("Learning on QuestMini"): six buttons, 2,048-step training episodes,
512 envs x 32 steps; ``--steps 1310720`` trains the six runs in about 25 minutes on a 2-core CPU, and
``--rewards shaped --seeds 1,2 --steps 8000000 --eval-every 1000000`` the three-seed runs of the shaped
recipe (27 minutes for two).

The chart (``rl_learning.png``) has two panels: milestones per evaluation episode against training env
steps (each seed thin, the mean thick; random and oracle as horizontal lines), and the final policies'
milestones against steps within each evaluation episode beside random and oracle. The numbers go
to ``rl_learning.json``. Runs go to ``--runs-dir`` (their TensorBoard logs, checkpoints and replays stay).
``--from-runs DIR ...`` charts runs trained before with ``longplay train`` (their run folders) instead of
training, with the random agent and the oracle played again; a run whose final shaping is neither ``none`` nor
``--shaping`` (a ``--resume`` curriculum, such as the shipped policy's) is drawn as its own arm.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _args import nonnegative_int, output_folder, positive_int

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
        num_envs=args.num_envs or (512 if device_learner else 8), n_steps=args.n_steps or (32 if device_learner
                                                                                          else 128),
        n_minibatches=8 if device_learner else 4, n_epochs=args.epochs, learning_rate=args.lr,
        total_steps=args.steps,
        shaping=args.shaping if reward == "shaped" else "none", buttons=args.buttons, seed=seed,
        device=args.device, torch_threads=1, torch_compile=args.compile and device_learner,
        archive_starts=args.archive_starts if device_learner else 0.0,
        max_episode_steps=args.episode_steps, eval_every=args.eval_every, eval_steps=args.eval_steps,
        eval_episodes=args.eval_episodes, checkpoint_every=args.eval_every, keep_checkpoints=1, progress=False,
        runs_dir=args.runs_dir, run_name=f"learning__{reward}__seed{seed}")


def train_one(config: TrainConfig) -> dict[str, Any]:
    """Trains one run (in a worker process); returns its evaluations, grouped by training step."""
    import torch

    torch.set_num_threads(1)
    if config.learner == "ppo":
        from longplay.agents.rl.sb3_train import train
    else:
        from longplay.agents.rl.ppo_device import train  # type: ignore[assignment]
    start = time.perf_counter()
    result = train(config)
    return {"run": config.run_name, "shaping": config.shaping, "seed": config.seed, "steps": result.steps,
            "seconds": time.perf_counter() - start, "checkpoint": str(result.checkpoint),
            "evals": evals_by_step(result.run_dir)}


def evals_by_step(run_dir: str | Path) -> list[dict[str, Any]]:
    """A run's evaluation episodes' milestones, grouped by training step."""
    by_step: dict[int, list[dict[str, int]]] = {}
    for e in read_evals(run_dir):
        by_step.setdefault(e["step"], []).append(e["milestones"])
    return [{"step": step, "episodes": episodes} for step, episodes in sorted(by_step.items())]


def read_run(run_dir: str) -> dict[str, Any]:
    """A run trained elsewhere (``longplay train``'s run folder), in :func:`train_one`'s form."""
    run = Path(run_dir)
    config = json.loads((run / "config.json").read_text())
    evals = evals_by_step(run)
    return {"run": config["run_name"] or run.name, "shaping": config["shaping"], "seed": config["seed"],
            "steps": max((e["step"] for e in evals), default=0), "seconds": None, "checkpoint": None,
            "evals": evals}


def baseline(name: str, eval_steps: int, episodes: int) -> list[dict[str, int]]:
    """The milestones (id -> step) that agent ``name`` reaches in each evaluation episode."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401
    from longplay.agents.base import make_agent
    from longplay.agents.runner import run

    reached = []
    for episode in range(episodes):
        agent = make_agent(name)
        env = gym.make(ENV_ID, obs_mode="symbolic", max_episode_steps=eval_steps)
        result = run(env, agent, eval_steps, seed=EVAL_SEED + episode, progress=False)
        env.close()
        reached.append(dict(result.milestones))
    return reached


def mean_count(episodes: list[dict[str, int]]) -> float:
    """Mean number of milestones over evaluation episodes."""
    return sum(len(e) for e in episodes) / max(len(episodes), 1)


def plot(runs: list[dict[str, Any]], baselines: dict[str, list[dict[str, int]]], catalog: list[str],
         args: argparse.Namespace, path: Path) -> None:
    """The two-panel chart described in the module docstring."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"sparse": "#1f77b4", "shaped": "#d62728", "curriculum": "#2ca02c"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for reward, color in colors.items():
        mine = [r for r in runs if _arm(r, args) == reward]
        curves = []
        for r in mine:
            xs = [0] + [e["step"] for e in r["evals"]]
            ys = [0.0] + [mean_count(e["episodes"]) for e in r["evals"]]
            left.plot(xs, ys, color=color, alpha=0.3, lw=1, drawstyle="steps-post")
            curves.append((xs, ys))
        if curves:
            xs, mean = mean_curve(curves)
            left.plot(xs, mean, color=color, lw=2.5, drawstyle="steps-post",
                      label=f"PPO {reward} (mean of {len(curves)} seed{'s' if len(curves) > 1 else ''})")
        first = True
        for r in mine:
            for reached in (r["evals"][-1]["episodes"] if r["evals"] else []):
                xs, ys = _step_curve(reached, args.eval_steps)
                right.plot(xs, ys, color=color, alpha=0.5, drawstyle="steps-post",
                           label=f"PPO {reward}" if first else None)
                first = False
    for name, style in (("random", ":"), ("oracle", "--")):
        episodes = baselines[name]
        left.axhline(mean_count(episodes), color="k", ls=style, lw=1.2,
                     label=f"{name} ({mean_count(episodes):g} in {args.eval_steps:,} steps)")
        for i, reached in enumerate(episodes):
            xs, ys = _step_curve(reached, args.eval_steps)
            right.plot(xs, ys, color="k", ls=style, drawstyle="steps-post", label=name if i == 0 else None)
    left.set_xlabel("training env steps")
    left.set_ylabel(f"milestones per evaluation episode (of {len(catalog)})")
    left.set_title(f"Learning on {ENV_ID} ({args.learner})")
    left.set_ylim(-0.2, len(catalog) + 0.5)
    left.legend(loc="upper left", fontsize=8)
    right.set_xlabel("step of the evaluation episode")
    right.set_ylabel("milestones reached")
    right.set_title("Final policies within an evaluation episode")
    right.set_ylim(-0.2, len(catalog) + 0.5)
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def mean_curve(curves: list[tuple[list[int], list[float]]]) -> tuple[list[int], list[float]]:
    """The mean of step curves ``(steps, values)`` evaluated at different steps (a resumed run evaluates once
    more where it was resumed): at every step any of them has, up to the end of the shortest, each curve
    counts its last value at or before that step."""
    import bisect

    end = min(xs[-1] for xs, _ in curves)
    grid = sorted({x for xs, _ in curves for x in xs if x <= end})
    mean = [sum(ys[bisect.bisect_right(xs, x) - 1] for xs, ys in curves) / len(curves) for x in grid]
    return grid, mean


def _arm(run: dict[str, Any], args: argparse.Namespace) -> str:
    """``sparse``, ``shaped`` (the ``--shaping`` recipe) or ``curriculum`` (a run whose shaping changed on the
    way, as ``--resume`` curriculum steps leave it: charted from ``--from-runs``)."""
    if run["shaping"] == "none":
        return "sparse"
    return "shaped" if run["shaping"] == args.shaping else "curriculum"


def _step_curve(milestones: dict[str, int], horizon: int) -> tuple[list[int], list[int]]:
    steps = sorted(milestones.values())
    return [0, *steps, horizon], [0, *range(1, len(steps) + 1), len(steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learner", choices=("auto", "ppo", "ppo-device"), default="auto")
    parser.add_argument("--steps", type=positive_int, default=1_310_720, help="training env steps per run")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--num-envs", type=nonnegative_int, default=0, help="0: 512 for ppo-device, 8 for ppo")
    parser.add_argument("--n-steps", type=nonnegative_int, default=0,
                        help="rollout length (0: 32 for ppo-device, 128 for ppo)")
    parser.add_argument("--epochs", type=positive_int, default=4, help="PPO epochs over each rollout")
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (annealed to 0)")
    parser.add_argument("--buttons", default="up,down,left,right,a,b",
                        help="the buttons the policy presses ('' for all eight)")
    parser.add_argument("--episode-steps", type=int, default=2048,
                        help="training episode length: the oracle needs 900 to 5,500 steps for the badge")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU run at a larger --steps")
    parser.add_argument("--eval-every", type=positive_int, default=262_144,
                        help="training env steps between evaluations (and checkpoints)")
    parser.add_argument("--eval-steps", type=positive_int, default=4096, help="evaluation episode length")
    parser.add_argument("--eval-episodes", type=positive_int, default=2,
                        help="evaluation episodes each time (seeds differ)")
    parser.add_argument("--workers", type=positive_int, default=2, help="runs trained at once")
    parser.add_argument("--runs-dir", default="runs/benchmarks/learning")
    parser.add_argument("--out", type=output_folder, default="runs/benchmarks", help="where the JSON and PNG go")
    parser.add_argument("--rewards", default="sparse,shaped", help="which runs: sparse, shaped or both")
    parser.add_argument("--shaping", default=REWARDS["shaped"], help="the shaped runs' --shaping")
    parser.add_argument("--from-runs", nargs="+", default=[], metavar="RUN_DIR",
                        help="chart runs trained before (longplay train's run folders, with their evaluations) "
                             "instead of training")
    parser.add_argument("--compile", action="store_true",
                        help="ppo-device: torch.compile the engine's step and the network (--torch-compile)")
    parser.add_argument("--archive-starts", type=float, default=0.0,
                        help="ppo-device: fraction of episodes started from the run's archive (both rewards)")
    args = parser.parse_args()
    if args.learner == "auto":
        args.learner = "ppo-device" if batched_engine_installed() else "ppo"
    try:
        seeds = [nonnegative_int(s) for s in args.seeds.split(",")]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--seeds: {exc}")
    rewards = [r for r in args.rewards.split(",") if r]
    if not rewards or any(r not in REWARDS for r in rewards):
        parser.error(f"--rewards takes {', '.join(REWARDS)}")
    start = time.perf_counter()
    if args.from_runs:
        missing = [d for d in args.from_runs if not (Path(d) / "config.json").is_file()]
        if missing:
            parser.error(f"--from-runs: {missing[0]} is not a longplay train run folder (no config.json)")
        runs = [read_run(d) for d in args.from_runs]
        print(f"{len(runs)} runs read from their folders")
    else:
        configs = [run_config(reward, seed, args) for reward in rewards for seed in seeds]
        try:  # here, not in a worker process's traceback
            for config in configs:
                config.validate()
        except ValueError as exc:
            parser.error(str(exc))
        # here, not as a worker's traceback once the other runs have started
        from longplay.agents.rl.sb3_train import holds_a_run, run_folder

        for run_dir in (run_folder(config) for config in configs):
            if holds_a_run(run_dir):
                parser.error(f"--runs-dir: {run_dir} holds a run already; give another --runs-dir, or chart the "
                             "runs there with --from-runs")
        print(f"{len(configs)} runs of {args.steps:,} steps ({args.learner}), {args.workers} at a time")
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            runs = list(pool.map(train_one, configs))
    train_seconds = time.perf_counter() - start
    baselines = {name: baseline(name, args.eval_steps, args.eval_episodes) for name in ("random", "oracle")}
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
    if not args.from_runs:
        print(f"trained in {train_seconds / 60:.1f} min")
    print(f"{'run':<28} {'final milestones per eval episode':>34}  first training step with the badge")
    for r in runs:
        final = [len(e) for e in r["evals"][-1]["episodes"]] if r["evals"] else []
        badge = next((e["step"] for e in r["evals"] if any("badge_1" in m for m in e["episodes"])), None)
        print(f"{r['run']:<28} {str(final):>34}  {badge if badge is not None else '-'}")
    for name, episodes in baselines.items():
        badges = [e.get("badge_1", "-") for e in episodes]
        print(f"{name:<28} {str([len(e) for e in episodes]):>34}  badge at episode step {badges}")
    print(f"wrote {out / 'rl_learning.json'} and {out / 'rl_learning.png'}")


if __name__ == "__main__":
    main()
