"""The viewer's data: pure functions from replays to JSON-able values (and PNG bytes).

Each ``*_impl`` function takes what it reads (a :class:`~longplay.replays.reader.ReplayReader`, an index
built from one, compare's run records) and returns plain data; the HTTP routes in
:mod:`longplay.replays.viewer.server` only look things up and serialise, and :mod:`.html_export` calls the
same functions to write a self-contained page. ``API.md`` beside this file documents every shape.

Steps follow the replay format: step ``s`` is the state after ``s`` actions of an episode; the action at
step ``s`` leads to step ``s + 1``; a turn "in force" at step ``s`` is the last LM turn that started at or
before ``s`` (the one that chose the buttons being pressed).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from longplay.envs.game import BUTTON_NAMES, Game, GameState
from longplay.replays.compare import (
    AXES,
    AXIS_LABELS,
    RunProgress,
    budget_used,
    compare_impl,
    env_name,
    median_band_impl,
    progress_curve_impl,
    recording_window_s,
    scaffold_name,
    still_recording,
    stopped_early,
)
from longplay.replays.reader import (
    EnvFactory,
    Episode,
    MemorySnapshot,
    ReplayReader,
    Spending,
    Turn,
    is_agent_turn,
    make_env,
)
from longplay.replays.schema import ReplayError
from longplay.replays.viewer.areas import AreaInfo, AreaSupport, Probe, generic_probe, support_for
from longplay.replays.viewer.png import encode_indexed_png, encode_png
from longplay.replays.viewer.seeker import DEFAULT_WAYPOINT_EVERY, EpisodeSeeker, walk_positions

#: Steps a second at "real time" (the env's ``render_fps``; the speed ``longplay export`` calls 1x).
REAL_TIME_STEPS_PER_SECOND = 30
#: Names of the actions, by Gymnasium action index (the last is the optional no-op).
ACTION_NAMES: tuple[str, ...] = (*BUTTON_NAMES, "noop")
#: Bootstrap resamples for the comparison page's intervals (fewer than the CLI: the page is interactive).
COMPARE_BOOT = 200


# ============================================================================================ JSON helpers


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (``inf``: not reached, ``nan``) replaced by ``None``: browsers'
    ``JSON.parse`` accepts neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _date(created: Any) -> str | None:
    if not isinstance(created, str):
        return None
    try:
        return datetime.fromisoformat(created).isoformat()
    except ValueError:
        return created


# ============================================================================================ run list


def run_summary_impl(reader: ReplayReader, run_id: str, *, size_bytes: int | None = None) -> dict[str, Any]:
    """One row of the run list: what the run was, how far it got, its budget and how it ended (no re-simulation:
    a fast read). Read in one snapshot: a run still recording as one commit left it. It holds what the run's
    marks derive from (:func:`end_record`); :func:`run_list_impl` takes the marks as it serves the row."""
    with reader.snapshot():
        return _run_summary(reader, run_id, size_bytes)


def _run_summary(reader: ReplayReader, run_id: str, size_bytes: int | None) -> dict[str, Any]:
    header = reader.header
    episodes = reader.episodes()
    # Each episode's own catalog (longplay/Quest-v0 plays a world per reset seed): names, order and the size the
    # best episode's milestones are counted against.
    catalogs = {e.episode: reader.catalog(e.episode) for e in episodes}
    milestones = reader.milestones()
    per_episode: dict[int, int] = {}
    for m in milestones:
        per_episode[m.episode] = per_episode.get(m.episode, 0) + 1
    best = max(per_episode, key=lambda e: (per_episode[e], -e), default=episodes[0].episode if episodes else -1)
    catalog = catalogs.get(best, header.get("catalog") or [])
    last = max(milestones, key=lambda m: (catalog_position(catalogs.get(m.episode, ()), m.milestone), m.step),
               default=None)
    spending = reader.spending()
    env_id = str(header.get("env_id") or "")
    budget = header.get("budget")
    return {
        "id": run_id,
        "name": reader.path.name,
        "env": env_id.rsplit("/", 1)[-1],
        "env_id": env_id,
        "backend": header.get("backend"),
        "agent": header.get("agent"),
        "model": header.get("model"),
        "scaffold": scaffold_name(header.get("scaffold_card")) or None,
        "label": header.get("label"),
        "seed": header.get("seed"),
        "world_seed": header.get("world_seed"),
        "steps": sum(e.recorded_steps for e in episodes),
        "episodes": len(episodes),
        # The save states its episodes started from (SHA-256, each once, in order of first use): empty from the start.
        "start_states": list(dict.fromkeys(d for e in episodes if (d := e.start_digest))),
        "milestones": per_episode.get(best, 0),
        "catalog_size": len(catalog),
        "furthest_milestone": milestone_name(catalogs.get(last.episode, ()), last.milestone) if last else None,
        "turns": spending.turns,
        "tokens": spending.tokens,
        "cost_usd": spending.cost_usd,
        "created": _date(header.get("created")),
        "duration_s": header.get("duration_s"),
        "status": header.get("status"),
        "budget": budget if isinstance(budget, dict) else None,
        **end_record(header, episodes, spending, reader.last_commit()),
        "size_bytes": size_bytes,
    }


def end_record(header: dict[str, Any], episodes: Sequence[Episode], spending: Spending,
               last_commit: datetime | None) -> dict[str, Any]:
    """How a run ended, as read from its file: what the comparison's marks derive from. ``stopped_early``, its
    recorder closed it before the budget its header records was used (Ctrl+C, failures; None where it records no
    budget); ``complete``, its recorder closed every episode (a run with no episode yet, before its first reset:
    closed the file); ``last_commit`` (ISO 8601) and ``recording_window_s`` (its
    :func:`~longplay.replays.compare.recording_window_s`). A run-list row keeps these; ``recording``, ``killed`` and
    ``quiet_s`` age with the clock, so they are taken as it is served (:func:`with_recording_marks`)."""
    used = budget_used(header, episodes, spending)
    return {"stopped_early": None if used is None else any(stopped_early(used, info) for info in episodes),
            "complete": all(info.complete for info in episodes) if episodes else header.get("status") == "closed",
            "last_commit": last_commit.isoformat() if last_commit else None,
            "recording_window_s": recording_window_s(header)}


def end_marks(header: dict[str, Any], episodes: Sequence[Episode], spending: Spending,
              last_commit: datetime | None, now: datetime | None = None) -> dict[str, Any]:
    """How a run ended, as the comparison marks it at ``now``: its :func:`end_record` with its
    :func:`recording_marks`. The run list and the run page show the same marks."""
    return with_recording_marks(end_record(header, episodes, spending, last_commit), now)


def recording_marks(complete: bool, last_commit: str | None, window_s: float,
                    now: datetime | None = None) -> dict[str, Any]:
    """Whether a run is still being recorded or was killed, by compare's rule
    (:func:`~longplay.replays.compare.still_recording`): ``recording``, its recorder did not close every episode
    (``complete``) and its last commit (``last_commit``, ISO 8601) is less than ``window_s`` old (the run's
    :func:`~longplay.replays.compare.recording_window_s`); ``killed``, it did not, and its last commit is older;
    ``quiet_s``, seconds from its last commit to ``now`` (default: this moment)."""
    moment = datetime.fromisoformat(last_commit) if last_commit else None
    now = now or datetime.now(timezone.utc)
    live = not complete and still_recording(moment, now, window_s)
    return {"recording": live, "killed": not complete and not live,
            "quiet_s": max(0.0, (now - moment).total_seconds()) if moment else None}


def with_recording_marks(row: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """``row`` (a run-list row, a comparison run: anything with :func:`end_record`'s ``complete``, ``last_commit``
    and ``recording_window_s``) with its :func:`recording_marks` taken at ``now``. Taken each time a row is served,
    however long it was cached: a killed run's file does not change as it ages."""
    return {**row, **recording_marks(row["complete"], row["last_commit"], row["recording_window_s"], now)}


