"""Whole sweeps on the built-in game with the offline model: results, skipping, failures, killed workers,
cells that run where the output folder is not visible."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from longplay.agents.sweep import backends
from longplay.agents.sweep.backends import LocalBackend, run_cell_task, unpack_folder
from longplay.agents.sweep.cells import Cell, execute_cell, read_state
from longplay.agents.sweep.cli import main
from longplay.agents.sweep.grid import load_grid
from longplay.agents.sweep.scheduler import Scheduler
from longplay.replays.reader import ReplayReader

LM_BLOCK = """
[[run]]
env = "QuestMini-v0"
models = ["offline"]
seeds = [0, 1]
steps = 120
"""


def write_grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(text))
    return path


def replay_actions(out_dir: Path, state: dict) -> tuple[bytes, list[tuple[int, str]]]:
    with ReplayReader(out_dir / state["replay"]) as replay:
        return replay.actions(0), [(m.step, m.milestone) for m in replay.milestones()]


def test_a_sweep_writes_results_and_skips_done_cells_when_run_again(tmp_path: Path, capsys) -> None:
    grid = write_grid(tmp_path, LM_BLOCK + '\n[[run]]\nenv = "QuestMini-v0"\nagent = "oracle"\nsteps = 120\n')
    out = tmp_path / "out"
    assert main([str(grid), "--out", str(out), "--workers", "0", "--plain"]) == 0
    text = capsys.readouterr().out
    assert "3 cells (0 done) on this process" in text and "[3/3] done" in text
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["label"], r["seed"], r["status"]) for r in rows] == [
        ("lm offline-explorer minimal", "0", "done"), ("lm offline-explorer minimal", "1", "done"),
        ("oracle", "0", "done")]
    oracle = rows[2]
    assert int(oracle["milestones"]) >= 2 and oracle["steps"] == "120" and oracle["replay"].endswith(".lpr")
    assert int(rows[0]["tokens"]) > 0 and int(rows[0]["turns"]) > 0 and rows[0]["command"].startswith("longplay run")
    assert "| lm offline-explorer minimal | 2 | 2 |" in (out / "results.md").read_text()
    summary = json.loads((out / "compare" / "summary.json").read_text())
    assert {g["group"] for g in summary["groups"]} == {"lm offline-explorer minimal", "oracle"}
    states = {r["cell"]: read_state(out, r["cell"]) for r in rows}
    assert all(s["attempts"] == 1 for s in states.values())

    assert main([str(grid), "--out", str(out), "--workers", "0", "--plain", "--no-plots"]) == 0
    assert "3 cells (3 done)" in capsys.readouterr().out
    assert all(read_state(out, cell_id)["attempts"] == 1 for cell_id in states)


CRASHING_ORACLE = """
import longplay.agents.oracle as oracle

def act(self, obs, info):
    raise RuntimeError("the oracle crashed")  # a cell that passes every check and fails when it runs

oracle.OracleAgent.act = act
"""


def test_a_failing_cell_is_reported_while_the_others_finish(tmp_path: Path, capsys, monkeypatch) -> None:
    # (the oracle on a Game Boy game, this test's failing cell before, is now refused before any cell runs)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CRASHING_ORACLE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])))
    grid = write_grid(tmp_path, LM_BLOCK + '\n[[run]]\nenv = "TestCart-v0"\nagent = "random"\nsteps = 50\n'
                      '\n[[run]]\nenv = "QuestMini-v0"\nagent = "oracle"\nsteps = 50\n')
    out = tmp_path / "out"
    assert main([str(grid), "--out", str(out), "--workers", "2", "--plain", "--no-plots"]) == 1
    text = capsys.readouterr().out
    assert "failed: QuestMini-v0 oracle seed0" in text and "the oracle crashed" in text
    rows = {r["label"] + r["seed"]: r for r in csv.DictReader(open(out / "results.csv"))}
    failed = rows["QuestMini-v0 oracle0"]
    assert failed["status"] == "failed" and "the oracle crashed" in failed["error"]
    assert rows["QuestMini-v0 lm offline-explorer minimal0"]["status"] == "done"
    assert rows["QuestMini-v0 lm offline-explorer minimal1"]["status"] == "done"
    assert rows["TestCart-v0 random0"]["status"] == "done"


def test_bad_env_options_are_refused_before_anything_runs(tmp_path: Path, capsys) -> None:
    for block in ('[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nenv_kwargs = { size = "gigantic" }\n',
                  '[[train]]\nenv = "QuestMini-v0"\nenv_kwargs = { size = "gigantic" }\ntotal_steps = 64\n'):
        grid = write_grid(tmp_path, block)
        assert main([str(grid), "--out", str(tmp_path / "out"), "--plain", "--no-plots"]) == 2
        err = capsys.readouterr().err
        assert "error: cell " in err and "unknown world size 'gigantic'" in err and err.count("\n") == 1
        assert not (tmp_path / "out").exists()


def test_a_scaffold_the_game_lacks_a_feature_for_is_refused_before_anything_runs(tmp_path: Path, capsys) -> None:
    grid = write_grid(tmp_path, LM_BLOCK.replace('env = "QuestMini-v0"', 'envs = ["QuestMini-v0", "TestCart-v0"]')
                      + 'scaffolds = ["minimal", "map_memory"]\n')
    assert main([str(grid), "--out", str(tmp_path / "out"), "--plain", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "error: cell TestCart-v0 lm offline-explorer map_memory seed0: the map_memory scaffold needs a game " \
           "with a map adapter" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


SITECUSTOMIZE = """
import os, signal
from pathlib import Path
import longplay.agents.lm.checkpoint as checkpoint

