"""The benchmark scripts' arguments: a bad value ends in one line before anything is measured, not in a traceback
after minutes of measuring (or in a run that measures nothing without a word)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def _refused(main: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """``main(argv)``'s argparse error line (exit status 2)."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("script, small", [
    ("gameboy_speed", ["--steps", "8", "--blocks", "2"]),
    ("replay_speed", ["--steps", "10", "--samples", "2", "--repeats", "1"]),
])
def test_a_json_file_that_cannot_be_written_is_refused_before_measuring(benchmark, script: str, small: list[str],
                                                                         tmp_path: Path, capsys) -> None:
    """``--json`` into a folder, or under a file, measured first and then ended in a traceback (the figures lost)."""
    main = benchmark(script).main
    (tmp_path / "notes.txt").write_text("")
    assert "is a folder" in _refused(main, [*small, "--json", str(tmp_path)], capsys)
    assert "is a file, not a folder" in _refused(main, [*small, "--json", str(tmp_path / "notes.txt" / "x.json")],
                                                 capsys)


def test_an_out_folder_that_is_a_file_is_refused(benchmark, tmp_path: Path, capsys) -> None:
    (tmp_path / "results").write_text("")
    line = _refused(benchmark("lm_harness").main, ["--overhead-turns", "0", "--context-turns", "0", "--out",
                                                   str(tmp_path / "results")], capsys)
    assert "is a file, not a folder" in line


def test_json_goes_into_folders_made_for_it(benchmark, tmp_path: Path) -> None:
    path = benchmark("_args").output_file(str(tmp_path / "new" / "figures.json"))
    benchmark("_checks").write_json(path, {"rate": np.float32(1.5), "replay": tmp_path / "a.lpr"})
    assert json.loads(path.read_text()) == {"rate": 1.5, "replay": str(tmp_path / "a.lpr")}


@pytest.mark.parametrize("argv, said", [
    (["--blocks", "0"], "--blocks: invalid value '0'"),  # a median of no blocks: a StatisticsError
    (["--modes", "symbolc"], "choose from symbolic, text, pixels"),  # a ValueError from gym.make
    (["--steps", "5", "--blocks", "10", "--modes", "text"], "--blocks must be at most --steps"),  # 0-step blocks
])
def test_remote_speed_refuses_bad_arguments(benchmark, argv: list[str], said: str, capsys) -> None:
    assert said in _refused(benchmark("remote_speed").main, argv, capsys)


