"""The recorder: what it writes, how it names runs, what it refuses."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from longplay.replays.reader import ReplayReader
from longplay.replays.recorder import Recorder, run_name, run_path
from longplay.replays.schema import APPLICATION_ID, FORMAT_VERSION


def test_header_episode_and_tables(record: Any, fakegame: Any) -> None:
    path = record(500, seed=3, model="m-1", scaffold_card={"name": "notes", "version": 1}, hash_every=128,
                  config={"budget": 500}, extra_header={"label": "baseline"})
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == FORMAT_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # closed: one self-contained file
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert {"header", "episodes", "chunks", "checkpoints", "keyframes", "milestones", "turns", "memory"} <= tables
    turn_columns = {r[1] for r in conn.execute("PRAGMA table_info(turns)")}
    assert {"prompt_digest", "response", "tool_calls", "tokens_in", "tokens_out", "tokens_cache_read",
            "tokens_cache_write", "cost_usd", "latency_s", "error"} <= turn_columns
    conn.close()
    with ReplayReader(path) as replay:
        h = replay.header
        assert h["format"] == "longplay-replay" and h["format_version"] == FORMAT_VERSION
        assert h["env_id"] == fakegame.ENV_ID and h["env_kwargs"] == {"world_seed": 0}
        assert h["backend"] == "fake" and h["world_seed"] == 0 and h["rom_sha1"] is None
        assert h["agent"] == "random" and h["model"] == "m-1" and h["label"] == "baseline"
        assert h["scaffold_card"] == {"name": "notes", "version": 1} and h["config"] == {"budget": 500}
        assert h["status"] == "closed" and h["steps"] == 500 and h["seed"] == 3
        assert [m["id"] for m in h["catalog"]] == ["left_home", "opened_menu", "hundred_presses", "finish"]
        assert isinstance(h["package_version"], str)
        (episode,) = replay.episodes()
        assert episode.seed == 3 and episode.end_step == 500 and episode.end_reason == "closed"
        assert episode.start_hash.hex() == h["start_state_hash"]
        assert replay.num_steps() == 500
        assert {m.milestone for m in replay.milestones()} >= {"hundred_presses"}
        assert [m.step for m in replay.milestones() if m.milestone == "hundred_presses"] == [100]
        assert replay.rewards()[100] == 2.0  # the milestone's weight, paid at the step it was reached
        steps = [c.step for c in replay.checkpoints()]
        assert steps[0] == 0 and steps[-1] == 500 and 128 in steps and 100 in steps  # periodic, milestone, end
        assert replay.keyframe_steps() == [0]  # keyframe_every is 4096 by default
        assert replay.summaries()[0].map_id == 0


def test_close_writes_the_runs_totals_to_the_header(record: Any) -> None:
    # steps, episodes, duration_s: "totals, written by close()" (FORMAT.md); compare reads a seconds budget off
    # duration_s
    path = record(200, episodes=3)
    with ReplayReader(path) as replay:
        h = replay.header
        episodes = replay.episodes()
    assert (h["steps"], h["episodes"]) == (600, 3) == (sum(e.end_step for e in episodes), len(episodes))
    assert isinstance(h["duration_s"], float) and h["duration_s"] + 0.001 >= episodes[-1].ended_t > 0  # (ms rounded)


def test_actions_match_what_was_played(record: Any) -> None:
    plan = np.random.default_rng(7).integers(0, 8, 3000).tolist()
    path = record(actions=plan, chunk_steps=256)
    with ReplayReader(path) as replay:
        assert list(replay.actions()) == plan
        assert len(replay.chunk_times()) >= 3000 // 256


def test_keyframes_and_hash_spacing(record: Any) -> None:
    path = record(1000, keyframe_every=100, hash_every=10, summary_every=50)
    with ReplayReader(path) as replay:
        assert replay.keyframe_steps() == list(range(0, 1001, 100))
        hashed = [c.step for c in replay.checkpoints() if c.hash is not None]
        assert set(range(0, 1001, 10)) <= set(hashed)
        summarised = [s.step for s in replay.summaries()]
        assert set(range(0, 1001, 50)) <= set(summarised)


def test_adaptive_hash_spacing(tmp_path: Path, fakegame: Any) -> None:
    import time

    # A slow agent (an LM: seconds a step) gets a hash every step; a fast one, wide spacing.
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "slow.lpr", hash_budget=0.05) as rec:
        rec.reset(seed=0)
        for _ in range(60):
            time.sleep(0.002)
            rec.step(0)
        assert rec.hash_spacing <= 2
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "fast.lpr", hash_budget=1e-4) as rec:
        rec.reset(seed=0)
        for _ in range(5000):
            rec.step(0)
        assert rec.hash_spacing >= 512
    with ReplayReader(tmp_path / "slow.lpr") as replay:
        assert replay.header["recorder"]["hash_every"] is None
        hashed = [c.step for c in replay.checkpoints() if c.hash is not None]
        assert len(hashed) > 10 and hashed == sorted(hashed)


def _play_to_the_finish(rec: Recorder) -> None:
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = rec.step(4)


def test_several_episodes_terminated_and_seedless_reset(tmp_path: Path, fakegame: Any) -> None:
    env = gym.make(fakegame.ENV_ID, finish_at=150)
    with Recorder(env, tmp_path / "r.lpr", agent="random") as rec:
        rec.reset(seed=11)
        _play_to_the_finish(rec)
        rec.reset()  # no seed: one is drawn and recorded
        for _ in range(30):
            rec.step(0)
    with ReplayReader(tmp_path / "r.lpr") as replay:
        first, second = replay.episodes()
        assert (first.seed, first.end_step, first.end_reason) == (11, 150, "terminated")
        assert isinstance(second.seed, int) and second.end_step == 30 and second.end_reason == "closed"
        assert replay.header["env_kwargs"]["finish_at"] == 150
        assert [m.milestone for m in replay.milestones(0)][-1] == "finish"


def test_a_reset_after_the_end_commits_once_and_steps_past_the_end_move_it(tmp_path: Path, fakegame: Any) -> None:
    from longplay.replays.verify import verify

    env = gym.make(fakegame.ENV_ID, finish_at=150)
    with Recorder(env, tmp_path / "r.lpr", agent="random") as rec:
        rec.reset(seed=11)
        _play_to_the_finish(rec)
        commits = []
        real_flush_now = rec._flush_now
        rec._flush_now = lambda empty=False: (commits.append(bool(rec._actions or rec._checkpoints))
                                             or real_flush_now(empty))
        rec.reset(seed=12)  # the end is committed already: only the new episode's start is
        assert len([c for c in commits if c]) == 1
        _play_to_the_finish(rec)
        for _ in range(5):  # steps past the end: recorded, and the end moves to the last of them
            rec.step(0)
        rec.reset(seed=13)
    with ReplayReader(tmp_path / "r.lpr") as replay:
        first, second, third = replay.episodes()
        assert (first.end_step, first.end_reason) == (150, "terminated")
        assert (second.end_step, second.end_reason) == (155, "terminated")
        assert replay.num_steps(1) == 155 and third.end_reason == "closed"
        assert [c.step for c in replay.checkpoints(0)][-1] == 150
        steps = [c.step for c in replay.checkpoints(1)]
        assert 150 in steps and steps[-1] == 155
    assert verify(tmp_path / "r.lpr").ok


def test_log_turn_and_memory(tmp_path: Path, fakegame: Any) -> None:
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "lm.lpr", agent="lm", model="m") as rec:
        rec.reset(seed=0)
        rec.log_turn(prompt=[{"role": "user", "content": "hi"}], response="press a",
                     tool_calls=[{"name": "press", "arguments": {"buttons": ["a"]}}], tokens_in=120,
                     tokens_out=8, tokens_cache_read=1000, cost_usd=0.002, latency_s=0.5)
        rec.step(4)
        rec.log_turn(response="", error="rate limited", tokens_in=0)
        rec.log_memory("notes", "the gym is north")
        rec.log_memory("map_memory", {"seen": [[1, 2]]})
    with ReplayReader(tmp_path / "lm.lpr") as replay:
        first, second = replay.turns()
        assert first.step == 0 and second.step == 1
        assert first.prompt_digest is not None and first.prompt_digest.startswith("sha256:")
        assert first.tool_calls == [{"name": "press", "arguments": {"buttons": ["a"]}}]
        assert (first.tokens_in, first.tokens_out, first.tokens_cache_read, first.cost_usd) == (120, 8, 1000, 0.002)
        assert (first.tokens, second.tokens) == (120 + 8 + 1000, 0)  # every token, cache reads too
        assert second.error == "rate limited"
        notes, seen = replay.memory()
        assert notes.content == "the gym is north" and seen.content == {"seen": [[1, 2]]}


@pytest.mark.parametrize("logged", ["turn", "memory"])
def test_a_turn_or_memory_snapshot_alone_is_committed_by_flush(tmp_path: Path, recording: Any, logged: str) -> None:
    """An LM run logs its turn (and memory) before pressing the buttons it chose: a flush with nothing else pending
    must commit it, or a live viewer shows the run a turn behind and a kill loses the turn that was paid for."""
    rec = recording(tmp_path / "lm.lpr", 10, commit_seconds=3600.0)
    try:
        if logged == "turn":
            rec.log_turn(response="press a", tokens_in=100)
        else:
            rec.log_memory("notes", "the gym is north")
        rec.flush()
        with ReplayReader(rec.path) as replay:
            rows = replay.turns() if logged == "turn" else replay.memory()
        assert [row.step for row in rows] == [10]
    finally:
        rec.close()


def test_a_heartbeat_commits_the_time_with_nothing_else_pending(tmp_path: Path, fakegame: Any) -> None:
    """An LM run waiting on its model records nothing for minutes: its heartbeat alone keeps the header's
    ``committed`` fresh (readers take a replay not written for RECORDING_QUIET_S as killed), at most every
    ``commit_seconds``."""
    path = tmp_path / "lm.lpr"

    def written_in_2000() -> None:  # the last commit, as a long silent wait leaves it
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE header SET value = '\"2000-01-01T00:00:00+00:00\"' WHERE key = 'committed'")
        conn.close()

    def last_commit() -> datetime | None:
        with ReplayReader(path) as replay:
            return replay.last_commit()

    with Recorder(gym.make(fakegame.ENV_ID), path, agent="lm", commit_seconds=3600.0) as rec:
        rec.reset(seed=0)
        rec.step(4)
        rec.flush()
        written_in_2000()
        rec.heartbeat()  # the last commit was just now, by the recorder's clock: nothing to do
        assert last_commit() == datetime.fromisoformat("2000-01-01T00:00:00+00:00")
        rec.commit_seconds = 0.0
        rec.heartbeat()
        beat = last_commit()
        assert beat is not None and beat.year > 2000
        with ReplayReader(path) as replay:
            assert replay.num_steps() == 1 and replay.turns() == []  # the time alone was committed


def test_run_names_sort_and_say_what_they_are(tmp_path: Path) -> None:
    name = run_name("longplay/QuestMini-v0", "random", None, 0, datetime(2026, 11, 28, 23, 59, 59))
    assert name == "20261128-235959__QuestMini-v0__random__seed0.lpr"
    assert re.fullmatch(r"\d{8}-\d{6}__Quest-v0__lm__org-model-7b__seed12\.lpr",
                        run_name("longplay/Quest-v0", "lm", "org/model 7b", 12))
    first = run_path(tmp_path, "longplay/QuestMini-v0", "random", seed=0)
    first.touch()
    second = run_path(tmp_path, "longplay/QuestMini-v0", "random", seed=0)
    assert second != first and second.parent == tmp_path and second.name.endswith(".lpr")
    earlier = run_name("x", "a", now=datetime(2025, 1, 1))
    later = run_name("x", "a", now=datetime(2025, 1, 2))
    assert sorted([later, earlier]) == [earlier, later]


def test_refusals(tmp_path: Path, fakegame: Any) -> None:
    path = tmp_path / "a.lpr"
    Recorder(gym.make(fakegame.ENV_ID), path).close()
    with pytest.raises(FileExistsError, match="already exists"):
        Recorder(gym.make(fakegame.ENV_ID), path)
    Recorder(gym.make(fakegame.ENV_ID), path, overwrite=True).close()
    with pytest.raises(ValueError, match="longplay env"):
        Recorder(gym.make("CartPole-v1"), tmp_path / "b.lpr")

    class Remap(gym.ActionWrapper):
        def action(self, action: Any) -> Any:
            return action

    with pytest.raises(ValueError, match="inside Remap"):
        Recorder(Remap(gym.make(fakegame.ENV_ID)), tmp_path / "c.lpr")
    with pytest.raises(ValueError, match="JSON"):
        Recorder(gym.make(fakegame.ENV_ID), tmp_path / "d.lpr", config={"f": object()})
    with pytest.raises(ValueError, match="hash_every"):
        Recorder(gym.make(fakegame.ENV_ID), tmp_path / "e.lpr", hash_every=0)


def test_compact_on_disk(record: Any) -> None:
    def size_without_keyframes(path: Path) -> int:
        conn = sqlite3.connect(path)
        keyframe_bytes = conn.execute("SELECT SUM(LENGTH(state)) FROM keyframes").fetchone()[0]
        conn.close()
        return path.stat().st_size - keyframe_bytes

    short = size_without_keyframes(record(5_000, name="short.lpr"))
    long = size_without_keyframes(record(45_000, name="long.lpr"))
    assert (long - short) / 40_000 < 4.0  # bytes per step, beyond the fixed pages of an empty file


def test_resume_continues_a_replay(tmp_path: Path, fakegame: Any) -> None:
    from longplay.replays.schema import ReplayError
    from longplay.replays.verify import verify

    plan = np.random.default_rng(3).integers(0, 8, 300).tolist()
    path = tmp_path / "resumed.lpr"
    rec = Recorder(gym.make(fakegame.ENV_ID), path, agent="lm")
    rec.reset(seed=2)
    for action in plan[:200]:
        rec.step(action)
    rec.flush()
    rec._conn.close()  # the process "dies" here, after its last commit, and its lock goes with it
    rec._lock._handle.close()  # as a killed process's lock goes: its -lock file stays

    env = gym.make(fakegame.ENV_ID)  # a checkpoint restores the env at step 200
    env.reset(seed=2)
    for action in plan[:200]:
        env.step(action)
    with pytest.raises(ReplayError, match="holds 200 steps"):
        Recorder.resume(env, path, step=150)
    with Recorder.resume(env, path, step=200, seconds=5.0) as rec:
        for action in plan[200:]:
            rec.step(action)
    with ReplayReader(path) as replay:
        assert list(replay.actions()) == plan and replay.header["status"] == "closed"
        assert replay.episodes()[0].end_step == 300
        # Step 200 is no multiple of the fingerprint spacing: the resumed recorder keeps to the same steps.
        every = replay.fingerprint_every
        assert 200 % every and len(replay.fingerprints()) == 300 // every
    assert verify(path).ok

    wrong = tmp_path / "wrong.lpr"
    rec = Recorder(gym.make(fakegame.ENV_ID), wrong)
    rec.reset(seed=2)
    for action in plan[:200]:
        rec.step(action)
    rec.flush()
    rec._conn.close()
    rec._lock._handle.close()  # as a killed process's lock goes: its -lock file stays
    env = gym.make(fakegame.ENV_ID)
    env.reset(seed=2)  # not restored: still at step 0
    Recorder.resume(env, wrong, step=200).close()
    assert "step 200: state hash differs" in verify(wrong).summary()


def test_a_resumed_run_carries_on_its_totals_and_its_clock(tmp_path: Path, fakegame: Any) -> None:
    """A resume in a later episode: the header's totals at close count the episodes before it (``steps`` counted the
    last episode's alone), and the run's clock carries on from the checkpoint's ``seconds`` (the ``t`` columns and
    ``duration_s``, read by compare's wall-clock axis and a seconds budget, started again at 0)."""
    path = tmp_path / "resumed.lpr"
    rec = Recorder(gym.make(fakegame.ENV_ID), path, agent="lm")
    rec.reset(seed=1)
    for _ in range(30):
        rec.step(0)
    rec.reset(seed=2)
    for _ in range(20):
        rec.step(0)
    rec.flush()
    rec._conn.close()  # the process dies after its last commit
    rec._lock._handle.close()

    env = gym.make(fakegame.ENV_ID)  # a checkpoint restores the env at step 20 of episode 1
    env.reset(seed=2)
    for _ in range(20):
        env.step(0)
    with Recorder.resume(env, path, step=20, seconds=1000.0) as rec:
        for _ in range(10):
            rec.step(0)
    with ReplayReader(path) as replay:
        h = replay.header
        assert (h["steps"], h["episodes"]) == (60, 2)
        assert h["duration_s"] >= 1000.0 and replay.episodes()[1].ended_t >= 1000.0
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT MAX(t_end) FROM chunks").fetchone()[0] >= 1000.0
    conn.close()


