"""A run killed with SIGKILL leaves a replay that opens and holds every step up to the last commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from longplay.replays.reader import ReplayReader
from longplay.replays.verify import verify

CHILD = textwrap.dedent("""
    import importlib.util, sys
    import gymnasium as gym
    spec = importlib.util.spec_from_file_location("longplay_fakegame", sys.argv[1])
    fakegame = importlib.util.module_from_spec(spec)
    sys.modules["longplay_fakegame"] = fakegame
    spec.loader.exec_module(fakegame)
    fakegame.register()
    from longplay.replays.recorder import Recorder

    rec = Recorder(gym.make(fakegame.ENV_ID), sys.argv[2], agent="random", chunk_steps=500)
    rec.reset(seed=5)
    committed, step = 0, 0
    while True:  # never closes: the parent kills it
        rec.step((step * 7 + step // 3) % 8)
        step += 1
        if rec.committed_steps != committed:
            committed = rec.committed_steps
            print(committed, flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_leaves_a_readable_replay(tmp_path: Path, fakegame: Any) -> None:
    path = tmp_path / "killed.lpr"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), fakegame.__file__, str(path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        last = 0
        for line in child.stdout:
            last = int(line)
            if last >= 5000:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert last >= 5000
    with ReplayReader(path) as replay:
        assert replay.header["status"] == "recording"
        (episode,) = replay.episodes()
        assert not episode.complete and episode.seed == 5
        recorded = replay.num_steps()
        assert recorded >= last  # every step up to the last commit it announced
        assert replay.frame_at(replay.num_steps()).shape == (144, 160, 3)
    report = verify(path)
    assert report.ok and not report.complete
    assert report.steps == recorded
    assert "never closed" in report.summary()


def test_a_recording_copied_without_its_wal_says_so(tmp_path: Path, fakegame: Any) -> None:
    import shutil

    import gymnasium as gym

    from longplay.replays.recorder import Recorder
    from longplay.replays.schema import CorruptReplayError

    path, alone = tmp_path / "live.lpr", tmp_path / "copied" / "live.lpr"
    alone.parent.mkdir()
    with Recorder(gym.make(fakegame.ENV_ID), path, agent="random") as rec:
        rec.reset(seed=0)
        for _ in range(50):
            rec.step(0)
        shutil.copyfile(path, alone)  # mid-run, the tables are still in live.lpr-wal
    with pytest.raises(CorruptReplayError, match=r"incomplete replay: .*live\.lpr-wal, which is missing or empty"):
        ReplayReader(alone)
    assert verify(path).ok  # the original, closed, is whole


class _InterruptAfterBegin:
    """The recorder's connection, but SIGINT arrives as BEGIN returns (Ctrl-C, a sweep's or Ray's cancel)."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.fired = conn, False

    def execute(self, sql: str, *args: Any) -> Any:
        result = self.conn.execute(sql, *args)
        if sql == "BEGIN" and not self.fired:
            self.fired = True
            os.kill(os.getpid(), signal.SIGINT)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_an_interrupt_during_a_commit_waits_for_it(tmp_path: Path) -> None:
    """Raised as BEGIN returned, the interrupt left the transaction open: the run's next commit failed with
    'cannot start a transaction within a transaction' (a sweep cell interrupted this way was marked failed)."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401
    from longplay.replays.recorder import Recorder

    path = tmp_path / "run.lpr"
    # no commit of its own before the one interrupted (on a loaded machine a time-based commit at an adaptive
    # hash could take all 50 steps, and then the flush below had nothing to commit and sent no SIGINT)
    env = Recorder(gym.make("longplay/QuestMini-v0"), path, env_id="longplay/QuestMini-v0", hash_every=1000,
                   commit_seconds=1e9)
    env.reset(seed=0)
    for _ in range(50):
        env.step(3)
    assert env.committed_steps < 50
    real = env._conn
    env._conn = _InterruptAfterBegin(real)
    with pytest.raises(KeyboardInterrupt):
        env._flush()
    env._conn = real
    assert env.committed_steps == 50 and not real.in_transaction  # the commit finished before the interrupt
    for _ in range(20):  # the run goes on (an LM run checkpoints here after Ctrl-C)
        env.step(1)
    env.close()
    report = verify(path)
    assert report.ok and report.steps == 70, report.summary()



def _record_until_the_disk_is_full(path: Path, fakegame: Any) -> tuple[Any, Any, int]:
    """A recorder whose file may not grow past its size after 50 steps (SQLite's page limit stands in for a
    full disk: a commit fails with "database or disk is full"), stepped until a commit fails; returns
    (recorder, the error, steps committed before)."""
    import gymnasium as gym
    import numpy as np

    from longplay.replays.recorder import Recorder
    from longplay.replays.schema import ReplayWriteError

    rec = Recorder(gym.make(fakegame.ENV_ID), path, agent="random", commit_seconds=0.0)
    rec.reset(seed=3)
    for _ in range(50):
        rec.step(1)
    rec.flush()
    rec._conn.execute(f"PRAGMA max_page_count = {rec._conn.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(ReplayWriteError) as failed:
        for action in np.random.default_rng(0).integers(0, 8, 400_000).tolist():
            rec.step(action)
    return rec, failed.value, rec.committed_steps


def test_a_full_disk_fails_in_one_line_keeps_what_was_committed_and_resumes(tmp_path: Path, fakegame: Any) -> None:
    # The failed commit's own rollback had raised "cannot rollback - no transaction is active" over the full
    # disk's error, and the close after it the same: a traceback instead of a line.
    path = tmp_path / "full.lpr"
    rec, error, committed = _record_until_the_disk_is_full(path, fakegame)
    message = str(error)
    assert "database or disk is full" in message and f"its first {committed} steps" in message
    assert "\n" not in message and str(path) in message
    played = rec.step_in_episode
    assert played > committed
    with ReplayReader(path) as replay:  # another reader sees the last commit
        assert replay.num_steps() == committed
    rec._conn.execute("PRAGMA max_page_count = 1000000")  # space again: the held rows go in at the next commit
    rec.step(3)
    rec.close()
    with ReplayReader(path) as replay:
        assert replay.header["status"] == "closed"
        assert replay.num_steps() == played + 1
    assert verify(path).ok


def test_a_full_disk_at_close_closes_the_file_and_the_env(tmp_path: Path, fakegame: Any) -> None:
    from longplay.replays.schema import ReplayWriteError

    path = tmp_path / "full.lpr"
    rec, _, committed = _record_until_the_disk_is_full(path, fakegame)
    closed = []
    rec.env.unwrapped.close = lambda: closed.append(True)
    with pytest.raises(ReplayWriteError, match="database or disk is full"):
        rec.close()
    assert closed == [True]  # the env behind it was closed too (it was skipped)
    rec.close()  # closing again does nothing
    with ReplayReader(path) as replay:
        assert replay.num_steps() == committed and replay.header["status"] == "recording"
    report = verify(path)
    assert report.ok and report.steps == committed


@pytest.mark.parametrize("where", ["creating the file", "writing the header"])
def test_a_full_disk_before_the_first_step_is_one_line_and_leaves_no_file(where: str, tmp_path: Path, fakegame: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # sqlite3.OperationalError came out of the recorder's constructor (longplay run printed a traceback) and an
    # empty RUN.lpr stayed behind, listed by the viewer and compare as an unreadable run.
    import sqlite3

    import gymnasium as gym

    from longplay.replays import recorder
    from longplay.replays.schema import ReplayWriteError

    real_create = recorder.create_replay

    def full_disk(path: Path) -> sqlite3.Connection:
        if where == "creating the file":
            path.write_bytes(b"")
            raise sqlite3.OperationalError("database or disk is full")
        conn = real_create(path)
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        return conn

    monkeypatch.setattr(recorder, "create_replay", full_disk)
    path = tmp_path / "full.lpr"
    env = gym.make(fakegame.ENV_ID)
    with pytest.raises(ReplayWriteError) as failed:  # a header of several pages, which the full file cannot take
        recorder.Recorder(env, path, agent="random", extra_header={"notes": "n" * 20_000})
    message = str(failed.value)
    assert message == f"cannot create the replay {path}: database or disk is full (nothing was recorded)"
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["full.lpr-lock"])
    monkeypatch.undo()
    with recorder.Recorder(env, path, agent="random") as rec:  # space again: the same path records
        rec.reset(seed=0)
        rec.step(1)
    assert verify(path).ok


def test_a_kill_while_the_header_is_written_leaves_no_part_of_it(tmp_path: Path, fakegame: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Each header row was its own commit: killed after a few of them, the file read as a replay whose header had
    # a format but no recorder settings or catalog (a version 1 replay's fingerprint spacing, say).
    import sqlite3

    import gymnasium as gym

    from longplay.replays import recorder
    from longplay.replays.schema import CorruptReplayError, open_replay, read_header

    path = tmp_path / "run.lpr"
    real_create = recorder.create_replay
    seen: list[Any] = []  # what another reader finds as the third header row goes in (where a kill could land)

    def read_then(statement: str) -> None:
        if statement.startswith("INSERT INTO header") and len(seen) < 3:
            seen.append(statement)
            if len(seen) == 3:
                conn = open_replay(path)
                try:
                    seen.append(read_header(conn, path))
                except CorruptReplayError as e:
                    seen.append(e)
                finally:
                    conn.close()

    def traced(path: Path) -> sqlite3.Connection:
        conn = real_create(path)
        conn.set_trace_callback(read_then)
        return conn

    monkeypatch.setattr(recorder, "create_replay", traced)
    with recorder.Recorder(gym.make(fakegame.ENV_ID), path, agent="random") as rec:
        rec._conn.set_trace_callback(None)
        rec.reset(seed=0)
        rec.step(1)
    assert isinstance(seen[-1], CorruptReplayError), seen[-1]
    assert str(seen[-1]) == f"corrupt replay: {path}: its header is empty (a run stopped as it began)"
    assert verify(path).ok
