"""``Recorder``: a Gymnasium wrapper that writes every run to one replay file as it goes.

The hot path costs a few hundred nanoseconds a step: the action byte goes into a ``bytearray``, and
everything else (state hashes and summaries, keyframes, commits) happens every so many steps, at
milestones and at episode ends. See ``replays/FORMAT.md`` for what is written where.

>>> import gymnasium as gym, longplay.envs                                     # doctest: +SKIP
>>> env = Recorder(gym.make("longplay/QuestMini-v0"), "runs/demo.lpr", agent="random")  # doctest: +SKIP
>>> obs, info = env.reset(seed=0)                                              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import platform
import re
import signal
import sqlite3
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from longplay.envs.env import MAX_SEED, steps_refused
from longplay.envs.game import Game
from longplay.replays.schema import (
    EXTENSION,
    FORMAT_NAME,
    FORMAT_VERSION,
    ReplayError,
    ReplayWriteError,
    create_replay,
    fingerprint_spacing,
    open_replay,
    read_header,
    table_columns,
    to_json,
)

#: Periodic state hashes (with summaries) take at most this fraction of the run's time by default: the
#: recorder measures what a hash costs against how long the steps between hashes took and picks the spacing
#: (a power of two from 1 to :data:`MAX_HASH_EVERY`). LM runs, slow per step, get a hash every step;
#: the built-in game at full speed one every 4,096 steps on a 2-core machine.
DEFAULT_HASH_BUDGET = 0.0025
#: The spacing of periodic hashes an adaptive recorder starts with (it adapts after the first).
FIRST_HASH_EVERY = 16
#: The widest spacing an adaptive recorder picks.
MAX_HASH_EVERY = 4096
_NEVER = 1 << 62
#: A keyframe (compressed save state) every this many steps, unless the game says otherwise with a
#: ``replay_keyframe_every`` attribute: rendering any frame re-simulates at most this many button presses
#: (a few milliseconds for the built-in game).
DEFAULT_KEYFRAME_EVERY = 4096
#: The game's ``fingerprint()`` is recorded after every this many steps (at the steps of an episode that are
#: multiples of it). After every step it would pin a changed action to its step, but the built-in game's
#: fingerprint takes about 1 us and its step about 8: recording then cost 15-20% of the env's steps/s
#: (issue 4's figure is at most 5%). Every 64th costs about half a per cent and pins a changed action to
#: within 64 steps; state hashes (see ``hash_every``) check everything else.
DEFAULT_FINGERPRINT_EVERY = 64
#: Actions are committed at least every this many steps ...
DEFAULT_CHUNK_STEPS = 16384
#: ... and at least every this many seconds (checked at checkpoints and LM turns).
DEFAULT_COMMIT_SECONDS = 2.0

_REWARD = struct.Struct("<Id")
# Wrappers that change neither actions nor rewards: with only these between the recorder and the game,
# the recorded rewards are the env's milestone rewards and ``verify`` checks them too.
_TRANSPARENT_WRAPPERS = frozenset({"OrderEnforcing", "PassiveEnvChecker", "TimeLimit"})


def package_version() -> str:
    """The installed longplay version, or ``"unknown"`` when running from a bare checkout."""
    try:
        from importlib.metadata import version

        return version("longplay")
    except Exception:  # noqa: BLE001 - metadata missing or broken: the replay still records
        return "unknown"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-") or "none"


def run_name(env_id: str, agent: str, model: str | None = None, seed: int | None = None,
             now: datetime | None = None, *, unseeded: str = "noseed") -> str:
    """A file name that sorts by time and says what the run is, e.g.
    ``20261128-235959__QuestMini-v0__random__seed0.lpr`` (UTC; the namespace of the env id is dropped).
    ``unseeded`` is the last part where ``seed`` is None (``served``: ``longplay serve``'s client picks the seeds).

    >>> run_name("longplay/QuestMini-v0", "lm", "claude/sonnet 4", 3, datetime(2026, 11, 28, 23, 59, 59))
    '20261128-235959__QuestMini-v0__lm__claude-sonnet-4__seed3.lpr'
    """
    now = now or datetime.now(timezone.utc)
    parts = [now.strftime("%Y%m%d-%H%M%S"), _slug(env_id.rsplit("/", 1)[-1]), _slug(agent)]
    if model:
        parts.append(_slug(model))
    parts.append(f"seed{seed}" if seed is not None else _slug(unseeded))
    return "__".join(parts) + EXTENSION


def run_path(runs_dir: str | os.PathLike[str], env_id: str, agent: str, model: str | None = None,
             seed: int | None = None, *, unseeded: str = "noseed") -> Path:
    """Where to record a new run: ``runs_dir / run_name(...)``, with ``-2``, ``-3`` ... added if taken.

    Nothing is created; :class:`Recorder` makes the folder.
    """
    path = Path(runs_dir) / run_name(env_id, agent, model, seed, unseeded=unseeded)
    stem = path.name[: -len(EXTENSION)]
    n = 2
    while path.exists():
        path = path.with_name(f"{stem}-{n}{EXTENSION}")
        n += 1
    return path


def catalog_json(game: Game) -> list[dict[str, Any]]:
    """The game's milestone catalog as JSON-able rows, in catalog order: the header's ``catalog`` (the first
    episode's world) and ``episodes.catalog`` (a later episode's, where its world has another)."""
    return [{"id": m.id, "name": m.name, "tier": m.tier, "weight": m.weight} for m in game.milestones()]


def recorded_options(options: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bytes | None]:
    """The reset options as ``episodes.options`` records them, and the start state they give, if any.

    A start state (``{"state": bytes}``) is recorded as ``{"state": {"sha256": HEX}}``; the bytes themselves
    become the episode's keyframe at step 0, from which readers and ``verify`` load it back."""
    state = options.get("state") if isinstance(options, dict) else None
    if not isinstance(state, (bytes, bytearray, memoryview)):
        return options, None
    state = bytes(state)
    return {**options, "state": {"sha256": hashlib.sha256(state).hexdigest()}}, state  # type: ignore[dict-item]


def _check_env(env: gym.Env) -> tuple[Game, list[gym.Env]]:
    """The env's game and wrapper chain; raises ``ValueError`` for an env the recorder cannot record."""
    game = getattr(env.unwrapped, "game", None)
    if not isinstance(game, Game):
        raise ValueError(f"Recorder needs a longplay env (env.unwrapped.game is a Game); got {env.unwrapped}")
    if not isinstance(env.action_space, spaces.Discrete) or env.action_space.n > 256:
        raise ValueError(f"Recorder needs a Discrete action space of at most 256 actions; got {env.action_space}")
    chain = []
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.ActionWrapper):
            raise ValueError(f"put the Recorder inside {type(env).__name__}: it must see the actions the game "
                             "receives")
        chain.append(env)
        env = env.env
    return game, chain


