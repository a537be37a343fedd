"""Smoke tests of both learners at a tiny budget: train, checkpoint, resume the same run, evaluate.

They train on the toy stand-in (``longplay.agents.rl.toy``: the reference env for SB3 and evaluation, the
batched torch engine for ``ppo-device``) so they run in seconds; one more runs SB3 on QuestMini itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.evaluation import read_evals
from longplay.agents.rl.runlog import read_metrics
from longplay.agents.rl.toy import TOY_ENV_ID, register_toy

register_toy()


def tiny(tmp_path: Path, **overrides: Any) -> TrainConfig:
    """A config that trains in about a second."""
    base: dict[str, Any] = dict(
        env_id=TOY_ENV_ID, vec_env="dummy", num_envs=2, n_steps=16, n_minibatches=2, n_epochs=2,
        total_steps=64, checkpoint_every=32, eval_every=64, eval_steps=48, features_dim=32, progress=False,
        torch_threads=1, device="cpu", runs_dir=str(tmp_path), run_name="run", max_episode_steps=40,
        keep_checkpoints=0)
    base.update(overrides)
    return TrainConfig(**base)


def _verify_replay(path: str) -> None:
    from longplay.replays.verify import verify

    report = verify(path)
    assert report.ok, report.summary()


def _check_budget(path: str, steps: int) -> None:
    """An evaluation replay records its step budget, so compare tells it from one cut short."""
    from longplay.replays.compare import read_runs
    from longplay.replays.reader import ReplayReader

    with ReplayReader(path) as replay:
        assert replay.header["budget"] == {"steps": steps}
    assert {run.stopped_early for run in read_runs(path)} == {False}


def _sb3_adam_steps(path: Path) -> tuple[int, float, int]:
    from stable_baselines3 import PPO

    model = PPO.load(path, device="cpu")
    state = model.policy.optimizer.state_dict()["state"]
    return int(next(iter(state.values()))["step"]), model._current_progress_remaining, model.num_timesteps


def _lr_by_step(run_dir: Path) -> dict[int, float]:
    points = [p for p in read_metrics(run_dir) if "charts/learning_rate" in p]
    steps = [p["step"] for p in points]
    assert len(steps) == len(set(steps)), "a resumed run must not log the replaced steps twice"
    return {p["step"]: p["charts/learning_rate"] for p in points}


def _evals_once_each(run_dir: Path) -> list[int]:
    """The steps of ``eval.jsonl``, checked to name the replays in ``replays/`` one to one (a resume drops the
    replaced part's evaluations: neither they nor their replays are kept beside the new ones)."""
    evals = read_evals(run_dir)
    assert sorted(Path(e["replay"]).name for e in evals) == sorted(p.name for p in (run_dir / "replays").iterdir())
    return [e["step"] for e in evals]


def test_sb3_trains_resumes_and_evaluates(tmp_path: Path) -> None:
    from longplay.agents.rl.sb3_train import train

    config = tiny(tmp_path, shaping="novelty", max_episode_steps=12)
    result = train(config)
    run_dir = result.run_dir
    assert result.steps == 64 and result.checkpoint.name == "step_000000000064.zip"
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.zip")) == [
        "step_000000000032.zip", "step_000000000064.zip"]
    metrics = read_metrics(run_dir)
    tags = set().union(*metrics)
    assert {"losses/value_loss", "losses/entropy", "charts/learning_rate", "charts/SPS",
            "charts/eval/milestones"} <= tags
    assert any(t.startswith("charts/shaping/novelty") for t in tags) and "charts/milestones" in tags
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))
    evals = read_evals(run_dir)
    assert [e["step"] for e in evals] == [64] and Path(evals[0]["replay"]).is_file()
    assert "step64" in Path(evals[0]["replay"]).name
    _verify_replay(evals[0]["replay"])
    original = _sb3_adam_steps(result.checkpoint)
    lr_original = _lr_by_step(run_dir)

    # Resume the same run from its step-32 checkpoint: the step count, Adam state and schedule continue.
    adam_32, _, steps_32 = _sb3_adam_steps(run_dir / "checkpoints" / "step_000000000032.zip")
    assert steps_32 == 32 and 0 < adam_32 < original[0]
    resumed = train(TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())), run_dir=run_dir,
                    resume=run_dir / "checkpoints" / "step_000000000032.zip")
    assert resumed.steps == 64
    assert _sb3_adam_steps(resumed.checkpoint) == original
    assert _lr_by_step(run_dir) == pytest.approx(lr_original)
    assert _evals_once_each(run_dir) == [64]


def _learner(learner: str, tmp_path: Path, **overrides: Any) -> tuple[Any, TrainConfig]:
    """(``train`` of ``learner``, a tiny config for it evaluating 2 episodes every 32 steps)."""
    if learner == "ppo":
        from longplay.agents.rl.sb3_train import train
        return train, tiny(tmp_path, **{"eval_every": 32, "eval_episodes": 2, **overrides})
    from longplay.agents.rl.ppo_device import train as train_device
    return train_device, tiny(tmp_path, **{"learner": "ppo-device", "vec_env": "toy", "num_envs": 4, "n_steps": 8,
                                           "eval_every": 32, "eval_episodes": 2, **overrides})


