"""Each episode's own milestone catalog: ``longplay/Quest-v0`` draws a world per reset seed, and a replay of
several episodes names, orders and counts each episode's milestones by that episode's world (the reader,
verify, compare and the viewer), also in replays written before episodes stored their catalogs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from longplay.replays.compare import compare_impl, read_runs
from longplay.replays.reader import ReplayReader
from longplay.replays.recorder import Recorder, catalog_json
from longplay.replays.schema import ReplayError
from longplay.replays.verify import verify
from longplay.replays.viewer.data import compare_data_impl, run_impl, run_summary_impl

ENV_ID = "longplay/Quest-v0"
SEEDS = (1, 2, 3)  # three worlds, none of them the one the env is built with


def world_catalog(seed: int) -> list[dict[str, Any]]:
    """The catalog of the world ``longplay/Quest-v0`` plays after a reset with ``seed``, as the file holds it."""
    env = gym.make(ENV_ID)
    try:
        env.reset(seed=seed)
        return json.loads(json.dumps(catalog_json(env.unwrapped.game)))
    finally:
        env.close()


@pytest.fixture(scope="module")
def worlds() -> dict[int, list[dict[str, Any]]]:
    import longplay.envs  # noqa: F401

    catalogs = {seed: world_catalog(seed) for seed in SEEDS}
    assert len({json.dumps(c) for c in catalogs.values()}) == len(SEEDS)  # three different catalogs
    return catalogs


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, worlds: dict[int, list[dict[str, Any]]]) -> Path:
    """The oracle for 300 steps on each of three worlds, one episode each (seeds 1, 2, 3)."""
    from longplay.agents.base import make_agent

    path = tmp_path_factory.mktemp("catalogs") / "quest-v0.lpr"
    with Recorder(gym.make(ENV_ID, obs_mode="symbolic"), path, agent="oracle") as rec:
        for seed in SEEDS:
            agent = make_agent("oracle")
            obs, info = rec.reset(seed=seed)
            agent.reset(rec, obs, info, seed)
            for _ in range(300):
                obs, _, _, _, info = rec.step(agent.act(obs, info))
    return path


def old_format(replay: Path, edited: Callable[..., Path]) -> Path:
    """A copy of ``replay`` as longplay wrote it before episodes stored their catalogs: the ``episodes`` table of
    that schema (no ``catalog`` column), every other table and the header as they are."""
    columns = "episode, seed, options, start_hash, identity, started_t, end_step, end_reason, ended_t"
    statements = [
        "CREATE TABLE episodes_old (episode INTEGER PRIMARY KEY, seed INTEGER NOT NULL, options TEXT, start_hash BLOB "
        "NOT NULL, identity TEXT, started_t REAL NOT NULL, end_step INTEGER, end_reason TEXT, ended_t REAL)",
        f"INSERT INTO episodes_old SELECT {columns} FROM episodes",
        "DROP TABLE episodes",
        "ALTER TABLE episodes_old RENAME TO episodes"]
    return edited(replay, *[(sql, ()) for sql in statements], name="old.lpr")


def reached(replay: Path) -> dict[int, list[str]]:
    with ReplayReader(replay) as reader:
        out: dict[int, list[str]] = {}
        for m in reader.milestones():
            out.setdefault(m.episode, []).append(m.milestone)
    return out


# ============================================================================================ reader, verify


def test_each_episode_stores_the_catalog_of_its_world(replay: Path, worlds: dict[int, list[dict[str, Any]]]) -> None:
    conn = sqlite3.connect(replay)
    stored = dict(conn.execute("SELECT episode, catalog FROM episodes"))
    conn.close()
    assert stored[0] is None  # the header's: the first episode's world
    assert json.loads(stored[1]) == worlds[2] and json.loads(stored[2]) == worlds[3]
    with ReplayReader(replay) as reader:
        assert reader.episode_catalogs_recorded
        assert reader.header["catalog"] == worlds[1]
        assert [reader.catalog(e) for e in range(3)] == [worlds[seed] for seed in SEEDS]
        with pytest.raises(ValueError, match="no episode 3"):
            reader.catalog(3)
    # each episode reached milestones that only its own world has
    got = reached(replay)
    assert any(m not in {c["id"] for c in worlds[1]} for m in got[1] + got[2])


def test_verify_judges_each_episode_by_its_own_catalog(replay: Path) -> None:
    report = verify(replay)
    assert report.ok, report.summary()
    assert report.episodes == 3 and report.milestones == sum(len(v) for v in reached(replay).values())


@pytest.mark.parametrize(("statement", "reason"), [
    (("UPDATE episodes SET catalog = json_set(catalog, '$[6].name', 'Forged Badge') WHERE episode = 1", ()),
     "FAIL {path}: episode 1 step 0: the milestone catalog recorded for it is not this world's (milestone 7: name "
     "recorded 'Forged Badge', rebuilt {name!r}): edited"),
    (("UPDATE episodes SET catalog = NULL WHERE episode = 2", ()),  # claims the first world's catalog
     "FAIL {path}: episode 2 step 0: the header's milestone catalog is not this world's (milestone 3: "),
    (("UPDATE header SET value = json_set(value, '$[0].tier', 3) WHERE key = 'catalog'", ()),
     "FAIL {path}: episode 0 step 0: the header's milestone catalog is not this world's (milestone 1: tier recorded "
     "3, rebuilt 0): edited"),
    (("UPDATE episodes SET catalog = (SELECT catalog FROM episodes WHERE episode = 1) WHERE episode = 0", ()),
     "FAIL {path}: episode 0 step 0: the milestone catalog recorded for it is not this world's (milestone 3: "),
    (("UPDATE episodes SET catalog = '{\"left_house\": 1}' WHERE episode = 1", ()),
     "FAIL {path}: episode 1 step 0: the milestone catalog recorded for it is not a list of milestones (edited)"),
])
def test_an_edited_catalog_fails_verify_in_one_line(replay: Path, edited: Callable[..., Path],
                                                    worlds: dict[int, list[dict]],
                                                    statement: tuple[str, tuple[Any, ...]], reason: str) -> None:
    path = edited(replay, statement)
    report = verify(path)
    line = report.summary()
    assert not report.ok and "\n" not in line
    assert line.startswith(reason.format(path=path, name=worlds[2][6]["name"])), line
    assert len(report.problems) == 1  # the actions and milestones still re-simulate: only the catalog is edited


def test_a_milestone_moved_to_another_worlds_catalog_fails_verify(replay: Path, edited: Callable[..., Path],
                                                                  worlds: dict[int, list[dict[str, Any]]]) -> None:
    own = reached(replay)[2]
    forged = next(m["id"] for m in worlds[1] if m["id"] not in {c["id"] for c in worlds[3]})
    path = edited(replay, ("UPDATE milestones SET milestone = ? WHERE episode = 2 AND milestone = ?",
                           (forged, own[-1])))
    line = verify(path).summary()
    assert f"milestone {forged!r} is recorded but is not in this game's catalog (forged or edited)" in line
    assert line.startswith(f"FAIL {path}: episode 2 step ")


# ============================================================================================ compare, viewer


def test_compare_names_and_counts_each_episode_by_its_world(replay: Path,
                                                            worlds: dict[int, list[dict[str, Any]]]) -> None:
    runs = read_runs(replay)
    assert [r.catalog for r in runs] == [tuple(m["id"] for m in worlds[seed]) for seed in SEEDS]
    assert [r.milestone_names for r in runs] == [{m["id"]: m["name"] for m in worlds[seed]} for seed in SEEDS]
    result = compare_impl(runs, axes=("steps",), n_boot=20)
    assert [row["catalog_size"] for row in result.runs] == [len(worlds[seed]) for seed in SEEDS]
    only_third = [m for m in reached(replay)[2] if m not in {c["id"] for c in worlds[1]} | {c["id"] for c in worlds[2]}]
    assert only_third, "the third world's run reached none of its own milestones"
    rows = {r["milestone"]: r for r in result.time_to_milestone}
    names = {m["id"]: m["name"] for m in worlds[3]}
    for milestone in only_third:  # counted over the one run whose world has it, named as that world names it
        assert (rows[milestone]["runs"], rows[milestone]["reached"]) == (1, 1)
        assert rows[milestone]["name"] == names[milestone]


def test_viewer_gives_each_episode_its_catalog(replay: Path, worlds: dict[int, list[dict[str, Any]]]) -> None:
    with ReplayReader(replay) as reader:
        run = run_impl(reader, "quest-v0.lpr")
        summary = run_summary_impl(reader, "quest-v0.lpr")
    assert [c["id"] for c in run["catalog"]] == [m["id"] for m in worlds[1]]
    assert run["episodes"][0]["catalog"] is None  # the run's catalog
    for episode, seed in zip(run["episodes"][1:], SEEDS[1:], strict=True):
        assert episode["catalog"] == [{"id": m["id"], "name": m["name"], "tier": m["tier"]} for m in worlds[seed]]
    for episode, seed in zip(run["episodes"], SEEDS, strict=True):
        names = {m["id"]: (m["name"], m["tier"]) for m in worlds[seed]}
        assert episode["milestones"]
        assert all((m["name"], m["tier"]) == names[m["id"]] for m in episode["milestones"]), episode["milestones"]
    got = reached(replay)
    best = max(range(3), key=lambda e: (len(got[e]), -e))
    assert (summary["milestones"], summary["catalog_size"]) == (len(got[best]), len(worlds[SEEDS[best]]))
    # the furthest milestone along its own world's catalog, by that world's name
    order = {(e, m["id"]): (i, m["name"]) for e, seed in enumerate(SEEDS) for i, m in enumerate(worlds[seed])}
    with ReplayReader(replay) as reader:
        last = max(reader.milestones(), key=lambda m: (order[m.episode, m.milestone][0], m.step))
    assert summary["furthest_milestone"] == order[last.episode, last.milestone][1]
    compared = compare_data_impl([(f"quest-v0.lpr#{r.episode}", r) for r in read_runs(replay)], n_boot=20)
    assert [r["catalog_size"] for r in compared["runs"]] == [len(worlds[seed]) for seed in SEEDS]
    union = {m["id"]: m["name"] for seed in SEEDS for m in worlds[seed]}
    assert {c["id"]: c["name"] for c in compared["catalog"]}.keys() == union.keys()


def test_viewer_http_api_gives_each_episode_its_catalog(replay: Path, tmp_path: Path,
                                                        worlds: dict[int, list[dict[str, Any]]]) -> None:
    pytest.importorskip("starlette", reason="the viewer needs starlette: pip install 'longplay[viewer]'")
    pytest.importorskip("httpx", reason="starlette's TestClient needs httpx")
    from starlette.testclient import TestClient

    from longplay.replays.viewer.server import create_app

    (tmp_path / "runs").mkdir()
    shutil.copyfile(replay, tmp_path / "runs" / "quest-v0.lpr")
    app = create_app(tmp_path / "runs")
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            run = client.get("/api/run", params={"id": "quest-v0.lpr"}).json()
            (row,) = client.get("/api/runs").json()["runs"]
            compared = client.get("/api/compare", params={"id": "quest-v0.lpr"}).json()
    finally:
        app.state.folder.close()
    assert [e["catalog"] and [m["id"] for m in e["catalog"]] for e in run["episodes"]] == \
        [None, *([m["id"] for m in worlds[seed]] for seed in SEEDS[1:])]
    furthest = {m["name"] for seed in SEEDS for m in worlds[seed] if m["id"] in sum(reached(replay).values(), [])}
    assert row["furthest_milestone"] in furthest
    assert [r["catalog_size"] for r in compared["runs"]] == [len(worlds[seed]) for seed in SEEDS]


# ============================================================================================ older replays


def test_a_replay_from_before_episode_catalogs_reads_verifies_and_shows(replay: Path, edited: Callable[..., Path],
                                                                        worlds: dict[int, list[dict]]) -> None:
    old = old_format(replay, edited)
    with ReplayReader(old) as reader:
        assert not reader.episode_catalogs_recorded
        # a later episode of another world is reset on the rebuilt env for its catalog
        assert [reader.catalog(e) for e in range(3)] == [worlds[seed] for seed in SEEDS]
        assert [e["catalog"] is None for e in run_impl(reader, "old")["episodes"]] == [True, False, False]
    report = verify(old)
    assert report.ok and not report.warnings, report.summary()
    assert [r.catalog for r in read_runs(old)] == [tuple(m["id"] for m in worlds[seed]) for seed in SEEDS]


def test_an_old_replay_whose_env_cannot_be_built_names_milestones_by_the_header(
        replay: Path, edited: Callable[..., Path], worlds: dict[int, list]) -> None:
    def cannot(header: dict[str, Any]) -> gym.Env:
        raise ReplayError("env 'longplay/Quest-v0' is not registered here: import the package that registers it")

    with ReplayReader(old_format(replay, edited), make_env=cannot) as reader:
        assert [reader.catalog(e) for e in range(3)] == [worlds[1]] * 3  # all there is, as before


def test_an_old_replay_with_another_worlds_header_catalog_verifies_with_a_warning(
        replay: Path, edited: Callable[..., Path], worlds: dict[int, list[dict[str, Any]]]) -> None:
    """Replays recorded before the header's catalog was the first episode's world hold the catalog of the world the
    env was built with: honest, so no failure, but compare and the viewer name their milestones by it."""
    old = edited(old_format(replay, edited),
                 ("UPDATE header SET value = ? WHERE key = 'catalog'", (json.dumps(world_catalog(0)),)))
    report = verify(old)
    assert report.ok, report.summary()
    assert report.warnings == [report.warnings[0]] and report.warnings[0].startswith(
        "the header's milestone catalog is not the first episode's world (milestone 3: ")


@pytest.mark.parametrize("format_of_file", ["current", "old"])
def test_a_resumed_recording_stores_the_catalog_of_each_new_world(tmp_path: Path, format_of_file: str,
                                                                  worlds: dict[int, list[dict[str, Any]]],
                                                                  edited: Callable[..., Path]) -> None:
    first = tmp_path / "first.lpr"
    with Recorder(gym.make(ENV_ID), first, agent="random") as rec:
        rec.reset(seed=1)
        for action in range(40):
            rec.step(action % 8)
    path = first if format_of_file == "current" else old_format(first, edited)
    env = gym.make(ENV_ID)
    env.reset(seed=1)
    for action in range(40):
        env.step(action % 8)
    with Recorder.resume(env, path, step=40) as rec:
        for seed in (2, 3):
            rec.reset(seed=seed)
            for action in range(20):
                rec.step(action % 8)
    with ReplayReader(path) as reader:
        assert reader.episode_catalogs_recorded == (format_of_file == "current")  # an old file keeps its schema
        assert [reader.catalog(e) for e in range(3)] == [worlds[seed] for seed in SEEDS]
    report = verify(path)
    assert report.ok and report.episodes == 3, report.summary()
