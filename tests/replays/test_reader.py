"""The reader: random access re-renders the same frames as playing, and bad files give one-line errors."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from longplay.replays.reader import ACTION_BUTTONS, ReplayReader, Spending
from longplay.replays.schema import (
    CorruptReplayError,
    NewerFormatError,
    NotAReplayError,
    ReplayError,
    ReplayNotFoundError,
)


def _play(fakegame: Any, seed: int, actions: list[int]) -> list[np.ndarray]:
    env = gym.make(fakegame.ENV_ID)
    env.reset(seed=seed)
    game = env.unwrapped.game
    frames = [game.frame()]
    for action in actions:
        env.step(action)
        frames.append(game.frame())
    return frames


def test_frame_at_matches_live_play(record: Any, fakegame: Any) -> None:
    plan = np.random.default_rng(1).integers(0, 8, 700).tolist()
    path = record(actions=plan, seed=9, keyframe_every=128)
    truth = _play(fakegame, 9, plan)
    with ReplayReader(path) as replay:
        for step in (0, 1, 127, 128, 129, 500, 699, 700, 3, 650, 0):  # backwards and forwards
            assert np.array_equal(replay.frame_at(step), truth[step]), step
        for step, frame in replay.frames(100, 140, stride=10):
            assert np.array_equal(frame, truth[step])
        trajectory = replay.trajectory()
        assert trajectory.shape == (701, 3)
        for summary in replay.summaries():
            assert tuple(trajectory[summary.step]) == (summary.map_id, summary.x, summary.y)
        assert replay.game_state_at(64).x == trajectory[64][1]
        with pytest.raises(ValueError, match="out of range"):
            replay.frame_at(701)


def test_second_episode_is_reachable(record: Any) -> None:
    path = record(200, episodes=2, seed=4)
    with ReplayReader(path) as replay:
        assert [e.seed for e in replay.episodes()] == [4, 5]
        first = replay.frame_at(200, episode=0)
        second = replay.frame_at(200, episode=1)
        assert first.shape == second.shape == (144, 160, 3)
        with pytest.raises(ValueError, match="no episode 2"):
            replay.frame_at(0, episode=2)


def test_a_seek_after_another_episode_starts_from_this_ones_states(record: Any, fakegame: Any) -> None:
    """The reader walks forward from where its game is only within one episode: a step of episode 1 read after a
    later step of episode 0 was pressed on from episode 0's state (the viewer showing one run's frame as the other's,
    when switching episodes)."""
    path = record(300, episodes=2, seed=4, keyframe_every=128)
    with ReplayReader(path) as replay:
        truths = [_play(fakegame, 4 + e, list(replay.actions(e))) for e in (0, 1)]
        for episode, step in ((0, 100), (1, 120), (0, 290), (1, 299), (0, 5), (1, 64), (0, 127)):
            assert np.array_equal(replay.frame_at(step, episode=episode), truths[episode][step]), (episode, step)


@pytest.mark.parametrize(("edit", "message"), [
    # an overlap was reported as "no actions for steps 100..89"
    ("first_step = first_step - 10", ": the chunk at step 90 overlaps the actions before it (they reach step 100)"),
    ("first_step = first_step + 10", " has no actions for steps 100..109"),
    ("n_steps = n_steps + 5", ": the chunk at step 100 holds 50 actions, not 55"),
])
def test_chunks_that_do_not_tile_their_episode_are_corrupt(record: Any, edited: Any, edit: str, message: str) -> None:
    """An episode's chunks tile its actions without gaps (FORMAT.md): overlapping chunks (read as more steps than
    were played) and a chunk holding fewer actions than its n_steps (read as fewer, silently) are damage too."""
    path = edited(record(150, chunk_steps=100), (f"UPDATE chunks SET {edit} WHERE first_step > 0", ()))
    with ReplayReader(path) as replay, pytest.raises(CorruptReplayError) as error:
        replay.actions()
    assert _one_line(error.value) == f"corrupt replay: {path}: episode 0{message}"


def _one_line(error: Exception) -> str:
    message = str(error)
    assert "\n" not in message and message
    return message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayNotFoundError) as error:
        ReplayReader(tmp_path / "nope.lpr")
    assert "no such file" in _one_line(error.value)


def test_not_a_replay(tmp_path: Path) -> None:
    text = tmp_path / "notes.lpr"
    text.write_text("hello\n" * 100)
    with pytest.raises(NotAReplayError) as error:
        ReplayReader(text)
    assert "not a longplay replay" in _one_line(error.value)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NotAReplayError, match="SQLite file but not a longplay replay"):
        ReplayReader(other)
    with pytest.raises(NotAReplayError, match="folder"):
        ReplayReader(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A pipe called ``*.lpr`` in a folder (``longplay compare runs/``, ``longplay verify``) was opened to read its
    magic bytes and blocked until something wrote to it: the command hung."""
    fifo = tmp_path / "pipe.lpr"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            ReplayReader(fifo)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            outcome.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # release the blocked open: a writer that closes at once gives it end-of-file
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        pytest.fail("reading a named pipe as a replay waited for a writer")
    assert isinstance(outcome[0], NotAReplayError), outcome
    assert "not a regular file" in _one_line(outcome[0])