def _kill_in_the_evaluation_at_32(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluation at step 32 plays its first episode, then the run is killed (``KeyboardInterrupt``) in its
    second; the others run as usual."""
    import dataclasses

    import longplay.agents.rl.evaluation as evaluation

    real = evaluation.evaluate

    def killed_at_32(policy: Any, config: TrainConfig, step: int, *args: Any, **kwargs: Any) -> Any:
        if step != 32:
            return real(policy, config, step, *args, **kwargs)
        real(policy, dataclasses.replace(config, eval_episodes=1), step, *args, **kwargs)  # its first episode
        raise KeyboardInterrupt  # ... and the kill in the second

    monkeypatch.setattr(evaluation, "evaluate", killed_at_32)


def _count_metrics_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, each read of a ``metrics.jsonl`` appends 1 to the list returned."""
    reads: list[int] = []
    read_text = Path.read_text

    def counted(path: Path, *args: Any, **kwargs: Any) -> str:
        if path.name == "metrics.jsonl":
            reads.append(1)
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    return reads


@pytest.mark.parametrize("learner", ["ppo", "ppo-device"])
def test_a_resume_plays_the_evaluation_the_run_was_killed_in(learner: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed while evaluating at a checkpoint's step was resumed past that evaluation: the step had a
    checkpoint but no evaluation result ever, and a chart of the run missed it. Resuming a finished run
    evaluated its last step a second time (SB3)."""
    train, config = _learner(learner, tmp_path)
    suffix = ".zip" if learner == "ppo" else ".pt"
    _kill_in_the_evaluation_at_32(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    monkeypatch.undo()
    run_dir = tmp_path / "train" / "run"
    assert [e["step"] for e in read_evals(run_dir)] == [32]  # the first episode's line: no result at 32
    saved = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    # the resume reads metrics.jsonl once, in RunLog (the learners read it again up to 3 times to find the
    # evaluations played: a long run's file is many megabytes)
    reads = _count_metrics_reads(monkeypatch)
    train(saved, run_dir=run_dir, resume=run_dir / "checkpoints" / f"step_000000000032{suffix}")
    assert len(reads) == 1
    monkeypatch.undo()
    assert _evals_once_each(run_dir) == [32, 32, 64, 64]
    assert [e["episode"] for e in read_evals(run_dir)] == [0, 1, 0, 1]
    assert [p["step"] for p in read_metrics(run_dir) if "charts/eval/milestones" in p] == [32, 64]
    # a finished run resumed at its last checkpoint has that evaluation already
    saved = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    reads = _count_metrics_reads(monkeypatch)
    train(saved, run_dir=run_dir, resume=run_dir / "checkpoints" / f"step_000000000064{suffix}")
    assert len(reads) == 1
    monkeypatch.undo()
    assert _evals_once_each(run_dir) == [32, 32, 64, 64]
    assert [p["step"] for p in read_metrics(run_dir) if "charts/eval/milestones" in p] == [32, 64]


@pytest.mark.parametrize("learner", ["ppo", "ppo-device"])
def test_a_run_started_again_after_one_stopped_before_its_first_checkpoint_keeps_none_of_its_logs(
        learner: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped before its first checkpoint (killed in its first evaluation, the checkpoints further apart)
    may be started again in its folder, and was: beside the stopped attempt's metrics.jsonl points, its eval.jsonl
    line and its replays (one cut short), so the new run's charts and evaluations held two runs' points and a
    policy whose weights were never saved. What the stopped attempt logged goes when the run starts again."""
    import dataclasses

    train, config = _learner(learner, tmp_path, checkpoint_every=64)
    _kill_in_the_evaluation_at_32(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(dataclasses.replace(config))
    monkeypatch.undo()
    run_dir = tmp_path / "train" / "run"
    assert not list((run_dir / "checkpoints").glob("step_*")) and read_evals(run_dir)
    train(dataclasses.replace(config))  # started again, as the same command
    assert _evals_once_each(run_dir) == [32, 32, 64, 64]
    steps = [p["step"] for p in read_metrics(run_dir)]
    assert steps == sorted(steps) and [p["step"] for p in read_metrics(run_dir) if "charts/eval/milestones" in p] \
        == [32, 64]


def test_a_resume_scores_the_checkpoint_whose_selection_the_run_was_killed_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``select_episodes`` an evaluation is the evaluation episodes, then the selection's episodes from the
    world's start (the longer part). A run killed in the selection had logged the evaluation's result, so the
    resume took the evaluation as played and never scored that checkpoint: it could not become best.pt. The resume
    scores it now (without playing the evaluation episodes again)."""
    from longplay.agents.rl.ppo_device import BestCheckpoint, train

    config = tiny(tmp_path, learner="ppo-device", vec_env="batched", env_id="longplay/QuestMini-v0", num_envs=4,
                  n_steps=8, eval_every=32, max_episode_steps=16, eval_steps=32, select_episodes=2)
    real = BestCheckpoint.score

    def killed_at_32(self: BestCheckpoint, policy: Any, step: int, *args: Any) -> Any:
        if step == 32:
            raise KeyboardInterrupt  # the evaluation's episodes are played and logged; the selection's are not
        return real(self, policy, step, *args)

    monkeypatch.setattr(BestCheckpoint, "score", killed_at_32)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    monkeypatch.undo()
    run_dir = tmp_path / "train" / "run"
    assert not (run_dir / "best.json").exists()
    saved = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    reads = _count_metrics_reads(monkeypatch)
    train(saved, run_dir=run_dir, resume=run_dir / "checkpoints" / "step_000000000032.pt")
    assert len(reads) == 1  # in RunLog; the learner took the evaluations and selections played from it
    monkeypatch.undo()
    metrics = read_metrics(run_dir)
    assert [p["step"] for p in metrics if "charts/select/finished" in p] == [32, 64]
    assert [p["step"] for p in metrics if "charts/eval/milestones" in p] == [32, 64]
    assert _evals_once_each(run_dir) == [32, 64]  # the evaluation at 32 is not played twice


def test_sb3_training_leaves_no_folder_in_the_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SB3's ``learn`` without a logger of its own makes an empty ``SB3-<date>`` folder in the temp folder each
    time; ``longplay train`` gives it the run's logger, so neither a run nor its resume leaves one."""
    import tempfile

    from longplay.agents.rl.sb3_train import train

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # gettempdir() caches its answer
    first = train(tiny(tmp_path, total_steps=32, eval_every=0))
    train(tiny(tmp_path, total_steps=64, eval_every=0), resume=first.checkpoint)
    assert not list(temp.glob("SB3-*"))


def test_sb3_on_the_batched_adapter_with_pixels(tmp_path: Path) -> None:
    from longplay.agents.rl.policy_agent import load_policy
    from longplay.agents.rl.sb3_train import train

    config = tiny(tmp_path, vec_env="toy", obs_mode="pixels", downsample=4, frame_stack=2, total_steps=32,
                  eval_every=32, eval_steps=16)
    result = train(config)
    assert result.steps == 32
    policy = load_policy(result.checkpoint)
    assert policy.description == {"pixels": {"kind": "image", "shape": [36, 40, 2]}}
    assert read_evals(result.run_dir)[0]["steps"] == 16


def test_sb3_on_the_batched_engine_with_pixels_preprocesses_the_terminal_observation(tmp_path: Path) -> None:
    """``--vec-env batched --obs-mode pixels`` crashed at the first episode end: the terminal observation stayed
    a raw 144x160 RGB frame, which ``VecFrameStack`` could not stack with the preprocessed ones ("... has size 72
    and the array at index 1 has size 144"), and without stacking SB3 refused its shape when bootstrapping.
    The training's own env (``make_vec_env``) steps here, not a training: the engine's renderer takes most of a
    second to build, and the shape SB3 bootstraps from is what is checked."""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.agents.rl.sb3_train import make_vec_env

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", vec_env="batched", obs_mode="pixels", downsample=4,
                  frame_stack=2, num_envs=2, max_episode_steps=3)
    venv = make_vec_env(config, "cpu")
    venv.reset()
    done = np.zeros(2, bool)
    while not done.any():  # within 3 steps
        _, _, done, infos = venv.step(np.zeros(2, np.int64))
    ended = int(np.flatnonzero(done)[0])
    terminal = infos[ended]["terminal_observation"]
    assert terminal.shape == venv.observation_space.shape == (36, 40, 2)
    venv.close()


def test_sb3_on_quest_mini(tmp_path: Path) -> None:
    pytest.importorskip("longplay.envs.quest.worldgen")
    try:
        import longplay.envs.quest.game  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the quest game is not complete yet: {exc}")
    from longplay.agents.rl.sb3_train import train

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", total_steps=32, eval_every=32, eval_steps=32,
                  max_episode_steps=64, shaping="quest")
    result = train(config)
    evals = read_evals(result.run_dir)
    assert result.steps == 32 and evals[0]["steps"] == 32
    _verify_replay(evals[0]["replay"])


# ============================================================================================== ppo-device
def _device_state(path: Path) -> tuple[int, int, int]:
    state = torch.load(path, weights_only=False)
    adam = int(next(iter(state["optimizer"]["state"].values()))["step"])
    return adam, state["iteration"], state["step"]


def test_ppo_device_trains_resumes_and_evaluates(tmp_path: Path) -> None:
    from longplay.agents.rl.ppo_device import train

    config = tiny(tmp_path, learner="ppo-device", vec_env="toy", num_envs=4, n_steps=8, total_steps=96)
    result = train(config)
    run_dir = result.run_dir
    assert result.steps == 96 and result.checkpoint.name == "step_000000000096.pt"
    saved = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    assert saved == ["step_000000000032.pt", "step_000000000064.pt", "step_000000000096.pt"]
    assert _device_state(result.checkpoint) == (3 * 2 * 2, 3, 96)  # iterations x epochs x minibatches
    tags = set().union(*read_metrics(run_dir))
    assert {"losses/policy_loss", "losses/approx_kl", "charts/SPS", "charts/eval/milestones"} <= tags
    evals = read_evals(run_dir)
    assert [e["step"] for e in evals] == [64, 96]
    _verify_replay(evals[-1]["replay"])
    _check_budget(evals[-1]["replay"], 48)
    lr_original = _lr_by_step(run_dir)

    resumed = train(TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())), run_dir=run_dir,
                    resume=run_dir / "checkpoints" / "step_000000000032.pt")
    assert resumed.steps == 96 and _device_state(resumed.checkpoint) == (12, 3, 96)
    assert _lr_by_step(run_dir) == pytest.approx(lr_original)
    assert _evals_once_each(run_dir) == [64, 96]


