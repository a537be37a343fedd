"""``longplay serve`` and :class:`RemoteEnv`: an env over HTTP gives the local env's episodes, recorded."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("uvicorn", reason="longplay serve needs uvicorn: pip install 'longplay[viewer]'")

import longplay.envs  # noqa: E402, F401 - registers the env ids
from longplay.agents.remote import RemoteEnv, RemoteError, served_env, served_thread  # noqa: E402
from longplay.envs.env import MAX_SEED  # noqa: E402
from longplay.replays.reader import ReplayReader  # noqa: E402
from longplay.replays.verify import verify  # noqa: E402

ENV_ID = "longplay/QuestMini-v0"


def serve(tmp_path: Path | None, start_state: bytes | None = None, **kwargs: Any) -> Any:
    env = gym.make(ENV_ID, **kwargs)
    return served_thread(served_env(env, ENV_ID, kwargs, runs_dir=tmp_path, start_state=start_state))


def post(url: str, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    return _send(request)


def get(url: str) -> tuple[int, Any]:
    return _send(urllib.request.Request(url))


def _send(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    return status, (json.loads(payload) if payload[:1] in (b"{", b"[") else payload)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@pytest.fixture
def quest_server(tmp_path: Path) -> Iterator[str]:
    with serve(tmp_path, obs_mode="symbolic+text") as url:
        yield url


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels+text"])
def test_a_remote_env_plays_the_local_envs_episodes(obs_mode: str, tmp_path: Path) -> None:
    local = gym.make(ENV_ID, obs_mode=obs_mode, max_steps=250)
    with serve(tmp_path, obs_mode=obs_mode, max_steps=250) as url:
        remote = RemoteEnv(url)
        assert remote.observation_space == local.observation_space and remote.action_space == local.action_space
        rng = np.random.default_rng(0)
        for seed in (3, None):  # an unseeded reset draws its seed as the local env does
            local_obs, local_info = local.reset(seed=seed)
            obs, info = remote.reset(seed=seed)
            assert same(obs, local_obs) and info["milestones"] == local_info["milestones"]
            for _ in range(300):
                action = int(rng.integers(0, 8))
                local_step = local.step(action)
                step = remote.step(action)
                assert same(step[0], local_step[0]) and step[1:4] == local_step[1:4]
                assert step[4]["milestones"] == local_step[4]["milestones"]
                if step[2] or step[3]:
                    break
            assert step[3]  # the 250-step limit ended the episode
        assert np.array_equal(remote.frame(), local.unwrapped.game.frame())
        assert remote.text() == local.unwrapped.game.text()
        assert remote.state()["map_name"] == local.unwrapped.game.state().map_name


def test_gymnasiums_env_checker_passes_on_a_remote_env(quest_server: str) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(RemoteEnv(quest_server), skip_render_check=True)


def test_plain_json_for_any_language_and_the_replay_it_records(tmp_path: Path) -> None:
    with serve(tmp_path, obs_mode="symbolic+text") as url:
        status, info = get(url + "info")
        assert status == 200 and info["buttons"][:4] == ["up", "down", "left", "right"]
        assert info["observation_space"]["spaces"]["symbolic"]["spaces"]["tiles"]["shape"] == [9, 10]
        status, reply = post(url + "reset", {"seed": 0})
        assert status == 200 and len(reply["observation"]["symbolic"]["tiles"]) == 9  # nested lists
        assert "\n" in reply["observation"]["text"]
        for step, button in enumerate(["down", "down", "a", "right"]):
            if step == 1:
                status, logged = post(url + "turn", {"response": "Heading down to the door.", "tokens_in": 1200,
                                                     "tokens_out": 40, "cost_usd": 0.004,
                                                     "tool_calls": [{"name": "press", "arguments": {"b": "down"}}]})
                assert status == 200 and logged["step"] == 1
                assert post(url + "memory", {"name": "notes", "content": "the door is south"})[0] == 200
            status, reply = post(url + "step", {"action": button})
            assert status == 200 and set(reply) == {"observation", "reward", "terminated", "truncated", "info"}
        status, png = get(url + "frame.png")
        assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
        replay = Path(info["replay"])
    with ReplayReader(replay) as reader:
        assert reader.header["agent"] == "remote" and reader.num_steps() == 4
        (turn,) = reader.turns()
        assert (turn.step, turn.tokens_in, turn.cost_usd, turn.extra["kind"]) == (1, 1200, 0.004, "act")
        assert [m.content for m in reader.memory()] == ["the door is south"]
        assert reader.fingerprint_every == 1
    assert verify(replay).ok


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", "step", {"action": 1}, 409, "no episode yet: POST /reset first"),
    ("POST", "turn", {"response": "x"}, 409, "no episode yet: POST /reset first"),
    ("POST", "reset", {"seed": -1}, 400, f"invalid seed -1; use an int 0..{MAX_SEED} or null"),
    ("POST", "reset", {"seed": "x"}, 400, "invalid seed 'x'"),
    ("POST", "reset", b"{not json", 400, "invalid JSON body: "),
    ("POST", "reset", [1, 2], 400, "the body must be a JSON object"),
    ("POST", "reset", {"encoding": "hex"}, 400, "invalid encoding 'hex'; valid: list, base64"),
    ("POST", "reset", {"sead": 3}, 400, "unknown reset field 'sead'; valid: seed, encoding"),
    ("GET", "nope", None, 404, "no route GET /nope; routes: GET /info"),
    ("GET", "step", None, 405, "GET is not allowed on /step"),
])
def test_bad_requests_get_one_line_errors(quest_server: str, method: str, path: str, body: Any, status: int,
                                          message: str) -> None:
    got, reply = post(quest_server + path, body) if method == "POST" else get(quest_server + path)
    assert got == status and reply["error"].startswith(message) and "\n" not in reply["error"]


@pytest.mark.parametrize("body, message", [
    ({}, "missing 'action': an int 0..7 or a button name (up, down"),
    ({"action": 8}, "invalid action 8; use an int 0..7"),
    ({"action": True}, "invalid action True"),
    ({"action": 1.0}, "invalid action 1.0"),
    ({"action": "jump"}, "invalid action 'jump'; buttons: up, down, left, right, a, b, start, select"),
])
def test_bad_actions_are_refused_and_change_nothing(quest_server: str, body: Any, message: str) -> None:
    post(quest_server + "reset", {"seed": 0})
    got, reply = post(quest_server + "step", body)
    assert got == 400 and reply["error"].startswith(message)
    assert get(quest_server + "info")[1]["step"] == 0


@pytest.mark.parametrize("body, message", [
    ({"tokens_in": -3}, "invalid tokens_in -3; use a number >= 0"),
    ({"tokens_in": "many"}, "invalid turn field 'tokens_in': 'many' is not int"),
    ({"cost": 1}, "unknown turn field 'cost'; valid: response, tool_calls"),
    ({"extra": [1]}, "invalid 'extra'; use a JSON object"),
    ({"latency_s": -2.5}, "invalid latency_s -2.5; use a number >= 0"),
    # a negative cost or cache count would lower every sum of the run's spending (its cost, a sweep's budget)
    ({"cost_usd": -0.5}, "invalid cost_usd -0.5; use a number >= 0"),
    ({"tokens_cache_write": -1}, "invalid tokens_cache_write -1; use a number >= 0"),
])
def test_bad_turns_are_refused(quest_server: str, body: Any, message: str) -> None:
    post(quest_server + "reset", {"seed": 0})
    got, reply = post(quest_server + "turn", body)
    assert got == 400 and reply["error"].startswith(message)


def test_a_turn_takes_null_for_any_field_it_leaves_out(tmp_path: Path) -> None:
    """A client that writes its optional fields as null (a struct of pointers, a pydantic model) had its turn
    refused for "extra": null (400 "invalid 'extra'"), which /memory takes, as /turn takes null for every other
    field."""
    with serve(tmp_path, obs_mode="text") as url:
        post(url + "reset", {"seed": 0})
        body = {"response": "go", "tokens_in": 5, "tool_calls": None, "cost_usd": None, "error": None, "extra": None}
        status, reply = post(url + "turn", body)
        assert status == 200, reply
        replay = replay_of(url)
    with ReplayReader(replay) as reader:
        (turn,) = reader.turns()
        assert (turn.response, turn.tokens_in, turn.extra) == ("go", 5, {"kind": "act"})


def test_a_memory_field_it_does_not_take_is_refused(quest_server: str) -> None:
    # a misspelt field, or a "step" the snapshot does not take, was ignored: the snapshot went in at another step
    post(quest_server + "reset", {"seed": 0})
    got, reply = post(quest_server + "memory", {"name": "notes", "content": "x", "step": 3})
    assert got == 400 and reply["error"] == "unknown memory field 'step'; valid: name, content, extra"
    assert post(quest_server + "memory", {"name": "notes", "content": "x", "extra": {"k": 1}})[0] == 200


def test_a_body_that_is_not_declared_json_is_refused(quest_server: str) -> None:
    # a web page may send text/plain to another origin without asking first; application/json it may not
    got, reply = post(quest_server + "reset", {"seed": 0}, content_type="text/plain")
    assert got == 415 and reply["error"] == "send the body as JSON with Content-Type: application/json"
    assert get(quest_server + "info")[1]["episode"] == -1


def test_a_remote_env_takes_the_actions_the_local_env_takes(quest_server: str) -> None:
    """An SB3 policy's ``predict`` gives a 0-d array for one observation: the local env takes it, and RemoteEnv
    raised TypeError ("Object of type ndarray is not JSON serializable"), as it did for any other array."""
    local, remote = gym.make(ENV_ID, obs_mode="symbolic+text"), RemoteEnv(quest_server)
    local.reset(seed=0)
    remote.reset(seed=0)
    for action in (np.array(1), np.float64(3.0), np.int8(2), 3.0):
        assert remote.step(action)[0]["text"] == local.step(action)[0]["text"]
    for action in (np.array([1, 2]), True, 3.5, None, 9):
        with pytest.raises(ValueError, match=f"^invalid action {re.escape(repr(action))}; "):
            remote.step(action)
    assert get(quest_server + "info")[1]["step"] == 4


def test_an_ended_episode_takes_no_step_until_a_reset(tmp_path: Path) -> None:
    with serve(tmp_path, max_steps=3) as url:
        remote = RemoteEnv(url)
        remote.reset(seed=1)
        assert [remote.step(0)[3] for _ in range(3)] == [False, False, True]
        with pytest.raises(RemoteError, match="the episode reached its step limit at step 3: POST /reset"):
            remote.step(0)
        remote.reset(seed=2)
        remote.step(0)
        with pytest.raises(ValueError, match="invalid action 9"):  # as a local env raises
            remote.step(9)


def test_without_a_replay_turns_have_nowhere_to_go(tmp_path: Path) -> None:
    with serve(None) as url:
        remote = RemoteEnv(url)
        assert remote.remote_info["replay"] is None
        remote.reset(seed=0)
        with pytest.raises(RemoteError, match=r"records no replay \(--no-record\)"):
            remote.log_turn(response="hello")
    assert not list(tmp_path.iterdir())


def test_no_server_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"no env server at http://127.0.0.1:{port}/"):
        RemoteEnv(f"http://127.0.0.1:{port}")


@pytest.mark.parametrize("url", ["http://h:abc/", "http://h:99999/", "http://[::1/", "ftp://h/", "http:///x",
                                 "http://:8765/"])
def test_a_bad_url_is_one_line_naming_it(url: str) -> None:
    # A bad port was urllib's "Port could not be cast to integer value as 'abc'", naming neither URL nor the fix;
    # a URL with no host went to 127.0.0.1 unasked.
    with pytest.raises(ValueError) as refused:
        RemoteEnv(url, timeout=1)
    assert str(refused.value) == f"invalid env server URL {url!r}; use http://HOST:PORT/"


def test_a_server_that_does_not_answer_in_time_is_not_called_missing() -> None:
    """A server that took the connection but gave no answer within the timeout was "no env server at URL (timed
    out)": the client was told to look for a server that was there."""
    import socket

    with socket.socket() as listening:  # takes connections (the backlog) and never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        with pytest.raises(TimeoutError, match=f"^the env server at http://127.0.0.1:{port}/ did not answer within "
                                               r"0.2 s \(RemoteEnv's timeout\)$"):
            RemoteEnv(f"http://127.0.0.1:{port}", timeout=0.2)


