"""``longplay export --state`` writes a replay's state at a step; ``longplay run --start-state`` starts from it, for
every agent ``run`` takes, and ``longplay play --start-state`` too; bad files are one line and leave no replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from longplay.agents.cli import main
from longplay.replays.reader import ReplayReader
from longplay.replays.verify import verify


def the_replay(folder: Path) -> Path:
    (path,) = folder.glob("*.lpr")
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the oracle's replay of 200 steps of QuestMini, the state after its step 150 written from it)."""
    folder = tmp_path_factory.mktemp("first")
    assert main(["run", "--env", "QuestMini-v0", "--steps", "200", "--runs-dir", str(folder / "runs"),
                 "--quiet"]) == 0
    replay = the_replay(folder / "runs")
    state = folder / "s.state"
    assert main(["export", str(replay), "--state", str(state), "--step", "150"]) == 0
    return replay, state


def test_export_state_writes_the_state_at_a_step(saved: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    replay, state = saved
    with ReplayReader(replay) as reader:
        assert state.read_bytes() == reader.state_at(150)
        last = reader.state_at(reader.num_steps())
    copy = tmp_path / "run.lpr"
    copy.write_bytes(replay.read_bytes())
    capsys.readouterr()
    assert main(["export", str(copy), "--state"]) == 0  # default: the last step, beside the replay
    assert (tmp_path / "run.step200.state").read_bytes() == last
    assert "longplay run --start-state" in capsys.readouterr().out


def test_export_state_of_a_run_of_several_episodes_is_where_it_stopped(tmp_path: Path, capsys) -> None:
    # The default was episode 0's last step: for a run of several episodes, not where the run stopped.
    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "250", "--set", "max_steps=100",
                 "--runs-dir", str(tmp_path), "--quiet"]) == 0
    replay = the_replay(tmp_path)
    with ReplayReader(replay) as reader:
        assert [e.recorded_steps for e in reader.episodes()] == [100, 100, 50]
        last, first = reader.state_at(50, 2), reader.state_at(100, 0)
    assert main(["export", str(replay), "--state", str(tmp_path / "last.state")]) == 0
    assert (tmp_path / "last.state").read_bytes() == last
    assert "step 50 of episode 2" in capsys.readouterr().out
    assert main(["export", str(replay), "--state", str(tmp_path / "first.state"), "--episode", "0"]) == 0
    assert (tmp_path / "first.state").read_bytes() == first


