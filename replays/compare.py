"""Compare runs: progress curves, time-to-milestone tables, multi-seed aggregates and an AUC score.

Pure functions (``*_impl`` and the statistics) turn replays into plain data; :func:`write_outputs` adds
the CSV, JSON and PNG files on top, and the CLI prints a table.

The unit of comparison is one episode of one replay (a *run*); runs are grouped by configuration
(env, agent, model, scaffold, or the header's ``label``). Progress is measured on up to four axes: steps,
wall-clock seconds, and, for runs that logged language-model turns, tokens and dollars.

Runs that stop before reaching a milestone (a budget ran out, the run was killed) are **censored** at
their end: they say "not reached within this much", not "never". Medians are Kaplan-Meier medians, and
their confidence intervals are percentile bootstraps over runs. A group's median progress curve steps up
to ``k`` milestones at the median time for a run to reach ``k`` milestones, so it is censoring-aware too
(a run whose world has fewer than ``k`` milestones never reaches ``k``: it is not censored but stays at risk).
Each run says why it stopped, which changes none of the numbers: ``complete`` is False for a killed run (its
recorder never closed the episode), and ``stopped_early`` is True for one closed before its budget was used
(Ctrl+C), from the budget the replay's header records (None where it records none). A run not closed whose last
commit is recent is taken as still being recorded, not killed (:func:`still_recording`; the viewer marks it so).

The AUC score is the mean fraction of the catalog reached over ``[0, horizon]`` (1 = everything at once); a
run's fraction is of its own world's catalog (``Quest-v0`` builds a world per reset seed), and a group's AUC is
the area under its median curve of those fractions. The horizon is one per env and axis: by default the
longest run of that env on that axis, so a 20,000-step ``QuestMini-v0`` budget is not scored flat over a
1,000,000-step ``QuestCanon-v0`` window. Runs of different envs are never grouped together, and AUCs compare
only within an env; an explicit horizon is one window for every env.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from longplay.replays.reader import Episode, ReplayReader, Spending, start_state_digest
from longplay.replays.schema import EXTENSION, ReplayError

#: A run whose recorder never closed an episode is taken as still being recorded while its last commit is less than
#: this many seconds old (or its own window, :func:`recording_window_s`, where that is longer), and as killed after.
#: A recorder commits every ``commit_seconds`` (2 s) while steps, LM turns or memory snapshots come. A served run
#: (``longplay serve``) is silent while its client thinks: past this it shows as killed, as a stalled run does.
RECORDING_QUIET_S = 15 * 60.0

#: Seconds added to an LM run's longest silence (one attempt and one back-off) for the work around a model call:
#: building the prompt, running the tools, committing.
RECORDING_MARGIN_S = 60.0

AXES = ("steps", "wall", "tokens", "cost")
AXIS_LABELS = {"steps": "steps", "wall": "wall-clock time (s)", "tokens": "tokens (in + out + cache)",
               "cost": "cost (USD)"}
AXIS_UNITS = {"steps": "steps", "wall": "s", "tokens": "tokens", "cost": "USD"}
GROUP_FIELDS = ("env", "agent", "model", "scaffold", "label")


# ============================================================================================ data


@dataclass(frozen=True)
class ProgressEvent:
    """A milestone reached, measured on every axis the run has (``None`` where it has no such axis)."""

    milestone: str
    steps: int
    wall: float
    tokens: float | None
    cost: float | None


@dataclass(frozen=True)
class RunProgress:
    """One episode of one replay, reduced to what comparisons need."""

    name: str
    path: str
    episode: int
    group: str
    seed: int
    env_id: str
    catalog: tuple[str, ...]
    milestone_names: dict[str, str]
    events: tuple[ProgressEvent, ...]
    end: dict[str, float]  # axis -> value at the run's last recorded step (the censoring point)
    axes: tuple[str, ...]
    complete: bool  # the recorder closed the episode
    finished: bool  # the game was completed (the episode terminated)
    start_state: str | None = None  # SHA-256 of the save state the episode started from (None: the world's start)
    stopped_early: bool | None = None  # closed before its budget was used (Ctrl+C); None: no budget recorded
    last_commit: datetime | None = None  # when the replay was last written (ReplayReader.last_commit)
    recording_window_s: float = RECORDING_QUIET_S  # how long it may go unwritten while recording (its header's)
    #: The scaffold card its group was named by (canonical JSON; "" when the group's label is the header's own, or
    #: names no scaffold): :func:`distinguish_scaffolds` splits a group whose runs' cards differ.
    scaffold_card: str = ""

    def times(self, axis: str) -> dict[str, float]:
        """Milestone id -> value of ``axis`` when it was reached."""
        return {e.milestone: float(getattr(e, axis)) for e in self.events}


def scaffold_name(card: Any) -> str:
    """A short name for a scaffold card: its ``name``, or its components' names joined with ``+``."""
    if not card:
        return ""
    if isinstance(card, str):
        return card
    if isinstance(card, dict):
        if card.get("name"):
            return str(card["name"])
        card = card.get("components") or []
    if isinstance(card, list):
        return "+".join(str(c.get("name", "?")) if isinstance(c, dict) else str(c) for c in card)
    return str(card)