def test_a_closed_run_resumed_reads_as_recording_again_until_closed(tmp_path: Path, fakegame: Any) -> None:
    """A run stopped with Ctrl+C is closed (its header's status, its episode's end); resumed, readers (the viewer's
    live runs, compare's killed-or-running test) must see it recording, with its episode under way, not closed."""
    path = tmp_path / "closed.lpr"
    with Recorder(gym.make(fakegame.ENV_ID), path, agent="lm") as rec:
        rec.reset(seed=4)
        for _ in range(25):
            rec.step(0)
    env = gym.make(fakegame.ENV_ID)
    env.reset(seed=4)
    for _ in range(25):
        env.step(0)
    rec = Recorder.resume(env, path, step=25)
    with ReplayReader(path) as replay:
        assert replay.header["status"] == "recording" and replay.episodes()[0].end_step is None
    for _ in range(5):
        rec.step(0)
    rec.close()
    with ReplayReader(path) as replay:
        assert replay.header["status"] == "closed" and replay.episodes()[0].end_step == 30


def test_a_replay_being_recorded_is_not_resumed_or_overwritten(tmp_path: Path, child_lines: Any) -> None:
    # a run resumed (or a new one overwriting the file) while the first still ran wrote the same steps beside it
    import subprocess
    import sys
    import textwrap

    import longplay.envs  # noqa: F401 - registers the env ids
    from longplay.replays.schema import ReplayError
    from longplay.replays.verify import verify

    path = tmp_path / "live.lpr"
    other = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        import gymnasium as gym
        import longplay.envs
        from longplay.replays.recorder import Recorder
        rec = Recorder(gym.make("longplay/QuestMini-v0"), {str(path)!r})
        rec.reset(seed=0)
        rec.step(1)
        rec.flush()
        print("recording", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert child_lines(other) == ["recording\n"]
        env = gym.make("longplay/QuestMini-v0")
        env.reset(seed=0)
        env.step(1)
        with pytest.raises(ReplayError, match="live.lpr is being recorded .by a run or server still going.: stop"):
            Recorder.resume(env, path, step=1)
        with pytest.raises(ReplayError, match="is being recorded"):
            Recorder(gym.make("longplay/QuestMini-v0"), path, overwrite=True)
    finally:
        other.kill()  # killed: its lock goes with it
        other.wait()
    assert Path(f"{path}-lock").exists()  # a killed run's lock file stays, held by no one
    Recorder.resume(env, path, step=1).close()
    assert verify(path).ok and not Path(f"{path}-lock").exists()


def test_a_file_system_without_locks_records_without_one(tmp_path: Path, fakegame: Any, monkeypatch) -> None:
    import errno
    import fcntl

    def no_locks(*args: Any) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # some network mounts
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "run.lpr") as rec:
        assert rec._lock is None
        rec.reset(seed=0)
        rec.step(1)
    assert not Path(f"{tmp_path / 'run.lpr'}-lock").exists()
    with ReplayReader(tmp_path / "run.lpr") as replay:
        assert replay.num_steps() == 1


