"""``longplay train --start-state FILE``: every training and evaluation episode of the SB3 learner starts there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("stable_baselines3")

import longplay.envs  # noqa: E402,F401  (registers the ids)
from longplay.agents.cli import main  # noqa: E402
from longplay.agents.rl.config import TrainConfig  # noqa: E402
from longplay.agents.rl.evaluation import read_evals  # noqa: E402


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory, oracle_state) -> tuple[Path, set[str]]:
    """A QuestMini state holding the oracle's first two milestones, and those milestones."""
    data, held = oracle_state(milestones=2)
    path = tmp_path_factory.mktemp("state") / "start.state"
    path.write_bytes(data)
    return path, set(held)


def tiny(tmp_path: Path, **overrides: Any) -> TrainConfig:
    base: dict[str, Any] = dict(
        env_id="longplay/QuestMini-v0", vec_env="dummy", num_envs=2, n_steps=16, n_minibatches=2, n_epochs=1,
        total_steps=32, checkpoint_every=32, eval_every=32, eval_steps=24, eval_episodes=1, features_dim=32,
        progress=False, torch_threads=1, device="cpu", runs_dir=str(tmp_path), run_name="run",
        max_episode_steps=10, keep_checkpoints=0)
    base.update(overrides)
    return TrainConfig(**base)


def test_training_and_evaluation_episodes_start_from_the_state(state_file: tuple[Path, set[str]],
                                                               tmp_path: Path) -> None:
    from longplay.agents.rl.sb3_train import make_train_env, train
    from longplay.replays.reader import ReplayReader
    from longplay.replays.verify import verify

    path, held = state_file
    config = tiny(tmp_path, start_state=str(path))
    env = make_train_env(config)
    for _ in range(2):  # SB3's vector envs reset with no options, at the start and after every episode
        _, info = env.reset()
        assert set(info["milestones"]) == held and info["step"] == 0
    env.close()
    result = train(config)
    (evaluation,) = read_evals(result.run_dir)
    assert set(evaluation["milestones"]) >= held
    report = verify(evaluation["replay"])
    assert report.ok, report.summary()
    with ReplayReader(evaluation["replay"]) as reader:
        assert reader.keyframe(0, 0) == path.read_bytes()
        assert {m.milestone for m in reader.milestones() if m.step == 0} == held


@pytest.mark.parametrize("overrides", [{"learner": "ppo-device", "vec_env": "batched"}, {"vec_env": "batched"}])
def test_the_batched_engine_refuses_a_start_state(overrides: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="start_state needs --learner ppo with --vec-env subproc or dummy"):
        tiny(tmp_path, start_state="start.state", **overrides).validate()


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "invalid start_state"),
    (b"hello", "cannot start from this state: not a quest save state"),
])
def test_a_bad_start_state_is_one_line_before_the_run_starts(content: bytes | None, fragment: str, tmp_path: Path,
                                                             capsys) -> None:
    path = tmp_path / "start.state"
    if content is not None:
        path.write_bytes(content)
    code = main(["train", "--env", "QuestMini-v0", "--vec-env", "dummy", "--num-envs", "2", "--start-state",
                 str(path), "--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_a_run_keeps_its_own_copy_of_the_start_state(state_file: tuple[Path, set[str]], tmp_path: Path,
                                                     capsys) -> None:
    # The config kept the path as typed: --resume from another folder could not find the file, and a file
    # changed since trained on from another state without a word.
    import json
    import os
    import shutil

    from longplay.agents.rl.sb3_train import START_STATE_FILE

    original, _ = state_file
    path = tmp_path / "mine.state"
    shutil.copy(original, path)
    runs = tmp_path / "runs"
    args = ["train", "--env", "QuestMini-v0", "--vec-env", "dummy", "--num-envs", "2", "--n-steps", "16",
            "--n-minibatches", "2", "--n-epochs", "1", "--eval-every", "0", "--eval-steps", "24",
            "--eval-episodes", "1", "--no-progress", "--torch-threads", "1", "--run-name", "run"]
    assert main([*args, "--steps", "32", "--start-state", str(path), "--runs-dir", str(runs)]) == 0
    run_dir = runs / "train" / "run"
    kept = run_dir / START_STATE_FILE
    assert kept.read_bytes() == original.read_bytes()
    assert json.loads((run_dir / "config.json").read_text())["start_state"] == str(kept.resolve())
    path.write_bytes(b"changed since")  # the file the run was started with changes, and the folder moves
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    shutil.move(run_dir, moved)
    here = os.getcwd()
    os.chdir(tmp_path / "elsewhere")
    try:
        capsys.readouterr()
        assert main(["train", "--resume", "run", "--steps", "64", "--no-progress"]) == 0, capsys.readouterr().err
    finally:
        os.chdir(here)
    assert json.loads((moved / "config.json").read_text())["start_state"] == str((moved / START_STATE_FILE).resolve())
