"""One cell: the status its exit says, and the one-line error of a cell that raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from longplay.agents.sweep import cells as cells_module
from longplay.agents.sweep.cells import Caps, Cell, execute_cell, read_state


def lm_cell(**budget: int) -> Cell:
    return Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline", "model": "m"}, budget=budget,
                label="lm")


@pytest.mark.parametrize(("own", "cap", "status"), [(None, 100, "budget"), (200, 100, "budget"), (100, 100, "done"),
                                                    (50, None, "done")])
def test_a_run_stopped_by_tokens_is_budget_only_below_its_own_limit(tmp_path: Path, own: int | None,
                                                                      cap: int | None, status: str) -> None:
    """A cell stopped by a share of the grid's budget smaller than its own is ``budget`` (a larger grid budget
    continues it); stopped at its own limit, even one its share equals, it is ``done`` and is never run again."""
    cell = lm_cell(**({} if own is None else {"max_tokens": own}))
    result = cells_module._run_result(cell, tmp_path, tmp_path, 0, ("tokens", "100 tokens"), Caps(max_tokens=cap), "")
    assert result.status == status and result.stop_reason == "tokens"


def test_a_cell_that_raises_is_failed_with_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception of many lines is the cell's error on one line, named by its type; the sweep goes on."""
    def boom(*args: object) -> None:
        raise RuntimeError("the env broke\n  at step 12\n")

    monkeypatch.setattr(cells_module, "_execute_run", boom)
    cell = lm_cell()
    result = execute_cell(cell, tmp_path)
    assert result.status == "failed" and result.error == "RuntimeError: the env broke at step 12"
    assert read_state(tmp_path, cell.id)["error"] == result.error


def test_a_cell_whose_checkpoint_finished_the_game_is_done_without_running(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell that finished the game but lost its state file (a sweep killed as it wrote it) is done from its
    checkpoint: the run is not started again."""
    from longplay.agents.lm import checkpoint
    from longplay.agents.sweep.cells import cell_dir

    cell = lm_cell()
    cell_dir(tmp_path, cell.id).mkdir(parents=True)
    (cell_dir(tmp_path, cell.id) / "run.ckpt").write_text("{}")
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda path: {"terminated": True})

    def never(argv: list[str]) -> None:
        raise AssertionError(f"ran {argv}")

    monkeypatch.setattr(cells_module, "_parse", never)
    result = execute_cell(cell, tmp_path)
    assert (result.status, result.stop_reason) == ("done", "finished"), result.error
