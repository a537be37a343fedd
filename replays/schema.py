"""The replay file format: one SQLite database per run, versioned, with nothing executable in it.

This module holds the schema (see ``replays/FORMAT.md`` for the prose version), the format constants, the
errors every reader raises (each message is one line a person can act on) and the two ways of opening a
file: :func:`create_replay` for the recorder and :func:`open_replay` (read-only) for everyone else.
"""

from __future__ import annotations

import atexit
import dataclasses
import enum
import json
import math
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

#: Written to the ``header`` table under ``format``.
FORMAT_NAME = "longplay-replay"
#: The schema version this code writes; it reads every version up to this one. Version 2: fingerprints are
#: recorded every ``header.recorder.fingerprint_every`` steps (version 1: after every step).
FORMAT_VERSION = 2
#: ``PRAGMA application_id`` of every replay ("LPRY"): tells a replay from any other SQLite file.
APPLICATION_ID = 0x4C505259
#: File name extension of replays.
EXTENSION = ".lpr"

SCHEMA_SQL = """
CREATE TABLE header (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                      -- JSON
);
CREATE TABLE episodes (
    episode    INTEGER PRIMARY KEY,          -- 0, 1, ... in the order of resets
    seed       INTEGER NOT NULL,             -- passed to env.reset(seed=...)
    options    TEXT,                         -- JSON reset options, or NULL
    start_hash BLOB NOT NULL,                -- game.state_hash() right after the reset
    identity   TEXT,                         -- JSON game.identity() right after the reset (the world played)
    started_t  REAL NOT NULL,                -- seconds since the recording started
    end_step   INTEGER,                      -- steps in the episode; NULL while it runs (or if killed)
    end_reason TEXT,                         -- terminated | truncated | reset | closed
    ended_t    REAL,
    catalog    TEXT                          -- JSON milestone catalog of this episode's world; NULL: the header's
);
CREATE TABLE chunks (
    chunk      INTEGER PRIMARY KEY,          -- a rowid table: blobs of a few KB pack densely in its pages
    episode    INTEGER NOT NULL,
    first_step INTEGER NOT NULL,             -- index of the first action (action i leads to step i + 1)
    n_steps    INTEGER NOT NULL,
    actions    BLOB NOT NULL,                -- zlib(one byte per action)
    rewards    BLOB,                         -- zlib(packed <I d pairs: offset, reward) of nonzero rewards, or NULL
    fingerprints BLOB,                       -- zlib(game.fingerprint() & 0xFF every fingerprint_every steps), or NULL
    t_end      REAL NOT NULL                 -- seconds since the recording started, at the chunk's last step
);
CREATE UNIQUE INDEX chunks_step ON chunks (episode, first_step);
CREATE TABLE checkpoints (
    episode INTEGER NOT NULL,
    step    INTEGER NOT NULL,                -- state after this many actions
    hash    BLOB,                            -- game.state_hash(), or NULL on summary-only rows
    map_id  INTEGER,                         -- compact state summary, or NULL on hash-only rows
    x       INTEGER,
    y       INTEGER,
    mode    TEXT,
    PRIMARY KEY (episode, step)
) WITHOUT ROWID;
CREATE TABLE keyframes (
    episode INTEGER NOT NULL,
    step    INTEGER NOT NULL,
    state   BLOB NOT NULL,                   -- game.save_state(), compressed as codec says
    codec   TEXT NOT NULL DEFAULT 'zlib',    -- zlib | raw (for save states that are compressed already)
    PRIMARY KEY (episode, step)
);
CREATE TABLE milestones (
    episode   INTEGER NOT NULL,
    step      INTEGER NOT NULL,              -- first step at which it was reached (0: at the reset)
    milestone TEXT NOT NULL,                 -- Milestone.id
    t         REAL NOT NULL,                 -- seconds since the recording started
    PRIMARY KEY (episode, milestone)
);
CREATE TABLE turns (
    turn               INTEGER PRIMARY KEY,
    episode            INTEGER NOT NULL,
    step               INTEGER NOT NULL,     -- env step when the turn started
    t                  REAL NOT NULL,
    prompt_digest      TEXT,                 -- e.g. sha256 hex of the prompt
    response           TEXT,
    tool_calls         TEXT,                 -- JSON list
    tokens_in          INTEGER NOT NULL DEFAULT 0,
    tokens_out         INTEGER NOT NULL DEFAULT 0,
    tokens_cache_read  INTEGER NOT NULL DEFAULT 0,
    tokens_cache_write INTEGER NOT NULL DEFAULT 0,
    cost_usd           REAL NOT NULL DEFAULT 0,
    latency_s          REAL,
    error              TEXT,
    extra              TEXT                  -- JSON object
);
CREATE INDEX turns_step ON turns (episode, step);
CREATE TABLE memory (
    snapshot INTEGER PRIMARY KEY,
    episode  INTEGER NOT NULL,
    step     INTEGER NOT NULL,
    t        REAL NOT NULL,
    name     TEXT NOT NULL,                  -- scaffold component, e.g. "notes", "map_memory"
    content  TEXT NOT NULL,                  -- text, or JSON when format is "json"
    format   TEXT NOT NULL DEFAULT 'text',   -- text | json
    extra    TEXT
);
CREATE INDEX memory_step ON memory (episode, step);
"""