def test_ppo_device_on_a_captured_engine_trains_as_on_the_plain_step(tmp_path: Path, cpu_graph: list) -> None:
    """``--cuda-graph``: the engine's step replayed as a graph (``cpu_graph``: on CPU, a stand-in that writes each
    step into the buffers the capture returned, as a replay does) trains the same run, bit for bit: the learner
    copies what it keeps of a step before the next overwrites it, through episode ends, shaping and milestones."""
    from longplay.agents.rl.batched import make_engine
    from longplay.agents.rl.ppo_device import train

    runs = []
    for graph in (False, True):
        config = tiny(tmp_path, learner="ppo-device", vec_env="batched", env_id="longplay/QuestMini-v0", num_envs=4,
                      n_steps=8, total_steps=64, max_episode_steps=12, eval_every=-1, shaping="quest",
                      run_name=f"graph{graph}", cuda_graph=graph)
        engine = make_engine(config, "cpu")
        runs.append(train(config, engine=engine))
        assert cpu_graph == ([engine] if graph else [])
    plain, graphed = ([{k: v for k, v in p.items() if k != "charts/SPS"} for p in read_metrics(r.run_dir)]
                      for r in runs)
    assert graphed == plain and any("charts/episodes" in p for p in plain)  # episodes ended
    weights = [torch.load(r.checkpoint, weights_only=False)["model"] for r in runs]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize("argv,message", [
    (["--device", "cpu"], "cuda_graph needs a CUDA device (the run's device is cpu)"),
    (["--vec-env", "toy"], "cuda_graph needs --learner ppo-device --vec-env batched"),
])
def test_cuda_graph_is_refused_where_there_is_none_before_the_run_folder(
        argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from longplay.agents.cli import main

    assert main(["train", "--learner", "ppo-device", "--cuda-graph", "--steps", "32", "--runs-dir", str(tmp_path),
                 *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "train").exists()


def test_ppo_device_pixels_and_preprocessing(tmp_path: Path) -> None:
    from longplay.agents.rl.ppo_device import DevicePixels, train
    from longplay.envs.wrappers.pixels import FrameStacker, preprocess_pixels

    config = tiny(tmp_path, learner="ppo-device", vec_env="toy", obs_mode="pixels", downsample=4,
                  frame_stack=2, num_envs=2, n_steps=8, total_steps=16, eval_every=16, eval_steps=8)
    assert train(config).steps == 16

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (2, 144, 160, 3), dtype=np.uint8) for _ in range(3)]
    pixels = DevicePixels(config, 2, (144, 160, 3), torch.device("cpu"))
    stackers = [FrameStacker(2), FrameStacker(2)]
    got = pixels.reset(torch.as_tensor(frames[0]))
    want = [s.reset(preprocess_pixels(f, True, 4)) for s, f in zip(stackers, frames[0], strict=True)]
    assert np.array_equal(got.numpy(), np.stack(want))
    done = torch.tensor([False, True])  # env 1 restarted: its stack refills with the new first frame
    got = pixels.push(torch.as_tensor(frames[1]), done)
    want = [stackers[0].push(preprocess_pixels(frames[1][0], True, 4)),
            stackers[1].reset(preprocess_pixels(frames[1][1], True, 4))]
    assert np.array_equal(got.numpy(), np.stack(want))


