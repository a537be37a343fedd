"""``ReplayReader``: random access to a replay (header, actions, milestones, summaries, LM turns, frames).

Frames are never stored: :meth:`ReplayReader.frame_at` rebuilds the game from the header, loads the nearest
keyframe at or before the step and presses the recorded buttons up to it.

>>> with ReplayReader("runs/20261128-235959__QuestMini-v0__random__seed0.lpr") as replay:  # doctest: +SKIP
...     replay.header["agent"], replay.num_steps(), replay.milestones()[:1], replay.frame_at(1234).shape
('random', 100000, [MilestoneEvent(episode=0, step=41, milestone='left_house', t=0.01)], (144, 160, 3))
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from longplay.envs.game import Button, Game, GameState
from longplay.replays.schema import (
    CorruptReplayError,
    ReplayError,
    fingerprint_spacing,
    open_replay,
    read_header,
    table_columns,
)

#: The most bytes a keyframe's save state may inflate to (a quest state is a few KB, a Game Boy one about 150 KB).
MAX_KEYFRAME_BYTES = 64 << 20
_REWARD_BYTES = struct.calcsize("<Id")


def inflate(blob: bytes, limit: int) -> bytes:
    """``zlib.decompress(blob)`` that stops past ``limit`` bytes: a few KB of a hostile or damaged replay can
    inflate to gigabytes. Raises ``zlib.error`` for a stream that does not decompress, is cut short, or holds
    more than ``limit`` bytes."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(blob, limit + 1)
    if len(out) > limit:
        raise zlib.error(f"inflates to more than {limit} bytes")
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    return out


def _utc(text: Any) -> datetime | None:
    """An ISO 8601 time of a header (``created``, ``committed``) as an aware UTC datetime; None where it is none."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


#: Gymnasium action index -> button (the last entry is the optional no-op), as ``LongplayEnv.step`` maps it.
ACTION_BUTTONS: tuple[Button | None, ...] = (*Button, None)

#: Builds the env a replay was recorded on, given the replay's header (default: :func:`make_env`).
EnvFactory = Callable[[dict[str, Any]], gym.Env]


def start_state_digest(options: Any) -> str | None:
    """The SHA-256 (hex) of the save state an episode reset with ``options`` started from, as recorded
    (``{"state": {"sha256": HEX}}``); None when it started from the world's start. ``ValueError`` when the
    options name a start state without its digest (an edited file).

    >>> start_state_digest({"state": {"sha256": "0361263063f2ff0e"}}), start_state_digest({"max_steps": 9})
    ('0361263063f2ff0e', None)
    """
    named = options.get("state") if isinstance(options, dict) else None
    if not isinstance(named, dict):
        return None
    digest = named.get("sha256")
    if not isinstance(digest, str) or not digest:
        raise ValueError("its options name a start state without its sha256")
    return digest


@dataclass(frozen=True)
class Episode:
    """One episode of a replay (a run holds one per ``reset``)."""

    episode: int
    seed: int
    options: dict[str, Any] | None
    start_hash: bytes
    identity: dict[str, Any] | None  # game.identity() after the reset: the world this episode played
    started_t: float
    end_step: int | None  # None: the episode was still running when the file was last committed
    end_reason: str | None  # terminated | truncated | reset | closed
    ended_t: float | None
    recorded_steps: int  # actions in the file

    @property
    def complete(self) -> bool:
        """True when the recorder closed the episode (it was not killed mid-episode)."""
        return self.end_step is not None

    @property
    def start_digest(self) -> str | None:
        """The SHA-256 (hex) of the save state the episode started from, as recorded; None: the world's start.
        The state itself is the reader's :meth:`ReplayReader.start_state`."""
        return start_state_digest(self.options)


@dataclass(frozen=True)
class MilestoneEvent:
    """A milestone reached: ``step`` of ``episode``, ``t`` seconds after the recording started."""

    episode: int
    step: int
    milestone: str
    t: float


@dataclass(frozen=True)
class Checkpoint:
    """A recorded state hash and/or compact state summary at ``step``."""

    step: int
    hash: bytes | None
    map_id: int | None
    x: int | None
    y: int | None
    mode: str | None

    def summary(self) -> Summary | None:
        """The compact state summary this checkpoint holds; None where it holds a hash only."""
        if self.map_id is None or self.x is None or self.y is None or self.mode is None:
            return None
        return Summary(self.step, self.map_id, self.x, self.y, self.mode)


