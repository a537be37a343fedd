"""One cell of a sweep: its configuration, its id, its state file, and :func:`execute_cell`, which performs it.

A cell is one ``longplay run`` (an LM agent or a baseline) or one ``longplay train``. :func:`execute_cell` builds
that command line and runs it **in the calling process** through the same parser and functions as the
``longplay`` command (so a cell behaves exactly like the command printed in its state file, and a person can
re-run it by hand), with its output going to ``cells/<id>/log.txt``. Isolation comes from the backend: the
local pool and Ray run each cell in a worker process, so a cell that crashes its process loses only itself.

The output folder::

    OUT/cells/<id>.json     the cell's state: pending, running, done, failed, interrupted or budget; its
                            error, replay, milestones, steps, train_steps, tokens, dollars, seconds (every attempt's
                            together), attempts and the command line
    OUT/cells/<id>/         the cell's files: the replay (``*.lpr``), the LM checkpoint (``*.ckpt``), the
                            training run (``train/<name>/``: checkpoints, TensorBoard, evaluation replays),
                            ``log.txt``

Statuses: ``done`` (the run ended on its own budget or finished the game), ``failed`` (an error; the message is
in ``error``), ``interrupted`` (stopped by Ctrl-C or a dead worker: resumable), ``budget`` (stopped, or never
started, because the grid's dollar or token budget was spent: resumable with a larger budget).

A state file is replaced atomically (write to a temporary file, then rename), so a killed process never
leaves half a file. A running cell's is rewritten every :data:`HEARTBEAT_SECONDS` with the seconds it has run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import socket
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from longplay.replays.files import write_atomically

#: The kinds of cell: a ``longplay run`` or a ``longplay train``.
KINDS = ("run", "train")
#: Every status a cell can have (see the module docstring).
STATUSES = ("pending", "running", "done", "failed", "interrupted", "budget")
#: Statuses a new sweep runs again (resuming from checkpoints where there are some).
RUNNABLE = ("pending", "running", "failed", "interrupted", "budget")

#: LM options a grid may give a cell, and their ``longplay run`` flags.
LM_FLAGS = {
    "provider": "--provider",
    "model": "--model",
    "base_url": "--base-url",
    "api_key_env": "--api-key-env",
    "temperature": "--temperature",
    "max_output_tokens": "--max-output-tokens",
    "timeout": "--timeout",
    "price": "--price",
    "observe": "--observe",
    "image_scale": "--image-scale",
    "scaffold": "--scaffold",
    "scaffold_file": "--scaffold-file",
    "max_retries": "--max-retries",
    "max_failures": "--max-failures",
    "checkpoint_every": "--checkpoint-every",
    "obs_mode": "--obs-mode",
}
#: LM options that are booleans: ``prompt_cache = false`` is ``--no-prompt-cache``.
LM_SWITCHES = {"prompt_cache": "--no-prompt-cache"}
#: Per-run budgets of a ``run`` cell and their flags (``steps`` is the step budget).
BUDGET_FLAGS = {
    "steps": "--steps",
    "max_turns": "--max-turns",
    "max_tokens": "--max-tokens",
    "max_dollars": "--max-dollars",
    "max_seconds": "--max-seconds",
}
#: The flags that replace a checkpoint's budget when an LM run is resumed.
RESUME_BUDGET_FLAGS = {**BUDGET_FLAGS, "steps": "--max-steps"}
#: What a budget flag says to lift a limit a resumed run's checkpoint has and its cell no longer wants.
NO_LIMIT = "none"
_CHECKPOINT_BUDGET = {"steps": "max_steps", "max_turns": "max_turns", "max_tokens": "max_tokens",
                      "max_dollars": "max_dollars", "max_seconds": "max_seconds"}


# ============================================================================================== cells
@dataclass
class Cell:
    """One run of a sweep. Everything but ``label`` goes into :attr:`id`: change any of it, and it is another
    cell.

    Examples:
        >>> cell = Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline"}, budget={"steps": 50})
        >>> len(cell.id), cell.metered, cell.provider
        (10, True, 'offline')
    """

    kind: str
    """``run`` (``longplay run``) or ``train`` (``longplay train``)."""
    env_id: str
    """The registered env id."""
    seed: int
    """The run's seed (``--seed``)."""
    agent: str
    """``run``: the agent (``lm``, ``random``, ``explorer``, ``oracle``, ``ppo``); ``train``: the learner."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env keyword arguments (``--set KEY=VALUE``)."""
    lm: dict[str, Any] = field(default_factory=dict)
    """LM options (keys of :data:`LM_FLAGS` and :data:`LM_SWITCHES`); for baselines only ``obs_mode`` and
    ``checkpoint``."""
    budget: dict[str, Any] = field(default_factory=dict)
    """The run's own budgets (keys of :data:`BUDGET_FLAGS`)."""
    train: dict[str, Any] = field(default_factory=dict)
    """``train`` cells: ``TrainConfig`` fields (``longplay train --help``)."""
    variant: str = ""
    """``train`` cells: the name of the config variant (part of the run name)."""
    label: str = ""
    """The configuration's name in tables and charts (every seed of a configuration shares it)."""

    def to_dict(self) -> dict[str, Any]:
        """The cell as a JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        """The inverse of :meth:`to_dict`."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def id(self) -> str:
        """A short hash of the cell's configuration (not of its label): stable across sweeps and machines."""
        config = {k: v for k, v in self.to_dict().items() if k != "label"}
        text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    @property
    def metered(self) -> bool:
        """True for cells that spend tokens and dollars (LM agents), which the grid's budget limits."""
        return self.kind == "run" and self.agent == "lm"

    @property
    def provider(self) -> str:
        """What the cell's concurrency is limited by: the LM provider, ``train`` or ``baseline``."""
        if self.metered:
            return str(self.lm.get("provider") or "offline")
        return "train" if self.kind == "train" else "baseline"

    @property
    def name(self) -> str:
        """The label with the seed, for progress lines."""
        return f"{self.label or self.id} seed{self.seed}"

    @property
    def run_name(self) -> str:
        """``train`` cells: the training run's name, shared by the seeds of one configuration."""
        parts = [self.env_id.rsplit("/", 1)[-1], self.agent]
        if self.variant:
            parts.append(self.variant)
        return "__".join(_slug(p) for p in parts)

    # ------------------------------------------------------------------------------------------ commands
    def run_argv(self, runs_dir: str | os.PathLike[str], caps: Caps | None = None,
                 resume: str | os.PathLike[str] | None = None, resume_budget: dict[str, Any] | None = None
                 ) -> list[str]:
        """The ``longplay run`` arguments of this cell (``resume``: continue that LM checkpoint instead, with
        ``resume_budget``: the budget the checkpoint has, which these arguments must replace)."""
        argv = ["--agent", self.agent, "--runs-dir", str(runs_dir), "--quiet"]
        budget = dict(self.budget)
        if caps is not None:
            budget.update(caps.flags())
        if resume is not None:
            argv += ["--resume", str(resume)]
            for key, flag in RESUME_BUDGET_FLAGS.items():
                value = budget.get(key)
                had = (resume_budget or {}).get(_CHECKPOINT_BUDGET[key])
                if value is None and had is not None:
                    value = NO_LIMIT  # the checkpoint has a limit the cell no longer wants
                if value is not None:
                    argv += [flag, _text(value)]
            return argv
        argv += ["--env", self.env_id, "--seed", str(self.seed)]
        for key, value in sorted(self.env_kwargs.items()):
            argv += ["--set", f"{key}={json.dumps(value)}"]
        for key, value in self.lm.items():
            if key in LM_SWITCHES:
                if not value:
                    argv.append(LM_SWITCHES[key])
            elif key == "checkpoint":
                argv += ["--checkpoint", str(value)]
            elif value is not None:
                argv += [LM_FLAGS[key], _text(value)]
        for key, flag in BUDGET_FLAGS.items():
            if budget.get(key) is not None:
                argv += [flag, _text(budget[key])]
        return argv

    def train_argv(self, runs_dir: str | os.PathLike[str], resume: str | os.PathLike[str] | None = None
                   ) -> list[str]:
        """The ``longplay train`` arguments of this cell (``resume``: continue that run folder)."""
        if resume is not None:
            return ["--resume", str(resume), "--no-progress"]
        argv = ["--env", self.env_id, "--learner", self.agent, "--seed", str(self.seed),
                "--runs-dir", str(runs_dir), "--run-name", self.run_name, "--no-progress"]
        for key, value in self.train.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag if value else f"--no-{key.replace('_', '-')}")
            else:
                argv += [flag, "none" if value is None else _text(value)]
        for key, value in sorted(self.env_kwargs.items()):
            argv += ["--set", f"{key}={json.dumps(value)}"]
        return argv


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9.+=-]+", "-", text).strip("-") or "x"


