"""The same grid on the local process pool and on a local Ray instance gives the same replays."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from longplay.agents.sweep.backends import LocalBackend, RayBackend
from longplay.agents.sweep.grid import load_grid
from longplay.agents.sweep.scheduler import Scheduler
from longplay.replays.reader import ReplayReader

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'longplay[distributed]')")

GRID = """
[[run]]
env = "QuestMini-v0"
models = ["offline"]
seeds = [0, 1]
steps = 150

[[train]]
env = "QuestMini-v0"
seeds = [0, 1]
total_steps = 256
num_envs = 2
vec_env = "dummy"
n_steps = 64
n_minibatches = 2
n_epochs = 1
eval_steps = 150
"""


@pytest.fixture(scope="module", autouse=True)
def ray_files() -> Iterator[Path]:
    """Every Ray instance of these tests (this process's, ``ray start``'s, a sweep's) keeps its sessions in a folder
    of their own, removed after: none in /tmp/ray, where an instance of someone else's could be joined by
    ``--ray auto``, and no ``~/.ray/auth_token`` (token authentication, which a new local instance turns on
    and writes a token for, is off). The folder is short: Ray's socket paths are limited to about 100 bytes."""
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="r"))
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: inherited by the sweeps' subprocesses
        patch.setenv("RAY_TMPDIR", str(folder))
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def local_ray(ray_files: Path) -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def fingerprint(path: Path) -> dict[str, Any]:
    """What must be identical between two runs of one cell: actions, milestone steps, state hashes."""
    with ReplayReader(path) as replay:
        episodes = replay.episodes()
        return {"actions": [replay.actions(e.episode) for e in episodes],
                "milestones": [(m.episode, m.step, m.milestone) for m in replay.milestones()],
                "hashes": {(e.episode, c.step): c.hash for e in episodes for c in replay.checkpoints(e.episode)
                           if c.hash is not None}}


def same_replay(a: Path, b: Path) -> bool:
    fa, fb = fingerprint(a), fingerprint(b)
    common = fa["hashes"].keys() & fb["hashes"].keys()  # the recorder spaces hashes by measured time
    return (fa["actions"] == fb["actions"] and fa["milestones"] == fb["milestones"] and bool(common)
            and all(fa["hashes"][k] == fb["hashes"][k] for k in common))


@pytest.mark.slow
def test_local_pool_and_ray_give_identical_replays(tmp_path: Path, local_ray: None) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(GRID))
    cells = load_grid(path).cells
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    first = Scheduler(cells, local, LocalBackend(local, 2), workers=2, poll=0.2).run()
    on_ray.mkdir()
    backend = RayBackend(on_ray)
    assert not backend._started  # the test's Ray instance is used as is
    second = Scheduler(cells, on_ray, backend, workers=2, poll=0.2).run()
    assert len(cells) == 4
    for cell in cells:
        a, b = first.states[cell.id], second.states[cell.id]
        assert a["status"] == b["status"] == "done", (a, b)
        assert a["milestones"] == b["milestones"] and a["steps"] == b["steps"]
        assert same_replay(local / a["replay"], on_ray / b["replay"]), cell.name


def test_lm_cells_on_ray_match_this_process(tmp_path: Path, local_ray: None) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(GRID.split("[[train]]")[0]))
    cells = load_grid(path).cells
    here, on_ray = tmp_path / "here", tmp_path / "ray"
    from longplay.agents.sweep.backends import InlineBackend

    first = Scheduler(cells, here, InlineBackend(here)).run()
    on_ray.mkdir()
    second = Scheduler(cells, on_ray, RayBackend(on_ray), workers=2, poll=0.2).run()
    for cell in cells:
        a, b = first.states[cell.id], second.states[cell.id]
        assert a["status"] == b["status"] == "done" and b["host"] and b["tokens"] == a["tokens"] > 0
        assert same_replay(here / a["replay"], on_ray / b["replay"]), cell.name


def sweep_cli(tmp_path: Path, *flags: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``longplay sweep`` of the LM cells in a fresh process (it is not the process that initialised Ray)."""
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(GRID.split("[[train]]")[0]))
    return subprocess.run([sys.executable, "-m", "longplay.agents.sweep.cli", str(path), "--out", str(tmp_path / "out"),
                           "--plain", "--no-plots", *flags], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    """A TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_start() -> Iterator[None]:
    """A Ray instance started with ``ray start`` (what ``--ray auto`` joins); stopped with what it started."""
    port = free_port()
    head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--num-cpus", "1",
                             "--include-dashboard=false", "--disable-usage-stats", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert head.stdout is not None
        for line in head.stdout:  # ready once it says so
            if "Ray runtime started" in line:
                break
        else:
            pytest.fail("ray start exited")
        yield
    finally:
        head.terminate()  # --block: it stops the processes it started, and only those (not the module's instance)
        head.wait(timeout=60)
        # unlike ray stop it leaves its address behind, and every later --ray auto (or ray.init()) would join it
        from ray._private.utils import get_ray_address_file

        address_file = Path(get_ray_address_file(None))
        if address_file.exists() and address_file.read_text().strip().endswith(f":{port}"):
            address_file.unlink()


def test_ray_auto_joins_a_running_instance_whatever_the_workers(tmp_path: Path, ray_start: None) -> None:
    # Ray refuses num_cpus when it joins an instance: --workers must not reach ray.init then
    sweep = sweep_cli(tmp_path, "--ray", "auto", "--workers", "1")
    assert sweep.returncode == 0, sweep.stderr
    assert "2 cells: 2 done" in sweep.stdout and "Connecting to existing Ray cluster" in sweep.stderr


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_nothing_listens_fails_in_one_line(tmp_path: Path, scheme: str) -> None:
    address = f"{scheme}127.0.0.1:{free_port()}"
    sweep = sweep_cli(tmp_path, "--ray", address, timeout=60)  # Ray itself retries for minutes
    assert sweep.returncode == 2
    assert sweep.stderr.startswith(f"longplay: error: cannot start Ray ({address}): ")
    assert sweep.stderr.count("\n") == 1, sweep.stderr


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "ray://127.0.0.1:0"])
def test_a_port_out_of_range_is_named(address: str) -> None:
    """99999 was tried as another port (create_connection wraps it), reported as "nothing answers"."""
    from longplay.agents.sweep.backends import check_ray_address

    with pytest.raises(ConnectionError, match=r"^invalid port \d+ in '.*': a port is 1..65535$"):
        check_ray_address(address)


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_a_web_server_answers_fails_in_one_line_at_once(tmp_path: Path, scheme: str) -> None:
    # a wrong port (the dashboard's, a web app's): Ray would retry it for minutes, logging every few seconds
    import http.server
    import threading
    import time

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"{scheme}127.0.0.1:{server.server_address[1]}"
        start = time.monotonic()
        sweep = sweep_cli(tmp_path, "--ray", address, timeout=60)
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
        server.server_close()
    assert sweep.returncode == 2 and elapsed < 30
    assert sweep.stderr == (f"longplay: error: cannot start Ray ({address}): 127.0.0.1:{address.rsplit(':', 1)[1]} "
                            "answers but is not a Ray server (no gRPC there): use the address 'ray start --head' "
                            "prints (HOST:6379 by default) or ray://HOST:10001 (Ray Client)\n")


def test_a_ray_head_passes_the_address_check(local_ray: None) -> None:
    from longplay.agents.sweep.backends import check_ray_address

    check_ray_address(ray.get_runtime_context().gcs_address)  # its GCS answers HTTP/2 as gRPC does
