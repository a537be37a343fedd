"""How often a trained QuestMini policy reaches each milestone, over many episodes at once.

    python benchmarks/rl_policy_milestones.py [--checkpoint PATH] [--episodes 128] [--steps 4096]

Plays the first episode of ``--episodes`` envs of the batched engine (the reference engine's rules, checked
step for step by the parity tests) from the world's start, sampling the policy's actions as ``longplay run
--agent ppo`` does, and prints for each milestone the fraction of episodes that reached it within
``--steps`` steps and the median step it came at. Without ``--checkpoint`` it plays the shipped policy
(``agents/rl/checkpoints/questmini_ppo.zip``). An evaluation during training plays two episodes; this is the
same question over enough episodes to give a rate.
"""

from __future__ import annotations

import argparse

import torch
from _play import play

from longplay.agents.rl.policy_agent import DEFAULT_CHECKPOINT, load_policy
from longplay.envs.quest.batched import BatchedQuest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="a policy or ppo-device checkpoint")
    parser.add_argument("--episodes", type=int, default=128, help="episodes played at once (one per env)")
    parser.add_argument("--steps", type=int, default=4096, help="steps per episode")
    parser.add_argument("--seed", type=int, default=20000, help="episode seeds are seed .. seed + episodes - 1")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    policy = load_policy(args.checkpoint, "cpu")
    engine = BatchedQuest(args.episodes, size="mini", max_episode_steps=None)
    ids = [e.id for e in engine.worlds[0].events if e.milestone]
    first = torch.full((args.episodes, len(ids)), -1)  # step each milestone was first reached (-1: not yet)
    live = torch.ones(args.episodes, dtype=torch.bool)  # still in its first episode
    for step, _, terminated in play(policy, engine, args.steps, args.seed):
        # the finishing milestone's flag is reset with the env in the same step: credit it from `terminated`
        events = engine.state.events[:, :len(ids)].clone()
        events[:, engine.worlds[0].ev_finish] |= terminated
        new = events & (first < 0) & live[:, None]
        first = torch.where(new, torch.full_like(first, step), first)
        live &= ~terminated
    print(f"{policy.source or args.checkpoint} (step {policy.step:,}): {args.episodes} episodes of up to "
          f"{args.steps:,} steps from the world's start, batched engine")
    print(f"{'milestone':<24} {'reached':>9} {'median step':>12}")
    for i, name in enumerate(ids):
        steps = first[:, i][first[:, i] > 0].float()
        median = f"{int(steps.median()):,}" if len(steps) else "-"
        print(f"{name:<24} {len(steps) / args.episodes:>9.1%} {median:>12}")


if __name__ == "__main__":
    main()
