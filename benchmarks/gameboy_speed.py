"""Game Boy backend figures on the test cartridge (issue 3).

Targets:
    * wrapper overhead: ``LongplayEnv`` on the test cartridge reaches at least 0.9x the steps/s of a bare
      PyBoy loop that ticks the same frames (24 a step, the button released after 8, the last frame
      rendered) on the same ROM;
    * the built-in game's env (``longplay/QuestMini-v0``) at least 20x the steps/s of the test cartridge's;
    * a save state round trip (time, size) and the memory of one env.

Run:
    .venv/bin/python benchmarks/gameboy_speed.py                 # 2,000 steps a row, printed as a table
    .venv/bin/python benchmarks/gameboy_speed.py --steps 500 --json out.json --check

Side by side means every contender is stepped in alternating blocks (in a rotating order) with the same
random buttons, so drift in the machine's speed hits all of them alike. Time is this process's CPU time, so
other processes on a busy machine do not count; a rate is the median over blocks, and a ratio the median of
the per-block ratios. Rows:

* ``bare``: PyBoy alone, ``button_press``, ``tick(8)``, ``button_release``, ``tick(16, render)``;
* ``bare+screen``: the same plus a copy of the screen's RGB (a pixel observation, as the env makes it);
* ``env pixels`` / ``env symbolic`` / ``env text``: ``gym.make("longplay/TestCart-v0", obs_mode=...)``
  (symbolic reads all 8 KiB of WRAM every step);
* ``quest``: ``gym.make("longplay/QuestMini-v0")`` in each observation mode, when it can be built.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from _args import output_file
from _checks import write_json

from longplay.agents.rl.config import field_docs

TARGETS = {"overhead_ratio": 0.9, "quest_ratio": 20.0}


@dataclass
class Args:
    """Benchmark settings."""

    steps: int = 2000
    """steps per row (split into --blocks alternating blocks)"""
    blocks: int = 20
    """alternating blocks per row; figures are medians over blocks"""
    json: Path | None = None
    """write the figures to this JSON file too"""
    check: bool = False
    """exit 1 when a target is missed"""


def _bare_loop(with_screen: bool) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A bare PyBoy loop on the test cartridge, booted like the env and started from the same state."""
    from pyboy import PyBoy

    from longplay.envs.game import BUTTON_NAMES
    from longplay.envs.gameboy import cartridge

    pyboy = PyBoy(io.BytesIO(cartridge.build_rom()), window="null", sound_emulated=False, log_level="ERROR")
    pyboy.set_emulation_speed(0)
    pyboy.tick(80, True)
    screen = pyboy.screen.ndarray

    def step(action: int) -> None:
        name = BUTTON_NAMES[action]
        pyboy.button_press(name)
        pyboy.tick(8, False)
        pyboy.button_release(name)
        pyboy.tick(16, True)
        if with_screen:
            screen.copy()[:, :, :3]  # an RGB observation, as the env makes it

    return step, lambda: pyboy.stop(save=False)


def _env_loop(env_id: str, **kwargs: Any) -> tuple[Callable[[int], None], Callable[[], None]]:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    seed = [0]

    def step(action: int) -> None:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            seed[0] += 1
            env.reset(seed=seed[0])

    return step, env.close


