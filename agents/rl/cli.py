"""``longplay train``: the command line of both learners, generated from :class:`TrainConfig`.

Every field of the config is a flag (``--learning-rate``, ``--n-steps`` ...) whose help is the field's
docstring; ``--env`` and ``--steps`` are short for ``--env-id`` and ``--total-steps``; ``--set KEY=VALUE``
passes env keyword arguments. ``--resume RUN_DIR_OR_CHECKPOINT`` continues a run with its saved config (only
the budget, device, evaluation, checkpointing and progress flags may change, and, as a curriculum step, the
fields in :data:`CURRICULUM`: the shaping, the episode length, the learning rate and its annealing, the entropy
coefficient, the update passes and the archive options; the config before the change stays beside the run's as
``config.before_step_N.json``). Resuming, ``--steps`` is the run's total (refused below the checkpoint's step);
without it the run goes on to its saved total (a run that ended past it, in whole updates, only finishes).

    longplay train --env QuestMini-v0 --steps 2000000 --shaping quest
    longplay train --env QuestMini-v0 --obs-mode pixels --num-envs 16 --device cuda
    longplay train --resume runs/train/QuestMini-v0__ppo-quest__seed0__20260101-120000 --steps 4000000
"""

from __future__ import annotations

import argparse
import json
import re
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, NamedTuple

from longplay.agents.cli import CliError, env_kwargs, options_apply_phrase, output_path_problem, resolve_env_id
from longplay.agents.rl.config import ARCHIVE_CELLS, DEVICES, LEARNERS, OBS_MODES, VEC_ENVS, TrainConfig, field_docs

#: Short spellings of some fields' flags.
ALIASES = {"env_id": ["--env"], "total_steps": ["--steps"]}
#: Fields a resumed run may change; the rest must match the run being continued.
RESUMABLE = {"total_steps", "device", "progress", "eval_every", "eval_episodes", "eval_steps",
             "eval_deterministic", "record_eval", "select_episodes", "checkpoint_every", "keep_checkpoints",
             "runs_dir", "torch_threads", "torch_compile", "cuda_graph"}
#: Fields a resumed run may change as a curriculum step (the earlier config is kept beside the run's). The
#: learning rate belongs here: an annealed run resumed for more steps goes on from its annealed rate, which
#: late in a long curriculum is too small to learn the new step's behaviour. So do the update passes: fewer
#: epochs buy env steps per minute where exploring matters more than squeezing each rollout.
CURRICULUM = {"shaping", "max_episode_steps", "learning_rate", "anneal_lr", "ent_coef", "n_epochs", "n_minibatches",
              "archive_starts", "archive_cell", "archive_episode_steps", "archive_explore_steps",
              "archive_cell_tiles", "archive_frontier", "archive_focus"}
#: A value argparse must take as one (not as a flag): a negative number as ``float`` reads it.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)
_CHOICES = {"learner": LEARNERS, "vec_env": VEC_ENVS, "obs_mode": OBS_MODES, "device": DEVICES,
            "archive_cell": ARCHIVE_CELLS}


def _optional(kind: Any) -> Any:
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null") else kind(text)

    return parse


def add_train_subcommand(subparsers: Any) -> None:
    """Adds ``train`` to the ``longplay`` command's subparsers."""
    p = subparsers.add_parser(
        "train", help="train an RL policy (PPO) on an env",
        description="Train PPO (Stable-Baselines3, or the device-resident learner on the batched engine) "
                    "on a longplay env. Logs to TensorBoard, saves checkpoints, records evaluation replays.",
    )
    # argparse takes a value only when it looks like a negative number, which it spells "-3" or "-0.5": "-1e-4",
    # "-inf" and "-nan" read as flags ("--learning-rate: expected one argument"). Every numeric value reaches
    # the config's checks, whose messages say what is valid.
    p._negative_number_matcher = NEGATIVE_NUMBER
    docs = field_docs(TrainConfig)
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        if f.name == "env_kwargs":
            continue
        flags = [*ALIASES.get(f.name, []), "--" + f.name.replace("_", "-")]
        kind = hints[f.name]
        default = f.default if f.default is not MISSING else None
        help_text = docs.get(f.name, "").replace("``", "")
        if kind is bool:
            p.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=f"{help_text} (default: {default})")
            continue
        args = typing.get_args(kind)
        optional = isinstance(kind, types.UnionType) and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else kind
        parse = _optional(base) if optional else base
        p.add_argument(*flags, dest=f.name, type=parse, default=argparse.SUPPRESS,
                       choices=_CHOICES.get(f.name), metavar=None if f.name in _CHOICES else f.name.upper(),
                       help=f"{help_text} (default: {default})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env keyword argument")
    p.add_argument("--rom", default=None, metavar="PATH", help="Game Boy ROM file (Game Boy envs; --set rom=PATH)")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue the run in this folder (its newest checkpoint) or from this checkpoint")
    p.add_argument("--export-policy", default=None, metavar="PATH",
                   help="also write the final policy alone (no optimizer state: small, for sharing)")
    p.set_defaults(func=cmd_train)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def _check_archive_options(given: dict[str, Any], config: TrainConfig) -> None:
    """CliError naming the archive options given on the command line (``given``; not those a resumed run saved,
    which a later curriculum step may turn back on) when the run has no archived starts: they would do nothing."""
    idle = sorted("--" + k.replace("_", "-") for k in given if k.startswith("archive_") and k != "archive_starts")
    if idle and not config.archive_starts:
        raise CliError(f"{options_apply_phrase(idle)} only with --archive-starts above 0 "
                       "(archived starts are off)")


