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


def test_rows_are_sorted_by_seed_within_a_configuration_and_name_the_last_milestone_reached() -> None:
    """The table lists a configuration's seeds in order (cells finish in any order), and a row's last milestone is
    the one reached at the latest step, not the first."""
    from longplay.agents.sweep.results import result_rows

    cells = [Cell("run", "longplay/QuestMini-v0", seed, "random", label="random") for seed in (2, 0, 1)]
    states = {c.id: {"status": "done", "milestones": {"got_partner": 40, "left_house": 10}} for c in cells}
    rows = result_rows(cells, states)
    assert [r["seed"] for r in rows] == [0, 1, 2]
    assert {r["last_milestone"] for r in rows} == {"got_partner"}


def test_a_configurations_summary_sums_its_cells_spending_and_shows_no_mean_as_a_dash(tmp_path: Path) -> None:
    """Tokens and dollars of a configuration are what all its seeds spent together; a configuration none of whose
    cells ran has no milestone mean, shown as '-' rather than 'nan'."""
    lm = [Cell("run", "longplay/QuestMini-v0", seed, "lm", lm={"provider": "offline", "model": "m"}, label="lm")
          for seed in range(2)]
    idle = Cell("run", "longplay/QuestMini-v0", 0, "random", label="random")
    states = {lm[0].id: {"status": "done", "tokens": 100, "dollars": 0.25},
              lm[1].id: {"status": "done", "tokens": 300, "dollars": 0.5}}
    write_results("grid", [*lm, idle], states, tmp_path, plots=False)
    summary = (tmp_path / "results.md").read_text().split("## Cells")[0]
    assert "| lm | 2 | 2 | 0 | 0 | 0 | 400 | 0.75 |" in summary, summary
    assert "| random | 1 | 0 | - |  |  | 0 | 0 |" in summary, summary