# ============================================================================================ errors


class ReplayError(Exception):
    """Any problem with a replay file; ``str(error)`` is one line for the person at the terminal."""


class ReplayNotFoundError(ReplayError):
    """The path does not exist."""


class NotAReplayError(ReplayError):
    """The file exists but is not a longplay replay (another SQLite file, or not SQLite at all)."""


class NewerFormatError(ReplayError):
    """The replay was written by a newer longplay whose format this one cannot read."""


class CorruptReplayError(ReplayError):
    """The file is a replay but damaged (truncated, overwritten) or inconsistent."""


class ReplayWriteError(ReplayError):
    """A recorder could not commit to its replay (a full disk, a vanished or read-only file). What it
    committed before stays readable, and its uncommitted rows are kept for the next commit."""


# ============================================================================================ JSON


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, bytes):
        return value.hex()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def to_json(value: Any) -> str:
    """Compact, sorted JSON of ``value`` (dataclasses, enums, paths and numpy scalars are converted)."""
    return json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":"))


def _not_json(token: str) -> float:
    raise ValueError(f"{token} is not a JSON number")


def _finite(token: str) -> float:
    number = float(token)
    if not math.isfinite(number):
        raise ValueError(f"the number {token} is out of range")
    return number


def strict_json(text: str | bytes) -> Any:
    """``text`` read as standard JSON, as the strictest servers read it (llama.cpp's, those written in Rust or Go) and
    as a replay can store it: Python's reader takes ``NaN`` and ``Infinity``, which JSON has not, and reads ``1e400``
    as infinite.

    >>> strict_json('{"x": NaN}')
    Traceback (most recent call last):
    ...
    ValueError: NaN is not a JSON number
    """
    return json.loads(text, parse_constant=_not_json, parse_float=_finite)


# ============================================================================================ opening


