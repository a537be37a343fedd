"""Remote agents: one env served over HTTP (JSON) to an agent in another process or language, recorded as any run.

``longplay serve --env QuestMini-v0`` holds one env (and its replay) and answers:

==========================  ==============================================================================
``GET /info``               env id and kwargs, the action and observation spaces, button names, the milestone
                            catalog, the replay's path, the episode and step, the server's start state
                            (``{"sha256", "bytes"}`` or null)
``POST /reset``             ``{"seed": 3}`` (or ``{}``: a random seed) -> ``{"observation", "info"}``;
                            ``"options": {"state": BASE64}`` starts the episode from that save state (the
                            base64 of ``game.save_state()``'s bytes), ``{"state": null}`` from the game's own
                            start; without ``state`` (or with ``"options": null``) the server's
                            ``--start-state`` (if any) is the start
``POST /step``              ``{"action": 2}`` or ``{"action": "left"}`` -> ``{"observation", "reward",
                            "terminated", "truncated", "info"}``
``GET /text``               ``{"text": ...}``: the game's text view (what an LM agent reads)
``GET /state``              the game's state summary (map, position, party, bag, money, badges, dialog)
``GET /frame.png``          the screen as a PNG (``GET /frame``: ``{"shape", "dtype", "data"}``, data in base64)
``POST /turn``              records a model turn in the replay: ``{"response", "tokens_in", "tokens_out",
                            "cost_usd", ...}`` (so ``compare`` and the viewer show tokens and dollars);
                            ``"extra": {"kind": "summary"}`` marks a call that is not one of the agent's turns
``POST /memory``            records a memory snapshot: ``{"name": "notes", "content": "..."}``
==========================  ==============================================================================

Observations are JSON: arrays as nested lists, or with ``"encoding": "base64"`` in the request body as the
base64 of their bytes (C order; shape and dtype are in ``/info``'s observation space): for pixels a third of
the bytes and about 20x the steps/s (``benchmarks/remote_speed.py``). Every request body is JSON with
``Content-Type: application/json`` (a web page cannot send that to another origin without a preflight, which
this server never grants), every error is ``{"error": "one line"}`` with a 4xx status (5xx: the env failed; the
server goes on), and the server binds 127.0.0.1 unless told otherwise. A POST with an ``Idempotency-Key`` header (any
string up to 200 characters, a new one per request) is acted on once: sent again under the same key (a retry after
the connection dropped before the answer came) it gets the answer it got the first time; under that key another
request is refused (422). The server keeps the last 16 keys' answers.

:class:`RemoteEnv` is the Python client: a ``gymnasium.Env`` over that API (Gymnasium's ``check_env`` passes on
it; the tests check it gives the local env's observations, rewards and ends step for step). It sends each POST with
a key of its own, so the one retry it makes after a dropped connection never takes a step (or starts an episode)
twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import http.client
import itertools
import json
import logging
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from longplay.agents.urls import url_problem
from longplay.envs.env import (
    MAX_SEED,
    RESET_OPTIONS,
    action_index,
    check_start_state,
    start_state_option,
    steps_refused,
)
from longplay.envs.game import BUTTON_NAMES
from longplay.replays.schema import strict_json

log = logging.getLogger("longplay.serve")

ENCODINGS = ("list", "base64")
#: Most seconds of a served run a killed server loses (the replay is committed at least this often while played).
COMMIT_SECONDS = 1.0
#: The largest request body taken (a turn's response and tool calls, a memory snapshot).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: The longest ``Idempotency-Key`` header taken, and how many of the last keyed requests' answers are kept.
MAX_KEY_CHARS = 200
ANSWERS_KEPT = 16
#: The largest int the replay stores (SQLite's INTEGER): a larger seed or token count is refused, not recorded.
MAX_INT = 2**63 - 1
#: The fields of ``POST /turn`` and their types (beside ``extra``, a JSON object).
TURN_FIELDS: dict[str, tuple[type, ...]] = {
    "response": (str,), "tool_calls": (list,), "tokens_in": (int,), "tokens_out": (int,),
    "tokens_cache_read": (int,), "tokens_cache_write": (int,), "cost_usd": (int, float), "latency_s": (int, float),
    "error": (str,), "prompt": (str, dict, list),
}


class RemoteError(Exception):
    """A request the served env refuses: ``status`` is the HTTP status, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ====================================================================================== JSON of spaces
