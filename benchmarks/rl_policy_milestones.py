"""How often a trained QuestMini policy reaches each milestone, over many episodes at once.

    python benchmarks/rl_policy_milestones.py [--checkpoint PATH] [--episodes 128] [--steps 4096]

Plays the first episode of ``--episodes`` envs of the batched engine (the reference engine's rules, checked
step for step by the parity tests) from the world's start, sampling the policy's actions as ``longplay run
--agent ppo`` does, and prints for each milestone the fraction of episodes that reached it within
``--steps`` steps and the median step it came at, on the world the policy was trained on (its run's size,
``world_seed`` and ``world``). Without ``--checkpoint`` it plays the shipped policy
(``agents/rl/checkpoints/questmini_ppo.zip``). An evaluation during training plays two episodes; this is the
same question over enough episodes to give a rate (``longplay.agents.rl.milestone_rates``).
"""

from __future__ import annotations

import argparse

import torch
from _args import nonnegative_int, positive_int

from longplay.agents.rl.milestone_rates import RATES_SEED, milestone_rates, rates_engine
from longplay.agents.rl.policy_agent import DEFAULT_CHECKPOINT, CheckpointError, load_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="a policy or ppo-device checkpoint")
    parser.add_argument("--episodes", type=positive_int, default=128, help="episodes played at once (one per env)")
    parser.add_argument("--steps", type=positive_int, default=4096, help="steps per episode")
    parser.add_argument("--seed", type=nonnegative_int, default=RATES_SEED,
                        help="episode seeds are seed .. seed + episodes - 1")
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    try:
        policy = load_policy(args.checkpoint, "cpu")
    except CheckpointError as exc:  # a missing file, or one that is not a policy
        parser.error(f"--checkpoint: {exc}")
    try:
        rates = milestone_rates(policy, rates_engine(policy.config, args.episodes), args.steps, args.seed)
    except ValueError as exc:  # a pixels policy, or one trained on an env the engine does not play
        parser.error(f"--checkpoint: {exc}")
    print(f"{policy.source or args.checkpoint} (step {policy.step:,}): {args.episodes} episodes of up to "
          f"{args.steps:,} steps from the world's start, batched engine")
    print(rates.table())


if __name__ == "__main__":
    main()