def _resume_target(path_text: str) -> tuple[Path, Path, TrainConfig, int]:
    """(run folder, checkpoint, saved config, the checkpoint's step) for ``--resume PATH``."""
    path = Path(path_text)
    if path.is_dir():
        run_dir = path
        found = sorted((run_dir / "checkpoints").glob("step_*.zip")) + sorted(
            (run_dir / "checkpoints").glob("step_*.pt"))
        if not found:
            raise CliError(f"no checkpoint to resume in {run_dir / 'checkpoints'}")
        checkpoint = max(found, key=lambda p: p.stem)
    elif path.is_file():
        if path.parent.name.startswith("replaced_") and path.parent.parent.name == "checkpoints":
            # (the run's metrics and evaluations of that part are gone; resumed here it became a run of its own
            # inside the checkpoints folder)
            raise CliError(f"cannot resume {path}: a checkpoint the run set aside when it was resumed from an "
                           "earlier one; to train on from it, copy it into a folder of its own and --resume the copy "
                           "(a new run there, from its weights)")
        checkpoint = path
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    else:
        raise CliError(f"nothing to resume at {path}: give a run folder or a checkpoint file")
    from longplay.agents.rl.runlog import curriculum_configs

    config_path = run_dir / "config.json"
    # a checkpoint before a curriculum step goes on with the config that trained past it, not the step's
    try:
        step = _check_resumable(checkpoint)
    except CliError as exc:
        if not path.is_dir():
            raise
        # the newest cannot be read: named, not skipped (resuming an older one sets the newer aside, kept)
        older = next((p for p in sorted(found, key=lambda p: p.stem, reverse=True)[1:] if _readable(p)), None)
        raise CliError(f"{exc}; the newest readable checkpoint of the run: --resume {older}" if older else str(exc)) \
            from None
    before = curriculum_configs(run_dir)
    later = sorted(n for n in before if n > step)
    if later:
        config_path = before[later[0]]
    if config_path.is_file():
        config = _read_config(config_path)
    else:
        from longplay.agents.rl.policy_agent import CheckpointError, load_policy

        try:
            config = load_policy(checkpoint).config
        except CheckpointError as exc:
            raise CliError(str(exc)) from None
    from longplay.agents.rl.sb3_train import START_STATE_FILE

    kept = run_dir / START_STATE_FILE
    if config.start_state is not None and kept.is_file():  # the run's own copy, wherever the folder went
        config.start_state = str(kept.resolve())
    return run_dir, checkpoint, config, step


def _read_config(path: Path) -> TrainConfig:
    """The config a run saved at ``path``; CliError (one line) when it cannot be read (cut short by a kill while it
    was written, before those writes were atomic, or edited by hand)."""
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError) as exc:  # (a JSONDecodeError is a ValueError)
        then = "the checkpoint's" if path.name == "config.json" else "the run's config.json"
        raise CliError(f"cannot read {path} ({exc}): move it away to resume with {then} config") from None


