"""The served folder: safe run ids, the run list, and caches of open replays.

A run is named by its **id**: its path relative to the served folder, with ``/`` separators
(``"sub/20261129-005206__QuestMini-v0__oracle__seed0.lpr"``). :meth:`ReplayFolder.resolve` is the only way
from an id to a file, and it refuses anything that is not a replay file inside the folder: absolute paths,
``..`` parts, backslashes, NUL bytes, other extensions, and symbolic links that lead outside.

The viewer never keeps a replay open in place: an open reader would stop a recorder from finishing the file
(a run being recorded, or one resumed from a checkpoint while the page is open). The readers it keeps read
private copies, taken when the file's size and time stand still across the copy, and retaken when they
change. Quick reads of finished files (run-list rows, comparisons) open them directly, but a file with a
``-wal`` beside it (being recorded, or left by a killed run) is always read from a copy.

Open readers are kept in a small LRU (one lock each: a reader and its rebuilt game serve one request at a
time), so frame requests walk forward from where the last one left the game. Everything derived from a file
(run-list row, turn and memory indexes, trajectories, compare records) is cached against the file's size and
modification time (and its ``-wal`` file's, for a run still recording) and recomputed when they change.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from longplay.replays.compare import RunProgress, distinguish_scaffolds, read_runs
from longplay.replays.reader import EnvFactory, ReplayReader, make_env
from longplay.replays.schema import EXTENSION, ReplayError, check_replay_file, to_json
from longplay.replays.viewer.data import (
    MemoryIndex,
    TurnIndex,
    build_memory_indexes,
    build_turn_indexes,
    compare_data_impl,
    comparison_marks,
    relative_message,
    run_list_impl,
    run_summary_impl,
    unreadable_impl,
    walk_episode,
    with_run_id,
)
from longplay.replays.viewer.png import encode_png
from longplay.replays.viewer.seeker import EpisodeSeeker

#: Longest run id accepted (a path inside the folder).
MAX_ID_LENGTH = 1024
#: Episodes of one run kept ready to seek (each holds an env).
MAX_SEEKERS = 4


class ViewerError(Exception):
    """A request the viewer refuses; ``status`` is the HTTP status, ``str(error)`` the one-line reason."""

    status = 400


class BadRequestError(ViewerError):
    """A malformed parameter."""

    status = 400


class OutsideFolderError(ViewerError):
    """A run id that points outside the served folder (or at a file that is not a replay)."""

    status = 403


class RunNotFoundError(ViewerError):
    """No such run in the folder."""

    status = 404


class UnreadableRunError(ViewerError):
    """The file is in the folder but cannot be read as a replay (corrupt, newer format, not a replay)."""

    status = 422


Signature = tuple[int, ...]


def file_signature(path: Path) -> Signature:
    """Size and modification time of ``path`` and of its ``-wal`` file (zeros when absent)."""
    out: list[int] = []
    for p in (path, Path(f"{path}-wal")):
        try:
            st = p.stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [0, 0]
    return tuple(out)


def is_live(path: Path) -> bool:
    """True when ``path`` has a ``-wal`` file: a run being recorded, or one that was killed."""
    return Path(f"{path}-wal").exists()


@dataclass
class ReplayCopy:
    """The replay to read: the file itself, or a private copy of a live one (removed by :meth:`discard`)."""

    path: Path
    signature: Signature
    folder: Path | None = None  # the temporary folder of a copy

    def discard(self) -> None:
        """Removes the copy, if this is one."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def readable_copy(path: Path, *, always: bool = False, attempts: int = 5) -> ReplayCopy:
    """A private self-contained copy of ``path`` and its ``-wal``, taken when neither changed during the copy
    (so it is one consistent moment); ``path`` itself for a finished replay unless ``always``. A file whose first
    bytes say it is no replay raises :class:`~longplay.replays.schema.ReplayError` before anything is copied (a
    2 GB junk ``.lpr`` cost seconds and 2 GB of temporary disk per request)."""
    signature = file_signature(path)
    if not always and not is_live(path):
        return ReplayCopy(path, signature)
    check_replay_file(path)
    folder = Path(tempfile.mkdtemp(prefix="longplay-viewer-"))
    copy = folder / path.name
    for _ in range(attempts):
        for suffix in ("", "-wal"):
            src = Path(f"{path}{suffix}")
            if src.exists():
                shutil.copyfile(src, f"{copy}{suffix}")
        after = file_signature(path)
        if after == signature:
            break
        signature = after
    try:  # fold the copied WAL into the copy: it then reads like any finished file
        conn = sqlite3.connect(copy)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode = DELETE")
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        pass  # a damaged copy: the reader says what is wrong with it
    return ReplayCopy(copy, signature, folder)


