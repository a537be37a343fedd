"""The served folder's private copies: taken of replays only."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import longplay.replays.viewer.folder as folder_module
from longplay.replays.viewer.folder import ReplayFolder, UnreadableRunError


def test_a_file_that_is_no_replay_is_refused_before_it_is_copied(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a run copied its file first, whatever it was: a 2 GB junk ``.lpr`` cost seconds and 2 GB of temp
    disk per request before the reader said it was no replay. The file's first bytes say so without a copy."""
    root = tmp_path / "runs"
    root.mkdir()
    (root / "junk.lpr").write_bytes(b"\0" * 1_000_000)
    (root / "live-junk.lpr").write_bytes(b"x" * 1000)
    (root / "live-junk.lpr-wal").write_bytes(b"y" * 1000)  # "being recorded": always read from a copy
    conn = sqlite3.connect(root / "other.lpr")  # an SQLite file, not a replay
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    copies: list[str] = []
    monkeypatch.setattr(folder_module.shutil, "copyfile", lambda src, dst: copies.append(str(src)))
    monkeypatch.setattr(folder_module.tempfile, "mkdtemp", lambda **kw: pytest.fail("a temporary folder was made"))
    folder = ReplayFolder(root)
    expected = {"junk.lpr": "not a replay: junk.lpr is not a longplay replay (not an SQLite file)",
                "live-junk.lpr": "not a replay: live-junk.lpr is not a longplay replay (not an SQLite file)",
                "other.lpr": "not a replay: other.lpr is an SQLite file but not a longplay replay"}
    for run_id, message in expected.items():
        with pytest.raises(UnreadableRunError) as info, folder.open(run_id):
            pass
        assert str(info.value) == message
        with pytest.raises(UnreadableRunError) as info:
            folder.progress(run_id)
        assert str(info.value) == message
    listed = folder.list_runs()
    assert listed["runs"] == [] and {u["id"]: u["error"] for u in listed["unreadable"]} == expected
    assert copies == []
    folder.close()


def test_the_comparison_names_a_picked_run_it_leaves_out(record: Any, fakegame: Any) -> None:
    """compare leaves out an unclosed episode of no recorded step (a run killed after a reset, or an LM run still
    waiting on its first model call), and warns only when asked: the page dropped such a run the user picked with
    no word. The comparison's notes say which, by run id (not the private copy's temporary path)."""
    import gymnasium as gym

    from longplay.replays.recorder import Recorder

    root = record(100, name="runs/done.lpr").parent
    live = Recorder(gym.make(fakegame.ENV_ID), root / "live.lpr", agent="lm")  # still recording: read from a copy
    starting = Recorder(gym.make(fakegame.ENV_ID), root / "starting.lpr", agent="lm")  # not reset yet
    folder = ReplayFolder(root)
    try:
        live.reset(seed=1)
        data = folder.comparison(["done.lpr", "live.lpr", "starting.lpr"])
        assert [r["id"] for r in data["runs"]] == ["done.lpr"]
        assert data["notes"] == [
            "live.lpr: left out episode 0: it holds no recorded step (the run was killed, or is still being recorded)",
            "starting.lpr: left out: it holds no episode (the run was killed, or is still being recorded, before its "
            "first reset)"]
        live.step(0)
        live.flush()
        data = folder.comparison(["done.lpr", "live.lpr"])  # its first step is in: it joins, and the note goes
        assert [r["id"] for r in data["runs"]] == ["done.lpr", "live.lpr"] and data["notes"] == []
    finally:
        folder.close()
        live.close()
        starting.close()