def space_json(space: spaces.Space) -> dict[str, Any]:
    """A space as JSON (``Box``, ``Discrete``, ``Text``, ``Dict``); :func:`space_from_json` rebuilds it."""
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": space.dtype.name,
                "low": _bound(space.low), "high": _bound(space.high)}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Text):
        return {"type": "Text", "min_length": space.min_length, "max_length": space.max_length,
                "charset": "".join(sorted(space.character_set))}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_json(s) for k, s in space.spaces.items()}}
    raise ValueError(f"cannot serve a {type(space).__name__} space (Box, Discrete, Text and Dict are served)")


def _bound(values: np.ndarray) -> Any:
    """A Box bound as JSON: one number when all are equal, else nested lists; infinities as "inf"/"-inf"."""
    as_json = np.vectorize(lambda v: str(v) if np.isinf(v) else v.item(), otypes=[object])
    if np.all(values == values.flat[0]):
        return as_json(values.flat[0]).item()
    return as_json(values).tolist()


def space_from_json(data: dict[str, Any]) -> spaces.Space:
    """The space :func:`space_json` described."""
    kind = data.get("type")
    if kind == "Box":
        dtype, shape = np.dtype(data["dtype"]), tuple(data["shape"])
        low, high = (np.broadcast_to(np.asarray(np.asarray(data[k], dtype=object).astype(np.float64), dtype)
                                     if dtype.kind == "f" else np.asarray(data[k], dtype), shape).copy()
                     for k in ("low", "high"))
        return spaces.Box(low, high, shape, dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if kind == "Text":
        return spaces.Text(max_length=int(data["max_length"]), min_length=int(data["min_length"]),
                           charset=data["charset"])
    if kind == "Dict":
        return spaces.Dict({k: space_from_json(v) for k, v in data["spaces"].items()})
    raise ValueError(f"unknown space type {kind!r}")


# ================================================================================ JSON of observations
def encode(value: Any, encoding: str = "list") -> Any:
    """An observation (or info) as JSON-able data: arrays as nested lists, or base64 of their bytes."""
    if isinstance(value, np.ndarray):
        if encoding == "base64":
            return base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): encode(v, encoding) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, encoding) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value: Any, space: spaces.Space, encoding: str = "list") -> Any:
    """The observation :func:`encode` wrote, as the space holds it."""
    if isinstance(space, spaces.Dict):
        return {k: decode(value[k], s, encoding) for k, s in space.spaces.items()}
    if isinstance(space, spaces.Box):
        if encoding == "base64":
            return np.frombuffer(base64.b64decode(value), dtype=space.dtype).reshape(space.shape).copy()
        return np.asarray(value, dtype=space.dtype).reshape(space.shape)
    if isinstance(space, spaces.Discrete):
        return np.int64(value)
    return value


# ============================================================================================== server
# How the served env words an episode's end, by the end reason its recorder took from the step that ended it.
ENDED_AS = {"terminated": "was finished", "truncated": "reached its step limit"}