def test_newer_format(record: Any) -> None:
    path = record(50)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(NewerFormatError) as error:
        ReplayReader(path)
    assert "version 999" in _one_line(error.value) and "upgrade longplay" in str(error.value)


@pytest.mark.parametrize(("sql", "error", "message"), [
    ("UPDATE header SET value = '999' WHERE key = 'format_version'", NewerFormatError, "version 999 replay"),
    ("PRAGMA user_version = 0", CorruptReplayError, "format version 0"),
])
def test_a_version_out_of_range_in_either_place_is_refused(record: Any, sql: str, error: type, message: str) -> None:
    """A replay states its version twice (``PRAGMA user_version`` and the header's ``format_version``): a newer one in
    the header alone was read as if this longplay knew its format, and a version 0 (below every format) as the
    current one."""
    path = record(50)
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    with pytest.raises(error) as raised:
        ReplayReader(path)
    assert message in _one_line(raised.value), raised.value


@pytest.mark.parametrize(("key", "value"), [("env_kwargs", "[1, 2]"), ("env_id", "7"), ("recorder", '"zlib"')])
def test_a_header_value_of_the_wrong_type_is_corrupt(record: Any, key: str, value: str) -> None:
    """It gave a raw TypeError when the env was rebuilt ("argument after ** must be a mapping"), and an
    AttributeError ("'str' object has no attribute 'get'") when verify read the fingerprint spacing."""
    path = record(50)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE header SET value = ? WHERE key = ?", (value, key))
    conn.commit()
    conn.close()
    with pytest.raises(CorruptReplayError) as error:
        with ReplayReader(path) as replay:
            replay.env.reset()
            assert replay.fingerprint_every
    assert f"header {key} is not" in _one_line(error.value)


@pytest.mark.parametrize(("column", "value"), [("options", "not json"), ("identity", "{"), ("options", "[[[")])
def test_an_episode_row_that_is_not_json_is_corrupt(record: Any, column: str, value: str) -> None:
    """An edited episodes.options or .identity raised a bare JSONDecodeError ("Expecting value: line 1 column 1"),
    naming neither the file nor the field: verify printed it as bad input and the viewer answered 400 (a bad
    parameter) instead of 422 (an unreadable replay)."""
    path = record(50)
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE episodes SET {column} = ?", (value,))
    conn.commit()
    conn.close()
    with pytest.raises(CorruptReplayError) as error:
        with ReplayReader(path) as replay:
            replay.episodes()
    assert _one_line(error.value) == f"corrupt replay: {path}: episode 0's {column} is not JSON"