_save = checkpoint.CheckpointStore.save

def save(self, run, reason):
    _save(self, run, reason)
    marker = Path(os.environ["SWEEP_TEST_KILL_MARKER"])
    if run.counters.turns >= 20 and not marker.exists():
        marker.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-run, right after a checkpoint

checkpoint.CheckpointStore.save = save
"""


def test_a_cell_killed_mid_run_resumes_from_its_checkpoint(tmp_path: Path, monkeypatch) -> None:
    grid = load_grid(write_grid(tmp_path, """
        [[run]]
        env = "QuestMini-v0"
        models = ["offline"]
        seed = 0
        steps = 400
        max_turns = 45
        checkpoint_every = 10
    """))
    (cell,) = grid.cells
    reference = tmp_path / "reference"
    assert execute_cell(cell, reference).status == "done"

    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    # prepended, not set: a PYTHONPATH that points at the code under test (a worktree) must stay
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("SWEEP_TEST_KILL_MARKER", str(tmp_path / "killed"))
    out = tmp_path / "out"
    outcome = Scheduler(grid.cells, out, LocalBackend(out, 1), workers=1, poll=0.2).run()
    state = outcome.states[cell.id]
    assert (tmp_path / "killed").exists() and state["deaths"] == 1 and state["status"] == "done", state
    assert replay_actions(out, state) == replay_actions(reference, read_state(reference, cell.id))
    with ReplayReader(out / state["replay"]) as replay:
        assert len(replay.header["resumes"]) == 1 and replay.header["resumes"][0]["turn_rows"] >= 20


def test_workers_of_a_killed_sweep_checkpoint_and_exit(tmp_path: Path) -> None:
    """SIGKILL of the sweep: its pool worker must not go on with the cell (a rerun would resume the same cell
    beside it, and both would write its replay); it checkpoints as after Ctrl-C and exits."""
    grid = write_grid(tmp_path, """
        [[run]]
        env = "QuestMini-v0"
        models = ["offline"]
        steps = 20000
        checkpoint_every = 5
    """)
    out = tmp_path / "out"
    sweep = subprocess.Popen([sys.executable, "-m", "longplay.agents.sweep.cli", str(grid), "--out", str(out),
                              "--workers", "1", "--plain", "--no-plots"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    cell_id = load_grid(grid).cells[0].id
    deadline = time.monotonic() + 60
    while not list((out / "cells" / cell_id).glob("*.ckpt")) and time.monotonic() < deadline:
        time.sleep(0.1)
    state = read_state(out, cell_id)
    assert state is not None and state["status"] == "running", state
    sweep.kill()
    sweep.wait()
    worker = int(state["pid"])
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    state = read_state(out, cell_id)
    assert not alive and state["status"] == "interrupted" and state["steps"] < 20000, state


def test_a_sweep_killed_outright_keeps_the_seconds_its_running_cell_had_run(tmp_path: Path, monkeypatch) -> None:
    """SIGKILL of the whole sweep (its workers too) left the running cell's state as it was when the attempt began:
    the attempt's seconds were lost from the cell's total. A heartbeat rewrites them while the cell runs."""
    import longplay.agents.sweep.cells as cells

    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text("import longplay.agents.sweep.cells as cells\n"
                                            "cells.HEARTBEAT_SECONDS = 0.1\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])))
    grid = write_grid(tmp_path, '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 100000000\n')
    (cell,) = load_grid(grid).cells
    out = tmp_path / "out"
    sweep = subprocess.Popen([sys.executable, "-m", "longplay.agents.sweep.cli", str(grid), "--out", str(out),
                              "--workers", "1", "--plain", "--no-plots"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        state = None
        while time.monotonic() < deadline and not (state and state["status"] == "running" and state["seconds"] > 1.0):
            time.sleep(0.1)
            state = read_state(out, cell.id)
        began = time.monotonic() - state["seconds"]
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and its worker, at once: nobody records anything
        sweep.wait()
    killed_after = time.monotonic() - began
    worker = int(state["pid"])
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    state = read_state(out, cell.id)
    assert state["status"] == "running" and state["attempts"] == 1, state
    assert 1.0 < state["seconds"] <= killed_after and killed_after - state["seconds"] < 1.0, (state, killed_after)

    monkeypatch.setattr(cells, "_execute_run", lambda *args: cells.CellResult(cell.id, "done"))
    result = execute_cell(cell, out)  # the next attempt adds its seconds to the killed one's
    resumed = read_state(out, cell.id)
    assert resumed["attempts"] == 2 and resumed["seconds"] == pytest.approx(state["seconds"] + result.seconds)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True


def test_a_cell_runs_where_the_output_folder_is_not_visible(tmp_path: Path, monkeypatch) -> None:
    node = tmp_path / "node"
    monkeypatch.setattr(backends.tempfile, "gettempdir", lambda: str(node))
    cell = Cell("run", "longplay/QuestMini-v0", 0, "lm", lm={"provider": "offline", "model": "offline-explorer"},
                budget={"steps": 60}, label="lm")
    result, files = run_cell_task(cell, str(tmp_path / "driver-only"), "token", None, {})
    assert result.status == "done" and files is not None and "log.txt" in files
    assert not any(node.rglob("*.lpr"))  # the node keeps nothing
    out = tmp_path / "out"
    unpack_folder(files, out / "cells" / cell.id)
    actions, milestones = replay_actions(out, {"replay": result.replay})
    assert len(actions) == 60 and result.replay.startswith(f"cells/{cell.id}/")


def test_a_cells_files_from_a_node_replace_its_folder_and_stay_inside_it(tmp_path: Path) -> None:
    """What comes back from a node that could not see the output folder is the cell's folder: a file the node no
    longer has (an older checkpoint) is gone, and a name that climbs out of the folder is refused."""
    folder = tmp_path / "cells" / "abc"
    folder.mkdir(parents=True)
    (folder / "old.ckpt").write_text("stale")
    unpack_folder({"run.lpr": b"replay", "sub/log.txt": b"log"}, folder)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == ["run.lpr", "sub/log.txt"]
    with pytest.raises(ValueError, match="outside"):
        unpack_folder({"../escaped.txt": b"x"}, folder)
    assert not (tmp_path / "cells" / "escaped.txt").exists()


@pytest.mark.parametrize("flags", [["--max-tokens", "0"], ["--concurrency", "anthropic"], ["--workers", "-1"],
                                   ["--concurrency", "antropic=2"]])  # a typo limited nothing, silently
def test_bad_flags_fail_in_one_line(tmp_path: Path, capsys, flags: list[str]) -> None:
    grid = write_grid(tmp_path, LM_BLOCK)
    assert main([str(grid), "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"longplay: error: invalid {flags[0]} ") and err.count("\n") == 1


@pytest.mark.parametrize("flags", [["--concurrency", "offline=0"], ["--max-dollars", "0"]])
def test_a_limit_that_would_start_nothing_fails_in_one_line(tmp_path: Path, capsys, flags: list[str]) -> None:
    """``offline=0`` would keep every offline cell waiting for a free slot forever (a sweep that spins and never
    ends); a $0 budget would start no LM cell. Both are refused before anything runs (``--dry-run`` included)."""
    grid = write_grid(tmp_path, LM_BLOCK)
    assert main([str(grid), "--out", str(tmp_path / "out"), "--dry-run", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"longplay: error: invalid {flags[0]} ") and err.count("\n") == 1


def test_a_bad_grid_fails_in_one_line(tmp_path: Path, capsys) -> None:
    grid = write_grid(tmp_path, LM_BLOCK.replace('models = ["offline"]', 'models = ["offline"]\nscaffold = "nosuch"'))
    assert main([str(grid), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "cell lm offline-explorer nosuch seed0" in err and err.count("\n") == 1


def test_dry_run_lists_cells_and_commands(tmp_path: Path, capsys) -> None:
    assert main([str(write_grid(tmp_path, LM_BLOCK)), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "2 cells" in text and text.count("longplay run --agent lm") == 2 and not (tmp_path / "out").exists()


def test_dry_run_shows_a_cell_of_a_dead_sweep_as_interrupted_as_the_sweep_does(tmp_path: Path, capsys) -> None:
    """--dry-run listed a cell whose sweep died as 'running' (its state file's word), where the sweep's own table
    shows it 'interrupted'; a cell is running only while a sweep holds the folder."""
    from longplay.agents.sweep.cells import state_path
    from longplay.agents.sweep.cli import _locked

    grid = write_grid(tmp_path, '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 20\n')
    out = tmp_path / "out"
    flags = ["--out", str(out), "--workers", "0", "--plain", "--no-plots"]
    assert main([str(grid), *flags]) == 0
    (cell,) = load_grid(grid).cells
    state = read_state(out, cell.id)
    state_path(out, cell.id).write_text(json.dumps({**state, "status": "running"}))  # as a killed sweep leaves it
    capsys.readouterr()
    assert main([str(grid), *flags, "--dry-run"]) == 0
    assert f"{cell.id}  interrupted {cell.name}" in capsys.readouterr().out
    with _locked(out):  # a sweep running in the folder: its cells are running
        assert main([str(grid), *flags, "--dry-run"]) == 0
    assert f"{cell.id}  running     {cell.name}" in capsys.readouterr().out
    assert main([str(grid), *flags, "--dry-run"]) == 0  # the look left the lock free
    assert "interrupted" in capsys.readouterr().out


def test_a_dry_runs_look_at_the_lock_does_not_turn_a_starting_sweep_away(tmp_path: Path) -> None:
    """--dry-run looks whether a sweep runs by taking the folder's lock shared for an instant; a sweep starting in
    that instant was refused ('another sweep is running'). It waits such an instant out; a sweep that holds the
    lock still turns it away."""
    import threading

    from longplay.agents.cli import CliError
    from longplay.agents.sweep.cli import _locked

    fcntl = pytest.importorskip("fcntl")
    (tmp_path / ".lock").touch()
    with open(tmp_path / ".lock") as look:
        fcntl.flock(look, fcntl.LOCK_SH)  # as _sweep_running takes it
        done_looking = threading.Timer(0.05, fcntl.flock, (look, fcntl.LOCK_UN))
        done_looking.start()
        try:
            with _locked(tmp_path):
                pass
        finally:
            done_looking.join()
    with _locked(tmp_path), pytest.raises(CliError, match="another sweep is running"), _locked(tmp_path):
        pass


def test_a_sweep_refused_the_lock_leaves_the_running_sweeps_pid(tmp_path: Path) -> None:
    """The lock file was opened with "w": a second sweep, refused the lock, had already emptied it of the pid the
    running sweep wrote there (what a user reads to find it). The pid is written, over the last one, once the
    lock is held."""
    import os

    from longplay.agents.cli import CliError
    from longplay.agents.sweep.cli import _locked

    pytest.importorskip("fcntl")
    (tmp_path / ".lock").write_text("12345\n")  # a sweep that ended
    with _locked(tmp_path):
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(CliError, match="another sweep is running"), _locked(tmp_path):
            pass
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"


def test_another_grid_into_a_sweeps_folder_is_refused_and_the_same_one_resumes(tmp_path: Path, capsys) -> None:
    """A different grid pointed at an existing sweep's folder replaced its grid.toml and ran its cells beside
    the old ones (whose spending the grid budget then forgot); it is refused now, in one line, while the same
    cells (comments, spacing and [limits] aside) still resume."""
    block = '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nseeds = [0, 1]\nsteps = 20\n'
    grid = write_grid(tmp_path, block)
    out = tmp_path / "out"
    flags = ["--out", str(out), "--workers", "0", "--plain", "--no-plots"]
    assert main([str(grid), *flags]) == 0
    kept = (out / "grid.toml").read_text()
    capsys.readouterr()
    other = tmp_path / "other.toml"
    other.write_text(block.replace("seeds = [0, 1]", "seeds = [0, 2]"))
    for extra in ([], ["--dry-run"]):
        assert main([str(other), *flags, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{out} holds a sweep of a different grid" in err
        assert "1 of its cells are not in" in err and "new folder (-o DIR)" in err
    assert (out / "grid.toml").read_text() == kept
    assert len(list((out / "cells").glob("*.json"))) == 2
    same = tmp_path / "same.toml"
    same.write_text("# the same cells, said otherwise\n[limits]\nworkers = 3\n\n"
                    + block.replace("seeds = [0, 1]", "seeds = { start = 0, count = 2 }   # two"))
    assert main([str(same), *flags]) == 0
    assert "2 cells (2 done)" in capsys.readouterr().out
    # More seeds extend the sweep: the two cells stay done, the new one runs.
    more = tmp_path / "more.toml"
    more.write_text(block.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    assert main([str(more), *flags]) == 0
    assert "3 cells (2 done)" in capsys.readouterr().out
    assert len(list((out / "cells").glob("*.json"))) == 3


def test_a_resumed_sweep_removes_the_partial_state_files_of_killed_writes(tmp_path: Path) -> None:
    """A sweep killed outright (SIGKILL) while a cell's state file was being written leaves the partial file in
    cells/, one per kill; nothing removed them. Run again, the sweep removes them (it holds the folder's lock)."""
    grid = write_grid(tmp_path, '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 20\n')
    out = tmp_path / "out"
    flags = ["--out", str(out), "--workers", "0", "--plain", "--no-plots"]
    assert main([str(grid), *flags]) == 0
    (state,) = (out / "cells").glob("*.json")
    left = [out / "cells" / f".partial-{state.name}.{token}.tmp" for token in ("0a1b2c3d", "9f8e7d6c")]
    kept = [out / "cells" / "notes.tmp", out / f".partial-{state.name}.0a1b2c3d.tmp"]  # not cells/'s partials
    for path in (*left, *kept):
        path.write_text("x")
    assert main([str(grid), *flags, "--dry-run"]) == 0 and all(p.exists() for p in left)  # a look changes nothing
    assert main([str(grid), *flags]) == 0
    assert not any(p.exists() for p in left) and all(p.exists() for p in kept)


KILLED_WRITING_SWEEP_JSON = """
import os, pathlib, signal

write_text = pathlib.Path.write_text

def killed_halfway(self, data, *args, **kwargs):
    if "sweep.json" in self.name:  # the sweep (or its partial file) half written, then SIGKILL
        write_text(self, data[: len(data) // 2], *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return write_text(self, data, *args, **kwargs)

pathlib.Path.write_text = killed_halfway
"""


def test_a_sweep_killed_writing_sweep_json_leaves_one_the_next_run_reads(tmp_path: Path, monkeypatch, capsys) -> None:
    """sweep.json was written in place: a sweep killed as it wrote it left half a file, and every later run of
    the grid refused the folder ('cannot read OUT/sweep.json'). It is written atomically now."""
    grid = write_grid(tmp_path, '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 20\n')
    out = tmp_path / "out"
    flags = ["--out", str(out), "--workers", "0", "--plain", "--no-plots"]
    assert main([str(grid), *flags]) == 0
    before = (out / "sweep.json").read_text()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILLED_WRITING_SWEEP_JSON)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))}
    killed = subprocess.run([sys.executable, "-m", "longplay.agents.sweep.cli", str(grid), *flags],
                            env=env, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (out / "sweep.json").read_text() == before
    capsys.readouterr()
    assert main([str(grid), *flags]) == 0
    assert "1 cells (1 done)" in capsys.readouterr().out
    assert not list(out.glob(".partial-*"))  # the killed write's partial file is removed


def test_the_grid_budget_stops_lm_cells_and_a_larger_one_continues_them(tmp_path: Path, capsys) -> None:
    # The offline model billed at a real model's prices: dollars without a network.
    grid = write_grid(tmp_path, LM_BLOCK.replace('models = ["offline"]', 'models = [{ provider = "offline", '
                                                 'price = "claude-sonnet-4-5" }]'))
    out = tmp_path / "out"
    assert main([str(grid), "--out", str(out), "--workers", "0", "--plain", "--no-plots", "--max-dollars", "0.1"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["status"] for r in rows] == ["budget", "budget"]
    turn = max(float(r["dollars"]) / int(r["turns"]) for r in rows)
    assert sum(float(r["dollars"]) for r in rows) <= 0.1 + 2 * 2 * turn  # at most a turn or so past each share
    assert all(int(r["steps"]) < 120 for r in rows)
    capsys.readouterr()

    assert main([str(grid), "--out", str(out), "--workers", "0", "--plain", "--no-plots", "--max-dollars", "10"]) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["status"], r["steps"]) for r in rows] == [("done", "120"), ("done", "120")]
    (cell,) = [c for c in load_grid(grid).cells if c.seed == 0]
    reference = tmp_path / "reference"
    execute_cell(cell, reference)
    assert replay_actions(out, read_state(out, cell.id)) == replay_actions(reference, read_state(reference, cell.id))


