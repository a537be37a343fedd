"""The end of a benchmark that has targets: print each check, optionally save the figures, pick the exit code.

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
        json_path.write_text(json.dumps({"figures": figures, "checks": met}, indent=2, default=float) + "\n")
    return 1 if check and not all(met.values()) else 0
