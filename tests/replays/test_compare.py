"""compare: censoring-aware statistics, grouping, AUC, and the CSV/JSON/PNG outputs."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from longplay.replays.compare import (
    ProgressEvent,
    RunProgress,
    auc_from_times,
    bootstrap_km_median,
    compare_impl,
    expand_paths,
    format_table,
    km_fraction,
    km_median,
    load_runs,
    median_band_impl,
    progress_curve_impl,
    read_runs,
    write_outputs,
)
from longplay.replays.recorder import Recorder


def test_kaplan_meier_treats_early_stops_as_censored() -> None:
    # Two runs reach the milestone at 100 and 300; two stop early (at 50 and 80) without it.
    times, observed = [100, 300, 50, 80], [True, True, False, False]
    assert km_median(times, observed) == 100.0  # both runs still going at 100 reached it by then
    assert km_median([100, 300, math.inf, math.inf], observed) == 300.0  # were they failures (never), 300
    assert km_fraction(times, observed) == 1.0  # nobody at risk was left without reaching it
    # The same runs stopped late instead: now they do count against the milestone.
    assert km_median([100, 300, 500, 800], observed) == 300.0
    assert km_median([100, 300, 500, 800], [True, False, False, False]) == math.inf  # 3 of 4 unknown
    assert km_fraction([100, 300, 500, 800], observed) == 0.5
    low, high = bootstrap_km_median([10, 20, 30, 40, 50], [True] * 5, n_boot=500)
    assert 10 <= low <= 30 <= high <= 50
    assert auc_from_times([0.0, 50.0, math.inf], 4, 100.0) == pytest.approx(0.375)


def _lm_run(path: Path, fakegame: Any, seed: int, steps: int, model: str, budget: dict | None = None) -> None:
    extra = None if budget is None else {"budget": budget}
    with Recorder(gym.make(fakegame.ENV_ID), path, agent="lm", model=model, extra_header=extra) as rec:
        rec.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for step in range(steps):
            if step % 10 == 0:
                rec.log_turn(response="...", tokens_in=100, tokens_out=10, cost_usd=0.001)
            rec.step(int(rng.integers(0, 8)))


def test_compare_groups_censors_and_writes(record: Any, fakegame: Any, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    for seed in range(4):
        # Some random runs stop before step 100 (censored for 'hundred_presses'), some run past it.
        record(60 if seed < 2 else 400, seed=seed, name=f"runs/random-{seed}.lpr")
    for seed in range(3):
        _lm_run(runs_dir / "lm" / f"lm-{seed}.lpr", fakegame, seed, 150, "m1")
    warnings: list[str] = []
    (runs_dir / "broken.lpr").write_text("not a replay")
    runs = load_runs([runs_dir], warnings=warnings)
    assert len(runs) == 7 and len(warnings) == 1 and "broken.lpr" in warnings[0]
    result = compare_impl(runs, n_boot=200)
    groups = {g["group"]: g for g in result.groups}
    assert set(groups) == {"random", "lm / m1"}
    assert groups["lm / m1"]["axes"] == ["steps", "wall", "tokens", "cost"]
    assert groups["random"]["axes"] == ["steps", "wall"]
    hundred = next(r for r in result.time_to_milestone
                   if r["group"] == "random" and r["axis"] == "steps" and r["milestone"] == "hundred_presses")
    # Two runs reached it at step 100; two stopped at 60 without it: censored, so the median is 100.
    assert (hundred["reached"], hundred["runs"], hundred["median"]) == (2, 4, 100.0)
    lm_tokens = next(r for r in result.time_to_milestone
                     if r["group"] == "lm / m1" and r["axis"] == "tokens" and r["milestone"] == "hundred_presses")
    assert lm_tokens["median"] == 10 * 110  # ten turns of 110 tokens before step 100
    random_runs = [r for r in result.runs if r["group"] == "random"]
    assert [r["censored_steps"] for r in random_runs] == [True, True, False, False]  # stopped before the horizon
    auc = groups["random"]["auc"]["steps"]
    assert 0 < auc["value"] < 1 and auc["ci_low"] <= auc["value"] <= auc["ci_high"]
    xs, ys = progress_curve_impl(runs[0])
    assert xs[0] == 0 and ys[-1] == len(runs[0].events)
    assert "hundred_presses" in format_table(result)

    out = tmp_path / "out"
    plotted = compare_impl(runs, axes=("steps", "tokens"), n_boot=50)  # two plots are enough to test
    written = write_outputs(plotted, runs, out)
    names = {p.name for p in written}
    assert {"summary.json", "runs.csv", "time_to_milestone.csv", "median_curves.csv", "progress_steps.png",
            "progress_tokens.png"} <= names
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert {g["group"] for g in summary["groups"]} == {"random", "lm / m1"}
    with open(out / "time_to_milestone.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"group", "axis", "milestone", "median", "ci_low", "ci_high", "reached", "runs"} <= set(rows[0])


def _run(name: str, catalog: tuple[str, ...], reached: dict[str, int], end: int) -> RunProgress:
    """A hand-made baseline run: milestone -> step reached (and as many seconds), stopped at ``end``."""
    events = tuple(ProgressEvent(m, s, float(s), None, None) for m, s in sorted(reached.items(), key=lambda x: x[1]))
    return RunProgress(name, f"{name}.lpr", 0, "g", 0, "longplay/Quest-v0", catalog, {m: m for m in catalog},
                       events, {"steps": float(end), "wall": float(end)}, ("steps", "wall"), True, False)


def test_a_replay_named_twice_is_one_run(record: Any, tmp_path: Path) -> None:
    """compare runs/ runs/lm/ (or a folder and a file in it) counted the replays in both twice: each weighed
    twice in the medians, the intervals and the AUC."""
    inner = record(60, seed=1, name="runs/lm/a.lpr")
    record(60, seed=2, name="runs/b.lpr")
    runs_dir = tmp_path / "runs"
    assert [p for p, _ in expand_paths([runs_dir, runs_dir / "lm", inner, tmp_path / "runs" / ".." / "runs"])] == \
        [runs_dir / "b.lpr", inner]
    assert dict(expand_paths([runs_dir, inner])) == {runs_dir / "b.lpr": False, inner: True}  # named: its errors raise
    assert [run.seed for run in load_runs([runs_dir, runs_dir / "lm"])] == [2, 1]


def test_a_milestone_counts_only_the_runs_whose_world_has_it() -> None:
    # Quest-v0 builds a new world per reset seed: each seed has its own catalog ('reached_<town>'). A run of world B
    # cannot reach world A's town: it is no censored run of that milestone, and its own town gets its own row.
    a = ("left_house", "reached_corstone", "badge_1")
    b = ("left_house", "reached_harhill", "badge_1")
    runs = [_run("a0", a, {"left_house": 2, "reached_corstone": 10}, 100),
            _run("a1", a, {"left_house": 3, "reached_corstone": 20}, 100),
            _run("b0", b, {"left_house": 4, "reached_harhill": 5}, 100)]
    rows = {r["milestone"]: r for r in compare_impl(runs, axes=("steps",), n_boot=50).time_to_milestone}
    assert (rows["reached_corstone"]["reached"], rows["reached_corstone"]["runs"]) == (2, 2)
    assert rows["reached_corstone"]["median"] == 10.0  # not 20: run b0 was never at risk of it
    assert rows["reached_corstone"]["reached_fraction_km"] == 1.0
    assert (rows["reached_harhill"]["reached"], rows["reached_harhill"]["runs"], rows["reached_harhill"]["median"]) \
        == (1, 1, 5.0)
    assert (rows["left_house"]["runs"], rows["badge_1"]["runs"], rows["badge_1"]["reached"]) == (3, 3, 0)


def test_a_runs_fraction_is_of_its_own_worlds_catalog() -> None:
    # Worlds of one configuration can have catalogs of different sizes: a run's row counted its milestones, and its
    # AUC (the mean fraction of the catalog reached), against the group's largest catalog instead of its own.
    small = ("left_house", "badge_1")
    large = ("left_house", "reached_harhill", "reached_corstone", "badge_1")
    runs = [_run("small", small, {"left_house": 0, "badge_1": 0}, 100), _run("large", large, {"left_house": 0}, 100)]
    rows = {r["run"]: r for r in compare_impl(runs, axes=("steps",), n_boot=20).runs}
    assert (rows["small"]["catalog_size"], rows["small"]["auc_steps"]) == (2, 1.0)  # all of its world, from the start
    assert (rows["large"]["catalog_size"], rows["large"]["auc_steps"]) == (4, 0.25)


def test_a_run_without_a_price_has_no_dollar_axis(fakegame: Any, tmp_path: Path) -> None:
    # A model the price table does not know (the header's lm.price is null) logs $0 a call: unknown, not free. It
    # was charted at $0 on the dollar axis, reaching every milestone for nothing beside the priced models.
    for name, price in (("priced", {"name": "m", "input": 3.0, "output": 15.0}), ("unpriced", None)):
        with Recorder(gym.make(fakegame.ENV_ID), tmp_path / f"{name}.lpr", agent="lm", model=name,
                      extra_header={"lm": {"price": price}}) as rec:
            rec.reset(seed=0)
            for step in range(120):
                if step % 10 == 0:
                    rec.log_turn(tokens_in=100, tokens_out=10, cost_usd=0.001 if price else 0.0)
                rec.step(step % 4)
    runs = {r.group: r for r in load_runs([tmp_path])}
    assert runs["lm / priced"].axes == ("steps", "wall", "tokens", "cost")
    assert runs["lm / unpriced"].axes == ("steps", "wall", "tokens")  # tokens are still known
    assert "cost" not in runs["lm / unpriced"].end and runs["lm / unpriced"].end["tokens"] == 12 * 110
    groups = {g["group"]: g for g in compare_impl(list(runs.values()), n_boot=20).groups}
    assert "cost" in groups["lm / priced"]["axes"] and "cost" not in groups["lm / unpriced"]["axes"]


def test_a_median_curve_is_drawn_up_to_its_groups_longest_run(monkeypatch: Any, tmp_path: Path) -> None:
    # A group whose runs all stopped at step 50 (a small budget) beside one that ran 1,000 steps: its median curve
    # was drawn flat to step 1,000, a plateau nobody watched, while its runs' own curves end at 50 with a '|'.
    from matplotlib.figure import Figure

    runs = [dataclasses.replace(_run(f"short{i}", ("a", "b"), {"a": 10 + i}, 50), group="short") for i in range(3)]
    runs += [dataclasses.replace(_run(f"long{i}", ("a", "b"), {"a": 5, "b": 600 + i}, 1000), group="long")
             for i in range(3)]
    figures: list[Any] = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    result = compare_impl(runs, axes=("steps",), n_boot=20)
    write_outputs(result, runs, tmp_path)
    lines = {line.get_label().split(" (")[0]: line for line in figures[0].axes[0].get_lines()
             if not line.get_label().startswith("_")}
    assert max(lines["short"].get_xdata()) == 50  # not 1,000
    assert max(lines["long"].get_xdata()) == 1000
    assert list(lines["short"].get_ydata())[-1] == 1


def _env_run(name: str, env_id: str, catalog: tuple[str, ...], reached: dict[str, int], end: int) -> RunProgress:
    """:func:`_run` of ``env_id``, grouped by its name (as the ``agent`` field would)."""
    return dataclasses.replace(_run(name, catalog, reached, end), env_id=env_id, group=name.rstrip("0123456789"))


def test_each_env_is_scored_over_its_own_longest_run() -> None:
    # QuestMini-v0 runs of 100 steps beside QuestCanon-v0 runs of 10,000: the AUC window was the longest run of all,
    # so the mini runs were scored over 10,000 steps, held flat for 99% of it and flagged as censored.
    mini, canon = "longplay/QuestMini-v0", "longplay/QuestCanon-v0"
    runs = [_env_run(f"mini{i}", mini, ("a", "b"), {"a": 50}, 100) for i in range(3)]
    runs += [_env_run(f"canon{i}", canon, ("a", "b", "c", "d"), {"a": 5_000}, 10_000) for i in range(3)]
    result = compare_impl(runs, axes=("steps",), n_boot=20)
    assert result.horizons == {mini: {"steps": 100.0}, canon: {"steps": 10_000.0}}
    groups = {g["group"]: g for g in result.groups}
    assert set(groups) == {"QuestMini-v0: mini", "QuestCanon-v0: canon"}
    assert groups["QuestMini-v0: mini"]["env"] == mini
    assert groups["QuestMini-v0: mini"]["auc"]["steps"]["horizon"] == 100.0
    assert groups["QuestMini-v0: mini"]["auc"]["steps"]["value"] == pytest.approx(0.25)  # 1 of 2 over half of it
    assert groups["QuestCanon-v0: canon"]["auc"]["steps"]["value"] == pytest.approx(0.125)
    rows = {r["run"]: r for r in result.runs}
    assert (rows["mini0"]["env"], rows["mini0"]["horizon_steps"], rows["mini0"]["auc_steps"]) == (mini, 100.0, 0.25)
    assert rows["mini0"]["censored_steps"] is False  # it ran the whole of its env's window
    assert rows["canon0"]["horizon_steps"] == 10_000.0
    # An explicit horizon is one window for every env.
    fixed = compare_impl(runs, axes=("steps",), horizon={"steps": 1_000.0}, n_boot=20)
    assert fixed.horizons == {mini: {"steps": 1_000.0}, canon: {"steps": 1_000.0}}
    assert {g["auc"]["steps"]["horizon"] for g in fixed.groups} == {1_000.0}
    assert {r["run"]: r["censored_steps"] for r in fixed.runs}["mini0"] is True


def test_runs_grouped_by_env_are_labelled_with_it_once() -> None:
    """``--group-by env,agent`` over runs of two envs labelled each group "QuestCanon-v0: QuestCanon-v0 / oracle"."""
    mini, canon = "longplay/QuestMini-v0", "longplay/QuestCanon-v0"
    runs = [dataclasses.replace(_env_run(f"m{i}", mini, ("a",), {"a": 5}, 10), group="QuestMini-v0 / oracle")
            for i in range(2)]
    runs += [dataclasses.replace(_env_run(f"c{i}", canon, ("a",), {}, 10), group="QuestCanon-v0 / oracle")
             for i in range(2)]
    runs += [_env_run("explorer0", canon, ("a",), {}, 10)]  # grouped without the env: the env is still named
    labels = sorted(g["group"] for g in compare_impl(runs, axes=("steps",), n_boot=5).groups)
    assert labels == ["QuestCanon-v0 / oracle", "QuestCanon-v0: explorer", "QuestMini-v0 / oracle"]


def test_a_groups_auc_is_of_each_runs_own_catalog() -> None:
    # Quest-v0 worlds of one configuration with catalogs of 2 and 4: every run reached all of its world at once, yet
    # the group's AUC counted milestones against the largest catalog, and the 2-milestone runs held it at 0.5.
    small, large = ("a", "b"), ("a", "b", "c", "d")
    runs = [_run(f"small{i}", small, {"a": 0, "b": 0}, 100) for i in range(3)]
    runs += [_run("large", large, {"a": 0, "b": 0, "c": 0, "d": 0}, 100)]
    auc = compare_impl(runs, axes=("steps",), n_boot=20).groups[0]["auc"]["steps"]
    assert (auc["value"], auc["ci_low"], auc["ci_high"]) == (1.0, 1.0, 1.0)
    # With one catalog it is the area under the group's median curve, as before.
    same = [_run(f"r{i}", large, {"a": 10 * i, "b": 50}, 100) for i in range(1, 4)]
    group = compare_impl(same, axes=("steps",), n_boot=20).groups[0]
    medians = [p["median"] for p in group["median_curve"]["steps"]]
    assert medians == [20.0, 50.0]
    assert group["auc"]["steps"]["value"] == pytest.approx(auc_from_times(medians, 4, 100.0))


def test_a_groups_median_curve_does_not_count_milestones_a_world_lacks() -> None:
    # Three runs of a 2-milestone world stopped at step 5 with all of it; two runs of a 4-milestone world reached 4 at
    # step 50. The small worlds' runs were censored for a 3rd and 4th milestone they can never reach, dropped out of
    # the Kaplan-Meier risk set at step 5, and the group's median run read as reaching 4 milestones.
    runs = [_run(f"small{i}", ("a", "b"), {"a": 0, "b": 0}, 5) for i in range(3)]
    runs += [_run(f"large{i}", ("a", "b", "c", "d"), {"a": 0, "b": 0, "c": 50, "d": 50}, 100) for i in range(2)]
    group = compare_impl(runs, axes=("steps",), n_boot=20).groups[0]
    assert [p["k"] for p in group["median_curve"]["steps"] if math.isfinite(p["median"])] == [1, 2]


def test_a_run_that_stops_at_a_milestones_step_without_it_was_still_at_risk_there() -> None:
    # A reaches the milestone at step 100, B stops at step 100 without it, C reaches it at 200. B was watched through
    # step 100, so it counts against A's 100 (events come before censorings at one time): survival 2/3 at 100, and
    # the median run needs until 200. Dropped from the risk set before 100, B would make 100 the median.
    assert km_median([100, 100, 200], [True, False, True]) == 200.0
    assert km_fraction([100, 100, 300], [True, False, False]) == pytest.approx(1 / 3)  # 1 of the 3 at risk at 100
    runs = [_run("a", ("x",), {"x": 100}, 1000), _run("b", ("x",), {}, 100), _run("c", ("x",), {"x": 200}, 1000)]
    result = compare_impl(runs, axes=("steps",), n_boot=20)
    assert [p["median"] for p in result.groups[0]["median_curve"]["steps"]] == [200.0]
    assert [r["median"] for r in result.time_to_milestone] == [200.0]


def test_the_fastest_time_is_of_the_runs_that_reached_the_milestone() -> None:
    # A run that stopped at step 10 without the milestone is no faster run to it than the one that reached it at 50.
    runs = [_run("a", ("x",), {"x": 50}, 1000), _run("b", ("x",), {}, 10)]
    (row,) = compare_impl(runs, axes=("steps",), n_boot=20).time_to_milestone
    assert (row["reached"], row["fastest"]) == (1, 50.0)


def test_only_the_episode_its_recorder_closed_stopped_before_the_budget(tmp_path: Path, fakegame: Any) -> None:
    """A run closed with budget left (Ctrl+C) stopped early in its last episode, the one its recorder closed; the
    episodes it played to a time limit before that did not."""
    path = tmp_path / "runs" / "timed.lpr"
    env = gym.make(fakegame.ENV_ID, max_episode_steps=30)
    with Recorder(env, path, extra_header={"budget": {"steps": 1000}}) as rec:
        rec.reset(seed=0)
        truncated = False
        while not truncated:
            truncated = rec.step(0)[3]
        rec.reset(seed=1)
        for _ in range(10):
            rec.step(0)
    runs = load_runs([path])
    assert [(r.end["steps"], r.stopped_early) for r in runs] == [(30.0, False), (10.0, True)]


def test_a_median_curves_band_lies_around_it() -> None:
    # The band drawn around a group's median curve: its upper edge (the intervals' fast ends) reaches each milestone no
    # later than the median curve, its lower edge no earlier.
    runs = [_run(f"r{i}", ("a", "b", "c"), {"a": 10 * i, "b": 40 * i, "c": 90 * i}, 1000) for i in range(1, 9)]
    result = compare_impl(runs, axes=("steps",), n_boot=200)
    band = median_band_impl(result.groups[0], runs, "steps")
    assert len(band["x"]) == len(band["median"]) == len(band["upper"]) == len(band["lower"])
    assert all(low <= mid <= up for low, mid, up in zip(band["lower"], band["median"], band["upper"], strict=True))
    assert any(low < up for low, up in zip(band["lower"], band["upper"], strict=True))  # an interval, not a line


def test_the_intervals_are_labelled_with_their_confidence(monkeypatch: Any, tmp_path: Path) -> None:
    # The table's heading said '95% CI' whatever the confidence; the plot's title said '97%' for 0.975.
    from matplotlib.figure import Figure

    runs = [_run(f"r{i}", ("a", "b"), {"a": 10 * (i + 1)}, 100) for i in range(3)]
    result = compare_impl(runs, axes=("steps",), n_boot=20, confidence=0.975)
    assert format_table(result).splitlines()[0].split()[-2:] == ["97.5%", "CI"]
    assert format_table(compare_impl(runs, axes=("steps",), n_boot=20, confidence=0.9)).splitlines()[0].endswith(
        "90% CI")
    figures: list[Any] = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    write_outputs(result, runs, tmp_path)
    assert "(median, 97.5% bootstrap band" in figures[0].axes[0].get_title()


def test_each_env_gets_its_own_panel(monkeypatch: Any, tmp_path: Path) -> None:
    # One chart held runs of 100 steps and of 10,000 with catalogs of 2 and 4 milestones on the same axes.
    from matplotlib.figure import Figure

    runs = [_env_run(f"mini{i}", "longplay/QuestMini-v0", ("a", "b"), {"a": 50}, 100) for i in range(2)]
    runs += [_env_run(f"canon{i}", "longplay/QuestCanon-v0", ("a", "b", "c", "d"), {"a": 5_000}, 10_000)
             for i in range(2)]
    figures: list[Any] = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    write_outputs(compare_impl(runs, axes=("steps",), n_boot=20), runs, tmp_path)
    panels = {ax.get_title(): ax for ax in figures[0].axes}
    assert len(panels) == 2
    mini = next(ax for title, ax in panels.items() if title.startswith("QuestMini-v0"))
    canon = next(ax for title, ax in panels.items() if title.startswith("QuestCanon-v0"))
    assert "AUC over 0..100 steps" in mini.get_title()
    assert mini.get_xlim()[1] < 200 and canon.get_xlim()[1] >= 10_000
    assert [line.get_label().split(" (")[0] for line in mini.get_lines() if not line.get_label().startswith("_")] \
        == ["QuestMini-v0: mini"]


def test_a_killed_runs_episode_with_no_recorded_step_is_left_out(record: Any, as_killed: Any) -> None:
    """A run killed after a reset and before its next commit leaves an episode of 0 recorded steps: compare counted
    it as a run that stopped at step 0 ("run ended at 0") in its group; its steps were lost, not never played."""
    path = record(120, seed=2, episodes=2, name="killed.lpr")
    as_killed(path, lose_steps=True)  # what the file of a run killed before episode 1's first commit holds
    warnings: list[str] = []
    runs = load_runs([path], warnings=warnings)
    assert [(r.name, r.end["steps"]) for r in runs] == [("killed#0", 120.0)]
    assert warnings == [f"{path}: left out episode 1: it holds no recorded step (the run was killed, or is still "
                        "being recorded)"]
    assert [r.episode for r in read_runs(path)] == [0]


def test_a_killed_run_is_censored_on_the_wall_clock_at_its_last_commit(record: Any, as_killed: Any,
                                                                      edited: Any) -> None:
    """A killed run's episode has no end time: it is censored on the wall-clock axis when its last chunk was
    written (a run killed after an hour said "not reached within 0 s", and set no horizon)."""
    path = record(120, seed=2, name="killed.lpr", chunk_steps=50)
    as_killed(path)
    path = edited(path, ("UPDATE chunks SET t_end = (SELECT started_t FROM episodes) + first_step + 7.5", ()))
    (run,) = load_runs([path])
    assert not run.complete and run.end == {"steps": 120.0, "wall": 107.5}


def test_a_run_that_stopped_before_its_budget_is_marked(record: Any, tmp_path: Path) -> None:
    """A run whose recorder closed it before its budget (Ctrl+C) sat in its group as one that used its budget; the
    replay's header now holds the budget, and compare says which runs stopped early. Its numbers are unchanged."""
    record(100, seed=0, name="runs/used.lpr", extra_header={"budget": {"steps": 100}})
    record(60, seed=1, name="runs/early.lpr", extra_header={"budget": {"steps": 100}})
    record(60, seed=2, name="runs/old.lpr")  # recorded before replays held a budget: unknown
    runs = load_runs([tmp_path / "runs"])
    assert {r.name: r.stopped_early for r in runs} == {"used": False, "early": True, "old": None}
    result = compare_impl(runs, n_boot=50)
    assert {r["run"]: r["stopped_early"] for r in result.runs} == {"used": False, "early": True, "old": None}
    (group,) = result.groups
    assert (group["runs"], group["complete_runs"], group["stopped_early_runs"]) == (3, 3, 1)
    unmarked = compare_impl([dataclasses.replace(r, stopped_early=None) for r in runs], n_boot=50)
    assert unmarked.time_to_milestone == result.time_to_milestone and unmarked.groups[0]["auc"] == group["auc"]
    out = tmp_path / "out"
    write_outputs(result, runs, out, plots=False)
    assert json.loads((out / "summary.json").read_text())["groups"][0]["stopped_early_runs"] == 1
    with open(out / "runs.csv") as f:
        assert {row["run"]: row["stopped_early"] for row in csv.DictReader(f)} == {
            "used": "False", "early": "True", "old": ""}


