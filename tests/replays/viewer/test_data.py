"""The viewer's pure data functions and the folder's caches, without HTTP."""

from __future__ import annotations

import dataclasses
import math
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from longplay.agents.lm.config import LMConfig, ProviderConfig
from longplay.replays.compare import RECORDING_QUIET_S, ProgressEvent, RunProgress, compare_impl, write_outputs
from longplay.replays.reader import MemorySnapshot, ReplayReader, Turn
from longplay.replays.recorder import Recorder
from longplay.replays.viewer.data import (
    COMPARE_BOOT,
    MemoryIndex,
    TurnIndex,
    card_components,
    compare_data_impl,
    comparison_marks,
    finite,
    memory_at_impl,
    run_impl,
    run_list_impl,
    run_summary_impl,
    trajectory_impl,
    turns_at_impl,
)
from longplay.replays.viewer.folder import ReplayFolder


def _turn(turn: int, step: int, tokens: int = 10, cost: float = 0.5, kind: str | None = "act") -> Turn:
    return Turn(turn, 0, step, 0.0, None, f"turn {turn}", None, tokens, 0, 0, 0, cost, None, None, {"kind": kind})


def test_turn_in_force_and_spending() -> None:
    index = TurnIndex.build([_turn(4, 25), _turn(1, 3), _turn(2, 10), _turn(3, 10)])
    none = turns_at_impl(index, 2)
    assert none["turns"] == [] and none["next_step"] == 3 and none["spent"]["turns"] == 0
    at5 = turns_at_impl(index, 5)
    assert [t["turn"] for t in at5["turns"]] == [1] and (at5["prev_step"], at5["next_step"]) == (None, 10)
    at10 = turns_at_impl(index, 10)  # two turns started at step 10 (e.g. a critic and an act turn)
    assert [t["turn"] for t in at10["turns"]] == [2, 3] and at10["spent"] == {"turns": 3, "tokens": 30.0,
                                                                              "cost_usd": 1.5}
    assert (at10["prev_step"], at10["next_step"]) == (3, 25)
    at99 = turns_at_impl(index, 99)
    assert [t["turn"] for t in at99["turns"]] == [4] and at99["next_step"] is None


def test_scaffold_calls_and_lost_calls_count_in_spending_not_in_turns() -> None:
    # a summary's call, the row holding what a crash's lost calls cost, and an act turn without a kind (an
    # older replay): two turns played, four rows of spending
    index = TurnIndex.build([_turn(1, 3), _turn(2, 3, kind="summary"), _turn(3, 8, kind="discarded"),
                             _turn(4, 8, kind=None)])
    assert turns_at_impl(index, 5)["spent"] == {"turns": 1, "tokens": 20.0, "cost_usd": 1.0}
    assert turns_at_impl(index, 9)["spent"] == {"turns": 2, "tokens": 40.0, "cost_usd": 2.0}


def test_a_runs_turn_count_is_its_agent_turns(tmp_path: Path, fakegame: Any) -> None:
    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "lm.lpr", agent="lm") as rec:
        rec.reset(seed=0)
        for kind in ["act", "summary", "act", "critic", "discarded", "act"]:
            rec.log_turn(response="", tokens_in=100, cost_usd=0.25, extra={"kind": kind})
            rec.step(0)
    with ReplayReader(tmp_path / "lm.lpr") as reader:
        summary = run_summary_impl(reader, "lm.lpr")
    assert (summary["turns"], summary["tokens"], summary["cost_usd"]) == (3, 600, 1.5)


def test_memory_as_it_stood() -> None:
    snaps = [MemorySnapshot(1, 0, 5, 0.0, "goals", {"stack": ["a"]}, None),
             MemorySnapshot(2, 0, 0, 0.0, "notes", "first", None),
             MemorySnapshot(3, 0, 9, 0.0, "notes", "second", {"turn": 3}),
             MemorySnapshot(4, 0, 7, 0.0, "extra", "x", None)]
    index = MemoryIndex.build(snaps, card_components([{"name": "notes"}, {"name": "goals"}]))
    assert [m["name"] for m in memory_at_impl(index, 100)] == ["notes", "goals", "extra"]
    at6 = {m["name"]: m for m in memory_at_impl(index, 6)}
    assert set(at6) == {"notes", "goals"} and at6["notes"]["content"] == "first" and at6["goals"]["format"] == "json"
    assert memory_at_impl(index, 9)[0] == {"name": "notes", "step": 9, "t": 0.0, "updates": 2, "format": "text",
                                           "content": "second", "extra": {"turn": 3}}
    assert card_components({"components": [{"name": "window"}]}) == ["window"] and card_components(None) == []