def test_ppo_device_grayscale_gives_the_bytes_of_grayscale_frame(tmp_path: Path) -> None:
    """The device's grayscale (torch, int32) and the env's (numpy, uint16) are one formula, integer_luma: the same
    bytes on random frames and on each channel's extremes (white stays 255)."""
    from longplay.agents.rl.ppo_device import DevicePixels
    from longplay.envs.env import grayscale_frame

    config = tiny(tmp_path, learner="ppo-device", vec_env="toy", obs_mode="pixels", downsample=1, frame_stack=1)
    frames = np.random.default_rng(3).integers(0, 256, (4, 144, 160, 3), dtype=np.uint8)
    frames[0] = 255
    frames[1] = [255, 0, 0]
    frames[2, :, :, 1] = 0
    got = DevicePixels(config, 4, (144, 160, 3), torch.device("cpu")).frame(torch.as_tensor(frames))
    assert got.dtype == torch.uint8
    assert got.numpy().tobytes() == np.stack([grayscale_frame(f) for f in frames]).tobytes()
    assert got[0].unique().tolist() == [255]


def test_ppo_device_shaping_on_the_device(tmp_path: Path) -> None:
    try:
        import longplay.envs.quest.game  # noqa: F401 - DeviceShaping reads its VECTOR_FIELDS
    except ImportError as exc:
        pytest.skip(f"the quest game is not complete yet: {exc}")
    from longplay.agents.rl.ppo_device import train

    config = tiny(tmp_path, learner="ppo-device", vec_env="toy", num_envs=4, n_steps=16, total_steps=128,
                  shaping="novelty,novelty_decay=1", eval_every=-1, max_episode_steps=10)
    first = train(config)
    points = [p for p in read_metrics(config.runs_dir + "/train/run") if "charts/shaping/novelty" in p]
    assert points and points[-1]["charts/shaping/novelty"] > 0
    # The lifelong visit counts travel in the checkpoint, so a resumed run's novelty keeps decaying.
    before = torch.load(first.checkpoint, weights_only=False)["shaping"]["visits"]
    assert before.sum() > 0
    config.total_steps = 256
    after = torch.load(train(config, resume=first.checkpoint).checkpoint, weights_only=False)["shaping"]["visits"]
    assert bool((after >= before).all()) and after.sum() > before.sum()
    with pytest.raises(ValueError, match="event"):  # the toy engine counts no event flags
        train(tiny(tmp_path, learner="ppo-device", vec_env="toy", shaping="event=1", run_name="r2"))


def test_batched_training_on_quest_v0_plays_a_pool_of_worlds(tmp_path: Path) -> None:
    """``longplay train --env Quest-v0 --vec-env batched`` (and ``--learner ppo-device``) trained on world 0 alone:
    Quest-v0's ``world_seed=None`` reached the engine, which read it as world 0, while the evaluation's reference
    env plays a new world per episode. Both now play the engine's pool of worlds, as ``make_vec`` does."""
    from longplay.agents.rl.batched import make_engine, make_sb3_vec_env

    for learner in ("ppo", "ppo-device"):
        config = tiny(tmp_path, env_id="longplay/Quest-v0", learner=learner, vec_env="batched", num_envs=3)
        engine = make_engine(config, "cpu") if learner == "ppo-device" else make_sb3_vec_env(config, "cpu").engine
        assert [w.seed for w in engine.worlds] == [0, 1, 2] and engine.size == "small", learner


def test_ppo_device_without_the_batched_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from longplay.agents.rl.batched import ENGINE_MISSING
    from longplay.agents.rl.ppo_device import train

    monkeypatch.setitem(sys.modules, "longplay.envs.quest.batched", None)  # import fails
    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", learner="ppo-device", vec_env="batched")
    with pytest.raises(ValueError) as info:
        train(config)
    assert str(info.value) == ENGINE_MISSING


def test_sb3_pixels_on_the_game_boy_test_cartridge(tmp_path: Path) -> None:
    pytest.importorskip("pyboy")
    from longplay.agents.rl.sb3_train import train

    config = tiny(tmp_path, env_id="longplay/TestCart-v0", obs_mode="pixels", total_steps=32, eval_every=32,
                  eval_steps=16, shaping="novelty")
    result = train(config)
    assert result.steps == 32
    _verify_replay(read_evals(result.run_dir)[0]["replay"])