class ServedEnv:
    """The env one server holds, and what each route does to it. The app calls it from its event loop, one
    request at a time (a route's work has no ``await`` in it)."""

    def __init__(self, env: gym.Env, *, env_id: str, env_kwargs: dict[str, Any], replay: Path | None,
                 start_state: bytes | None = None) -> None:
        self.env, self.env_id, self.env_kwargs, self.replay = env, env_id, env_kwargs, replay
        #: The save state a reset starts from when its request names none (``longplay serve --start-state``).
        self.start_state = start_state
        self.closed = False
        self.episode = -1
        self.steps = 0
        self.ended: str | None = None  # why the episode ended: no step until the next reset
        # Why steps wait for a reset: a state was refused with no episode to go on with (the env's own refused_start,
        # or a run resumed whose last reset was refused by a server that ended the episode for it).
        self.refused_start: str | None = None
        noop = env.action_space.n > len(BUTTON_NAMES)
        self.buttons = [*BUTTON_NAMES, *(["noop"] if noop else [])]

    @property
    def game(self) -> Any:
        return self.env.unwrapped.game

    def info(self) -> dict[str, Any]:
        catalog = [{"id": m.id, "name": m.name, "tier": m.tier, "weight": m.weight}
                   for m in self.env.unwrapped.catalog]
        return {"env_id": self.env_id, "env_kwargs": encode(self.env_kwargs),
                "action_space": space_json(self.env.action_space), "buttons": self.buttons,
                "observation_space": space_json(self.env.observation_space), "catalog": catalog,
                "replay": None if self.replay is None else str(self.replay), "episode": self.episode,
                "step": self.steps, "encodings": list(ENCODINGS), "start_state": state_json(self.start_state)}

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        _known(body, "reset", ("seed", "encoding", "options"))
        seed = body.get("seed")
        if seed is not None and (type(seed) is not int or not 0 <= seed <= MAX_SEED):  # the env's own bound
            raise RemoteError(400, f"invalid seed {seed!r}; use an int 0..{MAX_SEED} or null")
        encoding = _encoding(body)
        options = body.get("options")  # null, as Gymnasium's options=None: no options
        state = self.start_state if options is None else _reset_state(options, self.start_state)
        try:
            obs, info = self.env.reset(seed=seed, options=None if state is None else {"state": state})
        except ValueError as exc:  # a state the game refuses: as the local env, the episode under way goes on
            if state is not None and steps_refused(self.env):
                self.refused_start = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise
        except BaseException:
            self._follow_replay()
            raise
        self.episode += 1
        self.steps = 0
        self.ended = self.refused_start = None
        return {"observation": encode(obs, encoding), "info": encode(info)}

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.refused_start is not None:
            raise RemoteError(409, f"the last reset failed ({self.refused_start}): POST /reset to start an episode")
        if self.episode < 0:
            raise RemoteError(409, "no episode yet: POST /reset first")
        if self.ended is not None:
            raise RemoteError(409, f"the episode {self.ended} at step {self.steps}: POST /reset to start another")
        _known(body, "step", ("action", "encoding"))
        if "action" not in body:
            raise RemoteError(400, f"missing 'action': an int 0..{len(self.buttons) - 1} or a button name "
                                   f"({', '.join(self.buttons)})")
        action = body["action"]
        if isinstance(action, str):
            if action.lower() not in self.buttons:
                raise RemoteError(400, f"invalid action {action!r}; buttons: {', '.join(self.buttons)}")
            action = self.buttons.index(action.lower())
        elif type(action) is not int or not 0 <= action < len(self.buttons):
            raise RemoteError(400, f"invalid action {action!r}; use an int 0..{len(self.buttons) - 1} or a button "
                                   f"name ({', '.join(self.buttons)})")
        encoding = _encoding(body)
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except BaseException:
            self._follow_replay()
            raise
        self.steps += 1
        if terminated or truncated:
            self.ended = ENDED_AS["terminated" if terminated else "truncated"]
        return {"observation": encode(obs, encoding), "reward": float(reward), "terminated": bool(terminated),
                "truncated": bool(truncated), "info": encode(info)}

    def _follow_replay(self) -> None:
        """Sets the counters to what the game and its replay hold after a step or reset that raised part way: a
        commit that failed (a full disk) after the game moved on and the replay took its rows, which it keeps
        for its next commit."""
        from longplay.replays.recorder import Recorder

        if not isinstance(self.env, Recorder) or self.env.episode < 0:
            return
        if self.env.episode != self.episode:  # the reset went through
            self.episode, self.ended, self.refused_start = self.env.episode, None, None
        self.steps = self.env.step_in_episode
        if self.ended is None:  # the recorder took the end from the step (the env's limit or gymnasium's TimeLimit)
            self.ended = ENDED_AS.get(self.env.ended or "")

    def commit(self) -> None:
        """Commits what is recorded so far. The server calls it :data:`COMMIT_SECONDS` after a request that
        recorded something, so what came just before a pause (the last step and memory before a model's turn)
        is not left uncommitted for as long as the pause lasts."""
        if self.replay is not None and not self.closed:
            self.env.flush()

    def turn(self, body: dict[str, Any]) -> dict[str, Any]:
        recorder = self._recorder("a turn")
        fields = _checked(body, TURN_FIELDS, "turn")
        for name in ("tokens_in", "tokens_out", "tokens_cache_read", "tokens_cache_write", "cost_usd", "latency_s"):
            if fields.get(name, 0) < 0:
                raise RemoteError(400, f"invalid {name} {fields[name]!r}; use a number >= 0")
        extra = {"kind": "act", **(body.get("extra") or {})}
        recorder.log_turn(**fields, extra=extra)
        return {"logged": "turn", "episode": max(self.episode, 0), "step": self.steps}

    def memory(self, body: dict[str, Any]) -> dict[str, Any]:
        recorder = self._recorder("memory")
        _known(body, "memory", ("name", "content", "extra"))
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise RemoteError(400, "missing 'name': the memory component's name, e.g. \"notes\"")
        if "content" not in body:
            raise RemoteError(400, "missing 'content': a string or any JSON value")
        extra = body.get("extra")
        if extra is not None and not isinstance(extra, dict):
            raise RemoteError(400, "invalid 'extra'; use a JSON object")
        recorder.log_memory(name, body["content"], extra=extra)
        return {"logged": "memory", "episode": max(self.episode, 0), "step": self.steps}

    def _recorder(self, what: str) -> Any:
        from longplay.replays.recorder import Recorder

        if not isinstance(self.env, Recorder):
            raise RemoteError(409, f"this server records no replay (--no-record): {what} has nowhere to go")
        if self.episode < 0:
            raise RemoteError(409, "no episode yet: POST /reset first")
        return self.env

    def close(self) -> None:
        self.closed = True
        self.env.close()