@dataclass(frozen=True)
class Summary:
    """The compact state summary at ``step``: map, position and mode."""

    step: int
    map_id: int
    x: int
    y: int
    mode: str


@dataclass(frozen=True)
class Turn:
    """One language-model turn (see :meth:`longplay.replays.recorder.Recorder.log_turn`)."""

    turn: int
    episode: int
    step: int
    t: float
    prompt_digest: str | None
    response: str | None
    tool_calls: list[Any] | None
    tokens_in: int
    tokens_out: int
    tokens_cache_read: int
    tokens_cache_write: int
    cost_usd: float
    latency_s: float | None
    error: str | None
    extra: dict[str, Any] | None

    @property
    def tokens(self) -> int:
        """Every token the turn spent: in, out, and cache reads and writes (compare's tokens axis)."""
        return self.tokens_in + self.tokens_out + self.tokens_cache_read + self.tokens_cache_write


def is_agent_turn(turn: Turn) -> bool:
    """Whether a turn row is one of the agent's turns (the ``act`` calls the run's turn budget counts, failed
    ones too), not a scaffold's call (a summary, a critic's review), a turn's call the endpoint refused
    (``refused``: the run stopped, no turn was played) or the row that holds the spending of calls a crash lost
    (``discarded``), which count in tokens and dollars only."""
    kind = turn.extra.get("kind") if isinstance(turn.extra, dict) else None
    return kind in AGENT_TURN_KINDS


#: The ``extra["kind"]`` of the agent's own turn rows (None: replays from before rows had a kind).
AGENT_TURN_KINDS = (None, "act")


@dataclass(frozen=True)
class Spending:
    """What a run's turn rows add up to: the agent's turns (:func:`is_agent_turn`), tokens (:attr:`Turn.tokens`)
    and dollars."""

    turns: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def of(cls, turns: Iterable[Turn]) -> Spending:
        """The spending of ``turns``."""
        rows = list(turns)
        return cls(sum(is_agent_turn(t) for t in rows), sum(t.tokens for t in rows),
                   float(sum(t.cost_usd for t in rows)))


@dataclass(frozen=True)
class MemorySnapshot:
    """One snapshot of a scaffold memory component."""

    snapshot: int
    episode: int
    step: int
    t: float
    name: str
    content: Any  # str, or the decoded JSON value
    extra: dict[str, Any] | None


def make_env(header: dict[str, Any]) -> gym.Env:
    """Rebuilds the env a replay was recorded on from its header (``gymnasium.make(env_id, **env_kwargs)``), with
    its recorded options as this longplay takes them and the options its recorded identity asks for
    (:func:`~longplay.envs.registration.options_from_recording`: a Game Boy game recorded by an older longplay hashes
    its states as that one did, and its ROM recorded as hex text is read back as bytes).

    Only registered ids are made (never a ``module:Id`` path from the file: opening a replay runs no code
    named in it). Raises :class:`ReplayError` with a one-line message when that is impossible.
    """
    import longplay.envs  # noqa: F401 - registers the longplay ids
    from longplay.envs.registration import options_from_recording

    env_id = header.get("env_id")
    if not env_id:
        raise ReplayError("the replay names no env id: pass a make_env function to rebuild its env")
    if ":" in env_id or env_id not in gym.registry:
        raise ReplayError(f"env {env_id!r} is not registered here: import the package that registers it")
    try:
        return gym.make(env_id, **options_from_recording(env_id, header.get("env_kwargs"), header.get("identity")))
    except Exception as e:  # noqa: BLE001 - any failure to build is reported in one line
        raise ReplayError(f"cannot rebuild env {env_id!r}: {type(e).__name__}: {e}") from None