def test_ray_missing_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main([str(write_grid(tmp_path, LM_BLOCK)), "--out", str(tmp_path / "out"), "--ray"]) == 2
    assert capsys.readouterr().err == "longplay: error: --ray needs Ray: pip install 'longplay[distributed]'\n"


@pytest.mark.parametrize("kind", ["run", "train"])
def test_a_cell_stopped_by_an_exception_keeps_what_it_recorded(kind: str, tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C or a crash after a cell had recorded steps: its row had no replay and 0 steps."""
    import longplay.agents.sweep.cells as cells

    block = ('[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 60\n' if kind == "run" else
             '[[train]]\nenv = "QuestMini-v0"\nlearner = "ppo-device"\ntotal_steps = 64\nnum_envs = 4\n'
             'n_steps = 16\nn_minibatches = 2\nn_epochs = 1\n')
    (cell,) = load_grid(write_grid(tmp_path, block)).cells
    real = cells._execute_run if kind == "run" else cells._execute_train

    def stopped(*args, **kwargs):
        real(*args, **kwargs)  # the run records its steps, then Ctrl-C arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(cells, "_execute_run" if kind == "run" else "_execute_train", stopped)
    out = tmp_path / "out"
    result = execute_cell(cell, out)
    assert result.status == "interrupted"
    steps = "steps" if kind == "run" else "train_steps"
    assert getattr(result, steps) == (60 if kind == "run" else 64)
    state = read_state(out, cell.id)
    assert state[steps] == getattr(result, steps)
    if kind == "run":
        assert state["replay"] and (out / state["replay"]).exists()


def test_a_train_cells_steps_are_its_evaluation_replays_and_its_training_steps_a_column_of_their_own(
        tmp_path: Path, capsys) -> None:
    """A train cell's 'steps' were its training steps (32) beside milestones and a chart from its evaluation replay
    (20 steps); now steps are the replay's in every row, and train_steps the training's."""
    grid = write_grid(tmp_path, '[[train]]\nenv = "QuestMini-v0"\nlearner = "ppo-device"\ntotal_steps = 32\n'
                                'num_envs = 2\nn_steps = 16\nn_minibatches = 2\nn_epochs = 1\neval_steps = 20\n'
                                '\n[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 10\n')
    out = tmp_path / "out"
    assert main([str(grid), "--out", str(out), "--workers", "0", "--plain", "--no-plots"]) == 0
    assert "milestones, 32 training steps" in capsys.readouterr().out
    rows = {r["kind"]: r for r in csv.DictReader(open(out / "results.csv"))}
    with ReplayReader(out / rows["train"]["replay"]) as replay:
        recorded = sum(e.recorded_steps for e in replay.episodes())
    assert (rows["train"]["steps"], rows["train"]["train_steps"]) == (str(recorded), "32") and recorded <= 20
    assert (rows["run"]["steps"], rows["run"]["train_steps"]) == ("10", "")
    md = (out / "results.md").read_text()
    assert "| last_milestone | steps | train_steps | turns |" in md and "*train_steps*: env steps it trained" in md


def test_a_train_cell_run_again_resumes_its_run_and_reads_its_steps_from_the_newest_checkpoint(
        tmp_path: Path) -> None:
    """A train cell whose run folder holds a checkpoint resumes it (``--resume``) rather than starting afresh in a
    cleared folder; never evaluated, its training steps are its newest checkpoint's."""
    (cell,) = load_grid(write_grid(tmp_path, '[[train]]\nenv = "QuestMini-v0"\nlearner = "ppo-device"\n'
                                              'total_steps = 32\nnum_envs = 2\nn_steps = 16\nn_minibatches = 2\n'
                                              'n_epochs = 1\neval_every = -1\n')).cells
    out = tmp_path / "out"
    first = execute_cell(cell, out)
    assert first.status == "done" and first.train_steps == 32 and "--resume" not in first.command
    again = execute_cell(cell, out)
    assert again.status == "done" and again.train_steps == 32
    assert again.command.startswith("longplay train --resume ") and cell.run_name in again.command


def test_a_train_cells_state_from_before_train_steps_reads_its_steps_as_training_steps(tmp_path: Path) -> None:
    """A train cell's state written before train_steps holds its training steps in 'steps': the results table read
    them so, but the live table (and the scheduler's copy of a cell's numbers) took them for env steps, so a
    resumed old sweep showed 0 training steps for its done train cells. They are read so where state is read."""
    from longplay.agents.sweep.cells import state_path
    from longplay.agents.sweep.progress import row_from_state
    from longplay.agents.sweep.results import result_rows

    (cell,) = load_grid(write_grid(tmp_path, '[[train]]\nenv = "QuestMini-v0"\ntotal_steps = 64\n')).cells
    out = tmp_path / "out"
    state_path(out, cell.id).parent.mkdir(parents=True)
    state_path(out, cell.id).write_text(json.dumps({"cell": cell.to_dict(), "status": "done", "steps": 64}))
    state = read_state(out, cell.id)
    assert state["train_steps"] == 64 and "steps" not in state  # its replay's steps were never recorded
    assert row_from_state(cell, state).shown_steps == 64
    (row,) = result_rows([cell], {cell.id: state})
    assert (row["steps"], row["train_steps"]) == ("", 64)


def test_a_cells_catalog_counts_every_world_its_episodes_played(tmp_path: Path) -> None:
    """A cell's milestones are those of all its episodes; on longplay/Quest-v0 each episode plays its own world,
    so they are counted against the milestones of every world played, not the first episode's catalog alone."""
    import gymnasium as gym

    from longplay.agents.sweep.cells import CellResult, _fill_from_replay
    from longplay.replays.recorder import Recorder

    path = tmp_path / "run.lpr"
    with Recorder(gym.make("longplay/Quest-v0"), path, agent="random") as rec:
        for seed in (1, 2):
            rec.reset(seed=seed)
            for action in range(10):
                rec.step(action % 8)
    result = CellResult("cell", "done")
    _fill_from_replay(result, path, tmp_path)
    with ReplayReader(path) as reader:
        worlds = [{m["id"] for m in reader.catalog(e)} for e in (0, 1)]
    assert worlds[0] != worlds[1] and result.catalog == len(worlds[0] | worlds[1])


def test_execute_cell_adds_its_attempt_to_the_seconds_of_the_earlier_ones(tmp_path: Path, monkeypatch) -> None:
    """The state file's ``seconds`` is what every attempt of the cell took together, and the ``running`` state of
    an attempt keeps what the earlier ones took (a sweep killed outright leaves it so)."""
    import longplay.agents.sweep.cells as cells
    from longplay.agents.sweep.cells import CellResult, write_state

    (cell,) = load_grid(write_grid(tmp_path, '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 20\n')).cells
    out = tmp_path / "out"
    write_state(out, cell, CellResult(cell.id, "interrupted", seconds=1000.0), attempts=1)
    real = cells._execute_run
    while_running = {}

    def watched(*args, **kwargs):
        while_running.update(read_state(out, cell.id))
        return real(*args, **kwargs)

    monkeypatch.setattr(cells, "_execute_run", watched)
    result = execute_cell(cell, out)
    assert while_running["status"] == "running" and while_running["seconds"] == 1000.0
    state = read_state(out, cell.id)
    assert 0 < result.seconds < 60 and state["seconds"] == pytest.approx(1000.0 + result.seconds)
    assert state["attempts"] == 2


def test_the_chart_keeps_a_closed_episode_of_no_steps_and_leaves_out_a_killed_one(
        tmp_path: Path, as_killed: Callable[..., None]) -> None:
    """The sweep's chart left out every episode with no steps and no milestones, one its run closed at step 0 (an
    LM run whose budget ran out before its first press) included, where ``longplay compare`` over the same replays
    counts it; both now share compare's rule: only a killed run's episode of no recorded step is left out."""
    import gymnasium as gym

    from longplay.agents.sweep.results import write_comparison
    from longplay.replays.recorder import Recorder

    out = tmp_path / "out"
    out.mkdir()
    for name in ("closed", "killed"):
        with Recorder(gym.make("longplay/QuestMini-v0"), out / f"{name}.lpr", env_id="QuestMini-v0",
                      agent="explorer") as rec:
            rec.reset(seed=0)
            rec.step(0)
            rec.reset(seed=1)  # the run stopped here: an episode of no step
    as_killed(out / "killed.lpr")  # what the file of a run killed before episode 1's first commit holds
    cells = [Cell("run", "longplay/QuestMini-v0", seed, "explorer", label=name)
             for seed, name in enumerate(("closed", "killed"))]
    states = {cell.id: {"replay": f"{cell.label}.lpr"} for cell in cells}
    _, notes = write_comparison(cells, states, out / "compare", plots=False)
    summary = json.loads((out / "compare" / "summary.json").read_text())
    assert {g["group"]: g["runs"] for g in summary["groups"]} == {"closed": 2, "killed": 1}
    assert notes == [f"{out / 'killed.lpr'}: left out episode 1: it holds no recorded step (the run was killed, or "
                     "is still being recorded)"]


def test_the_heartbeat_leaves_a_cell_the_scheduler_gave_up(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C twice records the running cells "interrupted" (abandoned) at once; a worker not yet dead rewrote
    "running" at its next heartbeat, and the cell looked as if it still ran. The heartbeat writes only while the
    state is its own attempt's, "running"."""
    import longplay.agents.sweep.cells as cells
    from longplay.agents.sweep.cells import CellResult, write_state

    grid = write_grid(tmp_path, '[[run]]\nenv = "QuestMini-v0"\nagent = "random"\nsteps = 10\n')
    (cell,) = load_grid(grid).cells
    out = tmp_path / "out"
    seen = []

    def abandoned_under_it(*args) -> CellResult:
        assert read_state(out, cell.id)["status"] == "running"
        write_state(out, cell, CellResult(cell.id, "interrupted", error="abandoned (Ctrl-C twice)"))
        time.sleep(0.3)  # several heartbeats
        seen.append(read_state(out, cell.id)["status"])
        return CellResult(cell.id, "interrupted", error="interrupted")

    monkeypatch.setattr(cells, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(cells, "_execute_run", abandoned_under_it)
    execute_cell(cell, out)
    assert seen == ["interrupted"]


def test_a_cell_counts_its_turns_as_compare_and_the_viewer_do(tmp_path: Path) -> None:
    """The sweep kept its own rule for an agent's turn, which read a row with ``"kind": null`` as no turn where
    compare and the viewer (``is_agent_turn``) count it."""
    import gymnasium as gym

    from longplay.agents.sweep.cells import CellResult, _fill_from_replay
    from longplay.replays.reader import is_agent_turn
    from longplay.replays.recorder import Recorder

    path = tmp_path / "run.lpr"
    with Recorder(gym.make("longplay/QuestMini-v0"), path, agent="lm") as rec:
        rec.reset(seed=0)
        for extra in (None, {"kind": None}, {"kind": "act"}, {"kind": "summary"}, {"kind": "refused"}):
            rec.log_turn(response="", tokens_in=1, extra=extra)
    result = CellResult("cell", "done")
    _fill_from_replay(result, path, tmp_path)
    with ReplayReader(path) as reader:
        assert result.turns == sum(is_agent_turn(t) for t in reader.turns()) == 3
