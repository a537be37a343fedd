"""Fixtures shared across the test packages."""

from __future__ import annotations

import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest

# A window a test opens (render_mode="human", which check_env's render check tries) is SDL's invisible one: with no
# display, the env refuses to open a window no one can see (envs/window.py). Tests of that refusal unset it.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# Tests send SIGINT (Ctrl-C, a sweep's or Ray's cancel) to themselves and to child processes and expect what Ctrl-C
# does. A pytest started in the background of a non-interactive shell (`pytest ... &`, `nohup`) inherits SIGINT
# ignored, and so would its children; Python then installs no handler, and those tests failed or passed for the wrong
# reason. The suite takes Ctrl-C back (children then start with it too).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def benchmark() -> Iterator[Callable[[str], ModuleType]]:
    """``benchmark(NAME)``: ``benchmarks/NAME.py`` imported with its folder on the path for the test only; the
    scripts it imported leave ``sys.modules`` after the test, so each test starts from a fresh import."""
    folder = str(BENCHMARKS)
    imported = set(sys.modules)
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(folder)
        for name in set(sys.modules) - imported:
            if (getattr(sys.modules[name], "__file__", None) or "").startswith(folder + os.sep):
                del sys.modules[name]
    assert folder not in sys.path  # a script adds its folder only where it is missing


def read_child_lines(process: subprocess.Popen, count: int = 1, timeout: float = 120.0,
                     until: Callable[[str], bool] | None = None) -> list[str]:
    """The next lines a child process started with ``stdout=PIPE, text=True`` prints: ``count`` of them, or, with
    ``until``, those up to and including the first line it accepts (fewer where the output ends). Fails the test,
    killing the child, when they do not come within ``timeout`` seconds: a bare ``readline`` waited forever for a line
    the child never printed, and so did the test and CI."""
    assert process.stdout is not None
    lines: list[str] = []

    def read() -> None:
        while until is not None or len(lines) < count:
            line = process.stdout.readline()
            lines.append(line)
            if not line or (until is not None and until(line)):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        process.kill()  # the reader then sees the end of the output and stops
        pytest.fail(f"the child process printed {lines} in {timeout:.0f} s, not the lines the test waits for")
    return lines


@pytest.fixture()
def child_lines() -> Callable[..., list[str]]:
    """``child_lines(process, count=1, timeout=120.0, until=None)``: :func:`read_child_lines`, with a deadline."""
    return read_child_lines


@pytest.fixture(scope="session")
def oracle_state() -> Callable[..., tuple[bytes, dict[str, int]]]:
    """``oracle_state(env_id="longplay/QuestMini-v0", *, milestones=N | steps=N, seed=0, **env_kwargs)``: the
    save state after the oracle plays a quest env from the reset ``seed`` until it holds ``milestones``
    milestones, or for ``steps`` presses, and the milestones reached by then (id -> step)."""

    def play(env_id: str = "longplay/QuestMini-v0", *, milestones: int | None = None, steps: int | None = None,
             seed: int = 0, **env_kwargs: object) -> tuple[bytes, dict[str, int]]:
        import gymnasium as gym

        import longplay.envs  # noqa: F401  (registers the ids)
        from longplay.agents.base import make_agent

        assert (milestones is None) != (steps is None), "give milestones or steps"
        env = gym.make(env_id, obs_mode="symbolic", **env_kwargs)
        agent = make_agent("oracle")
        obs, info = env.reset(seed=seed)
        agent.reset(env, obs, info, seed)
        pressed = 0
        while len(info["milestones"]) < (milestones or 0) or pressed < (steps or 0):
            obs, _, _, _, info = env.step(agent.act(obs, info))
            pressed += 1
        data = env.unwrapped.game.save_state()
        env.close()
        return data, dict(info["milestones"])

    return play


