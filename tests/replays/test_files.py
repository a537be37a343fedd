"""The shared atomic write: a file appears whole or not at all, and a failed write leaves nothing behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from longplay.replays import files
from longplay.replays.files import write_atomically


def test_a_write_replaces_the_file_whole_and_is_flushed_before_the_rename(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "step_1.zip"
    target.write_bytes(b"old")
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}"),
                                                       real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(f"replace {Path(a).name}"),
                                                           real_replace(a, b))[1])

    def write(partial: Path) -> None:
        assert partial.parent == tmp_path and partial.name.startswith(".partial-step_1.zip.")
        assert partial.suffix == ".tmp"  # no glob for the final name (*.zip, *.ckpt) takes it
        assert target.read_bytes() == b"old"  # untouched while the new one is written
        partial.write_bytes(b"new")

    assert write_atomically(target, write) == target
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["step_1.zip"]
    partial = events[1].removeprefix("replace ")
    assert events == [f"fsync {tmp_path / partial}", f"replace {partial}", f"fsync {tmp_path}"]


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_removes_its_partial_file_and_keeps_the_old_one(tmp_path: Path, failure: BaseException) -> None:
    # A full disk in the middle of a save left the partial file behind, holding the space a retry needs.
    target = tmp_path / "run.ckpt"
    target.write_bytes(b"old")

    def half_then_fail(partial: Path) -> None:
        partial.write_bytes(b"x" * 1000)
        raise failure

    with pytest.raises(type(failure)):
        write_atomically(target, half_then_fail)
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"] and target.read_bytes() == b"old"


def test_a_failed_flush_removes_its_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(tmp_path / "a.json", lambda p: p.write_text("{}"))
    assert list(tmp_path.iterdir()) == []


def test_an_error_of_the_partial_file_names_the_file_asked_for(tmp_path: Path) -> None:
    """A full disk named the partial file the caller never saw (or no file); the exports and ``export --state`` each
    renamed it for themselves, and the checkpoints' errors kept the partial's name."""
    other = tmp_path / "elsewhere.txt"

    def fails(error: OSError) -> Callable[[Path], None]:
        def write(partial: Path) -> None:
            raise error if error.filename != "PARTIAL" else OSError(error.errno, error.strerror, str(partial))
        return write

    target = tmp_path / "run.ckpt"
    for error in (OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EACCES, "Denied", "PARTIAL")):
        with pytest.raises(OSError) as raised:
            write_atomically(target, fails(error))
        assert (raised.value.errno, raised.value.filename) == (error.errno, str(target))
    with pytest.raises(FileNotFoundError) as raised:  # another file's error keeps its name
        write_atomically(target, lambda partial: other.read_text())
    assert raised.value.filename == str(other)
    assert list(tmp_path.iterdir()) == []


def test_remove_partials_takes_only_the_partial_files_of_killed_writes(tmp_path: Path) -> None:
    """A write killed outright (SIGKILL) leaves its partial file: nothing runs to remove it."""
    written = []
    write_atomically(tmp_path / "run.ckpt", lambda partial: written.append(partial.name) or partial.write_text("x"))
    left = tmp_path / written[0]  # a partial named as write_atomically names them, as if its write were killed
    left.write_text("x")
    named = [left.name, f"{files.PARTIAL_PREFIX}run.ckpt.ffffffff.tmp"]
    others = [f"{files.PARTIAL_PREFIX}other.ckpt.0a1b2c3d.tmp"]
    kept = ["run.ckpt", f"{files.PARTIAL_PREFIX}run.ckpt.tmp", f"{files.PARTIAL_PREFIX}run.ckpt.xyz12345.tmp",
            "notes.partial-run.ckpt.0a1b2c3d.tmp", f"{files.PARTIAL_PREFIX}run.ckpt.0a1b2c3d.tmp.bak"]
    for name in (*named[1:], *others, *kept[1:]):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / named[1]).write_text("x")  # only the folder itself
    assert sorted(p.name for p in files.remove_partials(tmp_path, "run.ckpt")) == sorted(named)
    assert sorted(p.name for p in files.remove_partials(tmp_path)) == others
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "sub"])
    assert files.remove_partials(tmp_path / "missing") == []


def test_remove_partials_leaves_a_folder_or_a_link_named_like_a_partial(tmp_path: Path) -> None:
    """Only regular files are partials: a folder named like one (unlinking it raised IsADirectoryError, and a resume
    that cleans its folder stopped there) and a link to a file elsewhere stay."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("x")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / f"{files.PARTIAL_PREFIX}run.ckpt.0a1b2c3d.tmp").mkdir()
    (folder / f"{files.PARTIAL_PREFIX}run.ckpt.1a1b2c3d.tmp").symlink_to(target)
    assert files.remove_partials(folder, "run.ckpt") == []
    assert len(list(folder.iterdir())) == 2 and target.exists()