@pytest.mark.parametrize("weight", [2.0, 0.0])
def test_a_milestone_is_recorded_at_its_step_whether_or_not_it_pays(tmp_path: Path, fakegame: Any,
                                                                    weight: float) -> None:
    # The hot path leaves new milestones to the reward only when every milestone pays one.
    import dataclasses

    env = gym.make(fakegame.ENV_ID)
    game = env.unwrapped.game
    game._catalog = tuple(dataclasses.replace(m, weight=weight) if m.id == "hundred_presses" else m
                          for m in game._catalog)
    with Recorder(env, tmp_path / "r.lpr", hash_every=4096, fingerprint_every=4096) as rec:
        rec.reset(seed=1)
        for _ in range(300):
            rec.step(0)
    with ReplayReader(tmp_path / "r.lpr") as replay:
        assert [m.step for m in replay.milestones() if m.milestone == "hundred_presses"] == [100]
        assert replay.rewards().get(100, 0.0) == weight


def test_a_wrapped_reward_is_recorded_exactly_at_its_step(tmp_path: Path, fakegame: Any) -> None:
    """A reward from a wrapper inside the recorder (RL reward shaping: fractions, penalties) is recorded as the step
    returned it, across chunks: the fake game's own rewards are whole numbers, so a recorder that rounded them or
    dropped a negative one passed every test."""

    class Shaped(gym.Wrapper):
        def step(self, action: Any) -> Any:
            obs, reward, terminated, truncated, info = self.env.step(action)
            return obs, reward + (-0.35 if action == 3 else 0.1), terminated, truncated, info

    paid = {}
    with Recorder(Shaped(gym.make(fakegame.ENV_ID)), tmp_path / "shaped.lpr", chunk_steps=64) as rec:
        rec.reset(seed=2)
        for step in range(1, 201):
            paid[step] = rec.step(step % 8)[1]
    with ReplayReader(tmp_path / "shaped.lpr") as replay:
        assert replay.header["reward_source"] == "wrapped"
        assert replay.rewards() == paid
