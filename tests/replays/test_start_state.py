"""Replays of episodes started from a save state: recorded, verified, re-rendered, resumed; a missing or edited
start state caught in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.replays.reader import ReplayReader
from longplay.replays.recorder import Recorder
from longplay.replays.schema import CorruptReplayError
from longplay.replays.verify import verify

MINI = "longplay/QuestMini-v0"
PLAN = np.random.default_rng(0).integers(0, 8, 300).tolist()


@pytest.fixture(scope="module")
def start_state(oracle_state) -> bytes:
    """A QuestMini state after the oracle's first milestones."""
    return oracle_state(MINI, milestones=3)[0]


def record(path: Path, state: bytes, plan: list[int] = PLAN, **kwargs) -> list[np.ndarray]:
    """Records an episode from ``state`` then a plain one, both playing ``plan``; returns the first's frames."""
    frames = []
    with Recorder(gym.make(MINI, obs_mode="symbolic"), path, agent="random", keyframe_every=128, **kwargs) as rec:
        rec.reset(seed=4, options={"state": state})
        frames.append(rec.unwrapped.game.frame())
        for action in plan:
            rec.step(action)
            frames.append(rec.unwrapped.game.frame())
        rec.reset(seed=5)
        for action in plan[:50]:
            rec.step(action)
    return frames


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, start_state: bytes) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("start") / "start.lpr"
    return path, record(path, start_state)


def test_a_run_from_a_start_state_verifies(replay: tuple[Path, list[np.ndarray]], start_state: bytes) -> None:
    path, _ = replay
    report = verify(path)
    assert report.ok, report.summary()
    assert report.episodes == 2 and report.steps == len(PLAN) + 50 and report.milestones >= 3
    with ReplayReader(path) as reader:
        first, second = reader.episodes()
        digest = hashlib.sha256(start_state).hexdigest()
        assert first.options == {"state": {"sha256": digest}} and second.options is None
        assert reader.header["start_state"] == {"sha256": digest}
        assert reader.keyframe(0, 0) == start_state  # the very bytes the run was given
        held = [m.milestone for m in reader.milestones(0) if m.step == 0]
        assert len(held) == 3 and not [m for m in reader.milestones(1) if m.step == 0]
        assert reader.rewards(0) == {m.step: 1.0 for m in reader.milestones(0) if m.step > 0}


def test_frames_and_states_are_rerendered_from_the_start_state(replay: tuple[Path, list[np.ndarray]]) -> None:
    from longplay.replays.viewer.data import walk_episode
    from longplay.replays.viewer.seeker import EpisodeSeeker

    path, frames = replay
    with ReplayReader(path) as reader, ReplayReader(path) as mine:
        for step in (0, 1, 127, 128, 200, len(PLAN), 5):
            assert np.array_equal(reader.frame_at(step), frames[step]), step
        seeker = EpisodeSeeker(mine, 0, every=16)
        for step in (len(PLAN), 0, 33, 17):
            assert np.array_equal(seeker.seek(step).frame(), frames[step]), step
        seeker.close()
        trajectory, _ = walk_episode(reader.header, reader.episode(0), reader.reset_options(0), reader.actions(0))
        assert trajectory["points"]["step"][0] == 0


def test_compare_reads_a_run_from_a_start_state(replay: tuple[Path, list[np.ndarray]]) -> None:
    from longplay.replays.compare import compare_impl, load_runs

    runs = load_runs([replay[0]])
    assert len(runs) == 2
    compare_impl(runs, axes=["steps"], n_boot=10)


