"""The ``ppo`` agent (loading any checkpoint, reproducible play) and the ``longplay train`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from longplay.agents.cli import CliError
from longplay.agents.rl.cli import add_train_subcommand
from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.evaluation import read_evals
from longplay.agents.rl.policy_agent import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    LoadedPolicy,
    PPOAgent,
    load_policy,
    save_policy,
)
from longplay.agents.rl.toy import TOY_ENV_ID, make_toy_env, register_toy
from longplay.agents.runner import run

register_toy()
TINY = ["--num-envs", "2", "--n-steps", "16", "--n-minibatches", "2", "--n-epochs", "1",
        "--features-dim", "32", "--eval-steps", "32", "--torch-threads", "1", "--device", "cpu",
        "--no-progress"]


def longplay(argv: list[str]) -> int:
    """``longplay train ...`` as the lead's ``main`` runs it: CliError -> one line on stderr, exit 2."""
    parser = argparse.ArgumentParser(prog="longplay")
    add_train_subcommand(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"longplay: error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture(scope="module")
def sb3_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from longplay.agents.rl.sb3_train import train

    config = TrainConfig(env_id=TOY_ENV_ID, vec_env="dummy", num_envs=2, n_steps=16, n_minibatches=2,
                         n_epochs=1, total_steps=32, features_dim=32, eval_every=-1, progress=False,
                         torch_threads=1, device="cpu", runs_dir=str(tmp_path_factory.mktemp("runs")),
                         run_name="a")
    return train(config).checkpoint


def test_sb3_checkpoint_as_actor_critic(sb3_checkpoint: Path, tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    model = PPO.load(sb3_checkpoint, device="cpu")
    policy = load_policy(sb3_checkpoint)
    assert policy.step == 32 and policy.config.env_id == TOY_ENV_ID
    obs, _ = make_toy_env().reset(seed=0)
    tensor, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        expected = model.policy.get_distribution(tensor).distribution.logits[0].double().numpy()
    def log_probs(logits: np.ndarray) -> np.ndarray:
        return logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()

    assert np.allclose(log_probs(policy.logits(obs)), expected, atol=1e-5)  # SB3 keeps normalised logits
    exported = save_policy(tmp_path / "policy.zip", policy)
    assert exported.stat().st_size < sb3_checkpoint.stat().st_size
    assert np.allclose(log_probs(load_policy(exported).logits(obs)), expected, atol=1e-5)


def test_agent_plays_reproducibly(sb3_checkpoint: Path) -> None:
    results = []
    for _ in range(2):
        agent = PPOAgent(checkpoint=sb3_checkpoint)
        assert agent.obs_mode == "symbolic" and agent.name == "ppo" and agent.model_name.endswith("@32")
        results.append(run(make_toy_env(max_episode_steps=64), agent, 64, seed=5, progress=False))
    assert results[0].milestones == results[1].milestones and results[0].steps == results[1].steps
    greedy = PPOAgent(checkpoint=sb3_checkpoint, deterministic=True)
    assert run(make_toy_env(), greedy, 16, seed=0, progress=False).steps == 16


def test_bad_checkpoints_are_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    foreign = tmp_path / "other.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("x.txt", "x")
    for path, message in ((tmp_path / "missing.zip", "not found"), (text, "not a longplay checkpoint"),
                          (foreign, "checkpoint")):
        with pytest.raises(CheckpointError, match=message) as info:
            load_policy(path)
        assert "\n" not in str(info.value)


def test_shipped_policy_loads() -> None:
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint in this checkout")
    agent = PPOAgent()
    assert agent.policy.config.env_id == "longplay/QuestMini-v0"
    assert DEFAULT_CHECKPOINT.stat().st_size < 2 * 1024 * 1024


def test_shipped_policy_earns_the_badge() -> None:
    """The shipped policy is a trained one: from the world's start it takes the partner, reaches the lane, beats
    a trainer and wins the gym's badge, which ends the episode (random presses leave the house and nothing
    more)."""
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped checkpoint in this checkout")
    import gymnasium as gym

    import longplay.envs  # noqa: F401

    env = gym.make("longplay/QuestMini-v0")
    agent = PPOAgent()
    obs, info = env.reset(seed=0)
    agent.reset(env, obs, info, 0)
    terminated = False
    for _ in range(4096):
        obs, _, terminated, _, info = env.step(agent.act(obs, info))
        if terminated:
            break
    assert terminated
    assert {"left_house", "got_partner", "reached_kelglen_lane", "first_trainer_win", "badge_1"} \
        <= set(info["milestones"])


# ============================================================================================== CLI
def test_train_resume_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY]
    assert longplay([*common, "--steps", "64", "--run-name", "r", "--checkpoint-every", "32",
                     "--eval-every", "64"]) == 0
    out = capsys.readouterr().out
    assert "checkpoint:" in out and "evaluation at step 64" in out
    run_dir = tmp_path / "train" / "r"
    assert longplay(["train", "--resume", str(run_dir), "--steps", "96", "--no-progress", "--torch-threads", "2",
                     "--export-policy", str(tmp_path / "p.zip")]) == 0  # how it runs may change, not what
    assert (run_dir / "checkpoints" / "step_000000000096.pt").is_file() and (tmp_path / "p.zip").is_file()
    out = capsys.readouterr().out
    assert f"resuming {run_dir} at step 64 to step 96 (2 envs" in out  # not "for 96 steps": it trains 32
    assert "trained 32 steps in" in out and "to step 96" in out  # this call's steps
    # a run at (or, in whole updates, past) its total trains nothing: said first, not "for 96 steps" then 0 trained
    assert longplay(["train", "--resume", str(run_dir), "--no-progress", "--torch-threads", "2"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run_dir} at step 96, its total of 96 steps reached" in out and "nothing to train" in out
    assert "trained 0 steps" in out
    assert longplay(["train", "--resume", str(run_dir), "--obs-mode", "pixels"]) == 2
    err = capsys.readouterr().err
    assert "cannot change --obs-mode when resuming" in err and err.count("\n") == 1


def test_a_ppo_device_resume_says_the_step_it_trains_to_not_a_total_it_rounds_down(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ppo-device trains its total in whole updates, rounded down: resumed at 64 with --steps 112 (updates of 32)
    it trains to 96, but said "to its total of 112 steps"; with --steps 120 at 96 it trains nothing, but said it
    would go on to 120."""
    assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "64", "--run-name", "d", "--eval-every", "-1"]) == 0
    run_dir = tmp_path / "train" / "d"
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir), "--steps", "112"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run_dir} at step 64 to step 96 (112 steps in whole updates of 32)" in out
    assert "trained 32 steps in" in out and "to step 96" in out
    assert longplay(["train", "--resume", str(run_dir), "--steps", "120"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run_dir} at step 96, its total of 120 steps reached (in whole updates of 32)" in out
    assert "nothing to train" in out and "trained 0 steps" in out


def test_a_resume_may_start_keeping_the_best_checkpoint(tmp_path: Path) -> None:
    common = ["--env", "QuestMini-v0", "--vec-env", "batched", "--learner", "ppo-device", "--runs-dir",
              str(tmp_path), "--max-episode-steps", "16", "--eval-every", "0", "--no-record-eval", *TINY]
    assert longplay(["train", *common, "--steps", "32", "--run-name", "s"]) == 0
    run_dir = tmp_path / "train" / "s"
    assert not (run_dir / "best.json").exists()
    assert longplay(["train", "--resume", str(run_dir), "--steps", "64", "--select-episodes", "2"]) == 0
    assert json.loads((run_dir / "best.json").read_text())["step"] == 64
    assert (run_dir / "checkpoints" / "best.pt").is_file()


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_resume_may_change_shaping_episode_length_learning_rate_and_epochs_as_a_curriculum_step(
        learner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from longplay.agents.rl.runlog import read_metrics

    common = ["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY]
    assert longplay([*common, "--steps", "32", "--run-name", "c", "--eval-every", "-1"]) == 0
    run_dir = tmp_path / "train" / "c"
    before = json.loads((run_dir / "config.json").read_text())
    assert before["anneal_lr"]  # so the first part ended with the rate annealed to nearly 0
    capsys.readouterr()
    shaping = "quest" if learner == "ppo-device" else "none"  # SB3 shapes on the reference engine, not the toy
    assert longplay(["train", "--resume", str(run_dir), "--steps", "64", "--no-progress",
                     "--max-episode-steps", "7", "--shaping", shaping, "--learning-rate", "0.00125",
                     "--no-anneal-lr", "--ent-coef", "0.02", "--n-epochs", "2", "--n-minibatches", "1"]) == 0
    out = capsys.readouterr().out
    assert "curriculum step at 32: --anneal-lr" in out and "trained 32 steps in" in out
    assert json.loads((run_dir / "config.before_step_32.json").read_text()) == before
    now = json.loads((run_dir / "config.json").read_text())
    assert (now["max_episode_steps"], now["shaping"]) == (7, shaping) and now["total_steps"] == 64
    assert (now["learning_rate"], now["anneal_lr"], now["ent_coef"]) == (0.00125, False, 0.02)
    assert (now["n_epochs"], now["n_minibatches"]) == (2, 1)
    if learner == "ppo":  # SB3 keeps its own copy of the update passes in the saved model
        from stable_baselines3 import PPO
        model = PPO.load(run_dir / "checkpoints" / "step_000000000064.zip", device="cpu")
        assert (model.n_epochs, model.batch_size) == (2, 32)
    # the resumed optimizer trains at the new rate, not the rate saved in the checkpoint
    rates = [p["charts/learning_rate"] for p in read_metrics(run_dir) if p["step"] > 32 and
             "charts/learning_rate" in p]
    assert rates and all(r == pytest.approx(0.00125) for r in rates)
    # a second change at the same checkpoint keeps the config that trained up to it
    (run_dir / "checkpoints" / "step_000000000064.zip").unlink(missing_ok=True)
    (run_dir / "checkpoints" / "step_000000000064.pt").unlink(missing_ok=True)
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir), "--steps", "64", "--no-progress",
                     "--ent-coef", "0.03"]) == 0
    assert "curriculum step at 32: --ent-coef 0.02 -> 0.03" in capsys.readouterr().out
    assert json.loads((run_dir / "config.before_step_32.json").read_text()) == before


@pytest.mark.parametrize("flags", [["--ent-coef", "nan"], ["--max-episode-steps", "0"], ["--n-epochs", "0"]])
def test_a_refused_curriculum_step_keeps_nothing(flags: list[str], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A resume whose new value is refused (``--ent-coef nan``) printed 'curriculum step at 32: ...' and wrote
    config.before_step_32.json before the one-line error: the run folder claimed a curriculum step that never ran.
    The values are checked first now; a refused resume leaves the folder as it was."""
    assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "32", "--run-name", "c", "--eval-every", "-1"]) == 0
    run_dir = tmp_path / "train" / "c"
    files = sorted(p.name for p in run_dir.iterdir())
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir), "--steps", "64", *flags]) == 2
    out, err = capsys.readouterr()
    assert "curriculum step" not in out and err.startswith("longplay: error: invalid") and err.count("\n") == 1
    assert sorted(p.name for p in run_dir.iterdir()) == files