def group_label(header: dict[str, Any], fields: Sequence[str] = ("agent", "model", "scaffold")) -> str:
    """The configuration label of a replay: the header's ``label`` if set, else ``fields`` joined by ``/``.

    >>> group_label({"agent": "lm", "model": "m1", "scaffold_card": {"name": "notes"}})
    'lm / m1 / notes'
    """
    unknown = [f for f in fields if f not in GROUP_FIELDS]
    if unknown:
        raise ValueError(f"unknown group field {unknown[0]!r}; valid: {', '.join(GROUP_FIELDS)}")
    if header.get("label"):
        return str(header["label"])
    values = {"env": str(header.get("env_id") or "").rsplit("/", 1)[-1], "agent": header.get("agent") or "",
              "model": header.get("model") or "", "scaffold": scaffold_name(header.get("scaffold_card")),
              "label": header.get("label") or ""}
    return " / ".join(str(values[f]) for f in fields if values.get(f)) or "unlabelled"


def _card_key(header: dict[str, Any], fields: Sequence[str]) -> str:
    """The scaffold card ``group_label`` named by its components' names, as canonical JSON ("" where the label is the
    header's own, leaves the scaffold out, or the card is no list of components)."""
    card = header.get("scaffold_card")
    if header.get("label") or "scaffold" not in fields or not isinstance(card, list) \
            or not all(isinstance(c, dict) for c in card):
        return ""
    return json.dumps(card, sort_keys=True)


def _card_differences(card: list[dict[str, Any]], others: list[list[dict[str, Any]]]) -> str:
    """What sets ``card`` apart from ``others`` (cards of the same component names): ``window k=5, version 1``."""
    parts = []
    for i, component in enumerate(card):
        rivals = [other[i] for other in others if i < len(other)]
        params = component.get("params") if isinstance(component.get("params"), dict) else {}
        shown = [f"{key}={value}" for key, value in params.items()
                 if any((r.get("params") or {}).get(key) != value for r in rivals)]
        if any(r.get("version") != component.get("version") for r in rivals):
            shown.append(f"version {component.get('version')}")
        if shown:
            parts.append(f"{component.get('name', '?')} {', '.join(shown)}")
    return "; ".join(parts)


def distinguish_scaffolds(runs: Sequence[RunProgress]) -> list[RunProgress]:
    """``runs`` with each group whose runs' scaffold cards differ (the same components, other parameters or versions:
    ``window(k=5)`` beside ``window(k=40)``) split into one group per card, named by what differs among them
    (``lm / m1 / window [window k=5]``); a group of one card keeps its name. Groups named by the header's own label
    are left as they are (pooled on purpose)."""
    cards: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        if run.scaffold_card:
            cards.setdefault(run.group, {}).setdefault(run.scaffold_card, json.loads(run.scaffold_card))
    renamed: dict[tuple[str, str], str] = {}
    for group, of_group in cards.items():
        if len(of_group) < 2:
            continue
        for key, card in of_group.items():
            others = [other for other_key, other in of_group.items() if other_key != key]
            renamed[group, key] = f"{group} [{_card_differences(card, others)}]"
    if not renamed:
        return list(runs)
    return [dataclasses.replace(run, group=renamed.get((run.group, run.scaffold_card), run.group)) for run in runs]