@pytest.fixture
def with_turn_and_memory(tmp_path: Path, fakegame: Any) -> Path:
    """A replay of a few steps with one LM turn and one scaffold memory snapshot (JSON content), each with extra."""
    from longplay.replays.recorder import Recorder

    path = tmp_path / "lm.lpr"
    with Recorder(gym.make(fakegame.ENV_ID), path, agent="lm") as rec:
        rec.reset(seed=0)
        rec.step(0)
        rec.log_turn(response="go", tool_calls=[{"name": "press", "arguments": {"buttons": ["a"]}}],
                     tokens_in=10, extra={"kind": "act"})
        rec.log_memory("map", {"towns": 1}, extra={"size": 1})
    return path


@pytest.mark.parametrize(("table", "column", "what", "read"), [
    ("turns", "tool_calls", "turn 1's tool_calls", lambda r: r.turns()),
    ("turns", "extra", "turn 1's extra", lambda r: r.turns(episode=0)),
    ("memory", "content", "memory snapshot 1's content", lambda r: r.memory()),
    ("memory", "extra", "memory snapshot 1's extra", lambda r: r.memory()),
])
def test_a_turn_or_memory_row_that_is_not_json_is_corrupt(with_turn_and_memory: Path, edited: Any, table: str,
                                                           column: str, what: str, read: Any) -> None:
    """An edited turn's tool calls or memory snapshot raised a bare JSONDecodeError ("Expecting value: line 1
    column 1 (char 0)"): compare over a folder stopped on it, naming neither the file nor the row, instead of
    skipping that replay with a warning."""
    path = edited(with_turn_and_memory, (f"UPDATE {table} SET {column} = 'not json'", ()))
    with ReplayReader(path) as replay, pytest.raises(CorruptReplayError) as error:
        read(replay)
    assert _one_line(error.value) == f"corrupt replay: {path}: {what} is not JSON"
    if table == "turns":  # compare reads every turn: the folder's other replay is still compared
        from longplay.replays.compare import load_runs

        warnings: list[str] = []
        assert [run.path for run in load_runs([path.parent], warnings=warnings)] == [str(with_turn_and_memory)]
        assert warnings == [f"skipped {path}: corrupt replay: {path}: {what} is not JSON"]


@pytest.mark.parametrize(("sql", "message"), [
    ("UPDATE episodes SET seed = 'abc'", "episode 0's seed is 'abc', not an integer"),
    ("UPDATE episodes SET started_t = 'x'", "episode 0's started_t is 'x', not a number"),
    ("UPDATE episodes SET start_hash = 'abc'", "episode 0's start_hash is not a hash"),
    ("INSERT INTO milestones VALUES (0, 'x', 'forged', 0.5)", "milestone 'forged''s step is 'x', not an integer"),
    ("UPDATE turns SET tokens_in = 'abc'", "turn 1's tokens_in is 'abc', not an integer"),
    ("UPDATE turns SET cost_usd = 'free'", "turn 1's cost_usd is 'free', not a number"),
])
def test_a_number_edited_into_text_is_corrupt(with_turn_and_memory: Path, edited: Any, sql: str,
                                              message: str) -> None:
    """SQLite keeps a text that does not convert to its column's type: a seed, a step, a time or a token count
    edited into one raised a TypeError (or gymnasium's 'Seed must be a python integer') in verify and compare."""
    from longplay.replays.compare import read_runs
    from longplay.replays.verify import verify

    def spending(path: Path) -> Any:  # the run list's sums, in SQL, where SUM read such a text as 0
        with ReplayReader(path) as reader:
            return reader.spending()

    path = edited(with_turn_and_memory, (sql, ()))
    for read in (read_runs, spending) if "turns" in sql else (verify, read_runs):  # verify reads no turn
        with pytest.raises(CorruptReplayError) as error:
            read(path)
        assert _one_line(error.value) == f"corrupt replay: {path}: {message}"


