"""Speed and size of the built-in game's env, measured side by side in one run.

    python benchmarks/quest_speed.py [--steps 20000]

Prints steps/s of one env in each observation mode (through ``gymnasium.make``, as users run it, and of
the bare game), the ratios to the issue's targets, the save-state size and the memory of one env.
Absolute numbers drift on a shared machine; the ratios within one run hold.
"""

from __future__ import annotations

import argparse
import gc
import time

import gymnasium as gym
import numpy as np
from _args import positive_int

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.envs.game import GameError

TARGETS = {"symbolic": 20_000, "pixels": 5_000}


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def env_rate(env_id: str, obs_mode: str, steps: int, seed: int = 0) -> float:
    env = gym.make(env_id, obs_mode=obs_mode, max_steps=None)
    actions = np.random.default_rng(seed).integers(0, 8, steps).tolist()
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def game_rate(env_id: str, steps: int, seed: int = 0) -> float:
    env = gym.make(env_id)
    game = env.unwrapped.game
    game.reset(seed)
    actions = np.random.default_rng(seed).integers(0, 8, steps).tolist()
    start = time.perf_counter()
    for a in actions:
        game.press(a)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=positive_int, default=20_000)
    parser.add_argument("--env", default="longplay/QuestCanon-v0")
    args = parser.parse_args()

    gc.collect()
    rss0 = rss_mb()
    try:
        first = gym.make(args.env, obs_mode="pixels+symbolic+text")
    except (gym.error.Error, GameError) as exc:  # an id that is not registered, a Game Boy id without its ROM
        parser.error(f"--env {args.env}: {exc}")
    first.reset(seed=0)
    first.step(0)
    gc.collect()
    first_env_mb = rss_mb() - rss0

    print(f"{args.env}, {args.steps} random-button steps per row, one process")
    bare = game_rate(args.env, args.steps)
    print(f"{'mode':<26} {'steps/s':>10} {'x target':>9} {'x bare game':>12}")
    print(f"{'bare game (no obs)':<26} {bare:>10,.0f} {'':>9} {1.0:>12.2f}")
    for mode in ("symbolic", "pixels", "text", "pixels+symbolic+text"):
        rate = env_rate(args.env, mode, args.steps)
        target = TARGETS.get(mode)
        ratio = f"{rate / target:.2f}" if target else ""
        print(f"{'env ' + mode:<26} {rate:>10,.0f} {ratio:>9} {rate / bare:>12.2f}")

    env = gym.make(args.env)
    env.reset(seed=0)
    for a in np.random.default_rng(1).integers(0, 8, 2000):
        env.step(int(a))
    game = env.unwrapped.game
    data = game.save_state()
    start = time.perf_counter()
    for _ in range(200):
        game.load_state(game.save_state())
    round_trip_ms = (time.perf_counter() - start) / 200 * 1e3
    print(f"save state: {len(data):,} bytes (limit 65,536: {len(data) / 65536:.3f}x); "
          f"save+load round trip {round_trip_ms:.2f} ms")

    gc.collect()
    before = rss_mb()
    envs = [gym.make(args.env) for _ in range(10)]
    for e in envs:
        e.reset(seed=0)
        e.render() if e.render_mode else e.unwrapped.game.frame()
    gc.collect()
    per_env = (rss_mb() - before) / len(envs)
    print(f"memory of the first env (world, atlases, caches): {first_env_mb:.2f} MB "
          f"(limit 50 MB: {first_env_mb / 50:.3f}x)")
    print(f"memory per extra env: {per_env:.2f} MB (limit 50 MB: {per_env / 50:.3f}x); "
          f"process RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