def _known(body: dict[str, Any], what: str, fields: tuple[str, ...]) -> None:
    """Refuses a field the route does not take (a misspelt ``sead`` would otherwise be ignored)."""
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise RemoteError(400, f"unknown {what} field {unknown[0]!r}; valid: {', '.join(fields)}")


def state_json(state: bytes | None) -> dict[str, Any] | None:
    """A save state as ``/info`` and the replay's header name it: its SHA-256 and size, not its bytes."""
    return None if state is None else {"sha256": hashlib.sha256(state).hexdigest(), "bytes": len(state)}


def _reset_state(options: Any, default: bytes | None) -> bytes | None:
    """The start state a reset request's ``options`` give: ``state`` as base64 (whitespace ignored, so the output
    of ``base64 FILE`` works), ``null`` for the game's own start, or ``default`` where ``state`` is absent. Bad
    options are refused before anything changes."""
    if not isinstance(options, dict):
        raise RemoteError(400, "invalid 'options'; use a JSON object, e.g. {\"state\": \"BASE64\"}")
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise RemoteError(400, f"unknown reset option {unknown[0]!r}; valid: {', '.join(RESET_OPTIONS)}")
    if "state" not in options:
        return default
    text = options["state"]
    if text is None:
        return None
    usage = "use the base64 of a save state's bytes (longplay export REPLAY --state FILE), or null"
    if not isinstance(text, str):
        raise RemoteError(400, f"invalid reset option 'state': a {type(text).__name__}; {usage}")
    try:
        state = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RemoteError(400, f"invalid reset option 'state': not base64 ({exc}); {usage}") from None
    if not state:
        raise RemoteError(400, f"invalid reset option 'state': it is empty; {usage}")
    return state


def _encoding(body: dict[str, Any]) -> str:
    encoding = body.get("encoding", "list")
    if encoding not in ENCODINGS:
        raise RemoteError(400, f"invalid encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
    return encoding


def _json_body(raw: bytes) -> Any:
    """A request body's JSON; ``ValueError`` for what JSON is not, and for what the replay cannot store: NaN and
    infinities (Python's json takes them) and strings with a lone surrogate (``"\\ud800"``), which then failed
    every commit of the replay."""
    if not raw.strip():
        return {}
    body = strict_json(raw)
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate (not Unicode)") from None
    return body


def _checked(body: dict[str, Any], types: dict[str, tuple[type, ...]], what: str) -> dict[str, Any]:
    """The known fields of a request body, each checked against its types."""
    _known(body, what, (*types, "extra"))
    if body.get("extra") is not None and not isinstance(body["extra"], dict):  # null: none, as for every field
        raise RemoteError(400, "invalid 'extra'; use a JSON object")
    fields = {}
    for name, value in body.items():
        if name == "extra" or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types[name]):
            wanted = " or ".join(t.__name__ for t in types[name])
            raise RemoteError(400, f"invalid {what} field {name!r}: {value!r} is not {wanted}")
        if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
            raise RemoteError(400, f"invalid {what} field {name!r}: {value!r} is out of range (at most 2**63-1)")
        fields[name] = value
    return fields