def side_by_side(contenders: dict[str, Callable[[int], None]], steps: int,
                 blocks: int) -> dict[str, list[float]]:
    """Steps/s (CPU time) of each contender in each block; blocks alternate, in a rotating order."""
    actions = np.random.default_rng(0).integers(0, 8, steps).tolist()
    per_block = max(1, steps // blocks)
    names = list(contenders)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for b in range(blocks):
        chunk = actions[b * per_block:(b + 1) * per_block]
        for name in names[b % len(names):] + names[:b % len(names)]:
            step = contenders[name]
            start = time.process_time()
            for action in chunk:
                step(action)
            rates[name].append(len(chunk) / max(time.process_time() - start, 1e-9))
    return rates


def ratio(rates: dict[str, list[float]], a: str, b: str) -> float:
    """Median over blocks of ``a``'s rate over ``b``'s in the same block."""
    return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def save_state_figures(rounds: int = 50) -> dict[str, float]:
    """Save + load CPU time (ms) and size (bytes) of a test cartridge state, mid-game."""
    from longplay.envs.game import Button
    from longplay.envs.gameboy.core import GameBoyGame

    game = GameBoyGame(pack="testcart")
    for b in [Button.RIGHT] * 3 + [Button.DOWN] * 5:
        game.press(b)
    save, load = [], []
    for _ in range(rounds):
        t0 = time.process_time()
        data = game.save_state()
        t1 = time.process_time()
        game.load_state(data)
        t2 = time.process_time()
        save.append(t1 - t0)
        load.append(t2 - t1)
    game.close()
    return {"save_ms": 1e3 * statistics.median(save), "load_ms": 1e3 * statistics.median(load),
            "round_trip_ms": 1e3 * (statistics.median(save) + statistics.median(load)), "bytes": len(data)}


def env_memory(count: int = 8) -> dict[str, float]:
    """Resident memory added by one more test cartridge env (the mean over ``count`` envs after the first)."""
    envs = [gym.make("longplay/TestCart-v0", obs_mode="pixels")]
    envs[0].reset(seed=0)
    before = _rss_bytes()
    for _ in range(count):
        env = gym.make("longplay/TestCart-v0", obs_mode="pixels")
        env.reset(seed=0)
        envs.append(env)
    per_env = (_rss_bytes() - before) / count
    for env in envs:
        env.close()
    return {"rss_mib_per_env": per_env / 2**20}


def measure(args: Args) -> dict[str, Any]:
    """Every figure of the module docstring."""
    import longplay.envs  # noqa: F401 - registers the ids

    closers = []
    contenders: dict[str, Callable[[int], None]] = {}
    for name, (step, close) in {
        "bare": _bare_loop(False),
        "bare+screen": _bare_loop(True),
        "env pixels": _env_loop("longplay/TestCart-v0", obs_mode="pixels"),
        "env symbolic": _env_loop("longplay/TestCart-v0", obs_mode="symbolic"),
        "env text": _env_loop("longplay/TestCart-v0", obs_mode="text"),
    }.items():
        contenders[name] = step
        closers.append(close)
    quest_error = None
    for mode in ("pixels", "symbolic", "text"):
        try:
            step, close = _env_loop("longplay/QuestMini-v0", obs_mode=mode)
        except Exception as exc:  # the built-in game is developed alongside; report and move on
            quest_error = f"{type(exc).__name__}: {exc}"
            break
        contenders[f"quest {mode}"] = step
        closers.append(close)
    per_block = side_by_side(contenders, args.steps, args.blocks)
    for close in closers:
        close()
    figures: dict[str, Any] = {"args": asdict(args),
                               "steps_per_s": {k: statistics.median(v) for k, v in per_block.items()}}
    figures["overhead_ratio"] = ratio(per_block, "env pixels", "bare")
    figures["overhead_ratio_vs_bare_screen"] = ratio(per_block, "env pixels", "bare+screen")
    figures["symbolic_ratio"] = ratio(per_block, "env symbolic", "bare")
    if quest_error is None:
        figures["quest_ratio"] = {mode: ratio(per_block, f"quest {mode}", f"env {mode}")
                                  for mode in ("pixels", "symbolic", "text")}
    else:
        figures["quest_ratio"] = None
        figures["quest_error"] = quest_error
    figures["save_state"] = save_state_figures()
    figures["memory"] = env_memory()
    return figures


def report(figures: dict[str, Any]) -> list[str]:
    """The table printed at the end; returns the missed targets."""
    missed = []
    print(f"{'row':<16}{'steps/s (CPU time)':>20}")
    for name, rate in figures["steps_per_s"].items():
        print(f"{name:<16}{rate:>20,.0f}")
    ratio = figures["overhead_ratio"]
    print(f"\nwrapper overhead: env pixels / bare = {ratio:.3f} (target >= {TARGETS['overhead_ratio']}); "
          f"env pixels / bare+screen = {figures['overhead_ratio_vs_bare_screen']:.3f}; "
          f"env symbolic (8 KiB WRAM) / bare = {figures['symbolic_ratio']:.3f}")
    if ratio < TARGETS["overhead_ratio"]:
        missed.append("overhead_ratio")
    if figures["quest_ratio"] is None:
        print(f"quest env unavailable ({figures['quest_error']})")
    else:
        parts = ", ".join(f"{mode} {r:.1f}x" for mode, r in figures["quest_ratio"].items())
        print(f"quest / test cartridge, same obs mode: {parts} (target >= {TARGETS['quest_ratio']:.0f}x)")
        if min(figures["quest_ratio"].values()) < TARGETS["quest_ratio"]:
            missed.append("quest_ratio")
    s = figures["save_state"]
    print(f"save state: save {s['save_ms']:.1f} ms + load {s['load_ms']:.1f} ms = "
          f"{s['round_trip_ms']:.1f} ms, {s['bytes']:,} bytes")
    print(f"memory: {figures['memory']['rss_mib_per_env']:.1f} MiB resident per test cartridge env")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    docs = field_docs(Args)  # the help is each field's docstring, so Args stays the one place it is written
    for name, default in asdict(Args()).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", help=docs.get(name))
        elif name == "json":
            parser.add_argument(flag, type=output_file, default=default, help=docs.get(name))
        else:
            parser.add_argument(flag, type=type(default), default=default, help=docs.get(name))
    args = Args(**vars(parser.parse_args(argv)))
    if not 1 <= args.blocks <= args.steps:  # an empty block has no rate to divide by
        parser.error(f"--blocks must be >= 1 and at most --steps; got --steps {args.steps} --blocks {args.blocks}")
    figures = measure(args)
    missed = report(figures)
    if args.json:
        write_json(args.json, figures)
    if missed and args.check:
        print("missed: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
