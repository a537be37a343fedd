"""The suite's deadline on reading a child process's lines (``child_lines``, tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest


def child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_silent_child_fails_the_test_in_time_and_is_killed(child_lines: Any) -> None:
    process = child("import time; print('one', flush=True); time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"printed \['one\\n'\] in 2 s"):
        child_lines(process, 2, timeout=2)
    assert time.monotonic() - started < 30
    assert process.wait(timeout=30) != 0  # killed, not left running


def test_lines_by_count_and_up_to_a_line(child_lines: Any) -> None:
    process = child("print('a'); print('open here'); print('b'); print('c')")
    assert child_lines(process, until=lambda line: line.startswith("open ")) == ["a\n", "open here\n"]
    assert child_lines(process, 2) == ["b\n", "c\n"]
    assert child_lines(process, until=lambda line: False) == [""]  # the end of the output ends the lines
    process.wait(timeout=30)