@dataclass
class Caps:
    """The share of the grid's budget a metered cell may spend, in totals over all its sessions (the run
    stops at the first turn boundary past either)."""

    max_tokens: int | None = None
    max_dollars: float | None = None

    def flags(self) -> dict[str, Any]:
        """The budget entries these caps set (``None`` caps set nothing)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


# ============================================================================================== results
@dataclass
class CellResult:
    """What one attempt at a cell left: its status and, where there is a replay, what the run reached."""

    id: str
    status: str
    """One of :data:`STATUSES`."""
    error: str = ""
    """Why a cell failed (one line), or what stopped it."""
    replay: str | None = None
    """The replay, relative to the sweep's output folder (``train`` cells: the last evaluation's)."""
    milestones: dict[str, int] = field(default_factory=dict)
    """Milestone id -> first step reached."""
    catalog: int = 0
    """Milestones in the catalogs of the worlds the run played (one world's catalog, unless the env draws one per
    reset seed)."""
    steps: int = 0
    """Env steps its replay recorded, the steps its milestones were reached in (``train`` cells: the last
    evaluation's replay)."""
    train_steps: int = 0
    """``train`` cells: env steps of training (its newest checkpoint's, or its last evaluation's)."""
    turns: int = 0
    """LM turns."""
    tokens: int = 0
    """LM tokens, in and out, cache included (all sessions of the run)."""
    dollars: float = 0.0
    """LM dollars (all sessions of the run)."""
    seconds: float = 0.0
    """Wall-clock seconds of this attempt (the state file's ``seconds`` sums every attempt: :func:`write_state`'s
    ``seconds``)."""
    stop_reason: str = ""
    """LM runs: what ended the run (``steps``, ``tokens``, ``finished`` ...)."""
    command: str = ""
    """The command line this attempt ran."""
    caps: dict[str, Any] = field(default_factory=dict)
    """The share of the grid's budget this attempt was given."""
    host: str = ""
    """The machine that ran this attempt."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        """A result from a state file (other keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ============================================================================================== state files
def cell_dir(out_dir: str | os.PathLike[str], cell_id: str) -> Path:
    """The folder of a cell's files."""
    return Path(out_dir) / "cells" / cell_id


def state_path(out_dir: str | os.PathLike[str], cell_id: str) -> Path:
    """The cell's state file."""
    return Path(out_dir) / "cells" / f"{cell_id}.json"


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Writes ``data`` as JSON to ``path`` atomically (:func:`~longplay.replays.files.write_atomically`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text))


def read_state(out_dir: str | os.PathLike[str], cell_id: str) -> dict[str, Any] | None:
    """The cell's state, or ``None`` when it has none (never started) or it cannot be read. A ``train`` cell's
    state written before ``train_steps`` held its training steps in ``steps``: they are read as ``train_steps``,
    and it has no ``steps`` (its evaluation replay's were not recorded)."""
    try:
        data = json.loads(state_path(out_dir, cell_id).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if (data.get("cell") or {}).get("kind") == "train" and "steps" in data and "train_steps" not in data:
        data["train_steps"] = data.pop("steps")
    return data


def seconds_so_far(state: dict[str, Any] | None) -> float:
    """The wall-clock seconds of a cell's attempts together, from its state (0 without one). State files written
    before ``seconds`` summed the attempts hold the last attempt's: the most that is known of them."""
    return float((state or {}).get("seconds") or 0.0)


def write_state(out_dir: str | os.PathLike[str], cell: Cell, result: CellResult, **extra: Any) -> dict[str, Any]:
    """Writes the cell's state file from ``result`` (``extra``: more keys, e.g. ``attempts``, or ``seconds``: every
    attempt's together, where ``result`` holds this attempt's); returns it."""
    state = {"cell": cell.to_dict(), "label": cell.label, **dataclasses.asdict(result),
             "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}
    write_json_atomic(state_path(out_dir, cell.id), state)
    return state


# ============================================================================================== execution
#: Seconds between rewrites of a running cell's state with its attempt's seconds so far: a sweep killed outright
#: (SIGKILL of its process group, a machine going down), whose cells record nothing, loses at most this much.
HEARTBEAT_SECONDS = 30.0


def execute_cell(cell: Cell, out_dir: str | os.PathLike[str], caps: Caps | None = None) -> CellResult:
    """Performs ``cell`` in this process: a new run, or the continuation of an interrupted one; writes its
    state file (``running`` first, then the outcome) and returns the outcome. Never raises for a failing
    run: the error is the result's ``error`` (with the traceback in the cell's ``log.txt``).

    ``caps``: the share of the grid's budget the cell may spend (metered cells).
    """
    out_dir = Path(out_dir).resolve()
    folder = cell_dir(out_dir, cell.id)
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_state(out_dir, cell.id) or {}
    before = seconds_so_far(previous)  # the earlier attempts' (none where the folder was not visible: Ray)
    attempts = int(previous.get("attempts", 0)) + 1
    running = CellResult(cell.id, "running", caps=caps.flags() if caps else {}, host=socket.gethostname())

    def record_running(seconds: float) -> None:
        write_state(out_dir, cell, running, pid=os.getpid(), attempts=attempts, seconds=seconds)

    def beat() -> None:
        state = read_state(out_dir, cell.id) or {}
        # the scheduler may have given the cell up under it (Ctrl-C twice, before the kill lands): its word stands
        if state.get("status") == "running" and state.get("pid") == os.getpid():
            record_running(before + time.perf_counter() - start)

    record_running(before)
    start = time.perf_counter()
    heartbeat = _every(HEARTBEAT_SECONDS, beat)
    log_path = folder / "log.txt"
    with heartbeat, open(log_path, "a", buffering=1) as log, _redirected(log):
        print(f"==== {datetime.now(timezone.utc).isoformat(timespec='seconds')} {cell.name} (cell {cell.id}, "
              f"pid {os.getpid()} on {socket.gethostname()})")
        offset = log.tell()
        try:
            if cell.kind == "train":
                result = _execute_train(cell, out_dir, folder)
            else:
                result = _execute_run(cell, out_dir, folder, caps, log_path, offset)
        except KeyboardInterrupt:
            result = CellResult(cell.id, "interrupted", error="interrupted")
        except SystemExit as exc:  # argparse rejected an argument
            result = CellResult(cell.id, "failed", error=f"invalid arguments (exit {exc.code}); see {log_path}")
        except Exception as exc:  # noqa: BLE001 - any failure of one cell is its result, never the sweep's
            traceback.print_exc()
            result = CellResult(cell.id, "failed", error=_one_line(exc))
        if result.status in ("interrupted", "failed") and result.replay is None:
            _fill_what_was_left(cell, result, out_dir, folder)
        if cell.metered and not result.tokens:  # stopped early: what it spent is what its checkpoint says
            _fill_from_checkpoint(result, folder)
        print(f"==== {result.status}{': ' + result.error if result.error else ''}")
    result.seconds = time.perf_counter() - start
    result.caps = caps.flags() if caps else {}
    result.host = socket.gethostname()
    write_state(out_dir, cell, result, attempts=attempts, seconds=before + result.seconds)
    return result


@contextlib.contextmanager
def _every(seconds: float, call: Callable[[], object]) -> Iterator[None]:
    """``call()`` on a thread every ``seconds`` while the block runs; stopped (and a call under way finished)
    before the block's caller goes on. A call that fails (a full disk) is skipped: the next one tries again."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(seconds):
            with contextlib.suppress(OSError):
                call()

    thread = threading.Thread(target=beat, name="longplay-sweep-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def _redirected(log: Any) -> Iterator[None]:
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def _one_line(exc: BaseException) -> str:
    from longplay.agents.cli import CliError

    text = " ".join(str(exc).split())
    return text if isinstance(exc, CliError) else f"{type(exc).__name__}: {text}"


def _parse(argv: list[str]) -> Any:
    from longplay.agents.cli import build_parser

    return build_parser().parse_args(argv)


def _relative(path: Path, out_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(out_dir))
    except ValueError:
        return str(path)


def _stop_line(log_path: Path, offset: int) -> tuple[str, str]:
    """(reason, message) of the ``stopped: REASON: MESSAGE`` line ``longplay run --agent lm`` printed."""
    with open(log_path) as f:
        f.seek(offset)
        lines = [line for line in f if line.startswith("stopped: ")]
    if not lines:
        return "", ""
    reason, _, message = lines[-1].removeprefix("stopped: ").strip().partition(": ")
    return reason, message


def _execute_run(cell: Cell, out_dir: Path, folder: Path, caps: Caps | None, log_path: Path,
                 offset: int) -> CellResult:
    resume, resume_budget = None, None
    checkpoints = sorted(folder.glob("*.ckpt"))
    if cell.metered and checkpoints:
        from longplay.agents.lm.checkpoint import CheckpointError, load_checkpoint

        try:
            data = load_checkpoint(checkpoints[-1])
        except CheckpointError:
            data = None
        if data is not None and data.get("terminated"):  # finished the game; only its state file was lost
            return _run_result(cell, out_dir, folder, 0, ("finished", "the game is finished"), caps, "")
        if data is not None:
            resume = checkpoints[-1]
            resume_budget = data["run"]["config"]["budget"]
    if resume is None:
        _clear(folder)  # a run that died before its first checkpoint starts again
    argv = cell.run_argv(folder, caps, resume, resume_budget)
    command = shlex.join(["longplay", "run", *argv])
    print(f"$ {command}", flush=True)
    args = _parse(["run", *argv])
    code = int(args.func(args) or 0)
    return _run_result(cell, out_dir, folder, code, _stop_line(log_path, offset), caps, command)


def _clear(folder: Path) -> None:
    for path in folder.iterdir():
        if path.name == "log.txt":
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _run_result(cell: Cell, out_dir: Path, folder: Path, code: int, stop: tuple[str, str], caps: Caps | None,
                command: str) -> CellResult:
    """The result of a ``run`` cell from its exit code, its stop line and its replay."""
    reason, message = stop
    if code == 0:
        status, error = "done", ""
        if reason in ("tokens", "dollars") and caps is not None:
            own = cell.budget.get(f"max_{reason}")
            cap = getattr(caps, f"max_{reason}")
            if cap is not None and (own is None or cap < own):
                status, error = "budget", f"stopped at its share of the grid's budget: {message}"
    elif code == 130:
        status, error = "interrupted", message or "interrupted"
    else:
        status, error = "failed", f"{reason}: {message}" if reason else f"exit code {code}"
    result = CellResult(cell.id, status, error=error, stop_reason=reason, command=command)
    replays = sorted(folder.glob("*.lpr"))
    if replays:
        _fill_from_replay(result, replays[-1], out_dir)
    if cell.metered:
        _fill_from_checkpoint(result, folder)
    return result


def _fill_what_was_left(cell: Cell, result: CellResult, out_dir: Path, folder: Path) -> None:
    """A cell stopped by an exception (Ctrl-C, a crash) keeps what it recorded in its results: its replay and
    steps (``run`` cells), its newest checkpoint's step (``train`` cells)."""
    from longplay.replays.schema import ReplayError

    if cell.kind == "train":
        result.train_steps = result.train_steps or _newest_checkpoint_step(folder / "train" / cell.run_name)
        return
    replays = sorted(folder.glob("*.lpr"))
    if replays:
        try:
            _fill_from_replay(result, replays[-1], out_dir)
        except (ReplayError, sqlite3.Error):  # unreadable: the error says what happened, the row stays thin
            pass


def _fill_from_checkpoint(result: CellResult, folder: Path) -> None:
    """An LM run's own totals over every session, from its checkpoint (when it has one)."""
    from longplay.agents.lm.checkpoint import CheckpointError, load_checkpoint

    checkpoints = sorted(folder.glob("*.ckpt"))
    if not checkpoints:
        return
    try:
        data = load_checkpoint(checkpoints[-1])
        counters = data["run"]["counters"]
    except (CheckpointError, KeyError, TypeError):
        return
    result.steps = result.steps or int(data.get("steps") or 0)
    result.turns = int(counters.get("turns", result.turns))
    result.tokens = int(sum(counters.get(k, 0) for k in ("tokens_in", "tokens_out", "tokens_cache_read",
                                                          "tokens_cache_write")))
    result.dollars = float(counters.get("dollars", result.dollars))
    if not result.milestones:
        result.milestones = dict(data["run"].get("milestones") or {})


def _fill_from_replay(result: CellResult, replay: Path, out_dir: Path) -> None:
    from longplay.replays.reader import ReplayReader

    with ReplayReader(replay) as r:
        result.replay = _relative(replay, out_dir)
        # Milestones are counted over every episode, against every milestone their worlds have (longplay/Quest-v0
        # plays a world per reset seed, each with its own catalog).
        episodes = r.episodes()
        ids = {m["id"] for e in episodes for m in r.catalog(e.episode)}
        result.catalog = len(ids) if episodes else len(r.header.get("catalog") or ())
        for event in r.milestones():
            result.milestones.setdefault(event.milestone, event.step)
        result.steps = result.steps or sum(e.recorded_steps for e in episodes)
        spending = r.spending()  # agent turns only, as the run list counts them
        result.turns, result.tokens, result.dollars = spending.turns, spending.tokens, spending.cost_usd


def _newest_checkpoint_step(run_dir: Path) -> int:
    """The step of a training run's newest checkpoint; 0 when it has none."""
    from longplay.agents.rl.sb3_train import checkpoint_step, latest_checkpoint

    newest = latest_checkpoint(run_dir, suffix="")  # either learner's: step_*.zip or step_*.pt
    return checkpoint_step(newest) if newest is not None else 0


def _execute_train(cell: Cell, out_dir: Path, folder: Path) -> CellResult:
    from longplay.agents.rl.evaluation import read_evals
    from longplay.agents.rl.sb3_train import holds_a_run

    run_dir = folder / "train" / cell.run_name
    has_checkpoint = holds_a_run(run_dir)  # the guard `longplay train` refuses a fresh run by
    if not has_checkpoint:
        _clear(folder)
    argv = cell.train_argv(folder, run_dir if has_checkpoint else None)
    command = shlex.join(["longplay", "train", *argv])
    print(f"$ {command}", flush=True)
    args = _parse(["train", *argv])
    code = int(args.func(args) or 0)
    if code != 0:
        return CellResult(cell.id, "failed", error=f"longplay train exited with {code}", command=command)
    evals = read_evals(run_dir)
    if not evals:  # trained, never evaluated: its steps are its newest checkpoint's
        return CellResult(cell.id, "done", command=command, train_steps=_newest_checkpoint_step(run_dir))
    result = CellResult(cell.id, "done", command=command, train_steps=int(evals[-1]["step"]))
    last = [e for e in evals if e["step"] == evals[-1]["step"]]
    if last[0].get("replay"):
        _fill_from_replay(result, Path(last[0]["replay"]), out_dir)
    else:
        result.milestones = dict(last[0]["milestones"])
        result.steps = int(last[0].get("steps") or 0)
    return result