@dataclass
class OpenRun:
    """One cached open replay: the reader (use it only while holding ``lock``) and what was derived from it."""

    source: ReplayCopy
    reader: ReplayReader
    lock: threading.RLock = field(default_factory=threading.RLock)
    trajectory_lock: threading.Lock = field(default_factory=threading.Lock)
    make_env: EnvFactory | None = None
    turn_indexes: dict[int, TurnIndex] | None = None
    memory_indexes: dict[int, MemoryIndex] | None = None
    trajectories: dict[int, dict[str, Any]] = field(default_factory=dict)
    seekers: OrderedDict[int, EpisodeSeeker] = field(default_factory=OrderedDict)

    def seeker(self, episode: int) -> EpisodeSeeker:
        """The episode's :class:`EpisodeSeeker` (made on first use; a few episodes are kept; call while holding
        ``lock``)."""
        seeker = self.seekers.get(episode)
        if seeker is None:
            seeker = self.seekers[episode] = EpisodeSeeker(self.reader, episode, self.make_env)
            while len(self.seekers) > MAX_SEEKERS:
                self.seekers.popitem(last=False)[1].close()
        self.seekers.move_to_end(episode)
        return seeker

    def turns(self) -> dict[int, TurnIndex]:
        """Episode -> turn index (built on first use; call while holding ``lock``)."""
        if self.turn_indexes is None:
            self.turn_indexes = build_turn_indexes(self.reader)
        return self.turn_indexes

    def memory(self) -> dict[int, MemoryIndex]:
        """Episode -> memory index (built on first use; call while holding ``lock``)."""
        if self.memory_indexes is None:
            self.memory_indexes = build_memory_indexes(self.reader)
        return self.memory_indexes

    def close(self) -> None:
        """Closes the reader (waits for a request that is using it) and removes a private copy."""
        with self.lock:
            for seeker in self.seekers.values():
                seeker.close()
            self.seekers.clear()
            self.reader.close()
            self.source.discard()