def _check_resumable(path: Path) -> int:
    """The env step of a checkpoint of either learner (read from the file: ``best.pt`` names none); raises
    CliError for anything else (an exported policy has no optimizer state to go on with; it was taken for one,
    and its folder for the run's, where config.json was written)."""
    import zipfile

    unreadable = f"cannot resume {path}: not a readable checkpoint (truncated or damaged, or another kind of file)"
    try:
        with zipfile.ZipFile(path) as archive:
            if {"data", "policy.pth"} <= set(archive.namelist()):  # Stable-Baselines3's format
                try:
                    return int(json.loads(archive.read("data"))["num_timesteps"])
                except (ValueError, KeyError, TypeError):
                    raise CliError(f"cannot resume {path}: not a longplay checkpoint") from None
    except zipfile.BadZipFile:  # (torch's files are zips too: a checkpoint cut short ends up here)
        raise CliError(unreadable) from None
    import torch

    from longplay.agents.rl.policy_agent import DEVICE_FORMAT, POLICY_FORMAT

    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - a zip that is not torch's either (or one cut short: an SB3 checkpoint cut
        # in its inner optimizer file opens as that file's zip)
        raise CliError(unreadable) from None
    kind = data.get("format") if isinstance(data, dict) else None
    if kind == POLICY_FORMAT:
        raise CliError(f"cannot resume {path}: an exported policy (weights only, no optimizer state); resume its "
                       "run's checkpoint (RUN_DIR/checkpoints/step_N)")
    if kind != DEVICE_FORMAT:
        raise CliError(f"cannot resume {path}: not a longplay checkpoint")
    return int(data["step"])


def _readable(path: Path) -> bool:
    """Whether ``path`` is a checkpoint ``--resume`` takes."""
    try:
        _check_resumable(path)
    except CliError:
        return False
    return True


def _check_total_steps(total: int, step: int) -> None:
    """CliError when a resumed run's ``--steps`` (given on the command line) is below its checkpoint's step: it
    would train nothing, yet write that budget into config.json (``--steps`` taken for the steps to add, which it
    is not)."""
    if total < step:
        raise CliError(f"cannot resume to --steps {total:,}: the checkpoint is at step {step:,}, and on resume "
                       f"--steps is the run's total, not the steps to add (--steps {step + total:,} trains "
                       f"{total:,} more)")


def _keep_config_before(run_dir: Path, step: int, config: TrainConfig, changes: dict[str, Any]) -> None:
    """A curriculum step: saves the config in force up to the checkpoint at ``step`` as
    ``config.before_step_N.json``.

    A second change at the same checkpoint (the first one trained nothing past it) keeps the first file: the
    config that trained up to step N is the one saved then, not the change that never ran."""
    before = run_dir / f"config.before_step_{step}.json"
    if not before.exists():
        before.write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    said = ", ".join(f"--{k.replace('_', '-')} {getattr(config, k)} -> {v}" for k, v in changes.items())
    print(f"longplay train: curriculum step at {step:,}: {said}")


class TrainSetup(NamedTuple):
    """What ``longplay train`` runs: the config and, resuming, the run folder, its checkpoint and that step."""

    config: TrainConfig
    run_dir: Path | None = None
    checkpoint: Path | None = None
    start_step: int = 0


def build_config(args: argparse.Namespace) -> TrainSetup:
    """The run's config from the flags (and, resuming, the saved config); plus run folder and checkpoint."""
    given = _given(args)
    options = env_kwargs(args)
    if "env_id" in given and given.get("vec_env") != "toy" and not given["env_id"].startswith("LongplayToy/"):
        given["env_id"] = resolve_env_id(given["env_id"])
    if args.resume:
        run_dir, checkpoint, config, step = _resume_target(args.resume)
        changed = sorted(k for k, v in given.items() if k not in RESUMABLE and getattr(config, k) != v)
        fixed = [k for k in changed if k not in CURRICULUM]
        if fixed or (options and options != config.env_kwargs):
            bad = fixed[0].replace("_", "-") if fixed else "set"
            raise CliError(f"cannot change --{bad} when resuming (only: "
                           f"{', '.join('--' + k.replace('_', '-') for k in sorted(RESUMABLE | CURRICULUM))})")
        before = TrainConfig.from_dict(config.to_dict())
        for key, value in given.items():
            setattr(config, key, value)
        if "total_steps" in given:  # the saved total may be below the checkpoint: runs end in whole updates
            _check_total_steps(config.total_steps, step)
        _check_archive_options(given, config)
        if changed:
            try:  # a refused value is no curriculum step: nothing printed or kept for it
                config.validate()
            except ValueError as exc:
                raise CliError(str(exc)) from None
            _keep_config_before(run_dir, step, before, {k: given[k] for k in changed})
        return TrainSetup(config, run_dir, checkpoint, step)
    if given.get("learner") == "ppo-device" and "vec_env" not in given:
        given["vec_env"] = "batched"
    config = TrainConfig(**given, env_kwargs=options)
    _check_archive_options(given, config)
    if config.vec_env == "toy":
        from longplay.agents.rl.toy import TOY_ENV_ID, register_toy

        if "env_id" in given and given["env_id"] != TOY_ENV_ID:
            raise CliError(f"--vec-env toy trains on the toy stand-in ({TOY_ENV_ID}); drop --env")
        config.env_id = register_toy()
    else:
        config.env_id = resolve_env_id(config.env_id)
    return TrainSetup(config)


