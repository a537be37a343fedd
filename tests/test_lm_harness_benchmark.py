"""benchmarks/lm_harness.py's per-turn statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture()
def lm_harness(benchmark):
    """``benchmarks/lm_harness.py``, imported for the test only."""
    return benchmark("lm_harness")


@pytest.mark.parametrize("values", [[1.37, 0.40], [0.3, 0.1, 0.2], [float(i) for i in range(20)],
                                    [float(i % 7) for i in range(100)]])
def test_p95_lies_between_the_median_and_the_max(lm_harness, values: list[float]) -> None:
    """A 2-turn run (``--overhead-turns 2``, the smallest allowed) printed 'median 0.89 ms, p95 0.40 ms, max 1.37
    ms': the 95th percentile was the smallest turn (a floored rank)."""
    w = lm_harness.window(values, 0, len(values))
    assert w["median_ms"] <= w["p95_ms"] <= w["max_ms"]
    assert w["p95_ms"] == pytest.approx(1000 * float(np.percentile(values, 95)))


@pytest.mark.parametrize("turns, late", [(30, None), (100, None), (101, "2-101"), (150, "51-150")])
def test_the_last_100_turns_are_reported_only_when_they_are_not_the_whole_run(lm_harness, turns: int,
                                                                              late: str | None) -> None:
    """A run shorter than 10,000 turns printed its 'around turn 10,000' window, the last 100 turns, a second
    time as the whole run's line ('turns 1-30' twice)."""
    reported = lm_harness.windows([0.001 * (i % 7) for i in range(turns)])
    assert reported["whole_run"]["turns"] == f"1-{turns}"
    assert reported["around_turn_10"]["turns"] == f"2-{min(turns, 21)}"
    assert reported.get("last_100_turns", {}).get("turns") == late


def test_a_short_run_prints_each_window_once(lm_harness, tmp_path: Path, capsys) -> None:
    lm_harness.main(["--overhead-turns", "30", "--context-turns", "0", "--out", str(tmp_path)])
    lines = [line.split(":")[0].split() for line in capsys.readouterr().out.splitlines()
             if line.startswith(("  wall turns", "  CPU  turns"))]
    assert lines == [["wall", "turns", "2-21"], ["wall", "turns", "1-30"], ["CPU", "turns", "2-21"],
                     ["CPU", "turns", "1-30"]]