def catalog_position(catalog: Sequence[Any], milestone: str) -> int:
    """Index of ``milestone`` in an episode's catalog (``-1`` when absent)."""
    for i, m in enumerate(catalog):
        if isinstance(m, dict) and m.get("id") == milestone:
            return i
    return -1


def milestone_name(catalog: Sequence[Any], milestone: str) -> str:
    """The name of ``milestone`` in an episode's catalog (its id when absent)."""
    i = catalog_position(catalog, milestone)
    return str(catalog[i].get("name", milestone)) if i >= 0 else milestone


def with_run_id(text: str, run_id: str, paths: Sequence[Any] = ()) -> str:
    """``text`` (a message or a note) with the file's absolute ``paths`` shown as the run id."""
    for path in paths:
        text = text.replace(str(path), run_id)
    return text


def relative_message(error: BaseException, run_id: str, paths: Sequence[Any] = ()) -> str:
    """``str(error)`` (or its type's name) with the file's absolute ``paths`` shown as the run id."""
    return with_run_id(str(error) or type(error).__name__, run_id, paths)


def unreadable_impl(run_id: str, error: BaseException, paths: Sequence[Any] = ()) -> dict[str, Any]:
    """A run-list entry for a file that cannot be read: its id, the one-line reason and the error kind
    (``paths``: where the file lies, replaced by the id in the message)."""
    return {"id": run_id, "error": relative_message(error, run_id, paths), "kind": type(error).__name__}