def _check_export_path(path: Path) -> None:
    """Refuses an ``--export-policy`` path that cannot be written, before the training rather than after it: a
    folder, or a path under a file."""
    problem = output_path_problem(path, want_file=True)
    if problem:
        raise CliError(f"cannot write --export-policy {path}: {problem}")


def require_rl_extra() -> None:
    """``CliError`` (one line) when the rl extra is missing: checked by ``longplay train``, and by a sweep for its
    train cells before the first cell runs."""
    try:
        import stable_baselines3  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise CliError(f"longplay train needs the rl extra: pip install 'longplay[rl]' ({exc})") from None


def cmd_train(args: argparse.Namespace) -> int:
    """Runs ``longplay train``; see the module docstring."""
    require_rl_extra()
    from longplay.agents.rl.policy_agent import CheckpointError

    if args.export_policy:
        _check_export_path(Path(args.export_policy))
    config, run_dir, checkpoint, start_step = build_config(args)
    try:
        config.validate()
        if config.learner == "ppo":
            from longplay.agents.rl.sb3_train import train

            if checkpoint is not None and checkpoint.suffix != ".zip":
                raise CliError(f"{checkpoint} is not a --learner ppo checkpoint")
        else:
            from longplay.agents.rl.ppo_device import train  # type: ignore[assignment]

            if checkpoint is not None and checkpoint.suffix != ".pt":
                raise CliError(f"{checkpoint} is not a --learner ppo-device checkpoint")
        settings = (f"{config.num_envs} envs, {config.vec_env}, {config.obs_mode}, shaping {config.shaping}, "
                    f"seed {config.seed}")
        # runs end in whole updates (config.final_step): the lines say the step it trains to, not the total
        final, total, batch = config.final_step, config.total_steps, config.batch_size
        rounded = f" ({total:,} steps in whole updates of {batch:,})" if final != total else ""
        if checkpoint is None:
            print(f"longplay train: {config.learner} on {config.env_id} for {final:,} steps{rounded} ({settings})")
        elif start_step < final:
            print(f"longplay train: resuming {run_dir} at step {start_step:,} to step {final:,}{rounded} "
                  f"({settings})")
        else:
            print(f"longplay train: resuming {run_dir} at step {start_step:,}, its total of {total:,} steps "
                  f"reached{f' (in whole updates of {batch:,})' if final != total else ''} ({settings}): nothing "
                  "to train; finishing (the final evaluation, if the run was stopped in it)")
        result = train(config, run_dir=run_dir, resume=checkpoint)
    except (ValueError, CheckpointError) as exc:
        raise CliError(str(exc)) from None
    trained = result.steps - result.start_step
    print(f"trained {trained:,} steps in {result.seconds:,.0f} s ({trained / max(result.seconds, 1e-9):,.0f} "
          f"steps/s), to step {result.steps:,}")
    print(f"run:        {result.run_dir}")
    print(f"checkpoint: {result.checkpoint}")
    from longplay.agents.rl.evaluation import read_evals

    evals = read_evals(result.run_dir)
    if evals:
        last = [e for e in evals if e["step"] == evals[-1]["step"]]
        reached = sum(len(e["milestones"]) for e in last) / len(last)
        print(f"evaluation at step {last[0]['step']:,}: {reached:.2f} milestones per episode"
              + (f" (replay: {last[0]['replay']})" if last[0].get("replay") else ""))
    if args.export_policy:
        from longplay.agents.rl.policy_agent import load_policy, save_policy

        try:
            exported = save_policy(args.export_policy, load_policy(result.checkpoint))
        except (OSError, RuntimeError) as exc:  # (torch.save says RuntimeError) the run itself is saved
            raise CliError(f"cannot write --export-policy {args.export_policy} ({exc}); the run's checkpoint is "
                           f"{result.checkpoint}") from None
        print(f"policy:     {exported} ({exported.stat().st_size / 1024:.0f} KiB)")
    print(f"charts:     tensorboard --logdir {result.run_dir / 'tb'}")
    return 0
