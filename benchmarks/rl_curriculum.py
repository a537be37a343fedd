"""The QuestMini badge curriculum as one command: five ``longplay train`` steps on one run folder, each timed.

    python benchmarks/rl_curriculum.py --seed 0 [--n-epochs 2] [--threads 2] [--runs-dir runs]

Runs the recipe of ``docs/rl.md`` ("The badge in one command") on the device-resident PPO with two PPO passes
per rollout: step 1 the ``quest`` preset (partner, lane, a wild win) with nine in ten finished episodes started
for 256 steps from an archive of 2x2-tile position cells (rarely entered ones first), each walked on by up to
32 random presses, half of those starts from where the episodes from the world's start stop (``--archive-focus``)
and the entropy bonus doubled to 0.02; step 2 grinding (the entropy bonus back to 0.01), steps 3 and 4 trainers
and a gym that pays again once the lead is strong (the same archive throughout), step 5 Go-Explore's explore
phase from 4x4-tile position-and-level cells without focus (a catch counts as a milestone, so the stall there is
the lane after a catch, not the gym), keeping the checkpoint whose 128 episodes from the world's start most
often earn the badge at each evaluation (``--select-episodes``: the badge rate can fall from 80% to 5% in 2M
steps), exported at the end as ``best_policy.zip`` in the run folder. Each step is printed as the
``longplay train`` command it runs, then timed; the table at the end gives each step's minutes, training steps/s
and the evaluation milestones at its end, and ``curriculum.json`` in the run folder keeps them. Run again with
the same arguments, it skips the steps whose checkpoints are there and goes on from the last one (a crash loses
at most a checkpoint interval). The run folder is ``RUNS_DIR/train/RUN_NAME`` (``runs/train/curriculum__seed0``).

``--scale`` multiplies every step's budget (0.01 for a smoke run; each step still trains at least one update of
16,384 env steps). The run folder can then be charted:
``python benchmarks/rl_learning.py --from-runs RUN_DIR``; ``python benchmarks/rl_policy_milestones.py
--checkpoint RUN_DIR/checkpoints/step_....pt`` gives the final policy's milestone rates over 128 episodes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _args import nonnegative_int, positive_float, positive_int

from longplay.agents.rl.policy_agent import load_policy, save_policy

NUM_ENVS, N_STEPS = 512, 32
BATCH = NUM_ENVS * N_STEPS  # env steps per PPO iteration
SELECT_EPISODES = 128  # step 5 keeps its best evaluated checkpoint by this many episodes from the start
SHAPING_GYM = "quest,level_cap=13,map_by_stage=1,damage_by_level=1,event=1,stage_level="
#: (millions of env steps at the step's end, the flags that start or change it).
STEPS: list[tuple[float, list[str]]] = [
    (6, ["--shaping", "quest", "--max-episode-steps", "2048", "--learning-rate", "5e-4",
         "--archive-starts", "0.9", "--archive-cell", "position", "--archive-cell-tiles", "2", "--archive-frontier",
         "--archive-episode-steps", "256", "--archive-explore-steps", "32", "--archive-focus", "0.5",
         "--ent-coef", "0.02"]),
    (12, ["--shaping", "quest,level_cap=8", "--max-episode-steps", "4096", "--ent-coef", "0.01"]),
    (16, ["--no-anneal-lr", "--learning-rate", "2.5e-4", "--shaping", SHAPING_GYM + "13"]),
    (20, ["--max-episode-steps", "6144", "--shaping", SHAPING_GYM + "11"]),
    (32, ["--archive-cell", "position_level", "--archive-cell-tiles", "4", "--no-archive-frontier",
          "--archive-explore-steps", "96", "--archive-focus", "0", "--select-episodes", str(SELECT_EPISODES)]),
]


def step_ends(scale: float) -> list[int]:
    """The env step at which each curriculum step ends: its budget times ``scale``, in whole updates of ``BATCH``
    env steps (a run stops at its last whole rollout), and at least one update past the step before, so every
    step trains with its own flags at any ``--scale`` (at 0.003 steps 2 and 3 both ended after two updates: step
    3 was skipped as done, and its flags never ran)."""
    ends: list[int] = []
    for millions, _ in STEPS:
        ends.append(max(int(millions * 1_000_000 * scale) // BATCH * BATCH, (ends[-1] if ends else 0) + BATCH))
    return ends


def last_checkpoint_step(run_dir: Path) -> int:
    """The env step of the run's newest checkpoint (0 when it has none)."""
    steps = [int(p.stem.split("_")[1]) for p in (run_dir / "checkpoints").glob("step_*.pt")]
    return max(steps, default=0)


