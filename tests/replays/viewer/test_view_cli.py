"""``longplay view``: a real ASGI server on 127.0.0.1 that prints its URL; one-line errors for bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from longplay.replays.cli import EXIT_BAD_INPUT, main

pytest.importorskip("uvicorn", reason="the viewer needs uvicorn: pip install 'longplay[viewer]'")


def test_view_serves_the_folder_on_loopback(viewer_runs: Any, child_lines: Any) -> None:
    process = subprocess.Popen([sys.executable, "-m", "longplay.replays.cli", "view", str(viewer_runs.root),
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = child_lines(process, timeout=60, until=lambda line: line.startswith("open "))
        url = lines[-1].split()[1]
        assert url.startswith("http://127.0.0.1:") and "8 replay files" in lines[0], lines
        with urllib.request.urlopen(url + "api/runs", timeout=30) as response:
            data = json.load(response)
        assert len(data["runs"]) == 5 and len(data["unreadable"]) == 3
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b'data-page="index"' in response.read()
        host, port = url[len("http://"):].rstrip("/").rsplit(":", 1)
        bound = {info[4][0] for info in socket.getaddrinfo(host, int(port))}
        assert bound == {"127.0.0.1"}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in process.stderr.read()  # type: ignore[union-attr]


def test_view_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(tmp_path / "missing")]) == EXIT_BAD_INPUT
    assert "no such folder" in capsys.readouterr().err
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        assert main(["view", str(tmp_path), "--port", str(port)]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert f"port {port}" in err and "in use" in err and err.count("\n") == 1
    finally:
        taken.close()
    assert main(["view", str(tmp_path), "--port", "70000"]) == EXIT_BAD_INPUT
    capsys.readouterr()
    # an address this machine does not have (TEST-NET-1: no lookup); it printed a bare "[Errno 99] ..."
    assert main(["view", str(tmp_path), "--host", "192.0.2.1", "--port", "0"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot listen on 192.0.2.1:0: " in err