class ReplayReader:
    """Reads a replay file; see the module docstring. Use as a context manager or call :meth:`close`.

    Args:
        path: The replay.
        make_env: Builds the env from the header when :func:`make_env` cannot (custom envs).
    """

    def __init__(self, path: str | os.PathLike[str], *, make_env: EnvFactory | None = None) -> None:
        self.path = Path(path)
        self._conn = open_replay(self.path)
        try:
            # Read before the header: a commit between the two leaves the version behind the header, never ahead.
            self._data_version: int = self._query("PRAGMA data_version")[0][0]
            self.header: dict[str, Any] = read_header(self._conn, self.path)
        except BaseException:
            self._conn.close()
            raise
        self._make_env = make_env
        self._env: gym.Env | None = None
        self._actions: dict[int, bytes] = {}
        self._keyframe_steps: dict[int, list[int]] = {}
        self._episodes: list[Episode] | None = None
        self._start_states: dict[int, bytes] = {}  # step-0 keyframes of episodes started from a state, inflated
        self._stored_catalogs: dict[int, str | None] = {}  # episodes.catalog, raw (NULL: the header's)
        self._catalogs: dict[int, list[dict[str, Any]]] = {}
        self._catalog_column: bool | None = None
        self._seeded: int | None = None
        self._at: tuple[int, int] | None = None  # (episode, step) the game is at, when known

    # ------------------------------------------------------------------------------------------ plumbing
    def __enter__(self) -> ReplayReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the file and the rebuilt env."""
        self._conn.close()
        if self._env is not None:
            self._env.close()
            self._env = None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[ReplayReader]:
        """Holds one view of the file for the block: every read inside it sees the replay as one commit left it.

        A run still recording commits every few seconds, and each read outside a snapshot sees the latest commit: a
        checkpoint or milestone read after the actions may be of a step those actions do not reach yet (``verify``
        took that for a truncated file). Where something was committed since the caches were last emptied, the
        header is read again as the snapshot starts and what was read before it is read again from the snapshot;
        where nothing was (the viewer's private copy), the caches hold. Nested snapshots are the outer one.
        """
        if self._conn.in_transaction:
            yield self
            return
        try:
            self._conn.execute("BEGIN")  # deferred: the snapshot is taken by the first read, data_version's
        except sqlite3.DatabaseError as e:
            raise CorruptReplayError(f"corrupt replay: {self.path}: {e}") from None
        try:
            # The snapshot's own version; it changes only when another connection commits (this one never writes).
            version = self._query("PRAGMA data_version")[0][0]
            if version != self._data_version:
                self.header = read_header(self._conn, self.path)
                self._episodes, self._catalog_column, self._at, self._seeded = None, None, None, None
                for cache in (self._actions, self._keyframe_steps, self._start_states, self._stored_catalogs,
                              self._catalogs):
                    cache.clear()
                self._data_version = version
            yield self
        finally:
            self._conn.rollback()  # a read-only transaction: nothing to keep

    def check_integrity(self) -> None:
        """SQLite's ``quick_check`` of the file: :class:`CorruptReplayError` (one line) naming the first problem."""
        check = self._query("PRAGMA quick_check")
        if check != [("ok",)]:
            raise CorruptReplayError(f"corrupt replay: {self.path}: {check[0][0]}")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise CorruptReplayError(f"corrupt replay: {self.path}: {e}") from None

    def _where(self, episode: int | None) -> tuple[str, tuple[Any, ...]]:
        return ("", ()) if episode is None else (" WHERE episode = ?", (episode,))

    # ------------------------------------------------------------------------------------------ records
    def episodes(self) -> list[Episode]:
        """Every episode in the file, in order."""
        if self._episodes is None:
            counts = dict(self._query("SELECT episode, SUM(n_steps) FROM chunks GROUP BY episode"))
            catalog = "catalog" if self.episode_catalogs_recorded else "NULL"
            rows = self._query("SELECT episode, seed, options, start_hash, identity, started_t, end_step, end_reason, "
                               f"ended_t, {catalog} FROM episodes ORDER BY episode")
            self._stored_catalogs = {row[0]: row[-1] for row in rows}
            episodes = []
            for e, seed, options, start_hash, identity, started_t, end_step, end_reason, ended_t, _ in rows:
                self._check_numbers(f"episode {e}", integers={"seed": seed, "end_step": end_step},
                                    numbers={"started_t": started_t, "ended_t": ended_t},
                                    optional=("end_step", "ended_t"))
                if not isinstance(start_hash, bytes):
                    raise CorruptReplayError(f"corrupt replay: {self.path}: episode {e}'s start_hash is not a hash")
                options = self._json(f"episode {e}'s options", options)
                identity = self._json(f"episode {e}'s identity", identity)
                try:
                    start_state_digest(options)
                except ValueError as exc:
                    raise CorruptReplayError(f"corrupt replay: {self.path}: episode {e}: {exc}") from None
                episodes.append(Episode(e, seed, options, bytes(start_hash), identity, started_t, end_step, end_reason,
                                        ended_t, int(counts.get(e) or 0)))
            self._episodes = episodes
        return self._episodes

    def _check_numbers(self, what: str, *, integers: dict[str, Any] | None = None,
                       numbers: dict[str, Any] | None = None, optional: tuple[str, ...] = ()) -> None:
        """:class:`CorruptReplayError` naming the first column of ``what``'s row that holds no integer (``integers``)
        or no number (``numbers``), NULL allowed only where ``optional``: SQLite keeps an edited text that does not
        convert to the column's type, which failed as a TypeError deep in verify or compare."""
        for kinds, columns in (((int,), integers), ((int, float), numbers)):
            for column, value in (columns or {}).items():
                if value is None and column in optional:
                    continue
                if not isinstance(value, kinds) or isinstance(value, bool):
                    raise CorruptReplayError(f"corrupt replay: {self.path}: {what}'s {column} is {value!r:.40}, not "
                                             f"{'an integer' if kinds == (int,) else 'a number'}")

    def _json(self, what: str, text: str | None) -> Any:
        """The JSON value of a column (None when empty), ``what`` naming it (``episode 0's options``);
        :class:`CorruptReplayError` when it is not JSON (an edited file)."""
        if not text:
            return None
        try:
            return json.loads(text)
        except (ValueError, TypeError, RecursionError):
            raise CorruptReplayError(f"corrupt replay: {self.path}: {what} is not JSON") from None

    def start_state(self, episode: int = 0) -> bytes | None:
        """The save state ``episode`` started from (its keyframe at step 0, read on first use: a run listing never
        inflates it), or None for an episode that started from the world's start. Raises
        :class:`CorruptReplayError` (one line) when the state is missing or is not the one its options record."""
        want = self.episode(episode).start_digest
        if want is None:
            return None
        if episode not in self._start_states:
            try:
                self._start_states[episode] = self.keyframe(episode, 0)
            except (ValueError, CorruptReplayError):
                raise CorruptReplayError(f"episode {episode}'s start state (sha256 {want[:12]}..) is missing: the "
                                         "replay has no readable keyframe at step 0") from None
        state = self._start_states[episode]
        have = hashlib.sha256(state).hexdigest()
        if have != want:
            raise CorruptReplayError(f"episode {episode}'s start state is not the one recorded (sha256 {have[:12]}.. "
                                     f"at step 0, recorded {want[:12]}..): an edited keyframe")
        return state

    def reset_options(self, episode: int = 0) -> dict[str, Any] | None:
        """The options that reset the env to ``episode``'s start: the recorded ones, with the start state's bytes
        (:meth:`start_state`) in place of its digest. Ask while the reader is open."""
        options = self.episode(episode).options
        state = self.start_state(episode)
        return options if state is None else {**options, "state": state}

    @property
    def episode_catalogs_recorded(self) -> bool:
        """Whether the file records each episode's milestone catalog (``episodes.catalog``); replays written before
        that column existed name only the first episode's, in the header."""
        if self._catalog_column is None:
            try:
                self._catalog_column = "catalog" in table_columns(self._conn, "episodes")
            except sqlite3.DatabaseError as e:
                raise CorruptReplayError(f"corrupt replay: {self.path}: {e}") from None
        return self._catalog_column

    def catalog(self, episode: int = 0) -> list[dict[str, Any]]:
        """The milestone catalog of the world ``episode`` played: ``[{id, name, tier, weight}, ...]`` in catalog
        order. Worlds drawn from the reset seed (``longplay/Quest-v0``) differ per episode, each with its own.

        An episode stores its catalog where it is not the header's (the first episode's). A replay written before
        episodes stored theirs names only the first: a later episode whose world (``identity``) is another is
        reset here, on the rebuilt env, for its catalog (the header's is all there is when the env cannot be
        built here). Raises ``ValueError`` for an episode not in the file, :class:`CorruptReplayError` for a
        catalog that is not a list of milestones.
        """
        info = self.episode(episode)
        if episode not in self._catalogs:
            stored = self._stored_catalogs.get(episode)
            if stored is not None:
                try:
                    rows = json.loads(stored)
                except ValueError:
                    rows = None
                where = f"episode {episode}'s"
            else:
                rows, where = self.header.get("catalog") or [], "the header's"
                first = self.episodes()[0]
                if not self.episode_catalogs_recorded and episode != first.episode and \
                        info.identity is not None and info.identity != first.identity:
                    rows = self._rebuilt_catalog(episode) or rows
            if not isinstance(rows, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str)
                                                     for m in rows):
                raise CorruptReplayError(f"corrupt replay: {self.path}: {where} milestone catalog is not a list "
                                         "of milestones")
            self._catalogs[episode] = rows
        return self._catalogs[episode]

    def catalog_stored(self, episode: int = 0) -> bool:
        """Whether the file stores ``episode``'s own catalog (``episodes.catalog``); where it does not, the
        episode's catalog is the header's (see :meth:`catalog`)."""
        self.episode(episode)
        return self._stored_catalogs.get(episode) is not None

    def _rebuilt_catalog(self, episode: int) -> list[dict[str, Any]] | None:
        from longplay.replays.recorder import catalog_json

        try:
            self._reset_episode(episode)
        except ReplayError:  # the env cannot be built here (not registered, no ROM)
            return None
        return catalog_json(self.game)

    def episode(self, episode: int = 0) -> Episode:
        """The episode numbered ``episode``; raises ``ValueError`` if there is none."""
        episodes = self.episodes()
        if not 0 <= episode < len(episodes):
            raise ValueError(f"no episode {episode} in {self.path} (it has {len(episodes)})")
        return episodes[episode]

    def num_steps(self, episode: int = 0) -> int:
        """Actions recorded in ``episode``."""
        return len(self.actions(episode))

    def actions(self, episode: int = 0) -> bytes:
        """The recorded actions of ``episode``, one byte each; action ``i`` leads from step ``i`` to ``i + 1``.

        Raises :class:`CorruptReplayError` if the chunks do not join up.
        """
        if episode not in self._actions:
            self.episode(episode)
            parts = []
            expected = 0
            for first, n, blob in self._query("SELECT first_step, n_steps, actions FROM chunks WHERE episode = ? "
                                              "ORDER BY first_step", (episode,)):
                if first < expected:
                    raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode}: the chunk at step "
                                             f"{first} overlaps the actions before it (they reach step {expected})")
                if first > expected:
                    raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode} has no actions "
                                             f"for steps {expected}..{first - 1}")
                try:
                    part = inflate(blob, n)
                except zlib.error:
                    raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode}: the actions from "
                                             f"step {first} do not decompress") from None
                if len(part) != n:
                    raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode}: the chunk at step "
                                             f"{first} holds {len(part)} actions, not {n}")
                parts.append(part)
                expected = first + n
            self._actions[episode] = b"".join(parts)
        return self._actions[episode]

    @property
    def fingerprint_every(self) -> int:
        """Steps between recorded fingerprints: byte ``i`` of :meth:`fingerprints` is step
        ``(i + 1) * fingerprint_every`` of its episode."""
        return fingerprint_spacing(self.header, self.path)

    def fingerprints(self, episode: int = 0) -> bytes | None:
        """The low byte of ``game.fingerprint()`` after every :attr:`fingerprint_every`-th action of ``episode``
        (byte ``i`` is step ``(i + 1) * fingerprint_every``), or None when the game has no fingerprint (or a
        chunk lacks them)."""
        every = self.fingerprint_every
        parts = []
        for first, n, blob in self._query("SELECT first_step, n_steps, fingerprints FROM chunks WHERE episode = ? "
                                          "ORDER BY first_step", (episode,)):
            if blob is None:
                return None
            want = (first + n) // every - first // every  # the multiples of every in first+1 .. first+n
            try:
                part = inflate(blob, want)
            except zlib.error:
                raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode}: fingerprints from step "
                                         f"{first} do not decompress") from None
            if len(part) != want:
                raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode}: the chunk at step {first} "
                                         f"holds {len(part)} fingerprints, not {want}")
            parts.append(part)
        return b"".join(parts) if parts else None

    def rewards(self, episode: int = 0) -> dict[int, float]:
        """Nonzero rewards of ``episode`` by the step they were paid at (the step after the action)."""
        out: dict[int, float] = {}
        for first, n, blob in self._query("SELECT first_step, n_steps, rewards FROM chunks WHERE episode = ? AND "
                                          "rewards IS NOT NULL ORDER BY first_step", (episode,)):
            try:
                raw = inflate(blob, n * _REWARD_BYTES)  # at most one reward a step
                for offset, value in struct.iter_unpack("<Id", raw):
                    out[first + offset + 1] = value
            except (zlib.error, struct.error):
                raise CorruptReplayError(f"corrupt replay: {self.path}: episode {episode}: rewards from step "
                                         f"{first} are unreadable") from None
        return out

    def milestones(self, episode: int | None = None) -> list[MilestoneEvent]:
        """Milestone events (of one episode, or all), in the order reached: by episode and step, and those of one
        step (a start state's, all at step 0) in their episode's catalog order (ids not in it last, by time)."""
        where, params = self._where(episode)
        events = [MilestoneEvent(*row) for row in self._query(
            f"SELECT episode, step, milestone, t FROM milestones{where} ORDER BY episode, step, t, milestone", params)]
        for m in events:
            self._check_numbers(f"milestone {m.milestone!r:.40}", integers={"episode": m.episode, "step": m.step},
                                numbers={"t": m.t})
        positions = {e: self._catalog_positions(e) for e in {m.episode for m in events}}
        return sorted(events, key=lambda m: (m.episode, m.step,
                                             positions[m.episode].get(m.milestone, len(positions[m.episode]))))

    def _catalog_positions(self, episode: int) -> dict[str, int]:
        """Milestone id -> its index in ``episode``'s catalog, for :meth:`milestones`. Never resets the env: an
        older replay's later episode of another world (see :meth:`catalog`) is ordered by the header's catalog
        unless its own was read already, as is an episode whose catalog is not a list of milestones."""
        in_file = 0 <= episode < len(self.episodes())
        rows = self.header.get("catalog") or []
        if in_file and (episode in self._catalogs or self.episode_catalogs_recorded or episode == 0):
            try:
                rows = self.catalog(episode)
            except CorruptReplayError:  # an edited catalog: said by whoever reads it (verify names the episode)
                pass
        positions: dict[str, int] = {}
        for i, m in enumerate(rows if isinstance(rows, list) else []):
            if isinstance(m, dict) and "id" in m:
                positions.setdefault(m["id"], i)
        return positions

    def checkpoints(self, episode: int = 0) -> list[Checkpoint]:
        """Recorded state hashes and summaries of ``episode``, by step."""
        return [Checkpoint(step, None if h is None else bytes(h), m, x, y, mode) for step, h, m, x, y, mode in
                self._query("SELECT step, hash, map_id, x, y, mode FROM checkpoints WHERE episode = ? "
                            "ORDER BY step", (episode,))]

    def summaries(self, episode: int = 0) -> list[Summary]:
        """The recorded compact state summaries of ``episode`` (every ``summary_every`` steps, at milestones
        and at the end); :meth:`trajectory` re-simulates one for every step."""
        return [s for c in self.checkpoints(episode) if (s := c.summary()) is not None]

    def keyframe_steps(self, episode: int = 0) -> list[int]:
        """Steps of ``episode`` that have a keyframe, ascending."""
        if episode not in self._keyframe_steps:
            self._keyframe_steps[episode] = [s for (s,) in self._query(
                "SELECT step FROM keyframes WHERE episode = ? ORDER BY step", (episode,))]
        return self._keyframe_steps[episode]

    def keyframe(self, episode: int, step: int) -> bytes:
        """The save state of the keyframe at exactly ``step``."""
        rows = self._query("SELECT state, codec FROM keyframes WHERE episode = ? AND step = ?", (episode, step))
        if not rows:
            raise ValueError(f"no keyframe at step {step} of episode {episode}")
        state, codec = rows[0]
        if codec == "raw":
            return bytes(state)
        if codec != "zlib":
            raise CorruptReplayError(f"corrupt replay: {self.path}: the keyframe at step {step} of episode {episode} "
                                     f"has an unknown codec {codec!r}")
        try:
            return inflate(state, MAX_KEYFRAME_BYTES)
        except zlib.error:
            raise CorruptReplayError(f"corrupt replay: {self.path}: the keyframe at step {step} of episode "
                                     f"{episode} does not decompress") from None

    def turns(self, episode: int | None = None) -> list[Turn]:
        """Language-model turns (of one episode, or all), in order."""
        where, params = self._where(episode)
        rows = self._query("SELECT turn, episode, step, t, prompt_digest, response, tool_calls, tokens_in, "
                           "tokens_out, tokens_cache_read, tokens_cache_write, cost_usd, latency_s, error, extra "
                           f"FROM turns{where} ORDER BY turn", params)
        turns = [Turn(*r[:6], self._json(f"turn {r[0]}'s tool_calls", r[6]), *r[7:14],
                      self._json(f"turn {r[0]}'s extra", r[14])) for r in rows]
        for turn in turns:
            self._check_numbers(f"turn {turn.turn}", integers={
                "episode": turn.episode, "step": turn.step, "tokens_in": turn.tokens_in, "tokens_out": turn.tokens_out,
                "tokens_cache_read": turn.tokens_cache_read, "tokens_cache_write": turn.tokens_cache_write},
                numbers={"t": turn.t, "cost_usd": turn.cost_usd, "latency_s": turn.latency_s}, optional=("latency_s",))
        return turns

    def spending(self) -> Spending:
        """:meth:`turns`' :class:`Spending` over every episode, summed by SQLite: the run list asks it of every
        replay in a folder, where decoding each row (50 ms a replay of 4,000 turns) kept a folder of 300 LM runs
        from showing for half a minute. :class:`CorruptReplayError` where a count or a cost is not a number, as
        :meth:`turns` says (SUM reads an edited text as 0)."""
        counts = ("tokens_in", "tokens_out", "tokens_cache_read", "tokens_cache_write")
        bad = self._query(f"SELECT turn, {', '.join(counts)}, cost_usd FROM turns WHERE "
                          + " OR ".join(f"typeof({c}) != 'integer'" for c in counts)
                          + " OR typeof(cost_usd) NOT IN ('integer', 'real') ORDER BY turn LIMIT 1")
        for turn, *values, cost in bad:
            self._check_numbers(f"turn {turn}", integers=dict(zip(counts, values, strict=True)),
                                numbers={"cost_usd": cost})
        rows = self._query("SELECT json_extract(extra, '$.kind') AS kind, COUNT(*), "
                           "SUM(tokens_in + tokens_out + tokens_cache_read + tokens_cache_write), SUM(cost_usd) "
                           "FROM turns GROUP BY kind")
        return Spending(sum(n for kind, n, _, _ in rows if kind in AGENT_TURN_KINDS),
                        sum(tokens for _, _, tokens, _ in rows), float(sum(cost for *_, cost in rows)))

    def memory(self, episode: int | None = None) -> list[MemorySnapshot]:
        """Scaffold memory snapshots (of one episode, or all), in order."""
        where, params = self._where(episode)
        rows = self._query(f"SELECT snapshot, episode, step, t, name, content, format, extra FROM memory{where} "
                           "ORDER BY snapshot", params)
        return [MemorySnapshot(s, e, step, t, name,
                               self._json(f"memory snapshot {s}'s content", content) if fmt == "json" else content,
                               self._json(f"memory snapshot {s}'s extra", extra))
                for s, e, step, t, name, content, fmt, extra in rows]

    def last_commit(self) -> datetime | None:
        """When the file was last committed (UTC): the header's ``committed``, which the recorder writes with every
        commit. In replays from before it, ``created`` plus the latest ``t`` the file holds: behind the truth by the
        time a resumed run spent stopped. None where the header holds no such time."""
        committed = _utc(self.header.get("committed"))
        if committed is not None:
            return committed
        created = _utc(self.header.get("created"))
        if created is None:
            return None
        latest = self._query("SELECT MAX(t) FROM (SELECT MAX(t_end) AS t FROM chunks UNION ALL "
                             "SELECT MAX(MAX(started_t), COALESCE(MAX(ended_t), 0)) FROM episodes UNION ALL "
                             "SELECT MAX(t) FROM turns UNION ALL SELECT MAX(t) FROM memory)")[0][0]
        return created + timedelta(seconds=latest if isinstance(latest, (int, float)) else 0.0)

    def chunk_times(self, episode: int = 0) -> list[tuple[int, float]]:
        """(step, seconds since the recording started) at the end of each committed chunk of ``episode``."""
        return [(first + n, t) for first, n, t in self._query(
            "SELECT first_step, n_steps, t_end FROM chunks WHERE episode = ? ORDER BY first_step", (episode,))]

    # ------------------------------------------------------------------------------------------ re-simulation
    @property
    def env(self) -> gym.Env:
        """The env rebuilt from the header (made on first use)."""
        if self._env is None:
            self._env = (self._make_env or make_env)(self.header)
        return self._env

    @property
    def game(self) -> Game:
        """The rebuilt env's game."""
        return self.env.unwrapped.game  # type: ignore[attr-defined]

    def restart(self, episode: int = 0) -> Game:
        """Resets the rebuilt env to the start of ``episode`` and hands its game over to be pressed on (as
        ``verify`` replays every action): unlike :meth:`seek`'s, this game is the caller's to walk, so the reader
        stops counting on where it is and its next seek loads a keyframe or resets again.

        Raises what the env's reset raises (a start state missing, edited, or refused by the game).
        """
        self._reset_episode(episode)
        self._at = None  # the caller walks the game from here
        return self.game

    def _reset_episode(self, episode: int) -> None:
        self._at = self._seeded = None  # a reset that raises leaves the game where no one knows
        self.env.reset(seed=self.episode(episode).seed, options=self.reset_options(episode))
        self._seeded = episode  # the world of this episode's seed is built: a keyframe of it loads as is
        self._at = (episode, 0)

    def seek(self, step: int, episode: int = 0) -> Game:
        """Puts the rebuilt game at ``step`` of ``episode`` (from the nearest keyframe) and returns it.

        The game stays the reader's: read from it, but press nothing on it (the reader walks forward from
        where it left the game); to play on from a step, load ``state_at(step)`` into a game of your own.
        """
        actions = self.actions(episode)
        if not 0 <= step <= len(actions):
            raise ValueError(f"step {step} is out of range: episode {episode} has steps 0..{len(actions)}")
        game = self.game
        keyframes = self.keyframe_steps(episode)
        index = bisect.bisect_right(keyframes, step) - 1
        key_step = keyframes[index] if index >= 0 else 0
        at = self._at
        if at is not None and at[0] == episode and key_step <= at[1] <= step:
            start = at[1]  # walking forward from where the game already is beats reloading
        elif index >= 0:
            if self._seeded != episode:
                self._reset_episode(episode)  # the world may depend on the episode seed
            state = self.keyframe(episode, key_step)
            game.load_state(state)
            start = key_step
        else:
            self._reset_episode(episode)
            start = 0
        self._at = None
        press = game.press
        try:
            for action in actions[start:step]:
                press(ACTION_BUTTONS[action])
        except IndexError:
            raise CorruptReplayError(f"corrupt replay: {self.path}: an action between steps {start} and {step} "
                                     "is not a button") from None
        self._at = (episode, step)
        return game

    def frame_at(self, step: int, episode: int = 0) -> np.ndarray:
        """The screen, ``uint8`` (144, 160, 3), after ``step`` actions of ``episode``."""
        return self.seek(step, episode).frame()

    def state_at(self, step: int, episode: int = 0) -> bytes:
        """The save state after ``step`` actions of ``episode``."""
        return self.seek(step, episode).save_state()

    def game_state_at(self, step: int, episode: int = 0) -> GameState:
        """The typed state summary after ``step`` actions of ``episode``."""
        return self.seek(step, episode).state()

    def frames(self, start: int = 0, end: int | None = None, episode: int = 0,
               stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """(step, frame) for steps ``start``, ``start + stride`` ... up to ``end`` (inclusive; default the last)."""
        last = self.num_steps(episode)
        end = last if end is None else end
        if not 0 <= start <= end <= last:
            raise ValueError(f"invalid range {start}..{end}: episode {episode} has steps 0..{last}")
        actions = self.actions(episode)
        game = self.seek(start, episode)
        step = start
        yield step, game.frame()
        while step + stride <= end:
            for action in actions[step:step + stride]:
                game.press(ACTION_BUTTONS[action])
            step += stride
            self._at = (episode, step)
            yield step, game.frame()

    def trajectory(self, episode: int = 0) -> np.ndarray:
        """(map_id, x, y) after every step of ``episode`` (row ``i`` is step ``i``), by re-simulation."""
        actions = self.actions(episode)
        game = self.seek(0, episode)
        out = np.empty((len(actions) + 1, 3), dtype=np.int32)
        state = game.state()
        out[0] = state.map_id, state.x, state.y
        for i, action in enumerate(actions, 1):
            game.press(ACTION_BUTTONS[action])
            state = game.state()
            out[i] = state.map_id, state.x, state.y
        self._at = (episode, len(actions))
        return out
