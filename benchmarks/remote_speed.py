"""What serving an env over HTTP (``longplay serve``) costs a step, measured beside the local env in one run.

For each observation mode: the local env (``gym.make``), then :class:`~longplay.agents.remote.RemoteEnv` over
a served env on this machine (loopback, recorded like ``longplay serve``, one fingerprint a step) with
observations as base64 (the Python client's choice) and as nested JSON lists (what a client in another language
reads most easily). Steps/s are medians of alternating blocks, so the machine's drift hits every row alike; the
ratio column is remote over local.

Run::

    python benchmarks/remote_speed.py                     # symbolic, text and pixels, 2,000 steps a row
    python benchmarks/remote_speed.py --steps 500 --modes symbolic
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from _args import choice_list, positive_int

import longplay.envs  # noqa: F401 - registers the env ids
from longplay.agents.remote import RemoteEnv, served_env, served_thread

ENV_ID = "longplay/QuestMini-v0"


class ListClient(RemoteEnv):
    """The client with observations as nested JSON lists, as a client in another language would read them."""

    def step(self, action: Any) -> Any:
        reply = self._request("POST", "step", {"action": int(action), "encoding": "list"})
        return reply["observation"], reply["reward"], reply["terminated"], reply["truncated"], reply["info"]


def timed_block(env: gym.Env, actions: np.ndarray) -> float:
    """Steps/s of one block of actions (resetting at episode ends)."""
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def measure(mode: str, steps: int, blocks: int, folder: Path) -> dict[str, float]:
    local = gym.make(ENV_ID, obs_mode=mode)
    served = served_env(gym.make(ENV_ID, obs_mode=mode), ENV_ID, {"obs_mode": mode}, runs_dir=folder)
    with served_thread(served) as url:
        envs = {"local": local, "remote (base64)": RemoteEnv(url), "remote (lists)": ListClient(url)}
        rates: dict[str, list[float]] = {name: [] for name in envs}
        rng = np.random.default_rng(0)
        for env in envs.values():
            env.reset(seed=0)
            timed_block(env, rng.integers(0, 8, 50))  # warm up: imports, connections
        for _ in range(blocks):
            actions = rng.integers(0, 8, max(1, steps // blocks))
            for name, env in envs.items():
                rates[name].append(timed_block(env, actions))
    return {name: statistics.median(r) for name, r in rates.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=positive_int, default=2000, help="steps per row (default 2000)")
    parser.add_argument("--blocks", type=positive_int, default=10, help="alternating blocks per row (default 10)")
    parser.add_argument("--modes", type=choice_list("symbolic", "text", "pixels"), default="symbolic,text,pixels",
                        help="observation modes (default all three)")
    args = parser.parse_args(argv)
    if args.blocks > args.steps:  # a block of no steps has no rate
        parser.error(f"--blocks must be at most --steps; got --steps {args.steps} --blocks {args.blocks}")
    print(f"{'obs mode':<10} {'client':<16} {'steps/s':>9} {'ms/step':>8} {'vs local':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            rates = measure(mode, args.steps, args.blocks, Path(tmp) / mode)
            for name, rate in rates.items():
                print(f"{mode:<10} {name:<16} {rate:>9,.0f} {1000 / rate:>8.3f} {rate / rates['local']:>8.4f}x")


if __name__ == "__main__":
    main()
