"""A served folder of replays the viewer tests share, made once per session.

Layout (``runs/`` is served; ``outside/`` must never be readable through the viewer)::

    runs/fake-random-0.lpr   fake game, random play, 300 steps (reaches 'hundred_presses')
    runs/fake-random-1.lpr   fake game, 80 steps (stops before it: censored)
    runs/fake-lm.lpr         fake game, an "LM" run: turns every 10 steps (one failed), a summary's call at
                             step 25, memory snapshots
    runs/fake-multi.lpr      fake game, two episodes
    runs/sub/quest-oracle.lpr  the built-in game (QuestMini), the oracle for 400 steps: maps, milestones
    runs/broken.lpr          not a replay (text)
    runs/truncated.lpr       the first 2 KB of a replay
    runs/newer.lpr           a replay stamped with a newer format version
    runs/notes.txt           a file that is not a replay
    runs/link-out.lpr        a symbolic link to outside/secret.lpr
    runs/link-dir/           a symbolic link to outside/
    outside/secret.lpr, outside/secret.txt
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

SECRET = "TOP-SECRET-DO-NOT-SERVE"
#: Text a replay may hold that must show as text, never run as markup.
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def decode_png(data: bytes) -> np.ndarray:
    """RGB ``uint8`` (H, W, 3) of a PNG the viewer wrote; checks the signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC in {kind!r}"
        if kind == b"IDAT":
            idat += body
        else:
            chunks[kind] = body
        pos += 12 + length
    assert b"IEND" in chunks
    width, height, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    raw = np.frombuffer(zlib.decompress(idat), np.uint8)
    if color == 2:
        rows = raw.reshape(height, width * 3 + 1)
        assert (rows[:, 0] == 0).all()
        return rows[:, 1:].reshape(height, width, 3).copy()
    assert color == 3
    row_bytes = -(-width * depth // 8)
    rows = raw.reshape(height, row_bytes + 1)
    assert (rows[:, 0] == 0).all()
    bits = np.unpackbits(rows[:, 1:], axis=1).reshape(height, -1, depth)[:, :width]
    indices = (bits * (1 << np.arange(depth - 1, -1, -1))).sum(axis=2)
    palette = np.frombuffer(chunks[b"PLTE"], np.uint8).reshape(-1, 3)
    return palette[indices]


@pytest.fixture(scope="session")
def png_decoder() -> Any:
    """:func:`decode_png`, for tests that look at frames."""
    return decode_png


@dataclass(frozen=True)
class ViewerRuns:
    """Where the shared replays are."""

    root: Path  # the served folder
    outside: Path  # a sibling folder that must stay unreachable
    ids: dict[str, str]  # short name -> run id
    secret: str = SECRET  # the content of the files outside (and of notes.txt)
    hostile: str = HOSTILE  # markup inside the LM run's responses


def _record_fake(fakegame: Any, path: Path, steps: int, seed: int, *, agent: str = "random", model: str | None = None,
                 episodes: int = 1, lm: bool = False) -> None:
    from longplay.replays.recorder import Recorder

    card = [{"name": "notes", "params": {}, "version": "1"}, {"name": "goals", "params": {}, "version": "1"}]
    rng = np.random.default_rng(seed)
    with Recorder(gym.make(fakegame.ENV_ID), path, agent=agent, model=model,
                  scaffold_card=card if lm else None) as rec:
        for episode in range(episodes):
            rec.reset(seed=seed + episode)
            for step in range(steps):
                if lm and step % 10 == 0:
                    failed = step == 50
                    rec.log_turn(response=f"Turn at step {step}: heading {'north' if step % 20 else 'east'}. {HOSTILE}",
                                 prompt=f"prompt {step}",
                                 tool_calls=[{"name": "press_buttons", "arguments": {"buttons": ["up", "a"]},
                                              "result": f"pressed at {step}", "is_error": failed}],
                                 tokens_in=1000 + step, tokens_out=50, tokens_cache_read=200, cost_usd=0.002,
                                 latency_s=0.5, error="rate limited (429)" if failed else None,
                                 extra={"kind": "act"})
                if lm and step == 25:  # a summary's call: spending, not a turn
                    rec.log_turn(response="Summary so far: went north.", tokens_in=300, tokens_out=40, cost_usd=0.001,
                                 extra={"kind": "summary"})
                if lm and step in (0, 40):
                    rec.log_memory("notes", f"notes as of step {step}: the exit is north", extra={"turn": step // 10})
                if lm and step == 20:
                    rec.log_memory("goals", {"stack": ["win the game", "find the exit"], "finished": []})
                _, _, terminated, truncated, _ = rec.step(int(rng.integers(0, 8)))
                if terminated or truncated:
                    break


def _record_agent(path: Path, agent_name: str, steps: int, seed: int, options: dict[str, Any] | None = None, *,
                  budget: dict[str, Any] | None = None) -> None:
    """Records ``agent_name`` on QuestMini-v0 for ``steps`` steps; ``budget``: the header's, as ``longplay run``
    records it."""
    from longplay.agents.base import make_agent
    from longplay.agents.runner import run
    from longplay.replays.recorder import Recorder

    agent = make_agent(agent_name)
    env = Recorder(gym.make("longplay/QuestMini-v0", obs_mode=agent.obs_mode), path, agent=agent.name,
                   extra_header={"budget": budget} if budget is not None else None)
    try:
        run(env, agent, steps, seed=seed, progress=False, options=options)
    finally:
        env.close()


@pytest.fixture(scope="session")
def viewer_runs(tmp_path_factory: pytest.TempPathFactory, fakegame: Any) -> ViewerRuns:
    """The shared folder of replays (see the module docstring)."""
    base = tmp_path_factory.mktemp("viewer")
    root, outside = base / "runs", base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    _record_fake(fakegame, root / "fake-random-0.lpr", 300, 0)
    _record_fake(fakegame, root / "fake-random-1.lpr", 80, 1)
    _record_fake(fakegame, root / "fake-lm.lpr", 150, 3, agent="lm", model="m1", lm=True)
    _record_fake(fakegame, root / "fake-multi.lpr", 120, 5, episodes=2)
    _record_agent(root / "sub" / "quest-oracle.lpr", "oracle", 400, 0)
    (root / "broken.lpr").write_text("this is not a replay\n")
    (root / "truncated.lpr").write_bytes((root / "fake-random-0.lpr").read_bytes()[:2048])
    shutil.copyfile(root / "fake-random-0.lpr", root / "newer.lpr")
    conn = sqlite3.connect(root / "newer.lpr")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    (root / "notes.txt").write_text(SECRET)
    _record_fake(fakegame, outside / "secret.lpr", 50, 9, agent=SECRET)
    (outside / "secret.txt").write_text(SECRET)
    (root / "link-out.lpr").symlink_to(outside / "secret.lpr")
    (root / "link-dir").symlink_to(outside, target_is_directory=True)
    ids = {"random0": "fake-random-0.lpr", "random1": "fake-random-1.lpr", "lm": "fake-lm.lpr",
           "multi": "fake-multi.lpr", "quest": "sub/quest-oracle.lpr", "broken": "broken.lpr",
           "truncated": "truncated.lpr", "newer": "newer.lpr"}
    return ViewerRuns(root, outside, ids)


@dataclass(frozen=True)
class CompareRuns:
    """A folder of runs for the comparison page (see :func:`compare_runs`)."""

    root: Path
    state_digest: str  # SHA-256 of the save state the two from-state runs started from


@pytest.fixture(scope="session")
def compare_runs(tmp_path_factory: pytest.TempPathFactory, viewer_runs: ViewerRuns,
                 oracle_state: Any, as_killed: Any) -> CompareRuns:
    """A served folder for the comparison page, two envs and several runs a group::

        fake-random-0.lpr, fake-random-1.lpr       Fake-v0, random: 300 and 80 steps (copies of viewer_runs')
        quest-oracle.lpr                           QuestMini-v0, oracle, 400 steps
        quest-explorer-{0,1,2}.lpr                 QuestMini-v0, explorer, seeds 0-2, 1,500 steps; budgets of 1,500
                                                   steps, but seed 2's of 3,000 (it stopped early)
        quest-explorer-killed.lpr                  QuestMini-v0, explorer, seed 3, 700 steps, killed (never closed)
        quest-explorer-state-{0,1}.lpr             QuestMini-v0, explorer, seeds 0-1, 600 steps from a save state
    """
    import hashlib

    root = tmp_path_factory.mktemp("compare") / "runs"
    root.mkdir()
    for name in ("fake-random-0.lpr", "fake-random-1.lpr"):
        shutil.copyfile(viewer_runs.root / name, root / name)
    shutil.copyfile(viewer_runs.root / "sub" / "quest-oracle.lpr", root / "quest-oracle.lpr")
    for seed in range(3):
        _record_agent(root / f"quest-explorer-{seed}.lpr", "explorer", 1500, seed,
                      budget={"steps": 3000 if seed == 2 else 1500})
    _record_agent(root / "quest-explorer-killed.lpr", "explorer", 700, 3)
    as_killed(root / "quest-explorer-killed.lpr")
    state, _ = oracle_state(steps=150)
    for seed in range(2):
        _record_agent(root / f"quest-explorer-state-{seed}.lpr", "explorer", 600, seed, {"state": state})
    return CompareRuns(root, hashlib.sha256(state).hexdigest())


@pytest.fixture(scope="session")
def viewer_client(viewer_runs: ViewerRuns) -> Any:
    """A ``starlette.testclient.TestClient`` of the app over the shared folder (skipped without starlette)."""
    pytest.importorskip("starlette", reason="the viewer needs starlette: pip install 'longplay[viewer]'")
    pytest.importorskip("httpx", reason="starlette's TestClient needs httpx")
    from starlette.testclient import TestClient

    from longplay.replays.viewer.server import create_app

    app = create_app(viewer_runs.root)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client
    app.state.folder.close()