def test_ppo_device_on_quest_mini_with_buttons_and_milestone_rates(tmp_path: Path) -> None:
    from longplay.agents.rl.ppo_device import train

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", learner="ppo-device", vec_env="batched", num_envs=8,
                  n_steps=16, total_steps=256, max_episode_steps=32, eval_every=0, eval_steps=16,
                  shaping="quest", buttons="up,down,left,right,a,b")
    result = train(config)
    points = read_metrics(result.run_dir)
    rates = [p for p in points if "charts/milestone_rate/left_house" in p]
    running = [p for p in points if "charts/milestone_now/badge_1" in p]
    assert rates and running
    assert all(0 <= p["charts/milestone_rate/left_house"] <= 1 for p in rates)
    evals = read_evals(result.run_dir)
    assert evals and evals[-1]["steps"] == 16
    from longplay.agents.rl.policy_agent import PPOAgent, load_policy

    agent = PPOAgent(policy=load_policy(result.checkpoint))
    assert agent.buttons == (0, 1, 2, 3, 4, 5) and agent.policy.net.policy_head.out_features == 6


def test_ppo_device_trains_on_the_canonical_world(tmp_path: Path) -> None:
    """QuestCanon-v0 was refused ("the batched engine does not run the canonical world yet") after the engine
    had learnt it: the batched envs play the canonical world, as the evaluation's reference env does."""
    import gymnasium as gym

    from longplay.agents.rl.batched import make_engine
    from longplay.agents.rl.ppo_device import train

    config = tiny(tmp_path, env_id="longplay/QuestCanon-v0", learner="ppo-device", vec_env="batched", num_envs=4,
                  n_steps=8, total_steps=64, max_episode_steps=16, eval_every=0, eval_steps=8)
    engine = make_engine(config, "cpu")
    reference = gym.make("longplay/QuestCanon-v0", obs_mode="symbolic")
    first, _ = reference.reset(seed=5)
    batched = engine.reset(seed=5)
    assert all(np.array_equal(batched[key][0].numpy(), first[key]) for key in first)
    result = train(config)
    assert read_evals(result.run_dir)[-1]["steps"] == 8


def _vectors(**columns: list[float]) -> torch.Tensor:
    """Quest symbolic vectors, one row per env, with the named ``VECTOR_FIELDS`` columns set and the rest 0."""
    from longplay.envs.quest.game import VECTOR_FIELDS

    vector = torch.zeros(len(next(iter(columns.values()))), len(VECTOR_FIELDS))
    for name, values in columns.items():
        vector[:, VECTOR_FIELDS.index(name)] = torch.tensor(values, dtype=torch.float32)
    return vector


def test_device_map_decays_with_the_episodes_that_entered_it() -> None:
    pytest.importorskip("longplay.envs.quest.game")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import ShapingWeights

    shaping = DeviceShaping(ShapingWeights(map=1.0, map_decay=3.0), 2, torch.device("cpu"))

    def on(*maps: int) -> torch.Tensor:
        return _vectors(map=list(maps))

    still, restart = torch.tensor([False, False]), torch.tensor([True, True])
    shaping.reset(on(0, 0))
    assert shaping(on(1, 2), still)["map"].tolist() == [1.0, 1.0]  # first entries anywhere
    assert shaping(on(0, 0), restart)["map"].tolist() == [0.0, 0.0]  # the step that starts new episodes
    # map 1: one entering episode per two envs so far (1 / sqrt(1 + 3 * 0.5)); map 3: never entered
    assert shaping(on(1, 3), still)["map"].tolist() == pytest.approx([1 / 2.5 ** 0.5, 1.0])


def test_device_map_by_stage_makes_every_map_new_after_a_milestone() -> None:
    pytest.importorskip("longplay.envs.quest.game")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import ShapingWeights

    def on(map_id: int, milestones: int) -> torch.Tensor:
        return _vectors(map=[map_id], milestones=[milestones])

    still = torch.tensor([False])
    for by_stage, paid in ((0, [1.0, 0.0, 0.0]), (1, [1.0, 1.0, 1.0])):
        shaping = DeviceShaping(ShapingWeights(map=1.0, map_by_stage=by_stage), 1, torch.device("cpu"))
        shaping.reset(on(0, 0))
        got = [shaping(on(1, 0), still), shaping(on(0, 1), still), shaping(on(1, 1), still)]
        assert [float(g["map"]) for g in got] == paid


def test_device_stage_level_makes_every_map_and_tile_new_once_the_lead_is_strong() -> None:
    """``stage_level`` on the device: the wrapper's script (tests/envs/wrappers/test_shaping.py) pays the same."""
    pytest.importorskip("longplay.envs.quest.game")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import ShapingWeights

    def on(map_id: int, level: int) -> torch.Tensor:
        return _vectors(map=[map_id], lead_level=[level])

    weights = ShapingWeights(map=1.0, map_by_stage=1, novelty=0.5, novelty_by_stage=1, stage_level=10)
    shaping = DeviceShaping(weights, 1, torch.device("cpu"))
    shaping.reset(on(0, 9))
    still = torch.tensor([False])
    got = [shaping(on(m, lv), still) for m, lv in ((1, 9), (0, 9), (0, 10), (1, 10), (1, 11))]
    assert [float(g["map"]) for g in got] == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert [float(g["novelty"]) for g in got] == [0.5, 0.0, 0.5, 0.5, 0.0]


def test_device_level_cap_pays_the_wrappers_soft_cap_curve() -> None:
    """Levels past ``level_cap`` pay ``1 / level_slope_after_cap`` on the device too (it once ignored the cap;
    the wrapper's curve is tested in tests/envs/wrappers/test_shaping.py)."""
    pytest.importorskip("longplay.envs.quest.game")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import ShapingWeights

    weights = ShapingWeights(level=1.0, level_cap=2, level_slope_after_cap=4.0)
    shaping = DeviceShaping(weights, 1, torch.device("cpu"))
    shaping.reset(_vectors(lead_level=[5]))
    still = torch.tensor([False])
    levels = [6, 7, 7, 8, 9, 8, 10]
    paid = [float(shaping(_vectors(lead_level=[lv]), still)["level"]) for lv in levels]
    # the wrapper's curve (PokemonRedExperiments'): 1 a level up to 2 gained, then 1/4; the best counts
    assert paid == pytest.approx([1.0, 1.0, 0.0, 0.25, 0.25, 0.0, 0.25])


