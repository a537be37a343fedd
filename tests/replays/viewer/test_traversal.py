"""No path outside the served folder can be read through the viewer, however the request is spelled."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from longplay.replays.viewer.folder import OutsideFolderError, ReplayFolder, RunNotFoundError, ViewerError

pytest.importorskip("starlette", reason="the viewer needs starlette: pip install 'longplay[viewer]'")

ATTACKS = [
    "../outside/secret.lpr",
    "../outside/secret.txt",
    "sub/../../outside/secret.lpr",
    "./../outside/secret.lpr",
    "..%2Foutside%2Fsecret.lpr",
    "%2e%2e/outside/secret.lpr",
    "..\\outside\\secret.lpr",
    "sub\\..\\..\\outside\\secret.lpr",
    "link-out.lpr",  # a symbolic link in the folder that leads outside
    "link-dir/secret.lpr",  # through a linked folder
    "notes.txt",  # inside, but not a replay
    "fake-lm.lpr/../../outside/secret.lpr",
    "fake-lm.lpr\x00.txt",
    "~/secret.lpr",
    "",
    "/" + "x" * 2000 + ".lpr",
]


def _attacks(viewer_runs: Any) -> list[str]:
    absolute = str(viewer_runs.outside / "secret.lpr")
    return [*ATTACKS, absolute, "/" + absolute.lstrip("/"), "//" + absolute.lstrip("/"), "file://" + absolute,
            absolute.replace("/", "\\")]


def test_resolve_refuses_everything_outside(viewer_runs: Any) -> None:
    folder = ReplayFolder(viewer_runs.root)
    for attack in _attacks(viewer_runs):
        with pytest.raises(ViewerError) as info:
            folder.resolve(attack)
        assert isinstance(info.value, (OutsideFolderError, RunNotFoundError)) or attack == "", attack
    assert folder.resolve("sub/quest-oracle.lpr") == viewer_runs.root / "sub" / "quest-oracle.lpr"
    assert "link-out.lpr" not in folder.run_ids() and not any(i.startswith("link-dir") for i in folder.run_ids())


@pytest.mark.parametrize("route", ["/api/run", "/api/step", "/api/frame.png", "/api/trajectory", "/api/area.png",
                                   "/api/compare"])
def test_api_routes_refuse_traversal(viewer_client: Any, viewer_runs: Any, route: str) -> None:
    for attack in _attacks(viewer_runs):
        response = viewer_client.get(route, params={"id": attack, "step": 0, "map": 0})
        assert viewer_runs.secret not in response.text, (route, attack)
        if response.status_code == 200:  # compare reports a missing id as unreadable, and reads nothing
            assert route == "/api/compare" and not response.json()["runs"], (route, attack)
        else:
            assert response.status_code in (400, 403, 404), (route, attack, response.status_code)


def test_static_routes_serve_only_their_files(viewer_runs: Any) -> None:
    """Raw request lines (no client-side normalisation of the path) against a real server."""
    from longplay.replays.viewer.server import ServerThread

    attacks = ["/static/../folder.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py", "/static/server.py",
               "/static/", "/static//etc/passwd", "/../../outside/secret.txt", "/%2e%2e/%2e%2e/outside/secret.txt",
               "/api/../../outside/secret.txt", "/runs/notes.txt", "/notes.txt", "/fake-lm.lpr",
               "/sub/quest-oracle.lpr"]
    with ServerThread(viewer_runs.root) as url:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        for path in attacks:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.putrequest("GET", path, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
            conn.close()
            assert response.status in (400, 404), (path, response.status)
            assert viewer_runs.secret not in body and "import " not in body, path
