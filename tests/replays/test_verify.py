"""verify: a faithful replay passes; a changed action, a forged milestone, a truncated file are caught."""

from __future__ import annotations

import json
import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from longplay.replays.reader import ReplayReader
from longplay.replays.schema import CorruptReplayError, ReplayError
from longplay.replays.verify import verify


def _edit(path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def _set_action(path: Path, step: int, action: int) -> None:
    conn = sqlite3.connect(path)
    first, blob = conn.execute("SELECT first_step, actions FROM chunks WHERE episode = 0 AND first_step <= ? "
                               "ORDER BY first_step DESC LIMIT 1", (step,)).fetchone()
    actions = bytearray(zlib.decompress(blob))
    actions[step - first] = action
    conn.execute("UPDATE chunks SET actions = ? WHERE episode = 0 AND first_step = ?",
                 (zlib.compress(bytes(actions)), first))
    conn.commit()
    conn.close()


def test_faithful_replay_passes(record: Any) -> None:
    report = verify(record(3000, episodes=2, keyframe_every=250, hash_every=128))
    assert report.ok, report.problems
    assert report.complete and report.episodes == 2 and report.steps == 6000
    assert report.hashes > 6000 // 128 and report.keyframes == 2 * 13 and report.milestones >= 2 * 3
    assert report.summary().startswith("OK ")


def _change_action(path: Path, step: int) -> None:
    with ReplayReader(path) as replay:
        original = replay.actions(0)[step]
    _set_action(path, step, (original + 1) % 8)


def test_changed_action_is_caught_at_its_step(record: Any) -> None:
    path = record(2000, seed=1, fingerprint_every=1)
    _change_action(path, 1234)  # action 1234 leads from step 1234 to step 1235
    report = verify(path)
    assert not report.ok
    line = report.summary()
    assert line.startswith("FAIL ") and "\n" not in line
    assert "step 1235: state fingerprint differs" in line and "action 1234 is not the one played" in line


def test_changed_action_is_caught_within_the_fingerprint_spacing(record: Any) -> None:
    from longplay.replays.recorder import DEFAULT_FINGERPRINT_EVERY

    with ReplayReader(record(100, seed=1, name="default.lpr")) as replay:
        assert replay.fingerprint_every == DEFAULT_FINGERPRINT_EVERY > 1
    path = record(2000, seed=1, fingerprint_every=32)
    with ReplayReader(path) as replay:
        assert replay.fingerprint_every == 32 and len(replay.fingerprints()) == 2000 // 32
    _change_action(path, 1234)
    line = verify(path).summary()
    assert line.startswith("FAIL ") and "\n" not in line
    assert "step 1248: state fingerprint differs" in line
    assert "an action between steps 1216 and 1248 is not the one played" in line


def test_fingerprints_stay_on_their_steps_across_commits_between_steps(record: Any, tmp_path: Path,
                                                                       fakegame: Any) -> None:
    # A commit between steps (flush(), an LM turn's or a memory snapshot's timed commit) moves the chunk's
    # first step; the next fingerprint must still come at its step, not that many steps late.
    import gymnasium as gym
    import numpy as np

    from longplay.replays.recorder import Recorder

    path = tmp_path / "flushed.lpr"
    plan = np.random.default_rng(3).integers(0, 8, 1000).tolist()
    with Recorder(gym.make(fakegame.ENV_ID), path, fingerprint_every=16, hash_every=512,
                  commit_seconds=0.0) as rec:
        rec.reset(seed=3)
        for i, action in enumerate(plan):
            rec.step(action)
            if i % 37 == 0:
                rec.flush()
            if i % 101 == 0:
                rec.log_memory("notes", f"step {i}")  # commits: commit_seconds is 0
    with ReplayReader(path) as replay:
        assert len(replay.fingerprints()) == 1000 // 16
    report = verify(path)
    assert report.ok, report.summary()
    _change_action(path, 700)
    assert "step 704: state fingerprint differs" in verify(path).summary()


def test_version_1_replay_with_a_fingerprint_every_step_verifies(record: Any) -> None:
    # Replays written before fingerprint_every existed hold one fingerprint per step and no such key.
    path = record(2000, seed=1, fingerprint_every=1)
    conn = sqlite3.connect(path)
    recorder = conn.execute("SELECT value FROM header WHERE key = 'recorder'").fetchone()[0]
    settings = json.loads(recorder)
    del settings["fingerprint_every"]
    conn.execute("UPDATE header SET value = ? WHERE key = 'recorder'", (json.dumps(settings),))
    conn.execute("UPDATE header SET value = '1' WHERE key = 'format_version'")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with ReplayReader(path) as replay:
        assert replay.fingerprint_every == 1 and len(replay.fingerprints()) == 2000
    assert verify(path).ok
    _change_action(path, 1234)
    assert "step 1235: state fingerprint differs" in verify(path).summary()


@pytest.mark.parametrize("every", [0, -16, "16", True, 1.5])
def test_bad_fingerprint_spacing_in_a_header_is_a_corrupt_replay(record: Any, every: Any) -> None:
    path = record(100, seed=1)
    conn = sqlite3.connect(path)
    settings = json.loads(conn.execute("SELECT value FROM header WHERE key = 'recorder'").fetchone()[0])
    settings["fingerprint_every"] = every
    conn.execute("UPDATE header SET value = ? WHERE key = 'recorder'", (json.dumps(settings),))
    conn.commit()
    conn.close()
    with pytest.raises(CorruptReplayError, match="fingerprint_every"):
        verify(path)


def test_changed_action_is_caught_by_hashes_without_fingerprints(record: Any) -> None:
    path = record(2000, seed=1, env_kwargs={"fingerprint": False}, hash_every=128)
    with ReplayReader(path) as replay:
        assert replay.fingerprints() is None and replay.header["recorder"]["fingerprints"] is False
    _change_action(path, 1234)
    line = verify(path).summary()
    assert "step 1280: state hash differs" in line  # the first hash after the edit (every 128 steps)
    assert "between steps 1152 and 1280" in line


def test_forged_milestone_is_caught(record: Any) -> None:
    path = record(500)
    _edit(path, "INSERT INTO milestones VALUES (0, 321, 'finish', 1.0)")
    report = verify(path)
    assert not report.ok
    assert "step 321: milestone 'finish' is recorded but re-simulation does not reach it" in report.summary()


def test_moved_milestone_and_unknown_milestone(record: Any, tmp_path: Path) -> None:
    path = record(500)
    _edit(path, "UPDATE milestones SET step = 90 WHERE milestone = 'hundred_presses'")
    report = verify(path)
    assert "milestone 'hundred_presses' is recorded at step 90 but re-simulation reaches it at step 100" in \
        report.problems[0]
    other = record(500, name="other.lpr")
    _edit(other, "INSERT INTO milestones VALUES (0, 10, 'champion', 1.0)")
    assert "'champion' is recorded but is not in this game's catalog" in verify(other).problems[0]


def test_deleted_milestone_and_forged_reward(record: Any) -> None:
    path = record(500)
    _edit(path, "DELETE FROM milestones WHERE milestone = 'hundred_presses'")
    assert "'hundred_presses' is reached in re-simulation but missing" in verify(path).problems[0]
    path = record(500, name="reward.lpr")
    with ReplayReader(path) as replay:
        paid = replay.rewards()
    paid[11] = 5.0  # a reward at a step where no milestone was reached
    blob = zlib.compress(b"".join(struct.pack("<Id", step - 1, value) for step, value in sorted(paid.items())))
    _edit(path, "UPDATE chunks SET rewards = ? WHERE first_step = 0", (blob,))
    assert "step 11: reward differs (recorded 5.0, re-simulated 0.0)" in verify(path).summary()


def test_the_last_steps_claims_are_checked(record: Any, tmp_path: Path) -> None:
    # 100 presses: the fake game's 'hundred_presses' milestone (and its reward) come with the last action
    path = record(100)
    with ReplayReader(path) as replay:
        assert {m.milestone: m.step for m in replay.milestones()}["hundred_presses"] == 100 == replay.num_steps()
        paid = replay.rewards()
    assert verify(path).ok
    _edit(path, "DELETE FROM milestones WHERE milestone = 'hundred_presses'")
    assert "step 100: milestone 'hundred_presses' is reached in re-simulation but missing" in verify(path).summary()
    path = record(100, name="reward.lpr")
    paid[100] = 5.0
    blob = zlib.compress(b"".join(struct.pack("<Id", step - 1, value) for step, value in sorted(paid.items())))
    _edit(path, "UPDATE chunks SET rewards = ? WHERE first_step = 0", (blob,))
    assert "step 100: reward differs (recorded 5.0, re-simulated 2.0)" in verify(path).summary()


def test_a_changed_last_action_is_caught_by_the_final_hash(record: Any) -> None:
    # SELECT does nothing in the fake game's overworld but is remembered in its state, and A neither: only the state
    # hash of the episode's end (after the last fingerprint, at step 1984) tells the two apart
    path = record(actions=[7] * 2000)
    _set_action(path, 1999, 4)
    line = verify(path).summary()
    assert line.startswith("FAIL ") and "step 2000: state hash differs" in line


def test_a_changed_action_before_the_first_fingerprint_is_caught_there(record: Any) -> None:
    path = record(2000, seed=1, fingerprint_every=32, hash_every=1024)
    _change_action(path, 20)
    line = verify(path).summary()
    assert "step 32: state fingerprint differs" in line and "and 32 is not the one played" in line


def test_an_episode_end_before_its_last_action_is_caught(record: Any) -> None:
    path = record(300)
    _edit(path, "UPDATE episodes SET end_step = 299 WHERE episode = 0")
    assert "episode 0 is recorded to end at step 299 but its actions stop at step 300" in verify(path).summary()


def test_other_world_is_caught(record: Any) -> None:
    path = record(300)
    _edit(path, "UPDATE episodes SET identity = ? WHERE episode = 0",
          ('{"backend": "fake", "finish_at": null, "world_seed": 7}',))
    assert "step 0: the world rebuilt here is not the recorded one" in verify(path).summary()


def test_edited_keyframe_is_caught(record: Any, fakegame: Any) -> None:
    path = record(1000, keyframe_every=200)
    game = fakegame.FakeGame()
    game.reset(99)
    _edit(path, "UPDATE keyframes SET state = ? WHERE step = 400", (zlib.compress(game.save_state()),))
    report = verify(path)
    assert "step 400: the keyframe is not the re-simulated state" in report.summary()


def test_truncated_file_is_caught(record: Any, tmp_path: Path) -> None:
    path = record(20_000, keyframe_every=100)
    data = path.read_bytes()
    cut = tmp_path / "cut.lpr"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(CorruptReplayError) as error:
        verify(cut)
    assert "corrupt replay" in str(error.value) and "\n" not in str(error.value)


def test_tail_removed_is_caught(record: Any) -> None:
    path = record(3000, chunk_steps=1000)
    _edit(path, "DELETE FROM chunks WHERE first_step = 2000")
    report = verify(path)
    assert "episode 0 is recorded to end at step 3000 but its actions stop at step 2000" in report.summary()


def test_unregistered_env_is_one_line(record: Any) -> None:
    path = record(100)
    _edit(path, "UPDATE header SET value = '\"nowhere/Missing-v0\"' WHERE key = 'env_id'")
    with pytest.raises(ReplayError, match="'nowhere/Missing-v0' is not registered here"):
        verify(path)
    _edit(path, "UPDATE header SET value = '\"os:system\"' WHERE key = 'env_id'")
    with pytest.raises(ReplayError, match="not registered"):  # never imports a module named in the file
        verify(path)


def test_another_env_is_reported_as_such_not_as_forged_milestones(record: Any) -> None:
    # A header naming another env (edited, or another game's replay): its world and its milestones both
    # differ; the report names the world, the cause, rather than calling the other game's milestones forged.
    path = record(300)
    _edit(path, "UPDATE episodes SET identity = ? WHERE episode = 0",
          ('{"backend": "fake", "finish_at": null, "world_seed": 7}',))
    _edit(path, "INSERT INTO milestones VALUES (0, 12, 'reached_another_town', 0.1)")
    assert "step 0: the world rebuilt here is not the recorded one" in verify(path).summary()


def test_counted_says_one_thing_or_many() -> None:
    from longplay.replays.verify import counted

    assert [counted(n, "keyframe") for n in (0, 1, 2)] == ["0 keyframes", "1 keyframe", "2 keyframes"]
    assert counted(1, "state hash", "state hashes") == "1 state hash"


def test_verify_plays_the_game_the_reset_hands_over(record: Any, fakegame: Any) -> None:
    # An env may build a new game object at each reset (a world per episode): verify must press the one the
    # reset left in the env, not the one the env held before it.
    from longplay.envs.env import LongplayEnv

    class FreshGameEnv(LongplayEnv):
        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
            self.game = fakegame.FakeGame(self.game.world_seed, self.game.finish_at)
            return super().reset(seed=seed, options=options)

    path = record(300, episodes=2)
    report = verify(path, make_env=lambda header: FreshGameEnv(fakegame.FakeGame(0)))
    assert report.ok, report.problems
    assert report.episodes == 2 and report.steps == 600


def test_a_run_still_recording_is_verified_as_one_commit_left_it(tmp_path: Path, fakegame: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """verify read a live run's actions, then its hashes: a commit in between (a run commits every 2 s) put a hash
    beyond the actions it had read, and the run failed as 'recorded, but the actions stop at step 100: the file was
    truncated or edited'."""
    import gymnasium as gym

    from longplay.replays.recorder import Recorder

    path = tmp_path / "live.lpr"
    with Recorder(gym.make(fakegame.ENV_ID), path, hash_every=16) as rec:
        rec.reset(seed=0)
        for step in range(100):
            rec.step(step % 8)
        rec.flush()
        read_actions = ReplayReader.actions

        def actions_then_a_commit(replay: ReplayReader, episode: int = 0) -> bytes:
            actions = read_actions(replay, episode)
            if rec.step_in_episode == 100:
                for step in range(50):
                    rec.step(step % 8)
                rec.flush()
            return actions

        monkeypatch.setattr(ReplayReader, "actions", actions_then_a_commit)
        report = verify(path)
        assert rec.step_in_episode == 150  # the commit came while verify read
    assert report.ok, report.summary()
    assert report.steps == 100 and not report.complete


def test_a_killed_runs_steps_after_its_last_checkpoint_are_re_simulated(tmp_path: Path, fakegame: Any) -> None:
    """A run killed mid-episode has no final hash: its last steps (after the last periodic hash) are checked by their
    fingerprints alone, so verify must play them too (it stopped at the last checkpoint: a changed action there, and
    the steps' count, went unseen)."""
    import gymnasium as gym

    from longplay.replays.recorder import Recorder

    path = tmp_path / "killed.lpr"
    rec = Recorder(gym.make(fakegame.ENV_ID), path, hash_every=16, fingerprint_every=1)
    rec.reset(seed=0)
    for step in range(90):
        rec.step(step % 8)
    rec.flush()
    rec._conn.close()  # killed after its last commit
    rec._lock._handle.close()
    with ReplayReader(path) as replay:
        assert max(c.step for c in replay.checkpoints()) == 80 and replay.episodes()[0].end_step is None
    report = verify(path)
    assert report.ok and not report.complete and report.steps == 90, report.summary()
    _change_action(path, 85)
    line = verify(path).summary()
    assert "step 86: state fingerprint differs" in line and "action 85 is not the one played" in line


@pytest.mark.parametrize("reason", ["closed", "truncated"])
def test_an_episode_edited_to_have_finished_the_game_is_caught(record: Any, reason: str) -> None:
    """An episode's end_reason 'terminated' claims the game was finished (compare counts it a finish): one edited in
    over an unfinished game's end verified OK."""
    path = record(300, env_kwargs={"max_episode_steps": 300} if reason == "truncated" else None)
    with ReplayReader(path) as replay:
        assert replay.episodes()[0].end_reason == reason
    _edit(path, "UPDATE episodes SET end_reason = 'terminated' WHERE episode = 0")
    assert "step 300: the episode is recorded as finished but the game is not finished" in verify(path).summary()


def test_an_edited_state_summary_is_caught(record: Any) -> None:
    """verify checked the hashes of checkpoint rows but not their summaries (map, position, mode), which
    ReplayReader.summaries() hands out: a replay with forged positions verified OK."""
    path = record(1000, seed=2, hash_every=128, summary_every=50)
    report = verify(path)
    assert report.ok, report.summary()
    with ReplayReader(path) as replay:
        rows = {c.step: c for c in replay.checkpoints()}
    end, only = rows[1000], rows[150]  # the end's row has a hash and a summary; step 150's a summary alone
    assert end.hash is not None and end.x is not None and only.hash is None and only.x is not None
    _edit(path, "UPDATE checkpoints SET x = x + 1 WHERE episode = 0 AND step = 1000")
    line = verify(path).summary()
    assert "step 1000: the state summary differs from the re-simulated state (recorded map " \
           f"{end.map_id} at ({end.x + 1}, {end.y}) " in line
    # The hash matched: an edited row, or a game whose state() reports the same state otherwise; no cause is named.
    assert line.endswith("; its state hash matches)") and "edited summary" not in line
    _edit(path, "UPDATE checkpoints SET x = x - 1 WHERE episode = 0 AND step = 1000")
    _edit(path, "UPDATE checkpoints SET mode = 'battle' WHERE episode = 0 AND step = 150")
    line = verify(path).summary()
    assert f"step 150: the state summary differs from the re-simulated state (recorded map {only.map_id} at " \
           f"({only.x}, {only.y}) battle, re-simulated map {only.map_id} at ({only.x}, {only.y}) {only.mode}; " \
           "actions verified to step 128)" in line
