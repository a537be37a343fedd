"""``RunLog``: the scalars of a training run, to TensorBoard and to a ``metrics.jsonl`` anyone can read.

Tags follow CleanRL's namespaces: ``charts/`` (returns, lengths, milestone rates, shaping terms, SPS, the
learning rate, evaluation results) and ``losses/`` (policy, value, entropy, KL, clip fraction, explained
variance). Both learners write the same tags.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from longplay.replays.files import remove_partials, write_atomically


def _drop_after(path: Path, step: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keeps the JSON lines of ``path`` (if it exists) whose ``step`` is at most ``step``; returns (the kept
    entries, the others), read once."""
    if not path.exists():
        return [], []
    kept, dropped = [], []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError as exc:
                if number == len(lines):  # cut short by a stop in its write: after the checkpoint, so replaced
                    continue
                raise ValueError(f"cannot read line {number} of {path}: {exc}") from None
            (kept if entry.get("step", 0) <= step else dropped).append((line, entry))
    # written aside and renamed: a run killed here keeps its whole log (the next resume drops the points again)
    write_atomically(path, lambda p: p.write_text("".join(line + "\n" for line, _ in kept)))
    return [entry for _, entry in kept], [entry for _, entry in dropped]


def curriculum_configs(run_dir: Path) -> dict[int, Path]:
    """The configs a run kept at its curriculum steps (``config.before_step_N.json``: the config in force up to
    step N), by N."""
    found = {}
    for path in run_dir.glob("config.before_step_*.json"):
        step = path.stem.removeprefix("config.before_step_")
        if step.isdigit():
            found[int(step)] = path
    return found


def drop_stopped_attempt(run_dir: Path) -> None:
    """Removes what a run stopped before its first checkpoint logged in ``run_dir`` (nothing else was there to keep:
    no weights were saved): its metrics, evaluations and their replays, TensorBoard events, the best checkpoint kept
    by ``select_episodes`` and its ``best.json``. A run started again in the folder then logs alone; before, its
    points, evaluations and replays stood beside the stopped attempt's."""
    for path in (run_dir / "metrics.jsonl", run_dir / "eval.jsonl", run_dir / "best.json",
                 run_dir / "checkpoints" / "best.pt", run_dir / "checkpoints" / "latest.txt"):
        path.unlink(missing_ok=True)
    for pattern in ("replays/*-step*.lpr*", "tb/events.out.tfevents.*"):
        for path in run_dir.glob(pattern):
            path.unlink(missing_ok=True)
    remove_checkpoint_partials(run_dir)


def remove_checkpoint_partials(run_dir: Path) -> None:
    """Removes the partial checkpoint files (``checkpoints/.partial-*``) that saves killed outright left: nothing
    else removes them, and each holds a checkpoint's size."""
    # by hand, not replays.files.remove_partials: it matches only write_atomically's names, and this also takes
    # the ".partial-step_N.zip" that older longplays left
    for path in run_dir.glob("checkpoints/.partial-*"):
        path.unlink(missing_ok=True)


#: The tag of an evaluation's result: logged once its episodes are all played (``evaluation.evaluate``).
EVAL_TAG = "charts/eval/milestones"


#: The tag of a ``select_episodes`` score: logged once the selection's episodes, played after the evaluation's, are.
SELECT_TAG = "charts/select/finished"


