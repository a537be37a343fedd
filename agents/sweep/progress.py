"""The live view of a sweep: a table of cells redrawn in place on a terminal, plain lines otherwise.

Each row is a cell: its status (pending, running, done, failed, interrupted, budget), and, as far as its files
say so far, steps (training cells: training steps), milestones, tokens and dollars. Running cells are read live
from their files (:func:`live_progress`): LM cells from their checkpoints, training cells from ``metrics.jsonl``.

>>> rows = [Row("lm offline-explorer minimal seed0", "done", steps=120, milestones=3, catalog=9, tokens=1500)]
>>> print("\\n".join(render_table(rows, "1 done", width=100)))
1 done
cell                               status          steps  milestones      tokens   dollars   time  note
lm offline-explorer minimal seed0  done              120  3/9              1,500   $0.0000      -
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from longplay.agents.sweep.cells import Cell, cell_dir

#: Order of statuses in the table: what is happening first.
_ORDER = {"running": 0, "failed": 1, "interrupted": 2, "budget": 3, "pending": 4, "done": 5}


@dataclass
class Row:
    """One cell in the table."""

    name: str
    status: str = "pending"
    steps: int = 0
    train_steps: int = 0
    milestones: int = 0
    catalog: int = 0
    tokens: int = 0
    dollars: float = 0.0
    seconds: float = 0.0
    note: str = ""
    started: float | None = None
    training: bool = False
    """A ``train`` cell: the steps shown are its training steps (``train_steps``), its progress."""

    def update(self, **fields: Any) -> None:
        """Sets the given fields (unknown names are ignored)."""
        for key, value in fields.items():
            if hasattr(self, key) and value is not None:
                setattr(self, key, value)

    @property
    def shown_steps(self) -> int:
        """The steps the table shows: env steps, or a training cell's training steps."""
        return self.train_steps if self.training else self.steps


def cell_status(state: dict[str, Any] | None, sweep_running: bool = False) -> str:
    """A cell's status as its state file says (``None``: never started, ``pending``), where ``running`` is one only
    while a sweep holds its folder (``sweep_running``): otherwise that sweep died, and the cell is ``interrupted``
    (the next run resumes it)."""
    status = (state or {}).get("status", "pending")
    return "interrupted" if status == "running" and not sweep_running else status


def row_from_state(cell: Cell, state: dict[str, Any] | None) -> Row:
    """A row from a cell's state file (``None``: never started), read by the sweep about to run it."""
    row = Row(cell.name, training=cell.kind == "train")
    if state:
        row.update(status=cell_status(state), steps=state.get("steps"), train_steps=state.get("train_steps"),
                   milestones=len(state.get("milestones") or {}), catalog=state.get("catalog"),
                   tokens=state.get("tokens"), dollars=state.get("dollars"), seconds=state.get("seconds"),
                   note=state.get("error") or "")
    return row