def test_device_event_pays_each_new_flag_counted_by_the_engine() -> None:
    """The device's ``event`` term pays each rise of the engine's flag count (story events, trainers beaten) and
    nothing on the step an episode ends (the count there is the next episode's start)."""
    pytest.importorskip("longplay.envs.quest.game")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import ShapingWeights

    counts = iter([[0, 4], [1, 4], [1, 6], [3, 0], [4, 1]])
    now: list[torch.Tensor] = []

    def flags() -> torch.Tensor:
        return now[-1]

    shaping = DeviceShaping(ShapingWeights(event=2.0), 2, torch.device("cpu"), flags=flags)
    vector = _vectors(x=[0, 0])
    now.append(torch.tensor(next(counts), dtype=torch.int32))
    shaping.reset(vector)
    paid = []
    for done in ([False, False], [False, False], [False, True], [False, False]):
        now.append(torch.tensor(next(counts), dtype=torch.int32))
        paid.append(shaping(vector, torch.tensor(done))["event"].tolist())
    assert paid == [[2.0, 0.0], [0.0, 4.0], [4.0, 0.0], [2.0, 2.0]]


def test_device_novelty_decays_with_the_episodes_that_stood_there() -> None:
    try:
        import longplay.envs.quest.game  # noqa: F401 - DeviceShaping reads its VECTOR_FIELDS
    except ImportError as exc:
        pytest.skip(f"the quest game is not complete yet: {exc}")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import ShapingWeights

    shaping = DeviceShaping(ShapingWeights(novelty=1.0, novelty_decay=3.0), 2, torch.device("cpu"))

    def at(col: int) -> torch.Tensor:
        return _vectors(x=[col, col])

    still, restart = torch.tensor([False, False]), torch.tensor([True, True])
    shaping.reset(at(0))
    assert shaping(at(1), still)["novelty"].tolist() == [1.0, 1.0]  # both envs' first episode there
    assert shaping(at(0), restart)["novelty"].tolist() == [0.0, 0.0]  # the step that starts new episodes
    # one visiting episode per env so far: 1 / sqrt(1 + 3)
    assert shaping(at(1), still)["novelty"].tolist() == pytest.approx([0.5, 0.5])


def test_device_novelty_by_stage_renews_tiles_after_a_milestone() -> None:
    try:
        import longplay.envs.quest.game  # noqa: F401 - DeviceShaping reads its VECTOR_FIELDS
    except ImportError as exc:
        pytest.skip(f"the quest game is not complete yet: {exc}")
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.wrappers.shaping import TERMS, ShapingWeights

    def at(col: int, milestones: int) -> torch.Tensor:
        return _vectors(x=[col], milestones=[milestones])

    still = torch.tensor([False])
    for by_stage, paid in ((0, [1.0, 0.0, 0.0]), (1, [1.0, 1.0, 0.0])):
        shaping = DeviceShaping(ShapingWeights(novelty=1.0, novelty_by_stage=by_stage), 1, torch.device("cpu"))
        shaping.reset(at(0, 0))
        got = [shaping(at(1, 0), still), shaping(at(0, 1), still), shaping(at(0, 1), still)]
        assert [float(g["novelty"]) for g in got] == paid
        assert tuple(got[0]) == TERMS  # the terms the learner sums and logs


def test_ppo_device_staggers_the_first_episodes_ends(tmp_path: Path) -> None:
    """Envs cut at the same step would stay in lockstep for the whole run (see ppo_device.train)."""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.agents.rl.ppo_device import train
    from longplay.envs.quest.batched import BatchedQuest

    engine = BatchedQuest(16, size="mini", max_episode_steps=400)
    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", learner="ppo-device", vec_env="batched", num_envs=16,
                  n_steps=4, total_steps=64, max_episode_steps=400, eval_every=-1)
    train(config, engine=engine)
    limits = engine.episode_limit.tolist()
    assert len(set(limits)) > 8 and 1 <= min(limits) and max(limits) <= 400
    # the reported lengths are the steps played, not the staggered counters (all 4: one 4-step rollout)
    assert set(engine.episode_length.tolist()) <= {4} | {4 - lim for lim in limits if lim < 4}


@pytest.mark.parametrize("by_level", [0, 1])
def test_device_damage_matches_the_wrapper_on_the_oracles_battles(by_level: int) -> None:
    """The ``damage`` term (and its ``damage_by_level`` variant), computed from the batched engine's vector on
    the device and from the reference game's state by the wrapper, pays the same at every step of the
    oracle's first battles."""
    pytest.importorskip("longplay.envs.quest.batched")
    import gymnasium as gym

    import longplay.envs  # noqa: F401
    from longplay.agents.oracle import OracleAgent
    from longplay.agents.rl.ppo_device import DeviceShaping
    from longplay.envs.quest.batched import BatchedQuest
    from longplay.envs.wrappers.shaping import RewardShaping, ShapingWeights

    weights = ShapingWeights(damage=1.0, damage_by_level=by_level)
    env = RewardShaping(gym.make("longplay/QuestMini-v0", max_episode_steps=None), weights)
    agent = OracleAgent()
    obs, info = env.reset(seed=0)
    agent.reset(env, obs, info, 0)
    engine = BatchedQuest(1, size="mini", max_episode_steps=None)
    shaping = DeviceShaping(weights, 1, torch.device("cpu"))
    full = DeviceShaping(ShapingWeights(damage=1.0), 1, torch.device("cpu"))
    start = engine.reset(seed=0)["vector"]
    shaping.reset(start)
    full.reset(start)
    paid: list[tuple[float, float]] = []
    plain: list[float] = []
    while sum(1 for p in paid if p[0]) < 12:
        button = agent.act(obs, info)
        obs, _, _, _, info = env.step(button)
        raw, _, terminated, truncated, _ = engine.step(torch.tensor([button]))
        device = shaping(raw["vector"], terminated | truncated)["damage"]
        plain.append(float(full(raw["vector"], terminated | truncated)["damage"]))
        paid.append((info["shaping"]["damage"], float(device)))
        assert len(paid) < 3000
    assert [round(w, 5) for w, _ in paid] == [round(d, 5) for _, d in paid]
    assert 0 < max(w for w, _ in paid) <= 1.0
    if by_level:  # the oracle's partner meets creatures below its level: those hits pay less than in full
        assert sum(w for w, _ in paid) < sum(plain) - 0.1


