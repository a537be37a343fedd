"""Fixtures for the replay tests: the fake game (registered under a test-only id) and recorded replays."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

FAKEGAME_PATH = Path(__file__).with_name("fakegame.py")


def load_fakegame() -> Any:
    """Imports ``fakegame.py`` as ``longplay_fakegame`` (the tests folder is not a package) and registers it."""
    module = sys.modules.get("longplay_fakegame")
    if module is None:
        spec = importlib.util.spec_from_file_location("longplay_fakegame", FAKEGAME_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["longplay_fakegame"] = module
        spec.loader.exec_module(module)
    module.register()
    return module


@pytest.fixture(scope="session")
def fakegame() -> Any:
    """The fake game module, with ``LongplayTest/Fake-v0`` registered."""
    return load_fakegame()


@pytest.fixture
def record(tmp_path: Path, fakegame: Any) -> Callable[..., Path]:
    """``record(steps, seed=0, name="run.lpr", env_kwargs=None, episodes=1, **recorder_kwargs) -> Path``:
    records random play of the fake game and closes the replay."""
    from longplay.replays.recorder import Recorder

    def make(steps: int = 1000, seed: int = 0, name: str = "run.lpr", env_kwargs: dict | None = None,
             episodes: int = 1, actions: list[int] | None = None, **recorder_kwargs: Any) -> Path:
        path = tmp_path / name
        env = gym.make(fakegame.ENV_ID, **(env_kwargs or {}))
        recorder_kwargs.setdefault("agent", "random")
        rng = np.random.default_rng(seed)
        with Recorder(env, path, **recorder_kwargs) as rec:
            for episode in range(episodes):
                rec.reset(seed=seed + episode)
                plan = actions if actions is not None else rng.integers(0, 8, steps).tolist()
                for action in plan:
                    _, _, terminated, truncated, _ = rec.step(action)
                    if terminated or truncated:
                        break
        return path

    return make


@pytest.fixture
def recording(fakegame: Any) -> Callable[..., Any]:
    """``recording(path, steps, seed=0, **recorder_kwargs) -> Recorder``: a run of the fake game still being recorded
    (reset with ``seed``, ``steps`` presses of button 0, committed), left open for the test to go on with and close."""
    from longplay.replays.recorder import Recorder

    def start(path: Path, steps: int, seed: int = 0, **recorder_kwargs: Any) -> Any:
        recorder_kwargs.setdefault("agent", "random")
        rec = Recorder(gym.make(fakegame.ENV_ID), path, **recorder_kwargs)
        rec.reset(seed=seed)
        for _ in range(steps):
            rec.step(0)
        rec.flush()
        return rec

    return start


@pytest.fixture
def edited(tmp_path: Path) -> Callable[..., Path]:
    """``edited(replay, *statements, name="edited.lpr") -> Path``: a copy of ``replay`` in the test's folder with
    the SQL ``statements`` (``(sql, params)`` pairs) applied: a replay edited or damaged by hand."""

    def edit(replay: Path, *statements: tuple[str, tuple[Any, ...]], name: str = "edited.lpr") -> Path:
        copy = tmp_path / name
        shutil.copyfile(replay, copy)
        conn = sqlite3.connect(copy)
        for sql, params in statements:
            conn.execute(sql, params)
        conn.commit()
        conn.close()
        return copy

    return edit
