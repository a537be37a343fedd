"""``longplay train --learner ppo``: Stable-Baselines3 PPO on any longplay env.

* Observations: ``symbolic`` with SB3's multi-input policy, ``pixels`` with its CNN policy (grayscale,
  downsampling and frame stacking as wrappers inside each worker); both use the encoder of
  :mod:`longplay.agents.rl.networks` with linear policy and value heads.
* Envs: ``SubprocVecEnv`` (or ``DummyVecEnv``) over any registered env, each env wrapped with the opt-in
  shaping of :mod:`longplay.envs.wrappers.shaping`; or the batched engine as a ``VecEnv``.
* Logs: TensorBoard and ``metrics.jsonl`` with ``charts/`` and ``losses/`` tags (SB3's own keys renamed),
  milestone rates and shaping terms per finished episode.
* Checkpoints: ``checkpoints/step_<N>.zip`` every ``checkpoint_every`` steps (SB3's format: weights, Adam
  state, step count and the schedule's progress, plus the config and the RNG states); :func:`train` with
  ``resume=`` continues the same run to the same ``total_steps``, the learning-rate schedule included.
* Evaluation: :func:`longplay.agents.rl.evaluation.evaluate` every ``eval_every`` steps, recorded as replays.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from longplay.agents.rl.config import TrainConfig, apply_torch_threads, resolve_device
from longplay.agents.rl.runlog import EpisodeStats, RunLog
from longplay.replays.files import write_atomically

#: SB3 logger keys -> (our tag, sign). Keys not listed are dropped (ours cover them).
SB3_TAGS = {
    "train/value_loss": ("losses/value_loss", 1.0),
    "train/policy_gradient_loss": ("losses/policy_loss", 1.0),
    "train/entropy_loss": ("losses/entropy", -1.0),  # SB3 logs minus the entropy
    "train/approx_kl": ("losses/approx_kl", 1.0),
    "train/clip_fraction": ("losses/clipfrac", 1.0),
    "train/explained_variance": ("losses/explained_variance", 1.0),
    "train/loss": ("losses/loss", 1.0),
    "train/learning_rate": ("charts/learning_rate", 1.0),
}


@dataclass
class TrainResult:
    """Where a run ended: its folder, the step count and the last checkpoint."""

    run_dir: Path
    steps: int
    checkpoint: Path
    seconds: float
    start_step: int = 0  # where this call began (a resumed run's checkpoint step): steps - start_step were trained


# ============================================================================================== envs
def make_train_env(config: TrainConfig, rank: int = 0) -> gym.Env:
    """One training env: the registered env, opt-in shaping, pixel preprocessing, SB3's ``Monitor``."""
    from stable_baselines3.common.monitor import Monitor

    import longplay.envs  # noqa: F401 - registers the ids in worker processes
    from longplay.agents.rl.evaluation import start_options
    from longplay.envs.wrappers.buttons import ButtonSubset
    from longplay.envs.wrappers.pixels import PixelPreprocess, StackFrames
    from longplay.envs.wrappers.shaping import RewardShaping, parse_shaping
    from longplay.envs.wrappers.stagger import StaggerFirstEpisode
    from longplay.envs.wrappers.start import StartFromState

    kwargs = dict(config.env_kwargs)
    kwargs["obs_mode"] = config.obs_mode
    env = gym.make(config.env_id, max_episode_steps=config.max_episode_steps, **kwargs)
    options = start_options(config)
    if options is not None:  # every episode, the ones the vector env resets by itself too
        env = StartFromState(env, options["state"])
    if config.max_episode_steps:  # spread the envs' episode ends (a vector started together stays in lockstep)
        # inside the shaping: a first episode cut short still ends there, with its shaping sums logged
        env = StaggerFirstEpisode(env, config.max_episode_steps, seed=config.seed * 100_003 + rank)
    weights = parse_shaping(config.shaping)
    if weights.enabled():
        env = RewardShaping(env, weights)
    if config.buttons:
        env = ButtonSubset(env, config.buttons)
    if config.obs_mode == "pixels":
        env = PixelPreprocess(env, config.grayscale, config.downsample)
        if config.frame_stack > 1:
            env = StackFrames(env, config.frame_stack)
    return Monitor(env)