class ReplayFolder:
    """A folder of replays served by the viewer (see the module docstring).

    Args:
        root: The folder; it must exist.
        max_open: Replays kept open at once (each holds a rebuilt env).
        make_env: Builds envs from replay headers when the registered ids are not enough (tests).
    """

    def __init__(self, root: str | os.PathLike[str], *, max_open: int = 16, make_env: EnvFactory | None = None
                 ) -> None:
        path = Path(root)
        if not path.is_dir():
            raise FileNotFoundError(f"no such folder: {root}")
        self.root = path.resolve()
        self.max_open = max(1, max_open)
        self.make_env = make_env
        self._lock = threading.Lock()
        # One reading of the run list at a time: the first page opened waits for the warm-up's rows instead of
        # reading every replay a second time beside it (a folder of 300 LM runs: 4.3 s, not 1.5 s).
        self._list_lock = threading.Lock()
        self._open: OrderedDict[str, OpenRun] = OrderedDict()
        self._rows: dict[str, tuple[Signature, dict[str, Any], bool]] = {}
        self._progress: dict[str, tuple[Signature, tuple[list[RunProgress], list[str]] | ReplayError]] = {}
        self._comparisons: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        #: Set once :func:`~longplay.replays.viewer.server.warm_up` has finished (``/api/health`` says so).
        self.warmed = threading.Event()

    # ------------------------------------------------------------------------------------------ ids
    def resolve(self, run_id: Any) -> Path:
        """The replay file named by ``run_id``; raises a :class:`ViewerError` for anything else."""
        if not isinstance(run_id, str) or not run_id:
            raise BadRequestError("missing run id (?id=...)")
        if len(run_id) > MAX_ID_LENGTH or "\x00" in run_id or "\\" in run_id:
            raise OutsideFolderError("invalid run id")
        rel = PurePosixPath(run_id)
        if rel.is_absolute() or any(part in ("..", "") for part in rel.parts):
            raise OutsideFolderError("run ids are paths inside the served folder")
        if not run_id.endswith(EXTENSION):
            raise OutsideFolderError(f"only replay files ({EXTENSION}) are served")
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):  # a symbolic link that leads out of the folder
            raise OutsideFolderError("run ids are paths inside the served folder")
        if not path.is_file():
            raise RunNotFoundError(f"no run {run_id!r} in the served folder")
        return path

    def run_ids(self) -> list[str]:
        """Ids of every replay file in the folder and its subfolders (links leading outside are skipped)."""
        ids = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.endswith(EXTENSION):
                    continue
                path = Path(dirpath, name)
                try:
                    inside = path.resolve().is_relative_to(self.root) and path.is_file()
                except OSError:
                    inside = False
                if inside:
                    ids.append(path.relative_to(self.root).as_posix())
        return ids

    # ------------------------------------------------------------------------------------------ run list
    def list_runs(self) -> dict[str, Any]:
        """The run list (:func:`~longplay.replays.viewer.data.run_list_impl`): a row per readable replay and
        an entry per unreadable one (corrupt, newer format, not a replay)."""
        rows, unreadable = [], []
        with self._list_lock:
            for run_id in self.run_ids():
                row, ok = self._row(run_id)
                (rows if ok else unreadable).append(row)
        return run_list_impl(self.root.name, rows, unreadable)

    def _row(self, run_id: str) -> tuple[dict[str, Any], bool]:
        path = self.root / run_id
        signature = file_signature(path)
        cached = self._rows.get(run_id)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        source = None
        try:
            source = readable_copy(path)
            with ReplayReader(source.path, make_env=self.make_env) as reader:
                row, ok = run_summary_impl(reader, run_id, size_bytes=signature[0]), True
                row["name"] = path.name
        except Exception as e:  # noqa: BLE001 - any unreadable file is listed as such; the rest still work
            row, ok = unreadable_impl(run_id, e, (path, source.path if source else path)), False
        finally:
            if source is not None:
                source.discard()
        self._rows[run_id] = (signature, row, ok)
        return row, ok

    # ------------------------------------------------------------------------------------------ open runs
    def _entry(self, run_id: str) -> OpenRun:
        path = self.resolve(run_id)
        signature = file_signature(path)
        stale: list[OpenRun] = []
        with self._lock:
            entry = self._open.get(run_id)
            if entry is not None and entry.source.signature == signature:
                self._open.move_to_end(run_id)
                return entry
            if entry is not None:
                stale.append(self._open.pop(run_id))
        for old in stale:
            old.close()
        try:
            source = readable_copy(path, always=True)
        except ReplayError as e:
            raise UnreadableRunError(relative_message(e, run_id, (path,))) from None
        try:
            reader = ReplayReader(source.path, make_env=self.make_env)
        except ReplayError as e:
            source.discard()
            raise UnreadableRunError(relative_message(e, run_id, (path, source.path))) from None
        # The reader names its file in every error it raises later (a chunk or keyframe that does not
        # decompress): the run id, not the private copy's temporary path, which means nothing to the user.
        reader.path = Path(run_id)
        entry = OpenRun(source, reader, make_env=self.make_env)
        with self._lock:
            self._open[run_id] = entry
            while len(self._open) > self.max_open:
                stale.append(self._open.popitem(last=False)[1])
        for old in stale:
            old.close()
        return entry

    @contextmanager
    def open(self, run_id: str) -> Iterator[OpenRun]:
        """The cached :class:`OpenRun` of ``run_id``, locked for the caller until the block ends."""
        entry = self._entry(run_id)
        with entry.lock:
            yield entry

    def trajectory(self, run_id: str, episode: int) -> dict[str, Any]:
        """The episode's trajectory (:func:`~longplay.replays.viewer.data.trajectory_impl`), computed once per
        file version on an env of its own, so frames are served while it runs; the walk also leaves
        waypoints with the episode's seeker."""
        entry = self._entry(run_id)
        with entry.trajectory_lock:
            cached = entry.trajectories.get(episode)
            if cached is None:
                with entry.lock:
                    header = entry.reader.header
                    info = entry.reader.episode(episode)
                    options = entry.reader.reset_options(episode)
                    actions = entry.reader.actions(episode)
                cached, waypoints = walk_episode(header, info, options, actions, self.make_env)
                entry.trajectories[episode] = cached
                with entry.lock:  # the walk passed every step: frames start from at most 256 steps before
                    entry.seeker(episode).add_waypoints(waypoints)
        return cached

    def progress(self, run_id: str) -> tuple[list[RunProgress], list[str]]:
        """Compare's records of the run's episodes, and its notes on the episodes it left out (one line each,
        naming the run by its id: an episode of no recorded step, killed or still being recorded), cached per file
        version."""
        path = self.resolve(run_id)
        signature = file_signature(path)
        cached = self._progress.get(run_id)
        if cached is None or cached[0] != signature:
            source = None
            try:
                source = readable_copy(path)
                notes: list[str] = []
                runs = read_runs(source.path, warnings=notes)
                # The notes name the file read, maybe a private copy: the run id is what the page shows.
                value: tuple[list[RunProgress], list[str]] | ReplayError = (
                    runs, [with_run_id(note, run_id, (source.path, path)) for note in notes])
            except (ReplayError, OSError) as e:
                value = ReplayError(relative_message(e, run_id, (path, source.path if source else path)))
            finally:
                if source is not None:
                    source.discard()
            cached = self._progress[run_id] = (signature, value)
        if isinstance(cached[1], ReplayError):
            raise UnreadableRunError(str(cached[1]))
        return cached[1]

    def comparison(self, run_ids: list[str]) -> dict[str, Any]:
        """The comparison page's data for ``run_ids`` (:func:`~longplay.replays.viewer.data.compare_data_impl`;
        a missing or unreadable run is listed as such, and an episode compare left out is named in its ``notes``).
        The last few results are kept, per file version; each run's ``recording`` and ``killed`` are taken as it is
        served (:func:`~longplay.replays.viewer.data.comparison_marks`)."""
        ids = list(dict.fromkeys(run_ids))
        key = tuple((run_id, file_signature(self.resolve(run_id)) if self._exists(run_id) else ())
                    for run_id in ids)
        with self._lock:
            cached = self._comparisons.get(key)
            if cached is not None:
                self._comparisons.move_to_end(key)
                return comparison_marks(cached)  # a run still recording when cached may since have been killed
        selected, unreadable, notes = [], [], []
        for run_id in ids:
            try:
                runs, left_out = self.progress(run_id)
            except (UnreadableRunError, RunNotFoundError) as e:  # deleted or damaged since listed: say so
                unreadable.append(unreadable_impl(run_id, e))
                continue
            selected += [(run_id, progress) for progress in runs]
            notes += left_out
        # runs read one by one: a group whose scaffolds differ in parameters is split as compare splits it
        distinct = distinguish_scaffolds([run for _, run in selected])
        selected = [(run_id, run) for (run_id, _), run in zip(selected, distinct, strict=True)]
        result = compare_data_impl(selected, unreadable=unreadable, notes=notes)
        with self._lock:
            self._comparisons[key] = result
            while len(self._comparisons) > 8:
                self._comparisons.popitem(last=False)
        return comparison_marks(result)

    def _exists(self, run_id: str) -> bool:
        try:
            self.resolve(run_id)
        except RunNotFoundError:
            return False
        return True

    def warm(self, *, max_worlds: int = 8, budget_s: float = 10.0) -> None:
        """Prepares in the background what a first click would otherwise wait for: reads the run list, then
        builds each distinct world of the folder's replays once (the built-in game caches its worlds) and
        draws a frame in it (the renderer builds its art on first use). Stops after ``max_worlds`` worlds or
        ``budget_s`` seconds; any failure is left for the request that meets it to report."""
        start = time.monotonic()
        self.list_runs()
        seen: set[str] = set()
        for run_id in reversed(self.run_ids()):  # run names sort by time: the newest first
            if len(seen) >= max_worlds or time.monotonic() - start > budget_s:
                break
            if not self._rows.get(run_id, ((), {}, False))[2]:
                continue
            source = None
            try:
                source = readable_copy(self.root / run_id)
                with ReplayReader(source.path, make_env=self.make_env) as reader:
                    header = reader.header
                    key = to_json([header.get("env_id"), header.get("env_kwargs"), header.get("identity")])
                    if key in seen or not reader.episodes():
                        continue
                    seen.add(key)
                    info = reader.episode(0)
                    env = (self.make_env or make_env)(header)
                    try:
                        env.reset(seed=info.seed, options=reader.reset_options(0))
                        encode_png(env.unwrapped.game.frame())  # type: ignore[attr-defined]
                    finally:
                        env.close()
            except Exception:  # noqa: BLE001 - a warm-up only
                continue
            finally:
                if source is not None:
                    source.discard()

    def close(self) -> None:
        """Closes every open replay."""
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
        for entry in entries:
            entry.close()
