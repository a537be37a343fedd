"""The end of a benchmark: print each check, save the figures (``write_json``), pick the exit code.

Imported by the benchmark scripts as ``from _checks import finish`` (a script's own folder is on
``sys.path`` when it runs as ``python benchmarks/<name>.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def finish(figures: dict[str, Any], met: dict[str, bool], json_path: Path | None, check: bool) -> int:
    """Prints PASS/MISS per check, writes ``{"figures", "checks"}`` to ``json_path`` if given, and returns
    the exit code: 1 when ``check`` is set and a target was missed, else 0."""
    for name, ok in met.items():
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    if json_path:
        write_json(json_path, {"figures": figures, "checks": met})
    return 1 if check and not all(met.values()) else 0


def write_json(path: Path, data: Any) -> None:
    """Writes ``data`` to ``path`` as indented JSON, making its missing folders (paths as text, other values
    JSON lacks, such as numpy numbers, as floats)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> str | float:
    return str(value) if isinstance(value, Path) else float(value)
