"""The scheduler with a stand-in backend: budget shares, per-provider concurrency, dead workers, skipping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from longplay.agents.sweep.backends import WorkerDied
from longplay.agents.sweep.cells import Caps, Cell, CellResult, read_state, write_state
from longplay.agents.sweep.grid import Limits
from longplay.agents.sweep.scheduler import BudgetPool, Scheduler


def lm_cell(seed: int, provider: str = "offline", **budget: Any) -> Cell:
    return Cell("run", "longplay/QuestMini-v0", seed, "lm", lm={"provider": provider, "model": "m"},
                budget=budget, label=f"lm {provider}")


class FakeBackend:
    """Finishes cells in submission order; each spends what ``spend`` says, capped by its caps."""

    name = "fake"

    def __init__(self, spend: int = 100, die: set[str] | None = None) -> None:
        self.spend = spend
        self.die = die or set()
        self.running: dict[int, tuple[Cell, Caps | None]] = {}
        self.submitted: list[tuple[Cell, Caps | None]] = []
        self.peak: dict[str, int] = {}
        self.n = 0

    def default_workers(self) -> int:
        return 1

    def submit(self, cell: Cell, caps: Caps | None) -> int:
        self.n += 1
        self.running[self.n] = (cell, caps)
        self.submitted.append((cell, caps))
        for provider in {c.provider for c, _ in self.running.values()}:
            count = sum(c.provider == provider for c, _ in self.running.values())
            self.peak[provider] = max(self.peak.get(provider, 0), count)
        return self.n

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        return [min(handles)]

    def result(self, handle: Any) -> CellResult:
        cell, caps = self.running.pop(handle)
        if cell.id in self.die:
            self.die.discard(cell.id)
            raise WorkerDied("killed")
        spend = self.spend if cell.metered else 0
        tokens = spend if caps is None or caps.max_tokens is None else min(spend, caps.max_tokens)
        status = "budget" if caps is not None and caps.max_tokens is not None and tokens >= caps.max_tokens \
            else "done"
        return CellResult(cell.id, status, tokens=tokens, steps=10)

    def interrupt(self, handle: Any) -> None:
        pass

    def close(self, abandon: bool = False) -> None:
        pass


def test_budget_pool_shares_what_is_left() -> None:
    pool = BudgetPool(max_tokens=1000)
    a, b, c = lm_cell(0), lm_cell(1), lm_cell(2, max_tokens=100)
    caps = pool.allot(a, waiting=4)
    assert caps == Caps(max_tokens=250)
    pool.reserve(a, caps)
    assert pool.allot(c, waiting=3) == Caps(max_tokens=100)  # its own budget is smaller than the share
    assert pool.allot(b, waiting=3) == Caps(max_tokens=250)
    pool.release(a, 50, 0.0)  # spent 50 of its 250: the rest goes back
    assert pool.left() == (950, None)
    pool.spent[b.id] = (300, 0.0)  # a resumed cell: its caps are totals over every session
    assert pool.allot(b, waiting=1) == Caps(max_tokens=300 + 650)
    pool.reserve(b, Caps(max_tokens=950))
    assert pool.allot(c, waiting=1) is None


def test_a_share_under_one_token_starts_nothing() -> None:
    """One token left between two cells: a share of half a token would be a cap of 0 tokens, a run given no
    budget at all; the cell is not started."""
    pool = BudgetPool(max_tokens=1)
    assert pool.allot(lm_cell(0), waiting=2) is None
    assert pool.allot(lm_cell(0), waiting=1) == Caps(max_tokens=1)  # the exact limit still starts one


def test_dollar_and_token_limits_together() -> None:
    pool = BudgetPool(max_tokens=100, max_dollars=1.0)
    caps = pool.allot(lm_cell(0, max_dollars=0.1), waiting=2)
    assert caps == Caps(max_tokens=50, max_dollars=0.1)


def test_a_resumed_cells_dollar_caps_are_totals_within_its_own_budget() -> None:
    """As with tokens: a cell resumed after spending $0.20 of its own $0.50 may reach $0.50 in all, not $0.30 (it
    would stop at once, below what it spent) nor $0.70 (past its own budget)."""
    pool = BudgetPool(max_dollars=1.0)
    cell = lm_cell(0, max_dollars=0.5)
    pool.spent[cell.id] = (0, 0.2)
    caps = pool.allot(cell, waiting=1)
    assert caps is not None and caps.max_dollars == pytest.approx(0.5)


def test_grid_budget_shares_stop_and_resume(tmp_path: Path) -> None:
    cells = [lm_cell(i) for i in range(5)] + [Cell("run", "longplay/QuestMini-v0", 0, "random", label="random")]

    def sweep(limit: int) -> dict[str, dict[str, Any]]:
        return Scheduler(cells, tmp_path, FakeBackend(spend=350), Limits(max_tokens=limit), workers=2).run().states

    states = sweep(1000)  # five cells that would each spend 350: a share of 200 each
    assert [states[c.id]["status"] for c in cells] == ["budget"] * 5 + ["done"]
    assert sum(states[c.id]["tokens"] for c in cells) == 1000
    states = sweep(1000)  # nothing left: nothing starts
    assert all("not started" in states[c.id]["error"] and states[c.id]["tokens"] == 200 for c in cells[:5])
    states = sweep(2000)  # a larger budget continues them: totals of 200 + 200 each
    assert [states[c.id]["status"] for c in cells] == ["done"] * 6
    assert sum(states[c.id]["tokens"] for c in cells) == 5 * 350


def test_concurrency_per_provider(tmp_path: Path) -> None:
    cells = [lm_cell(i, "anthropic") for i in range(4)] + [lm_cell(i, "openai") for i in range(4)]
    backend = FakeBackend()
    outcome = Scheduler(cells, tmp_path, backend, Limits(concurrency={"anthropic": 1}), workers=3).run()
    assert backend.peak["anthropic"] == 1 and backend.peak["openai"] == 2
    assert outcome.count("done") == 8


def test_a_dead_worker_is_resumed_once_then_failed(tmp_path: Path) -> None:
    cells = [lm_cell(0), lm_cell(1)]
    backend = FakeBackend(die={cells[0].id})
    outcome = Scheduler(cells, tmp_path, backend, workers=1).run()
    assert outcome.states[cells[0].id]["status"] == "done" and outcome.states[cells[0].id]["deaths"] == 1
    assert [c.id for c, _ in backend.submitted] == [cells[0].id, cells[0].id, cells[1].id]

    class AlwaysDies(FakeBackend):
        def result(self, handle: Any) -> CellResult:
            self.running.pop(handle)
            raise WorkerDied("out of memory")

    backend = AlwaysDies()
    outcome = Scheduler([lm_cell(5)], tmp_path, backend, workers=1).run()
    state = outcome.states[lm_cell(5).id]
    assert state["status"] == "failed" and "worker died: out of memory" in state["error"]
    assert len(backend.submitted) == 2 and state["deaths"] == 2  # resumed once, not twice


def test_done_cells_are_skipped(tmp_path: Path) -> None:
    cells = [lm_cell(0), lm_cell(1)]
    write_state(tmp_path, cells[0], CellResult(cells[0].id, "done", tokens=7))
    backend = FakeBackend()
    outcome = Scheduler(cells, tmp_path, backend, workers=2).run()
    assert [c.id for c, _ in backend.submitted] == [cells[1].id] and outcome.skipped == 1
    assert read_state(tmp_path, cells[0].id)["tokens"] == 7


@pytest.mark.parametrize("status", ["interrupted"])
def test_an_interrupted_cell_stops_the_sweep(tmp_path: Path, status: str) -> None:
    class Interrupts(FakeBackend):
        def result(self, handle: Any) -> CellResult:
            cell, _ = self.running.pop(handle)
            return CellResult(cell.id, status)

    cells = [lm_cell(i) for i in range(3)]
    backend = Interrupts()
    outcome = Scheduler(cells, tmp_path, backend, workers=1).run()
    assert outcome.interrupted and len(backend.submitted) == 1
    assert outcome.states[cells[2].id]["status"] == "pending"


def test_what_a_cell_of_a_dead_or_abandoned_sweep_spent_is_read_from_its_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep killed outright leaves its cells' state files at ``running`` with nothing spent, and Ctrl-C twice
    recorded them with nothing spent: the grid's budget must still count what their checkpoints say."""
    from longplay.agents.sweep import scheduler

    cells = [lm_cell(0), lm_cell(1)]
    write_state(tmp_path, cells[0], CellResult(cells[0].id, "running"))  # as the dead sweep left it
    checkpointed = {cells[0].id, lm_cell(7).id}
    monkeypatch.setattr(scheduler, "live_progress",
                        lambda cell, out_dir: {"tokens": 600, "steps": 40} if cell.id in checkpointed else {})
    backend = FakeBackend(spend=10_000)
    Scheduler(cells, tmp_path, backend, Limits(max_tokens=1000), workers=1).run()
    caps = {cell.id: c for cell, c in backend.submitted}
    assert caps[cells[0].id] == Caps(max_tokens=600 + 200)  # its 600, and half of the 400 left
    assert caps[cells[1].id] == Caps(max_tokens=200)

    class CtrlCTwice(FakeBackend):
        def wait(self, handles: list[Any], timeout: float) -> list[Any]:
            raise KeyboardInterrupt

    outcome = Scheduler([lm_cell(7)], tmp_path, CtrlCTwice(), Limits(max_tokens=1000), workers=1).run()
    state = outcome.states[lm_cell(7).id]
    assert state["status"] == "interrupted" and state["tokens"] == 600 and state["steps"] == 40


