"""The viewer's web app: an ASGI app (Starlette) of thin routes over :mod:`.data`, and :func:`serve`.

Every route parses its query, looks the run up in the :class:`~longplay.replays.viewer.folder.ReplayFolder`
and returns what a pure function of :mod:`longplay.replays.viewer.data` computed; ``API.md`` beside this
file documents them. The pages and their script are static package data (``static/``), served by name from
a fixed table: no request path ever reaches the file system except through a checked run id.

Safety: bound to 127.0.0.1 by default; ``Host`` headers other than the served address are refused (a web
page cannot reach the API by DNS rebinding); no CORS headers (other origins cannot read responses); a strict
Content-Security-Policy; only GET and HEAD.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from longplay.replays.reader import EnvFactory
from longplay.replays.schema import EXTENSION, ReplayError
from longplay.replays.viewer.data import (
    area_png_impl,
    check_step,
    finite,
    frame_png_impl,
    run_impl,
    step_impl,
)
from longplay.replays.viewer.folder import (
    BadRequestError,
    ReplayFolder,
    ViewerError,
)

log = logging.getLogger("longplay.viewer")

STATIC_DIR = Path(__file__).with_name("static")
#: URL path -> (file in ``static/``, media type): the only files served.
PAGES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/run": ("run.html", "text/html; charset=utf-8"),
    "/compare": ("compare.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
#: Most runs one comparison request may name.
MAX_COMPARE = 200

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
     b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class HostCheck:
    """ASGI middleware: a request whose ``Host`` header names none of ``allowed_hosts`` (``["*"]``: any) is refused
    with the one-line JSON error every other refusal gives. A web page elsewhere that rebinds its own name to
    127.0.0.1 still sends that name, so it cannot reach the API (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "*" in self.allowed or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        name = host[:host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
        if name.lower() in self.allowed:
            await self.app(scope, receive, send)
            return
        await error_response(400, f"invalid Host header {host!r}; this server answers to "
                                  f"{', '.join(sorted(self.allowed))}")(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware that adds :data:`SECURITY_HEADERS` to every response (and never a CORS header)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if not k.lower().startswith(b"access-control-")]
                message = {**message, "headers": headers + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ============================================================================================ responses


def json_response(data: Any, status: int = 200) -> Response:
    """Compact JSON; non-finite floats (which browsers cannot parse) become null."""
    try:
        body = json.dumps(data, allow_nan=False, separators=(",", ":"))
    except ValueError:
        body = json.dumps(finite(data), allow_nan=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def error_response(status: int, message: str) -> Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status)


def png_response(data: bytes) -> Response:
    """A PNG body."""
    return Response(data, media_type="image/png")


Handler = Callable[[Request], Response]


def guarded(handler: Handler) -> Handler:
    """Turns the errors a request can cause into JSON errors with a one-line message (never a traceback)."""

    @wraps(handler)
    def route(request: Request) -> Response:
        start = time.perf_counter()
        try:
            response = handler(request)
            # How long the work took on the server (browsers show it; the benchmark reads it).
            response.headers["server-timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
            return response
        except ViewerError as e:
            return error_response(e.status, str(e))
        except ReplayError as e:
            return error_response(422, str(e))
        except ValueError as e:
            return error_response(400, str(e))
        except Exception as e:  # noqa: BLE001 - logged here, one line to the client
            log.exception("viewer: %s failed", request.url.path)
            return error_response(500, f"{type(e).__name__}: {e}")

    return route


def _int(request: Request, name: str, default: int | None = None, minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequestError(f"missing parameter {name!r}")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"invalid {name} {raw!r}: not an integer") from None
    if value < minimum:
        raise BadRequestError(f"invalid {name} {value}: must be >= {minimum}")
    return value


# ============================================================================================ the app


def create_app(folder: str | Path | ReplayFolder, *, allowed_hosts: list[str] | None = None,
               make_env: EnvFactory | None = None, max_open: int = 16) -> Starlette:
    """The viewer's ASGI app over ``folder``.

    Args:
        folder: A folder of replays (searched recursively), or a :class:`ReplayFolder`.
        allowed_hosts: ``Host`` header values accepted (default: the loopback names); ``["*"]`` accepts any.
        make_env: Builds envs from replay headers when registered ids are not enough (tests).
        max_open: Replays kept open at once.
    """
    runs = folder if isinstance(folder, ReplayFolder) else ReplayFolder(folder, make_env=make_env,
                                                                           max_open=max_open)

    def page(request: Request) -> Response:
        name, media_type = PAGES[request.url.path]
        return Response((STATIC_DIR / name).read_bytes(), media_type=media_type)

    @guarded
    def api_runs(request: Request) -> Response:
        return json_response({**runs.list_runs(), "max_compare": MAX_COMPARE})

    @guarded
    def api_run(request: Request) -> Response:
        run_id = request.query_params.get("id")
        with runs.open(run_id) as run:  # type: ignore[arg-type]
            return json_response(run_impl(run.reader, run_id, run.turns(), run.memory()))  # type: ignore[arg-type]

    @guarded
    def api_step(request: Request) -> Response:
        run_id = request.query_params.get("id")
        episode, step = _int(request, "episode", 0), _int(request, "step")
        with_state = request.query_params.get("state", "1") != "0"
        with runs.open(run_id) as run:  # type: ignore[arg-type]
            check_step(run.reader, episode, step)
            try:
                seeker = run.seeker(episode) if with_state else None
            except ReplayError:  # the env cannot be rebuilt here: the step's state says why, the rest shows
                seeker = None
            return json_response(step_impl(run.reader, episode, step, run.turns().get(episode),
                                           run.memory().get(episode), seeker=seeker, with_state=with_state))

    @guarded
    def api_frame(request: Request) -> Response:
        run_id = request.query_params.get("id")
        episode, step = _int(request, "episode", 0), _int(request, "step")
        with runs.open(run_id) as run:  # type: ignore[arg-type]
            check_step(run.reader, episode, step)
            return png_response(frame_png_impl(run.seeker(episode), step))

    @guarded
    def api_trajectory(request: Request) -> Response:
        return json_response(runs.trajectory(request.query_params.get("id"),  # type: ignore[arg-type]
                                             _int(request, "episode", 0)))

    @guarded
    def api_area(request: Request) -> Response:
        run_id = request.query_params.get("id")
        episode, map_id = _int(request, "episode", 0), _int(request, "map")
        with runs.open(run_id) as run:  # type: ignore[arg-type]
            run.reader.episode(episode)
            data = area_png_impl(run.seeker(episode).game, map_id)
        if data is None:
            return error_response(404, "no map image for this backend or area: draw the trajectory on a grid")
        return png_response(data)

    @guarded
    def api_compare(request: Request) -> Response:
        ids = request.query_params.getlist("id") or runs.run_ids()
        if len(ids) > MAX_COMPARE:
            raise BadRequestError(f"too many runs ({len(ids)}); compare at most {MAX_COMPARE} at once")
        return json_response(runs.comparison(ids))

    def api_health(request: Request) -> Response:
        return json_response({"ok": True, "folder": runs.root.name, "warm": runs.warmed.is_set()})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(404, "not found")

    routes = [Route(path, page, methods=["GET", "HEAD"]) for path in PAGES]
    routes += [
        Route("/api/runs", api_runs, methods=["GET", "HEAD"]),
        Route("/api/run", api_run, methods=["GET", "HEAD"]),
        Route("/api/step", api_step, methods=["GET", "HEAD"]),
        Route("/api/frame.png", api_frame, methods=["GET", "HEAD"]),
        Route("/api/trajectory", api_trajectory, methods=["GET", "HEAD"]),
        Route("/api/area.png", api_area, methods=["GET", "HEAD"]),
        Route("/api/compare", api_compare, methods=["GET", "HEAD"]),
        Route("/api/health", api_health, methods=["GET", "HEAD"]),
    ]
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOOPBACK_HOSTS)
    middleware = [Middleware(SecurityHeaders), Middleware(HostCheck, allowed_hosts=hosts),
                  Middleware(GZipMiddleware, minimum_size=2048, compresslevel=6)]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={404: not_found})  # type: ignore[dict-item]
    app.state.folder = runs
    return app


# ============================================================================================ serving


def hosts_for(host: str) -> list[str]:
    """The ``Host`` header values to accept when bound to ``host``: loopback names, plus ``host`` itself;
    anything for a wildcard address (the user chose to serve the network)."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return list(dict.fromkeys([*LOOPBACK_HOSTS, host, f"[{host}]" if ":" in host else host]))


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one. Raises ``OSError`` when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only for sockets that say they are TCP,
    # and with it on every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    """The URL a browser opens for a socket bound to ``host``."""
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://[{shown}]:{port}/" if ":" in shown and not shown.startswith("[") else f"http://{shown}:{port}/"


def warm_up(folder: ReplayFolder | None = None) -> None:
    """Imports the envs and the modules of longplay's registered env entry points (about a second), then
    lets ``folder`` prepare its worlds (:meth:`ReplayFolder.warm`), so the first page opened does not wait
    for them. Only longplay's own registered ids are imported: nothing named in a replay."""
    try:
        import importlib

        import gymnasium as gym

        import longplay.envs  # noqa: F401 - registers the ids

        for env_id, spec in list(gym.registry.items()):
            entry = spec.entry_point
            if env_id.startswith("longplay/") and isinstance(entry, str) and ":" in entry:
                importlib.import_module(entry.split(":", 1)[0])
        if folder is not None:
            folder.warm()
    except Exception:  # noqa: BLE001 - a warm-up only: the first request does the work instead
        pass
    finally:
        if folder is not None:
            folder.warmed.set()


def uvicorn_server(app: ASGIApp) -> Any:
    """A uvicorn server of ``app`` (quiet: warnings only, no access log)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30)
    return uvicorn.Server(config)


def serve(folder: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, open_browser: bool = False,
          make_env: EnvFactory | None = None, out: Any = None) -> None:
    """Serves the viewer over ``folder`` until interrupted; prints the URL first.

    Args:
        folder: The folder of replays.
        host: Address to bind (default 127.0.0.1: this machine only).
        port: TCP port (0 picks a free one).
        open_browser: Open the URL in the default browser.
        make_env: See :func:`create_app`.
        out: Where the URL line goes (default stdout).
    """
    out = out or sys.stdout
    folder_obj = ReplayFolder(folder, make_env=make_env)
    app = create_app(folder_obj, allowed_hosts=hosts_for(host))
    sock = bind(host, port)
    url = url_of(sock, host)
    threading.Thread(target=warm_up, args=(folder_obj,), daemon=True).start()
    count = len(folder_obj.run_ids())
    print(f"longplay viewer: {count} replay file{'s' if count != 1 else ''} ({EXTENSION}) in {folder_obj.root}",
          file=out)
    if not is_loopback(host):
        print(f"warning: serving on {host}: anyone who can reach this machine can read these replays", file=out)
    print(f"open {url}  (Ctrl+C stops)", file=out, flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, (url,)).start()
    try:
        uvicorn_server(app).run(sockets=[sock])
    finally:
        sock.close()
        folder_obj.close()


class AppThread:
    """An ASGI app served from a background thread (tests and benchmarks): ``with AppThread(app) as url:``.

    Args:
        app: The app.
        host: Address to bind.
        port: TCP port (default 0: a free one).
    """

    def __init__(self, app: ASGIApp, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.app = app
        self.sock = bind(host, port)
        self.url = url_of(self.sock, host)
        self._server = uvicorn_server(self.app)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> str:
        """Starts serving; returns the URL once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the server of {type(self).__name__} did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        """Stops serving, then :meth:`release`."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()
        self.release()

    def release(self) -> None:
        """What the app holds, let go after the server stopped (nothing here)."""

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerThread(AppThread):
    """The viewer served from a background thread (tests and benchmarks): ``with ServerThread(folder) as url:``.

    Args:
        folder: The folder of replays, or a :class:`ReplayFolder`.
        host: Address to bind.
        port: TCP port (default 0: a free one).
    """

    def __init__(self, folder: str | Path | ReplayFolder, host: str = DEFAULT_HOST, port: int = 0, *,
                 make_env: EnvFactory | None = None) -> None:
        super().__init__(create_app(folder, allowed_hosts=hosts_for(host), make_env=make_env), host, port)

    def release(self) -> None:
        """Closes the replays."""
        self.app.state.folder.close()
