"""Checkpoints and ``--resume``: a resumed run continues the same replay and gives the same replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from longplay.agents.lm.checkpoint import CheckpointError, find_checkpoint, load_checkpoint
from longplay.agents.lm.cli import main
from longplay.agents.lm.config import ProviderConfig
from longplay.agents.lm.providers import OfflineProvider
from longplay.replays.reader import ReplayReader
from longplay.replays.verify import verify


def replay_content(path: Path) -> dict[str, Any]:
    """What must be equal between an interrupted and an uninterrupted run (times and latencies aside)."""
    with ReplayReader(path) as r:
        return {
            "actions": r.actions(),
            "milestones": [(m.episode, m.step, m.milestone) for m in r.milestones()],
            "turns": [
                (
                    t.turn,
                    t.step,
                    t.response,
                    t.tool_calls,
                    t.tokens_in,
                    t.tokens_out,
                    t.error,
                    t.prompt_digest,
                    {k: v for k, v in (t.extra or {}).items() if k != "harness_s"},
                )
                for t in r.turns()
            ],
            "memory": [(m.snapshot, m.step, m.name, m.content) for m in r.memory()],
            "episodes": [(e.episode, e.seed, e.end_step, e.end_reason) for e in r.episodes()],
        }


def the_replay(folder: Path) -> Path:
    (path,) = folder.glob("*.lpr")
    return path


ARGS = ["--env", "QuestMini-v0", "--scaffold", "full", "--checkpoint-every", "10", "--quiet"]


def assert_same_replay(resumed: Path, straight: Path) -> None:
    a, b = replay_content(resumed), replay_content(straight)
    for key in ("actions", "milestones", "turns", "memory", "episodes"):
        assert a[key] == b[key], key
    # Where the recorder hashes the state depends on timing (adaptive spacing), so hashes are not compared
    # one to one: every hash of both files must match the re-simulated game instead.
    assert verify(resumed).ok and verify(straight).ok


def test_resume_after_a_budget_stop_gives_the_same_replay(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*ARGS, "--runs-dir", str(one), "--max-turns", "25"]) == 0
    replay = the_replay(one)
    assert load_checkpoint(find_checkpoint(str(replay)))["reason"] == "stop"
    assert main(["--resume", str(replay), "--max-turns", "50", "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two))
    with ReplayReader(replay) as r:
        assert len(r.header["resumes"]) == 1 and r.header["status"] == "closed"


def test_a_moved_runs_folder_resumes(tmp_path: Path) -> None:
    one, moved, two = tmp_path / "one", tmp_path / "elsewhere", tmp_path / "two"
    assert main([*ARGS, "--runs-dir", str(one), "--max-turns", "25"]) == 0
    one.rename(moved)  # the checkpoint names its replay relative to itself
    replay = the_replay(moved)
    assert load_checkpoint(find_checkpoint(str(replay)))["replay"] == str(replay)
    assert main(["--resume", str(replay), "--max-turns", "50", "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two))


def test_resume_can_lift_a_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "5"]) == 0
    replay = the_replay(tmp_path)
    with ReplayReader(replay) as r:
        assert len(r.turns()) == 5
    assert main(["--resume", str(replay), "--max-turns", "none", "--max-steps", "60", "--quiet"]) == 0
    with ReplayReader(replay) as r:
        assert len(r.actions()) == 60 and len(r.turns()) > 5
    assert load_checkpoint(find_checkpoint(str(replay)))["run"]["config"]["budget"]["max_turns"] is None
    with pytest.raises(SystemExit):
        main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "lots"])
    assert "invalid int value: 'lots'" in capsys.readouterr().err


class Crash(Exception):
    """The process dies (a bug, a kill) in the middle of a turn."""


class CrashingProvider(OfflineProvider):
    """The offline model, but the process dies at its ``at``-th call."""

    def __init__(self, at: int) -> None:
        super().__init__(ProviderConfig())
        self.at = at
        self.count = 0

    def complete(self, request):  # type: ignore[no-untyped-def]
        self.count += 1
        if self.count == self.at:
            raise Crash()
        return super().complete(request)


def test_resume_after_a_crash_rolls_back_to_the_checkpoint(tmp_path: Path) -> None:
    from longplay.agents.lm.cli import build_parser, run_lm

    one, two = tmp_path / "one", tmp_path / "two"
    with pytest.raises(Crash):
        run_lm(
            build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "50"]),
            provider=CrashingProvider(at=27),
        )
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(replay.name, one))
    assert checkpoint["reason"] in ("every", "milestone") and checkpoint["run"]["turn"] < 27
    with ReplayReader(replay) as r:
        assert len(r.turns()) > checkpoint["run"]["counters"]["logged_turns"]  # turns past the checkpoint ...
    assert main(["--resume", replay.stem, "--runs-dir", str(one), "--quiet"]) == 0  # ... are played again
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two))


def test_interrupt_while_waiting_for_the_model_is_checkpointed(tmp_path: Path) -> None:
    from longplay.agents.lm.cli import build_parser, run_lm

    class Interrupting(CrashingProvider):
        def complete(self, request):  # type: ignore[no-untyped-def]
            if self.count + 1 == self.at:
                self.count += 1
                raise KeyboardInterrupt
            return super().complete(request)

    args = build_parser().parse_args([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "30"])
    assert run_lm(args, provider=Interrupting(at=5)) == 130
    checkpoint = load_checkpoint(find_checkpoint(str(the_replay(tmp_path))))
    assert checkpoint["reason"] == "stop" and checkpoint["run"]["counters"]["turns"] == 4


def test_interrupt_during_a_turn_keeps_the_checkpoint_of_the_last_turn_boundary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the model answered (the game stepped, the turn not logged) must not checkpoint that
    state: the checkpoint of the last boundary stays, and resuming from it gives the uninterrupted replay.
    (A sweep's Ctrl-C lands anywhere in a turn; such a checkpoint made its resume fail on the state hash.)"""
    from longplay.agents.lm import loop
    from longplay.agents.lm.cli import build_parser, run_lm

    one, two = tmp_path / "one", tmp_path / "two"
    act, calls = loop.LMRun._act, {"n": 0}

    def act_then_interrupt(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = act(self, *args, **kwargs)  # the game has stepped
        calls["n"] += 1
        if calls["n"] == 15:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(loop.LMRun, "_act", act_then_interrupt)
    args = build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "50"])
    assert run_lm(args, provider=OfflineProvider(ProviderConfig())) == 130
    monkeypatch.undo()
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(str(replay)))
    assert checkpoint["reason"] != "stop" and checkpoint["run"]["counters"]["turns"] < 15
    assert main(["--resume", str(replay), "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two))


def test_resume_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--resume", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "no checkpoint for run 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    assert main(["--resume", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a longplay checkpoint" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_a_run_whose_episode_ended_offers_no_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--set", "max_steps=30", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "stopped: episode_end" in out and "--resume" not in out and "nothing to continue" in out
    assert main(["--resume", str(the_replay(tmp_path)), "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "reached the episode's step limit: there is nothing to resume" in err and len(err.splitlines()) == 1


def test_resume_takes_steps_as_the_step_budget_and_says_what_it_ignores(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--steps", "30"]) == 0
    replay = the_replay(tmp_path)
    with ReplayReader(replay) as r:
        assert len(r.actions()) == 30
    capsys.readouterr()
    # --steps raises the budget as --max-steps does; the run keeps its env, seed and env options
    assert main(["--resume", str(replay), "--steps", "60", "--seed", "5", "--set", "size=small", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "--seed, --set ignored with --resume" in out
    with ReplayReader(replay) as r:
        assert len(r.actions()) == 60 and r.episodes()[0].seed == 0
    assert verify(replay).ok


@pytest.mark.parametrize("version", [1, 2])
def test_a_chunk_straddling_the_checkpoint_is_cut_with_its_fingerprints(tmp_path: Path, version: int) -> None:
    """A replay committed past the checkpoint in one chunk is cut inside it: the chunk's fingerprints must be
    cut too (one every ``fingerprint_every`` steps; every step in a version 1 replay), or the reader refuses
    the resumed replay as corrupt."""
    import json
    import sqlite3

    import gymnasium as gym
    import numpy as np

    import longplay.envs  # noqa: F401
    from longplay.agents.lm.checkpoint import reopen_recorder, resimulate
    from longplay.replays.recorder import Recorder

    path = tmp_path / "run.lpr"
    plan = np.random.default_rng(0).integers(0, 8, 300).tolist()
    with Recorder(gym.make("longplay/QuestMini-v0"), path, agent="lm",
                  fingerprint_every=1 if version == 1 else 16) as rec:
        rec.reset(seed=0)
        for action in plan:
            rec.step(action)
    conn = sqlite3.connect(path)
    if version == 1:  # as written before fingerprint_every existed
        settings = json.loads(conn.execute("SELECT value FROM header WHERE key = 'recorder'").fetchone()[0])
        del settings["fingerprint_every"]
        conn.execute("UPDATE header SET value = ? WHERE key = 'recorder'", (json.dumps(settings),))
        conn.execute("UPDATE header SET value = '1' WHERE key = 'format_version'")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1  # the checkpoint's step is inside it
    conn.close()
    env = gym.make("longplay/QuestMini-v0")
    resimulate(env, 0, bytes(plan[:150]))
    with reopen_recorder(env, path, steps=150, turns=0, memory=0, seconds=0.0) as rec:
        for action in plan[150:]:
            rec.step(action)
    with ReplayReader(path) as r:
        every = r.fingerprint_every
        assert every == (1 if version == 1 else 16) and r.header["format_version"] == version
        assert r.actions() == bytes(plan) and len(r.fingerprints()) == 300 // every
    assert verify(path).ok