def start_state_group(group: str, options: Any) -> str:
    """``group`` for an episode reset with ``options``: an episode started from a save state is grouped apart,
    ``GROUP from state <first 8 hex digits of its SHA-256>`` (the milestones its state held count at step 0, so
    pooled with runs from the world's start, or from another state, its medians and AUC would mean neither).

    >>> start_state_group("lm / m1", {"state": {"sha256": "0361263063f2ff0e"}}), start_state_group("lm / m1", None)
    ('lm / m1 from state 03612630', 'lm / m1')
    """
    digest = start_state_digest(options)
    return f"{group} from state {digest[:8]}" if digest else group


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Replay files named in ``paths`` (folders are searched recursively for ``*.lpr``), each once, with ``True``
    for the ones named explicitly. A replay named twice (a file and its folder, a folder and its subfolder) is one
    run: counted twice, it would weigh twice in every median."""
    out: dict[Path, tuple[Path, bool]] = {}  # the file, resolved -> as named first, and whether named explicitly
    for path in map(Path, paths):
        found = [(p, False) for p in sorted(path.rglob(f"*{EXTENSION}"))] if path.is_dir() else [(path, True)]
        for replay, explicit in found:
            named, was_explicit = out.setdefault(replay.resolve(), (replay, explicit))
            out[replay.resolve()] = (named, was_explicit or explicit)
    return list(out.values())


def load_runs(paths: Iterable[str | os.PathLike[str]], *, group_by: Sequence[str] = ("agent", "model", "scaffold"),
              warnings: list[str] | None = None) -> list[RunProgress]:
    """Reads every episode of every replay in ``paths`` (files or folders) as a :class:`RunProgress`.

    A file named explicitly that cannot be read raises :class:`ReplayError`; one found in a folder is
    skipped, with a line added to ``warnings``.
    """
    runs: list[RunProgress] = []
    for path, explicit in expand_paths(paths):
        try:
            runs.extend(read_runs(path, group_by=group_by, warnings=warnings))
        except ReplayError as e:
            if explicit:
                raise
            if warnings is not None:
                warnings.append(f"skipped {path}: {e}")
    return distinguish_scaffolds(runs)


def read_runs(path: str | os.PathLike[str], *, group_by: Sequence[str] = ("agent", "model", "scaffold"),
              warnings: list[str] | None = None) -> list[RunProgress]:
    """The episodes of one replay as :class:`RunProgress` records (no re-simulation: a fast read).

    An episode its recorder never closed that holds no recorded step (a run killed after a reset, before its next
    commit, or one still being recorded: an LM run waiting on its first model call) is left out, with a line added
    to ``warnings``: as a run it would claim to have stopped at step 0. A replay that holds no episode yet is
    warned of too.
    """
    with ReplayReader(path) as replay, replay.snapshot():  # one commit of a run still recording
        header = replay.header
        group = group_label(header, group_by)
        card_key = _card_key(header, group_by)
        # An LM run of a model the price table does not know logged $0 a call: its dollars are unknown, not zero.
        lm = header.get("lm")
        priced = not (isinstance(lm, dict) and "price" in lm and lm["price"] is None)
        episodes = replay.episodes()
        turns = replay.turns()
        milestones = replay.milestones()
        used = budget_used(header, episodes, Spending.of(turns))
        last_commit = replay.last_commit()
        if not episodes and warnings is not None:
            warnings.append(f"{path}: left out: it holds no episode (the run was killed, or is still being recorded, "
                            "before its first reset)")
        runs = []
        for info in episodes:
            e = info.episode
            if not info.complete and info.recorded_steps == 0:
                if warnings is not None:
                    warnings.append(f"{path}: left out episode {e}: it holds no recorded step (the run was killed, or "
                                    "is still being recorded)")
                continue
            catalog = replay.catalog(e)  # each episode's world: Quest-v0 draws one per reset seed
            ep_turns = sorted((t.step, t.tokens, t.cost_usd) for t in turns if t.episode == e)
            turn_steps = [s for s, _, _ in ep_turns]
            cum_tokens = np.cumsum([0.0] + [tok for _, tok, _ in ep_turns])
            cum_cost = np.cumsum([0.0] + [c for _, _, c in ep_turns])
            has_turns = bool(ep_turns)
            events = []
            for m in (m for m in milestones if m.episode == e):
                # Spending up to the milestone: the turns that decided the actions before its step.
                k = int(np.searchsorted(turn_steps, m.step, side="left"))
                events.append(ProgressEvent(m.milestone, m.step, max(0.0, m.t - info.started_t),
                                            float(cum_tokens[k]) if has_turns else None,
                                            float(cum_cost[k]) if has_turns and priced else None))
            chunk_times = replay.chunk_times(e)
            last_t = info.ended_t if info.ended_t is not None else (chunk_times[-1][1] if chunk_times
                                                                    else info.started_t)
            end = {"steps": float(info.recorded_steps), "wall": max(0.0, last_t - info.started_t)}
            if has_turns:
                end["tokens"] = float(cum_tokens[-1])
                if priced:
                    end["cost"] = float(cum_cost[-1])
            name = Path(path).name.removesuffix(EXTENSION) + (f"#{e}" if len(episodes) > 1 else "")
            runs.append(RunProgress(
                name, str(path), e, start_state_group(group, info.options), info.seed, str(header.get("env_id") or ""),
                tuple(m["id"] for m in catalog), {m["id"]: str(m.get("name", m["id"])) for m in catalog},
                tuple(sorted(events, key=lambda ev: ev.steps)), end,
                ("steps", "wall", *(("tokens", "cost") if priced else ("tokens",))) if has_turns else ("steps", "wall"),
                info.complete, info.end_reason == "terminated", info.start_digest, stopped_early(used, info),
                last_commit, recording_window_s(header), card_key))
        return runs


def budget_used(header: dict[str, Any], episodes: Sequence[Episode], spending: Spending) -> bool | None:
    """Whether a replay's run reached a limit of the budget its header records (``budget``: ``steps`` over every
    episode; for LM runs also ``turns``, the agent's, ``tokens``, ``dollars`` and ``seconds``; null: no such
    limit), as the run stops at the first it reaches; None when the header records no budget (replays from
    before it did, ``longplay serve``). ``spending``: its turn rows' (:meth:`ReplayReader.spending`).

    >>> budget_used({"budget": {"steps": 100, "turns": None}}, [], Spending()), budget_used({}, [], Spending())
    (False, None)
    """
    budget = header.get("budget")
    if not isinstance(budget, dict):
        return None
    seconds = header.get("duration_s")
    spent = {"steps": sum(e.recorded_steps for e in episodes),
             "turns": spending.turns,
             "tokens": spending.tokens,
             "dollars": spending.cost_usd,
             "seconds": seconds if isinstance(seconds, (int, float)) else 0.0}
    return any(isinstance(limit, (int, float)) and spent[key] >= limit
               for key, limit in budget.items() if key in spent)


def stopped_early(used: bool | None, info: Episode) -> bool | None:
    """Whether episode ``info``'s recorder closed it before its run's budget was used (Ctrl+C, failures), from
    :func:`budget_used`'s ``used``; None when the replay records no budget. Only a run's last episode is closed by
    its recorder ("closed"), where it stopped: before its budget, unless it used it. A killed run is marked by
    ``info.complete`` instead."""
    return None if used is None else info.end_reason == "closed" and not used


def recording_window_s(header: dict[str, Any]) -> float:
    """Seconds a run not closed may go unwritten and still be taken as recording, from its replay's ``header``.

    An LM run beats (``Recorder.heartbeat``) before each attempt of a model call, so a live one is silent for one
    attempt (its ``config.provider.request_timeout_s``) and one back-off wait (``config.retry.backoff_max_s``, a
    server's retry-after included) at most: its window is that plus :data:`RECORDING_MARGIN_S`, never less than
    :data:`RECORDING_QUIET_S`. A header without them (baselines, served runs, older replays): RECORDING_QUIET_S.

    >>> recording_window_s({"config": {"provider": {"request_timeout_s": 1800.0}, "retry": {"backoff_max_s": 60.0}}})
    1920.0
    >>> recording_window_s({"agent": "random"})
    900.0
    """
    config = header.get("config")
    provider = config.get("provider") if isinstance(config, dict) else None
    retry = config.get("retry") if isinstance(config, dict) else None
    timeout = provider.get("request_timeout_s") if isinstance(provider, dict) else None
    backoff = retry.get("backoff_max_s") if isinstance(retry, dict) else None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < math.inf
               for x in (timeout, backoff)):
        return RECORDING_QUIET_S
    return max(RECORDING_QUIET_S, float(timeout) + float(backoff) + RECORDING_MARGIN_S)


def still_recording(last_commit: datetime | None, now: datetime | None = None,
                    window_s: float = RECORDING_QUIET_S) -> bool:
    """Whether a run whose recorder never closed an episode is taken as still being recorded rather than killed:
    its replay was last written (``last_commit``, :meth:`ReplayReader.last_commit`) less than ``window_s`` (the
    run's :func:`recording_window_s`) before ``now`` (default: this moment). Unknown when it was written: killed.

    >>> still_recording(datetime(2026, 1, 1, 12, tzinfo=timezone.utc), datetime(2026, 1, 1, 12, 5, tzinfo=timezone.utc))
    True
    """
    if last_commit is None:
        return False
    return ((now or datetime.now(timezone.utc)) - last_commit).total_seconds() < window_s


# ============================================================================================ statistics


def km_median_batch(times: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """:func:`km_median` of each row of ``times`` / ``observed`` (shape ``(..., n)``), vectorised."""
    t = np.asarray(times, dtype=float)
    o = np.asarray(observed, dtype=bool)
    if t.shape[-1] == 0:
        return np.full(t.shape[:-1], math.inf)
    order = np.lexsort((~o, t), axis=-1)  # at equal times, events come before censorings
    t = np.take_along_axis(t, order, axis=-1)
    o = np.take_along_axis(o, order, axis=-1)
    n = t.shape[-1]
    survival = np.cumprod(np.where(o, 1.0 - 1.0 / (n - np.arange(n)), 1.0), axis=-1)
    hit = o & (survival <= 0.5 + 1e-12)
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), np.take_along_axis(t, first[..., None], axis=-1)[..., 0], math.inf)


def km_median(times: Sequence[float] | np.ndarray, observed: Sequence[bool] | np.ndarray) -> float:
    """Kaplan-Meier median of right-censored times: the first time survival drops to one half or below.

    ``observed[i]`` is False when run ``i`` stopped at ``times[i]`` without the event (censored).
    Returns ``inf`` when fewer than half the runs are known to have had the event.

    >>> km_median([10, 20, 30], [True, True, True]), km_median([10, 15, 40, 50], [True, False, True, False])
    (20.0, 40.0)
    >>> km_median([5, 100, 100], [True, False, False])
    inf
    """
    return float(km_median_batch(np.asarray(times, dtype=float)[None], np.asarray(observed, dtype=bool)[None])[0])


def km_fraction(times: Sequence[float] | np.ndarray, observed: Sequence[bool] | np.ndarray) -> float:
    """Kaplan-Meier estimate of the fraction of runs that reach the event by the last observed time.

    >>> km_fraction([10, 20, 30, 40], [True, False, True, False])
    0.625
    """
    t = np.asarray(times, dtype=float)
    o = np.asarray(observed, dtype=bool)
    if t.size == 0:
        return 0.0
    o = o[np.lexsort((~o, t))]
    return float(1.0 - np.prod(np.where(o, 1.0 - 1.0 / (t.size - np.arange(t.size)), 1.0)))


def bootstrap_km_median(times: Sequence[float], observed: Sequence[bool], *, n_boot: int = 1000,
                        confidence: float = 0.95, rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile-bootstrap interval (resampling runs) of :func:`km_median`; bounds may be ``inf``."""
    t = np.asarray(times, dtype=float)
    o = np.asarray(observed, dtype=bool)
    if t.size == 0:
        return math.inf, math.inf
    picks = (rng or np.random.default_rng(0)).integers(0, t.size, (n_boot, t.size))
    return _interval(km_median_batch(t[picks], o[picks]), confidence)


def _percent(confidence: float) -> str:
    """A confidence level as the intervals' labels give it: ``0.95`` -> ``'95%'``, ``0.975`` -> ``'97.5%'``."""
    return f"{confidence * 100:g}%"


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1.0 - alpha], method="inverted_cdf")
    return float(low), float(high)