def test_sb3_on_the_batched_engine_staggers_the_first_episodes_ends(tmp_path: Path) -> None:
    """SB3's adapter over quest's batched engine spreads the envs' first episode ends, as ppo-device does."""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.agents.rl.batched import make_sb3_vec_env

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", vec_env="batched", num_envs=16, max_episode_steps=400)
    venv = make_sb3_vec_env(config, "cpu")
    venv.reset()
    limits = venv.engine.episode_limit.tolist()
    assert len(set(limits)) > 8 and 1 <= min(limits) and max(limits) <= 400
    assert venv.engine.episode_length.tolist() == [0] * 16  # lengths count the steps played
    venv.reset()
    assert venv.engine.episode_limit.tolist() != limits  # each reset draws again (its seed moved on)


def test_sb3_on_the_batched_engine_logs_milestones_per_episode_and_running(tmp_path: Path) -> None:
    """``--learner ppo --vec-env batched`` logged no ``charts/milestones`` nor ``charts/milestones_now`` (which
    docs/rl.md lists and the same run on ``--vec-env dummy`` logs): quest's SB3 adapter gave no ``milestones`` in
    its infos. Every env's info now holds its count, a done env's that of the episode it ended."""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.agents.rl.sb3_train import train

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", vec_env="batched", num_envs=4, max_episode_steps=8,
                  eval_every=-1)
    tags = {tag for point in read_metrics(train(config).run_dir) for tag in point}
    assert {"charts/episodes", "charts/milestones", "charts/milestones_max", "charts/milestones_now",
            "charts/milestones_now_max"} <= tags


def test_sb3_on_the_batched_engine_logs_each_milestones_rate(tmp_path: Path) -> None:
    """``--learner ppo --vec-env batched`` logged no ``charts/milestone_rate/<id>``, which ppo-device and SB3 over
    reference envs log: its adapter gave each episode's count, not which milestones. (These first episodes can
    only leave the house, so its rate is their milestones per episode.)"""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.agents.rl.sb3_train import train

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", vec_env="batched", num_envs=32, max_episode_steps=64,
                  total_steps=2048, eval_every=-1)
    rated = [p for p in read_metrics(train(config).run_dir) if "charts/milestone_rate/left_house" in p]
    assert rated and any(p["charts/milestone_rate/left_house"] > 0 for p in rated)
    for point in rated:
        assert point["charts/milestone_rate/left_house"] == point["charts/milestones"]


@pytest.mark.parametrize("learner, vec_env", [("ppo", "dummy"), ("ppo", "batched"), ("ppo-device", "batched")])
def test_every_learner_logs_the_rate_of_every_milestone_of_the_catalog(learner: str, vec_env: str,
                                                                       tmp_path: Path) -> None:
    """SB3 logged ``charts/milestone_rate/<id>`` only for the milestones some episode of the window reached, and
    ppo-device logged every milestone of the catalog (0 for the others): a chart of a rate had gaps in one learner
    and zeroes in the other. Every learner now logs the whole catalog at each point with finished episodes (these
    8-step episodes reach none but ``left_house``, and rarely that)."""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.envs.quest.worldgen import build_world

    train, config = _learner(learner, tmp_path, env_id="longplay/QuestMini-v0", vec_env=vec_env, num_envs=4,
                             max_episode_steps=8, eval_every=-1)
    catalog = {f"charts/milestone_rate/{m}" for m in build_world("mini", 0).milestone_ids}
    ended = [p for p in read_metrics(train(config).run_dir) if "charts/episodes" in p]
    assert ended and len(catalog) == 7
    for point in ended:
        assert {tag for tag in point if tag.startswith("charts/milestone_rate/")} == catalog


def test_sb3_on_the_batched_engine_compiles_its_step_with_torch_compile(tmp_path: Path, eager_compile) -> None:
    """``--torch-compile`` with ``--learner ppo --vec-env batched`` compiles the engine's step (on the eager
    backend here, which traces as inductor does but compiles in seconds); the steps equal the eager engine's."""
    pytest.importorskip("longplay.envs.quest.batched")
    from longplay.agents.rl.batched import make_sb3_vec_env

    config = tiny(tmp_path, env_id="longplay/QuestMini-v0", vec_env="batched", num_envs=8, max_episode_steps=400)
    def compiled(engine) -> bool:  # the one step graph, or with battle passes (the CPU default) the pass's
        return engine._step_fn != engine._step if engine.battle_pass is None else engine._pass_fn != engine._battle_pass

    plain = make_sb3_vec_env(config, "cpu")
    assert not compiled(plain.engine)
    config.torch_compile = True
    venv = make_sb3_vec_env(config, "cpu")
    assert eager_compile and compiled(venv.engine)
    plain.reset()
    venv.reset()
    for k in range(20):
        actions = np.full(8, k % 8)
        plain.step_async(actions)
        venv.step_async(actions)
        (obs_a, rew_a, done_a, _), (obs_b, rew_b, done_b, _) = plain.step_wait(), venv.step_wait()
        assert all(np.array_equal(obs_a[key], obs_b[key]) for key in obs_a)
        assert np.array_equal(rew_a, rew_b) and np.array_equal(done_a, done_b)