def test_finite_makes_json_browsers_parse() -> None:
    assert finite({"a": math.inf, "b": [1.0, math.nan, {"c": -math.inf}], 2: "x"}) == {"a": None, "b": [1.0, None,
                                                                                                    {"c": None}],
                                                                                          "2": "x"}


def test_trajectory_matches_the_readers(viewer_runs: Any) -> None:
    with ReplayReader(viewer_runs.root / "fake-multi.lpr") as reader:
        for episode in (0, 1):
            expected = reader.trajectory(episode)
            data = trajectory_impl(reader.header, reader.episode(episode), reader.reset_options(episode),
                                   reader.actions(episode))
            points = data["points"]
            index = np.searchsorted(points["step"], np.arange(len(expected)), side="right") - 1
            got = np.stack([np.asarray(points[k])[index] for k in ("map", "x", "y")], axis=1)
            assert np.array_equal(got, expected)
            assert {a["map_id"] for a in data["areas"]} == set(expected[:, 0].tolist())
            for area in data["areas"]:
                x0, y0, x1, y1 = area["bounds"]
                assert 0 <= x0 <= x1 < 16 and 0 <= y0 <= y1 < 16 and area["name"] == f"map{area['map_id']}"


def test_run_impl_of_a_quest_run(viewer_runs: Any) -> None:
    with ReplayReader(viewer_runs.root / "sub" / "quest-oracle.lpr") as reader:
        run = run_impl(reader, "sub/quest-oracle.lpr")
    (episode,) = run["episodes"]
    assert not run["has_turns"] and not run["has_memory"] and episode["keyframes"][0] == 0
    steps = [m["step"] for m in episode["milestones"]]
    assert len(steps) >= 2 and steps == sorted(steps) and all(m["name"] for m in episode["milestones"])


def test_folder_lists_a_run_still_recording_and_notices_changes(tmp_path: Path, recording: Any,
                                                                viewer_runs: Any) -> None:
    rec = recording(tmp_path / "live.lpr", 40, commit_seconds=0.0)
    try:
        folder = ReplayFolder(tmp_path)
        (row,) = folder.list_runs()["runs"]
        assert row["status"] == "recording" and row["steps"] == 40
        with folder.open("live.lpr") as run:
            assert run.reader.num_steps() == 40
        for _ in range(30):
            rec.step(1)
        rec.flush()
        (row,) = folder.list_runs()["runs"]  # the file changed: the row is read again
        assert row["steps"] == 70
        with folder.open("live.lpr") as run:
            assert run.reader.num_steps() == 70
    finally:
        rec.close()
    shutil.copyfile(viewer_runs.root / "fake-random-1.lpr", tmp_path / "live.lpr")
    (row,) = folder.list_runs()["runs"]
    assert row["steps"] == 80 and row["status"] == "closed"
    folder.close()


def test_folder_keeps_few_replays_open(viewer_runs: Any) -> None:
    folder = ReplayFolder(viewer_runs.root, max_open=2)
    for run_id in ("fake-random-0.lpr", "fake-random-1.lpr", "fake-lm.lpr", "fake-random-0.lpr"):
        with folder.open(run_id) as run:
            assert run.reader.num_steps() > 0
    assert list(folder._open) == ["fake-lm.lpr", "fake-random-0.lpr"]
    folder.close()