def create_replay(path: Path) -> sqlite3.Connection:
    """Creates an empty replay at ``path`` (which must not exist) and returns a connection for writing.

    The file is in WAL mode with ``synchronous=NORMAL`` while recording: a commit is a sequential append
    and a process killed at any moment leaves every committed transaction readable.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(f"BEGIN;{SCHEMA_SQL}COMMIT;")
    return conn


def _connect_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    # A replay is data from someone else: never run SQL functions from its schema (views, triggers).
    conn.execute("PRAGMA trusted_schema = OFF")
    return conn


def _copy_with_wal(path: Path) -> Path:
    # A read-only connection cannot rebuild a missing -shm index for a leftover -wal; a private copy can.
    folder = Path(tempfile.mkdtemp(prefix="longplay-replay-"))
    atexit.register(shutil.rmtree, folder, True)
    for suffix in ("", "-wal"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            shutil.copyfile(src, folder / f"replay.lpr{suffix}")
    return folder / "replay.lpr"


def check_replay_file(path: str | os.PathLike[str]) -> None:
    """Refuses a file that is no replay at all, or one cut short, from its first 100 bytes (the SQLite header, which
    holds the ``application_id`` every replay is created with), without opening it as a database or reading the
    rest: what may be done before copying a file of any size (the viewer's private copies).

    Raises:
        ReplayNotFoundError, NotAReplayError, CorruptReplayError, ReplayError: with a one-line message.
    """
    path = Path(path)
    if not path.exists():
        raise ReplayNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise NotAReplayError(f"not a replay: {path} is a folder")
    if not path.is_file():  # a pipe or a device: opening it to read the magic bytes could wait forever
        raise NotAReplayError(f"not a replay: {path} is not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as e:
        raise ReplayError(f"cannot read {path}: {e.strerror}") from None
    if head[:16] != b"SQLite format 3\x00":
        raise NotAReplayError(f"not a replay: {path} is not a longplay replay (not an SQLite file)")
    if len(head) < 100:  # SQLite's own magic, then cut: a damaged SQLite file (whose application id may be lost)
        raise CorruptReplayError(f"corrupt replay: {path} is cut short ({len(head)} bytes, inside its SQLite header)")
    if int.from_bytes(head[68:72], "big") != APPLICATION_ID:
        raise NotAReplayError(f"not a replay: {path} is an SQLite file but not a longplay replay")


def open_replay(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Opens a replay read-only after checking that it is one, of a version this code reads.

    Raises:
        ReplayNotFoundError, NotAReplayError, NewerFormatError, CorruptReplayError: with a one-line message.
    """
    path = Path(path)
    check_replay_file(path)
    try:
        try:
            conn = _connect_ro(path)
            app_id, version = _ids(conn)
        except sqlite3.OperationalError as e:
            if "unable to open" not in str(e) or not Path(f"{path}-wal").exists():
                raise
            conn = _connect_ro(_copy_with_wal(path))
            app_id, version = _ids(conn)
    except sqlite3.DatabaseError as e:
        raise CorruptReplayError(f"corrupt replay: {path}: {e}") from None
    if app_id != APPLICATION_ID:
        conn.close()
        raise NotAReplayError(f"not a replay: {path} is an SQLite file but not a longplay replay")
    if version > FORMAT_VERSION:
        conn.close()
        raise NewerFormatError(f"{path} is a version {version} replay; this longplay reads versions up to "
                               f"{FORMAT_VERSION}: upgrade longplay")
    if version < 1:
        conn.close()
        raise CorruptReplayError(f"corrupt replay: {path} has format version {version}")
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The column names of ``table`` in a replay: columns added since version 1 (``episodes.catalog``) are absent
    from files written before them."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _ids(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return int(app_id), int(version)


def _wal_left_behind(path: Path) -> bool:
    # A recording is in WAL mode (bytes 18-19 of the file are 2) until it is closed: until then its tables
    # live in the -wal file beside it, and the main file alone is an empty database.
    try:
        with open(path, "rb") as f:
            head = f.read(20)
        wal = Path(f"{path}-wal")
        return head[18:20] == b"\x02\x02" and (not wal.exists() or wal.stat().st_size == 0)
    except OSError:
        return False


def fingerprint_spacing(header: dict[str, Any], path: str | os.PathLike[str] = "replay") -> int:
    """Steps between the fingerprints of a replay with this header: its ``recorder.fingerprint_every``, or 1
    for replays written before the key existed (format version 1 recorded one after every step)."""
    every = (header.get("recorder") or {}).get("fingerprint_every", 1)
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise CorruptReplayError(f"corrupt replay: {path}: header has fingerprint_every {every!r}")
    return every


def read_header(conn: sqlite3.Connection, path: str | os.PathLike[str] = "replay") -> dict[str, Any]:
    """The ``header`` table as a dict of decoded JSON values; raises :class:`CorruptReplayError` if damaged."""
    try:
        rows = conn.execute("SELECT key, value FROM header").fetchall()
        header = {key: json.loads(value) for key, value in rows}
    except (sqlite3.DatabaseError, ValueError) as e:
        if "no such table" in str(e) and _wal_left_behind(Path(path)):
            raise CorruptReplayError(f"incomplete replay: {path}: its data is in {Path(path).name}-wal, which is "
                                     "missing or empty (a run still recording, or killed: copy the -wal file "
                                     "along with it)") from None
        raise CorruptReplayError(f"corrupt replay: {path}: header unreadable ({e})") from None
    if not header:  # the recorder writes it in one commit: a run killed as it created the file
        raise CorruptReplayError(f"corrupt replay: {path}: its header is empty (a run stopped as it began)")
    if header.get("format") != FORMAT_NAME:
        raise CorruptReplayError(f"corrupt replay: {path}: header has no format {FORMAT_NAME!r}")
    version = header.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise NewerFormatError(f"{path} is a version {version} replay; this longplay reads versions up to "
                               f"{FORMAT_VERSION}: upgrade longplay")
    # what rebuilding the env (gymnasium.make(env_id, **env_kwargs)) and reading the fingerprints (recorder) read: a
    # wrong type is damage, not a TypeError or an AttributeError
    for key, kind, what in (("env_id", str, "a string"), ("env_kwargs", dict, "an object"),
                            ("recorder", dict, "an object")):
        if header.get(key) is not None and not isinstance(header[key], kind):
            raise CorruptReplayError(f"corrupt replay: {path}: header {key} is not {what} ({header[key]!r:.60})")
    return header
