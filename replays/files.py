"""Files that appear whole or not at all: :func:`write_atomically`.

Checkpoints (LM and RL), sweep state files and exported save states are written this way, so a run killed or
a disk filled while one is written leaves the previous file (or none), never a truncated file under its name.
It lives in ``replays`` because ``agents`` imports ``replays``, while ``replays``' modules import nothing of ``agents``
(whose modules pull in torch and Stable-Baselines3) when they load.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

#: What a partial file's name starts with (``.partial-NAME.TOKEN.tmp`` beside ``NAME``): a folder's leftovers of
#: a killed write can be found (and removed) by it.
PARTIAL_PREFIX = ".partial-"
_PARTIAL = re.compile(rf"{re.escape(PARTIAL_PREFIX)}(?P<name>.+)\.[0-9a-f]{{8}}\.tmp")


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """``write(partial)`` on a partial file beside ``path``, flushed to disk, then renamed to ``path``; returns
    ``path``.

    ``path`` holds either its old contents or all of the new ones, even after a crash. A write that fails (a full
    disk, an exception in ``write``, Ctrl-C) removes the partial file, which would hold the space a retry needs,
    and leaves ``path`` as it was. The partial file's name is unique (``.partial-NAME.TOKEN.tmp``), so writers
    in two processes never share one, and it ends in ``.tmp``: no ``*.ckpt`` or ``*.json`` glob takes it for the
    file it will become. An ``OSError`` of the partial file (or of no file: a full disk as it is written) names
    ``path``, the file the caller asked for, not the partial one it never saw.
    """
    path = Path(path)
    partial = path.with_name(f"{PARTIAL_PREFIX}{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(partial)
        _fsync(partial)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.filename is None or os.fspath(exc.filename) == str(partial):
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def remove_partials(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Removes the partial files that writes killed outright (SIGKILL, a machine going down: nothing ran to remove
    them) left in ``folder``, only those of the file ``name`` when given; returns them.

    Only files named as :func:`write_atomically` names its partials are touched, and only in ``folder`` itself.
    Call it where no one else writes those files at the time (a run resuming its own checkpoint, a sweep holding
    its folder's lock): another writer's partial would be removed under it.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = _PARTIAL.fullmatch(entry.name)
        if match and (name is None or match["name"] == name) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


def _fsync(path: Path) -> None:
    """Flushes ``path``'s data to disk (whoever wrote it: ``write`` may have closed its own handle). Opened for
    writing: Windows flushes only a handle that may write."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Flushes the rename to disk where the system allows a folder to be opened (not Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to fsync a folder; the rename is done either way
        pass
    finally:
        os.close(fd)