def _fmt_time(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def totals_line(rows: list[Row], limits: Any = None, elapsed: float | None = None) -> str:
    """``"16 cells: 9 done, 2 running, ... | 1,234 tokens | $0.12 of $5"``."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    parts = [f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: _ORDER.get(s, 9))]
    tokens = sum(r.tokens for r in rows)
    dollars = sum(r.dollars for r in rows)
    text = f"{len(rows)} cells: {', '.join(parts)} | {tokens:,} tokens"
    if limits is not None and getattr(limits, "max_tokens", None):
        text += f" of {limits.max_tokens:,}"
    text += f" | ${dollars:.4f}"
    if limits is not None and getattr(limits, "max_dollars", None):
        text += f" of ${limits.max_dollars:g}"
    if elapsed is not None:
        text += f" | {_fmt_time(elapsed)}"
    return text


def render_table(rows: list[Row], header: str, width: int = 120, height: int | None = None) -> list[str]:
    """The table's lines: the header, a title row, then the cells (running first). With ``height``, rows that
    do not fit are summarised in one last line."""
    now = time.time()
    ordered = sorted(rows, key=lambda r: _ORDER.get(r.status, 9))
    name_w = min(max([len(r.name) for r in rows] + [4]), max(20, width // 3))
    lines = [header[:width], f"{'cell':<{name_w}}  {'status':<11} {'steps':>9}  {'milestones':<10} {'tokens':>11} "
                             f"{'dollars':>9} {'time':>6}  note"]
    shown = ordered if height is None else ordered[: max(1, height - 3)]
    for r in shown:
        # a running cell's earlier attempts and this one's time so far
        seconds = r.seconds if r.status != "running" or r.started is None else r.seconds + now - r.started
        milestones = f"{r.milestones}/{r.catalog}" if r.catalog else (str(r.milestones) if r.milestones else "-")
        line = (f"{r.name[:name_w]:<{name_w}}  {r.status:<11} {r.shown_steps:>9,}  {milestones:<10} {r.tokens:>11,} "
                f"{'$' + format(r.dollars, '.4f'):>9} {_fmt_time(seconds):>6}  {r.note}")
        lines.append(line[:width].rstrip())
    if len(shown) < len(ordered):
        lines.append(f"... and {len(ordered) - len(shown)} more")
    return lines


class ProgressTable:
    """Shows the sweep's cells: redraws the table in place on a terminal (at most once per
    ``interval`` seconds), prints one line per start and finish otherwise."""

    def __init__(self, cells: list[Cell], states: dict[str, dict[str, Any] | None], *, limits: Any = None,
                 stream: TextIO | None = None, tty: bool | None = None, interval: float = 0.5) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.limits = limits
        self.interval = interval
        self.rows = {c.id: row_from_state(c, states.get(c.id)) for c in cells}
        self.start = time.time()
        self._drawn = 0
        self._last = 0.0
        self._ended: set[str] = set()  # the cells whose last status line was an end (not running)

    def update(self, cell_id: str, **fields: Any) -> None:
        """Updates a row; in plain mode a status change prints a line."""
        row = self.rows[cell_id]
        before = row.status
        if fields.get("status") == "running" and before != "running":
            fields.setdefault("started", time.time())
        row.update(**fields)
        if not self.tty and row.status != before:
            self._line(cell_id, row)

    def _line(self, cell_id: str, row: Row) -> None:
        # a cell interrupted and resumed (its worker died) ends twice: counted once
        if row.status == "running":
            self._ended.discard(cell_id)
        else:
            self._ended.add(cell_id)
        count = f"[{len(self._ended):>{len(str(len(self.rows)))}}/{len(self.rows)}]"
        text = f"{count} {row.status:<11} {row.name}"
        if row.status in ("done", "budget", "failed", "interrupted"):
            milestones = f"{row.milestones}/{row.catalog}" if row.catalog else str(row.milestones)
            text += (f": {milestones} milestones, {row.train_steps:,} training steps" if row.training else
                     f": {milestones} milestones, {row.steps:,} steps")
            if row.tokens:
                text += f", {row.tokens:,} tokens, ${row.dollars:.4f}"
            text += f", {_fmt_time(row.seconds)}"
            if row.note:
                text += f" ({row.note})"
        print(text, file=self.stream, flush=True)

    def refresh(self, force: bool = False) -> None:
        """Redraws the table on a terminal (throttled unless ``force``)."""
        if not self.tty or (not force and time.time() - self._last < self.interval):
            return
        self._last = time.time()
        size = shutil.get_terminal_size((120, 40))
        lines = render_table(list(self.rows.values()), totals_line(list(self.rows.values()), self.limits,
                                                                    time.time() - self.start),
                             width=size.columns - 1, height=size.lines - 1)
        out = (f"\x1b[{self._drawn}F" if self._drawn else "") + "\x1b[J" + "\n".join(lines) + "\n"
        self.stream.write(out)
        self.stream.flush()
        self._drawn = len(lines)

    def message(self, text: str) -> None:
        """Prints a line above the table."""
        if self.tty and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
        print(text, file=self.stream, flush=True)
        self.refresh(force=True)

    def close(self) -> None:
        """Draws the final table (terminal) or the totals line (plain)."""
        if self.tty:
            self.refresh(force=True)
        else:
            print(totals_line(list(self.rows.values()), self.limits, time.time() - self.start), file=self.stream,
                  flush=True)


# ============================================================================================== live reads
def live_progress(cell: Cell, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """What a running cell has done so far, from its files: ``steps``, ``milestones``, ``tokens``, ``dollars``
    (``train_steps`` for a training cell; only the keys it could read; nothing when the files are not here, e.g.
    on a Ray node).

    LM cells are read from their checkpoint (written atomically at every milestone and every
    ``checkpoint_every`` turns), never from the replay being recorded: a reader holding the SQLite file open
    can make the recorder's final commit fail. Training cells are read from ``metrics.jsonl``.
    """
    folder = cell_dir(out_dir, cell.id)
    if cell.kind == "train":
        return _training_progress(folder / "train" / cell.run_name)
    if not cell.metered:
        return {}
    checkpoints = sorted(folder.glob("*.ckpt"))
    return _checkpoint_progress(checkpoints[-1]) if checkpoints else {}


_seen: dict[Path, tuple[float, dict[str, Any]]] = {}


def _checkpoint_progress(path: Path) -> dict[str, Any]:
    """Steps, milestones, tokens and dollars of an LM checkpoint (parsed again only when it changed)."""
    from longplay.agents.lm.checkpoint import CheckpointError, load_checkpoint

    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    if path in _seen and _seen[path][0] == mtime:
        return _seen[path][1]
    try:
        data = load_checkpoint(path)
        run = data["run"]
        counters = run["counters"]
        live = {"steps": int(data["steps"]), "milestones": len(run.get("milestones") or {}),
                "tokens": int(sum(counters.get(k, 0) for k in ("tokens_in", "tokens_out", "tokens_cache_read",
                                                                "tokens_cache_write"))),
                "dollars": float(counters.get("dollars", 0.0))}
    except (CheckpointError, KeyError, TypeError, ValueError):
        return {}
    _seen[path] = (mtime, live)
    return live


def _training_progress(run_dir: Path) -> dict[str, Any]:
    """The last training step logged to ``metrics.jsonl`` (``train_steps``)."""
    path = run_dir / "metrics.jsonl"
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 4096))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            return {"train_steps": int(json.loads(line)["step"])}
        except (ValueError, KeyError, TypeError):
            continue
    return {}