class ReplayLock:
    """An exclusive ``flock`` on ``<replay>-lock``, the file beside a replay that whoever records into it holds
    (see :func:`lock_replay`). A file of its own, not the replay: SQLite's locks on the replay are ``fcntl`` locks,
    which a ``flock`` on the same file can block on BSD and macOS (readers such as the viewer would wait), and
    closing any descriptor of the replay would drop this process's ``fcntl`` locks on it."""

    def __init__(self, path: Path, handle: Any) -> None:
        self.path, self._handle = path, handle

    def release(self) -> None:
        """Removes the lock file and lets go of it (idempotent)."""
        if self._handle is not None:
            self.path.unlink(missing_ok=True)
            self._handle.close()
            self._handle = None


def lock_replay(path: str | os.PathLike[str]) -> ReplayLock | None:
    """The lock of the replay at ``path``, held until :meth:`ReplayLock.release`: a second recorder on the same
    replay (a run resumed while it still runs, a second server) is refused with :class:`ReplayError` instead of
    writing the same steps beside the first. The lock goes with the process, so a killed run's replay is free again
    (its ``-lock`` file stays behind, empty and harmless). ``None`` where there is no ``flock`` (Windows) or the
    file system refuses one (no lock then, as before locks existed)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        return None
    lock_path = Path(f"{path}-lock")
    try:
        handle = open(lock_path, "ab")  # noqa: SIM115 - held by the ReplayLock
    except OSError:  # a folder we cannot write: the replay's own writes will say so
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise ReplayError(f"{path} is being recorded (by a run or server still going): stop it first") from None
        lock_path.unlink(missing_ok=True)
        return None  # no locks on this file system (ENOLCK on some network mounts)
    return ReplayLock(lock_path, handle)


@contextlib.contextmanager
def sigint_held(*, second_goes_through: bool = False) -> Iterator[list[bool]]:
    """Holds a SIGINT (Ctrl+C, a sweep's or Ray's cancel) that arrives inside the block and hands it, when the
    block ends, to the handler that was there (Python's raises ``KeyboardInterrupt``). Yields a flag, set once one
    is held, for a loop that would rather stop at its next turn. With ``second_goes_through``, a second SIGINT is
    handed on at once, wherever the block is. Nothing is held outside the main thread (signals arrive there only)
    or where SIGINT is ignored. (``signal.getsignal`` is left out: it costs as much as a ``signal.signal``, and the
    LM driver holds SIGINT around every button press.)"""
    if threading.current_thread() is not threading.main_thread():
        yield [False]
        return
    held = [False]
    frames: list[Any] = []
    handed = [False]  # the second SIGINT went on, and the handler that was there is back

    def hand_on(frame: Any) -> None:
        if callable(previous):
            previous(signal.SIGINT, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    def hold(signum: int, frame: Any) -> None:
        if held[0] and second_goes_through:  # asked twice: now
            handed[0] = True
            signal.signal(signal.SIGINT, previous)
            hand_on(frame)
        held[0] = True
        frames.append(frame)

    # None: a handler not installed from Python, which cannot be put back; the default takes its place
    previous = signal.signal(signal.SIGINT, hold) or signal.SIG_DFL
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)
        yield [False]
        return
    try:
        yield held
    finally:
        if not handed[0]:
            signal.signal(signal.SIGINT, previous)
    if held[0]:
        hand_on(frames[0])


class Recorder(gym.Wrapper):
    """Records the wrapped longplay env into a replay file at ``path`` (see ``replays/FORMAT.md``).

    Wrap the env that agents step, with no action wrapper between the recorder and the game: the
    recorded action is what ``LongplayEnv.step`` receives. Every ``reset`` starts a new episode in the same
    file; a reset without a seed gets one drawn from the env's generator and recorded, so every episode
    can be re-simulated. Call :meth:`close` (or use ``with``) to finish the file; a run that dies first
    leaves a readable file holding every step up to the last commit.

    Per step it records the action (and a nonzero reward); when the game has the optional cheap
    ``fingerprint() -> int``, also its low byte every ``fingerprint_every`` steps, so ``verify`` pins a changed
    action to within that many steps.
    State hashes and summaries come periodically (see ``hash_every``), at milestones and at episode ends;
    keyframes every ``keyframe_every`` steps.

    Args:
        env: A longplay env (``env.unwrapped.game`` is a :class:`~longplay.envs.game.Game`).
        path: The replay file to create (folders are made); see :func:`run_path`.
        env_id: The id ``verify`` passes to ``gymnasium.make``; default ``env.spec.id``.
        env_kwargs: Its kwargs; default ``env.spec.kwargs`` (the registered defaults merged with the caller's).
        agent: The agent's name (``random``, ``explorer``, ``lm`` ...).
        model: The model, for LM agents and RL policies (a checkpoint name).
        scaffold_card: The scaffold card (name, parameters, version of each memory component).
        config: The run's config (a dataclass or a JSON-able dict).
        keyframe_every: Steps between keyframes (compressed save states) used for random access; default
            the game's ``replay_keyframe_every`` if it has one (a slow emulator wants them closer), else
            :data:`DEFAULT_KEYFRAME_EVERY`.
        hash_every: Steps between periodic state hashes (there are also hashes at milestones and episode
            ends); ``None`` (default) adapts the spacing so hashing costs about ``hash_budget`` of the run's
            time. A fixed spacing makes the file layout the same from run to run.
        hash_budget: The fraction of run time adaptive hashing aims at.
        summary_every: Steps between state summaries (map, x, y, mode); default: with every periodic hash.
        fingerprint_every: Steps between recorded fingerprints, for games that have one (1: every step).
        chunk_steps: Most actions buffered before a commit.
        commit_seconds: Most seconds between commits (checked at checkpoints and logged turns).
        overwrite: Replace an existing file instead of refusing.
        extra_header: More JSON-able header entries (e.g. ``{"label": "baseline"}``).
    """

    def __init__(
        self,
        env: gym.Env,
        path: str | os.PathLike[str],
        *,
        env_id: str | None = None,
        env_kwargs: dict[str, Any] | None = None,
        agent: str = "unknown",
        model: str | None = None,
        scaffold_card: Any = None,
        config: Any = None,
        keyframe_every: int | None = None,
        hash_every: int | None = None,
        hash_budget: float = DEFAULT_HASH_BUDGET,
        summary_every: int | None = None,
        fingerprint_every: int = DEFAULT_FINGERPRINT_EVERY,
        chunk_steps: int = DEFAULT_CHUNK_STEPS,
        commit_seconds: float = DEFAULT_COMMIT_SECONDS,
        overwrite: bool = False,
        extra_header: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(env)
        game, chain = _check_env(env)
        if keyframe_every is None:
            keyframe_every = int(getattr(game, "replay_keyframe_every", DEFAULT_KEYFRAME_EVERY))
        spec = env.spec
        env_id = env_id or (spec.id if spec is not None else None)
        env_kwargs = dict(spec.kwargs if spec is not None else {}) if env_kwargs is None else dict(env_kwargs)
        render_mode = env_kwargs.pop("render_mode", None)
        identity = dict(game.identity())
        reward_source = "env" if all(type(w).__name__ in _TRANSPARENT_WRAPPERS or
                                     isinstance(w, gym.ObservationWrapper) for w in chain) else "wrapped"
        header: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "package_version": package_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": "recording",
            "env_id": env_id,
            "env_kwargs": env_kwargs,
            "render_mode": render_mode,
            "backend": game.backend,
            "identity": identity,
            "world_seed": identity.get("world_seed"),
            "rom_sha1": identity.get("rom_sha1"),
            "catalog": catalog_json(game),
            "action_space_n": int(env.action_space.n),
            "reward_source": reward_source,
            "agent": agent,
            "model": model,
            "scaffold_card": scaffold_card,
            "config": config,
            "recorder": {"hash_every": hash_every, "hash_budget": hash_budget, "summary_every": summary_every,
                         "keyframe_every": keyframe_every, "chunk_steps": chunk_steps,
                         "action_codec": "zlib",
                         "fingerprints": callable(getattr(game, "fingerprint", None)),
                         "fingerprint_every": fingerprint_every},
            "platform": {"python": sys.version.split()[0], "system": platform.platform(),
                         "gymnasium": gym.__version__},
        }
        header.update(extra_header or {})
        self._setup(game, Path(path), hash_every, hash_budget, summary_every, keyframe_every, fingerprint_every,
                    chunk_steps, commit_seconds)
        self._reward_is_the_envs = reward_source == "env"
        try:
            rows = [(key, to_json(value)) for key, value in header.items()]
        except TypeError as e:
            raise ValueError(f"replay header is not JSON-serialisable: {e}") from None
        if self.path.exists() or Path(f"{self.path}-wal").exists():
            if not overwrite:
                raise FileExistsError(f"replay already exists: {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = lock_replay(self.path)  # before anything is removed or written: not a replay being recorded
        conn = None
        try:
            for suffix in ("", "-wal", "-shm"):  # overwrite=True (else the check above refused the file)
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            conn = create_replay(self.path)
            # One commit: a header cut short by a kill read as a replay missing the settings it was cut before.
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO header VALUES (?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException as exc:
            # Nothing was recorded: the file made here goes (left, it would be listed as an unreadable run).
            if conn is not None:
                conn.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            if self._lock is not None:
                self._lock.release()
            if isinstance(exc, sqlite3.OperationalError):  # a full disk, a read-only folder: one line
                raise ReplayWriteError(f"cannot create the replay {self.path}: {exc} (nothing was recorded)") from None
            raise
        self._conn = conn
        self._closed = False

    def _setup(self, game: Game, path: Path, hash_every: int | None, hash_budget: float, summary_every: int | None,
               keyframe_every: int, fingerprint_every: int, chunk_steps: int, commit_seconds: float) -> None:
        for name, value in (("keyframe_every", keyframe_every), ("hash_every", hash_every),
                            ("chunk_steps", chunk_steps), ("summary_every", summary_every),
                            ("fingerprint_every", fingerprint_every)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1) or \
                    name in ("keyframe_every", "fingerprint_every") and value is None:
                raise ValueError(f"invalid {name} {value!r}; must be an int >= 1")
        if not 0 < hash_budget < 1:
            raise ValueError(f"invalid hash_budget {hash_budget!r}; must be between 0 and 1")
        self.game: Game = game
        self.path = path
        self.hash_every = hash_every
        self.hash_budget = hash_budget
        self.summary_every = summary_every
        #: The spacing of periodic hashes now (``hash_every``, or the adaptive choice).
        self.hash_spacing = hash_every or FIRST_HASH_EVERY
        self.keyframe_every = keyframe_every
        self.fingerprint_every = fingerprint_every
        self.chunk_steps = chunk_steps
        self.commit_seconds = commit_seconds
        self._t0 = time.perf_counter()
        self._last_commit = self._t0
        self._closed = True  # until the file is open
        self._conn: sqlite3.Connection
        self.episode = -1
        #: Steps committed to the file so far, all episodes together.
        self.committed_steps = 0
        self._total_steps = 0
        self._actions = bytearray()
        fingerprint = getattr(game, "fingerprint", None)
        self._fingerprint: Any = fingerprint if callable(fingerprint) else None
        self._fingerprints = bytearray()
        self._keyframe_codec: str | None = None
        self._chunk_first = 0
        self._due = 0  # buffer length at which the slow path must run (0: before the first reset)
        self._rewards: list[tuple[int, float]] = []
        self._checkpoints: list[tuple[Any, ...]] = []
        self._keyframes: list[tuple[Any, ...]] = []
        self._milestones: list[tuple[Any, ...]] = []
        self._turns: list[tuple[Any, ...]] = []
        self._memory: list[tuple[Any, ...]] = []
        self._episode_sql: list[tuple[str, tuple[Any, ...]]] = []
        self._ended: str | None = None
        self._ended_at = 0  # the step the episode ended at (when _ended is set)
        # Whether the hot path must look for new milestones itself: not when the recorded reward is the env's
        # milestone reward with every weight above 0 (a new milestone then pays a nonzero reward).
        self._reward_is_the_envs = False
        self._unpaid_milestones = True
        # The header's catalog (the first episode's world): a later episode stores its own only when it differs.
        self._header_catalog: list[dict[str, Any]] | None = None
        # False in a replay from before episodes.catalog, resumed: its later episodes are found by their identity.
        self._catalog_column = True
        self._next_hash = self._next_summary = self._next_keyframe = self._next_fingerprint = self._next_other = 0
        self._hash_step, self._hash_t = 0, self._t0  # the last periodic hash, for adaptive spacing

    @classmethod
    def resume(cls, env: gym.Env, path: str | os.PathLike[str], *, step: int, seconds: float = 0.0,
               commit_seconds: float = DEFAULT_COMMIT_SECONDS, lock: ReplayLock | None = None,
               ended: str | None = None) -> Recorder:
        """Continues recording into the replay at ``path`` whose last episode holds ``step`` actions.

        ``env`` must already be at that step (restored from a checkpoint): the state there is hashed and
        keyframed again, so ``verify`` catches an env that is not where the replay left off. ``seconds`` is
        the run time at the checkpoint, so ``t`` columns carry on from it. Settings come from the header.
        ``lock``: the replay's lock, taken by the caller (:func:`lock_replay`) for work before the resume; the
        recorder takes it over (released if the resume fails), so no other recorder gets in between.
        ``ended``: the reason the last episode ended at ``step`` (``"reset"``: a reset after it failed), kept as the
        replay has it rather than reopened, so the next reset or close does not end it again.
        """
        path = Path(path)
        if lock is None:
            lock = lock_replay(path) if path.exists() else None  # a missing file: open_replay says so
        try:
            return cls._resume(env, path, step, seconds, commit_seconds, lock, ended)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    @classmethod
    def _resume(cls, env: gym.Env, path: Path, step: int, seconds: float, commit_seconds: float,
                lock: ReplayLock | None, ended: str | None = None) -> Recorder:
        conn = open_replay(path)
        try:
            header = read_header(conn, path)
            episodes = conn.execute("SELECT episode FROM episodes ORDER BY episode").fetchall()
            if not episodes:
                raise ReplayError(f"cannot resume {path}: it holds no episode")
            episode = episodes[-1][0]
            have = conn.execute("SELECT COALESCE(SUM(n_steps), 0) FROM chunks WHERE episode = ?",
                                (episode,)).fetchone()[0]
            total = conn.execute("SELECT COALESCE(SUM(n_steps), 0) FROM chunks").fetchone()[0]
        finally:
            conn.close()
        if have != step:
            raise ReplayError(f"cannot resume {path} at step {step}: its episode {episode} holds {have} steps")
        self = cls.__new__(cls)
        gym.Wrapper.__init__(self, env)
        game, _ = _check_env(env)
        settings = header.get("recorder") or {}
        self._setup(game, path, settings.get("hash_every"), float(settings.get("hash_budget", DEFAULT_HASH_BUDGET)),
                    settings.get("summary_every"), int(settings.get("keyframe_every", DEFAULT_KEYFRAME_EVERY)),
                    fingerprint_spacing(header, path), int(settings.get("chunk_steps", DEFAULT_CHUNK_STEPS)),
                    commit_seconds)
        self._reward_is_the_envs = header.get("reward_source") == "env"
        self._check_catalog()
        self._header_catalog = header.get("catalog")
        rw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        rw.execute("PRAGMA journal_mode = WAL")
        rw.execute("PRAGMA synchronous = NORMAL")
        self._catalog_column = "catalog" in table_columns(rw, "episodes")
        self._conn = rw
        self._lock = lock
        self._closed = False
        self._t0 -= seconds
        self.episode = episode
        self._chunk_first = step
        self._total_steps = self.committed_steps = int(total)
        self._start_schedules(step)
        if ended is None:
            self._episode_sql.append(("UPDATE episodes SET end_step = NULL, end_reason = NULL, ended_t = NULL "
                                      "WHERE episode = ?", (episode,)))
        else:
            self._ended, self._ended_at = ended, step
        self._episode_sql.append(("INSERT OR REPLACE INTO header VALUES ('status', ?)", (to_json("recording"),)))
        try:
            self._checkpoint(step, True, True)
            if step > 0:  # step 0's keyframe is the episode's start (for a start state, the bytes its options name)
                self._keyframe(step)
            self._flush()
        except BaseException:
            rw.close()  # the caller releases the lock
            raise
        return self

    # ------------------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Ends the current episode (if any) and starts a new one, recording its seed and start state."""
        self._check_open()
        if seed is None:
            seed = int(self.env.unwrapped.np_random.integers(0, MAX_SEED))
        recorded, start_state = recorded_options(options)
        try:
            options_json = None if recorded is None else to_json(recorded)
        except TypeError as e:
            raise ValueError(f"reset options are not JSON-serialisable: {e}") from None
        kept = None
        if self.episode >= 0:
            self._flush()  # the episode's actions, committed under its number
            # Its end is taken before the env resets (its hash is of the episode's last state), and committed with
            # the next episode: a start state the env refuses leaves the episode under way, and this end unwritten.
            kept = (self._ended, self._ended_at)
            self._end_episode_unless_ended("reset")
            self._ended, self._ended_at = self._ended or "reset", self.step_in_episode
        try:
            obs, info = self.env.reset(seed=seed, options=options)
        except BaseException as exc:
            if kept is not None and isinstance(exc, ValueError) and not steps_refused(self.env):  # it goes on
                self._episode_sql.clear()  # the end queued above: nothing else since the flush
                self._checkpoints.clear()
                self._ended, self._ended_at = kept
            elif kept is not None:  # the episode is over: close() must not end it again on what the reset left
                self._flush()
            raise
        started_from = getattr(self.env.unwrapped, "reset_state", start_state)
        if started_from is not None and started_from != start_state:
            # A wrapper below the recorder chose the state (StartFromState, a curriculum of start states): the
            # replay keeps the state the episode started from, or verify would start it from the world's start.
            recorded, start_state = recorded_options({**(recorded or {}), "state": started_from})
            options_json = to_json(recorded)
        self._check_catalog()  # a procedural world per episode brings its own catalog
        self.episode += 1
        self._chunk_first = 0
        self._ended = None
        now = self._now()
        start_hash = self.game.state_hash()
        catalog = catalog_json(self.game)
        if self.episode == 0:
            self._header_catalog = catalog  # written to the header below
        row = {"episode": self.episode, "seed": seed, "options": options_json, "start_hash": start_hash,
               "identity": to_json(self.game.identity()), "started_t": now}
        if self._catalog_column:  # a few KB, and only for a world whose catalog is not the first episode's
            row["catalog"] = None if catalog == self._header_catalog else to_json(catalog)
        self._episode_sql.append((f"INSERT INTO episodes ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                  tuple(row.values())))
        if self.episode == 0:
            # The world may come from the reset seed: the header names the first episode's, and its milestone
            # catalog (the one written when the recorder was made is the world the env was built with).
            identity = dict(self.game.identity())
            rows = {"start_state_hash": start_hash.hex(), "seed": seed, "identity": identity,
                    "world_seed": identity.get("world_seed"), "rom_sha1": identity.get("rom_sha1"),
                    "catalog": catalog}
            if start_state is not None:
                rows["start_state"] = recorded["state"]  # type: ignore[index]
            self._episode_sql += [("INSERT OR REPLACE INTO header VALUES (?, ?)", (k, to_json(v)))
                                  for k, v in rows.items()]
        self._checkpoint(0, True, True)
        self._keyframe(0, start_state)  # an episode started from a state keeps the very bytes it was given
        for milestone, step in info.get("milestones", {}).items():
            self._milestones.append((self.episode, step, milestone, now))
        self._start_schedules(0)
        self._schedule()
        self._flush()
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Steps the env and records the action; the rest waits for the next checkpoint (see the class)."""
        # The hot path: no tuple unpacking, one append, one comparison; everything else (fingerprints too) is
        # rare and runs in _slow_step.
        result = self.env.step(action)
        actions = self._actions
        actions.append(action)
        if len(actions) >= self._due or result[1] or result[2] or result[3] or \
                self._unpaid_milestones and result[4]["new_milestones"]:
            self._slow_step(result[1], result[2], result[3], result[4])
        return result

    def close(self) -> None:
        """Finishes the file (ends the episode, commits, folds the WAL into one file) and closes the env.

        When the last commit fails (:class:`ReplayWriteError`: a full disk), the file is closed as it was at
        its last commit, the env too, and the error is raised.
        """
        try:
            if not self._closed:
                self._finish_file()
        finally:
            super().close()

    def _finish_file(self) -> None:
        try:
            if self.episode >= 0:
                self._end_episode_unless_ended("closed")
            self._flush()
            status = {"status": "closed", "steps": self._total_steps, "episodes": self.episode + 1,
                      "duration_s": round(self._now(), 3)}
            try:
                self._conn.executemany("INSERT OR REPLACE INTO header VALUES (?, ?)",
                                       [(k, to_json(v)) for k, v in status.items()])
                self._conn.commit()
            except sqlite3.OperationalError as exc:
                raise self._write_error(exc) from exc
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.execute("PRAGMA journal_mode = DELETE")  # a closed replay is one self-contained file
            except sqlite3.OperationalError:
                # A reader (the viewer, a sweep's live table) has the file open: the data is committed
                # either way; the WAL is folded in by the next writer or when the readers let go.
                pass
        finally:
            self._conn.close()
            self._closed = True
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    # ------------------------------------------------------------------------------------------ LM and memory
    def log_turn(
        self,
        *,
        response: str = "",
        prompt: Any = None,
        prompt_digest: str | None = None,
        tool_calls: Sequence[Any] | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        tokens_cache_read: int = 0,
        tokens_cache_write: int = 0,
        cost_usd: float = 0.0,
        latency_s: float | None = None,
        error: str | None = None,
        step: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Records one language-model turn, at ``step`` (default: the current step of the episode).

        Pass either the ``prompt`` (any JSON-able value; its SHA-256 is stored, never the prompt) or its
        ``prompt_digest``. ``tool_calls`` is a JSON-able list (name and arguments of each call).
        """
        self._check_open()
        if prompt_digest is None and prompt is not None:
            text = prompt if isinstance(prompt, str) else to_json(prompt)
            prompt_digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        self._turns.append((
            max(self.episode, 0), self.step_in_episode if step is None else step, self._now(), prompt_digest,
            response, None if tool_calls is None else to_json(list(tool_calls)), int(tokens_in),
            int(tokens_out), int(tokens_cache_read), int(tokens_cache_write), float(cost_usd), latency_s, error,
            None if extra is None else to_json(extra)))
        self._maybe_flush()

    def log_memory(self, name: str, content: Any, *, step: int | None = None,
                   extra: dict[str, Any] | None = None) -> None:
        """Records a snapshot of the scaffold memory component ``name``: a string, or any JSON-able value."""
        self._check_open()
        fmt, text = ("text", content) if isinstance(content, str) else ("json", to_json(content))
        self._memory.append((max(self.episode, 0), self.step_in_episode if step is None else step, self._now(),
                             name, text, fmt, None if extra is None else to_json(extra)))
        self._maybe_flush()

    def flush(self) -> None:
        """Commits everything recorded so far."""
        self._check_open()
        self._flush()

    def heartbeat(self) -> None:
        """Tells readers the run is alive while it waits on its agent (an LM call, where nothing is recorded for
        minutes): commits what is pending, or only the header's ``committed`` time when nothing is, at most every
        ``commit_seconds``. A reader takes a replay that was not written for its run's recording window
        (:func:`~longplay.replays.compare.recording_window_s`) as killed."""
        self._check_open()
        if time.perf_counter() - self._last_commit >= self.commit_seconds:
            self._flush(empty=True)

    @property
    def step_in_episode(self) -> int:
        """Steps taken in the current episode."""
        return self._chunk_first + len(self._actions)

    @property
    def ended(self) -> str | None:
        """How the current episode ended, as its replay records it: ``"terminated"`` or ``"truncated"`` from the
        step that ended it (set before that step's commit, so a commit that failed leaves it set), or ``None``
        while it goes on. A reset that failed after ending the episode leaves ``"reset"``."""
        return self._ended

    # ------------------------------------------------------------------------------------------ internals
    def _now(self) -> float:
        return time.perf_counter() - self._t0

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the recorder of {self.path} is closed")

    def _slow_step(self, reward: Any, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
        if self.episode < 0:
            del self._actions[-1]
            raise RuntimeError("call reset() before step()")
        step = self._chunk_first + len(self._actions)
        if step >= self._next_fingerprint:
            self._fingerprints.append(self._fingerprint() & 0xFF)
            self._next_fingerprint = step + self.fingerprint_every
            if step < self._next_other and not (reward or info["new_milestones"] or terminated or truncated):
                # Only the fingerprint was due (most slow steps of a fast game): skip the rest.
                self._due = min(self._next_other, self._next_fingerprint) - self._chunk_first
                return
        if reward:
            self._rewards.append((len(self._actions) - 1, float(reward)))
        new = info["new_milestones"]
        ending = (terminated or truncated) and self._ended is None  # steps after the end are not re-ended
        mark = bool(new) or ending
        if new:
            now = self._now()
            self._milestones.extend((self.episode, step, m, now) for m in new)
        periodic = step >= self._next_hash
        want_hash = mark or periodic
        want_summary = mark or (periodic and self.summary_every is None) or step >= self._next_summary
        if want_hash or want_summary:
            start = time.perf_counter()
            self._checkpoint(step, want_hash, want_summary)
            if periodic:
                self._space_hashes(step, start)
        if step >= self._next_summary:
            self._next_summary = (step // self.summary_every + 1) * self.summary_every  # type: ignore[operator]
        if step >= self._next_keyframe:
            self._keyframe(step)
            self._next_keyframe = (step // self.keyframe_every + 1) * self.keyframe_every
        if ending:
            self._ended = "terminated" if terminated else "truncated"
            self._ended_at = step
            self._end_episode(self._ended)
        if len(self._actions) >= self.chunk_steps or ending:
            self._flush()
        else:
            self._maybe_flush()
        self._schedule()

    def _check_catalog(self) -> None:
        self._unpaid_milestones = not (self._reward_is_the_envs and all(m.weight > 0 for m in self.game.milestones()))

    def _start_schedules(self, step: int) -> None:
        self._next_fingerprint = _NEVER if self._fingerprint is None else \
            (step // self.fingerprint_every + 1) * self.fingerprint_every
        self._next_keyframe = (step // self.keyframe_every + 1) * self.keyframe_every
        self._next_summary = _NEVER if self.summary_every is None else \
            (step // self.summary_every + 1) * self.summary_every
        if self.hash_every is not None:
            self._next_hash = (step // self.hash_every + 1) * self.hash_every
        else:
            self._next_hash = step + self.hash_spacing
        self._hash_step, self._hash_t = step, time.perf_counter()

    def _space_hashes(self, step: int, start: float) -> None:
        """Schedules the next periodic hash; adaptive spacing keeps hashing near ``hash_budget`` of the time."""
        if self.hash_every is not None:
            self._next_hash = (step // self.hash_every + 1) * self.hash_every
            return
        now = time.perf_counter()
        cost, span, steps = now - start, start - self._hash_t, step - self._hash_step
        if span > 0 and steps > 0:
            # The spacing at which one hash costs hash_budget of the time the steps between hashes take.
            ideal = cost * steps / (self.hash_budget * span)
            target = 1 << max(0, math.ceil(math.log2(max(ideal, 1.0))))
            # At most 4x narrower or wider a time: one odd measurement is no trend.
            self.hash_spacing = max(1, self.hash_spacing // 4, min(MAX_HASH_EVERY, target, self.hash_spacing * 4))
        self._hash_step, self._hash_t = step, now
        self._next_hash = step + self.hash_spacing

    def _schedule(self) -> None:
        self._next_other = min(self._next_hash, self._next_summary, self._next_keyframe,
                               self._chunk_first + self.chunk_steps)
        self._due = min(self._next_other, self._next_fingerprint) - self._chunk_first

    def _checkpoint(self, step: int, with_hash: bool, with_summary: bool) -> None:
        digest = self.game.state_hash() if with_hash else None
        if with_summary:
            state = self.game.state()
            self._checkpoints.append((self.episode, step, digest, state.map_id, state.x, state.y,
                                      state.mode.value))
        else:
            self._checkpoints.append((self.episode, step, digest, None, None, None, None))

    def _keyframe(self, step: int, state: bytes | None = None) -> None:
        if state is None:
            state = self.game.save_state()
        if self._keyframe_codec is None:  # decided once: some games' save states are compressed already
            self._keyframe_codec = "zlib" if len(zlib.compress(state, 6)) < 0.9 * len(state) else "raw"
        if self._keyframe_codec == "zlib":
            state = zlib.compress(state, 6)
        self._keyframes.append((self.episode, step, state, self._keyframe_codec))

    def _end_episode(self, reason: str) -> None:
        self._checkpoint(self.step_in_episode, True, True)  # the final state is always hashed
        self._episode_sql.append(("UPDATE episodes SET end_step = ?, end_reason = ?, ended_t = ? WHERE episode = ?",
                                  (self.step_in_episode, reason, self._now(), self.episode)))

    def _end_episode_unless_ended(self, reason: str) -> None:
        """Ends the episode at a reset or close: with ``reason``, or again with its own where steps were
        taken after it ended (the end moves to the last of them); nothing when it ended at this step."""
        if self._ended is None or self.step_in_episode != self._ended_at:
            self._end_episode(self._ended or reason)

    def _maybe_flush(self) -> None:
        if time.perf_counter() - self._last_commit >= self.commit_seconds:
            self._flush()

    def _flush(self, empty: bool = False) -> None:
        # Ctrl-C (or a sweep's or Ray's cancel, which arrive as SIGINT) waits until the commit and the cleared
        # buffers agree: raised between BEGIN and its try, it left a transaction open ("cannot start a
        # transaction within a transaction" at the next flush); between COMMIT and the clearing, it wrote the
        # chunk twice at the next flush.
        with sigint_held():
            self._flush_now(empty)

    def _write_error(self, exc: sqlite3.OperationalError) -> ReplayWriteError:
        return ReplayWriteError(f"cannot write the replay {self.path}: {exc} (its first {self.committed_steps} "
                                "steps are committed and stay readable)")

    def _flush_now(self, empty: bool = False) -> None:
        """Commits what is pending with the header's ``committed`` time; with nothing pending, nothing, unless
        ``empty`` (a heartbeat: the time alone)."""
        if not (empty or self._actions or self._episode_sql or self._checkpoints or self._keyframes
                or self._milestones or self._turns or self._memory):
            return  # nothing to commit (a reset right after the episode's end committed it)
        actions = self._actions
        conn = self._conn
        conn.execute("BEGIN")
        try:
            if actions:
                rewards = None
                if self._rewards:
                    rewards = zlib.compress(b"".join(_REWARD.pack(i, r) for i, r in self._rewards))
                fingerprints = zlib.compress(self._fingerprints, 6) if self._fingerprint is not None else None
                # Level 1: actions (a few bits of entropy in each byte) come out as small as at level 6, in a
                # third of the time (16,384 random actions: 180 us against 560 us).
                conn.execute("INSERT INTO chunks (episode, first_step, n_steps, actions, rewards, fingerprints, "
                             "t_end) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (self.episode, self._chunk_first, len(actions), zlib.compress(actions, 1), rewards,
                              fingerprints, self._now()))
            for sql, params in self._episode_sql:
                conn.execute(sql, params)
            if self._checkpoints:
                conn.executemany("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 self._checkpoints)
            if self._keyframes:
                conn.executemany("INSERT OR REPLACE INTO keyframes VALUES (?, ?, ?, ?)", self._keyframes)
            if self._milestones:
                conn.executemany("INSERT OR IGNORE INTO milestones VALUES (?, ?, ?, ?)", self._milestones)
            if self._turns:
                conn.executemany("INSERT INTO turns (episode, step, t, prompt_digest, response, tool_calls, "
                                 "tokens_in, tokens_out, tokens_cache_read, tokens_cache_write, cost_usd, "
                                 "latency_s, error, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 self._turns)
            if self._memory:
                conn.executemany("INSERT INTO memory (episode, step, t, name, content, format, extra) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", self._memory)
            # The wall clock of this commit: readers tell a run still recording from a killed one by it (the t
            # columns run on a monotonic clock that a resumed run carries on from its checkpoint).
            conn.execute("INSERT OR REPLACE INTO header VALUES ('committed', ?)",
                         (to_json(datetime.now(timezone.utc).isoformat(timespec="seconds")),))
            conn.execute("COMMIT")
        except BaseException as exc:
            # SQLite rolls a transaction back itself on some errors (a full disk at COMMIT): a second ROLLBACK
            # raised "cannot rollback - no transaction is active" over the real error.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self._write_error(exc) from exc
            raise
        n = len(actions)
        self._chunk_first += n
        self._total_steps += n
        self.committed_steps += n
        self._actions = bytearray()
        self._fingerprints = bytearray()
        for pending in (self._rewards, self._checkpoints, self._keyframes, self._milestones, self._turns,
                        self._memory, self._episode_sql):
            pending.clear()
        self._last_commit = time.perf_counter()
        self._schedule()