def test_seeker_matches_the_reader_in_any_order(viewer_runs: Any) -> None:
    from longplay.replays.viewer.data import walk_episode
    from longplay.replays.viewer.seeker import EpisodeSeeker

    for name, episode in (("sub/quest-oracle.lpr", 0), ("fake-multi.lpr", 1)):
        with ReplayReader(viewer_runs.root / name) as reader, ReplayReader(viewer_runs.root / name) as mine:
            seeker = EpisodeSeeker(mine, episode, every=16)
            last = reader.num_steps(episode)
            steps = [last, 0, 17, 16, 15, last // 2, 3, last - 1, 100 % (last + 1), 31, 32, 33]
            for step in steps:
                assert np.array_equal(seeker.seek(step).frame(), reader.frame_at(step, episode)), (name, step)
            assert seeker._waypoint_steps and all(s % 16 == 0 for s in seeker._waypoint_steps)
            _, waypoints = walk_episode(reader.header, reader.episode(episode), reader.reset_options(episode),
                                        reader.actions(episode),
                                        waypoint_every=8)
            fresh = EpisodeSeeker(mine, episode, every=8)
            fresh.add_waypoints(waypoints)
            for step in reversed(steps):
                assert fresh.seek(step).state() == reader.game_state_at(step, episode), (name, step)
            seeker.close()
            fresh.close()


def test_seeking_walks_from_the_nearest_keyframe_or_from_where_the_game_is(tmp_path: Path) -> None:
    """seeker.py's docstring: a step is reached from the last keyframe at or before it, the nearest waypoint or
    where the game already is, whichever is nearest: a keyframe's own step costs no press, the next step one."""
    from longplay.replays.viewer.seeker import EpisodeSeeker

    path = tmp_path / "keyframes.lpr"
    rng = np.random.default_rng(0)
    with Recorder(gym.make("longplay/QuestMini-v0"), path, agent="random", keyframe_every=32) as rec:
        rec.reset(seed=0)
        for _ in range(100):
            rec.step(int(rng.integers(0, 8)))
    with ReplayReader(path) as reader, ReplayReader(path) as mine:
        assert list(reader.keyframe_steps(0)) == [0, 32, 64, 96]
        seeker = EpisodeSeeker(mine, 0, every=16)
        presses = []
        real_press = seeker.game.press
        seeker.game.press = lambda button: (presses.append(button), real_press(button))[1]  # type: ignore[method-assign]
        for step, cost in ((64, 0), (70, 6), (71, 1), (96, 0), (40, 8), (33, 1)):
            presses.clear()
            assert np.array_equal(seeker.seek(step).frame(), reader.frame_at(step, 0)), step
            assert len(presses) == cost, (step, len(presses))
        seeker.close()


def test_a_run_from_a_save_state_names_its_state(compare_runs: Any) -> None:
    """The run list and the run page said nothing of a run that started from a save state (its milestones at
    step 0 looked like a fast start): both carry the state's SHA-256, as compare's groups do."""
    digest = compare_runs.state_digest
    with ReplayReader(compare_runs.root / "quest-explorer-state-0.lpr") as reader:
        assert run_summary_impl(reader, "s.lpr")["start_states"] == [digest]
        assert [e["start_state"] for e in run_impl(reader, "s.lpr")["episodes"]] == [digest]
    with ReplayReader(compare_runs.root / "quest-explorer-0.lpr") as reader:
        assert run_summary_impl(reader, "e.lpr")["start_states"] == []
        assert [e["start_state"] for e in run_impl(reader, "e.lpr")["episodes"]] == [None]


def test_milestones_of_one_step_are_in_catalog_order(compare_runs: Any) -> None:
    """A run from a save state holds the state's milestones at step 0; the run page listed them in the
    file's order ("Won a wild battle" before "Got a partner"), not the catalog's."""
    with ReplayReader(compare_runs.root / "quest-explorer-state-0.lpr") as reader:
        catalog = [m["id"] for m in reader.catalog(0)]
        run = run_impl(reader, "s.lpr")
    reached = [(m["step"], catalog.index(m["id"])) for m in run["episodes"][0]["milestones"]]
    assert len([s for s, _ in reached if s == 0]) >= 2 and reached == sorted(reached)


def _timed_run(name: str, group: str, reached: dict[str, float], end: float) -> RunProgress:
    """A hand-made run of a two-milestone world: milestone -> when reached, as steps and as seconds; stopped at
    ``end`` on both axes."""
    events = tuple(ProgressEvent(m, int(t), t, None, None) for m, t in reached.items())
    return RunProgress(name, f"{name}.lpr", 0, group, 0, "longplay/Quest-v0", ("a", "b"), {"a": "A", "b": "B"},
                       events, {"steps": end, "wall": end}, ("steps", "wall"), True, False)


def test_the_page_gets_the_median_curve_and_band_the_png_draws(monkeypatch: Any, tmp_path: Path) -> None:
    """The comparison page computed each configuration's median curve and band in app.js, `longplay compare`'s PNG
    in Python, and they parted at the horizon: where a median lay past the group's longest run (here its 2nd
    milestone, stamped 0.5 s after its runs' end at 100 s), the page dropped that step and the PNG drew it. Both now
    draw the points of one function: /api/compare sends, per group and axis, the vertices the PNG plots."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    runs = [_timed_run("late0", "late", {"a": 10.0, "b": 100.5}, 100.0),
            _timed_run("late1", "late", {"a": 20.0, "b": 100.5}, 100.0),
            _timed_run("late2", "late", {"a": 30.0}, 100.0),
            _timed_run("fast0", "fast", {"a": 5.0, "b": 40.0}, 60.0),
            _timed_run("fast1", "fast", {"a": 7.5}, 80.0)]
    data = compare_data_impl([(r.path, r) for r in runs])
    figures: list[Any] = []
    bands: list[tuple[Any, ...]] = []
    fill_between = Axes.fill_between
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    monkeypatch.setattr(Axes, "fill_between", lambda self, x, y1, y2, **k: (bands.append((x, y1, y2, k["color"])),
                                                                             fill_between(self, x, y1, y2, **k))[1])
    write_outputs(compare_impl(runs, n_boot=COMPARE_BOOT), runs, tmp_path)
    assert len(figures) == 2  # steps, wall
    late = next(g for g in data["groups"] if g["group"] == "late")
    assert late["median_band"]["wall"]["x"][-1] == 100.5 and late["median_band"]["wall"]["median"][-1] == 2
    for figure, axis in zip(figures, ("steps", "wall"), strict=True):
        ax = figure.axes[0]
        lines = {line.get_label().split(" (")[0]: line for line in ax.get_lines()
                 if not line.get_label().startswith("_")}
        drawn = {color: (list(x), list(y1), list(y2)) for x, y1, y2, color in bands[:2]}
        del bands[:2]
        for group in data["groups"]:
            sent = group["median_band"][axis]
            line = lines[group["group"]]
            assert (list(line.get_xdata()), list(line.get_ydata())) == (sent["x"], sent["median"])
            assert drawn[line.get_color()] == (sent["x"], sent["lower"], sent["upper"])


def test_the_comparison_says_which_runs_stopped_before_their_budget(compare_runs: Any) -> None:
    """A run stopped by Ctrl+C sat in its configuration like one that used its budget: the comparison's runs say
    which stopped early (None: the replay records no budget) and its groups how many."""
    folder = ReplayFolder(compare_runs.root)
    try:
        data = folder.comparison(["quest-explorer-0.lpr", "quest-explorer-2.lpr", "quest-explorer-killed.lpr",
                                  "quest-oracle.lpr"])
    finally:
        folder.close()
    assert {r["id"]: r["stopped_early"] for r in data["runs"]} == {
        "quest-explorer-0.lpr": False, "quest-explorer-2.lpr": True, "quest-explorer-killed.lpr": None,
        "quest-oracle.lpr": None}
    assert {g["group"]: g["stopped_early_runs"] for g in data["groups"]} == {"explorer": 1, "oracle": 0}


def test_the_run_page_gives_the_budget_and_whether_the_run_stopped_before_it(compare_runs: Any) -> None:
    """The run page said neither what budget a run had nor that it stopped before using it (the comparison did):
    ``run_impl`` gives the header's budget and marks a run stopped early or killed by compare's own rule."""
    expected = {  # name: (budget, stopped_early, killed)
        "quest-explorer-0.lpr": ({"steps": 1500}, False, False),
        "quest-explorer-2.lpr": ({"steps": 3000}, True, False),
        "quest-explorer-killed.lpr": (None, None, True),
        "quest-oracle.lpr": (None, None, False),
    }
    for name, (budget, stopped_early, killed) in expected.items():
        with ReplayReader(compare_runs.root / name) as reader:
            run = run_impl(reader, name)
        assert (run["header"]["budget"], run["stopped_early"], run["killed"]) == (budget, stopped_early, killed), name
    folder = ReplayFolder(compare_runs.root)
    try:  # the same verdict as the comparison's
        compared = {r["id"]: r["stopped_early"] for r in folder.comparison(list(expected))["runs"]}
    finally:
        folder.close()
    assert compared == {name: stopped for name, (_, stopped, _) in expected.items()}


def test_the_run_list_gives_each_runs_budget_and_marks_as_its_run_page_does(compare_runs: Any) -> None:
    """The run list said nothing of a run's budget nor that it stopped before it or was killed (only its run page
    and the comparison did): each row gives the header's budget and the run page's two marks."""
    folder = ReplayFolder(compare_runs.root)
    try:
        rows = {row["id"]: row for row in folder.list_runs()["runs"]}
    finally:
        folder.close()
    assert {name: (row["budget"], row["stopped_early"], row["killed"]) for name, row in rows.items()
            if name.startswith("quest-explorer-") and "state" not in name or name == "quest-oracle.lpr"} == {
        "quest-explorer-0.lpr": ({"steps": 1500}, False, False),
        "quest-explorer-1.lpr": ({"steps": 1500}, False, False),
        "quest-explorer-2.lpr": ({"steps": 3000}, True, False),
        "quest-explorer-killed.lpr": (None, None, True),
        "quest-oracle.lpr": (None, None, False),
    }
    for name, row in rows.items():
        with ReplayReader(compare_runs.root / name) as reader:
            run = run_impl(reader, name)
        assert (row["budget"], row["stopped_early"], row["killed"]) == (
            run["header"]["budget"], run["stopped_early"], run["killed"]), name


def test_the_run_list_sums_turns_without_reading_each(viewer_runs: Any, monkeypatch: Any) -> None:
    """A row decoded every turn's JSON to count and sum them (50 ms a replay of 4,000 turns: a folder of 300 LM
    runs took half a minute to list): the row's turns, tokens and dollars come from ``ReplayReader.spending``."""
    with ReplayReader(viewer_runs.root / viewer_runs.ids["lm"]) as reader:
        expected = run_summary_impl(reader, "lm")

    def no_turns(self: ReplayReader, episode: int | None = None) -> list[Turn]:
        raise AssertionError("the run list decoded every turn")

    monkeypatch.setattr(ReplayReader, "turns", no_turns)
    folder = ReplayFolder(viewer_runs.root)
    try:
        rows = {row["id"]: row for row in folder.list_runs()["runs"]}
    finally:
        folder.close()
    row = rows[viewer_runs.ids["lm"]]
    assert (row["turns"], row["tokens"], row["cost_usd"], row["stopped_early"]) == (
        expected["turns"], expected["tokens"], expected["cost_usd"], expected["stopped_early"])
    assert row["turns"] == 15 and row["cost_usd"] == pytest.approx(0.031)