def test_quest_speed_on_a_game_boy_id_without_its_rom_says_so(benchmark, tmp_path: Path, monkeypatch, capsys
                                                              ) -> None:
    """``--env longplay/PokemonRed-v0`` without the ROM ended in a GameError traceback."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401  (registers the ids)
    from longplay.envs.game import GameError

    monkeypatch.setenv("LONGPLAY_ROMS", str(tmp_path))
    try:
        gym.make("longplay/PokemonRed-v0").close()
    except GameError:
        pass
    else:
        pytest.skip("a Pokemon Red ROM is found here")
    monkeypatch.setattr(sys, "argv", ["quest_speed.py", "--env", "longplay/PokemonRed-v0", "--steps", "10"])
    assert "no ROM for Pokemon Red" in _refused(lambda argv: benchmark("quest_speed").main(), [], capsys)


def test_batched_speed_refuses_an_ab_too_short_to_time(benchmark, capsys) -> None:
    """``--ab 5`` compiled the step (about a minute) and then ended in a StatisticsError."""
    assert "--ab must be 0 or at least 6" in _refused(benchmark("batched_speed").main, ["--ab", "5"], capsys)


def test_batched_speed_compiles_the_large_batches_it_is_given(benchmark, capsys) -> None:
    """``--batch 8192,16384,32768,65536 --modes compiled`` (docs/batched.md) left 8,192 and 32,768 out without a
    word: the sizes to compile were a fixed list."""
    batched_speed = benchmark("batched_speed")
    assert batched_speed.compiled_sizes([8192, 16384, 32768, 65536], None) == {8192, 16384, 32768, 65536}
    assert batched_speed.compiled_sizes([1, 64, 4096, 65536], None) == {4096, 65536}  # the default table's
    assert batched_speed.compiled_sizes([256, 4096], [4096]) == {4096}
    assert batched_speed.compiled_sizes([256, 4096], []) == {256, 4096}
    batched_speed.main(["--batch", "2", "--modes", "compiled", "--obs", "symbolic", "--seconds", "0.01"])
    assert "compiled: not at batch 2 (--compiled-batch" in capsys.readouterr().out


def test_rl_learning_refuses_a_runs_dir_that_holds_its_runs(benchmark, tmp_path: Path, monkeypatch, capsys) -> None:
    """A second run into the same --runs-dir failed in a worker process with a traceback."""
    checkpoints = tmp_path / "train" / "learning__sparse__seed0" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "step_000000000256.pt").touch()
    monkeypatch.setattr(sys, "argv", ["rl_learning.py", "--learner", "ppo-device", "--seeds", "0", "--rewards",
                                      "sparse", "--runs-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    line = _refused(lambda argv: benchmark("rl_learning").main(), [], capsys)
    assert "holds a run already" in line and "--from-runs" in line


def test_replay_speed_says_when_no_frame_comes_before_a_keyframe(benchmark, capsys) -> None:
    """A replay shorter than the keyframe spacing has no worst case to time; it printed 'worst case 0.00 ms'."""
    benchmark("replay_speed").main(["--steps", "10", "--samples", "2", "--repeats", "1"])
    assert "worst case none (no keyframe after step 0)" in capsys.readouterr().out


def test_viewer_speed_keeps_the_lm_run_summary_out_of_its_output(benchmark, tmp_path: Path, capsys) -> None:
    """The offline LM run printed its replay and checkpoint paths (and a resume command) for files moved or
    removed right after."""
    (path,) = benchmark("viewer_speed").make_other_runs(tmp_path, 1)
    assert path.name == "lm-seed0.lpr" and path.is_file()
    assert capsys.readouterr().out == ""


def test_rl_speed_prints_each_row_beside_the_first(benchmark, tmp_path: Path, monkeypatch, capsys) -> None:
    """Its rows came as steps/s alone: the ratios within one run, the figures that hold on a shared machine,
    were left to the reader."""
    rl_speed = benchmark("rl_speed")
    rates = {"sb3 + dummy": 500.0, "ppo-device + toy": 2000.0}

    def measure(label: str, learner: str, vec_env: str, env_id: Any, num_envs: int, *_: Any) -> dict[str, Any]:
        if label not in rates:
            return {"label": label, "skipped": "not measured here"}
        return {"label": label, "learner": learner, "vec_env": vec_env, "num_envs": num_envs,
                "train_sps": rates[label], "steps": 1, "wall_s": 1.0}

    monkeypatch.setattr(rl_speed, "measure", measure)
    monkeypatch.setattr(sys, "argv", ["rl_speed.py", "--out", str(tmp_path)])
    rl_speed.main()
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("sb3 + dummy") and line.endswith("1.00x sb3 + dummy") for line in lines)
    assert any(line.startswith("ppo-device + toy") and line.endswith("4.00x sb3 + dummy") for line in lines)


def test_batched_speed_ab_quartiles_stay_among_the_pairs(benchmark) -> None:
    """``--ab 6`` printed 'compiled/eager 3.20x (quartiles -1.54-7.94, 6 paired steps)': a negative quartile of
    ratios of times (extrapolated from two pairs), and the steps asked for instead of the two pairs timed."""
    ratio = benchmark("batched_speed").paired_ratio([1.0, 2.0], [2.0, 0.25])
    assert ratio["pairs"] == 2 and 0.5 <= ratio["ratio_q1"] <= ratio["ratio"] <= ratio["ratio_q3"] <= 8.0


def test_gameboy_speed_help_gives_each_option_its_settings_docstring(benchmark, capsys) -> None:
    """``--help`` listed ``--steps STEPS`` and the rest with no word of what they do: the descriptions lived only
    in the ``Args`` docstrings."""
    from longplay.agents.rl.config import field_docs

    gameboy_speed = benchmark("gameboy_speed")
    with pytest.raises(SystemExit):
        gameboy_speed.main(["--help"])
    printed = " ".join(capsys.readouterr().out.split())  # argparse wraps the help lines
    docs = field_docs(gameboy_speed.Args)
    assert set(docs) == {"steps", "blocks", "json", "check"}
    for name, doc in docs.items():
        assert f"--{name}" in printed and doc in printed, name