@pytest.mark.parametrize(("budget", "early"), [
    ({"steps": 500, "turns": 10}, False),  # the turn budget was used: 10 turns
    ({"steps": 500, "tokens": 1100}, False),  # 10 turns of 110 tokens
    ({"steps": 500, "dollars": 1.0}, True),
    ({"steps": 500, "turns": None, "tokens": 5000}, True),
    ({}, True),  # no limit at all: a run closed before finishing stopped early
])
def test_an_lm_run_used_its_budget_when_any_limit_was_reached(budget: dict, early: bool, fakegame: Any,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "lm.lpr"
    _lm_run(path, fakegame, 0, 100, "m1", budget=budget)
    assert [r.stopped_early for r in read_runs(path)] == [early]


def _card(k: int, version: str = "1") -> list[dict[str, Any]]:
    return [{"name": "window", "version": version, "params": {"k": k, "stride": 1}},
            {"name": "notes", "version": "1", "params": {"max_chars": 2000}}]


def test_runs_whose_scaffolds_differ_only_in_parameters_are_two_groups(record: Any, tmp_path: Path) -> None:
    """The group named a scaffold by its components' names: runs with window(k=5) and window(k=40) were one
    configuration "lm / m1 / window+notes", their medians and AUC meaning neither. Runs compared together are grouped
    by the whole card; where cards of one name differ, each group names the parameters (or versions) that differ."""
    from longplay.replays.compare import distinguish_scaffolds

    for seed, card in enumerate([_card(5), _card(5), _card(40), _card(40, version="2")]):
        record(50, seed=seed, name=f"runs/lm-{seed}.lpr", agent="lm", model="m1", scaffold_card=card)
    record(50, seed=9, name="runs/other.lpr", agent="lm", model="m2", scaffold_card=_card(5))
    for seed, k in ((8, 7), (7, 8)):  # one label given to other scaffolds: pooled on purpose
        record(50, seed=seed, name=f"runs/labelled{k}.lpr", agent="lm", model="m3", scaffold_card=_card(k),
               extra_header={"label": "mine"})
    runs = load_runs([tmp_path / "runs"])
    groups = {Path(r.path).stem: r.group for r in runs}
    assert groups == {"lm-0": "lm / m1 / window+notes [window k=5, version 1]",
                      "lm-1": "lm / m1 / window+notes [window k=5, version 1]",
                      "lm-2": "lm / m1 / window+notes [window k=40, version 1]",
                      "lm-3": "lm / m1 / window+notes [window k=40, version 2]",
                      "other": "lm / m2 / window+notes",  # no other card of its label: its short name
                      "labelled7": "mine", "labelled8": "mine"}, groups
    # the viewer gathers runs read one by one: the same names from the same function
    one_by_one = distinguish_scaffolds([r for path in sorted((tmp_path / "runs").glob("*.lpr"))
                                        for r in read_runs(path)])
    assert {Path(r.path).stem: r.group for r in one_by_one} == groups