def create_app(served: ServedEnv, *, allowed_hosts: list[str] | None = None) -> Any:
    """The server's ASGI app (Starlette) over ``served``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from longplay.replays.viewer.data import game_state_json
    from longplay.replays.viewer.png import encode_png
    from longplay.replays.viewer.server import HostCheck, error_response, json_response, png_response

    committing: list[asyncio.TimerHandle] = []  # the commit scheduled after a request, while one is

    def commit() -> None:
        committing.clear()
        served.commit()

    # Idempotency-Key -> (a digest of its request, the answer given): a request sent again with its key (a client
    # retrying after the connection dropped before the answer came) is answered again, not acted on twice.
    answered: dict[str, tuple[str, Response]] = {}

    def route(handler: Callable[[dict[str, Any]], Any], *, post: bool) -> Callable[[Request], Any]:
        def answer(request: Request, body: dict[str, Any]) -> Response:
            try:
                result = handler(body)
            except RemoteError as exc:
                return error_response(exc.status, str(exc))
            except ValueError as exc:  # what the env refuses
                return error_response(400, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - logged here; the client gets one line and the server goes on
                log.exception("longplay serve: %s %s failed", request.method, request.url.path)
                return error_response(500, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            if post and served.replay is not None and not committing:  # committed soon, even if no request follows
                committing.append(asyncio.get_running_loop().call_later(COMMIT_SECONDS, commit))
            if isinstance(result, bytes):
                return png_response(result)
            return json_response(result)

        def answer_body(request: Request, raw: bytes) -> Response:
            try:
                body = _json_body(raw)
            except ValueError as exc:  # also a number JSON has not (NaN, 1e400) and a lone UTF-16 surrogate
                return error_response(400, f"invalid JSON body: {exc}")
            if not isinstance(body, dict):
                return error_response(400, "the body must be a JSON object")
            return answer(request, body)

        async def endpoint(request: Request) -> Response:
            if not post:
                return answer(request, {})
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                return error_response(415, "send the body as JSON with Content-Type: application/json")
            if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
                return error_response(413, f"the body is over {MAX_BODY_BYTES:,} bytes")
            raw = await request.body()
            if len(raw) > MAX_BODY_BYTES:
                return error_response(413, f"the body is over {MAX_BODY_BYTES:,} bytes")
            key = request.headers.get("idempotency-key")
            if key is None:
                return answer_body(request, raw)
            if not 0 < len(key) <= MAX_KEY_CHARS:
                return error_response(400, f"invalid Idempotency-Key: use 1..{MAX_KEY_CHARS} characters, a new key "
                                           "for each request")
            digest = hashlib.sha256(request.url.path.encode() + b"\n" + raw).hexdigest()
            if key in answered:
                seen, response = answered[key]
                if seen != digest:
                    return error_response(422, f"Idempotency-Key {key!r} came before with another request: use a "
                                               "new key for each request (the same only to send that one again)")
                return response
            response = answer_body(request, raw)
            answered[key] = digest, response
            if len(answered) > ANSWERS_KEPT:
                del answered[next(iter(answered))]
            return response

        return endpoint

    def frame_png(_: dict[str, Any]) -> bytes:
        return encode_png(served.game.frame(), level=1)

    def frame(_: dict[str, Any]) -> dict[str, Any]:
        pixels = served.game.frame()
        return {"shape": list(pixels.shape), "dtype": pixels.dtype.name, "data": encode(pixels, "base64")}

    def not_found(request: Request, exc: Exception) -> Response:
        return error_response(404, f"no route {request.method} {request.url.path}; routes: GET /info, POST /reset, "
                                   "POST /step, GET /text, GET /state, GET /frame.png, GET /frame, POST /turn, "
                                   "POST /memory")

    def not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(405, f"{request.method} is not allowed on {request.url.path}")

    routes = [
        Route("/info", route(lambda _: served.info(), post=False), methods=["GET"]),
        Route("/reset", route(served.reset, post=True), methods=["POST"]),
        Route("/step", route(served.step, post=True), methods=["POST"]),
        Route("/text", route(lambda _: {"text": served.game.text()}, post=False), methods=["GET"]),
        Route("/state", route(lambda _: game_state_json(served.game.state()), post=False), methods=["GET"]),
        Route("/frame.png", route(frame_png, post=False), methods=["GET"]),
        Route("/frame", route(frame, post=False), methods=["GET"]),
        Route("/turn", route(served.turn, post=True), methods=["POST"]),
        Route("/memory", route(served.memory, post=True), methods=["POST"]),
    ]
    middleware = [Middleware(HostCheck, allowed_hosts=allowed_hosts or ["*"])]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: not_allowed})


def served_env(env: gym.Env, env_id: str, env_kwargs: dict[str, Any], *, runs_dir: str | Path | None = "runs",
               agent: str = "remote", model: str | None = None, label: str | None = None,
               fingerprint_every: int = 1, start_state: bytes | None = None) -> ServedEnv:
    """``env`` to serve, recorded into ``runs_dir`` (None: not recorded), its header marked ``served`` (what
    ``--resume`` takes) and carrying ``label`` (what ``compare`` groups by) when given. A fingerprint after every
    step by default: an HTTP round trip costs hundreds of times what it does, and ``verify`` then names the very
    action that differs.

    ``start_state`` (``game.save_state()`` bytes) is where every reset starts unless its request names another
    start; a state the game refuses raises ``ValueError`` here (:func:`check_start_state`), before a replay is
    made, not at the first reset. The header names it (``served_start_state``: SHA-256 and size) so that
    ``--resume`` goes on with it."""
    check_start_state(env, start_state)
    replay = None
    if runs_dir is not None:
        from longplay.replays.recorder import Recorder, run_path

        # Named "served", not by a seed: the name is fixed here, before any reset, and each of the client's resets
        # picks its own seed (the replay records each episode's).
        replay = run_path(runs_dir, env_id, agent, model, unseeded="served")
        header: dict[str, Any] = {"served": True, **({"label": label} if label else {})}
        if start_state is not None:
            header["served_start_state"] = state_json(start_state)
        env = Recorder(env, replay, env_id=env_id, env_kwargs=env_kwargs, agent=agent, model=model,
                       fingerprint_every=fingerprint_every, extra_header=header)
    return ServedEnv(env, env_id=env_id, env_kwargs=env_kwargs, replay=replay, start_state=start_state)


def resumed_env(path: str | Path, make_env: Callable[[str, dict[str, Any]], gym.Env] | None = None,
                start_state: bytes | None = None) -> ServedEnv:
    """The served env of a recorded run (``longplay serve --resume``): a fresh env brought to the end of the
    replay's last episode by its recorded actions (checked against every state hash recorded on the way), then
    recording on into the same replay. A run whose last episode was finished or hit its step limit has nothing
    to resume; one whose last episode an older server ended at a refused reset (a start state the game refused:
    now it changes nothing) resumes as it stopped, its steps answered 409 until a reset. ``make_env(env_id,
    kwargs)`` builds the env (default ``gymnasium.make``). A replay another server is recording is refused, and so
    is an LM run's that has a checkpoint (``longplay run --resume``).

    A run served with a start state for every reset (``--start-state``) goes on with it: its bytes are taken
    from an episode that started from it (its step-0 keyframe), or from ``start_state`` (the file given again)
    where none did; ``start_state`` must be that very state, and is refused for a run served without one."""
    from longplay.agents.lm.checkpoint import checkpoint_path
    from longplay.envs.registration import options_from_recording
    from longplay.replays.reader import ReplayReader
    from longplay.replays.recorder import Recorder, lock_replay

    path = Path(path)
    # Refused at once when a server or run is recording it; held while the run is read and replayed, so that no
    # other recorder adds to it before this one takes the lock over.
    held = lock_replay(path) if path.is_file() else None
    try:
        checkpoint = checkpoint_path(path)
        if checkpoint.is_file():  # its resume truncates the replay to the checkpoint: what is served on would be lost
            raise ValueError(f"cannot resume {path}: it is an LM run with a checkpoint ({checkpoint.name}); go on with "
                             f"longplay run --agent lm --resume {path}")
        with ReplayReader(path) as reader:
            header = reader.header
            if not header.get("served"):  # served on, its steps would be credited to the agent that recorded it
                raise ValueError(f"cannot resume {path}: longplay serve did not record it (its agent is "
                                 f"{header.get('agent')!r}); serve without --resume to start a new run")
            episodes = reader.episodes()
            if not episodes:
                raise ValueError(f"cannot resume {path}: it holds no episode")
            last = episodes[-1]
            if last.end_reason in ("terminated", "truncated"):
                how = "was finished" if last.end_reason == "terminated" else "reached its step limit"
                raise ValueError(f"cannot resume {path}: its last episode {how} at step {last.end_step} (serve without "
                                 "--resume to start a new run)")
            actions = reader.actions(last.episode)
            options = reader.reset_options(last.episode)  # its start state is read from the file: while it is open
            start_state = _served_start_state(path, reader, start_state)
            hashes = {c.step: c.hash for c in reader.checkpoints(last.episode) if c.hash is not None}
            seconds = max((t for _, t in reader.chunk_times(last.episode)), default=last.started_t)
        env_id, kwargs = str(header["env_id"]), dict(header.get("env_kwargs") or {})
        # the game as it was recorded (a Game Boy game of an older longplay hashes as that one did)
        rebuilt = options_from_recording(env_id, kwargs, header.get("identity"))
        env = (make_env or (lambda name, kw: gym.make(name, **kw)))(env_id, rebuilt)
        try:
            env.reset(seed=last.seed, options=options)
            game = env.unwrapped.game
            if game.state_hash() != last.start_hash:
                raise ValueError(f"cannot resume {path}: the rebuilt game differs from the replay at its start (state "
                                 "hashes differ): the game or its version changed since the run")
            for step, action in enumerate(actions, 1):
                env.step(action)
                if step in hashes and game.state_hash() != hashes[step]:
                    raise ValueError(f"cannot resume {path}: the rebuilt game differs from the replay at step {step} "
                                     "(state hashes differ): the game or its version changed since the run")
            # The recorder takes the lock over: released before the resume, another server could begin in between.
            lock, held = held, None
            # An episode ended by "reset" is the last only when the reset after it failed (a start state the game
            # refused, on a server from before such a reset changed nothing): it stays ended, and steps wait for a
            # reset, as they did on the server that stopped.
            refused = last.end_reason == "reset"
            recorder = Recorder.resume(env, path, step=len(actions), seconds=seconds, lock=lock,
                                       ended="reset" if refused else None)
        except BaseException:
            env.close()
            raise
    finally:
        if held is not None:
            held.release()
    served = ServedEnv(recorder, env_id=env_id, env_kwargs=kwargs, replay=path, start_state=start_state)
    served.episode, served.steps = last.episode, len(actions)
    if refused:
        served.refused_start = "its start state was refused before the server stopped"
    return served


def _served_start_state(path: Path, reader: Any, given: bytes | None) -> bytes | None:
    """The start state a served run's resets took by default (its header's ``served_start_state``): the bytes of
    an episode that started from it, else ``given``; ``ValueError`` when neither is that state."""
    recorded = reader.header.get("served_start_state")
    if recorded is None:
        if given is not None:
            raise ValueError(f"cannot resume {path} with --start-state: it was served without one (serve without "
                             "--resume to start a new run from a state)")
        return None
    digest = recorded["sha256"]
    if given is not None:
        if hashlib.sha256(given).hexdigest() != digest:
            raise ValueError(f"cannot resume {path} with this --start-state: the run was served from another state "
                             f"(SHA-256 {digest[:12]}...)")
        return given
    from longplay.replays.schema import CorruptReplayError

    for episode in reader.episodes():
        if episode.start_digest == digest:
            try:
                return reader.start_state(episode.episode)
            except CorruptReplayError:  # a missing or edited one: another episode may hold it
                continue
    raise ValueError(f"cannot resume {path}: it was served with a --start-state (SHA-256 {digest[:12]}...) that no "
                     "episode started from, so the replay does not hold it; give the file again: --start-state FILE")


def served_thread(served: ServedEnv, host: str = "127.0.0.1", port: int = 0) -> Any:
    """A served env from a background thread (tests, benchmarks): ``with served_thread(served) as url:``; the
    env (and its replay) is closed when the server stops."""
    from longplay.replays.viewer.server import AppThread, hosts_for

    class ServedThread(AppThread):
        def release(self) -> None:
            served.close()

    return ServedThread(create_app(served, allowed_hosts=hosts_for(host)), host, port)


# ============================================================================================== client
class RemoteEnv(gym.Env):
    """A ``gymnasium.Env`` over a served env (``longplay serve``): ``RemoteEnv("http://127.0.0.1:8765/")``.

    Spaces come from the server's ``/info``; observations travel as base64 (exact, and small for pixels).
    A refused request raises :class:`RemoteError` with the server's one-line message (``ValueError`` for an
    invalid action, as a local env raises); no server, ``ConnectionError``; no answer within ``timeout``
    seconds, ``TimeoutError``.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"]}

    def __init__(self, url: str, *, timeout: float = 60.0, render_mode: str | None = None) -> None:
        self.url = url.rstrip("/") + "/"
        if url_problem(self.url, ("http",), port_zero=True) is not None:
            raise ValueError(f"invalid env server URL {url!r}; use http://HOST:PORT/")
        self._netloc = urllib.parse.urlsplit(self.url)
        self._base_path = self._netloc.path
        self._conn: http.client.HTTPConnection | None = None  # one kept-alive connection
        # Each POST carries a key of its own (Idempotency-Key), so that one sent again after a dropped connection is
        # answered as before, not acted on twice (a step taken twice, the run and the replay then disagreeing).
        self._client_id = uuid.uuid4().hex
        self._posts = itertools.count()
        self.timeout = timeout
        self.render_mode = render_mode
        self.remote_info = self._request("GET", "info")
        self.action_space = space_from_json(self.remote_info["action_space"])
        self.observation_space = space_from_json(self.remote_info["observation_space"])
        self.buttons: list[str] = self.remote_info["buttons"]

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, *, raw: bool = False) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if method == "POST":
            headers["Idempotency-Key"] = f"{self._client_id}-{next(self._posts)}"
        # A kept-alive connection the server closed meanwhile is opened again, once; the request is sent again with
        # its key, which the server answers as before if it had acted on it.
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._netloc.hostname, self._netloc.port,
                                                        timeout=self.timeout)
            try:
                self._conn.request(method, self._base_path + path, body=data, headers=headers)
                response = self._conn.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt:
                    raise ConnectionError(f"the env server at {self.url} closed the connection ({exc})") from None
            except TimeoutError:  # there may be a server, busy or stuck: "no env server" sent the user looking for one
                self.close()  # a late answer must not be read as the next request's
                raise TimeoutError(f"the env server at {self.url} did not answer within {self.timeout:g} s "
                                   "(RemoteEnv's timeout)") from None
            except OSError as exc:
                self.close()
                raise ConnectionError(f"no env server at {self.url} ({exc.strerror or exc})") from None
        if response.status >= 400:
            try:
                message = json.loads(payload)["error"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {response.status} {response.reason}"
            raise RemoteError(response.status, message)
        return payload if raw else json.loads(payload)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Starts an episode, as the local env does: ``options={"state": bytes}`` starts it from that save state,
        ``{"state": None}`` from the game's own start; without ``state`` it starts where the server's resets do
        (its ``--start-state``, if any). A state the game refuses raises ``ValueError`` with the server's line and
        changes nothing: the episode under way goes on, as on the local env."""
        start_state_option(options)  # an unknown key, a state that is not bytes: refused here, as the local env does
        rng = copy.deepcopy(self._np_random), self._np_random_seed  # put back if the server refuses, as the local env
        super().reset(seed=seed)
        if seed is None:  # the local env draws its game seed the same way
            seed = int(self.np_random.integers(0, MAX_SEED))
        body: dict[str, Any] = {"seed": seed, "encoding": "base64"}
        if options is not None and "state" in options:
            state = options["state"]
            body["options"] = {"state": None if state is None else base64.b64encode(bytes(state)).decode("ascii")}
        try:
            reply = self._request("POST", "reset", body)
        except RemoteError as exc:
            if exc.status == 400:  # as a local env raises for a refused state
                self._np_random, self._np_random_seed = rng
                raise ValueError(str(exc)) from None
            raise
        return decode(reply["observation"], self.observation_space, "base64"), reply["info"]

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if not isinstance(action, str):  # a button name goes as it is; else what the local env takes, as an int
            index = action_index(action)  # a policy's 0-d array, a numpy int; not 3.5, True or an array of two
            if index < 0:
                raise ValueError(f"invalid action {action!r}; valid: 0..{self.action_space.n - 1}")
            action = index
        try:
            reply = self._request("POST", "step", {"action": action, "encoding": "base64"})
        except RemoteError as exc:
            if exc.status == 400:
                raise ValueError(str(exc)) from None
            raise
        return (decode(reply["observation"], self.observation_space, "base64"), reply["reward"],
                reply["terminated"], reply["truncated"], reply["info"])

    def render(self) -> Any:
        if self.render_mode == "rgb_array":
            return self.frame()
        if self.render_mode == "ansi":
            return self.text()
        return None

    def frame(self) -> np.ndarray:
        """The screen, uint8 (144, 160, 3)."""
        reply = self._request("GET", "frame")
        return np.frombuffer(base64.b64decode(reply["data"]), reply["dtype"]).reshape(reply["shape"]).copy()

    def text(self) -> str:
        """The game's text view."""
        return self._request("GET", "text")["text"]

    def state(self) -> dict[str, Any]:
        """The game's state summary (map, position, party, bag, money, badges, dialog)."""
        return self._request("GET", "state")

    def log_turn(self, **fields: Any) -> dict[str, Any]:
        """Records a model turn in the server's replay (``response``, ``tokens_in``, ``cost_usd``, ...)."""
        return self._request("POST", "turn", fields)

    def log_memory(self, name: str, content: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Records a memory snapshot in the server's replay."""
        return self._request("POST", "memory", {"name": name, "content": content,
                                                **({"extra": extra} if extra else {})})