def _env_fn(config: TrainConfig, rank: int) -> Any:
    def make() -> gym.Env:
        if config.vec_env == "toy" or config.env_id.startswith("LongplayToy/"):
            from longplay.agents.rl.toy import register_toy

            register_toy()
        return make_train_env(config, rank)

    return make


def make_vec_env(config: TrainConfig, device: str) -> Any:
    """The ``VecEnv`` that ``config.vec_env`` names (``subproc``, ``dummy``, ``batched``, ``toy``)."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if config.vec_env in ("batched", "toy"):  # (no shaping nor buttons here: TrainConfig.validate)
        from longplay.agents.rl.batched import make_sb3_vec_env

        venv = make_sb3_vec_env(config, device)
        if config.obs_mode == "pixels":
            venv = _pixel_vec_wrappers(venv, config)
        return venv
    fns = [_env_fn(config, i) for i in range(config.num_envs)]
    if config.vec_env == "subproc" and config.num_envs > 1:
        return SubprocVecEnv(fns)
    return DummyVecEnv(fns)


def milestone_ids(venv: Any) -> list[str]:
    """The milestone ids of the training envs' catalogs, in catalog order: each env's ``catalog`` (reference envs,
    under any wrappers), else the batched engine's worlds'; none for an engine that names no milestones (the toy
    engine counts them)."""
    if venv.has_attr("catalog"):
        catalogs = [[m.id for m in catalog] for catalog in venv.get_attr("catalog")]
    elif venv.has_attr("worlds"):  # (engine-wide: every env's entry is the engine's worlds)
        catalogs = [world.milestone_ids for world in venv.get_attr("worlds", indices=[0])[0]]
    else:
        return []
    return list(dict.fromkeys(m for ids in catalogs for m in ids))


def _pixel_vec_wrappers(venv: Any, config: TrainConfig) -> Any:
    from gymnasium import spaces
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecFrameStack

    from longplay.envs.wrappers.pixels import preprocess_pixels, preprocessed_shape

    class VecPixelPreprocess(VecEnvWrapper):
        """:func:`preprocess_pixels` on every env's frame, a finished episode's ``terminal_observation`` too (SB3
        bootstraps a truncated episode's value from it, and ``VecFrameStack`` stacks it with the frames before)."""

        def __init__(self, venv: Any) -> None:
            shape = preprocessed_shape(venv.observation_space.shape, config.grayscale, config.downsample)
            super().__init__(venv, observation_space=spaces.Box(0, 255, shape, np.uint8))

        def _map(self, obs: np.ndarray) -> np.ndarray:
            return np.stack([preprocess_pixels(o, config.grayscale, config.downsample) for o in obs])

        def reset(self) -> np.ndarray:
            return self._map(self.venv.reset())

        def step_wait(self) -> Any:
            obs, reward, done, infos = self.venv.step_wait()
            for info in infos:
                if "terminal_observation" in info:
                    info["terminal_observation"] = preprocess_pixels(info["terminal_observation"], config.grayscale,
                                                                     config.downsample)
            return self._map(obs), reward, done, infos

    venv = VecPixelPreprocess(venv)
    return VecFrameStack(venv, config.frame_stack, channels_order="last") if config.frame_stack > 1 else venv


# ============================================================================================== model
def learning_rate(config: TrainConfig) -> Any:
    """SB3's learning-rate schedule for ``config``: linear to 0 over the run when annealed, else constant."""
    from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule

    return (LinearSchedule(config.learning_rate, 0.0, 1.0) if config.anneal_lr
            else ConstantSchedule(config.learning_rate))


def build_model(config: TrainConfig, venv: Any, device: str) -> Any:
    """A fresh SB3 PPO for ``config`` (the run's config and observation description ride in its save)."""
    from stable_baselines3 import PPO

    from longplay.agents.rl.networks import SB3Extractor, describe_space

    policy = "MultiInputPolicy" if isinstance(venv.observation_space, gym.spaces.Dict) else "CnnPolicy"
    model = PPO(
        policy, venv, learning_rate=learning_rate(config), n_steps=config.n_steps, batch_size=config.minibatch_size,
        n_epochs=config.n_epochs, gamma=config.gamma, gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef, vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm,
        normalize_advantage=config.norm_adv, target_kl=config.target_kl, seed=config.seed, device=device,
        verbose=0,
        policy_kwargs={"features_extractor_class": SB3Extractor,
                       "features_extractor_kwargs": {"features_dim": config.features_dim},
                       "net_arch": {"pi": [], "vf": []}},
    )
    model.longplay_config = config.to_dict()
    # The env's observations as they are (channels last), before SB3 transposes images for its CNN.
    model.longplay_description = describe_space(venv.observation_space)
    return model


def _rng_state() -> dict[str, Any]:
    import torch

    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict[str, Any] | None) -> None:
    import torch

    if state:
        torch.set_rng_state(state["torch"])
        np.random.set_state(state["numpy"])
        random.setstate(state["python"])