def _as_killed(path: Path, *, lose_steps: bool = False) -> None:
    """Makes a closed replay look like one whose run was killed: its last episode never ended and its header says
    ``recording`` (what a SIGKILL leaves once the file's last commit is in), its last commit a day ago (a run whose
    last commit is recent is taken as still recording). ``lose_steps``: the kill came after that episode's reset
    but before its next commit, so none of its steps, milestones or checkpoints are in."""
    conn = sqlite3.connect(path)
    with conn:
        (last,) = conn.execute("SELECT max(episode) FROM episodes").fetchone()
        conn.execute("UPDATE episodes SET end_step = NULL, end_reason = NULL, ended_t = NULL WHERE episode = ?",
                     (last,))
        if lose_steps:
            for table in ("chunks", "milestones", "checkpoints"):
                conn.execute(f"DELETE FROM {table} WHERE episode = ?", (last,))
        conn.execute("INSERT OR REPLACE INTO header VALUES ('status', ?)", (json.dumps("recording"),))
        day_ago = datetime.now(timezone.utc) - timedelta(days=1)
        conn.execute("INSERT OR REPLACE INTO header VALUES ('committed', ?)",
                     (json.dumps(day_ago.isoformat(timespec="seconds")),))
    conn.close()


@pytest.fixture(scope="session")
def as_killed() -> Callable[..., None]:
    """``as_killed(path, *, lose_steps=False)``: makes a closed replay look like one whose run was killed (see
    :func:`_as_killed`)."""
    return _as_killed


@pytest.fixture
def eager_compile(monkeypatch: pytest.MonkeyPatch) -> list[Callable]:
    """``torch.compile`` on the eager backend with ``fullgraph=True`` for the test (it traces as inductor does,
    graph breaks included, but compiles in seconds); returns the list of the functions compiled."""
    import torch  # here, not at the top: the suite's other tests run without the rl extra

    compiled: list[Callable] = []
    real = torch.compile

    def eager_backend(fn: Callable, **kwargs: object) -> Callable:
        compiled.append(fn)
        return real(fn, backend="eager", fullgraph=True)

    monkeypatch.setattr(torch, "compile", eager_backend)
    return compiled


class StepAgain:
    """A stand-in for a CUDA graph on CPU: replaying runs the captured engine's step again, on the tensors
    it holds, and writes the results into the outputs the capture returned (as a replay writes its buffers)."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def replay(self) -> None:
        e = self.engine
        now = e._held_tensors()  # a graph reads and writes the storages it recorded, whatever the engine holds
        stale = [name for key, t in e._graph_held.items() if now[key] is not t for name in [key[1]]]
        assert not stale, f"a graph would step storages the engine no longer holds: {stale[:5]}"
        fresh = e._step_in_place(e._graph_actions)
        for buffers, values in ((e._graph_out[0], fresh[0]), (e._graph_out[4], fresh[4])):
            for name, t in buffers.items():
                t.copy_(values[name])
        for t, value in zip(e._graph_out[1:4], fresh[1:4], strict=True):
            t.copy_(value)


@pytest.fixture
def cpu_graph(monkeypatch: pytest.MonkeyPatch) -> list:
    """``BatchedQuest.capture_graph`` on CPU for the test: what it does, with :class:`StepAgain` for the CUDA graph
    (the held tensors, one recorded step, the envs put back). Returns the engines captured, in order."""
    import torch

    from longplay.envs.quest.batched.engine import BatchedQuest

    captured = []

    def capture(engine: BatchedQuest) -> BatchedQuest:
        held = engine._held_tensors()
        kept = {key: t.clone() for key, t in held.items()}
        actions = torch.full((engine.num_envs,), -1, dtype=torch.int64)
        out = engine._step_in_place(actions)
        for key, t in held.items():
            t.copy_(kept[key])
        engine._graph, engine._graph_actions, engine._graph_out, engine._graph_held = (
            StepAgain(engine), actions, out, held)
        captured.append(engine)
        return engine

    monkeypatch.setattr(BatchedQuest, "capture_graph", capture)
    return captured