@pytest.mark.parametrize("agent", ["random", "explorer", "oracle", "ppo", "lm"])
def test_run_from_the_exported_state_verifies(agent: str, saved: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    replay, state = saved
    if agent == "ppo":
        pytest.importorskip("stable_baselines3")
        from longplay.agents.rl.policy_agent import DEFAULT_CHECKPOINT

        if not DEFAULT_CHECKPOINT.is_file():
            pytest.skip("no shipped checkpoint in this checkout")
    with ReplayReader(replay) as reader:
        held = {m.milestone for m in reader.milestones() if m.step <= 150}
    assert held
    runs = tmp_path / "runs"
    capsys.readouterr()
    assert main(["run", "--env", "QuestMini-v0", "--agent", agent, "--steps", "60", "--start-state", str(state),
                 "--runs-dir", str(runs), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"from the state in {state}" in out
    report = verify(the_replay(runs))
    assert report.ok, report.summary()
    with ReplayReader(the_replay(runs)) as reader:
        assert {m.milestone for m in reader.milestones() if m.step == 0} == held
        assert reader.keyframe(0, 0) == state.read_bytes()
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert sum(1 for row in rows if row[2] == "0") == len(held)  # the table shows them reached at step 0


@pytest.mark.parametrize("agent", ["random", "lm"])
@pytest.mark.parametrize(("make", "fragment"), [
    (lambda d: d / "missing.state", "no such file"),
    (lambda d: d, "it is a folder, not a file"),
    (lambda d: (d / "empty.state", (d / "empty.state").write_bytes(b""))[0], "the file is empty"),
    (lambda d: (d / "text.state", (d / "text.state").write_text("hello"))[0],
     "cannot start from this state: not a quest save state"),
])
def test_a_bad_start_state_is_one_line_and_leaves_no_replay(agent: str, make, fragment: str, tmp_path: Path,
                                                            capsys) -> None:
    path = make(tmp_path)
    runs = tmp_path / "runs"
    code = main(["run", "--env", "QuestMini-v0", "--agent", agent, "--steps", "10", "--start-state", str(path),
                 "--runs-dir", str(runs), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not runs.exists()  # nothing on disk for refused input: not even an empty runs folder


def test_a_state_of_another_world_names_the_world_seed(saved: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    _, state = saved
    code = main(["run", "--env", "QuestMini-v0", "--set", "world_seed=3", "--steps", "10", "--start-state",
                 str(state), "--no-record", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "another world ['mini', 0," in err and "world_seed=0" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--state", "X", "--step", "999"], "invalid --step 999: episode 0 has steps 0..200"),
    (["--state", "X", "--step", "-1"], "invalid --step -1"),
    (["--state", "X", "--episode", "3"], "no episode 3 in"),
    (["--step", "5", "--gif"], "--step picks the step of --state"),
])
def test_export_state_errors_are_one_line(argv: list[str], fragment: str, saved: tuple[Path, Path],
                                         tmp_path: Path, capsys) -> None:
    replay, _ = saved
    argv = [str(tmp_path / a) if a == "X" else a for a in argv]
    assert main(["export", str(replay), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "X").exists()


@pytest.mark.parametrize(("name", "out", "fragment"), [
    ("run.lpr", "REPLAY", ".lpr is the replay extension"),
    ("run.sqlite", "REPLAY", "refusing to write an export over the replay file"),
    ("run.lpr", "other.lpr", ".lpr is the replay extension"),
])
def test_export_state_never_writes_over_a_replay(name: str, out: str, fragment: str, saved: tuple[Path, Path],
                                                 tmp_path: Path, capsys) -> None:
    # --state REPLAY wrote a few hundred bytes over the replay itself, destroying the run (the video exports
    # refused it); any *.lpr may be a replay too.
    replay, _ = saved
    copy = tmp_path / name
    copy.write_bytes(replay.read_bytes())
    target = copy if out == "REPLAY" else tmp_path / out
    if out != "REPLAY":
        target.write_bytes(replay.read_bytes())
    before = target.read_bytes()
    assert main(["export", str(copy), "--state", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1, err
    assert target.read_bytes() == before
    assert verify(copy).ok


def test_export_state_that_cannot_be_written_leaves_no_file(saved: tuple[Path, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # A full disk left an empty state file (which --start-state then refused as empty) and said
    # "[Errno 28] No space left on device" without naming it.
    import errno
    import os

    replay, _ = saved
    out = tmp_path / "s.state"

    def full_disk(self: Path, data: bytes) -> int:  # a few bytes land, then the disk is full
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    code = main(["export", str(replay), "--state", str(out)])
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert code == 2 and "No space left on device" in err and str(out) in err and len(err.splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


def test_play_text_starts_from_a_state(saved: tuple[Path, Path]) -> None:
    import subprocess
    import sys

    import gymnasium as gym

    replay, state = saved
    with ReplayReader(replay) as reader:
        held = {m.milestone for m in reader.milestones() if m.step <= 150}
    result = subprocess.run([sys.executable, "-m", "longplay.agents.cli", "play", "--text", "--env", "QuestMini-v0",
                             "--start-state", str(state)], input="q\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"starting from the state in {state} (") and all(m in first for m in held), first
    local = gym.make("longplay/QuestMini-v0", obs_mode="text", noop=True)
    obs, _ = local.reset(seed=0, options={"state": state.read_bytes()})
    assert obs in result.stdout  # the screen it shows first is the state's


@pytest.mark.parametrize("mode", [["--text"], []])
def test_play_with_a_bad_start_state_is_one_line(mode: list[str], tmp_path: Path, capsys) -> None:
    (tmp_path / "text.state").write_text("hello")
    for name, fragment in (("missing.state", "no such file"), ("text.state", "cannot start from this state")):
        code = main(["play", "--env", "QuestMini-v0", *mode, "--start-state", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert code == 2 and "invalid --start-state" in err and fragment in err and err.count("\n") == 1, err


def test_default_state_names_of_a_run_of_several_episodes_hold_the_episode(tmp_path: Path, capsys) -> None:
    """``REPLAY.stepN.state`` left the episode out: the same step of two episodes went to one file, the second
    export silently replacing the first."""
    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "150", "--set", "max_steps=100",
                 "--runs-dir", str(tmp_path), "--quiet"]) == 0
    replay = the_replay(tmp_path)
    with ReplayReader(replay) as reader:
        assert [e.recorded_steps for e in reader.episodes()] == [100, 50]
        states = [reader.state_at(40, 0), reader.state_at(40, 1)]
    for episode in (0, 1):
        assert main(["export", str(replay), "--state", "--step", "40", "--episode", str(episode)]) == 0
    names = [replay.with_suffix(f".ep{episode}.step40.state") for episode in (0, 1)]
    assert [name.read_bytes() for name in names] == states and states[0] != states[1]
    assert f"wrote {names[1]}" in capsys.readouterr().out
    assert not replay.with_suffix(".step40.state").exists()