def test_two_readings_of_the_run_list_read_each_replay_once(viewer_runs: Any, monkeypatch: Any) -> None:
    """The server's warm-up and the first page opened both read the run list, and each read every replay beside the
    other (a folder of 300 LM runs listed in 4.3 s, not 1.5 s): the second waits for the first's rows."""
    import threading
    import time

    import longplay.replays.viewer.folder as folder_module

    reads: list[str] = []
    summary = folder_module.run_summary_impl

    def slow_summary(reader: ReplayReader, run_id: str, **kwargs: Any) -> dict[str, Any]:
        reads.append(run_id)
        time.sleep(0.02)
        return summary(reader, run_id, **kwargs)

    monkeypatch.setattr(folder_module, "run_summary_impl", slow_summary)
    folder = ReplayFolder(viewer_runs.root)
    try:
        threads = [threading.Thread(target=folder.list_runs) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(reads) == sorted(set(reads)) and len(reads) == len(folder.list_runs()["runs"])
    finally:
        folder.close()


def test_a_run_before_its_first_reset_is_recording_or_killed_not_complete(tmp_path: Path, fakegame: Any) -> None:
    """A run whose header is written and no episode yet (an LM run waiting on its first call) showed as a finished
    0-step run: every one of its no episodes was closed. Its last commit decides recording or killed; a recorder
    closed before any reset is complete."""
    rec = Recorder(gym.make(fakegame.ENV_ID), tmp_path / "starting.lpr", agent="lm")
    try:
        with ReplayReader(tmp_path / "starting.lpr") as reader:
            run = run_impl(reader, "starting.lpr")
            (row,) = run_list_impl("runs", [run_summary_impl(reader, "starting.lpr")], [])["runs"]
        assert (run["complete"], run["recording"], run["killed"]) == (False, True, False)
        assert (row["complete"], row["recording"], row["killed"]) == (False, True, False)
        later = datetime.fromisoformat(row["last_commit"]) + timedelta(seconds=RECORDING_QUIET_S + 1)
        (aged,) = run_list_impl("runs", [row], [], later)["runs"]
        assert (aged["complete"], aged["recording"], aged["killed"]) == (False, False, True)
    finally:
        rec.close()
    with ReplayReader(tmp_path / "starting.lpr") as reader:
        run = run_impl(reader, "starting.lpr")
    assert (run["complete"], run["recording"], run["killed"]) == (True, False, False)


def test_a_run_still_recording_is_marked_recording_not_killed(tmp_path: Path, recording: Any, compare_runs: Any
                                                              ) -> None:
    """A run still being recorded was marked ``killed`` in the run list, on its run page and in the comparison, as a
    killed run is: its recorder has closed no episode yet. A run last written recently is ``recording`` (how long
    ago it wrote, ``quiet_s``); one not written for RECORDING_QUIET_S is killed, however long its row was cached."""
    shutil.copyfile(compare_runs.root / "quest-explorer-killed.lpr", tmp_path / "killed.lpr")
    rec = recording(tmp_path / "live.lpr", 40)
    folder = ReplayFolder(tmp_path)
    try:
        rows = {row["id"]: row for row in folder.list_runs()["runs"]}
        marks = {name: (row["recording"], row["killed"]) for name, row in rows.items()}
        assert marks == {"live.lpr": (True, False), "killed.lpr": (False, True)}
        assert 0 <= rows["live.lpr"]["quiet_s"] < 60 and rows["killed.lpr"]["quiet_s"] > RECORDING_QUIET_S
        with ReplayReader(tmp_path / "live.lpr") as reader:
            run = run_impl(reader, "live.lpr")
        assert (run["recording"], run["killed"], run["complete"]) == (True, False, False)
        compared = folder.comparison(["live.lpr", "killed.lpr"])
        assert {r["id"]: (r["recording"], r["killed"]) for r in compared["runs"]} == marks
        assert {g["group"]: g["recording_runs"] for g in compared["groups"]} == {"Fake-v0: random": 1,
                                                                               "QuestMini-v0: explorer": 0}
        # Nothing written for longer than a live run's longest silence: killed, though its cached row said recording.
        later = datetime.fromisoformat(rows["live.lpr"]["last_commit"]) + timedelta(seconds=RECORDING_QUIET_S + 1)
        aged = {r["id"]: r for r in run_list_impl("runs", list(rows.values()), [], later)["runs"]}
        assert (aged["live.lpr"]["recording"], aged["live.lpr"]["killed"]) == (False, True)
        assert all(g["recording_runs"] == 0 for g in comparison_marks(compared, later)["groups"])
    finally:
        rec.close()
        folder.close()
    folder = ReplayFolder(tmp_path)
    try:  # closed: neither
        row = next(r for r in folder.list_runs()["runs"] if r["id"] == "live.lpr")
        assert (row["complete"], row["recording"], row["killed"]) == (True, False, False)
    finally:
        folder.close()


def test_last_commit_is_the_recorders_wall_clock_or_else_the_header_times(tmp_path: Path, fakegame: Any,
                                                                          edited: Any) -> None:
    """The last commit is the header's ``committed`` (written by every commit, so right after a resume too); in a
    replay from before it, ``created`` plus the latest ``t`` recorded."""
    path = tmp_path / "run.lpr"
    with Recorder(gym.make(fakegame.ENV_ID), path) as rec:
        rec.reset(seed=0)
        rec.step(0)
    with ReplayReader(path) as reader:
        assert abs((datetime.now(timezone.utc) - reader.last_commit()).total_seconds()) < 60
    older = edited(path, ("DELETE FROM header WHERE key = 'committed'", ()),
                   ("UPDATE header SET value = '\"2026-01-01T00:00:00+00:00\"' WHERE key = 'created'", ()),
                   ("UPDATE turns SET t = 0", ()), ("INSERT INTO memory (episode, step, t, name, content, format) "
                                                   "VALUES (0, 1, 90.5, 'notes', 'x', 'text')", ()))
    with ReplayReader(older) as reader:
        assert reader.last_commit() == datetime(2026, 1, 1, 0, 1, 30, 500000, tzinfo=timezone.utc)


def test_a_run_whose_header_gives_a_long_request_timeout_is_recording_for_longer(tmp_path: Path, recording: Any
                                                                                ) -> None:
    """A live LM run is silent for one model call attempt and one back-off: one run with ``--timeout`` 1800 s showed
    as killed 15 minutes into a call. Its window is read from its header's config: 20 minutes after its last write
    it is recording, in the run list, on its run page and in the comparison; a run at the defaults is killed."""
    configs = {"slow.lpr": LMConfig(provider=ProviderConfig(request_timeout_s=1800.0)), "default.lpr": LMConfig()}
    recorders = [recording(tmp_path / name, 5, agent="lm", config=dataclasses.asdict(config))
                 for name, config in configs.items()]
    folder = ReplayFolder(tmp_path)
    try:
        rows = {row["id"]: row for row in folder.list_runs()["runs"]}
        later = max(datetime.fromisoformat(r["last_commit"]) for r in rows.values()) + timedelta(minutes=20)
        aged = {r["id"]: (r["recording"], r["killed"]) for r in run_list_impl("runs", list(rows.values()), [], later)
                ["runs"]}
        assert aged == {"slow.lpr": (True, False), "default.lpr": (False, True)}
        compared = comparison_marks(folder.comparison(list(configs)), later)
        assert {r["id"]: (r["recording"], r["killed"]) for r in compared["runs"]} == aged
        with ReplayReader(tmp_path / "slow.lpr") as reader:
            run = run_impl(reader, "slow.lpr")
        assert run["recording_window_s"] == 1800.0 + 60.0 + 60.0
    finally:
        for rec in recorders:
            rec.close()
        folder.close()


def test_the_run_page_and_row_read_a_run_still_recording_as_one_commit_left_it(tmp_path: Path, recording: Any
                                                                                 ) -> None:
    """The run page read a live run's turns, then (the recorder committing meanwhile) its memory, milestones and
    episodes, each at the latest commit: steps and milestones past the turns it showed. It reads one snapshot."""
    path = tmp_path / "live.lpr"
    with recording(path, 40, agent="lm") as rec, ReplayReader(path) as reader:
        read_memory, read_spending = reader.memory, reader.spending

        def commit_meanwhile() -> None:
            rec.log_turn(response="go")
            for _ in range(80):  # past the fake game's hundred_presses
                rec.step(0)
            rec.flush()

        def memory(*args: Any, **kwargs: Any) -> Any:  # the run page reads it after the turns
            commit_meanwhile()
            return read_memory(*args, **kwargs)

        def spending() -> Any:  # the run list's row reads it after the episodes and milestones
            commit_meanwhile()
            return read_spending()

        reader.memory = memory  # type: ignore[method-assign]
        run = run_impl(reader, "live.lpr")
        (episode,) = run["episodes"]
        assert (episode["steps"], [m["id"] for m in episode["milestones"]], run["has_turns"]) == (
            40, ["left_home"], False)
        reader.spending = spending  # type: ignore[method-assign]
        row = run_summary_impl(reader, "live.lpr")
        assert (row["steps"], row["milestones"], row["turns"]) == (120, 2, 1)  # as the commit before the row left it


def test_the_comparison_splits_runs_whose_scaffolds_differ_in_parameters(record: Any, tmp_path: Path) -> None:
    """The page gathers runs read one by one; runs with window(k=5) and window(k=40) were one configuration there as
    in compare. Split as compare splits them (compare.distinguish_scaffolds)."""
    for seed, k in enumerate((5, 40)):
        card = [{"name": "window", "version": "1", "params": {"k": k, "stride": 1}}]
        record(30, seed=seed, name=f"lm-{k}.lpr", agent="lm", model="m1", scaffold_card=card)
    folder = ReplayFolder(tmp_path)
    compared = folder.comparison(["lm-5.lpr", "lm-40.lpr"])
    assert sorted(g["group"] for g in compared["groups"]) == ["lm / m1 / window [window k=40]",
                                                              "lm / m1 / window [window k=5]"]