@pytest.mark.parametrize(("table", "column", "read"), [
    ("chunks", "actions", lambda r: r.actions()),
    ("chunks", "fingerprints", lambda r: r.fingerprints()),
    ("chunks", "rewards", lambda r: r.rewards()),
    ("keyframes", "state", lambda r: r.keyframe(0, 0)),
])
def test_a_compression_bomb_is_corrupt_not_gigabytes(record: Any, table: str, column: str, read: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # zlib.decompress inflated a blob whole: 200 KB of a hostile replay is 200 MB of zeros (here: 2 MB of them
    # in place of 100 actions, or of a keyframe past MAX_KEYFRAME_BYTES, patched small for the test)
    import zlib

    from longplay.replays import reader as reader_module

    path = record(100, fingerprint_every=1)
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE {table} SET {column} = ?", (zlib.compress(bytes(2 << 20), 9),))
    conn.commit()
    conn.close()
    monkeypatch.setattr(reader_module, "MAX_KEYFRAME_BYTES", 1 << 20)
    with pytest.raises(CorruptReplayError, match="do not decompress|does not decompress|unreadable"):
        with ReplayReader(path) as replay:
            read(replay)


def test_inflate_refuses_what_zlib_decompress_refuses() -> None:
    import zlib

    from longplay.replays.reader import inflate

    blob = zlib.compress(b"abc" * 100)
    assert inflate(blob, 300) == b"abc" * 100
    for bad, limit in ((blob, 299), (blob[:-3], 300), (b"not zlib", 300)):
        with pytest.raises(zlib.error):
            inflate(bad, limit)


def test_corrupt_and_truncated(record: Any, tmp_path: Path) -> None:
    path = record(20_000, keyframe_every=100)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.lpr"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptReplayError) as error:
        with ReplayReader(truncated) as replay:
            replay.actions()
            replay.keyframe_steps()
            replay.checkpoints()
    assert "corrupt replay" in _one_line(error.value)
    garbage = tmp_path / "garbage.lpr"
    garbage.write_bytes(data[:100] + bytes(range(256)) * 40)
    with pytest.raises(ReplayError) as error:
        with ReplayReader(garbage) as replay:
            replay.actions()
    _one_line(error.value)


@pytest.mark.parametrize("size", [16, 50, 71, 72, 99])
def test_a_replay_cut_inside_its_sqlite_header_is_corrupt(record: Any, tmp_path: Path, size: int) -> None:
    """Cut before the application id (byte 72) it read as 'an SQLite file but not a longplay replay'; cut after it,
    it opened and failed later on a missing table."""
    cut = tmp_path / "cut.lpr"
    cut.write_bytes(record(50).read_bytes()[:size])
    with pytest.raises(CorruptReplayError) as error:
        ReplayReader(cut)
    assert _one_line(error.value) == f"corrupt replay: {cut} is cut short ({size} bytes, inside its SQLite header)"
    cut.write_bytes(b"SQLite form")  # not even the whole magic: no SQLite file
    with pytest.raises(NotAReplayError, match="not an SQLite file"):
        ReplayReader(cut)


def test_edited_chunk_is_reported(record: Any, tmp_path: Path) -> None:
    path = record(3000, chunk_steps=1000)
    copy = tmp_path / "gap.lpr"
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DELETE FROM chunks WHERE first_step = 1000")
    conn.commit()
    conn.close()
    with ReplayReader(copy) as replay, pytest.raises(CorruptReplayError, match="no actions for steps 1000..1999"):
        replay.actions()


def test_milestones_of_one_step_come_in_catalog_order(record: Any) -> None:
    """Milestones reached at one step (all of a save state's, at step 0) came back in whatever order SQLite chose
    (its index on the milestone id: alphabetical), not the catalog's."""
    path = record(50, seed=3)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM milestones")
        conn.executemany("INSERT INTO milestones VALUES (0, ?, ?, 0.5)",
                         [(0, "opened_menu"), (0, "finish"), (0, "left_home"), (7, "unknown_b"), (7, "unknown_a"),
                          (7, "hundred_presses")])
    conn.close()
    with ReplayReader(path) as replay:
        assert [(m.step, m.milestone) for m in replay.milestones()] == [
            (0, "left_home"), (0, "opened_menu"), (0, "finish"), (7, "hundred_presses"), (7, "unknown_a"),
            (7, "unknown_b")]
        assert [m.milestone for m in replay.milestones(0)][:3] == ["left_home", "opened_menu", "finish"]


def test_restart_hands_over_the_game_at_an_episodes_start(record: Any, fakegame: Any) -> None:
    """verify replays the actions on the reader's game itself: it had to set the reader's private ``_seeded`` and
    ``_at`` after its own reset so a later seek would not trust where it left the game. ``restart`` does both."""
    plan = np.random.default_rng(2).integers(0, 8, 300).tolist()
    path = record(actions=plan, seed=3, keyframe_every=128)
    truth = _play(fakegame, 3, plan)
    with ReplayReader(path) as replay:
        assert np.array_equal(replay.frame_at(200), truth[200])
        game = replay.restart(0)
        assert np.array_equal(game.frame(), truth[0])
        for action in plan[:50]:  # pressed by the caller: the reader does not know it is at step 50
            game.press(ACTION_BUTTONS[action])
        for step in (210, 60, 50, 0):
            assert np.array_equal(replay.frame_at(step), truth[step]), step


def test_a_snapshot_reads_a_run_still_recording_as_one_commit_left_it(tmp_path: Path, recording: Any) -> None:
    # compare read a live run's episodes, then its milestones and chunk times: each read saw the latest commit.
    path = tmp_path / "live.lpr"
    with recording(path, 100, hash_every=16) as rec, ReplayReader(path) as replay:
        with replay.snapshot():
            assert replay.episodes()[0].recorded_steps == 100
            for step in range(50):
                rec.step(step % 8)
            rec.flush()
            assert max(c.step for c in replay.checkpoints()) == 100
            assert replay.chunk_times()[-1][0] == 100
            with replay.snapshot():  # the outer one holds
                assert replay.num_steps() == 100
        with replay.snapshot():  # a new snapshot reads again what the last one had read
            assert replay.num_steps() == 150 and replay.episodes()[0].recorded_steps == 150


def test_a_snapshot_with_nothing_committed_since_keeps_what_was_read(tmp_path: Path, recording: Any) -> None:
    """The viewer's run page wraps a snapshot of a copy that never changes: emptying the caches on each one threw away
    the inflated actions, so the next step decompressed every chunk again. They are read again only after a commit."""
    path = tmp_path / "live.lpr"
    with recording(path, 100, hash_every=16) as rec, ReplayReader(path) as replay:
        with replay.snapshot():
            actions, header = replay.actions(0), replay.header
        with replay.snapshot():  # nothing committed since: the same objects
            assert replay.actions(0) is actions and replay.header is header
        for step in range(50):
            rec.step(step % 8)
        rec.flush()
        with replay.snapshot():  # a commit since: read again
            assert replay.header is not header and len(replay.actions(0)) == 150

def test_spending_summed_by_sqlite_is_that_of_the_turns(tmp_path: Path, fakegame: Any) -> None:
    """``spending()`` (the run list's, summed in SQL) counts as ``Spending.of(turns())`` does: agent turns are rows of
    kind act or of none (older replays: no extra, or an extra without a kind), other kinds spend only."""
    from longplay.replays.recorder import Recorder

    extras = [{"kind": "act"}, None, {}, {"kind": None}, {"kind": "summary"}, {"kind": "critic"},
              {"kind": "discarded"}, {"kind": "refused"}, {"kind": "act", "steps": 3}]
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "lm.lpr", agent="lm") as rec:
        rec.reset(seed=0)
        for i, extra in enumerate(extras):
            rec.log_turn(response="", tokens_in=100 + i, tokens_out=7, tokens_cache_read=3, tokens_cache_write=1,
                         cost_usd=0.25, extra=extra)
            rec.step(0)
    with ReplayReader(tmp_path / "lm.lpr") as reader:
        assert reader.spending() == Spending.of(reader.turns()) == Spending(5, 1035, 2.25)
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "none.lpr") as rec:  # no turns: nothing spent
        rec.reset(seed=0)
        rec.step(0)
    with ReplayReader(tmp_path / "none.lpr") as reader:
        assert reader.spending() == Spending()
