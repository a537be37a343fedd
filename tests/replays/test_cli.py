"""The verify / export / compare subcommands: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from longplay.replays.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, add_subcommands, main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_subcommands_wires_funcs() -> None:
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    for argv in (["verify", "x.lpr"], ["export", "x.lpr", "--gif"], ["compare", "runs"]):
        assert callable(parser.parse_args(argv).func)


def test_verify_ok_and_fail(record: Any, capsys: pytest.CaptureFixture[str]) -> None:
    good = record(300, name="good.lpr")
    code, out, _ = _run(capsys, "verify", "-q", str(good))
    assert code == EXIT_OK and out.startswith("OK ")
    bad = record(300, name="bad.lpr")
    conn = sqlite3.connect(bad)
    conn.execute("INSERT INTO milestones VALUES (0, 7, 'finish', 0.1)")
    conn.commit()
    conn.close()
    code, out, _ = _run(capsys, "verify", "-q", str(good), str(bad))
    assert code == EXIT_FAILED
    assert out.count("\n") == 2 and "FAIL" in out and "step 7: milestone 'finish'" in out


@pytest.mark.parametrize("content", [None, b"plain text, not sqlite" * 20, b"SQLite format 3\x00" + b"\x07" * 5000])
def test_bad_files_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       content: bytes | None) -> None:
    path = tmp_path / "x.lpr"
    if content is not None:
        path.write_bytes(content)
    for argv in (["verify", "-q", str(path)], ["export", str(path), "--mp4", str(tmp_path / "o.mp4")],
                 ["compare", str(path), "-o", str(tmp_path / "cmp")]):
        code, out, err = _run(capsys, *argv)
        assert code == EXIT_BAD_INPUT
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_verify_goes_on_after_a_replay_it_could_not_verify(record: Any, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # An unexpected error on one replay (a bug, or damage no check knows yet) ended the command with a traceback,
    # and the replays after it were never verified.
    from longplay.replays import verify as verify_module

    paths = [record(100, name=f"{name}.lpr") for name in ("first", "broken", "last")]
    real_verify = verify_module.verify

    def verify(path: Any, **kwargs: Any) -> Any:
        if Path(path).name == "broken.lpr":
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'\nsecond line")
        return real_verify(path, **kwargs)

    monkeypatch.setattr(verify_module, "verify", verify)
    code, out, err = _run(capsys, "verify", "-q", *map(str, paths))
    assert code == EXIT_FAILED
    assert [line.split(": ")[0] for line in out.splitlines()] == [f"OK {paths[0]}", f"OK {paths[2]}"]
    assert err == (f"error: cannot verify {paths[1]}: TypeError: unsupported operand type(s) for +: 'int' and 'str' "
                   "second line (-v prints the traceback)\n")
    code, out, err = _run(capsys, "verify", "-q", "-v", *map(str, paths))
    assert code == EXIT_FAILED and out.count("OK ") == 2
    assert err.startswith(f"error: cannot verify {paths[1]}: TypeError: ")
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith("second line")


def test_verify_verbose_lists_every_problem(record: Any, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``verify -v`` lists every problem, not just the first (its --help)."""
    from longplay.replays import verify as verify_module

    path = record(20)
    problems = ["reward differs at step 3", "milestone differs at step 5", "hash differs at step 9"]

    class Report:
        ok = False

        def summary(self) -> str:
            return f"FAILED {path}: {problems[0]}"

    Report.problems = problems
    monkeypatch.setattr(verify_module, "verify", lambda path, **kwargs: Report())
    code, out, _ = _run(capsys, "verify", "-q", str(path))
    assert code == EXIT_FAILED and "also:" not in out
    code, out, _ = _run(capsys, "verify", "-q", "-v", str(path))
    assert code == EXIT_FAILED
    assert out.splitlines()[1:] == [f"  also: {problem}" for problem in problems[1:]]