def run_list_impl(folder_name: str, rows: Sequence[dict[str, Any]],
                  unreadable: Sequence[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
    """The run list: readable runs newest first, then the unreadable files by name. Each row's ``recording`` and
    ``killed`` are taken at ``now`` (:func:`with_recording_marks`), however old the row."""
    ordered = sorted((with_recording_marks(r, now) for r in rows),
                     key=lambda r: (r.get("created") or "", r["id"]), reverse=True)
    return {"folder": folder_name, "runs": ordered, "unreadable": sorted(unreadable, key=lambda u: u["id"])}


# ============================================================================================ indexes


@dataclass
class TurnIndex:
    """An episode's LM turns ordered by step, with running totals, for "the turn in force at step s"."""

    turns: list[Turn] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))  # cumulative, through turn i
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    played: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # agent turns through row i

    @classmethod
    def build(cls, turns: Sequence[Turn]) -> TurnIndex:
        """From one episode's turns (any order)."""
        ordered = sorted(turns, key=lambda t: (t.step, t.turn))
        spent = [t.tokens for t in ordered]
        return cls(ordered, [t.step for t in ordered], np.cumsum(np.asarray(spent, float)),
                   np.cumsum(np.asarray([t.cost_usd for t in ordered], float)),
                   np.cumsum(np.asarray([is_agent_turn(t) for t in ordered], int)))

    def in_force(self, step: int) -> int:
        """Index of the last turn that started at or before ``step`` (``-1``: none yet)."""
        return bisect.bisect_right(self.steps, step) - 1


@dataclass
class MemoryIndex:
    """An episode's scaffold memory snapshots by component, for "memory as it stood at step s"."""

    order: list[str] = field(default_factory=list)  # components, in scaffold-card order then first use
    by_name: dict[str, list[MemorySnapshot]] = field(default_factory=dict)
    steps: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, snapshots: Sequence[MemorySnapshot], card_order: Sequence[str] = ()) -> MemoryIndex:
        """From one episode's snapshots; ``card_order`` puts the scaffold card's components first."""
        index = cls()
        for snap in sorted(snapshots, key=lambda s: (s.step, s.snapshot)):
            index.by_name.setdefault(snap.name, []).append(snap)
        index.order = [n for n in card_order if n in index.by_name]
        index.order += [n for n in index.by_name if n not in index.order]
        index.steps = {n: [s.step for s in snaps] for n, snaps in index.by_name.items()}
        return index

    def at(self, step: int) -> list[tuple[MemorySnapshot, int]]:
        """(latest snapshot at or before ``step``, how many snapshots up to it) per component that had one."""
        out = []
        for name in self.order:
            k = bisect.bisect_right(self.steps[name], step)
            if k:
                out.append((self.by_name[name][k - 1], k))
        return out


