"""Evaluation episodes during training, recorded as replays named with the training step.

Each evaluation plays the current policy (through the ``ppo`` agent, exactly as ``longplay run`` would) on
the reference env with the env's own sparse reward, for ``eval_steps`` steps from fixed seeds, so results
at different training steps are comparable. Each episode is recorded to
``RUN_DIR/replays/<time>__<env>__ppo__<run>-step<N>__seed<S>.lpr`` with the training step in the header
(``training``), so ``longplay compare`` charts a training run beside LM agents. A line per episode also
goes to ``RUN_DIR/eval.jsonl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import gymnasium as gym

from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.policy_agent import LoadedPolicy, PPOAgent

#: Evaluation episode ``i`` resets with this seed plus ``i`` (the same at every training step).
EVAL_SEED = 10_000


def make_eval_env(config: TrainConfig) -> gym.Env:
    """The reference env evaluation plays on: raw observations, sparse reward, ``eval_steps`` long."""
    kwargs = dict(config.env_kwargs)
    kwargs.update(obs_mode=config.obs_mode, max_episode_steps=config.eval_steps)
    return gym.make(config.env_id, **kwargs)


def start_options(config: TrainConfig) -> dict[str, Any] | None:
    """The reset options of ``config.start_state`` (``{"state": bytes}``), or None; ``ValueError`` (one line)
    when the file cannot be read."""
    if config.start_state is None:
        return None
    try:
        return {"state": Path(config.start_state).expanduser().read_bytes()}
    except OSError as exc:
        raise ValueError(f"invalid start_state {config.start_state!r}: cannot read it "
                         f"({exc.strerror or exc})") from None


def check_env_settings(config: TrainConfig, env_factory: Callable[[TrainConfig], gym.Env] | None = None) -> None:
    """Builds the run's reference env once, before a run starts, so that a bad env option (``--set``), a
    button subset the env lacks or a start state it refuses fails at once, in one line (``ValueError``),
    instead of in every worker process or at the first evaluation, after the training it cost."""
    from longplay.envs.game import GameError
    from longplay.envs.registration import check_options
    from longplay.envs.wrappers.buttons import button_subset

    if env_factory is None:  # a factory may build an env other than the registered one
        check_options(config.env_id, config.env_kwargs)
    try:
        env = (env_factory or make_eval_env)(config)
    except TypeError as exc:  # an unknown keyword
        raise ValueError(f"invalid env option for {config.env_id}: {exc}") from None
    except GameError as exc:
        raise ValueError(str(exc)) from None
    try:
        if config.vec_env == "batched":  # an env, or a valid option, the batched engine does not take
            from longplay.agents.rl.batched import quest_engine_kwargs

            quest_engine_kwargs(config)
        if config.buttons:
            button_subset(config.buttons, getattr(env.action_space, "n", None))
        options = start_options(config)
        if options is not None:
            env.reset(seed=config.seed, options=options)  # refused: "cannot start from this state: ..."
    finally:
        env.close()


def evaluate(policy: LoadedPolicy, config: TrainConfig, step: int, run_dir: str | Path, run_name: str,
             env_factory: Callable[[TrainConfig], gym.Env] | None = None) -> dict[str, float]:
    """Plays ``config.eval_episodes`` episodes; returns ``charts/eval/...`` scalars (means over episodes).

    Args:
        policy: The policy to play.
        config: The run's config (env, evaluation budget, recording).
        step: The training step (names the replays).
        run_dir: The run's folder (replays go to ``run_dir/replays``).
        run_name: The run's name (part of each replay's name).
        env_factory: Builds the env (default :func:`make_eval_env`).
    """
    from longplay.agents.runner import run

    run_dir = Path(run_dir)
    agent = PPOAgent(policy=policy, deterministic=config.eval_deterministic)
    options = start_options(config)
    totals = {"milestones": 0.0, "progress": 0.0, "return": 0.0, "finished": 0.0, "seconds": 0.0}
    for episode in range(config.eval_episodes):
        seed = EVAL_SEED + episode
        env = (env_factory or make_eval_env)(config)
        replay = None
        if config.record_eval:
            env, replay = _record(env, config, step, run_dir, run_name, seed)
        try:
            result = run(env, agent, config.eval_steps, seed=seed, progress=False, options=options)
        finally:
            env.close()
        catalog = getattr(env.unwrapped, "catalog", ())
        totals["milestones"] += len(result.milestones)
        totals["progress"] += len(result.milestones) / len(catalog) if catalog else 0.0
        totals["return"] += result.reward
        totals["finished"] += float(result.finished)
        totals["seconds"] += result.seconds
        line = {"step": step, "episode": episode, "seed": seed, "milestones": result.milestones,
                "steps": result.steps, "finished": result.finished, "return": result.reward,
                "replay": str(replay) if replay else None, "time": time.time()}
        with (run_dir / "eval.jsonl").open("a") as f:
            f.write(json.dumps(line) + "\n")
    n = config.eval_episodes
    return {f"charts/eval/{k}": v / n for k, v in totals.items()}


def _record(env: gym.Env, config: TrainConfig, step: int, run_dir: Path, run_name: str,
            seed: int) -> tuple[gym.Env, Path | None]:
    try:
        from longplay.replays.recorder import Recorder, run_path
    except ImportError:  # replays not installed: eval.jsonl still has the results
        return env, None
    model = f"{run_name}-step{step}"
    path = run_path(run_dir / "replays", config.env_id, "ppo", model, seed)
    kwargs = dict(config.env_kwargs)
    kwargs.update(obs_mode=config.obs_mode, max_episode_steps=config.eval_steps)
    recorder = Recorder(env, path, env_id=config.env_id, env_kwargs=kwargs, agent="ppo", model=model,
                        config=config.to_dict(),
                        extra_header={"budget": {"steps": config.eval_steps},
                                      "training": {"run": run_name, "step": step, "learner": config.learner,
                                                   "shaping": config.shaping, "seed": config.seed}})
    return recorder, path


def evaluation_due(config: TrainConfig, done: AbstractSet[int], step: int, last_step: int) -> bool:
    """Whether a run resumed at ``step`` (a checkpoint's) must first play the evaluation that was due there and
    has no result in ``metrics.jsonl``: the run was killed in it (each learner saves the checkpoint, then
    evaluates). ``done``: the steps whose evaluation has a result (``RunLog.evaluated_steps``, from the one read
    of ``metrics.jsonl`` on resume). Due means what the learners' schedule says: the first step at or past the
    next multiple of ``eval_every`` after the last evaluation, or the run's ``last_step`` (the evaluation at the
    end; with ``eval_every`` 0 the only one). A fresh run (``step`` 0) has none due."""
    if config.eval_every == -1:
        return False
    if step in done:
        return False
    if step >= last_step:
        return True
    if config.eval_every == 0:
        return False
    before = max((s for s in done if s < step), default=0)
    return (before // config.eval_every + 1) * config.eval_every <= step


def read_evals(run_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of a run's ``eval.jsonl`` (for benchmarks and tests)."""
    path = Path(run_dir) / "eval.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