def test_newer_version_is_one_line(record: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = record(50)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    code, _, err = _run(capsys, "verify", str(path))
    assert code == EXIT_BAD_INPUT and "version 7 replay" in err and err.count("\n") == 1


def test_export_and_compare(record: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("imageio_ffmpeg")
    path = record(200, name="runs/a.lpr")
    record(120, seed=1, name="runs/b.lpr", extra_header={"budget": {"steps": 500}})  # stopped early
    code, out, _ = _run(capsys, "export", str(path), "--mp4", "--gif", str(tmp_path / "g.gif"), "--from", "10",
                        "--to", "60", "--speed", "2")
    assert code == EXIT_OK
    assert path.with_suffix(".mp4").stat().st_size > 0 and (tmp_path / "g.gif").stat().st_size > 0
    assert "wrote" in out and "steps 10..60" in out
    # --speed 2: the MP4 at 60 frames a second, the GIF (at most 50) every other step at 30
    mp4_line, gif_line = out.splitlines()
    assert mp4_line.endswith("51 frames at 60 fps") and gif_line.endswith("26 frames at 30 fps (every 2 steps)")
    code, _, err = _run(capsys, "export", str(path), "--to", "999")
    assert code == EXIT_BAD_INPUT and "invalid range" in err
    code, out, _ = _run(capsys, "compare", str(tmp_path / "runs"), "-o", str(tmp_path / "cmp"), "--boot", "50",
                        "--no-plots")  # the plots are tested in test_compare
    assert code == EXIT_OK and "2 runs in 1 group: random (2 runs, 1 stopped before their budget)" in out
    assert "hundred_presses" in out
    assert (tmp_path / "cmp" / "time_to_milestone.csv").exists()
    code, _, err = _run(capsys, "compare", str(tmp_path / "nothing-here"))
    assert code == EXIT_BAD_INPUT and "no such file or folder" in err


def test_export_scales_the_screen_by_scale(record: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    path = record(20)
    for scale in (1, 3):
        gif = tmp_path / f"x{scale}.gif"
        code, _, _ = _run(capsys, "export", str(path), "--gif", str(gif), "--scale", str(scale))
        assert code == EXIT_OK
        with Image.open(gif) as image:
            assert image.size == (160 * scale, 144 * scale)


def test_verify_exits_with_the_worst_outcome_of_its_replays(record: Any, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A file that could not be read (2) outranks a replay that failed (1), whichever comes first."""
    bad = record(100, name="bad.lpr")
    conn = sqlite3.connect(bad)
    conn.execute("INSERT INTO milestones VALUES (0, 7, 'finish', 0.1)")
    conn.commit()
    conn.close()
    missing = str(tmp_path / "missing.lpr")
    for order in ((missing, str(bad)), (str(bad), missing)):
        code, out, err = _run(capsys, "verify", "-q", *order)
        assert code == EXIT_BAD_INPUT and out.startswith("FAIL ") and err.startswith("error: no such file")


def test_export_renders_the_episode_it_is_given(record: Any, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("imageio")
    path = record(40, episodes=2)  # each episode plays its own seed's random buttons
    gifs = []
    for episode in (0, 1):
        gif = tmp_path / f"ep{episode}.gif"
        code, out, _ = _run(capsys, "export", str(path), "--gif", str(gif), "--episode", str(episode))
        assert code == EXIT_OK and f"wrote {gif}" in out
        gifs.append(gif.read_bytes())
    assert gifs[0] != gifs[1]
    code, _, err = _run(capsys, "export", str(path), "--gif", str(tmp_path / "ep2.gif"), "--episode", "2")
    assert code == EXIT_BAD_INPUT and "no episode 2" in err and not (tmp_path / "ep2.gif").exists()


def test_compare_of_runs_with_no_recorded_step_says_so(record: Any, tmp_path: Path, as_killed: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Every episode left out (killed, or still being recorded, before its first commit): the error said 'no
    replays (*.lpr) found in runs' though one was found, and the warning above it named it."""
    path = record(50, name="runs/a.lpr")
    as_killed(path, lose_steps=True)
    code, _, err = _run(capsys, "compare", str(path.parent), "-o", str(tmp_path / "cmp"), "--no-plots")
    assert code == EXIT_BAD_INPUT
    assert err.splitlines()[-1].endswith(f"no run with a recorded step in {path.parent}")
    assert "left out episode 0" in err and "no replays" not in err
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "compare", str(tmp_path / "empty"))  # a folder without replays: as before
    assert code == EXIT_BAD_INPUT and f"no replays (*.lpr) found in {tmp_path / 'empty'}" in err


def test_compare_refuses_bad_horizon_and_group_fields(record: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    runs = record(100, name="runs/a.lpr").parent
    for argv, message in ((["--horizon", "0"], "--horizon must be a positive number of steps, got 0"),
                          (["--horizon", "-5"], "--horizon must be a positive number of steps, got -5"),
                          (["--horizon", "nan"], "--horizon must be a positive number of steps, got nan"),
                          (["--horizon", "inf"], "--horizon must be a positive number of steps, got inf"),
                          (["--group-by", "agent,modle"], "unknown group field 'modle'")):  # was one 'unlabelled' group
        code, _, err = _run(capsys, "compare", str(runs), "-o", str(tmp_path / "cmp"), "--no-plots", *argv)
        assert code == EXIT_BAD_INPUT and message in err and err.count("\n") == 1
    code, out, _ = _run(capsys, "compare", str(runs), "-o", str(tmp_path / "cmp"), "--no-plots", "--horizon", "50",
                        "--group-by", "env, agent")
    assert code == EXIT_OK and "AUC (steps, horizon 50) Fake-v0 / random" in out


def test_compare_table_is_on_the_requested_axis(record: Any, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    runs = record(300, name="runs/a.lpr").parent
    code, out, _ = _run(capsys, "compare", str(runs), "-o", str(tmp_path / "cmp"), "--no-plots", "--axis", "wall")
    assert code == EXIT_OK and "median wall" in out and "no runs with a steps axis" not in out


def test_compare_scores_each_env_over_its_own_window(record: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # Runs of a short env beside runs of a long one: the short env's AUC was taken over the long env's window.
    record(100, name="runs/short.lpr")
    runs = record(400, name="runs/long.lpr", env_id="LongplayTest/FakeLong-v0").parent
    code, out, _ = _run(capsys, "compare", str(runs), "-o", str(tmp_path / "cmp"), "--no-plots")
    assert code == EXIT_OK
    assert "AUC windows in steps, one per env (each env's longest run): FakeLong-v0 400, Fake-v0 100" in out
    assert "AUC (steps, horizon 100) Fake-v0: random" in out and "AUC (steps, horizon 400) FakeLong-v0: random" in out
    code, out, _ = _run(capsys, "compare", str(runs), "-o", str(tmp_path / "cmp"), "--no-plots", "--horizon", "50")
    assert code == EXIT_OK and "(--horizon for every env): FakeLong-v0 50, Fake-v0 50" in out


def test_a_closed_pipe_is_not_reported_as_an_error() -> None:
    # longplay compare runs/ --no-plots | head: the reader leaves while the command still prints; the replay
    # commands' own error handling (OSError is a one-line error) must not turn that into "error: Broken pipe"
    import subprocess
    import sys

    code = ("import sys\nfrom longplay.agents.cli import run_command\nfrom longplay.replays.cli import _guarded\n"
            "def flood(args):\n    for _ in range(100_000):\n        print('x' * 100)\n    return 0\n"
            "sys.exit(run_command(_guarded(flood), None))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"x" * 100 + b"\n"
    proc.stdout.close()
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""


def test_export_refuses_two_outputs_of_one_name(record: Any, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``--mp4 clip --gif clip`` wrote the MP4, then the GIF over it: one file named as the MP4, holding a GIF,
    and 'wrote' printed twice."""
    path = record(30)
    clip, page, state = (str(tmp_path / name) for name in ("clip", "page.mp4", "s"))
    for argv in (["--mp4", clip, "--gif", clip], ["--mp4", str(path.with_suffix(".gif")), "--gif"],
                 ["--html", page, "--mp4", str(tmp_path / "sub" / ".." / "page.mp4")],
                 ["--state", state, "--gif", state]):
        code, out, err = _run(capsys, "export", str(path), *argv)
        assert code == EXIT_BAD_INPUT and "the same file" in err and not out, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
