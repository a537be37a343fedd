"""The scheduler: which cell runs next, within the workers, the concurrency allowed per provider and the
grid's dollar and token budget; what happens when a cell ends, fails, or its worker dies.

**Resuming.** Cells whose state is ``done`` are skipped. Every other cell runs; an LM cell with a checkpoint
continues from it (``longplay run --agent lm --resume``) and a training cell from its newest checkpoint
(``longplay train --resume``). A cell whose worker died (killed, out of memory) is resumed once in the same
sweep; if its worker dies again it is reported as failed.

**The grid's budget.** LM cells are *metered*: the grid's ``max_tokens`` and ``max_dollars`` are shared among
them. When a metered cell starts it gets a share: what is left of the budget (the limit, less what finished
cells spent and what running cells may still spend) divided by the metered cells that have not started,
capped by its own budget. The share becomes the run's own ``--max-tokens`` / ``--max-dollars`` (in totals over
its sessions), so the LM loop itself stops it, cleanly and checkpointed, at the first turn boundary past it:
the grid can go over its limit by at most one turn per running cell. What a cell does not spend goes back to
the pool. When nothing is left, no new metered cell starts (they are reported with status ``budget``), and
a cell stopped by its share is ``budget`` too: running the sweep again with a larger limit continues them.

**Interruptions.** Ctrl-C stops launching and asks running cells to stop (LM runs checkpoint); a second Ctrl-C
abandons them. A cell that comes back ``interrupted`` (cancelled) also stops the sweep from launching more.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longplay.agents.sweep.backends import Backend, WorkerDied
from longplay.agents.sweep.cells import Caps, Cell, CellResult, read_state, seconds_so_far, write_state
from longplay.agents.sweep.grid import Limits
from longplay.agents.sweep.progress import ProgressTable, live_progress

#: Deaths of a cell's worker after which the cell is reported as failed.
MAX_DEATHS = 2


# ============================================================================================== budget
@dataclass
class BudgetPool:
    """The grid's token and dollar budget shared by the metered cells (see the module docstring)."""

    max_tokens: int | None = None
    max_dollars: float | None = None
    spent: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Cell id -> (tokens, dollars) it has spent (from its state file, or its last result)."""
    reserved: dict[str, Caps] = field(default_factory=dict)
    """Running cell id -> the caps it was given (totals it may reach)."""

    @property
    def limited(self) -> bool:
        """True when the grid has a token or dollar budget."""
        return self.max_tokens is not None or self.max_dollars is not None

    def committed(self) -> tuple[float, float]:
        """(tokens, dollars) spent by cells not running plus what the running cells may reach."""
        tokens = dollars = 0.0
        for cell_id, (t, d) in self.spent.items():
            if cell_id not in self.reserved:
                tokens, dollars = tokens + t, dollars + d
        for caps in self.reserved.values():
            tokens += caps.max_tokens or 0
            dollars += caps.max_dollars or 0.0
        return tokens, dollars

    def left(self) -> tuple[float | None, float | None]:
        """What is not committed: (tokens, dollars), ``None`` for no limit."""
        tokens, dollars = self.committed()
        return (None if self.max_tokens is None else self.max_tokens - tokens,
                None if self.max_dollars is None else self.max_dollars - dollars)

    def allot(self, cell: Cell, waiting: int) -> Caps | None:
        """The caps of ``cell`` if it starts now with ``waiting`` metered cells (itself included) not started;
        ``None`` when the budget is spent."""
        spent_tokens, spent_dollars = self.spent.get(cell.id, (0, 0.0))
        left_tokens, left_dollars = self.left()
        caps = Caps()
        if left_tokens is not None:
            if left_tokens < 1:
                return None
            share = left_tokens / max(waiting, 1)
            own = cell.budget.get("max_tokens")
            grant = share if own is None else min(share, own - spent_tokens)
            if grant < 1:
                return None
            caps.max_tokens = int(spent_tokens + grant)
        if left_dollars is not None:
            if left_dollars <= 1e-9:
                return None
            share = left_dollars / max(waiting, 1)
            own = cell.budget.get("max_dollars")
            grant = share if own is None else min(share, own - spent_dollars)
            if grant <= 1e-9:
                return None
            caps.max_dollars = spent_dollars + grant
        return caps

    def reserve(self, cell: Cell, caps: Caps) -> None:
        """Holds ``caps`` for a cell that starts."""
        self.reserved[cell.id] = caps

    def release(self, cell: Cell, tokens: int, dollars: float) -> None:
        """A cell ended having spent (tokens, dollars) in total: its reservation becomes that."""
        self.reserved.pop(cell.id, None)
        self.spent[cell.id] = (tokens, dollars)


# ============================================================================================== outcome
@dataclass
class SweepOutcome:
    """How a sweep ended."""

    states: dict[str, dict[str, Any]]
    """Cell id -> its state (cells never started have ``{"status": "pending"}``)."""
    seconds: float
    """Wall-clock seconds of this sweep."""
    interrupted: bool = False
    """The sweep was stopped (Ctrl-C or a cancelled cell) before every cell ran."""
    skipped: int = 0
    """Cells already done when the sweep started."""

    def count(self, status: str) -> int:
        """Cells with ``status``."""
        return sum(1 for s in self.states.values() if s.get("status") == status)


# ============================================================================================== scheduler
class Scheduler:
    """Runs ``cells`` on ``backend`` (see the module docstring).

    Args:
        cells: The grid's cells.
        out_dir: The sweep's output folder.
        backend: Where cells run.
        limits: The grid's budget and per-provider concurrency.
        workers: Cells running at once.
        progress: The live table (``None``: silent).
        poll: Seconds between looks at running cells.
        on_result: Called with each result as it arrives (benchmarks, tests).
    """

    def __init__(self, cells: list[Cell], out_dir: str | Path, backend: Backend, limits: Limits | None = None, *,
                 workers: int = 1, progress: ProgressTable | None = None, poll: float = 1.0,
                 on_result: Callable[[Cell, CellResult], None] | None = None) -> None:
        self.cells = cells
        self.out_dir = Path(out_dir)
        self.backend = backend
        self.limits = limits or Limits()
        self.workers = max(1, workers)
        self.progress = progress
        self.poll = poll
        self.on_result = on_result
        self.states: dict[str, dict[str, Any]] = {}
        self.pool = BudgetPool(self.limits.max_tokens, self.limits.max_dollars)
        self.queue: deque[Cell] = deque()
        self.running: dict[Any, Cell] = {}
        self.deaths: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        #: Running cell id -> (when its attempt started, the seconds of its attempts before).
        self.started: dict[str, tuple[float, float]] = {}
        self.stopping = False

    # ------------------------------------------------------------------------------------------ main loop
    def run(self) -> SweepOutcome:
        """Runs every cell that is not done; returns when all have ended (or the sweep was stopped)."""
        start = time.perf_counter()
        skipped = 0
        for cell in self.cells:
            state = read_state(self.out_dir, cell.id) or {"status": "pending"}
            self.states[cell.id] = state
            tokens, dollars = int(state.get("tokens") or 0), float(state.get("dollars") or 0.0)
            if cell.metered and state.get("status") != "done":  # a sweep that died recorded less than this
                live = live_progress(cell, self.out_dir)
                tokens = max(tokens, int(live.get("tokens", 0)))
                dollars = max(dollars, float(live.get("dollars", 0.0)))
            self.pool.spent[cell.id] = (tokens, dollars)
            if state.get("status") == "done":
                skipped += 1
            else:
                self.queue.append(cell)
        abandoned = False
        while (self.queue and not self.stopping) or self.running:
            try:
                self._step()
            except KeyboardInterrupt:
                if not self.stopping:
                    self._stop("interrupted: waiting for the running cells to checkpoint "
                               "(Ctrl-C again to abandon them)")
                    continue
                abandoned = True
                self._abandon()
                break
        if not abandoned:
            self.backend.close()
        if self.progress is not None:
            self.progress.close()
        return SweepOutcome({c.id: self.states[c.id] for c in self.cells}, time.perf_counter() - start,
                            interrupted=self.stopping, skipped=skipped)

    def _step(self) -> None:
        if not self.stopping:
            self._launch()
        if not self.running:
            return
        for handle in self.backend.wait(list(self.running), timeout=self.poll):
            self._finish(handle)
        self._watch()

    def _stop(self, message: str) -> None:
        self.stopping = True
        self._message(message)
        for handle in list(self.running):
            self.backend.interrupt(handle)

    def _abandon(self) -> None:
        self.backend.close(abandon=True)
        for cell in self.running.values():
            result = CellResult(cell.id, "interrupted", error="abandoned (Ctrl-C twice)",
                                seconds=self._attempt_seconds(cell))
            self._fill_spent(cell, result)
            self._record(cell, result)
        self.running.clear()

    def _message(self, text: str) -> None:
        if self.progress is not None:
            self.progress.message(text)

    # ------------------------------------------------------------------------------------------ launching
    def _launch(self) -> None:
        for cell in list(self.queue):
            if len(self.running) >= self.workers:
                return
            limit = self.limits.concurrency.get(cell.provider)
            if limit is not None and sum(c.provider == cell.provider for c in self.running.values()) >= limit:
                continue
            caps = None
            if cell.metered and self.pool.limited:
                waiting = sum(1 for c in self.queue if c.metered)
                caps = self.pool.allot(cell, waiting)
                if caps is None:
                    if not any(c.metered for c in self.running.values()):  # nothing will come back: spent
                        self.queue.remove(cell)
                        self._record(cell, CellResult(cell.id, "budget", error="not started: the grid's budget "
                                                      "is spent"), keep_numbers=True)
                    continue
                self.pool.reserve(cell, caps)
            self.queue.remove(cell)
            self.attempts[cell.id] = int(self.states[cell.id].get("attempts", 0)) + 1
            self.started[cell.id] = (time.perf_counter(), seconds_so_far(self.states[cell.id]))
            handle = self.backend.submit(cell, caps)
            self.running[handle] = cell
            self.states[cell.id] = {**self.states[cell.id], "status": "running"}
            if self.progress is not None:
                self.progress.update(cell.id, status="running", note="")
                self.progress.refresh()

    # ------------------------------------------------------------------------------------------ results
    def _finish(self, handle: Any) -> None:
        cell = self.running.pop(handle)
        try:
            result = self.backend.result(handle)
        except WorkerDied as exc:
            self.deaths[cell.id] = self.deaths.get(cell.id, 0) + 1
            if self.deaths[cell.id] < MAX_DEATHS and not self.stopping:
                self.queue.appendleft(cell)  # resumes from its checkpoint
                result = CellResult(cell.id, "interrupted", error=f"worker died, resuming: {exc}")
            else:
                result = CellResult(cell.id, "failed", error=f"worker died: {exc}")
            result.seconds = self._attempt_seconds(cell)  # the dead attempt ran until now
            self._fill_spent(cell, result)
        self.pool.release(cell, result.tokens, result.dollars)
        self._record(cell, result)
        if self.on_result is not None:
            self.on_result(cell, result)
        if result.status == "interrupted" and cell.id not in self.deaths and not self.stopping:
            self._stop(f"{cell.name} was interrupted: not starting more cells")

    def _fill_spent(self, cell: Cell, result: CellResult) -> None:
        """After a worker died or was abandoned, what the cell spent is what its checkpoint says."""
        live = live_progress(cell, self.out_dir)
        result.tokens = int(live.get("tokens", 0))
        result.dollars = float(live.get("dollars", 0.0))
        result.steps = int(live.get("steps", 0))
        result.train_steps = int(live.get("train_steps", 0))

    def _attempt_seconds(self, cell: Cell) -> float:
        """Seconds since the cell's attempt was launched."""
        return time.perf_counter() - self.started[cell.id][0]

    def _record(self, cell: Cell, result: CellResult, keep_numbers: bool = False) -> None:
        """Writes the cell's state from ``result``, one attempt's, with ``seconds`` summed over its attempts (the
        attempts before it from the state the scheduler launched it with: a worker that could not see the
        output folder knew none of them)."""
        previous = read_state(self.out_dir, cell.id) or self.states.get(cell.id) or {}
        _, before = self.started.pop(cell.id, (0.0, seconds_so_far(previous)))  # (not launched: its state's)
        seconds = before + result.seconds
        if keep_numbers:  # a cell that did not run keeps what it reached before
            for key in ("replay", "milestones", "catalog", "steps", "train_steps", "turns", "tokens", "dollars",
                        "stop_reason", "command"):
                if previous.get(key) is not None and key in CellResult.__dataclass_fields__:
                    setattr(result, key, previous[key])
        attempts = self.attempts.get(cell.id, int(previous.get("attempts", 0)))
        self.states[cell.id] = write_state(self.out_dir, cell, result, attempts=attempts,
                                           deaths=self.deaths.get(cell.id, 0), seconds=seconds)
        if self.progress is not None:
            self.progress.update(cell.id, status=result.status, steps=result.steps, train_steps=result.train_steps,
                                 milestones=len(result.milestones), catalog=result.catalog, tokens=result.tokens,
                                 dollars=result.dollars, seconds=seconds, note=result.error)
            self.progress.refresh()

    def _watch(self) -> None:
        """Reads the running cells' files for the live table."""
        if self.progress is None:
            return
        for cell in self.running.values():
            live = live_progress(cell, self.out_dir)
            if live:
                self.progress.update(cell.id, **live)
        self.progress.refresh()
