"""An LM run from a save state: its checkpoint keeps the state, so ``--resume`` rebuilds the run from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from longplay.agents.lm.checkpoint import find_checkpoint, load_checkpoint
from longplay.agents.lm.cli import main
from longplay.replays.reader import ReplayReader
from longplay.replays.verify import verify

ARGS = ["--env", "QuestMini-v0", "--scaffold", "full", "--checkpoint-every", "3", "--quiet"]


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory, oracle_state) -> Path:
    path = tmp_path_factory.mktemp("state") / "start.state"
    path.write_bytes(oracle_state(milestones=2)[0])
    return path


def the_replay(folder: Path) -> Path:
    (path,) = folder.glob("*.lpr")
    return path


def test_a_resumed_run_from_a_start_state_is_the_straight_run(state_file: Path, tmp_path: Path, capsys) -> None:
    """The checkpoint held no start state: a resume rebuilt the env from the world's start, its state hash
    differed from the checkpoint's and the run could not go on."""
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*ARGS, "--runs-dir", str(one), "--max-turns", "6", "--start-state", str(state_file)]) == 0
    replay = the_replay(one)
    assert load_checkpoint(find_checkpoint(str(replay)))["start_state"]
    other = tmp_path / "other.state"  # ignored with --resume: the run keeps its own start
    other.write_bytes(b"not read")
    capsys.readouterr()
    assert main(["--resume", str(replay), "--max-turns", "12", "--quiet", "--start-state", str(other)]) == 0
    assert "--start-state ignored with --resume" in capsys.readouterr().out
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "12", "--start-state", str(state_file)]) == 0
    straight = the_replay(two)
    with ReplayReader(replay) as a, ReplayReader(straight) as b:
        assert a.actions() == b.actions() and len(a.actions()) > 0
        assert [(m.step, m.milestone) for m in a.milestones()] == [(m.step, m.milestone) for m in b.milestones()]
        assert [m.step for m in a.milestones()][:2] == [0, 0]
        assert a.keyframe(0, 0) == state_file.read_bytes() == b.keyframe(0, 0)
    for path in (replay, straight):
        report = verify(path)
        assert report.ok, report.summary()
