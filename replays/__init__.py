"""longplay replays: one SQLite file per run, recorded, verified, exported and compared.

Importing this package is cheap; the names below load their module on first use.

>>> from longplay.replays import Recorder, ReplayReader, run_path   # doctest: +SKIP
>>> from longplay.replays.verify import verify                     # doctest: +SKIP
>>> from longplay.replays.export import export                     # doctest: +SKIP

(``verify`` and ``export`` are also submodule names, so they are imported from their modules.)

See ``replays/FORMAT.md`` for the file format.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Recorder": "recorder", "run_path": "recorder", "run_name": "recorder",
    "ReplayReader": "reader", "make_env": "reader",
    "VerifyReport": "verify", "ExportResult": "export",
    "compare_impl": "compare", "load_runs": "compare", "write_outputs": "compare",
    "ReplayError": "schema", "ReplayNotFoundError": "schema", "NotAReplayError": "schema",
    "NewerFormatError": "schema", "CorruptReplayError": "schema",
    "ReplayWriteError": "schema", "FORMAT_VERSION": "schema", "EXTENSION": "schema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"longplay.replays.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'longplay.replays' has no attribute {name!r}")