def test_sb3_learner_from_the_command_line(tmp_path: Path) -> None:
    assert longplay(["train", "--vec-env", "toy", "--steps", "32", "--runs-dir", str(tmp_path),
                     "--run-name", "s", "--eval-every", "-1", *TINY]) == 0
    assert (tmp_path / "train" / "s" / "checkpoints" / "step_000000000032.zip").is_file()


@pytest.mark.parametrize("argv,message", [
    (["--num-envs", "0"], "invalid num_envs"),
    (["--env", "Nope-v0"], "unknown env"),
    (["--shaping", "nope"], "unknown shaping preset"),
    (["--resume", "/nonexistent/run"], "nothing to resume"),
    (["--learner", "ppo-device", "--vec-env", "subproc"], "batched engine"),
])
def test_bad_input_is_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert longplay(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("learner", ["ppo", "ppo-device"])
@pytest.mark.parametrize("argv,message", [
    (["--ent-coef", "-0.01"], "invalid ent_coef"),
    (["--ent-coef", "nan"], "invalid ent_coef"),
    (["--gamma", "nan"], "invalid gamma"),
    (["--gae-lambda", "nan"], "invalid gae_lambda"),
    (["--learning-rate=-1e-4"], "invalid learning_rate"),
    # argparse read these values as flags ("--learning-rate: expected one argument"), the "=" spelling not
    (["--learning-rate", "-1e-4"], "invalid learning_rate"),
    (["--ent-coef", "-1E-3"], "invalid ent_coef"),
    (["--gamma", "-inf"], "invalid gamma"),
    (["--target-kl", "-.5e1"], "invalid target_kl"),
    # SB3 failed on numpy's seed range after making the run folder; 2**64 failed in torch.manual_seed on both
    (["--seed", "4294967296"], "invalid seed"),
    (["--seed", "18446744073709551616"], "invalid seed"),
    (["--clip-range", "nan"], "invalid clip_range"),
    (["--vf-coef", "nan"], "invalid vf_coef"),
    (["--max-grad-norm", "inf"], "invalid max_grad_norm"),
    (["--target-kl", "nan"], "invalid target_kl"),
])
def test_bad_hyperparameters_exit_2_in_one_line(learner: str, argv: list[str], message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A negative or NaN --ent-coef trained without a word on both learners (NaN makes every loss NaN)."""
    vec_env = "dummy" if learner == "ppo" else "batched"
    assert longplay(["train", "--env", "QuestMini-v0", "--learner", learner, "--vec-env", vec_env, "--steps", "32",
                     "--runs-dir", str(tmp_path), "--eval-every", "-1", *TINY, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "train").exists()


@pytest.mark.parametrize("learner", ["ppo", "ppo-device"])
@pytest.mark.parametrize("argv,message", [
    (["--set", "foo=1"], "invalid env option"),
    (["--set", "size=huge"], "unknown world size"),
    (["--buttons", "up,noop"], "not a non-empty subset"),  # noop needs --set noop=true
])
def test_bad_env_settings_fail_before_training(learner: str, argv: list[str], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    vec_env = "dummy" if learner == "ppo" else "batched"
    assert longplay(["train", "--env", "QuestMini-v0", "--learner", learner, "--vec-env", vec_env, "--steps", "32",
                     "--runs-dir", str(tmp_path), "--max-episode-steps", "16", "--eval-every", "0", *TINY,
                     *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "train").exists()  # no run folder left behind


@pytest.mark.parametrize("argv,message", [
    (["--shaping", "quest"], "shaping wrappers run on the reference engine"),
    (["--buttons", "up,down"], "--buttons runs on the reference engine"),
])
def test_sb3_on_the_batched_engine_refuses_shaping_and_buttons_before_making_the_run_folder(
        argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The refusal came after the run folder was made: a folder with a config.json and nothing else stayed."""
    assert longplay(["train", "--env", "QuestMini-v0", "--vec-env", "batched", "--steps", "32", "--runs-dir",
                     str(tmp_path), "--eval-every", "0", *TINY, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "train").exists()


def test_ppo_device_refuses_shaping_on_pixels_before_making_the_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As above: the refusal came after the run folder with its config.json was made."""
    assert longplay(["train", "--env", "QuestMini-v0", "--learner", "ppo-device", "--obs-mode", "pixels",
                     "--shaping", "quest", "--steps", "32", "--runs-dir", str(tmp_path), "--eval-every", "0",
                     *TINY]) == 2
    message = "ppo-device shaping reads the symbolic vector"
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "train").exists()


def test_a_new_run_never_writes_into_a_run_with_checkpoints(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    common = ["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), "--run-name",
              "r", "--eval-every", "-1", *TINY]
    assert longplay([*common, "--steps", "32"]) == 0
    run_dir = tmp_path / "train" / "r"
    config = (run_dir / "config.json").read_text()
    capsys.readouterr()
    assert longplay([*common, "--steps", "64", "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run's checkpoints" in err and "--resume" in err and err.count("\n") == 1
    assert (run_dir / "config.json").read_text() == config  # what --resume reads is untouched
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("step_*")) == ["step_000000000032.pt"]


def test_ppo_device_without_the_engine_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "longplay.envs.quest.batched", None)
    assert longplay(["train", "--learner", "ppo-device", "--env", "QuestMini-v0", "--runs-dir", str(tmp_path),
                     *TINY]) == 2
    err = capsys.readouterr().err
    assert "batched engine" in err and "not installed" in err and err.count("\n") == 1


def test_help_shows_each_field_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        longplay(["train", "--help"])
    out = capsys.readouterr().out
    assert "Rollout length per env between updates" in out and "--resume" in out and "--set" in out


def test_agent_refuses_other_observations(sb3_checkpoint: Path) -> None:
    from types import SimpleNamespace

    from gymnasium import spaces

    agent = PPOAgent(checkpoint=sb3_checkpoint)
    other = spaces.Dict({"tiles": spaces.Box(0, 16, (9, 10), np.uint8),
                         "entities": spaces.Box(0, 1, (9, 10), np.uint8),
                         "vector": spaces.Box(-1.0, 1e7, (32,), np.float32)})
    with pytest.raises(ValueError, match="tiles: policy \\[9, 10\\] of 5 kinds, env \\[9, 10\\] of 17 kinds"):
        agent.reset(SimpleNamespace(observation_space=other), other.sample(), {}, 0)


def test_ppo_device_refuses_env_options_the_batched_engine_does_not_take(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # noop=true would reach the evaluation env only: 9 actions there against the policy's 8
    assert longplay(["train", "--env", "QuestMini-v0", "--learner", "ppo-device", "--vec-env", "batched",
                     "--steps", "32", "--runs-dir", str(tmp_path), "--eval-every", "0", *TINY,
                     "--set", "noop=true"]) == 2
    err = capsys.readouterr().err
    assert "does not take the env option 'noop'" in err and err.count("\n") == 1
    assert not (tmp_path / "train").exists()


class _SaveKilled(Exception):
    pass


def _half_written(path: Path) -> None:
    Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
    raise _SaveKilled


@pytest.mark.parametrize("learner", ["ppo", "ppo-device"])
def test_a_save_killed_midway_leaves_the_newest_whole_checkpoint_latest(learner: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from longplay.agents.rl.sb3_train import latest_checkpoint

    if learner == "ppo":
        from longplay.agents.rl.sb3_train import save_checkpoint

        class Model:
            def __init__(self, write: object) -> None:
                self.save = write

        def save(step: int, write: object) -> None:
            save_checkpoint(Model(write), tmp_path, step, keep=2)
        suffix = ".zip"
    else:
        from longplay.agents.rl.ppo_device import _checkpoint

        net = torch.nn.Linear(2, 2)
        optimizer = torch.optim.Adam(net.parameters())
        config = TrainConfig(keep_checkpoints=2)

        def save(step: int, write: object) -> None:
            if write is not None:
                monkeypatch.setattr(torch, "save", lambda obj, path: write(path))
            _checkpoint(tmp_path / "checkpoints" / f"step_{step:012d}.pt", net, optimizer, config, {}, 2, step, 1, {})
        suffix = ".pt"
    save(32, (lambda path: Path(path).write_bytes(b"whole")) if learner == "ppo" else None)
    with pytest.raises(_SaveKilled):
        save(64, _half_written)
    assert latest_checkpoint(tmp_path, suffix).name == f"step_{32:012d}{suffix}"
    assert (tmp_path / "checkpoints" / "latest.txt").read_text() == f"step_{32:012d}{suffix}\n"
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == [f"step_{32:012d}{suffix}"]


@pytest.mark.parametrize("learner", ["ppo", "ppo-device"])
@pytest.mark.parametrize("keep, kept", [(2, [48, 64]), (0, [16, 32, 48, 64])])
def test_keep_checkpoints_keeps_the_newest_that_many(learner: str, keep: int, kept: list[int],
                                                     tmp_path: Path) -> None:
    """--keep-checkpoints N leaves the newest N step checkpoints (0: all of them), on both learners."""
    if learner == "ppo":
        from longplay.agents.rl.sb3_train import save_checkpoint

        class Model:
            def save(self, path: Path) -> None:
                Path(path).write_bytes(b"whole")

        def save(step: int) -> None:
            save_checkpoint(Model(), tmp_path, step, keep=keep)
    else:
        from longplay.agents.rl.ppo_device import _checkpoint

        net = torch.nn.Linear(2, 2)
        optimizer = torch.optim.Adam(net.parameters())
        config = TrainConfig(keep_checkpoints=keep)

        def save(step: int) -> None:
            _checkpoint(tmp_path / "checkpoints" / f"step_{step:012d}.pt", net, optimizer, config, {}, 2, step, 1, {})
    for step in (16, 32, 48, 64):
        save(step)
    assert sorted(int(p.stem.removeprefix("step_")) for p in (tmp_path / "checkpoints").glob("step_*")) == kept


def test_train_takes_a_rom_as_run_and_play_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from longplay.agents.rl.cli import build_config

    parser = argparse.ArgumentParser(prog="longplay")
    add_train_subcommand(parser.add_subparsers(dest="command"))
    config = build_config(parser.parse_args(["train", "--env", "PokemonRed-v0", "--rom", "red.gb"])).config
    assert config.env_kwargs == {"rom": "red.gb"}
    # the missing-ROM message names --rom, which train now takes: one line, no run folder
    missing = tmp_path / "missing.gb"
    assert longplay(["train", "--env", "PokemonRed-v0", "--rom", str(missing), "--vec-env", "dummy", "--steps", "32",
                     "--runs-dir", str(tmp_path), "--eval-every", "0", *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.gb" in err
    assert not (tmp_path / "train").exists()


def test_a_pixel_policy_refuses_symbolic_observations_in_one_line(tmp_path: Path) -> None:
    """A pixels policy played on a symbolic env (``longplay run --agent ppo --obs-mode symbolic``) said
    ``KeyError: 'pixels'`` in a traceback; a symbolic policy on pixels already said what was wrong."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401
    from longplay.agents.rl.networks import ActorCritic

    config = TrainConfig(obs_mode="pixels", frame_stack=2)
    description = {"pixels": {"kind": "image", "shape": [72, 80, 2]}}
    policy = LoadedPolicy(ActorCritic(description, 8, 32), config, description)
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    obs, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="this policy reads pixels; make the env with obs_mode='pixels'"):
        PPOAgent(policy=policy).reset(env, obs, info, 0)


def test_a_policy_trained_with_noop_refuses_an_env_without_it_before_its_first_step() -> None:
    """A policy trained with ``noop=true`` (9 actions) played on an env without it ran until it first sampled
    action 8, then stopped with ``invalid action 8; valid: 0..7`` at a random step, a replay of the steps before
    written; ``reset`` now says what to change, before the first step (so ``longplay run`` keeps no replay)."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401
    from longplay.agents.rl.networks import ActorCritic, describe_space

    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    obs, info = env.reset(seed=0)
    description = describe_space(env.observation_space)
    config = TrainConfig(env_kwargs={"noop": True})
    policy = LoadedPolicy(ActorCritic(description, 9, 32), config, description)
    with pytest.raises(ValueError, match=r"presses actions 0\.\.8, this env has 0\.\.7: .*--set noop=true"):
        PPOAgent(policy=policy).reset(env, obs, info, 0)
    noop_env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic", noop=True)
    obs, info = noop_env.reset(seed=0)
    PPOAgent(policy=policy).reset(noop_env, obs, info, 0)  # as trained: taken
    env.close()
    noop_env.close()


def test_longplay_run_notes_a_policy_played_on_another_env_than_it_was_trained_on(capsys) -> None:
    """The shipped policy (trained on QuestMini) played QuestCanon without a word: legitimate, as a generalisation
    test, but a user who forgot ``--env`` should hear of it. On the env it was trained on there is no note."""
    from longplay.agents.cli import main

    assert load_policy(DEFAULT_CHECKPOINT).config.env_id == "longplay/QuestMini-v0"
    argv = ["run", "--agent", "ppo", "--steps", "2", "--no-record", "--quiet"]
    assert main([*argv, "--env", "QuestCanon-v0"]) == 0
    note = "longplay: note: the policy was trained on longplay/QuestMini-v0; it plays longplay/QuestCanon-v0 here\n"
    assert capsys.readouterr().err == note
    assert main([*argv, "--env", "QuestMini-v0"]) == 0
    assert "note" not in capsys.readouterr().err


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_resume_from_an_earlier_checkpoint_sets_the_later_checkpoints_aside(learner: str, tmp_path: Path) -> None:
    """Resumed from an earlier checkpoint, the run sets its later checkpoints aside. They stayed in place, so
    a later ``--resume RUN_DIR`` (the newest checkpoint) went on from the replaced part of the run; deleting
    them would lose trained weights."""
    from longplay.agents.rl.cli import _resume_target

    suffix = ".pt" if learner == "ppo-device" else ".zip"
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "96", "--run-name", "e", "--eval-every", "-1", "--checkpoint-every", "32",
                     "--keep-checkpoints", "0"]) == 0
    run_dir = tmp_path / "train" / "e"
    folder = run_dir / "checkpoints"
    assert longplay(["train", "--resume", str(folder / f"step_{32:012d}{suffix}"), "--steps", "64",
                     "--no-progress"]) == 0
    assert sorted(p.name for p in folder.glob("step_*")) == [f"step_{s:012d}{suffix}" for s in (32, 64)]
    assert (folder / "latest.txt").read_text() == f"step_{64:012d}{suffix}\n"
    assert _resume_target(str(run_dir))[1].name == f"step_{64:012d}{suffix}"
    # the replaced part's checkpoints are kept aside, not deleted (hours of training, for a real run)
    aside = [p for p in folder.iterdir() if p.is_dir()]
    assert len(aside) == 1 and aside[0].name.startswith("replaced_") and aside[0].name.endswith("_after_step_32")
    assert sorted(p.name for p in aside[0].iterdir()) == [f"step_{s:012d}{suffix}" for s in (64, 96)]


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_resume_to_fewer_steps_than_the_checkpoints_is_refused_before_anything_is_written(
        learner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--resume RUN --steps N`` with N below the checkpoint's step (N taken for steps to add) trained nothing,
    but wrote ``total_steps=N`` into config.json for good (and a curriculum step's config.before_step_*.json),
    and printed the run's old evaluation as if it were this call's. On resume --steps is the run's total."""
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "64", "--run-name", "f", "--eval-every", "-1"]) == 0
    run_dir = tmp_path / "train" / "f"
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir), "--steps", "32", "--ent-coef", "0.02", "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "the checkpoint is at step 64" in captured.err and "--steps is the run's total" in captured.err
    assert "--steps 96 trains 32 more" in captured.err
    # one step short of the checkpoint is as far below it
    assert longplay(["train", "--resume", str(run_dir), "--steps", "63", "--ent-coef", "0.02", "--no-progress"]) == 2
    assert "the checkpoint is at step 64" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_resume_without_steps_of_a_run_that_ended_past_its_total_finishes(
        learner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run ends past its total in whole updates (16 steps in updates of 32: SB3 rounds up, ppo-device does at
    least one), so its checkpoint is at 32. ``--resume RUN`` alone (as a sweep resumes a killed train cell)
    was refused, naming a ``--steps 16`` the user never gave; it finishes the run: here the final evaluation."""
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "16", "--run-name", "p", "--eval-every", "-1"]) == 0
    run_dir = tmp_path / "train" / "p"
    assert not read_evals(run_dir)
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir), "--eval-every", "0", "--eval-episodes", "1"]) == 0
    assert "to step 32" in capsys.readouterr().out
    assert [e["step"] for e in read_evals(run_dir)] == [32]


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_resume_from_before_a_curriculum_step_goes_on_with_the_config_of_then(
        learner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint saved before a curriculum step was resumed with the step's config (the run folder's
    config.json), silently: the steps after it trained with another entropy bonus than the run had there."""
    common = ["--no-progress", "--eval-every", "-1"]
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     *common, "--steps", "64", "--run-name", "c", "--checkpoint-every", "32",
                     "--keep-checkpoints", "0"]) == 0
    run_dir = tmp_path / "train" / "c"
    first = json.loads((run_dir / "config.json").read_text())
    assert longplay(["train", "--resume", str(run_dir), *common, "--steps", "96", "--ent-coef", "0.02"]) == 0
    assert (run_dir / "config.before_step_64.json").is_file()
    suffix = ".pt" if learner == "ppo-device" else ".zip"
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir / "checkpoints" / f"step_{32:012d}{suffix}"), *common,
                     "--steps", "64"]) == 0
    assert "curriculum step" not in capsys.readouterr().out
    assert json.loads((run_dir / "config.json").read_text())["ent_coef"] == first["ent_coef"] == 0.01
    assert not (run_dir / "config.before_step_64.json").exists()  # the step it kept was dropped


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_runs_dir_that_cannot_hold_a_run_is_one_line(learner: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``--runs-dir`` naming a file was a NotADirectoryError traceback (``longplay run`` says it in one line)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(afile), *TINY,
                     "--steps", "32", "--eval-every", "-1"]) == 2
    err = capsys.readouterr().err
    assert f"invalid runs_dir {str(afile)!r}: cannot make the run folder" in err and err.count("\n") == 1


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_resuming_an_exported_policy_is_refused_in_one_line(learner: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """An exported policy (--export-policy: no optimizer state) was taken for a checkpoint: an SB3 one gave
    SB3's 'AssertionError: No data found in the saved file' traceback, and both wrote a config.json beside it."""
    exported = tmp_path / "shared" / "policy.zip"
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "32", "--run-name", "x", "--eval-every", "-1", "--export-policy",
                     str(exported)]) == 0
    capsys.readouterr()
    assert longplay(["train", "--resume", str(exported), "--steps", "64", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "an exported policy" in err and err.count("\n") == 1
    assert sorted(p.name for p in exported.parent.iterdir()) == ["policy.zip"]


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_checkpoint_not_named_by_its_step_resumes_at_its_step(learner: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``--resume RUN/checkpoints/best.pt`` (or any checkpoint renamed) took step 0 from the name: a curriculum
    step there said 'at 0' and kept the config as config.before_step_0.json."""
    import shutil

    suffix = ".pt" if learner == "ppo-device" else ".zip"
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "64", "--run-name", "b", "--eval-every", "-1", "--checkpoint-every", "32",
                     "--keep-checkpoints", "0"]) == 0
    run_dir = tmp_path / "train" / "b"
    kept = run_dir / "checkpoints" / f"best{suffix}"
    shutil.copy(run_dir / "checkpoints" / f"step_{32:012d}{suffix}", kept)
    capsys.readouterr()
    assert longplay(["train", "--resume", str(kept), "--steps", "64", "--no-progress", "--eval-every", "-1",
                     "--ent-coef", "0.02"]) == 0
    assert "curriculum step at 32: --ent-coef 0.01 -> 0.02" in capsys.readouterr().out
    assert (run_dir / "config.before_step_32.json").is_file() and not (run_dir / "config.before_step_0.json").exists()


@pytest.mark.parametrize("export", ["folder", "folder/file.pt/x.pt"])
def test_an_export_policy_path_that_cannot_be_written_is_refused_before_training(
        export: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both trained the whole run, then failed with a traceback (torch.save into a folder; mkdir under a file)."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "file.pt").write_bytes(b"x")
    assert longplay(["train", "--vec-env", "toy", "--steps", "32", "--runs-dir", str(tmp_path / "runs"),
                     "--eval-every", "-1", *TINY, "--export-policy", str(tmp_path / export)]) == 2
    err = capsys.readouterr().err
    assert "cannot write --export-policy" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_an_export_that_fails_after_training_names_the_saved_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import longplay.agents.rl.policy_agent as policy_agent

    def full_disk(path: object, policy: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(policy_agent, "save_policy", full_disk)
    assert longplay(["train", "--vec-env", "toy", "--steps", "32", "--runs-dir", str(tmp_path), "--run-name", "r",
                     "--eval-every", "-1", *TINY, "--export-policy", str(tmp_path / "p.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "step_000000000032.zip" in err[0]
    assert (tmp_path / "train" / "r" / "checkpoints" / "step_000000000032.zip").is_file()


def _train_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="longplay")
    add_train_subcommand(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


@pytest.mark.parametrize("flags, named", [
    (["--archive-focus", "0.5"], "--archive-focus applies"),
    (["--archive-cell", "position", "--archive-frontier", "--archive-episode-steps", "64"],
     "--archive-cell, --archive-episode-steps, --archive-frontier apply"),
    (["--archive-explore-steps", "8", "--archive-starts", "0"], "--archive-explore-steps applies"),
    (["--archive-capacity", "8", "--archive-cell-tiles", "2"], "--archive-capacity, --archive-cell-tiles apply"),
])
def test_archive_options_without_archive_starts_are_refused_in_one_line(flags: list[str], named: str,
                                                                         tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``--archive-focus 0.5`` without ``--archive-starts`` trained without a word, and without archived starts."""
    assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "32", *flags]) == 2
    err = capsys.readouterr().err
    assert err == f"longplay: error: {named} only with --archive-starts above 0 (archived starts are off)\n", err
    assert not (tmp_path / "train").exists()


def test_archive_options_with_archive_starts_are_taken() -> None:
    from longplay.agents.rl.cli import build_config

    config = build_config(_train_args(["--learner", "ppo-device", "--archive-starts", "0.3",
                                       "--archive-focus", "0.5", "--archive-cell", "position"])).config
    assert (config.archive_starts, config.archive_focus, config.archive_cell) == (0.3, 0.5, "position")


def test_a_curriculum_step_that_turns_archive_starts_off_keeps_the_saved_archive_options(tmp_path: Path) -> None:
    """Only the archive options given on the command line are checked: those the resumed run saved stay as they
    were (a later step may turn archived starts back on with them)."""
    from longplay.agents.rl.cli import build_config

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    saved = TrainConfig(env_id=TOY_ENV_ID, vec_env="toy", learner="ppo-device", archive_starts=0.3,
                        archive_focus=0.4, archive_cell="position")
    (run_dir / "config.json").write_text(json.dumps(saved.to_dict()))
    with zipfile.ZipFile(run_dir / "checkpoints" / "step_000000000032.zip", "w") as archive:  # SB3's layout
        archive.writestr("data", json.dumps({"num_timesteps": 32}))
        archive.writestr("policy.pth", b"")
    resume = ["--resume", str(run_dir)]
    config = build_config(_train_args([*resume, "--archive-starts", "0"])).config
    assert (config.archive_starts, config.archive_focus, config.archive_cell) == (0.0, 0.4, "position")
    (run_dir / "config.before_step_32.json").unlink()
    config = build_config(_train_args([*resume, "--archive-focus", "0.2"])).config  # starts still on: taken
    assert (config.archive_starts, config.archive_focus) == (0.3, 0.2)
    (run_dir / "config.before_step_32.json").unlink()
    with pytest.raises(CliError, match=r"^--archive-focus applies only with --archive-starts above 0"):
        build_config(_train_args([*resume, "--archive-starts", "0", "--archive-focus", "0.2"]))


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_an_unreadable_config_json_is_refused_in_one_line(damage: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A config.json cut short (a run killed while it was written: it is written again at every resume) made every
    ``--resume`` a JSONDecodeError traceback. The checkpoints hold the config too: moved away, the run resumes."""
    assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "32", "--run-name", "j", "--eval-every", "-1"]) == 0
    run_dir = tmp_path / "train" / "j"
    config = run_dir / "config.json"
    config.write_text("" if damage == "empty" else config.read_text()[:50])
    capsys.readouterr()
    assert longplay(["train", "--resume", str(run_dir), "--steps", "64", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot read {config}" in err and "move it away" in err, err
    config.rename(run_dir / "config.damaged.json")
    assert longplay(["train", "--resume", str(run_dir), "--steps", "64", "--no-progress"]) == 0
    assert json.loads(config.read_text())["total_steps"] == 64


def test_a_resume_killed_while_writing_config_json_leaves_the_old_one(
        tmp_path: Path, kill_writes_halfway: Callable[[str], None]) -> None:
    """config.json was rewritten in place at every start: a kill in the write left it cut short."""
    assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "32", "--run-name", "k", "--eval-every", "-1"]) == 0
    config = tmp_path / "train" / "k" / "config.json"
    saved = config.read_text()
    kill_writes_halfway("config.json")
    with pytest.raises(KeyboardInterrupt):
        longplay(["train", "--resume", str(config.parent), "--steps", "64", "--no-progress"])
    assert config.read_text() == saved


def test_a_checkpoint_whose_network_does_not_fit_the_run_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint of another network (here --features-dim 64 among a run of 32's checkpoints) gave torch's
    many-line 'Error(s) in loading state_dict' traceback."""
    for name, features in (("n32", "32"), ("n64", "64")):
        assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path),
                         *TINY, "--steps", "32", "--run-name", name, "--eval-every", "-1",
                         "--features-dim", features]) == 0
    checkpoint = tmp_path / "train" / "n32" / "checkpoints" / f"step_{48:012d}.pt"
    (tmp_path / "train" / "n64" / "checkpoints" / f"step_{32:012d}.pt").rename(checkpoint)
    before = (tmp_path / "train" / "n32" / "metrics.jsonl").read_text()
    capsys.readouterr()
    assert longplay(["train", "--resume", str(tmp_path / "train" / "n32"), "--steps", "64", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot resume {checkpoint}" in err and "network" in err, err
    assert (tmp_path / "train" / "n32" / "metrics.jsonl").read_text() == before


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_a_damaged_newest_checkpoint_names_the_one_before_it(learner: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint cut short (a copy, a full disk) was 'not a longplay checkpoint', and ``--resume RUN_DIR`` did
    not say that the run holds whole ones to resume from."""
    suffix = ".pt" if learner == "ppo-device" else ".zip"
    assert longplay(["train", "--vec-env", "toy", "--learner", learner, "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "64", "--run-name", "d", "--eval-every", "-1", "--checkpoint-every", "32"]) == 0
    folder = tmp_path / "train" / "d" / "checkpoints"
    newest, previous = folder / f"step_{64:012d}{suffix}", folder / f"step_{32:012d}{suffix}"
    newest.write_bytes(newest.read_bytes()[:newest.stat().st_size // 2])
    capsys.readouterr()
    assert longplay(["train", "--resume", str(folder.parent), "--steps", "96", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot resume {newest}" in err and "truncated or damaged" in err, err
    assert f"--resume {previous}" in err, err
    assert longplay(["train", "--resume", str(previous), "--steps", "96", "--no-progress"]) == 0


@pytest.mark.parametrize("learner", ["ppo-device", "ppo"])
def test_the_batched_engine_refuses_an_env_it_cannot_run_before_building_it(
        learner: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``--learner ppo-device --env PokemonRed-v0`` asked for the ROM (the env was built first, to check its
    settings); given the ROM, it then said the batched engine runs quest envs only."""
    monkeypatch.delenv("LONGPLAY_ROMS", raising=False)
    assert longplay(["train", "--learner", learner, "--vec-env", "batched", "--env", "PokemonRed-v0",
                     "--runs-dir", str(tmp_path), *TINY, "--steps", "32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs quest envs only" in err and "ROM" not in err, err
    assert not (tmp_path / "train").exists()


def test_a_checkpoint_set_aside_by_a_resume_is_refused_in_one_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``--resume RUN/checkpoints/replaced_.../step_N.pt`` started a run of its own inside that folder (config.json,
    metrics.jsonl, tb/ and checkpoints/ under RUN/checkpoints/replaced_...), with none of the run's history."""
    assert longplay(["train", "--vec-env", "toy", "--learner", "ppo-device", "--runs-dir", str(tmp_path), *TINY,
                     "--steps", "64", "--run-name", "r", "--eval-every", "-1", "--checkpoint-every", "32"]) == 0
    folder = tmp_path / "train" / "r" / "checkpoints"
    assert longplay(["train", "--resume", str(folder / f"step_{32:012d}.pt"), "--steps", "64", "--no-progress"]) == 0
    aside = next(folder.glob("replaced_*"))
    before = sorted(aside.iterdir())
    capsys.readouterr()
    assert longplay(["train", "--resume", str(aside / f"step_{64:012d}.pt"), "--steps", "96", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "set aside" in err and "copy it" in err, err
    assert sorted(aside.iterdir()) == before