# ============================================================================================== logging
def _runlog_writer(runlog: RunLog) -> Any:
    from stable_baselines3.common.logger import KVWriter

    class RunLogWriter(KVWriter):
        """SB3's logger output into :class:`RunLog`, keys renamed to ``charts/`` and ``losses/``."""

        def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
            values = {}
            for key, value in key_values.items():
                if key in SB3_TAGS and isinstance(value, (int, float, np.floating, np.integer)):
                    tag, sign = SB3_TAGS[key]
                    values[tag] = sign * float(value)
            runlog.scalars(values, step)

        def close(self) -> None:
            pass

    return RunLogWriter()


def _callback(config: TrainConfig, run_dir: Path, run_name: str, runlog: RunLog) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm import tqdm

    from longplay.agents.rl.evaluation import evaluate, evaluation_due
    from longplay.agents.rl.policy_agent import actor_critic_from_sb3

    class TrainingCallback(BaseCallback):
        """Episode statistics, SPS, checkpoints and evaluations at the right steps."""

        def _on_training_start(self) -> None:
            steps = self.model.num_timesteps
            self.stats = EpisodeStats(milestone_ids(self.training_env))
            self.next_checkpoint = (steps // config.checkpoint_every + 1) * config.checkpoint_every
            self.next_eval = (steps // config.eval_every + 1) * config.eval_every if config.eval_every > 0 \
                else None
            self.t0, self.s0 = time.perf_counter(), steps
            self.bar = tqdm(total=config.total_steps, initial=steps, unit="step", disable=not config.progress,
                            dynamic_ncols=True, leave=False)
            self.last_checkpoint: Path | None = None
            # resumed: the checkpoint's evaluation, played already (not again at the end of a finished run) or
            # due and cut short by the kill that stopped the run (played now)
            # (from RunLog's one read of metrics.jsonl)
            evaluated = runlog.evaluated_steps()
            self.last_eval_step = steps if steps in evaluated else -1
            if evaluation_due(config, evaluated, steps, config.total_steps):
                self.evaluate()

        def _on_step(self) -> bool:
            for info, done in zip(self.locals["infos"], self.locals["dones"], strict=True):
                if not done or "episode" not in info:
                    continue
                ep = info["episode"]
                shaping = info.get("shaping_episode")
                milestone_return = ep["r"] - sum(shaping.values()) if shaping else None
                # the batched engine's adapter gives a count as "milestones" and names them apart
                reached = info.get("milestones_reached", info.get("milestones"))
                self.stats.add(ep["r"], ep["l"], reached, shaping, milestone_return)
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_rollout_start(self) -> None:
            # After the previous update: its losses belong to this step, and its weights and Adam state are
            # what a checkpoint must capture.
            steps = self.model.num_timesteps
            self.model.logger.dump(steps)
            if steps >= self.next_checkpoint:
                self.save()
                self.next_checkpoint = (steps // config.checkpoint_every + 1) * config.checkpoint_every
            if self.next_eval is not None and steps >= self.next_eval:
                self.evaluate()
                self.next_eval = (steps // config.eval_every + 1) * config.eval_every

        def _on_rollout_end(self) -> None:
            steps = self.model.num_timesteps
            values = self.stats.summary()
            self.stats.clear()
            values["charts/SPS"] = (steps - self.s0) / max(time.perf_counter() - self.t0, 1e-9)
            # Episodes can outlast many rollouts: also log where the running ones are.
            now = [len(m) if isinstance(m, dict) else int(m)
                   for m in (info.get("milestones") for info in self.locals["infos"]) if m is not None]
            if now:
                values["charts/milestones_now"] = sum(now) / len(now)
                values["charts/milestones_now_max"] = float(max(now))
            runlog.scalars(values, steps)
            if "charts/milestones" in values:
                self.bar.set_postfix_str(f"milestones/episode {values['charts/milestones']:.2f}")

        def _on_training_end(self) -> None:
            self.bar.close()
            self.model.logger.dump(self.model.num_timesteps)  # the last update's losses
            self.save()
            if config.eval_every != -1 and self.last_eval_step != self.model.num_timesteps:
                self.evaluate()
            runlog.flush()

        def save(self) -> Path:
            steps = self.model.num_timesteps
            self.last_checkpoint = save_checkpoint(self.model, run_dir, steps, config.keep_checkpoints)
            return self.last_checkpoint

        def evaluate(self) -> None:
            steps = self.model.num_timesteps
            policy = actor_critic_from_sb3(self.model)
            runlog.scalars(evaluate(policy, config, steps, run_dir, run_name), steps)
            self.last_eval_step = steps

    return TrainingCallback()


def save_checkpoint(model: Any, run_dir: Path, steps: int, keep: int) -> Path:
    """Saves ``checkpoints/step_<N>.zip`` (with the RNG states); deletes all but the newest ``keep``."""
    folder = run_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{steps:012d}.zip"
    model.longplay_rng = _rng_state()
    write_atomically(path, model.save)
    write_atomically(folder / "latest.txt", lambda p: p.write_text(path.name + "\n"))
    if keep > 0:
        for old in sorted(folder.glob("step_*.zip"))[:-keep]:
            old.unlink()
    return path


#: The run folder's copy of ``--start-state``, which its config names and a resume reads.
START_STATE_FILE = "start.state"


def run_folder(config: TrainConfig) -> Path:
    """The folder a run of ``config`` (its ``run_name`` set) gets when none is given: ``runs_dir/train/<run_name>``."""
    return Path(config.runs_dir) / "train" / config.run_name


def holds_a_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run's checkpoints, where a fresh run is refused (:func:`start_run_folder`)."""
    return any((run_dir / "checkpoints").glob("step_*"))


def start_run_folder(config: TrainConfig, run_dir: Path, resume: str | Path | None,
                     env_factory: Callable[[TrainConfig], gym.Env] | None = None) -> None:
    """What both learners do before a run starts: the checks, then the folder with ``config.json``.

    A fresh run is refused in a folder that holds a run's checkpoints (``--run-name`` given twice: its
    ``config.json`` would replace the one they were trained with, and its checkpoints would mix with theirs);
    a folder without checkpoints (a run stopped before its first) may be started again, and what that run logged
    goes (:func:`~longplay.agents.rl.runlog.drop_stopped_attempt`). The env settings are
    checked by building the run's env once (:func:`~longplay.agents.rl.evaluation.check_env_settings`), so
    nothing is written for a run that cannot start. A fresh run's start state is copied into the folder
    (:data:`START_STATE_FILE`), and its config names the copy.
    """
    from longplay.agents.rl.evaluation import check_env_settings
    from longplay.agents.rl.runlog import drop_stopped_attempt

    if resume is None and holds_a_run(run_dir):
        raise ValueError(f"{run_dir} already holds a run's checkpoints: continue it with --resume {run_dir}, "
                         "or give another --run-name")
    if config.vec_env == "toy" or config.env_id.startswith("LongplayToy/"):
        from longplay.agents.rl.toy import register_toy

        register_toy()
    if config.vec_env == "batched":  # before the env is built: a Game Boy env would first ask for its ROM
        from longplay.agents.rl.batched import quest_env_spec

        quest_env_spec(config)
    check_env_settings(config, env_factory)
    if resume is None and run_dir.is_dir():
        drop_stopped_attempt(run_dir)  # started again after a run stopped before its first checkpoint
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # --runs-dir is a file, or a folder no one may write in
        raise ValueError(f"invalid runs_dir {config.runs_dir!r}: cannot make the run folder {run_dir} "
                         f"({exc.strerror or exc})") from None
    if resume is None and config.start_state is not None:
        # The run keeps its own copy: resumed from another folder, or after the file changed, it trains on.
        from longplay.agents.rl.evaluation import start_options

        state = start_options(config)["state"]
        kept = write_atomically(run_dir / START_STATE_FILE, lambda p: p.write_bytes(state))
        config.start_state = str(kept.resolve())
    # written again at every resume: aside and renamed, so a run killed here keeps the config it had
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    write_atomically(run_dir / "config.json", lambda p: p.write_text(text))


def checkpoint_step(path: str | Path) -> int:
    """The env step in a checkpoint's file name (``step_000000002048.zip``: 2048); 0 for any other name."""
    stem = Path(path).stem
    return int(stem.removeprefix("step_")) if stem.startswith("step_") else 0


def latest_checkpoint(run_dir: str | Path, suffix: str = ".zip") -> Path | None:
    """The newest checkpoint of a run folder ending in ``suffix`` (``""``: either learner's), or None."""
    found = sorted((Path(run_dir) / "checkpoints").glob(f"step_*{suffix}"))
    return found[-1] if found else None


# ============================================================================================== train
def train(config: TrainConfig, run_dir: str | Path | None = None,
          resume: str | Path | None = None) -> TrainResult:
    """Trains (or, with ``resume``, continues) a run; see the module docstring.

    Args:
        config: The run's settings (validated here).
        run_dir: The run folder (default ``runs_dir/train/<run_name>``; when resuming, the checkpoint's run).
        resume: A checkpoint file to continue from: its weights, Adam state, step count and RNG states.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger

    config.validate()
    device = resolve_device(config.device)
    apply_torch_threads(config.torch_threads)
    run_name = config.run_name = config.run_name or config.default_run_name()
    run_dir = Path(run_dir) if run_dir else run_folder(config)
    start_run_folder(config, run_dir, resume)
    import torch

    start = time.perf_counter()
    venv = make_vec_env(config, device)
    try:
        if resume is not None:
            # the config's rate, entropy and update passes, which a curriculum step may change, replace the saved ones
            model = PPO.load(resume, env=venv, device=device,
                             custom_objects={"learning_rate": learning_rate(config), "ent_coef": config.ent_coef,
                                             "n_epochs": config.n_epochs, "batch_size": config.minibatch_size})
            model.longplay_config = config.to_dict()
            _set_rng_state(getattr(model, "longplay_rng", None))
            venv.seed(config.seed + model.num_timesteps)  # fresh episodes, still reproducible
            resume_step = int(model.num_timesteps)
        else:
            torch.manual_seed(config.seed)
            model = build_model(config, venv, device)
            resume_step = None
        runlog = RunLog(run_dir, resume_step=resume_step)
        if resume_step is None:
            runlog.text("config", "```\n" + json.dumps(config.to_dict(), indent=2) + "\n```")
        model.set_logger(Logger(folder=None, output_formats=[_runlog_writer(runlog)]))
        callback = _callback(config, run_dir, run_name, runlog)
        remaining = max(config.total_steps - int(model.num_timesteps), 0)
        try:
            if remaining:
                # reset_num_timesteps=False: SB3 adds the steps done so far: the schedule ends at total_steps.
                model.learn(remaining, callback=callback, log_interval=1, reset_num_timesteps=False)
            else:
                callback.init_callback(model)
                callback.on_training_start({}, {})
                callback.on_training_end()
        finally:
            runlog.close()
    finally:
        venv.close()
    checkpoint = callback.last_checkpoint or latest_checkpoint(run_dir)
    assert checkpoint is not None
    return TrainResult(run_dir, int(model.num_timesteps), checkpoint, time.perf_counter() - start, resume_step or 0)