def last_evaluation(run_dir: Path, after: int) -> dict[str, float] | None:
    """The run's last evaluation at or after step ``after``: mean milestones per episode and the fraction of
    episodes with the badge."""
    path = run_dir / "eval.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    rows = [r for r in rows if r["step"] >= after]
    if not rows:
        return None
    last = [r for r in rows if r["step"] == max(r["step"] for r in rows)]
    return {"step": last[0]["step"], "milestones": sum(len(r["milestones"]) for r in last) / len(last),
            "badge": sum("badge_1" in r["milestones"] for r in last) / len(last)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--n-epochs", type=positive_int, default=2, help="PPO passes over each rollout (every step)")
    parser.add_argument("--threads", type=positive_int, default=2, help="torch threads")
    parser.add_argument("--scale", type=positive_float, default=1.0,
                        help="multiplies every step's env steps (each step trains at least one update)")
    parser.add_argument("--runs-dir", default="runs", help="the run folder is RUNS_DIR/train/RUN_NAME")
    parser.add_argument("--run-name", default=None, help="default: curriculum__seedN")
    parser.add_argument("--keep-checkpoints", type=nonnegative_int, default=3,
                        help="checkpoints kept (0: all, one per 1M)")
    args = parser.parse_args()

    name = args.run_name or f"curriculum__seed{args.seed}"
    run_dir = Path(args.runs_dir) / "train" / name
    common = ["--torch-threads", str(args.threads), "--no-progress", "--keep-checkpoints", str(args.keep_checkpoints)]
    record_path = run_dir / "curriculum.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"steps": []}
    done = {r["step"] for r in record["steps"]}
    eval_every = max(int(2_000_000 * args.scale), 1)
    for number, ((_, flags), target) in enumerate(zip(STEPS, step_ends(args.scale), strict=True), start=1):
        begun = last_checkpoint_step(run_dir)
        if number in done or begun >= target:
            continue
        if begun == 0:
            argv = ["train", "--env", "QuestMini-v0", "--learner", "ppo-device", "--vec-env", "batched",
                    "--device", "cpu", "--torch-compile", "--num-envs", str(NUM_ENVS), "--n-steps", str(N_STEPS),
                    "--n-minibatches", "8", "--n-epochs", str(args.n_epochs), "--buttons", "up,down,left,right,a,b",
                    "--seed", str(args.seed), "--eval-every", str(eval_every), "--eval-episodes", "2",
                    "--checkpoint-every", str(max(eval_every // 2, 1)), "--runs-dir", args.runs_dir,
                    "--run-name", name, "--steps", str(target), *flags, *common]
        else:
            argv = ["train", "--resume", str(run_dir), "--steps", str(target), *flags, *common]
        print("longplay " + " ".join(argv), flush=True)
        start = time.perf_counter()
        # this interpreter's longplay, the one the script imports: the `longplay` on PATH may be another
        # install's, or missing where the package is only on PYTHONPATH or the venv is not activated
        code = subprocess.run([sys.executable, "-m", "longplay.agents.cli", *argv]).returncode
        if code:  # its own error is above; the steps before are in curriculum.json
            sys.exit(f"rl_curriculum: step {number}'s longplay train exited with {code}; the same command goes on "
                     "from its last checkpoint")
        seconds = time.perf_counter() - start
        reached = last_checkpoint_step(run_dir)
        record["steps"].append({"step": number, "to": reached, "seconds": round(seconds, 1),
                                "steps_per_s": round((reached - begun) / seconds),
                                "evaluation": last_evaluation(run_dir, target - eval_every)})
        record_path.write_text(json.dumps(record, indent=1))

    total = sum(r["seconds"] for r in record["steps"])
    print(f"\n{'step':>4} {'to':>12} {'minutes':>8} {'steps/s':>8} {'eval milestones':>16} {'badge':>6}")
    for r in record["steps"]:
        ev = r["evaluation"]
        got = f"{ev['milestones']:>16.1f} {ev['badge']:>6.0%}" if ev else f"{'-':>16} {'-':>6}"
        print(f"{r['step']:>4} {r['to']:>12,} {r['seconds'] / 60:>8.1f} {r['steps_per_s']:>8,} {got}")
    print(f"total {total / 60:.1f} minutes; run folder {run_dir}")
    best_path = run_dir / "best.json"
    if best_path.is_file():
        best = json.loads(best_path.read_text())
        exported = save_policy(run_dir / "best_policy.zip", load_policy(run_dir / "checkpoints" / "best.pt"))
        print(f"best of step 5 (over {best['episodes']} episodes from the start): step {best['step']:,}, "
              f"{best['mean']:.2f} milestones per episode, badge in {best['finished']:.1%}; "
              f"exported to {exported}\n  play it: longplay run --env QuestMini-v0 --agent ppo --checkpoint "
              f"{exported}\n  its rates over other episodes: python benchmarks/rl_policy_milestones.py "
              f"--checkpoint {exported}")


if __name__ == "__main__":
    main()