def test_a_resumed_cells_seconds_are_the_sum_of_its_attempts(tmp_path: Path) -> None:
    """A resumed cell's ``seconds`` held its last attempt only: a cell interrupted after an hour and finished in
    a minute read as a one-minute cell in results.csv."""
    cells = [lm_cell(0), lm_cell(1), lm_cell(2)]
    # older state files: the last attempt's seconds, read as what the cell took so far
    write_state(tmp_path, cells[0], CellResult(cells[0].id, "interrupted", seconds=3600.0), attempts=1)
    write_state(tmp_path, cells[1], CellResult(cells[1].id, "interrupted", seconds=50.0), attempts=1)

    class Timed(FakeBackend):
        def result(self, handle: Any) -> CellResult:
            result = super().result(handle)
            result.seconds = 60.0
            return result

    backend = Timed(die={cells[1].id})
    outcome = Scheduler(cells, tmp_path, backend, workers=1).run()
    assert outcome.states[cells[0].id]["seconds"] == 3660.0 and outcome.states[cells[0].id]["attempts"] == 2
    assert read_state(tmp_path, cells[0].id)["seconds"] == 3660.0
    # a dead worker's attempt counts the time it ran (here next to none), then the resumed one's
    assert 50.0 + 60.0 <= outcome.states[cells[1].id]["seconds"] < 50.0 + 60.0 + 5.0
    assert outcome.states[cells[2].id]["seconds"] == 60.0


def test_a_cell_the_budget_never_started_keeps_its_seconds(tmp_path: Path) -> None:
    cell = lm_cell(0)
    write_state(tmp_path, cell, CellResult(cell.id, "budget", tokens=1000, seconds=42.0), attempts=1)
    outcome = Scheduler([cell], tmp_path, FakeBackend(), Limits(max_tokens=1000), workers=1).run()
    state = outcome.states[cell.id]
    assert state["status"] == "budget" and state["tokens"] == 1000 and state["seconds"] == 42.0
