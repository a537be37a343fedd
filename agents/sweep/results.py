"""The end of a sweep: the results table (``results.csv``, ``results.md``) and the comparison chart.

The table has one row per cell (configuration, seed, status, milestones reached, steps, training steps, turns,
tokens, dollars, time, replay, error) and, in the markdown file, a summary per configuration. The chart is
``longplay compare`` over the sweep's replays (``compare/``: ``progress_<axis>.png``, ``summary.json`` and the
CSV files), with runs grouped by the cells' labels, so every seed of a configuration is one curve.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from longplay.agents.sweep.cells import Cell

#: Columns of ``results.csv``, in order. ``steps`` are the env steps of the cell's replay, the ones its milestones
#: were reached in and the chart plots (a ``train`` cell's: its last evaluation's); ``train_steps`` are a ``train``
#: cell's steps of training (empty for the others).
COLUMNS = ("label", "seed", "status", "milestones", "catalog", "last_milestone", "steps", "train_steps", "turns",
           "tokens", "dollars", "seconds", "stop_reason", "replay", "error", "cell", "kind", "env", "agent", "model",
           "scaffold", "variant", "command")


#: Under the cells' table in ``results.md``: what its step columns count.
STEPS_NOTE = ("*steps*: env steps of the cell's replay, in which its milestones were reached (the chart's steps "
              "axis).")
TRAIN_STEPS_NOTE = (" A train cell's replay is its final evaluation's (`eval_steps` long at most); *train_steps*: "
                    "env steps it trained for.")


def result_rows(cells: list[Cell], states: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell (see :data:`COLUMNS`), sorted by label and seed."""
    rows = []
    for cell in cells:
        state = states.get(cell.id) or {}
        milestones = state.get("milestones") or {}
        last = max(milestones, key=milestones.get) if milestones else ""
        rows.append({
            "label": cell.label, "seed": cell.seed, "status": state.get("status", "pending"),
            "milestones": len(milestones), "catalog": state.get("catalog") or "", "last_milestone": last,
            # a state without steps: a train cell's from before train_steps (cells.read_state), none recorded
            "steps": state.get("steps", "" if state else 0), "train_steps": state.get("train_steps") or "",
            "turns": state.get("turns") or 0,
            "tokens": state.get("tokens") or 0,
            "dollars": round(float(state.get("dollars") or 0.0), 6), "seconds": round(float(state.get("seconds")
                                                                                         or 0.0), 2),
            "stop_reason": state.get("stop_reason") or "", "replay": state.get("replay") or "",
            "error": state.get("error") or "", "cell": cell.id, "kind": cell.kind,
            "env": cell.env_id, "agent": cell.agent, "model": cell.lm.get("model", ""),
            "scaffold": cell.lm.get("scaffold", ""), "variant": cell.variant, "command": state.get("command") or "",
        })
    return sorted(rows, key=lambda r: (r["label"], r["seed"]))


def group_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A summary per configuration (label): cells, done, mean and range of milestones, tokens, dollars."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["label"], []).append(row)
    out = []
    for label, members in groups.items():
        reached = [r["milestones"] for r in members if r["status"] != "pending"]
        out.append({"label": label, "cells": len(members), "done": sum(r["status"] == "done" for r in members),
                    "milestones_mean": sum(reached) / len(reached) if reached else math.nan,
                    "milestones_min": min(reached) if reached else "", "milestones_max": max(reached) if reached
                    else "", "tokens": sum(r["tokens"] for r in members),
                    "dollars": sum(r["dollars"] for r in members)})
    return out


def markdown_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """A markdown table of ``rows`` (``|`` in values escaped).

    >>> print(markdown_table([{"a": 1, "b": "x|y"}], ("a", "b")))
    | a | b |
    | --- | --- |
    | 1 | x\\|y |
    """
    def cell(value: Any) -> str:
        if isinstance(value, float):
            value = "-" if math.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, cells: list[Cell], states: dict[str, dict[str, Any]], out_dir: str | os.PathLike[str],
                  *, plots: bool = True) -> tuple[list[Path], list[str]]:
    """Writes ``results.csv``, ``results.md`` and the comparison (``compare/``); returns (files, notes)."""
    out = Path(out_dir)
    rows = result_rows(cells, states)
    written, notes = [], []
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    written.append(out / "results.csv")
    compared, compare_notes = write_comparison(cells, states, out / "compare", plots=plots)
    notes += compare_notes
    written += compared
    training = any(c.kind == "train" for c in cells)
    md = [f"# Sweep {name}", "", "## Configurations", "",
          markdown_table(group_rows(rows), ("label", "cells", "done", "milestones_mean", "milestones_min",
                                            "milestones_max", "tokens", "dollars")),
          "", "## Cells", "",
          markdown_table(rows, ("label", "seed", "status", "milestones", "last_milestone", "steps")
                         + (("train_steps",) if training else ())
                         + ("turns", "tokens", "dollars", "seconds", "error")),
          "", STEPS_NOTE + (TRAIN_STEPS_NOTE if training else "")]
    charts = [p for p in compared if p.suffix == ".png"]
    if charts:
        md += ["", "## Progress", ""] + [f"![{p.stem}]({p.relative_to(out).as_posix()})" for p in charts]
    (out / "results.md").write_text("\n".join(md) + "\n")
    written.append(out / "results.md")
    return written, notes


def write_comparison(cells: list[Cell], states: dict[str, dict[str, Any]], out_dir: str | os.PathLike[str], *,
                     plots: bool = True) -> tuple[list[Path], list[str]]:
    """``longplay compare`` over the cells' replays, grouped by label; returns (files, notes)."""
    from longplay.replays.compare import compare_impl, read_runs, write_outputs
    from longplay.replays.schema import ReplayError

    base = Path(out_dir).parent
    runs, notes = [], []
    for cell in cells:
        replay = (states.get(cell.id) or {}).get("replay")
        if not replay:
            continue
        path = Path(replay) if Path(replay).is_absolute() else base / replay
        try:
            # compare's rule for which episodes are runs: only a killed run's episode of no recorded step is not
            # (one its run closed at step 0 really ended there)
            runs += [dataclasses.replace(r, group=cell.label) for r in read_runs(path, warnings=notes)]
        except (ReplayError, OSError) as exc:
            notes.append(f"skipped {path}: {exc}")
    if not runs:
        return [], notes + ["no replays to compare"]
    try:
        result = compare_impl(runs)
    except Exception as exc:  # noqa: BLE001 - the results table must not be lost to the chart
        return [], notes + [f"no comparison: {type(exc).__name__}: {exc}"]
    try:
        return write_outputs(result, runs, out_dir, plots=plots), notes
    except ReplayError as exc:  # matplotlib missing: the tables still come
        return write_outputs(result, runs, out_dir, plots=False), notes + [str(exc)]
