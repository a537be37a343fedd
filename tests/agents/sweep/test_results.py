"""The sweep's results: one row per cell, and a summary per configuration."""

from __future__ import annotations

from pathlib import Path

from longplay.agents.sweep.cells import Cell
from longplay.agents.sweep.results import write_results


def test_a_configurations_summary_leaves_out_the_cells_not_yet_run(tmp_path: Path) -> None:
    """The summary's milestones (mean, min, max) are those of the cells that ran: a sweep stopped by its budget or
    Ctrl-C leaves cells pending, and counting them as runs that reached nothing pulled the mean and the minimum
    down."""
    cells = [Cell("run", "longplay/QuestMini-v0", seed, "random", budget={"steps": 50}, label="random")
             for seed in range(3)]
    states = {cells[0].id: {"status": "done", "milestones": {"left_house": 10, "got_partner": 40}, "steps": 50},
              cells[1].id: {"status": "budget", "milestones": {"left_house": 7, "got_partner": 20,
                                                               "first_wild_win": 30, "first_catch": 45}, "steps": 50}}
    write_results("grid", cells, states, tmp_path, plots=False)
    summary = (tmp_path / "results.md").read_text().split("## Cells")[0]
    assert "| random | 3 | 1 | 3 | 2 | 4 |" in summary, summary  # cells, done, mean, min, max: seed 2 is pending
