"""The viewer's HTTP API against replays the tests record: shapes, values, errors and safety headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from longplay.replays.reader import ReplayReader, make_env

pytest.importorskip("starlette", reason="the viewer needs starlette: pip install 'longplay[viewer]'")


def _get(client: Any, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json() if response.headers["content-type"].startswith("application/json") else response


def test_run_list_lists_readable_runs_and_explains_unreadable_ones(viewer_client: Any, viewer_runs: Any) -> None:
    data = _get(viewer_client, "/api/runs")
    ids = {r["id"] for r in data["runs"]}
    assert ids == {"fake-random-0.lpr", "fake-random-1.lpr", "fake-lm.lpr", "fake-multi.lpr", "sub/quest-oracle.lpr"}
    bad = {u["id"]: u for u in data["unreadable"]}
    assert set(bad) == {"broken.lpr", "truncated.lpr", "newer.lpr"}  # the link out and notes.txt are not listed
    assert "upgrade longplay" in bad["newer.lpr"]["error"] and bad["newer.lpr"]["kind"] == "NewerFormatError"
    assert "not a longplay replay" in bad["broken.lpr"]["error"]
    assert bad["truncated.lpr"]["kind"] in ("CorruptReplayError", "NotAReplayError")
    rows = {r["id"]: r for r in data["runs"]}
    lm = rows["fake-lm.lpr"]
    assert (lm["agent"], lm["model"], lm["scaffold"], lm["steps"], lm["turns"]) == ("lm", "m1", "notes+goals", 150, 15)
    assert lm["cost_usd"] == pytest.approx(15 * 0.002 + 0.001) and lm["tokens"] > 0 and lm["created"]
    assert rows["fake-random-0.lpr"]["milestones"] >= 3 and rows["fake-random-0.lpr"]["catalog_size"] == 4
    assert rows["fake-multi.lpr"]["episodes"] == 2 and rows["fake-multi.lpr"]["steps"] == 240
    assert rows["sub/quest-oracle.lpr"]["env"] == "QuestMini-v0"
    assert viewer_runs.secret not in str(data)


def test_run_and_step(viewer_client: Any, viewer_runs: Any) -> None:
    run = _get(viewer_client, "/api/run", id="fake-lm.lpr")
    assert run["has_turns"] and run["has_memory"] and run["turns"] == 15 and run["scaffold"] == "notes+goals"
    (episode,) = run["episodes"]
    assert episode["steps"] == 150 and episode["turn_steps"] == sorted([*range(0, 150, 10), 25])
    assert episode["error_steps"] == [50] and episode["memory_steps"] == [0, 20, 40]
    assert [m["id"] for m in episode["milestones"]][:1] and all("name" in m for m in episode["milestones"])
    assert [c["id"] for c in run["catalog"]] == ["left_home", "opened_menu", "hundred_presses", "finish"]

    step = _get(viewer_client, "/api/step", id="fake-lm.lpr", step=57)
    assert step["step"] == 57 and step["action"] in ("up", "down", "left", "right", "a", "b", "start", "select")
    (turn,) = step["lm"]["turns"]
    assert turn["step"] == 50 and turn["error"] == "rate limited (429)" and turn["kind"] == "act"
    assert turn["tool_calls"][0]["name"] == "press_buttons" and turn["tokens"] == 1050 + 50 + 200
    # six turns and a summary's call: the call counts in spending only
    assert step["lm"]["spent"]["turns"] == 6 and step["lm"]["spent"]["cost_usd"] == pytest.approx(0.013)
    assert (step["lm"]["prev_step"], step["lm"]["next_step"]) == (40, 60)
    memory = {m["name"]: m for m in step["memory"]}
    assert [m["name"] for m in step["memory"]] == ["notes", "goals"]  # scaffold-card order
    assert memory["notes"]["content"] == "notes as of step 40: the exit is north" and memory["notes"]["updates"] == 2
    assert memory["goals"]["content"]["stack"] == ["win the game", "find the exit"]
    assert memory["goals"]["format"] == "json"
    with ReplayReader(viewer_runs.root / "fake-lm.lpr") as reader:
        state = reader.game_state_at(57)
    assert (step["state"]["x"], step["state"]["y"], step["state"]["mode"]) == (state.x, state.y, state.mode.value)

    early = _get(viewer_client, "/api/step", id="fake-lm.lpr", step=0, state=0)
    assert early["state"] is None and early["lm"]["turns"][0]["step"] == 0
    assert [m["name"] for m in early["memory"]] == ["notes"]
    last = _get(viewer_client, "/api/step", id="fake-lm.lpr", step=150)
    assert last["action"] is None and last["lm"]["next_step"] is None
    # API.md: `reward` is paid at this step, by the action before it (hundred_presses pays 2.0 at step 100)
    rewards = [_get(viewer_client, "/api/step", id="fake-random-0.lpr", step=s, state=0)["reward"]
               for s in (99, 100, 101)]
    assert rewards == [0.0, 2.0, 0.0]


def test_frames_are_the_readers_frames(viewer_client: Any, viewer_runs: Any, png_decoder: Callable) -> None:
    with ReplayReader(viewer_runs.root / "sub" / "quest-oracle.lpr") as reader:
        for step in (0, 399, 123, 7):
            response = _get(viewer_client, "/api/frame.png", id="sub/quest-oracle.lpr", step=step)
            assert response.headers["content-type"] == "image/png"
            assert np.array_equal(png_decoder(response.content), reader.frame_at(step))
    second = _get(viewer_client, "/api/frame.png", id="fake-multi.lpr", episode=1, step=60)
    with ReplayReader(viewer_runs.root / "fake-multi.lpr") as reader:
        assert np.array_equal(png_decoder(second.content), reader.frame_at(60, episode=1))


def test_trajectory_and_area_maps(viewer_client: Any, viewer_runs: Any, png_decoder: Callable) -> None:
    data = _get(viewer_client, "/api/trajectory", id="sub/quest-oracle.lpr")
    with ReplayReader(viewer_runs.root / "sub" / "quest-oracle.lpr") as reader:
        expected = reader.trajectory()
    points = data["points"]
    assert points["step"][0] == 0 and data["steps"] == len(expected) - 1
    # expanding the change points gives the reader's position at every step
    index = np.searchsorted(points["step"], np.arange(len(expected)), side="right") - 1
    got = np.stack([np.asarray(points[k])[index] for k in ("map", "x", "y")], axis=1)
    assert np.array_equal(got, expected)
    areas = {a["map_id"]: a for a in data["areas"]}
    assert set(areas) == set(np.unique(expected[:, 0]).tolist())
    assert sum(a["steps"] for a in areas.values()) == len(expected)
    first = data["areas"][0]
    assert first["image"] and first["name"] and first["first_step"] == 0
    assert sum(v[2] for v in first["visits"]) == first["steps"]
    image = png_decoder(_get(viewer_client, "/api/area.png", id="sub/quest-oracle.lpr", map=first["map_id"]).content)
    assert image.shape == (first["height"] * 16, first["width"] * 16, 3)
    # Each 16x16 block is its tile's art: tiles of one kind look alike, and the area is not one flat colour
    with ReplayReader(viewer_runs.root / "sub" / "quest-oracle.lpr") as reader:
        env = make_env(reader.header)
        env.reset(seed=reader.episode(0).seed)
        area = env.unwrapped.game.world.maps[first["map_id"]]
        env.close()
    tiles = np.frombuffer(area.tiles, np.uint8).reshape(area.height, area.width)
    blocks = image.reshape(area.height, 16, area.width, 16, 3).transpose(0, 2, 1, 3, 4)
    for kind in np.unique(tiles).tolist():
        rows, cols = np.nonzero(tiles == kind)
        assert all(np.array_equal(blocks[r, c], blocks[rows[0], cols[0]]) for r, c in zip(rows, cols, strict=True))
    assert any(len(np.unique(blocks[r, c].reshape(-1, 3), axis=0)) > 1 for r, c in np.ndindex(tiles.shape))

    fake = _get(viewer_client, "/api/trajectory", id="fake-random-0.lpr")
    assert fake["areas"] and not any(a["image"] for a in fake["areas"])  # a grid, no map image
    assert all(a["name"].startswith("map") for a in fake["areas"])
    # With no map size from the backend, width/height are the visited bounds: the grid holds every visited tile
    for area in fake["areas"]:
        assert all(0 <= x < area["width"] and 0 <= y < area["height"] for x, y, _ in area["visits"]), area
    assert viewer_client.get("/api/area.png", params={"id": "fake-random-0.lpr", "map": 0}).status_code == 404


def test_compare(viewer_client: Any) -> None:
    ids = ["fake-random-0.lpr", "fake-random-1.lpr", "fake-lm.lpr", "broken.lpr"]
    data = _get(viewer_client, "/api/compare", id=ids)
    assert [u["id"] for u in data["unreadable"]] == ["broken.lpr"]
    runs = {r["id"]: r for r in data["runs"]}
    assert set(runs) == set(ids[:3])
    assert data["axes"] == ["steps", "wall", "tokens", "cost"]
    assert runs["fake-lm.lpr"]["axes"] == ["steps", "wall", "tokens", "cost"]
    random0 = runs["fake-random-0.lpr"]
    assert random0["axes"] == ["steps", "wall"] and "tokens" not in random0["curves"]
    curve = random0["curves"]["steps"]
    assert curve["x"][0] == 0 and curve["x"][-1] == 300 and curve["y"][-1] == random0["milestones"]
    assert runs["fake-random-0.lpr"]["times"]["steps"]["hundred_presses"] == 100
    assert "hundred_presses" not in runs["fake-random-1.lpr"]["times"]["steps"]  # stopped at 80: censored
    assert [m["id"] for m in data["catalog"]] == ["left_home", "opened_menu", "hundred_presses", "finish"]
    random_group = [g for g in data["groups"] if g["group"] == "random"]
    assert random_group and random_group[0]["runs"] == 2
    hundred = next(r for r in data["time_to_milestone"] if r["group"] == "random" and r["axis"] == "steps"
                   and r["milestone"] == "hundred_presses")
    assert (hundred["reached"], hundred["runs"]) == (1, 2)
    everything = _get(viewer_client, "/api/compare")  # no ids: every run in the folder
    assert len({r["id"] for r in everything["runs"]}) == 5 and len(everything["runs"]) == 6  # 2 episodes in one



def test_compare_gives_each_env_its_catalog_window_and_groups(viewer_client: Any) -> None:
    """Runs of two envs: the page drew them on one set of axes with no AUC, and a run's ``group`` ('random') was not
    the name its group has in ``groups`` ('Fake-v0: random'). Now ``envs`` gives each env its runs' catalog, its AUC
    window per axis and its groups, and each run names its group as ``groups`` does."""
    ids = ["fake-random-0.lpr", "fake-random-1.lpr", "fake-lm.lpr", "sub/quest-oracle.lpr"]
    data = _get(viewer_client, "/api/compare", id=ids)
    envs = {e["env_id"]: e for e in data["envs"]}
    assert list(envs) == ["LongplayTest/Fake-v0", "longplay/QuestMini-v0"]
    fake, quest = envs.values()
    assert (fake["name"], fake["runs"], quest["name"], quest["runs"]) == ("Fake-v0", 3, "QuestMini-v0", 1)
    assert fake["axes"] == ["steps", "wall", "tokens", "cost"] and quest["axes"] == ["steps", "wall"]
    assert fake["horizons"]["steps"] == 300 and quest["horizons"]["steps"] == 400  # each env's longest run
    assert set(quest["horizons"]) == {"steps", "wall"}  # no QuestMini run has tokens or dollars
    assert all(fake["horizons"][a] == data["horizons"][fake["env_id"]][a] for a in fake["axes"])
    assert [m["id"] for m in fake["catalog"]] == ["left_home", "opened_menu", "hundred_presses", "finish"]
    (quest_run,) = [r for r in data["runs"] if r["env_id"] == quest["env_id"]]
    assert [m["id"] for m in quest["catalog"]] == quest_run["catalog"] and "left_home" not in quest_run["catalog"]
    groups = {g["group"]: g for g in data["groups"]}
    assert fake["groups"] == ["Fake-v0: random", "Fake-v0: lm / m1 / notes+goals"]
    assert quest["groups"] == ["QuestMini-v0: oracle"] and set(groups) == {*fake["groups"], *quest["groups"]}
    for run in data["runs"]:
        group = groups[run["group"]]
        assert (group["env"], group["configuration"], group["start_state"]) == (run["env_id"], run["configuration"],
                                                                               None)
    assert groups["Fake-v0: random"]["runs"] == 2 and groups["Fake-v0: random"]["configuration"] == "random"
    assert groups["Fake-v0: random"]["auc"]["steps"]["horizon"] == 300
    assert groups["QuestMini-v0: oracle"]["auc"]["steps"]["horizon"] == 400
    assert 0 < groups["QuestMini-v0: oracle"]["auc"]["steps"]["value"] < 1

@pytest.mark.parametrize(("path", "params", "status", "message"), [
    ("/api/run", {}, 400, "missing run id"),
    ("/api/run", {"id": "nope.lpr"}, 404, "no run"),
    ("/api/run", {"id": "broken.lpr"}, 422, "not a longplay replay"),
    ("/api/run", {"id": "newer.lpr"}, 422, "upgrade longplay"),
    ("/api/step", {"id": "fake-lm.lpr", "step": 151}, 400, "out of range"),
    ("/api/step", {"id": "fake-lm.lpr", "step": "x"}, 400, "not an integer"),
    ("/api/step", {"id": "fake-lm.lpr", "step": -1}, 400, "must be >= 0"),
    ("/api/step", {"id": "fake-lm.lpr"}, 400, "missing parameter 'step'"),
    ("/api/frame.png", {"id": "fake-lm.lpr", "step": 1, "episode": 3}, 400, "no episode 3"),
    ("/api/frame.png", {"id": "truncated.lpr", "step": 1}, 422, ""),
    ("/api/nothing", {}, 404, "not found"),
])
def test_errors_are_one_line_json(viewer_client: Any, path: str, params: dict, status: int, message: str) -> None:
    response = viewer_client.get(path, params=params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error


def test_pages_and_safety_headers(viewer_client: Any) -> None:
    for path, kind in (("/", "text/html"), ("/run", "text/html"), ("/compare", "text/html"),
                       ("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")):
        response = viewer_client.get(path, headers={"Origin": "http://evil.example"})
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert not any(h.lower().startswith("access-control-") for h in response.headers)  # CORS closed
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    preflight = viewer_client.options("/api/runs", headers={"Origin": "http://evil.example",
                                                             "Access-Control-Request-Method": "GET"})
    assert preflight.status_code in (404, 405) and "access-control-allow-origin" not in preflight.headers
    assert viewer_client.post("/api/runs").status_code == 405
    # A page elsewhere that rebinds its own name to 127.0.0.1 still sends its name as the Host: refused.
    refused = viewer_client.get("/api/runs", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and refused.json()["error"].startswith("invalid Host header 'evil.example'")
    assert refused.headers["x-frame-options"] == "DENY"  # the refusal has the safety headers too
    assert viewer_client.get("/api/runs", headers={"Host": "localhost:8765"}).status_code == 200


def test_a_replay_whose_env_cannot_be_built_still_shows_its_data(viewer_runs: Any) -> None:
    from starlette.testclient import TestClient

    from longplay.replays.schema import ReplayError
    from longplay.replays.viewer.server import create_app

    def no_env(header: dict) -> Any:
        raise ReplayError(f"env {header['env_id']!r} is not registered here: import the package that registers it")

    app = create_app(viewer_runs.root, make_env=no_env)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        step = _get(client, "/api/step", id="fake-lm.lpr", step=57)
        assert step["state"] is None and "not registered here" in step["state_error"]
        assert step["lm"]["turns"] and step["memory"]  # the turns and memory still show
        for path in ("/api/frame.png", "/api/trajectory"):
            response = client.get(path, params={"id": "fake-lm.lpr", "step": 3})
            assert response.status_code == 422 and "not registered here" in response.json()["error"]
        assert _get(client, "/api/run", id="fake-lm.lpr")["has_turns"]
    app.state.folder.close()


def test_errors_found_after_opening_name_the_run_not_a_private_copy(record: Any) -> None:
    import sqlite3

    from starlette.testclient import TestClient

    from longplay.replays.viewer.server import create_app

    path = record(120, name="runs/sub/bad.lpr")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE chunks SET actions = x'00112233'")  # the header reads; the actions do not decompress
    conn.commit()
    conn.close()
    app = create_app(path.parent.parent)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for route in ("/api/step", "/api/frame.png", "/api/trajectory"):
            response = client.get(route, params={"id": "sub/bad.lpr", "step": 3})
            error = response.json()["error"]
            assert response.status_code == 422 and "do not decompress" in error
            assert "corrupt replay: sub/bad.lpr:" in error and "longplay-viewer-" not in error
    app.state.folder.close()


def test_a_later_episodes_parameters_reach_every_route(tmp_path: Any, fakegame: Any, viewer_client: Any,
                                                       viewer_runs: Any) -> None:
    """``episode`` is read by every route that takes it: the trajectory of episode 1 was episode 0's, and a step of
    episode 1 showed episode 0's LM turns (the shared replays log turns in one episode only); an area of an episode
    the run does not have is a 400 naming it."""
    import gymnasium as gym
    from starlette.testclient import TestClient

    from longplay.replays.recorder import Recorder
    from longplay.replays.viewer.server import create_app

    data = _get(viewer_client, "/api/trajectory", id="fake-multi.lpr", episode=1)
    with ReplayReader(viewer_runs.root / "fake-multi.lpr") as reader:
        expected, first = reader.trajectory(1), reader.trajectory(0)
    assert not np.array_equal(expected, first)  # the two episodes walk apart
    index = np.searchsorted(data["points"]["step"], np.arange(len(expected)), side="right") - 1
    got = np.stack([np.asarray(data["points"][k])[index] for k in ("map", "x", "y")], axis=1)
    assert data["episode"] == 1 and np.array_equal(got, expected)
    missing = viewer_client.get("/api/area.png", params={"id": "fake-multi.lpr", "episode": 2, "map": 0})
    assert missing.status_code == 400 and missing.json()["error"] == "no episode 2 in fake-multi.lpr (it has 2)"

    with Recorder(gym.make(fakegame.ENV_ID), tmp_path / "lm.lpr", agent="lm") as rec:
        for episode, steps in ((0, 30), (1, 40)):
            rec.reset(seed=episode)
            for step in range(steps):
                if step % 10 == 0:
                    rec.log_turn(response=f"episode {episode}, turn at step {step}")
                rec.step(step % 8)
    app = create_app(tmp_path)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        step = _get(client, "/api/step", id="lm.lpr", episode=1, step=35, state=0)
        assert [t["response"] for t in step["lm"]["turns"]] == ["episode 1, turn at step 30"]
        assert (step["steps"], step["lm"]["prev_step"], step["lm"]["next_step"]) == (40, 20, None)
    app.state.folder.close()


def test_compare_takes_max_compare_runs_and_no_more(viewer_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run list lets a user pick up to ``max_compare`` runs: that many are compared, one more is refused."""
    from longplay.replays.viewer import server

    monkeypatch.setattr(server, "MAX_COMPARE", 2)
    assert len(_get(viewer_client, "/api/compare", id=["fake-random-0.lpr", "fake-random-1.lpr"])["runs"]) == 2
    refused = viewer_client.get("/api/compare", params={"id": ["fake-random-0.lpr", "fake-random-1.lpr",
                                                               "fake-lm.lpr"]})
    assert refused.status_code == 400 and refused.json()["error"] == "too many runs (3); compare at most 2 at once"


@pytest.mark.parametrize(("host", "status"), [("[::1]:8765", 200), ("[::1]", 200), ("[::2]:8765", 400),
                                              ("127.0.0.1:8765", 200), ("evil.example:8765", 400)])
def test_the_host_check_reads_ipv6_hosts_with_their_port(viewer_client: Any, host: str, status: int) -> None:
    """A browser on ``longplay view --host ::1`` sends ``Host: [::1]:PORT``: it was refused as the host ``[``."""
    assert viewer_client.get("/api/health", headers={"Host": host}).status_code == status