def test_a_first_episode_cut_short_logs_its_shaping() -> None:
    """The stagger cuts each env's first episode short; outside the shaping wrapper, that end carried no
    ``shaping_episode``, so every env's first episode logged no shaping and no milestone return."""
    from longplay.agents.rl.sb3_train import make_train_env

    config = TrainConfig(env_id="longplay/QuestMini-v0", obs_mode="symbolic", shaping="quest", max_episode_steps=64)
    env = make_train_env(config, rank=3)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps = 0
    while True:
        _, _, terminated, truncated, info = env.step(int(rng.integers(8)))
        steps += 1
        if terminated or truncated:
            break
    assert steps < 64  # the stagger cut it
    assert set(info["shaping_episode"]) and "episode" in info
    env.close()


def test_the_toy_engines_sb3_vec_env_answers_has_attr_and_refuses_a_partial_set_attr(tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3")
    from longplay.agents.rl.batched import make_sb3_vec_env

    vec_env = make_sb3_vec_env(tiny(tmp_path, vec_env="toy", num_envs=4), "cpu")
    assert vec_env.get_attr("render_mode") == [None] * 4
    assert vec_env.has_attr("num_envs") and not vec_env.has_attr("no_such_attribute")  # it answered True
    with pytest.raises(AttributeError):
        vec_env.get_attr("no_such_attribute")
    vec_env.set_attr("max_episode_steps", 5)  # every env: the one engine
    assert vec_env.get_attr("max_episode_steps", [0, 3]) == [5, 5]
    with pytest.raises(ValueError, match="name only some of them"):
        vec_env.set_attr("max_episode_steps", 7, indices=[1])
    assert vec_env.get_attr("max_episode_steps") == [5] * 4


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
def test_the_toy_engines_sb3_vec_env_gives_the_info_keys_quests_gives(obs_mode: str, tmp_path: Path) -> None:
    """It gave no ``terminal_observation`` nor ``TimeLimit.truncated``, which quest's ``BatchedVecEnv`` gives, so
    SB3 took every cut toy episode for a terminated one and bootstrapped none of them: the tests in which it
    stands in for the batched engine trained another value target. Env 0 walks to the goal (terminated at step
    24), env 1 walks down to the wall and is cut at step 30; both then start at the start."""
    pytest.importorskip("stable_baselines3")
    from longplay.agents.rl.batched import make_sb3_vec_env

    vec_env = make_sb3_vec_env(tiny(tmp_path, vec_env="toy", num_envs=2, max_episode_steps=30, obs_mode=obs_mode),
                               "cpu")
    start = vec_env.reset()
    route = [3] * 9 + [2] * 3 + [1] * 9 + [3] * 3  # right to the flag, left to the gap, down, right to the goal
    ended = {}
    for step, press in enumerate([*route, *[0] * 6], start=1):
        obs, _, dones, infos = vec_env.step(np.array([press, 1]))
        assert all("milestones" in info for info in infos)  # every env's count, as quest's adapter gives it
        for i in np.flatnonzero(dones):
            ended[i] = (step, infos[i], obs)
    (end0, info0, obs0), (end1, info1, obs1) = ended[0], ended[1]
    assert (end0, info0["TimeLimit.truncated"], info0["milestones"]) == (24, False, 3)
    assert (end1, info1["TimeLimit.truncated"], info1["milestones"]) == (30, True, 1)
    if obs_mode == "symbolic":  # the vector's x and y
        assert info0["terminal_observation"]["vector"][3:5].tolist() == [10, 10]
        assert info1["terminal_observation"]["vector"][3:5].tolist() == [1, 4]
        assert obs0["vector"][0, 3:5].tolist() == obs1["vector"][1, 3:5].tolist() == [1, 1]  # the next episodes'
    else:
        for i, info in ((0, info0), (1, info1)):
            assert info["terminal_observation"].shape == vec_env.observation_space.shape
            assert not np.array_equal(info["terminal_observation"], start[i])
        assert np.array_equal(obs1[1], start[1])


def test_the_toy_engines_sb3_vec_env_refuses_what_set_attr_cannot_change(tmp_path: Path) -> None:
    """It set any name at all, as quest's BatchedVecEnv refuses: ``obs_mode`` changed nothing (the spaces stayed),
    a misspelt name made a new attribute, and a per-env tensor was replaced by a number. Both adapters now follow
    one rule (quest's ``set_attr_value``)."""
    pytest.importorskip("stable_baselines3")
    from longplay.agents.rl.batched import make_sb3_vec_env

    vec_env = make_sb3_vec_env(tiny(tmp_path, vec_env="toy", num_envs=2), "cpu")
    vec_env.reset()
    for name, value in (("obs_mode", "pixels"), ("num_envs", 4), ("mask", 0), ("render_mode", "rgb_array")):
        with pytest.raises(ValueError, match=rf"set_attr\('{name}'\): fixed at construction") as info:
            vec_env.set_attr(name, value)
        assert "\n" not in str(info.value) and "settable: max_episode_steps" in str(info.value)
    assert vec_env.engine.obs_mode == "symbolic" and vec_env.engine.num_envs == 2
    with pytest.raises(AttributeError, match=r"set_attr\('max_episode_step'\): no such attribute"):
        vec_env.set_attr("max_episode_step", 10)
    assert not hasattr(vec_env.engine, "max_episode_step")
    for value in (0, -1, "10", 2.5, True, 2**31):  # 2**31: quest's adapter refused it, the toy's took it
        with pytest.raises(ValueError, match=r"invalid max_episode_steps .*; must be an int in 1\.\.2\*\*31-1"):
            vec_env.set_attr("max_episode_steps", value)
    vec_env.set_attr("max_episode_steps", np.int64(3))  # the next episodes are cut at 3 steps
    for _ in range(3):
        *_, dones, _ = vec_env.step(np.zeros(2, np.int64))
    assert dones.all()
    vec_env.set_attr("max_episode_steps", None)
    assert vec_env.engine.max_episode_steps is None