def card_components(card: Any) -> list[str]:
    """The component names of a scaffold card, in order (cards are lists, or dicts with ``components``)."""
    if isinstance(card, dict):
        card = card.get("components") or ([card] if card.get("name") else [])
    if not isinstance(card, list):
        return []
    return [str(c["name"]) for c in card if isinstance(c, dict) and "name" in c]


# ============================================================================================ run page


def _tier_of(catalog: Sequence[Any]) -> dict[str, int]:
    return {m["id"]: int(m.get("tier", 0)) for m in catalog if isinstance(m, dict) and "id" in m}


def _catalog_rows(catalog: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": m.get("id"), "name": m.get("name", m.get("id")), "tier": m.get("tier", 0)} for m in catalog]


def run_impl(reader: ReplayReader, run_id: str, turn_indexes: dict[int, TurnIndex] | None = None,
             memory_indexes: dict[int, MemoryIndex] | None = None) -> dict[str, Any]:
    """The run page's data: header facts (the budget too), catalog, whether the run stopped before its budget or
    was killed (compare's rule), and per episode the milestones, keyframes and the steps where LM turns started
    (errors apart) and where memory changed.

    ``turn_indexes`` / ``memory_indexes`` (episode -> index) skip re-reading them when the caller has them. Read in
    one snapshot: a run still recording as one commit left it (with the caller's indexes, read them in it too).
    """
    with reader.snapshot():
        return _run_page(reader, run_id, turn_indexes, memory_indexes)


def _run_page(reader: ReplayReader, run_id: str, turn_indexes: dict[int, TurnIndex] | None,
              memory_indexes: dict[int, MemoryIndex] | None) -> dict[str, Any]:
    header = reader.header
    catalog = [m for m in header.get("catalog") or [] if isinstance(m, dict)]
    turn_indexes = turn_indexes if turn_indexes is not None else build_turn_indexes(reader)
    memory_indexes = memory_indexes if memory_indexes is not None else build_memory_indexes(reader)
    milestones = reader.milestones()
    infos = reader.episodes()
    spending = Spending.of(t for index in turn_indexes.values() for t in index.turns)
    episodes = []
    for info in infos:
        e = info.episode
        turns = turn_indexes.get(e, TurnIndex())
        memory = memory_indexes.get(e, MemoryIndex())
        own = reader.catalog(e)  # the world this episode played (longplay/Quest-v0: one per reset seed)
        names = {m["id"]: m.get("name", m["id"]) for m in own}
        tiers = _tier_of(own)
        episodes.append({
            "episode": e, "seed": info.seed, "steps": info.recorded_steps, "end_step": info.end_step,
            "end_reason": info.end_reason, "complete": info.complete,
            "duration_s": (info.ended_t - info.started_t) if info.ended_t is not None else None,
            "world": info.identity, "start_state": info.start_digest,
            "catalog": None if own == catalog else _catalog_rows(own),
            "milestones": [{"id": m.milestone, "name": names.get(m.milestone, m.milestone),
                            "tier": tiers.get(m.milestone, 0), "step": m.step,
                            "t": max(0.0, m.t - info.started_t)}
                           for m in milestones if m.episode == e],  # one step's in catalog order (the reader's)
            "keyframes": reader.keyframe_steps(e),
            "turn_steps": turns.steps,
            "error_steps": [t.step for t in turns.turns if t.error],
            "memory_steps": sorted({s for steps in memory.steps.values() for s in steps}),
            "tokens": float(turns.tokens[-1]) if len(turns.tokens) else 0.0,
            "cost_usd": float(turns.cost[-1]) if len(turns.cost) else 0.0,
        })
    return finite({
        "id": run_id,
        "name": reader.path.name,
        "header": {key: header.get(key) for key in (
            "env_id", "env_kwargs", "backend", "agent", "model", "label", "seed", "world_seed", "rom_sha1",
            "identity", "created", "status", "duration_s", "package_version", "format_version", "scaffold_card",
            "config", "reward_source", "budget")},
        "scaffold": scaffold_name(header.get("scaffold_card")) or None,
        **end_marks(header, infos, spending, reader.last_commit()),
        "catalog": _catalog_rows(catalog),
        "episodes": episodes,
        "has_turns": any(index.turns for index in turn_indexes.values()),
        "has_memory": any(index.order for index in memory_indexes.values()),
        "turns": spending.turns,
        "tokens": spending.tokens,
        "cost_usd": spending.cost_usd,
        "frame": {"width": 160, "height": 144},
        "real_time_steps_per_second": REAL_TIME_STEPS_PER_SECOND,
    })


def build_turn_indexes(reader: ReplayReader) -> dict[int, TurnIndex]:
    """Episode -> :class:`TurnIndex` of every episode with turns."""
    per: dict[int, list[Turn]] = {}
    for t in reader.turns():
        per.setdefault(t.episode, []).append(t)
    return {e: TurnIndex.build(ts) for e, ts in per.items()}


def build_memory_indexes(reader: ReplayReader) -> dict[int, MemoryIndex]:
    """Episode -> :class:`MemoryIndex` of every episode with memory snapshots."""
    order = card_components(reader.header.get("scaffold_card"))
    per: dict[int, list[MemorySnapshot]] = {}
    for s in reader.memory():
        per.setdefault(s.episode, []).append(s)
    return {e: MemoryIndex.build(snaps, order) for e, snaps in per.items()}


def turn_json(turn: Turn) -> dict[str, Any]:
    """A turn as JSON-able data (``kind`` lifted from ``extra``: act, summary, critic ...; ``agent_turn``:
    :func:`is_agent_turn`, which the page's own counts use too)."""
    extra = turn.extra or {}
    return finite({
        "turn": turn.turn, "episode": turn.episode, "step": turn.step, "t": turn.t,
        "kind": extra.get("kind") if isinstance(extra, dict) else None, "agent_turn": is_agent_turn(turn),
        "response": turn.response, "tool_calls": turn.tool_calls or [], "error": turn.error,
        "tokens_in": turn.tokens_in, "tokens_out": turn.tokens_out, "tokens_cache_read": turn.tokens_cache_read,
        "tokens_cache_write": turn.tokens_cache_write,
        "tokens": turn.tokens,
        "cost_usd": turn.cost_usd, "latency_s": turn.latency_s, "prompt_digest": turn.prompt_digest,
        "extra": extra,
    })


def turns_at_impl(index: TurnIndex, step: int) -> dict[str, Any]:
    """The LM turns in force at ``step`` (every turn that started at the same step as the last one at or
    before ``step``), the totals spent through them, and the neighbouring turn steps for navigation."""
    i = index.in_force(step)
    if i < 0:
        return {"turns": [], "since_step": None, "spent": {"turns": 0, "tokens": 0.0, "cost_usd": 0.0},
                "prev_step": None, "next_step": index.steps[0] if index.steps else None}
    start_step = index.steps[i]
    first = bisect.bisect_left(index.steps, start_step)
    nxt = bisect.bisect_right(index.steps, step)
    return {
        "turns": [turn_json(t) for t in index.turns[first:i + 1]],
        "since_step": start_step,
        "spent": {"turns": int(index.played[i]), "tokens": float(index.tokens[i]), "cost_usd": float(index.cost[i])},
        "prev_step": index.steps[first - 1] if first > 0 else None,
        "next_step": index.steps[nxt] if nxt < len(index.steps) else None,
    }


def memory_at_impl(index: MemoryIndex, step: int) -> list[dict[str, Any]]:
    """Each scaffold component's memory as it stood at ``step``: its latest snapshot at or before it."""
    return [finite({"name": snap.name, "step": snap.step, "t": snap.t, "updates": count,
                    "format": "text" if isinstance(snap.content, str) else "json",
                    "content": snap.content, "extra": snap.extra})
            for snap, count in index.at(step)]


def game_state_json(state: GameState) -> dict[str, Any]:
    """A :class:`GameState` as JSON-able data (flags are counted, not listed: there can be hundreds)."""
    return {
        "map_id": state.map_id, "map_name": state.map_name, "x": state.x, "y": state.y, "facing": state.facing,
        "mode": state.mode.value,
        "party": [{"species": m.species, "level": m.level, "hp": m.hp, "max_hp": m.max_hp, "moves": list(m.moves)}
                  for m in state.party],
        "bag": [[name, count] for name, count in state.bag], "money": state.money, "badges": list(state.badges),
        "flags": len(state.flags), "dialog": state.dialog,
    }


def check_step(reader: ReplayReader, episode: int, step: int) -> Episode:
    """The episode, after checking that ``step`` is in it; raises ``ValueError`` (one line) otherwise."""
    info = reader.episode(episode)
    if not 0 <= step <= info.recorded_steps:
        raise ValueError(f"step {step} is out of range: episode {episode} has steps 0..{info.recorded_steps}")
    return info


def step_impl(reader: ReplayReader, episode: int, step: int, turns: TurnIndex | None = None,
              memory: MemoryIndex | None = None, *, seeker: EpisodeSeeker | None = None,
              with_state: bool = True) -> dict[str, Any]:
    """Everything the run page shows at one step except the frame: the action taken, the reward paid, the
    game's state summary (re-simulated, through ``seeker`` when given), the LM turn in force and spending
    so far, and the scaffold memory as it stood."""
    check_step(reader, episode, step)
    actions = reader.actions(episode)
    action = ACTION_NAMES[actions[step]] if step < len(actions) and actions[step] < len(ACTION_NAMES) else None
    out: dict[str, Any] = {
        "episode": episode, "step": step, "steps": len(actions), "action": action,
        "reward": reader.rewards(episode).get(step, 0.0),
        "state": None, "state_error": None,
        "lm": turns_at_impl(turns if turns is not None else TurnIndex.build(reader.turns(episode)), step),
        "memory": memory_at_impl(memory if memory is not None else MemoryIndex.build(
            reader.memory(episode), card_components(reader.header.get("scaffold_card"))), step),
    }
    if with_state:
        try:
            state = seeker.seek(step).state() if seeker is not None else reader.game_state_at(step, episode)
            out["state"] = game_state_json(state)
        except Exception as e:  # noqa: BLE001 - an env that cannot be rebuilt here: the rest still shows
            out["state_error"] = str(e) if isinstance(e, ReplayError) else f"{type(e).__name__}: {e}"
    return finite(out)


def frame_png_impl(seeker: EpisodeSeeker, step: int) -> bytes:
    """The frame at ``step`` of the seeker's episode as PNG (re-rendered from the nearest keyframe or
    waypoint: the same pixels as ``ReplayReader.frame_at``)."""
    return encode_png(np.asarray(seeker.seek(step).frame(), np.uint8))


# ============================================================================================ trajectory


def walk_episode(header: dict[str, Any], info: Episode, reset_options: dict[str, Any] | None, actions: bytes,
                 env_factory: EnvFactory | None = None, *,
                 waypoint_every: int = DEFAULT_WAYPOINT_EVERY) -> tuple[dict[str, Any], dict[int, bytes]]:
    """Re-simulates an episode on an env of its own: (:func:`trajectory_impl`'s data, save states every
    ``waypoint_every`` steps for an :class:`~longplay.replays.viewer.seeker.EpisodeSeeker`)."""
    env = (env_factory or make_env)(header)
    try:
        names: dict[int, str] = {}
        support: list[AreaSupport] = []

        def probe_of(game: Game) -> Probe:
            support.append(support_for(game))
            return support[0].probe(game) if support[0].probe else generic_probe(game, names)

        rows, waypoints = walk_positions(env, info, reset_options, actions, probe_of, every=waypoint_every)
        game = env.unwrapped.game  # type: ignore[attr-defined]
        return trajectory_json(info.episode, np.asarray(rows, np.int64).reshape(-1, 3), game, support[0],
                               names), waypoints
    finally:
        env.close()


def trajectory_json(episode: int, pos: np.ndarray, game: Game, support: AreaSupport,
                    names: dict[int, str]) -> dict[str, Any]:
    """The trajectory data of positions ``pos`` (row ``s``: map, x, y at step ``s``) in ``game``'s world."""
    change = np.concatenate([[0], np.flatnonzero(np.any(pos[1:] != pos[:-1], axis=1)) + 1])
    keys, first, counts = np.unique(pos, axis=0, return_index=True, return_counts=True)
    areas = []
    for map_id in np.unique(keys[:, 0]).tolist():
        on_map = keys[:, 0] == map_id
        tiles, tile_counts = keys[on_map, 1:], counts[on_map]
        described = support.describe(game, map_id) if support.describe else None
        x0, y0 = tiles.min(axis=0).tolist()
        x1, y1 = tiles.max(axis=0).tolist()
        area = described or AreaInfo(map_id, names.get(map_id, f"map {map_id}"), x1 + 1, y1 + 1)
        areas.append({
            "map_id": map_id, "name": area.name, "width": area.width, "height": area.height,
            "bounds": [x0, y0, x1, y1], "first_step": int(first[on_map].min()),
            "steps": int(tile_counts.sum()), "image": described is not None and support.image is not None,
            "visits": np.column_stack([tiles, tile_counts]).tolist(),
        })
    areas.sort(key=lambda a: a["first_step"])
    return {
        "episode": episode, "steps": len(pos) - 1,
        "points": {"step": change.tolist(), "map": pos[change, 0].tolist(), "x": pos[change, 1].tolist(),
                   "y": pos[change, 2].tolist()},
        "areas": areas,
    }


def trajectory_impl(header: dict[str, Any], info: Episode, reset_options: dict[str, Any] | None, actions: bytes,
                    env_factory: EnvFactory | None = None) -> dict[str, Any]:
    """Where the player was at every step of an episode, re-simulated on an env of its own.

    Returns the positions as change points (the step at which the player arrived at each new (map, x, y);
    the position at step ``s`` is that of the last change point at or before ``s``) and, per area visited,
    its name and size, the first step there, whether a map image exists, and the visit heatmap: steps spent
    on each tile, as ``[x, y, steps]`` rows.
    """
    return walk_episode(header, info, reset_options, actions, env_factory)[0]


def area_png_impl(game: Game, map_id: int) -> bytes | None:
    """The tiles of area ``map_id`` of ``game``'s world (the episode's: seek it there first) as PNG, or None
    when the backend draws none."""
    support = support_for(game)
    image = support.image(game, map_id) if support.image else None
    if image is None:
        return None
    return encode_indexed_png(image.indices, image.palette)


# ============================================================================================ comparison


def compare_data_impl(runs: Sequence[tuple[str, RunProgress]], *, unreadable: Sequence[dict[str, Any]] = (),
                      notes: Sequence[str] = (), n_boot: int = COMPARE_BOOT) -> dict[str, Any]:
    """The comparison page: each run's progress curve on every axis it has, the milestones' times per run,
    compare's group aggregates (median curves, time-to-milestone table, AUC) and the envs the runs played.

    Runs of different envs share no axes (their budgets and catalogs differ; ``longplay compare`` scores each
    env over its own AUC window and draws one panel per env): ``envs`` lists each env with its runs' catalog and
    its windows, and the page draws one chart per env. Each run names its group as ``groups`` and
    ``time_to_milestone`` do (``QuestMini-v0: oracle`` when several envs are compared), and its ``configuration``
    without the env; a run started from a save state carries the state's SHA-256 (``start_state``). Each run
    carries what its marks derive from; :func:`comparison_marks` takes them as the result is served (it is cached).

    Args:
        runs: (run id, one episode's :class:`RunProgress`) pairs, in the order to show them.
        unreadable: Entries of files that could not be read (from :func:`unreadable_impl`).
        notes: One line per episode (or replay) of the selected runs that compare left out (``read_runs``'
            warnings: no recorded step, the run killed or still being recorded), shown on the page.
        n_boot: Bootstrap resamples of the group intervals.
    """
    result = compare_impl([run for _, run in runs], axes=AXES, n_boot=n_boot) if runs else None
    label_of = {(row["path"], row["episode"]): row["group"] for row in (result.runs if result else [])}
    catalog: dict[str, str] = {}
    envs: dict[str, dict[str, Any]] = {}
    members_of: dict[str, list[RunProgress]] = {}  # each group's runs: the first for its configuration and start state
    out_runs = []
    for run_id, run in runs:
        env = envs.setdefault(run.env_id, {"env_id": run.env_id, "name": env_name(run.env_id), "runs": 0,
                                           "axes": [], "groups": [], "catalog": {}, "horizons": {}})
        env["runs"] += 1
        env["axes"] = [a for a in AXES if a in env["axes"] or a in run.axes]
        label = label_of.get((run.path, run.episode), run.group)
        members_of.setdefault(label, []).append(run)
        if label not in env["groups"]:
            env["groups"].append(label)
        for milestone in run.catalog:
            name = run.milestone_names.get(milestone, milestone)
            catalog.setdefault(milestone, name)
            env["catalog"].setdefault(milestone, name)
        curves = {}
        for axis in run.axes:
            xs, ys = progress_curve_impl(run, axis)
            curves[axis] = {"x": xs.tolist(), "y": ys.astype(int).tolist()}
        out_runs.append({
            "id": run_id, "run": run.name, "episode": run.episode, "group": label, "configuration": run.group,
            "start_state": run.start_state, "env_id": run.env_id, "seed": run.seed, "axes": list(run.axes),
            "complete": run.complete, "finished": run.finished, "stopped_early": run.stopped_early,
            "last_commit": run.last_commit.isoformat() if run.last_commit else None,
            "recording_window_s": run.recording_window_s,
            "milestones": len(run.events),
            "catalog_size": len(run.catalog), "catalog": list(run.catalog), "end": run.end, "curves": curves,
            "times": {axis: run.times(axis) for axis in run.axes},
        })
    groups = []
    for group in result.groups if result else []:
        members = members_of[group["group"]]
        groups.append({**group, "configuration": members[0].group, "start_state": members[0].start_state,
                       "median_band": {axis: median_band_impl(group, members, axis) for axis in group["axes"]}})
    return finite({
        "axes": [a for a in AXES if any(a in r["axes"] for r in out_runs)],
        "axis_labels": dict(AXIS_LABELS),
        "catalog": [{"id": m, "name": name} for m, name in catalog.items()],
        "envs": [{**env, "catalog": [{"id": m, "name": name} for m, name in env["catalog"].items()],
                  "horizons": {a: result.horizons[env["env_id"]][a] for a in env["axes"]} if result else {}}
                 for env in envs.values()],
        "runs": out_runs,
        "groups": groups,
        "time_to_milestone": result.time_to_milestone if result else [],
        "horizons": result.horizons if result else {},
        "unreadable": list(unreadable),
        "notes": list(notes),
    })


def comparison_marks(data: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """:func:`compare_data_impl`'s ``data`` with each run's ``recording`` and ``killed`` (:func:`recording_marks`)
    and each group's ``recording_runs`` taken at ``now``: a cached comparison is marked again each time it is
    served. A group's killed runs are its ``runs - complete_runs - recording_runs``."""
    runs = [with_recording_marks(r, now) for r in data["runs"]]
    groups = [{**g, "recording_runs": sum(r["recording"] for r in runs if r["group"] == g["group"])}
              for g in data["groups"]]
    return {**data, "runs": runs, "groups": groups}
