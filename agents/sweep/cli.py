"""``longplay sweep GRID.toml``: run every cell of an experiment grid, then write one table and one chart.

    longplay sweep docs/grids/quest-mini-offline.toml --workers 4
    longplay sweep grid.toml --max-dollars 20 --concurrency anthropic=2 --concurrency openai=8
    longplay sweep grid.toml --ray auto          # a local Ray instance (pip install 'longplay[distributed]')
    longplay sweep grid.toml --ray ray://head:10001
    longplay sweep grid.toml --dry-run           # list the cells and their commands

Running the same command again skips the cells that are done and resumes the others (see
:mod:`longplay.agents.sweep.scheduler`); a grid without some of the cells of the sweep in its folder is refused.
Exit code: 0 when every cell is done (or stopped by the grid's budget), 1 when a cell failed, 2 on bad input,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longplay.agents.cli import CliError, Parser, run_command


def add_sweep_subcommand(subparsers: Any) -> None:
    """Adds ``sweep`` to the ``longplay`` command's subparsers."""
    p = subparsers.add_parser(
        "sweep", help="run an experiment grid (models x scaffolds x seeds, RL seeds and configs)",
        description="Run every cell of a grid file (one longplay run or longplay train each) on a local process "
                    "pool or on Ray, resumably, within a dollar and token budget; write results.csv, results.md "
                    "and the longplay compare chart to the output folder.",
    )
    p.add_argument("grid", metavar="GRID.toml", help="the grid file (see docs/sweeps.md)")
    p.add_argument("-o", "--out", default=None, metavar="DIR",
                   help="output folder (default: the grid's 'out', else sweeps/<grid name>)")
    p.add_argument("-w", "--workers", type=int, default=None, metavar="N",
                   help="cells running at once (default: the grid's, else the CPUs; 0: one at a time in this "
                        "process)")
    p.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="run on Ray: 'auto' (a local Ray instance; the default) or a cluster address")
    p.add_argument("--max-dollars", type=float, default=None, metavar="USD",
                   help="dollars all LM cells together may spend (overrides the grid's)")
    p.add_argument("--max-tokens", type=int, default=None, metavar="N",
                   help="tokens all LM cells together may spend (overrides the grid's)")
    p.add_argument("--concurrency", action="append", default=[], metavar="PROVIDER=N",
                   help="most cells running at once for a provider (anthropic, openai, offline), or for train or "
                        "baseline cells; repeatable (overrides the grid's)")
    p.add_argument("--dry-run", action="store_true", help="list the cells, their status and commands; run nothing")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG charts")
    p.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")
    p.set_defaults(func=cmd_sweep)


def _limits(args: argparse.Namespace, grid: Any) -> Any:
    from longplay.agents.sweep.grid import check_concurrency_key

    limits = grid.limits
    if args.max_dollars is not None:
        if args.max_dollars <= 0:
            raise CliError(f"invalid --max-dollars {args.max_dollars}; must be > 0")
        limits.max_dollars = args.max_dollars
    if args.max_tokens is not None:
        if args.max_tokens < 1:
            raise CliError(f"invalid --max-tokens {args.max_tokens}; must be >= 1")
        limits.max_tokens = args.max_tokens
    for pair in args.concurrency:
        provider, sep, value = pair.partition("=")
        if not sep or not provider or not value.isdigit() or int(value) < 1:
            raise CliError(f"invalid --concurrency {pair!r}; use PROVIDER=N with N >= 1")
        check_concurrency_key(provider, f"invalid --concurrency {pair!r}")
        limits.concurrency[provider] = int(value)
    if args.workers is not None:
        if args.workers < 0:
            raise CliError(f"invalid --workers {args.workers}; must be >= 0")
        limits.workers = args.workers
    return limits


#: Seconds a sweep tries for its folder's lock before it refuses to run: a ``--dry-run`` looking at the lock holds
#: it (shared) for an instant (:func:`_sweep_running`), which must not turn a sweep starting then away.
LOCK_WAIT_SECONDS = 0.2


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Holds ``out_dir/.lock`` so two sweeps never run the same cells at once (where ``fcntl`` exists)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with open(out_dir / ".lock", "a") as f:  # not "w": a sweep refused the lock would erase the holder's pid
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise CliError(f"another sweep is running in {out_dir}") from None
                time.sleep(0.01)
        f.truncate(0)  # the lock is ours: the last holder's pid goes
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield


def _sweep_running(out_dir: Path) -> bool:
    """Whether a sweep holds ``out_dir``'s lock now (:func:`_locked`; ``False`` where ``fcntl`` is missing). A look
    takes the lock shared, for an instant (a sweep starting then waits it out: :data:`LOCK_WAIT_SECONDS`), and never
    creates the file."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        f = open(out_dir / ".lock")
    except OSError:  # no sweep ever ran there
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
    return False


def cmd_sweep(args: argparse.Namespace) -> int:
    """Runs ``longplay sweep``; see the module docstring."""
    from longplay.agents.sweep.grid import GridError, load_grid, validate_cells

    try:
        grid = load_grid(args.grid)
        limits = _limits(args, grid)
        validate_cells(grid.cells, limits)
    except GridError as exc:
        raise CliError(str(exc)) from None
    out_dir = Path(args.out or grid.out or Path("sweeps") / grid.name)
    if args.dry_run:
        _refuse_another_grid(grid, out_dir, args.grid)
        return _dry_run(grid, out_dir)
    if args.ray is not None and limits.workers == 0:
        raise CliError("--workers 0 runs in this process; with --ray give N >= 1 or leave --workers out")
    out_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):
        _refuse_another_grid(grid, out_dir, args.grid)
        return _sweep(args, grid, limits, out_dir)


def _refuse_another_grid(grid: Any, out_dir: Path, grid_path: str) -> None:
    """Refuses an output folder that holds the sweep of another grid, one without some of its cells: their files
    would stay beside the new ones and their spending be forgotten by the grid's budget. Cell ids hash each
    cell's configuration, so a rerun of the same cells resumes whatever the file's comments, spacing, labels or
    ``[limits]`` (a larger budget continues the cells it stopped), and a grid that adds cells (more seeds, another
    model) to all of the sweep's extends it."""
    path = out_dir / "sweep.json"
    if not path.is_file():
        return
    try:
        before = {cell["id"] for cell in json.loads(path.read_text())["cells"]}
    except (OSError, ValueError, KeyError, TypeError):
        raise CliError(f"cannot read {path} (the cells of the sweep in {out_dir}); run this grid into a new "
                       f"folder (-o DIR), or delete {path} if {out_dir} holds this grid's sweep") from None
    now = {cell.id for cell in grid.cells}
    if before - now:
        raise CliError(f"{out_dir} holds a sweep of a different grid ({len(before - now)} of its cells are not in "
                       f"{grid_path}, {len(now - before)} of {grid_path}'s are new); run this grid into a new folder "
                       f"(-o DIR), or move {out_dir} away")


def _dry_run(grid: Any, out_dir: Path) -> int:
    from longplay.agents.sweep.cells import read_state
    from longplay.agents.sweep.progress import cell_status

    sweep_running = _sweep_running(out_dir)
    print(f"{grid.name}: {len(grid.cells)} cells -> {out_dir}"
          + (f" ({grid.duplicates} duplicates dropped)" if grid.duplicates else ""))
    for cell in grid.cells:
        status = cell_status(read_state(out_dir, cell.id), sweep_running)
        verb = "train" if cell.kind == "train" else "run"
        argv = cell.train_argv(out_dir / "cells" / cell.id) if cell.kind == "train" else \
            cell.run_argv(out_dir / "cells" / cell.id)
        print(f"{cell.id}  {status:<11} {cell.name}\n    {shlex.join(['longplay', verb, *argv])}")
    return 0


def _sweep(args: argparse.Namespace, grid: Any, limits: Any, out_dir: Path) -> int:
    from longplay.agents.sweep.backends import InlineBackend, LocalBackend, RayBackend
    from longplay.agents.sweep.cells import read_state, write_json_atomic
    from longplay.agents.sweep.progress import ProgressTable
    from longplay.agents.sweep.results import write_results
    from longplay.agents.sweep.scheduler import Scheduler
    from longplay.replays.files import remove_partials, write_atomically

    # of cell states (and of grid.toml, sweep.json) whose writes were killed outright (under the lock: stale)
    remove_partials(out_dir / "cells")
    for name in ("grid.toml", "sweep.json"):
        remove_partials(out_dir, name)
    # whole or not at all: a sweep.json cut short by a kill would make every later run refuse the folder
    write_atomically(out_dir / "grid.toml", lambda partial: partial.write_text(grid.text))
    write_json_atomic(out_dir / "sweep.json", {"name": grid.name, "limits": vars(limits),
                                               "cells": [{"id": c.id, **c.to_dict()} for c in grid.cells]})
    workers = limits.workers
    if args.ray is not None:
        try:
            backend: Any = RayBackend(out_dir, args.ray, num_cpus=workers)
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - cannot reach the cluster: one line
            raise CliError(f"cannot start Ray ({args.ray}): {' '.join(str(exc).split())[:200]}") from None
        workers = workers or backend.default_workers()
    elif workers == 0:
        backend, workers = InlineBackend(out_dir), 1
    else:
        workers = workers or min(os.cpu_count() or 1, len(grid.cells))
        backend = LocalBackend(out_dir, workers)
    states = {c.id: read_state(out_dir, c.id) for c in grid.cells}
    progress = ProgressTable(grid.cells, states, limits=limits, tty=False if args.plain else None)
    if args.ray is not None:
        where = f"ray ({args.ray})"
    elif backend.name == "inline":
        where = "this process"
    else:
        where = f"{workers} local worker{'s' if workers != 1 else ''}"
    done = sum(1 for s in states.values() if s and s.get("status") == "done")
    print(f"longplay sweep: {grid.name}: {len(grid.cells)} cells ({done} done) on {where} -> {out_dir}",
          flush=True)
    outcome = Scheduler(grid.cells, out_dir, backend, limits, workers=workers, progress=progress).run()
    written, notes = write_results(grid.name, grid.cells, outcome.states, out_dir, plots=not args.no_plots)
    for note in notes:
        print(f"note: {note}")
    failed = [c for c in grid.cells if outcome.states[c.id].get("status") == "failed"]
    for cell in failed:
        print(f"failed: {cell.name} ({cell.id}): {outcome.states[cell.id].get('error')} "
              f"[log: {out_dir / 'cells' / cell.id / 'log.txt'}]")
    charts = [p for p in written if p.suffix == ".png"]
    print(f"results: {out_dir / 'results.md'}, {out_dir / 'results.csv'}"
          + (f"; chart: {charts[0]}" if charts else ""))
    if outcome.interrupted:
        print("longplay sweep: stopped; run the same command again to resume")
        return 130
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m longplay.agents.sweep.cli GRID.toml ...`` (the same as ``longplay sweep``)."""
    import sys

    parser = Parser(prog="longplay")
    add_sweep_subcommand(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *(sys.argv[1:] if argv is None else argv)])
    return run_command(args.func, args)


if __name__ == "__main__":
    raise SystemExit(main())
