"""benchmarks/lm_harness.py's per-turn statistics."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def lm_harness():
    """Imports ``benchmarks/lm_harness.py`` with its folder on the path for the test only."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("lm_harness")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("values", [[1.37, 0.40], [0.3, 0.1, 0.2], [float(i) for i in range(20)],
                                    [float(i % 7) for i in range(100)]])
def test_p95_lies_between_the_median_and_the_max(lm_harness, values: list[float]) -> None:
    """A 2-turn run (``--overhead-turns 2``, the smallest allowed) printed 'median 0.89 ms, p95 0.40 ms, max 1.37
    ms': the 95th percentile was the smallest turn (a floored rank)."""
    w = lm_harness.window(values, 0, len(values))
    assert w["median_ms"] <= w["p95_ms"] <= w["max_ms"]
    assert w["p95_ms"] == pytest.approx(1000 * float(np.percentile(values, 95)))