class RunLog:
    """Writes scalars under ``run_dir``: TensorBoard events in ``run_dir/tb`` and one JSON line per step.

    Args:
        run_dir: The run's folder.
        resume_step: When resuming, the step of the checkpoint: logged points after it (from the part of the
            run that is being replaced) are dropped from both outputs, and so are the evaluations after it
            (their ``eval.jsonl`` lines and replays, and the replay of an evaluation the run was killed in),
            the episodes of an evaluation at it that has no result logged (the run was killed in it; the
            resumed run plays it again), the checkpoints saved after it (moved to
            ``checkpoints/replaced_DATE-TIME_after_step_N/``:
            ``--resume RUN_DIR`` picks the newest, which would otherwise be one of the replaced part) and the
            configs kept at curriculum steps after it: the resumed run logs, evaluates and saves those steps
            again.
        tensorboard: Also write TensorBoard events (needs the ``tensorboard`` package; skipped with one
            warning when it is missing).
    """

    def __init__(self, run_dir: str | Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"
        # the steps holding an evaluation's result (or a selection's score): what the learners ask on resume,
        # kept here from the one read rather than read again
        self._tagged: dict[str, set[int]] = {EVAL_TAG: set(), SELECT_TAG: set()}
        if resume_step is not None:
            remove_partials(self.run_dir)  # of the rewrites below (or of config.json), killed outright
            # (each file read once: a long run's metrics.jsonl is many megabytes)
            points, _ = _drop_after(self.path, resume_step)
            for tag, steps in self._tagged.items():
                steps.update(int(p["step"]) for p in points if tag in p)
            # an evaluation at the resume step whose result was never logged was cut short: its episodes go
            # too, and the resumed run plays it again (evaluation.evaluation_due)
            finished = resume_step in self._tagged[EVAL_TAG]
            evals, dropped = _drop_after(self.run_dir / "eval.jsonl", resume_step if finished else resume_step - 1)
            for entry in dropped:
                if entry.get("replay"):  # by name: the line's path is relative to where the run was started
                    (self.run_dir / "replays" / Path(entry["replay"]).name).unlink(missing_ok=True)
            # an evaluation the run was killed in wrote its replay (cut short) but not its eval.jsonl line
            finished = {Path(e["replay"]).name for e in evals if e.get("replay")}
            for path in (self.run_dir / "replays").glob("*-step*.lpr*"):
                if path.name[:path.name.rindex(".lpr") + 4] not in finished:
                    path.unlink(missing_ok=True)
            remove_checkpoint_partials(self.run_dir)
            folder = self.run_dir / "checkpoints"
            later = [p for p in folder.glob("step_*") if p.stem.removeprefix("step_").isdigit()
                     and int(p.stem.removeprefix("step_")) > resume_step]
            if later:  # moved aside, not deleted: they may be hours of training someone resumed past to try again
                aside = folder / f"replaced_{time.strftime('%Y%m%d-%H%M%S')}_after_step_{resume_step}"
                aside.mkdir()
                for path in later:
                    path.replace(aside / path.name)
            left = sorted(folder.glob("step_*"))
            if later and left:  # latest.txt named one of them
                write_atomically(folder / "latest.txt", lambda p: p.write_text(left[-1].name + "\n"))
            for step, path in curriculum_configs(self.run_dir).items():  # curriculum steps of the replaced part
                if step > resume_step:
                    path.unlink()
        self._file = self.path.open("a")
        self._writer: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn("tensorboard is not installed: logging to metrics.jsonl only "
                              "(pip install 'longplay[rl]')", stacklevel=2)
            else:
                # TensorBoard purges the events at purge_step and after: the resume step's own points (the
                # checkpoint's, kept in metrics.jsonl too and not logged again) stay.
                purge = resume_step + 1 if resume_step is not None else None
                self._writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=purge)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        """Logs every ``tag -> value`` at ``step`` (non-finite values are skipped)."""
        clean = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}
        if not clean:
            return
        if self._writer is not None:
            for tag, value in clean.items():
                self._writer.add_scalar(tag, value, step)
        self._file.write(json.dumps({"step": int(step), **clean}) + "\n")
        self._file.flush()  # one line per log point: cheap, and a run can be watched as it goes
        for tag, steps in self._tagged.items():
            if tag in clean:
                steps.add(int(step))

    def evaluated_steps(self, tag: str = EVAL_TAG) -> set[int]:
        """The steps at which the run holds an evaluation's result (an evaluation that finished), or with ``tag``
        another result logged once per evaluation (:data:`SELECT_TAG`): the points kept on resume and those logged
        since, without reading ``metrics.jsonl`` again. A fresh run's start with a ``metrics.jsonl`` already there
        (no ``resume_step``) counts only what it logs."""
        return set(self._tagged[tag])

    def text(self, tag: str, text: str, step: int = 0) -> None:
        """Logs a text (the config, in TensorBoard's text tab)."""
        if self._writer is not None:
            self._writer.add_text(tag, text, step)

    def flush(self) -> None:
        """Makes everything logged so far readable."""
        self._file.flush()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flushes and closes both outputs."""
        self._file.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """The points of a run's ``metrics.jsonl``, in order (for benchmarks and tests)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class EpisodeStats:
    """Aggregates finished episodes between two log points into ``charts/`` scalars.

    ``add`` takes one finished episode: its return, length, milestones reached (ids, or only a count from
    the toy engine) and, with shaping, each term's episode sum. ``milestone_ids``: the training envs'
    milestone catalog, each logged as ``charts/milestone_rate/<id>`` (0 when no episode reached it) at every
    log point with an episode that named its milestones, as ppo-device logs them; an id outside it that an
    episode reached (another world's) joins it.
    """

    def __init__(self, milestone_ids: Iterable[str] = ()) -> None:
        self.milestone_ids = dict.fromkeys(milestone_ids)  # (an ordered set: catalog order, then as reached)
        self.clear()

    def clear(self) -> None:
        """Forgets the episodes added so far."""
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.milestone_counts: list[int] = []
        self.milestone_hits: dict[str, int] = {}
        self.named_episodes = 0  # the episodes that named their milestones: the rates' denominator
        self.shaping: dict[str, float] = {}
        self.milestone_returns: list[float] = []

    def add(self, episode_return: float, length: int, milestones: Any = None,
            shaping: Mapping[str, float] | None = None, milestone_return: float | None = None) -> None:
        """Adds one finished episode."""
        self.returns.append(float(episode_return))
        self.lengths.append(int(length))
        if milestones is not None:
            if isinstance(milestones, (int, float)):
                self.milestone_counts.append(int(milestones))
            else:
                ids = list(milestones)
                self.milestone_counts.append(len(ids))
                self.named_episodes += 1
                for m in ids:
                    self.milestone_hits[m] = self.milestone_hits.get(m, 0) + 1
                    self.milestone_ids.setdefault(m)
        if shaping:
            for name, value in shaping.items():
                self.shaping[name] = self.shaping.get(name, 0.0) + float(value)
        if milestone_return is not None:
            self.milestone_returns.append(float(milestone_return))

    def __len__(self) -> int:
        return len(self.returns)

    def summary(self) -> dict[str, float]:
        """``charts/`` scalars over the episodes added since the last :meth:`clear` (empty when none)."""
        n = len(self.returns)
        if not n:
            return {}
        out = {"charts/episodic_return": sum(self.returns) / n,
               "charts/episodic_length": sum(self.lengths) / n, "charts/episodes": float(n)}
        if self.milestone_counts:
            out["charts/milestones"] = sum(self.milestone_counts) / len(self.milestone_counts)
            out["charts/milestones_max"] = float(max(self.milestone_counts))
        if self.named_episodes:
            for m in self.milestone_ids:
                out[f"charts/milestone_rate/{m}"] = self.milestone_hits.get(m, 0) / self.named_episodes
        for name, total in self.shaping.items():
            out[f"charts/shaping/{name}"] = total / n
        if self.milestone_returns:
            out["charts/milestone_return"] = sum(self.milestone_returns) / len(self.milestone_returns)
        return out