def auc_from_times(times: Sequence[float] | np.ndarray, total: int, horizon: float) -> Any:
    """Area under a progress curve that reaches ``k`` milestones at ``times[k - 1]`` (``inf``: never), as the
    mean fraction of the ``total`` milestones reached over ``[0, horizon]``; vectorised over leading axes.

    >>> auc_from_times([0.0, 50.0], total=4, horizon=100.0)  # 1/4 from the start, 2/4 from half-way
    0.375
    """
    t = np.asarray(times, dtype=float)
    if horizon <= 0 or total <= 0:
        return np.zeros(t.shape[:-1]) if t.ndim > 1 else 0.0
    out = np.clip(horizon - t, 0.0, horizon).sum(axis=-1) / (total * horizon)  # inf times add 0
    return float(out) if np.ndim(out) == 0 else out


def step_curve(times: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The step curve (x, y) reaching ``k`` at ``times[k - 1]``, up to the first ``inf``."""
    xs, ys = [0.0], [0]
    for k, x in enumerate(times, 1):
        if not math.isfinite(x):
            break
        x = max(float(x), xs[-1])
        xs += [x, x]
        ys += [ys[-1], k]
    return np.asarray(xs), np.asarray(ys)


def progress_curve_impl(run: RunProgress, axis: str = "steps") -> tuple[np.ndarray, np.ndarray]:
    """The run's step curve on ``axis``: ``x`` values and milestones reached by each, from 0 to the run's end."""
    if axis not in run.axes:
        raise ValueError(f"run {run.name} has no {axis} axis (it has {', '.join(run.axes)})")
    xs, ys = step_curve(sorted(run.times(axis).values()))
    return np.append(xs, max(run.end[axis], xs[-1])), np.append(ys, ys[-1])


def times_to_k(runs: Sequence[RunProgress], axis: str, total: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, observed), each of shape (runs, total): when each run reached ``k = 1 .. total`` milestones,
    or its end on ``axis`` with observed False (censored) when it did not.

    A run whose world has fewer than ``k`` milestones can never reach ``k``: its time is ``inf`` (at risk
    forever, so it counts against ``k``), not its end (censored, which would drop it from the risk set).
    """
    times = np.empty((len(runs), total))
    observed = np.zeros((len(runs), total), dtype=bool)
    for i, run in enumerate(runs):
        reached = sorted(run.times(axis).values())[:total]
        times[i, :] = run.end[axis]
        if run.catalog:
            times[i, len(run.catalog):] = math.inf
        times[i, :len(reached)] = reached
        observed[i, :len(reached)] = True
    return times, observed


def times_to_fraction(runs: Sequence[RunProgress], axis: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(levels, times, observed): every fraction ``k / n`` of its own ``n``-milestone catalog that a run can
    reach, in increasing order, and when each run first had at least each fraction (shape (runs, levels)), or
    its end on ``axis`` with observed False (censored) when it did not.

    With one catalog size ``n`` the levels are ``1/n .. 1`` and the times are :func:`times_to_k`'s.
    """
    largest = max((len(r.catalog) for r in runs), default=0)
    sizes = [len(r.catalog) or largest for r in runs]  # a run without a stored catalog: the group's largest
    levels = np.unique(np.concatenate([np.arange(1, n + 1) / n for n in sizes if n] or [np.zeros(0)]))
    times = np.empty((len(runs), levels.size))
    observed = np.zeros((len(runs), levels.size), dtype=bool)
    for i, (run, n) in enumerate(zip(runs, sizes, strict=True)):
        if not n:
            times[i, :] = math.inf
            continue
        own_times, own_observed = times_to_k([run], axis, n)
        # The milestones the run needs for each level: the first k with k / n >= level.
        k = np.searchsorted(np.arange(1, n + 1) / n, levels, side="left")
        times[i, :] = own_times[0, k]
        observed[i, :] = own_observed[0, k]
    return levels, times, observed


def auc_from_levels(times: Sequence[float] | np.ndarray, levels: Sequence[float] | np.ndarray,
                    horizon: float) -> Any:
    """Area under a progress curve that reaches the fraction ``levels[j]`` of the catalog at ``times[j]``
    (``inf``: never), as the mean fraction reached over ``[0, horizon]``; vectorised over leading axes.

    >>> auc_from_levels([0.0, 50.0], [0.25, 0.5], horizon=100.0)  # as auc_from_times([0, 50], 4, 100)
    0.375
    """
    t = np.asarray(times, dtype=float)
    weights = np.diff(np.asarray(levels, dtype=float), prepend=0.0)
    if horizon <= 0 or weights.size == 0:
        return np.zeros(t.shape[:-1]) if t.ndim > 1 else 0.0
    out = (np.clip(horizon - t, 0.0, horizon) * weights).sum(axis=-1) / horizon  # inf times add 0
    return float(out) if np.ndim(out) == 0 else out


def bootstrap_median_curves(times: np.ndarray, observed: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """The median curve (monotone Kaplan-Meier medians of each column) of every resample of the rows of
    ``times`` / ``observed`` (shape (runs, levels)) that ``picks`` (shape (n_boot, runs)) draws."""
    return np.maximum.accumulate(km_median_batch(times[picks].transpose(0, 2, 1),
                                                 observed[picks].transpose(0, 2, 1)), axis=1)


def median_curve_impl(runs: Sequence[RunProgress], axis: str, total: int) -> np.ndarray:
    """Kaplan-Meier median of the time for a run to reach ``k`` milestones, for ``k = 1 .. total``.

    A run has at least ``k`` milestones at ``x`` exactly when it reached ``k`` by ``x``, so these medians are
    where the median run's progress curve steps up, with censored runs counted as censored.
    """
    times, observed = times_to_k(runs, axis, total)
    return np.maximum.accumulate(km_median_batch(times.T, observed.T)) if total else np.zeros(0)


def median_band_impl(group: dict[str, Any], members: Sequence[RunProgress], axis: str) -> dict[str, list[float]]:
    """A group's median curve and bootstrap band on ``axis`` as drawn: vertices of step curves on one ``x``.

    ``group`` is one of :func:`compare_impl`'s groups and ``members`` its runs. ``median`` is the number of milestones
    the group's median curve has reached at each ``x``; ``upper`` and ``lower`` are the band's edges, the milestones
    reached by the intervals' low ends (the fast side) and by their high ends. Each curve steps up at a vertical
    pair of vertices, so straight lines through ``(x, y)`` draw it (``longplay compare``'s PNGs and the viewer's
    comparison page both do). ``x`` runs from 0 to the end of the group's longest run on ``axis`` (or to a later
    step, should a milestone be stamped after its run's end), not beyond: past it, no run of the group was watched
    (a smaller budget is censoring, not a plateau up to another group's horizon).

    >>> run = RunProgress("r", "r.lpr", 0, "g", 0, "e", ("a",), {}, (ProgressEvent("a", 4, 4.0, None, None),),
    ...                   {"steps": 10.0}, ("steps",), True, False)
    >>> band = median_band_impl({"median_curve": {"steps": [{"median": 4.0, "ci_low": 4.0, "ci_high": 4.0}]}},
    ...                         [run], "steps")
    >>> band["x"], band["median"]
    ([0.0, 0.0, 4.0, 4.0, 10.0, 10.0], [0, 0, 0, 1, 1, 1])
    """
    points = group["median_curve"].get(axis, [])
    curves = {side: step_curve([p[key] for p in points])
              for side, key in (("median", "median"), ("upper", "ci_low"), ("lower", "ci_high"))}
    horizon = max(run.end[axis] for run in members)
    grid = np.unique(np.concatenate([xs for xs, _ in curves.values()] + [[horizon]]))
    # Each curve's value on the grid (milestones reached by each x) as post steps from (0, 0): a vertical at each
    # x, the first up from 0 (milestones held at the start, as a run from a save state holds them, rise at 0).
    out: dict[str, list[float]] = {"x": np.repeat(grid, 2).tolist()}
    for side, (xs, ys) in curves.items():
        out[side] = np.concatenate([[0], np.repeat(ys[np.searchsorted(xs, grid, side="right") - 1], 2)[:-1]]
                                   ).astype(int).tolist()
    return out


@dataclass
class Comparison:
    """Everything :func:`compare_impl` computes, as plain data (``inf``: not reached, or unbounded).

    ``horizons`` maps each env id to its AUC window on each axis (``{env_id: {axis: end}}``).
    """

    runs: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    time_to_milestone: list[dict[str, Any]] = field(default_factory=list)
    horizons: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def env_name(env_id: str) -> str:
    """An env id without its namespace: ``'longplay/QuestMini-v0'`` -> ``'QuestMini-v0'``."""
    return env_id.rsplit("/", 1)[-1]


def compare_impl(runs: Sequence[RunProgress], *, axes: Sequence[str] = AXES, horizon: dict[str, float] | None = None,
                 n_boot: int = 1000, confidence: float = 0.95, seed: int = 0) -> Comparison:
    """Aggregates ``runs`` by group: time-to-milestone table, median progress curves and AUC scores.

    Runs of different envs are never in one group (the group's label starts with the env's name), and each
    env's runs are scored over that env's own window.

    Args:
        runs: From :func:`load_runs`.
        axes: Axes to compute, among :data:`AXES`; a group gets an axis only when all its runs have it.
        horizon: Axis -> the end of the AUC window for every env; default, per env, the longest run of that
            env on that axis.
        n_boot: Bootstrap resamples for the confidence intervals (resampling runs within a group).
        confidence: Confidence level of the intervals.
        seed: Seed of the bootstrap (the same inputs give the same numbers).
    """
    bad = [a for a in axes if a not in AXES]
    if bad:
        raise ValueError(f"unknown axis {bad[0]!r}; valid: {', '.join(AXES)}")
    if n_boot < 1:
        raise ValueError(f"invalid n_boot {n_boot!r}; must be >= 1")
    for axis, h in (horizon or {}).items():
        if not (isinstance(h, (int, float)) and math.isfinite(h) and h > 0):
            raise ValueError(f"invalid {axis} horizon {h!r}; must be a positive number")
    rng = np.random.default_rng(seed)
    several_envs = len({r.env_id for r in runs}) > 1
    groups: dict[tuple[str, str], list[RunProgress]] = {}
    for run in runs:
        groups.setdefault((run.env_id, run.group), []).append(run)
    # One window per env: a short env's runs held flat over a long env's budget would score their plateau.
    horizons = {env: {a: max((r.end[a] for r in runs if r.env_id == env and a in r.axes), default=0.0)
                      for a in axes} for env in dict.fromkeys(r.env_id for r in runs)}
    for env_horizons in horizons.values():
        env_horizons.update({a: float(h) for a, h in (horizon or {}).items()})
    result = Comparison(horizons=horizons, settings={"n_boot": n_boot, "confidence": confidence, "seed": seed,
                                                     "axes": list(axes), "horizon": dict(horizon or {})})
    for (env, group), members in groups.items():
        # grouped by env already (--group-by env,agent): "QuestCanon-v0: QuestCanon-v0 / oracle" said it twice
        named = group.split(" / ")[0] == env_name(env)
        label = f"{env_name(env)}: {group}" if several_envs and not named else group
        catalog = max((r.catalog for r in members), key=len)
        total = len(catalog)
        # Every milestone of the group's catalogs: runs of different worlds (Quest-v0 makes one per reset seed)
        # have different catalogs, and a milestone is only counted over the runs whose world has it.
        milestones = list(dict.fromkeys([*catalog, *(m for r in members for m in r.catalog)]))
        group_axes = [a for a in axes if all(a in r.axes for r in members)]
        picks = rng.integers(0, len(members), (n_boot, len(members)))
        entry: dict[str, Any] = {"group": label, "env": env, "runs": len(members), "catalog_size": total,
                                 "axes": group_axes, "complete_runs": sum(r.complete for r in members),
                                 "finished_runs": sum(r.finished for r in members),
                                 "stopped_early_runs": sum(bool(r.stopped_early) for r in members),
                                 "median_curve": {}, "auc": {}}
        for axis in group_axes:
            h = horizons[env][axis]
            times, observed = times_to_k(members, axis, total)
            medians = median_curve_impl(members, axis, total)
            boot = bootstrap_median_curves(times, observed, picks)  # (n_boot, total)
            points = []
            for k in range(total):
                if not observed[:, k].any():
                    break
                low, high = _interval(boot[:, k], confidence)
                points.append({"k": k + 1, "median": float(medians[k]), "ci_low": low, "ci_high": high})
            entry["median_curve"][axis] = points
            # The AUC counts each run's milestones against its own world's catalog: the median curve of fractions.
            if all(len(r.catalog) in (0, total) for r in members):  # one catalog size: the curves above, in k / total
                levels, frac_medians, frac_boot = np.arange(1, total + 1) / total, medians, boot
            else:
                levels, frac_times, frac_observed = times_to_fraction(members, axis)
                frac_medians = np.maximum.accumulate(km_median_batch(frac_times.T, frac_observed.T))
                frac_boot = bootstrap_median_curves(frac_times, frac_observed, picks)
            low, high = _interval(np.atleast_1d(auc_from_levels(frac_boot, levels, h)), confidence)
            entry["auc"][axis] = {"value": auc_from_levels(frac_medians, levels, h), "ci_low": low,
                                  "ci_high": high, "horizon": h}
            for milestone in milestones:
                holders = [r for r in members if milestone in r.catalog]
                reached = [r.times(axis) for r in holders]
                t = np.array([got.get(milestone, r.end[axis]) for got, r in zip(reached, holders, strict=True)])
                o = np.array([milestone in got for got in reached])
                if not o.any() and axis != "steps":
                    continue
                held = picks if len(holders) == len(members) else rng.integers(0, len(holders),
                                                                               (n_boot, len(holders)))
                low, high = _interval(km_median_batch(t[held], o[held]), confidence)
                result.time_to_milestone.append({
                    "group": label, "axis": axis, "milestone": milestone,
                    "name": holders[0].milestone_names.get(milestone, milestone), "runs": len(holders),
                    "reached": int(o.sum()), "reached_fraction_km": km_fraction(t, o),
                    "median": km_median(t, o), "ci_low": low, "ci_high": high,
                    "fastest": float(t[o].min()) if o.any() else math.inf})
        result.groups.append(entry)
        for r in members:
            own = len(r.catalog) or total  # a run's fraction is of its own world's catalog
            row: dict[str, Any] = {"run": r.name, "path": r.path, "episode": r.episode, "group": label,
                                   "env": r.env_id, "seed": r.seed, "milestones": len(r.events),
                                   "catalog_size": own, "complete": r.complete, "finished": r.finished,
                                   "stopped_early": r.stopped_early}
            for axis in axes:
                has = axis in r.axes
                h = horizons[env][axis]
                row[f"end_{axis}"] = r.end.get(axis)
                row[f"horizon_{axis}"] = h if has else None
                row[f"auc_{axis}"] = auc_from_times(sorted(r.times(axis).values()), own, h) if has else None
                row[f"censored_{axis}"] = has and not r.finished and r.end[axis] < h
            result.runs.append(row)
    return result


# ============================================================================================ outputs


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def comparison_json(result: Comparison) -> str:
    """JSON text of ``result``; ``inf`` (not reached / unbounded) becomes ``null``."""
    return json.dumps(_finite(asdict(result)), indent=2, sort_keys=True)


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and not isinstance(row[k], (dict, list))]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None or (isinstance(v, float) and math.isinf(v)) else v)
                             for k, v in row.items() if k in columns})


def write_outputs(result: Comparison, runs: Sequence[RunProgress], out_dir: str | os.PathLike[str], *,
                  plots: bool = True, log_x: bool = False) -> list[Path]:
    """Writes ``summary.json``, ``runs.csv``, ``time_to_milestone.csv``, ``median_curves.csv`` and one
    ``progress_<axis>.png`` per axis to ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    (out / "summary.json").write_text(comparison_json(result) + "\n")
    written.append(out / "summary.json")
    _write_csv(out / "runs.csv", result.runs)
    _write_csv(out / "time_to_milestone.csv", result.time_to_milestone)
    curve_rows = [{"group": g["group"], "axis": axis, **p} for g in result.groups
                  for axis, points in g["median_curve"].items() for p in points]
    _write_csv(out / "median_curves.csv", curve_rows)
    written += [out / "runs.csv", out / "time_to_milestone.csv", out / "median_curves.csv"]
    if plots:
        written += plot_progress(result, runs, out, log_x=log_x)
    return written


def plot_progress(result: Comparison, runs: Sequence[RunProgress], out_dir: Path, *,
                  log_x: bool = False) -> list[Path]:
    """One PNG per axis: every run faintly, each group's median curve with its bootstrap band; one panel per env
    (envs differ in budget and catalog, so their runs share no axes)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ReplayError("plots need matplotlib: pip install 'longplay[media]'") from None
    by_name = {(r.path, r.episode): r for r in runs}
    panel_height, margin_top, margin_bottom = 5.4, 0.4, 0.55  # inches
    paths = []
    for axis in result.settings["axes"]:
        groups = [g for g in result.groups if axis in g["axes"]]
        if not groups:
            continue
        envs = list(dict.fromkeys(g.get("env", "") for g in groups))
        height = panel_height * len(envs)
        fig = Figure(figsize=(9, height), dpi=100)
        FigureCanvasAgg(fig)
        colors = {g["group"]: f"C{i % 10}" for i, g in enumerate(groups)}
        for panel, env in enumerate(envs):
            ax = fig.add_subplot(len(envs), 1, panel + 1)
            env_groups = [g for g in groups if g.get("env", "") == env]
            for group in env_groups:
                _plot_group(ax, group, axis, colors[group["group"]],
                            [by_name[(row["path"], row["episode"])] for row in result.runs
                             if row["group"] == group["group"]])
            ax.set_xlabel(AXIS_LABELS[axis])
            ax.set_ylabel("milestones reached")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            if log_x:
                ax.set_xscale("symlog", linthresh=1.0)
            ax.set_ylim(bottom=0)
            ax.set_xlim(left=0)
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right", fontsize="small")
            window = f"AUC over 0..{env_groups[0]['auc'][axis]['horizon']:g} {AXIS_UNITS[axis]}"
            title = (f"Progress against {AXIS_LABELS[axis]} (median, {_percent(result.settings['confidence'])} "
                     "bootstrap band; | = censored)")
            ax.set_title(f"{env_name(env)}: {title}; {window}" if len(envs) > 1 else f"{title}; {window}",
                         fontsize="medium")
        # Fixed margins (tight_layout is slow), in inches so that every panel gets the same room.
        fig.subplots_adjust(left=0.08, right=0.98, top=1 - margin_top / height, bottom=margin_bottom / height,
                            hspace=(margin_top + margin_bottom) / (panel_height - margin_top - margin_bottom))
        path = out_dir / f"progress_{axis}.png"
        fig.savefig(path)
        paths.append(path)
    return paths


def _plot_group(ax: Any, group: dict[str, Any], axis: str, color: str, members: Sequence[RunProgress]) -> None:
    """Draws a group's runs faintly and its median curve with its bootstrap band on ``ax``."""
    for run in members:
        xs, ys = progress_curve_impl(run, axis)
        ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
        if not run.finished:
            ax.plot(xs[-1], ys[-1], marker="|", color=color, alpha=0.5, markersize=8)  # censored end
    curve = median_band_impl(group, members, axis)
    ax.plot(curve["x"], curve["median"], color=color, linewidth=2,
            label=f"{group['group']} (n={group['runs']}, AUC {group['auc'][axis]['value']:.3f})")
    ax.fill_between(curve["x"], curve["lower"], curve["upper"], color=color, alpha=0.15, linewidth=0)


def format_table(result: Comparison, axis: str = "steps") -> str:
    """The time-to-milestone table on ``axis`` as aligned text (``>`` marks a bound that is not reached)."""
    rows = [r for r in result.time_to_milestone if r["axis"] == axis]
    if not rows:
        return f"(no runs with a {axis} axis)"

    def fmt(value: float) -> str:
        if not math.isfinite(value):
            return "not reached"
        return f"{value:.4g}" if axis != "steps" else f"{int(value)}"

    lines = [("group", "milestone", "reached", f"median {axis}", f"{_percent(result.settings['confidence'])} CI")]
    for r in rows:
        lines.append((r["group"], r["milestone"], f"{r['reached']}/{r['runs']}", fmt(r["median"]),
                      f"{fmt(r['ci_low'])} .. {fmt(r['ci_high'])}"))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)
