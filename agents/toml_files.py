"""Reading TOML files (grids, price tables, scaffold files) with one set of one-line errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """The TOML ``text`` parsed (standard library, or ``tomli`` on Python 3.10); ``ValueError`` (one line naming
    ``source``) on bad input."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ValueError("reading TOML needs Python 3.11+ or the tomli package") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML in {source}: {exc}") from None


def read_toml(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The TOML file at ``path``, parsed, and its text; ``ValueError`` (one line naming the file) when it cannot be
    read, is not UTF-8 or is not TOML."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; the codec's own message names no file
        raise ValueError(f"invalid TOML in {path}: not UTF-8 text (byte {exc.start})") from None
    return parse_toml(text, str(path)), text
