"""The live table: rendering, plain lines off a terminal, redraws on one."""

from __future__ import annotations

import io

from longplay.agents.sweep.cells import Cell
from longplay.agents.sweep.grid import Limits
from longplay.agents.sweep.progress import ProgressTable, Row, render_table, row_from_state, totals_line


def cells() -> list[Cell]:
    return [Cell("run", "longplay/QuestMini-v0", s, "lm", lm={"provider": "offline"}, label="lm offline minimal")
            for s in range(3)]


def test_render_puts_running_cells_first_and_fits_the_height() -> None:
    rows = [Row("a seed0", "done", steps=10, milestones=2, catalog=7), Row("a seed1", "running", tokens=12345),
            Row("a seed2", "failed", note="boom"), Row("a seed3")]
    lines = render_table(rows, "header", width=100)
    assert lines[0] == "header" and lines[2].startswith("a seed1") and "12,345" in lines[2]
    assert "2/7" in lines[-1] and "boom" in lines[3]
    short = render_table(rows, "header", width=100, height=5)
    assert len(short) == 5 and short[-1] == "... and 2 more"


def test_a_running_cells_time_adds_its_earlier_attempts() -> None:
    """A resumed cell's time is its earlier attempts' (90 s) and this one's so far, not this attempt's alone; a
    minute reads 1m00s."""
    import time

    row = Row("a seed0", "running", seconds=90.0, started=time.time() - 30)
    (line,) = render_table([row], "header", width=100)[2:]
    assert "2m00s" in line or "2m01s" in line, line
    (line,) = render_table([Row("a seed0", "done", seconds=60.0)], "header", width=100)[2:]
    assert "1m00s" in line, line


def test_totals_line_shows_the_budget() -> None:
    rows = [Row("a", "done", tokens=1500, dollars=0.25), Row("b", "running", tokens=500)]
    text = totals_line(rows, Limits(max_tokens=10_000, max_dollars=2.0))
    assert text.startswith("2 cells: 1 running, 1 done")
    assert "2,000 tokens of 10,000" in text and "$0.2500 of $2" in text


def test_a_stale_running_state_shows_as_interrupted() -> None:
    assert row_from_state(cells()[0], {"status": "running"}).status == "interrupted"
    assert row_from_state(cells()[0], None).status == "pending"


def test_plain_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    table = ProgressTable(cells(), {}, stream=stream, tty=False)
    first = cells()[0].id
    table.update(first, status="running")
    table.update(first, steps=50)  # no status change: no line
    table.update(first, status="done", steps=100, milestones=2, catalog=7, tokens=900, seconds=1.5)
    table.refresh()
    table.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[0/3] running     lm offline minimal seed0"
    assert lines[1] == ("[1/3] done        lm offline minimal seed0: 2/7 milestones, 100 steps, 900 tokens, "
                        "$0.0000, 1.5s")
    assert lines[2].startswith("3 cells: 2 pending, 1 done")


def test_a_cell_resumed_after_its_worker_died_is_counted_once() -> None:
    stream = io.StringIO()
    table = ProgressTable(cells(), {}, stream=stream, tty=False)
    ids = [c.id for c in cells()]
    table.update(ids[0], status="running")
    table.update(ids[0], status="interrupted", note="worker died, resuming")
    table.update(ids[0], status="running")
    for cell_id in ids:
        table.update(cell_id, status="running")
        table.update(cell_id, status="done")
    assert stream.getvalue().splitlines()[-1].startswith("[3/3] done")  # it read [4/3]


def test_redraws_in_place_on_a_terminal() -> None:
    stream = io.StringIO()
    table = ProgressTable(cells(), {}, stream=stream, tty=True)
    table.refresh(force=True)
    table.update(cells()[1].id, status="running")
    table.refresh(force=True)
    text = stream.getvalue()
    assert text.count("\x1b[J") == 2 and "\x1b[5F" in text  # moved up over the 5 lines drawn before


def test_live_progress_reads_a_training_cells_last_step_and_an_lm_cells_every_token(tmp_path, monkeypatch) -> None:
    """A training cell's progress is the last step its metrics logged, not the first; an LM cell's tokens count
    cache reads and writes too, as its budget does (the grid's budget of a sweep that died is rebuilt from them)."""
    import json

    from longplay.agents.lm import checkpoint
    from longplay.agents.sweep.cells import cell_dir
    from longplay.agents.sweep.progress import live_progress

    train = Cell("train", "longplay/QuestMini-v0", 0, "ppo", label="ppo")
    run_dir = cell_dir(tmp_path, train.id) / "train" / train.run_name
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (64, 128, 192)))
    assert live_progress(train, tmp_path) == {"train_steps": 192}

    lm = cells()[0]
    cell_dir(tmp_path, lm.id).mkdir(parents=True)
    (cell_dir(tmp_path, lm.id) / "run.ckpt").write_text("{}")
    counters = {"tokens_in": 100, "tokens_out": 20, "tokens_cache_read": 300, "tokens_cache_write": 5,
                "dollars": 0.5}
    monkeypatch.setattr(checkpoint, "load_checkpoint",
                        lambda path: {"steps": 7, "run": {"counters": counters, "milestones": {"left_house": 3}}})
    assert live_progress(lm, tmp_path) == {"steps": 7, "milestones": 1, "tokens": 425, "dollars": 0.5}
