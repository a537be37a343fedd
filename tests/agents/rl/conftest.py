"""Fixtures shared by the RL tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture()
def kill_writes_halfway(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``kill_writes_halfway(NAME)``: from then on, ``Path.write_text`` to a file whose name holds ``NAME`` writes
    half its text and raises ``KeyboardInterrupt`` (a run killed in that write); other files are written as usual.
    ``monkeypatch.undo()`` ends it."""
    write_text = Path.write_text

    def start(name: str) -> None:
        def killed_halfway(self: Path, text: str, *args: object, **kwargs: object) -> int:
            if name in self.name:
                write_text(self, text[:len(text) // 2])
                raise KeyboardInterrupt
            return write_text(self, text, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", killed_halfway)

    return start
