"""Argument types of the benchmark scripts: a bad value ends in argparse's one-line usage error, not in a
traceback from deep in a measurement (a zero that divides, an empty list that has no median).

Imported as ``from _args import positive_int`` (a script's own folder is on ``sys.path`` when it runs as
``python benchmarks/<name>.py``). argparse applies a ``type`` to a string default too, so a list flag can keep
its default as text.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from longplay.agents.cli import output_path_problem


def positive_int(text: str) -> int:
    """An int >= 1."""
    return _int_at_least(text, 1)


def nonnegative_int(text: str) -> int:
    """An int >= 0."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """A float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; must be > 0")
    return value


def int_list(text: str) -> list[int]:
    """Comma-separated ints >= 1, e.g. ``1,64,4096``."""
    return [_int_at_least(item.strip(), 1) for item in text.split(",")]


def choice_list(*choices: str) -> Callable[[str], list[str]]:
    """A type for comma-separated values, each one of ``choices`` (e.g. ``eager,compiled``)."""

    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",")]
        bad = [item for item in items if item not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"invalid value {bad[0]!r}; choose from {', '.join(choices)} "
                                             "(comma-separated)")
        return items

    parse.__name__ = "list"  # argparse names the type in its error for a ValueError; ours say it themselves
    return parse


def output_file(text: str) -> Path:
    """A file the script writes (``--json``), its missing folders made then: refused now if it could not be
    written, so a mistyped path does not throw away minutes of measurements at the end."""
    return _writable(text, want_file=True)


def output_folder(text: str) -> Path:
    """A folder the script makes (with its parents) and writes into (``--out``)."""
    return _writable(text, want_file=False)


def _writable(text: str, want_file: bool) -> Path:
    path = Path(text)
    problem = output_path_problem(path, want_file)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return path


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; must be >= {minimum}")
    return value