def test_longplay_serve_serves_until_ctrl_c_and_keeps_the_replay(tmp_path: Path, child_lines: Any) -> None:
    process = subprocess.Popen([sys.executable, "-m", "longplay.agents.cli", "serve", "--env", "QuestMini-v0",
                                "--port", "0", "--runs-dir", str(tmp_path), "--set", "obs_mode=text"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        (first,) = child_lines(process)
        assert first.startswith("longplay: serving longplay/QuestMini-v0 at http://127.0.0.1:"), first
        url = first.split(" at ")[1].split()[0]
        remote = RemoteEnv(url)
        obs, _ = remote.reset(seed=5)
        assert isinstance(obs, str) and remote.step("down")[0] != ""
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert "served 1 episode; replay: " in out
    (replay,) = tmp_path.glob("*.lpr")
    assert verify(replay).ok


def test_a_server_stopped_before_any_reset_keeps_no_replay(tmp_path: Path, child_lines: Any) -> None:
    # the replay of no episode it left failed verify ("the run never reset its env") and could not be resumed
    process = subprocess.Popen([sys.executable, "-m", "longplay.agents.cli", "serve", "--port", "0", "--runs-dir",
                                str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert RemoteEnv(child_lines(process)[0].split(" at ")[1].split()[0]).remote_info["episode"] == -1
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert out.endswith("longplay: served 0 episodes\n") and not list(tmp_path.iterdir())


def test_longplay_serve_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from longplay.agents.cli import main

    assert main(["serve", "--env", "Nope-v0"]) == 2
    assert "unknown env 'Nope-v0'" in capsys.readouterr().err
    assert main(["serve", "--set", "size=huge", "--no-record"]) == 2
    assert "valid sizes" in capsys.readouterr().err
    assert main(["serve", "--set", "size=huge", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "valid sizes" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # an env it cannot make leaves no runs folder behind


def test_an_oversized_body_is_refused_before_it_is_read(quest_server: str) -> None:
    import http.client
    import urllib.parse

    post(quest_server + "reset", {"seed": 0})
    where = urllib.parse.urlsplit(quest_server)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.putrequest("POST", "/memory")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(5 * 1024 * 1024))
    conn.endheaders()  # the body never comes: the answer does not wait for it
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read()) == {"error": "the body is over 4,194,304 bytes"}
    conn.close()


def test_an_unexpected_failure_is_one_line_and_the_server_goes_on(quest_server: str, monkeypatch) -> None:
    from longplay.envs.quest.game import QuestEnv

    post(quest_server + "reset", {"seed": 0})
    monkeypatch.setattr(QuestEnv, "step", lambda self, action: 1 / 0)
    got, reply = post(quest_server + "step", {"action": 0})
    assert got == 500 and reply["error"] == "ZeroDivisionError: division by zero"
    monkeypatch.undo()
    assert post(quest_server + "step", {"action": 0})[0] == 200


def _served_run(tmp_path: Path, episodes: list[list[int]], **kwargs: Any) -> Path:
    """A served run: one episode per list of actions, then the server stopped (Ctrl+C)."""
    with serve(tmp_path, **kwargs) as url:
        remote = RemoteEnv(url)
        for seed, actions in enumerate(episodes):
            remote.reset(seed=seed)
            for action in actions:
                remote.step(action)
        return Path(remote.remote_info["replay"])


def test_a_stopped_served_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    from longplay.agents.remote import resumed_env

    rng = np.random.default_rng(1)
    first, second, more = (list(rng.integers(0, 8, n)) for n in (40, 150, 60))
    replay = _served_run(tmp_path, [first, second], obs_mode="text")
    local = gym.make(ENV_ID, obs_mode="text")
    local.reset(seed=1)
    for action in second:
        local.step(int(action))
    with served_thread(resumed_env(replay)) as url:
        remote = RemoteEnv(url)
        assert (remote.remote_info["episode"], remote.remote_info["step"]) == (1, 150)
        assert remote.text() == local.unwrapped.game.text()  # where the run stopped
        for action in more:
            assert remote.step(int(action))[0] == local.step(int(action))[0]
    with ReplayReader(replay) as reader:
        assert [e.recorded_steps for e in reader.episodes()] == [40, 210]
        assert reader.actions(1) == bytes([*second, *more])
    report = verify(replay)
    assert report.ok and report.steps == 250, report.summary()


def test_a_served_replay_is_named_served_and_resumes_and_compares_as_before(tmp_path: Path) -> None:
    # named "...__noseed.lpr" (fixed when the server starts, before any reset), it said its client gave no seed
    # though every episode had one; the episodes' seeds are in the replay, and --resume and compare read the file
    from longplay.agents.remote import resumed_env
    from longplay.replays.compare import load_runs

    replay = _served_run(tmp_path, [[0, 1, 2], [3, 4]])
    assert re.fullmatch(r"\d{8}-\d{6}__QuestMini-v0__remote__served\.lpr", replay.name), replay.name
    with ReplayReader(replay) as reader:
        assert [e.seed for e in reader.episodes()] == [0, 1]
    with served_thread(resumed_env(replay)) as url:
        assert RemoteEnv(url).remote_info["replay"] == str(replay)
    assert [(run.group, run.seed) for run in load_runs([replay])] == [("remote", 0), ("remote", 1)]


def test_a_resumed_served_run_stays_locked_from_the_check_to_the_recorder(tmp_path: Path, monkeypatch) -> None:
    # resumed_env checked the lock, let it go, replayed the run, and the recorder took a new one: another server
    # could have begun recording into the replay in between.
    from longplay.agents.remote import resumed_env
    from longplay.replays import recorder as recorder_module
    from longplay.replays.schema import ReplayError

    replay = _served_run(tmp_path, [[1, 2, 3, 1]])
    real, taken, replaying = recorder_module.lock_replay, [], []

    def counted(path: object) -> object:
        taken.append(real(path))
        return taken[-1]

    def checked_make(env_id: str, kwargs: dict) -> gym.Env:
        with pytest.raises(ReplayError, match="is being recorded"):
            real(replay)  # locked while the run is replayed
        replaying.append(True)
        return gym.make(env_id, **kwargs)

    monkeypatch.setattr(recorder_module, "lock_replay", counted)
    served = resumed_env(replay, checked_make)
    try:
        assert replaying and len(taken) == 1 and served.env._lock is taken[0]
    finally:
        served.env.close()
    assert real(replay) is not None  # free again once closed


def test_a_game_boy_run_served_before_state_hash_versions_resumes(tmp_path: Path) -> None:
    """A Game Boy run served before the state hash covered cartridge RAM holds version 1 hashes (its identity no
    state_hash_version): --resume rebuilt a game hashing as version 2 and refused it ("state hashes differ")."""
    import sqlite3

    from longplay.agents.remote import resumed_env

    pytest.importorskip("pyboy")
    env_id, old = "longplay/TestCart-v0", {"state_hash_version": 1}
    with served_thread(served_env(gym.make(env_id, **old), env_id, old, runs_dir=tmp_path)) as url:
        remote = RemoteEnv(url)
        remote.reset(seed=0)
        for action in (3, 3, 1):
            remote.step(action)
        replay = Path(remote.remote_info["replay"])
    conn = sqlite3.connect(replay)  # as an older longplay wrote it: no state_hash_version option
    conn.execute("UPDATE header SET value = json_remove(value, '$.state_hash_version') WHERE key = 'env_kwargs'")
    conn.commit()
    conn.close()
    with served_thread(resumed_env(replay)) as url:
        remote = RemoteEnv(url)
        assert remote.remote_info["step"] == 3
        remote.step(0)
    with ReplayReader(replay) as reader:
        assert reader.actions(0) == bytes([3, 3, 1, 0]) and "state_hash_version" not in reader.header["identity"]
    report = verify(replay)
    assert report.ok and report.steps == 4, report.summary()


def test_a_finished_run_or_another_game_is_not_resumed(tmp_path: Path) -> None:
    from longplay.agents.remote import resumed_env

    ended = _served_run(tmp_path / "a", [[0, 1, 2]], max_steps=3)
    with pytest.raises(ValueError, match="its last episode reached its step limit at step 3 .serve without --resume"):
        resumed_env(ended)
    replay = _served_run(tmp_path / "b", [[1, 1, 3]])
    other_world = lambda env_id, kwargs: gym.make(env_id, **kwargs, world_seed=12345)  # noqa: E731
    with pytest.raises(ValueError, match="the rebuilt game differs from the replay at its start"):
        resumed_env(replay, other_world)


def test_longplay_serve_resume_and_its_errors(tmp_path: Path, child_lines: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from longplay.agents.cli import main

    replay = _served_run(tmp_path, [[1, 1, 3]])
    process = subprocess.Popen([sys.executable, "-m", "longplay.agents.cli", "serve", "--resume", str(replay),
                                "--port", "0", "--set", "size=small"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = child_lines(process, 3)
        assert lines[0] == "longplay: note: --set ignored with --resume (the run keeps its own)\n"
        assert lines[2] == f"resumed at episode 0 step 3: {replay}\n"
        remote = RemoteEnv(lines[1].split(" at ")[1].split()[0])
        remote.step(0)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert verify(replay).steps == 4
    assert main(["serve", "--resume", str(tmp_path / "nope.lpr")]) == 2
    assert capsys.readouterr().err == f"longplay: error: no such replay: {tmp_path / 'nope.lpr'}\n"
    (tmp_path / "junk.lpr").write_text("not a replay")
    assert main(["serve", "--resume", str(tmp_path / "junk.lpr")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("longplay: error: ") and err.count("\n") == 1


def test_a_killed_server_loses_at_most_a_second_and_resumes(tmp_path: Path, child_lines: Any) -> None:
    import time

    process = subprocess.Popen([sys.executable, "-m", "longplay.agents.cli", "serve", "--port", "0", "--runs-dir",
                                str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        remote = RemoteEnv(child_lines(process)[0].split(" at ")[1].split()[0])
        replay = Path(remote.remote_info["replay"])
        remote.reset(seed=0)
        for _ in range(20):
            remote.step(1)
        remote.step(3)
        time.sleep(1.5)  # over a second after the last request: the run so far is committed
    finally:
        process.kill()  # no Ctrl+C: nothing closes the replay
        process.communicate(timeout=30)
    from longplay.agents.remote import resumed_env

    with served_thread(resumed_env(replay)) as url:
        assert RemoteEnv(url).remote_info["step"] == 21
    assert verify(replay).ok


def test_a_seed_the_replay_cannot_hold_is_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    # 2**63 passed the env and then failed every commit of the replay after it (a 500 for every request)
    with serve(tmp_path) as url:
        # the bound the message names is the one checked: 2**63-1, the largest seed the replay holds
        assert post(url + "reset", {"seed": MAX_SEED + 1}) == (400, {"error": "invalid seed 9223372036854775808; use "
                                                                             "an int 0..9223372036854775807 or null"})
        remote = RemoteEnv(url)
        remote.reset(seed=2**63 - 1)
        remote.step(0)
        replay = Path(remote.remote_info["replay"])
    with ReplayReader(replay) as reader:
        assert [e.seed for e in reader.episodes()] == [2**63 - 1]
    assert verify(replay).ok


@pytest.mark.parametrize("path, body, message", [
    ("turn", {"tokens_in": 2**63}, "invalid turn field 'tokens_in': 9223372036854775808 is out of range"),
    ("turn", {"latency_s": 10**30}, "invalid turn field 'latency_s': 1000000000000000000000000000000 is out of range"),
    ("turn", b'{"cost_usd": NaN}', "invalid JSON body: NaN is not a JSON number"),
    ("turn", b'{"cost_usd": 1e400}', "invalid JSON body: the number 1e400 is out of range"),
    ("turn", b'{"response": "\\ud800"}', "invalid JSON body: a string holds a lone surrogate (not Unicode)"),
    ("memory", b'{"name": "notes", "content": "\\udc00"}', "invalid JSON body: a string holds a lone surrogate"),
    ("reset", b'{"seed": ' + b"1" * 5000 + b"}", "invalid JSON body: Exceeds the limit (4300 digits)"),
])
def test_values_the_replay_cannot_hold_are_refused_and_the_run_goes_on(tmp_path: Path, path: str, body: Any,
                                                                        message: str) -> None:
    # each was taken (200), then failed every commit of the replay: every later request answered 500 and the run
    # since the last commit was lost (the last one: a plain-text 500)
    with serve(tmp_path) as url:
        remote = RemoteEnv(url)
        remote.reset(seed=0)
        got, reply = post(url + path, body)
        assert got == 400 and reply["error"].startswith(message) and "\n" not in reply["error"]
        remote.step(1)
        remote.log_turn(response="ok", tokens_in=3)
        replay = Path(remote.remote_info["replay"])
    with ReplayReader(replay) as reader:
        assert [t.response for t in reader.turns()] == ["ok"] and reader.num_steps() == 1
    assert verify(replay).ok


def test_a_replay_being_served_is_not_served_twice(tmp_path: Path) -> None:
    # two servers on one replay wrote the same steps: the second to commit failed every commit after, its run lost
    from longplay.agents.remote import resumed_env
    from longplay.replays.schema import ReplayError

    with serve(tmp_path) as url:
        remote = RemoteEnv(url)
        remote.reset(seed=0)
        remote.step(1)
        replay = Path(remote.remote_info["replay"])
        with pytest.raises(ReplayError, match="is being recorded .by a run or server still going.: stop it first"):
            resumed_env(replay)
    with served_thread(resumed_env(replay)) as url:
        with pytest.raises(ReplayError, match="is being recorded"):
            resumed_env(replay)
        RemoteEnv(url).step(2)
    with served_thread(resumed_env(replay)) as url:  # free once that server stopped
        RemoteEnv(url).step(3)
    assert not Path(f"{replay}-wal").exists()
    with ReplayReader(replay) as reader:
        assert reader.actions(0) == bytes([1, 2, 3])
    assert verify(replay).ok


def test_what_comes_before_a_pause_is_committed_within_a_second(tmp_path: Path) -> None:
    # the last step and memory before a pause (a model's turn) stayed uncommitted for as long as it lasted: a
    # server killed in it lost them, however long ago they came
    import time

    with serve(tmp_path) as url:
        remote = RemoteEnv(url)
        remote.reset(seed=0)
        remote.step(1)
        remote.log_memory("notes", "before the pause")
        time.sleep(1.5)
        with ReplayReader(Path(remote.remote_info["replay"])) as reader:
            assert reader.num_steps() == 1 and [m.content for m in reader.memory()] == ["before the pause"]
        remote.step(2)


def test_an_lm_run_with_a_checkpoint_is_not_served_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # served on, its steps were dropped without a word by the run's own resume (which truncates to the checkpoint)
    from longplay.agents.cli import main
    from longplay.agents.remote import resumed_env

    assert main(["run", "--env", "QuestMini-v0", "--agent", "lm", "--steps", "3", "--runs-dir", str(tmp_path),
                 "--quiet"]) == 0
    (replay,) = tmp_path.glob("*.lpr")
    with pytest.raises(ValueError) as refused:
        resumed_env(replay)
    assert str(refused.value) == (f"cannot resume {replay}: it is an LM run with a checkpoint ({replay.stem}.ckpt); "
                                  f"go on with longplay run --agent lm --resume {replay}")
    assert verify(replay).steps == 3


def test_only_a_served_run_is_served_on_and_a_label_is_kept(tmp_path: Path) -> None:
    # served on, a random agent's run credited the served steps to "random" in compare and the viewer
    from longplay.agents.cli import main
    from longplay.agents.remote import resumed_env

    assert main(["run", "--env", "QuestMini-v0", "--agent", "random", "--steps", "30", "--runs-dir",
                 str(tmp_path / "run"), "--quiet"]) == 0
    (replay,) = (tmp_path / "run").glob("*.lpr")
    with pytest.raises(ValueError, match="longplay serve did not record it .its agent is 'random'."):
        resumed_env(replay)
    served = served_env(gym.make(ENV_ID), ENV_ID, {}, runs_dir=tmp_path / "served", label="baseline")
    with served_thread(served) as url:
        RemoteEnv(url).reset(seed=0)
    with ReplayReader(served.replay) as reader:
        assert reader.header["served"] is True and reader.header["label"] == "baseline"


@pytest.mark.parametrize("host, status", [("evil.example", 400), ("evil.example:8766", 400), ("localhost:8766", 200),
                                          ("[::1]:8766", 200), ("127.0.0.1", 200)])
def test_a_page_elsewhere_cannot_reach_a_loopback_server(quest_server: str, host: str, status: int) -> None:
    import http.client
    import urllib.parse

    where = urllib.parse.urlsplit(quest_server)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.putrequest("GET", "/info", skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == status
    if status == 400:
        assert body["error"].startswith(f"invalid Host header {host!r}; this server answers to ")


# ======================================================================================= start states
@pytest.fixture(scope="module")
def state(oracle_state) -> tuple[bytes, set[str]]:
    """(QuestMini's state after 150 of the oracle's steps, the milestones it holds)."""
    data, held = oracle_state(ENV_ID, steps=150)
    assert held
    return data, set(held)


def replay_of(url: str) -> Path:
    return Path(get(url + "info")[1]["replay"])


def test_a_remote_reset_from_a_state_plays_as_the_local_env_and_verifies(state, tmp_path: Path) -> None:
    data, held = state
    local = gym.make(ENV_ID, obs_mode="symbolic")
    rng = np.random.default_rng(0)
    with serve(tmp_path, obs_mode="symbolic") as url:
        remote = RemoteEnv(url)
        for seed, options in ((3, {"state": data}), (4, None), (5, {"state": None})):
            local_obs, local_info = local.reset(seed=seed, options=options)
            obs, info = remote.reset(seed=seed, options=options)
            assert same(obs, local_obs) and info["milestones"] == local_info["milestones"]
            assert (set(info["milestones"]) == held) == (options == {"state": data})
            for _ in range(40):
                action = int(rng.integers(0, 8))
                local_step, step = local.step(action), remote.step(action)
                assert same(step[0], local_step[0]) and step[1:4] == local_step[1:4]
        replay = replay_of(url)
    report = verify(replay)
    assert report.ok and report.steps == 120, report.summary()
    with ReplayReader(replay) as reader:
        assert reader.keyframe(0, 0) == data
        assert [reader.start_state(e.episode) is not None for e in reader.episodes()] == [True, False, False]


def test_plain_json_carries_a_state_as_base64(state, tmp_path: Path) -> None:
    data, held = state
    wrapped = base64.encodebytes(data).decode()  # what `base64 FILE` prints: lines of 76 characters
    assert "\n" in wrapped
    with serve(tmp_path, obs_mode="text") as url:
        status, reply = post(url + "reset", {"seed": 0, "options": {"state": wrapped}})
        assert status == 200 and set(reply["info"]["milestones"]) == held
        assert all(step == 0 for step in reply["info"]["milestones"].values())
        assert post(url + "step", {"action": "up"})[0] == 200


@pytest.mark.parametrize(("options", "message"), [
    ([1], "invalid 'options'; use a JSON object"),
    ({"stat": "AAAA"}, "unknown reset option 'stat'; valid: state"),
    ({"state": 3}, "invalid reset option 'state': a int; use the base64 of a save state's bytes"),
    ({"state": "not base64!"}, "invalid reset option 'state': not base64 ("),
    ({"state": "é"}, "invalid reset option 'state': not base64 ("),
    ({"state": ""}, "invalid reset option 'state': it is empty"),
])
def test_bad_reset_options_are_refused_and_the_episode_goes_on(options: Any, message: str, tmp_path: Path) -> None:
    with serve(tmp_path, obs_mode="text") as url:
        post(url + "reset", {"seed": 0})
        post(url + "step", {"action": "down"})
        status, reply = post(url + "reset", {"seed": 1, "options": options})
        assert status == 400 and reply["error"].startswith(message) and "\n" not in reply["error"], reply
        assert post(url + "step", {"action": "down"})[0] == 200
        info = get(url + "info")[1]
        assert (info["episode"], info["step"]) == (0, 2)
        replay = replay_of(url)
    assert verify(replay).ok


def test_a_state_the_game_refuses_is_one_line_and_the_episode_goes_on(state, tmp_path: Path) -> None:
    """A refused state ended the episode that was playing (the game was reset before the state failed), and steps
    answered 409 until a reset: the episode was lost. It goes on now, as if the reset had not been asked for."""
    data, held = state
    local = gym.make(ENV_ID, obs_mode="text")
    local.reset(seed=0)
    with serve(tmp_path, obs_mode="text") as url:
        remote = RemoteEnv(url)
        with pytest.raises(ValueError, match="^cannot start from this state: not a quest save state"):
            remote.reset(seed=0, options={"state": b"hello"})  # as the local env raises
        # No episode to go on with: played on, it would start from a state nobody chose.
        with pytest.raises(RemoteError, match=r"the last reset failed \(cannot start from this state: not a quest"):
            remote.step(1)
        remote.reset(seed=0)
        remote.step(1)
        local.step(1)
        for seed, bad in ((1, b"hello"), (None, data[:-6])):
            with pytest.raises(ValueError, match="^cannot start from this state: "):
                remote.reset(seed=seed, options={"state": bad})
        with pytest.raises(ValueError, match="unknown reset option 'stat'"):  # refused before any request
            remote.reset(seed=1, options={"stat": data})
        with pytest.raises(ValueError, match="must be bytes"):
            remote.reset(seed=1, options={"state": "AAAA"})
        assert remote.text() == local.unwrapped.game.text()
        assert remote.step(2)[0] == local.step(2)[0]
        assert (remote.remote_info | get(url + "info")[1])["step"] == 2
        remote.reset()
        local.reset()
        # The seed was drawn as if no reset had been refused (a refused one had reseeded np_random or drawn from it).
        assert remote.np_random.bit_generator.state == local.unwrapped.np_random.bit_generator.state
        _, info = remote.reset(seed=1, options={"state": data})
        assert set(info["milestones"]) == held
        remote.step(1)
        replay = replay_of(url)
    report = verify(replay)
    assert report.ok and report.steps == 3, report.summary()
    with ReplayReader(replay) as reader:
        assert [(e.end_step, e.end_reason) for e in reader.episodes()] == [(2, "reset"), (0, "reset"), (1, "closed")]


def test_the_servers_start_state_starts_every_reset_unless_a_request_says_otherwise(state, tmp_path: Path) -> None:
    data, held = state
    digest = hashlib.sha256(data).hexdigest()
    with serve(tmp_path, start_state=data, obs_mode="text") as url:
        remote = RemoteEnv(url)
        assert remote.remote_info["start_state"] == {"sha256": digest, "bytes": len(data)}
        assert set(remote.reset(seed=0)[1]["milestones"]) == held
        remote.step(0)
        assert set(remote.reset(seed=1, options={})[1]["milestones"]) == held  # no "state": the server's
        remote.step(0)
        # "options": null is Gymnasium's options=None, as "seed": null is seed=None (it was a 400)
        status, reply = post(url + "reset", {"seed": None, "options": None})
        assert status == 200 and set(reply["info"]["milestones"]) == held, reply
        remote.step(0)
        assert not set(remote.reset(seed=2, options={"state": None})[1]["milestones"]) & held  # the game's start
        remote.step(0)
        replay = replay_of(url)
    report = verify(replay)
    assert report.ok and report.steps == 4, report.summary()
    with ReplayReader(replay) as reader:
        assert reader.header["served_start_state"] == {"sha256": digest, "bytes": len(data)}
        assert reader.header["start_state"] == {"sha256": digest}


def test_a_start_state_the_game_refuses_is_refused_before_a_replay(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^cannot start from this state: not a quest save state"):
        served_env(gym.make(ENV_ID), ENV_ID, {}, runs_dir=tmp_path, start_state=b"hello")
    assert not list(tmp_path.iterdir())


def _served_with_state(tmp_path: Path, start_state: bytes | None, resets: list[dict[str, Any] | None]) -> Path:
    """A served run of one episode of 5 presses per reset (its options), then the server stopped."""
    with serve(tmp_path, start_state=start_state, obs_mode="text") as url:
        remote = RemoteEnv(url)
        for seed, options in enumerate(resets):
            remote.reset(seed=seed, options=options)
            for _ in range(5):
                remote.step(1)
        return replay_of(url)


def test_a_run_served_from_a_state_resumes_with_it(state, tmp_path: Path) -> None:
    from longplay.agents.remote import resumed_env

    data, held = state
    replay = _served_with_state(tmp_path, data, [None, {"state": None}])
    with served_thread(resumed_env(replay)) as url:
        remote = RemoteEnv(url)
        assert remote.remote_info["start_state"]["sha256"] == hashlib.sha256(data).hexdigest()
        remote.step(2)  # the last episode, from the game's own start, goes on
        assert set(remote.reset(seed=7)[1]["milestones"]) == held  # a new one starts where the server's did
        remote.step(2)
    report = verify(replay)
    assert report.ok and report.steps == 12, report.summary()


def _views(url: str) -> tuple[Any, ...]:
    """What GET /text, /state, /frame and /frame.png show."""
    return tuple(get(url + route)[1] for route in ("text", "state", "frame", "frame.png"))


def _stopped_after_four_steps(tmp_path: Path, refused: bytes | None = None) -> tuple[Path, tuple[Any, ...]]:
    """A served run of one episode of 4 presses, then (given ``refused``) a reset from that state, which the game
    refuses, then stopped: its replay and the views at its end (checked to be those before the refused reset)."""
    with serve(tmp_path, obs_mode="text") as url:
        remote = RemoteEnv(url)
        remote.reset(seed=0)
        for _ in range(4):
            remote.step(1)
        views = _views(url)
        if refused is not None:
            with pytest.raises(ValueError, match="cannot start from this state"):
                remote.reset(seed=1, options={"state": refused})
            assert _views(url) == views
        return replay_of(url), views


def test_a_run_stopped_after_a_refused_reset_resumes_where_it_stopped(tmp_path: Path) -> None:
    """The views after a refused reset showed the start of the refused reset's seed on the server (the game had
    been reset), and the ended episode's last screen on the server --resumed from its replay. Both show the
    episode, which goes on."""
    from longplay.agents.remote import resumed_env

    replay, before = _stopped_after_four_steps(tmp_path, refused=b"hello")
    with served_thread(resumed_env(replay)) as url:
        assert _views(url) == before
        assert post(url + "step", {"action": "down"})[0] == 200
    report = verify(replay)
    assert report.ok and report.steps == 5, report.summary()
    with ReplayReader(replay) as reader:
        assert [(e.end_step, e.end_reason) for e in reader.episodes()] == [(5, "closed")]


def test_a_run_ended_by_a_refused_reset_resumes_waiting_for_a_reset(state, tmp_path: Path) -> None:
    """A server before refused resets put the episode back ended the episode at a refused reset ("reset", its last
    episode): resumed, the ended episode does not go on (its end was reopened and steps recorded after it), and
    the views show where it ended, as for an episode that was finished."""
    import sqlite3

    from longplay.agents.remote import resumed_env

    data, held = state
    replay, last = _stopped_after_four_steps(tmp_path)
    with sqlite3.connect(replay) as conn:  # what such a server recorded
        conn.execute("UPDATE episodes SET end_reason = 'reset' WHERE episode = 0")
    conn.close()
    with served_thread(resumed_env(replay)) as url:
        status, reply = post(url + "step", {"action": "down"})
        assert status == 409 and reply["error"].startswith("the last reset failed ("), reply
        assert _views(url) == last
        with pytest.raises(ValueError, match="cannot start from this state"):
            RemoteEnv(url).reset(seed=1, options={"state": b"hello"})
        assert post(url + "step", {"action": "down"})[0] == 409 and _views(url) == last
    with served_thread(resumed_env(replay)) as url:
        remote = RemoteEnv(url)
        assert set(remote.reset(seed=1, options={"state": data})[1]["milestones"]) == held
        remote.step(1)
    report = verify(replay)
    assert report.ok and report.steps == 5, report.summary()
    with ReplayReader(replay) as reader:
        assert [(e.end_step, e.end_reason) for e in reader.episodes()] == [(4, "reset"), (1, "closed")]


def test_a_resumed_run_whose_replay_lacks_its_start_state_needs_the_file(state, tmp_path: Path) -> None:
    from longplay.agents.remote import resumed_env

    data, held = state
    replay = _served_with_state(tmp_path / "a", data, [{"state": None}])  # no episode started from the server's state
    with pytest.raises(ValueError, match="no episode started from, so the replay does not hold it; give the file"):
        resumed_env(replay)
    with pytest.raises(ValueError, match="the run was served from another state"):
        resumed_env(replay, start_state=b"other")
    with served_thread(resumed_env(replay, start_state=data)) as url:
        assert set(RemoteEnv(url).reset(seed=1)[1]["milestones"]) == held
    assert verify(replay).ok
    plain = _served_with_state(tmp_path / "b", None, [None])
    with pytest.raises(ValueError, match="it was served without one"):
        resumed_env(plain, start_state=data)


def test_longplay_serve_start_state_and_its_errors(state, tmp_path: Path, child_lines: Any, capsys) -> None:
    from longplay.agents.cli import main

    data, held = state
    path = tmp_path / "s.state"
    path.write_bytes(data)
    process = subprocess.Popen([sys.executable, "-m", "longplay.agents.cli", "serve", "--port", "0", "--runs-dir",
                                str(tmp_path / "runs"), "--start-state", str(path), "--set", "obs_mode=text"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = child_lines(process, 3)
        assert lines[2].startswith(f"every reset starts from {path} unless its request's options name a state")
        remote = RemoteEnv(lines[0].split(" at ")[1].split()[0])
        assert set(remote.reset(seed=0)[1]["milestones"]) == held
        remote.step(1)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err, err
    (replay,) = (tmp_path / "runs").glob("*.lpr")
    assert verify(replay).ok
    (tmp_path / "text.state").write_text("hello")
    for name, fragment in (("missing.state", "no such file"), ("text.state", "cannot start from this state")):
        code = main(["serve", "--port", "0", "--runs-dir", str(tmp_path / "bad"), "--start-state",
                     str(tmp_path / name)])
        err = capsys.readouterr().err
        assert code == 2 and f"invalid --start-state {str(tmp_path / name)!r}: " in err and fragment in err, err
        assert err.count("\n") == 1
    assert not (tmp_path / "bad").exists()  # refused before the runs folder was made (it was left empty)


@contextlib.contextmanager
def dropping_proxy(url: str, drop: bytes) -> Iterator[str]:
    """A TCP proxy to ``url`` that, once, forwards the first request whose head holds ``drop`` and then closes
    the client's connection when the answer comes: the server acted on it, the client never saw the answer."""
    target = urllib.parse.urlsplit(url)
    listener = socket.create_server(("127.0.0.1", 0))
    pending = [drop]

    def carry(client: socket.socket) -> None:
        upstream = socket.create_connection((target.hostname, target.port))
        dropping = threading.Event()

        def up() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    if pending and pending[0] in data:
                        pending.clear()
                        dropping.set()
                    upstream.sendall(data)
            upstream.close()

        threading.Thread(target=up, daemon=True).start()
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                if dropping.is_set():
                    break
                client.sendall(data)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)
        client.close()
        upstream.close()

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=carry, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()
    assert not pending, f"no request held {drop!r}"


@pytest.mark.parametrize("drop", [b"POST /reset ", b"POST /step ", b"POST /turn "])
def test_a_request_sent_again_after_a_dropped_connection_acts_once(drop: bytes, tmp_path: Path) -> None:
    # RemoteEnv sends a request again when the connection drops; if the server had acted on it, a step was taken
    # twice (a turn logged twice, a second episode started), and the agent's run and the replay disagreed.
    local = gym.make(ENV_ID, obs_mode="symbolic")
    with serve(tmp_path, obs_mode="symbolic") as url, dropping_proxy(url, drop) as proxied:
        remote = RemoteEnv(proxied)
        assert same(remote.reset(seed=0)[0], local.reset(seed=0)[0])
        for action in (1, 1, 4, 3):
            if action == 4:
                remote.log_turn(response="press a", tokens_in=10)
            step, local_step = remote.step(action), local.step(action)
            assert same(step[0], local_step[0]) and step[1:4] == local_step[1:4]
        assert get(url + "info")[1]["episode"] == 0 and get(url + "info")[1]["step"] == 4
        replay = Path(get(url + "info")[1]["replay"])
    with ReplayReader(replay) as reader:
        assert len(reader.episodes()) == 1 and reader.num_steps() == 4
        assert [t.response for t in reader.turns()] == ["press a"]
    assert verify(replay).ok


def test_a_key_sent_again_gets_the_same_answer_and_another_request_under_it_is_refused(quest_server: str) -> None:
    def keyed(path: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
        request = urllib.request.Request(quest_server + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Idempotency-Key": key})
        return _send(request)

    assert keyed("reset", {"seed": 0}, "k1")[0] == 200
    first = keyed("step", {"action": "down"}, "k2")
    assert keyed("step", {"action": "down"}, "k2") == first and get(quest_server + "info")[1]["step"] == 1
    status, reply = keyed("step", {"action": "up"}, "k2")
    assert status == 422 and "came before with another request" in reply["error"]
    assert keyed("reset", {"seed": 0}, "k2")[0] == 422  # another route under the same key, too
    assert keyed("step", {"action": "down"}, "k3")[0] == 200 and get(quest_server + "info")[1]["step"] == 2
    status, reply = keyed("step", {"action": "down"}, "x" * 201)
    assert status == 400 and "invalid Idempotency-Key" in reply["error"]


def disk_filling_up(served: Any) -> list[int]:
    """Makes the commits of ``served``'s recorder fail as on a full disk, when told: append ``n`` to the list
    returned, and the commit after the next ``n`` fails (once)."""
    from longplay.replays.schema import ReplayWriteError

    flush, failing = served.env._flush, []

    def full_disk() -> None:
        if failing:
            failing[0] -= 1
            if failing[0] < 0:
                failing.clear()
                raise ReplayWriteError(f"cannot write the replay {served.replay}: database or disk is full")
        flush()

    served.env._flush = full_disk
    return failing


def test_a_step_or_reset_whose_commit_fails_is_counted_as_the_game_took_it(tmp_path: Path) -> None:
    # A full disk at the commit of a step (or of a reset, at its end) came after the game moved on and the replay
    # took its rows (kept for the next commit): the served counters stayed behind, so /info drifted from the replay
    # and a step after an ended episode, or after the reset that started a new one, got the wrong answer.
    env = gym.make(ENV_ID, max_steps=3)
    served = served_env(env, ENV_ID, {"max_steps": 3}, runs_dir=tmp_path)
    failing = disk_filling_up(served)
    with served_thread(served) as url:
        assert post(url + "reset", {"seed": 0})[0] == 200
        for _ in range(2):
            assert post(url + "step", {"action": "down"})[0] == 200
        failing.append(0)  # the step that reaches the limit commits the episode's end: it fails
        status, reply = post(url + "step", {"action": "down"})
        assert status == 500 and "disk is full" in reply["error"]
        assert (get(url + "info")[1]["episode"], get(url + "info")[1]["step"]) == (0, 3)
        status, reply = post(url + "step", {"action": "down"})
        assert status == 409 and "reached its step limit at step 3" in reply["error"]
        failing.append(1)  # the reset's first commit (the last episode's rows) goes in; its last fails
        status, reply = post(url + "reset", {"seed": 1})
        assert status == 500 and "disk is full" in reply["error"]
        assert (get(url + "info")[1]["episode"], get(url + "info")[1]["step"]) == (1, 0)
        assert post(url + "step", {"action": "up"})[0] == 200
        assert (get(url + "info")[1]["episode"], get(url + "info")[1]["step"]) == (1, 1)
    with ReplayReader(served.replay) as reader:
        assert [(e.seed, e.end_reason, e.end_step) for e in reader.episodes()] == [(0, "truncated", 3),
                                                                                   (1, "closed", 1)]
    assert verify(served.replay).ok


def test_a_failed_commit_at_gymnasiums_time_limit_ends_the_episode(tmp_path: Path) -> None:
    # --set max_episode_steps=N is gymnasium's TimeLimit, not the env's own limit: a step whose commit failed
    # as it reached that limit left the episode open, since the served counters read only the env's own one.
    from longplay.agents.remote import RemoteError
    from longplay.replays.schema import ReplayWriteError

    served = served_env(gym.make(ENV_ID, max_episode_steps=3), ENV_ID, {"max_episode_steps": 3}, runs_dir=tmp_path)
    failing = disk_filling_up(served)
    served.reset({"seed": 0})
    for _ in range(2):
        assert not served.step({"action": "down"})["truncated"]
    failing.append(0)  # the step that reaches the limit commits the episode's end: it fails
    with pytest.raises(ReplayWriteError):
        served.step({"action": "down"})
    with pytest.raises(RemoteError, match="reached its step limit at step 3"):
        served.step({"action": "down"})
    served.close()


def test_serve_resume_of_a_run_holding_another_rom_as_hex_is_one_line(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A served Game Boy run recorded before the spec named a bytes ROM by SHA-1 holds the ROM as hex; bytes that are
    not the ROM its identity names are refused before the env is made, in one line naming both SHA-1s (a GameError
    that went past ``serve``'s one-line errors as a traceback)."""
    import sqlite3

    from longplay.agents.cli import main

    pytest.importorskip("pyboy")
    from longplay.envs.gameboy import cartridge

    env_id = "longplay/TestCart-v0"
    with served_thread(served_env(gym.make(env_id), env_id, {}, runs_dir=tmp_path)) as url:
        remote = RemoteEnv(url)
        remote.reset(seed=0)
        remote.step(3)
        replay = Path(remote.remote_info["replay"])
    other = bytearray(cartridge.build_rom())
    other[0x7FFF] ^= 0xFF
    conn = sqlite3.connect(replay)
    with conn:
        conn.execute("UPDATE header SET value = json_set(json_remove(value, '$.rom_sha1'), '$.rom', ?) "
                     "WHERE key = 'env_kwargs'", (bytes(other).hex(),))
    conn.close()
    capsys.readouterr()
    assert main(["serve", "--resume", str(replay)]) == 2
    err = capsys.readouterr().err.strip()
    assert hashlib.sha1(other).hexdigest() in err and cartridge.rom_sha1() in err and "\n" not in err, err


def test_serve_records_the_agent_model_and_label_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """--agent-name, --model and --label go into the replay's header, where compare groups runs by them: dropped,
    every served run was 'remote' with no model and pooled with every other."""
    from longplay.agents import remote
    from longplay.agents.cli import main
    from longplay.replays.viewer import server

    served: list[Any] = []

    class OneReset:  # the server a client resets once, then stops
        def run(self, sockets: list[socket.socket]) -> None:
            served[0].reset({"seed": 0})

    monkeypatch.setattr(remote, "create_app", lambda s, **_: served.append(s))
    monkeypatch.setattr(server, "uvicorn_server", lambda app: OneReset())
    assert main(["serve", "--port", "0", "--runs-dir", str(tmp_path), "--agent-name", "claude-agent",
                 "--model", "m1", "--label", "notes-v2"]) == 0
    (replay,) = tmp_path.glob("**/*.lpr")
    with ReplayReader(replay) as reader:
        assert (reader.header["agent"], reader.header["model"], reader.header["label"]) == ("claude-agent", "m1",
                                                                                           "notes-v2")
