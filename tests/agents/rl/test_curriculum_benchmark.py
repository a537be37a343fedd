"""benchmarks/rl_curriculum.py's steps: each a ``longplay train`` of at least one update, at any ``--scale``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture()
def rl_curriculum(benchmark):
    """``benchmarks/rl_curriculum.py``, imported for the test only."""
    return benchmark("rl_curriculum")


def test_every_step_runs_at_a_small_scale(rl_curriculum, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``--scale 0.003`` rounded steps 2 and 3 to the same two updates: step 3 was skipped as done, and its flags
    (the gym's shaping, the constant learning rate) never ran."""
    commands: list[list[str]] = []

    def fake_train(argv: list[str]) -> Any:  # a `longplay train` that saves its last checkpoint
        commands.append(argv)
        steps = int(argv[argv.index("--steps") + 1])
        folder = tmp_path / "train" / "curriculum__seed0" / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"step_{steps:012d}.pt").touch()
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(rl_curriculum.subprocess, "run", fake_train)
    monkeypatch.setattr(sys, "argv", ["rl_curriculum.py", "--scale", "0.003", "--runs-dir", str(tmp_path)])
    rl_curriculum.main()
    ends = [int(argv[argv.index("--steps") + 1]) for argv in commands]
    assert len(commands) == len(rl_curriculum.STEPS)  # one command per step
    assert all(end % rl_curriculum.BATCH == 0 for end in ends) and ends == sorted(set(ends))
    assert "--no-anneal-lr" in commands[2]  # step 3's own flags
    assert capsys.readouterr().out.count("longplay train") == 5


def test_steps_run_with_this_interpreter_and_a_failed_one_stops_in_a_line(
        rl_curriculum, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps ran the ``longplay`` on PATH: with the venv not activated (``.venv/bin/python benchmarks/...``) or
    the package on PYTHONPATH the script stopped with 'longplay is not installed', and PATH's could be another
    install's. A step that failed ended the script in a CalledProcessError traceback."""
    commands: list[list[str]] = []

    def failing_train(argv: list[str]) -> Any:
        commands.append(argv)
        return subprocess.CompletedProcess(argv, 2)

    monkeypatch.setattr(rl_curriculum.subprocess, "run", failing_train)
    monkeypatch.setenv("PATH", str(tmp_path))  # no longplay executable anywhere on PATH
    monkeypatch.setattr(sys, "argv", ["rl_curriculum.py", "--scale", "0.003", "--runs-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as stopped:
        rl_curriculum.main()
    assert commands == [commands[0]] and commands[0][:4] == [sys.executable, "-m", "longplay.agents.cli", "train"]
    message = str(stopped.value.code)
    assert "step 1" in message and "exited with 2" in message and "\n" not in message


@pytest.mark.parametrize("scale", [1.0, 0.01, 0.003, 0.001, 1e-6])
def test_step_ends_are_whole_updates_one_apart_at_least(rl_curriculum, scale: float) -> None:
    ends = rl_curriculum.step_ends(scale)
    batch = rl_curriculum.BATCH
    assert len(ends) == len(rl_curriculum.STEPS) and all(end % batch == 0 for end in ends)
    assert all(b - a >= batch for a, b in zip([0, *ends], ends, strict=False))
    if scale == 1.0:  # a full run keeps its budgets (rounded down to whole updates)
        assert ends == [int(m * 1_000_000) // batch * batch for m, _ in rl_curriculum.STEPS]