def test_a_run_listing_inflates_no_start_state(replay: tuple[Path, list[np.ndarray]], start_state: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """episodes() inflated every start state's keyframe, for run listings (viewer, compare) that never reset."""
    from longplay.replays.compare import load_runs

    read = []
    keyframe = ReplayReader.keyframe
    monkeypatch.setattr(ReplayReader, "keyframe",
                        lambda self, e, step: read.append((e, step)) or keyframe(self, e, step))
    assert len(load_runs([replay[0]])) == 2 and read == []
    with ReplayReader(replay[0]) as reader:
        assert [e.start_digest for e in reader.episodes()] == [hashlib.sha256(start_state).hexdigest(), None]
        assert read == []
        assert reader.reset_options(0) == {"state": start_state} and reader.reset_options(1) is None
        assert reader.start_state(0) == start_state and read == [(0, 0)]  # read once, when asked


def test_compare_never_pools_runs_from_a_start_state_with_runs_from_the_worlds_start(
        replay: tuple[Path, list[np.ndarray]], start_state: bytes) -> None:
    """The episode from a state (its milestones reached at step 0) and the plain one were one group "random": the
    group's time to each milestone the state held was a median of 0 and a real time, and its AUC a mix of both."""
    from longplay.replays.compare import compare_impl, load_runs

    runs = load_runs([replay[0]])
    digest = hashlib.sha256(start_state).hexdigest()
    assert [r.group for r in runs] == [f"random from state {digest[:8]}", "random"]
    comparison = compare_impl(runs, axes=["steps"], n_boot=10)
    assert sorted(g["group"] for g in comparison.groups) == ["random", f"random from state {digest[:8]}"]



def test_the_viewers_comparison_labels_a_group_from_a_start_state(replay: tuple[Path, list[np.ndarray]],
                                                                 start_state: bytes, tmp_path: Path) -> None:
    """The viewer's comparison named the group 'random from state ...' but said nowhere which runs started from a
    state: each run and group carries the state's SHA-256 (None from the world's start), for the page's label."""
    pytest.importorskip("starlette", reason="the viewer needs starlette: pip install 'longplay[viewer]'")
    pytest.importorskip("httpx", reason="starlette's TestClient needs httpx")
    from starlette.testclient import TestClient

    from longplay.replays.viewer.server import create_app

    (tmp_path / "runs").mkdir()
    shutil.copyfile(replay[0], tmp_path / "runs" / "start.lpr")
    app = create_app(tmp_path / "runs")
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            compared = client.get("/api/compare", params={"id": "start.lpr"}).json()
    finally:
        app.state.folder.close()
    digest = hashlib.sha256(start_state).hexdigest()
    from_state, plain = compared["runs"]
    assert (from_state["start_state"], plain["start_state"]) == (digest, None)
    assert (from_state["group"], plain["group"]) == (f"random from state {digest[:8]}", "random")
    groups = {g["group"]: g for g in compared["groups"]}
    assert (groups[f"random from state {digest[:8]}"]["start_state"], groups["random"]["start_state"]) == (digest, None)
    assert [e["groups"] for e in compared["envs"]] == [[f"random from state {digest[:8]}", "random"]]

@pytest.mark.parametrize(("edit", "message"), [
    (("UPDATE keyframes SET state = ?, codec = 'raw' WHERE episode = 0 AND step = 0", (b"LPQS\x01 edited",)),
     r"step 0: episode 0's start state is not the one recorded \(sha256 [0-9a-f]{12}\.\. at step 0, recorded"),
    (("DELETE FROM keyframes WHERE episode = 0 AND step = 0", ()),
     r"step 0: episode 0's start state \(sha256 [0-9a-f]{12}\.\.\) is missing: the replay has no readable keyframe"),
    (("UPDATE keyframes SET state = ?, codec = 'zlib' WHERE episode = 0 AND step = 0", (b"not zlib",)),
     "is missing: the replay has no readable keyframe at step 0"),
])
def test_a_missing_or_edited_start_state_fails_verify_in_one_line(replay: tuple[Path, list[np.ndarray]],
                                                                 edited: Callable[..., Path], edit: tuple,
                                                                 message: str) -> None:
    copy = edited(replay[0], edit)
    report = verify(copy)
    assert not report.ok and len(report.problems) == 1
    assert "\n" not in report.summary()
    assert report.summary().startswith(f"FAIL {copy}: episode 0 step 0: ")
    import re

    assert re.search(message, report.problems[0]), report.problems[0]
    with ReplayReader(copy) as reader, pytest.raises(CorruptReplayError, match="episode 0's start state"):
        reader.frame_at(10)


def test_a_start_state_recorded_without_its_digest_is_a_corrupt_replay(replay: tuple[Path, list[np.ndarray]],
                                                                       tmp_path: Path,
                                                                       edited: Callable[..., Path]) -> None:
    """Options naming a start state without its SHA-256 were read three ways: compare pooled the episode with
    runs from the world's start, the reader failed only on a reset ("recorded None.."). One parse now refuses
    the file when it is read, as it refuses options that are not JSON."""
    from longplay.replays.compare import load_runs

    copy = edited(replay[0], ("UPDATE episodes SET options = ? WHERE episode = 0", ('{"state": {}}',)))
    message = f"corrupt replay: {copy}: episode 0: its options name a start state without its sha256"
    with ReplayReader(copy) as reader, pytest.raises(CorruptReplayError) as raised:
        reader.episodes()
    assert str(raised.value) == message
    warnings: list[str] = []
    assert load_runs([tmp_path], warnings=warnings) == [] and warnings == [f"skipped {copy}: {message}"]
    with pytest.raises(CorruptReplayError, match="without its sha256"):
        verify(copy)


def test_another_state_with_its_digest_fails_on_the_start_hash(replay: tuple[Path, list[np.ndarray]],
                                                               edited: Callable[..., Path]) -> None:
    """A start state swapped for another (its digest in the options too) is caught by the recorded start hash."""
    env = gym.make(MINI, obs_mode="symbolic")
    env.reset(seed=0)
    other = env.unwrapped.game.save_state()
    options = json.dumps({"state": {"sha256": hashlib.sha256(other).hexdigest()}})
    copy = edited(replay[0],
                  ("UPDATE keyframes SET state = ?, codec = 'raw' WHERE episode = 0 AND step = 0", (other,)),
                  ("UPDATE episodes SET options = ? WHERE episode = 0", (options,)))
    report = verify(copy)
    assert not report.ok and "start state hash differs" in report.problems[0]


def test_a_state_the_game_refuses_fails_verify_in_one_line(replay: tuple[Path, list[np.ndarray]],
                                                           edited: Callable[..., Path]) -> None:
    junk = b"LPQS\x01" + zlib.compress(b"{}")
    options = json.dumps({"state": {"sha256": hashlib.sha256(junk).hexdigest()}})
    copy = edited(replay[0],
                  ("UPDATE keyframes SET state = ?, codec = 'raw' WHERE episode = 0 AND step = 0", (junk,)),
                  ("UPDATE episodes SET options = ? WHERE episode = 0", (options,)))
    report = verify(copy)
    assert len(report.problems) == 1
    assert report.problems[0].startswith("episode 0 step 0: cannot start from this state: save state is from "
                                         "another world None"), report.problems[0]


def test_a_refused_start_state_keeps_the_replay_whole(tmp_path: Path, start_state: bytes) -> None:
    """A start state the env refuses changes nothing, and the replay records nothing for it: the episode under way
    goes on in the same episode row, as in a run that never asked for the reset (the recorder had ended it, so
    the steps after it were recorded past its end). A first reset refused leaves no episode."""
    paths = [tmp_path / "refused.lpr", tmp_path / "plain.lpr"]
    for path in paths:
        with Recorder(gym.make(MINI, obs_mode="symbolic"), path, agent="random", hash_every=8) as rec:
            if path.name == "refused.lpr":
                with pytest.raises(ValueError, match="^cannot start from this state: not a quest save state"):
                    rec.reset(seed=1, options={"state": b"junk"})
                with pytest.raises(ResetNeeded):  # no episode under way: nothing to go on with
                    rec.step(0)
            rec.reset(seed=1, options={"state": start_state})
            for i, action in enumerate(PLAN[:60]):
                if i == 40 and path.name == "refused.lpr":
                    with pytest.raises(ValueError, match="^cannot start from this state: not a quest save state"):
                        rec.reset(seed=2, options={"state": b"junk"})
                rec.step(action)
    for path in paths:
        report = verify(path)
        assert report.ok and report.episodes == 1 and report.steps == 60, report.summary()
    refused, plain = (ReplayReader(path) for path in paths)
    with refused, plain:
        assert [(e.end_step, e.end_reason) for e in refused.episodes()] == [(60, "closed")]
        assert [(c.step, c.hash) for c in refused.checkpoints(0)] == [(c.step, c.hash) for c in plain.checkpoints(0)]


@pytest.mark.parametrize("at", [0, 37])
def test_a_resumed_episode_keeps_its_start_state(tmp_path: Path, start_state: bytes, at: int) -> None:
    """``Recorder.resume`` at step 0 wrote ``game.save_state()`` over the step-0 keyframe: a start state whose bytes
    differ from the game's own (here compressed at another level) no longer matched its recorded digest."""
    other_bytes = start_state[:5] + zlib.compress(zlib.decompress(start_state[5:]), 9)
    assert other_bytes != start_state
    path = tmp_path / "resumed.lpr"
    env = gym.make(MINI, obs_mode="symbolic")
    rec = Recorder(env, path, agent="lm", hash_every=8)
    rec.reset(seed=1, options={"state": other_bytes})
    for action in PLAN[:at]:
        rec.step(action)
    rec.flush()
    rec._conn.close()  # the process "dies" here, after its last commit, and its lock goes with it
    rec._lock._handle.close()
    fresh = gym.make(MINI, obs_mode="symbolic")
    fresh.reset(seed=1, options={"state": other_bytes})
    for action in PLAN[:at]:
        fresh.step(action)
    with Recorder.resume(fresh, path, step=at) as resumed:
        for action in PLAN[at:at + 30]:
            resumed.step(action)
    report = verify(path)
    assert report.ok and report.steps == at + 30, report.summary()


def test_a_game_boy_run_from_a_start_state_verifies(tmp_path: Path) -> None:
    """The test cartridge: the state after walking to the key; the run from it opens the door."""
    pytest.importorskip("pyboy")
    from longplay.envs.game import Button

    U, D, L, R, A = Button.UP, Button.DOWN, Button.LEFT, Button.RIGHT, Button.A
    to_key = [R] * 3 + [D] * 5 + [R] * 11 + [U] * 4 + [L]  # tests/envs/gameboy/test_env.py's TO_KEY, TO_DOOR
    to_door = [A, R] + [D] * 6 + [L] * 4
    env = gym.make("longplay/TestCart-v0", obs_mode="symbolic")
    env.reset(seed=0)
    for button in to_key:
        env.step(int(button))
    state = env.unwrapped.game.save_state()
    env.close()
    path = tmp_path / "cart.lpr"
    with Recorder(gym.make("longplay/TestCart-v0", obs_mode="symbolic"), path, agent="scripted") as rec:
        _, info = rec.reset(seed=0, options={"state": state})
        assert info["milestones"] == {"got_key": 0}
        for button in to_door:
            rec.step(int(button))
    report = verify(path)
    assert report.ok and report.milestones == 2, report.summary()
    with ReplayReader(path) as reader:
        assert [(m.step, m.milestone) for m in reader.milestones()] == [(0, "got_key"), (len(to_door), "opened_door")]
        assert reader.keyframe(0, 0) == state


def test_a_start_state_chosen_by_a_wrapper_inside_the_recorder_is_recorded(tmp_path: Path, start_state: bytes) -> None:
    """Recorder(StartFromState(env, data)) (or any wrapper below the recorder that picks the state, a curriculum of
    start states) recorded the reset's options as the caller gave them, with no state: the replay failed verify
    ("start state hash differs ...: a different world, seed or game version"). The recorder now records the state
    the env started from."""
    from longplay.envs.wrappers import StartFromState

    path = tmp_path / "inside.lpr"
    with Recorder(StartFromState(gym.make(MINI, obs_mode="symbolic"), start_state), path, agent="random") as rec:
        _, info = rec.reset(seed=4)
        assert info["milestones"]
        for action in PLAN[:40]:
            rec.step(action)
        rec.reset(seed=5)
        for action in PLAN[:20]:
            rec.step(action)
    report = verify(path)
    assert report.ok, report.summary()
    digest = {"state": {"sha256": hashlib.sha256(start_state).hexdigest()}}
    with ReplayReader(path) as reader:
        assert [e.options for e in reader.episodes()] == [digest, digest]
        assert reader.keyframe(0, 0) == reader.keyframe(1, 0) == start_state
        assert reader.header["start_state"] == digest["state"]
