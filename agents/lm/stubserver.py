"""Local stand-ins for the Anthropic and OpenAI-compatible HTTP APIs, for tests without network or keys.

A :class:`StubServer` listens on 127.0.0.1 (a free port) in a thread and answers each request with the
next item of its script: a reply (text and tool calls, in the API's own JSON), or a fault (HTTP 429 with
``retry-after``, 500, a delay longer than the client's timeout, a truncated JSON body). The real SDK
clients talk to it, so the tests exercise the same code paths as a run against the real services. It reads
requests as strictly as the strictest servers do (llama.cpp's, those written in Rust or Go): a body, or an OpenAI
history's tool-call arguments, that is not standard JSON (``NaN``, ``Infinity``, ``1e400``) is a 400. So is a history
whose tool results do not answer the calls before them, one result per call id, as both APIs refuse it.

>>> server = StubServer("openai", [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])])
>>> server.start().base_url.startswith("http://127.0.0.1:")
True
>>> server.stop()
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from longplay.replays.schema import strict_json


@dataclass
class Reply:
    """A successful answer: text and tool calls ``(name, raw JSON arguments)``; usage is made up from the
    request size unless given, and left out of the body with ``no_usage`` (as some proxies do)."""

    text: str = ""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    no_usage: bool = False


@dataclass
class Fault:
    """A failure: ``kind`` is an HTTP status (``429``, ``500``, ``529``, ``409``, ``401``, ``400``), ``timeout``
    (sleeps ``delay`` seconds, then answers like a reply), ``truncated`` (a 200 whose JSON body is cut short) or
    ``html`` (a 200 whose body is a web page, as a proxy's login page or a base URL pointing at a web UI sends)."""

    kind: str
    retry_after: float | None = None
    delay: float = 0.0
    message: str | None = None
    """An HTTP error's message (default ``stub fault <status>``); a real server's may be long (a context-length
    error)."""
    should_retry: bool | None = None
    """An ``x-should-retry`` header (``true``/``false``): the server's own word on retrying."""


Item = Reply | Fault | Callable[[dict[str, Any]], "Reply | Fault"]


class StubServer:
    """An Anthropic (``POST /v1/messages``) or OpenAI (``POST /v1/chat/completions``) stand-in.

    Args:
        kind: ``anthropic`` or ``openai``.
        script: Items answered in order (a callable gets the request JSON and returns a reply or fault);
            when the script runs out, the last item repeats.
    """

    def __init__(self, kind: str, script: list[Item]) -> None:
        if kind not in ("anthropic", "openai"):
            raise ValueError(f"unknown stub kind {kind!r}")
        self.kind = kind
        self.script = list(script)
        self.position = 0
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    @property
    def base_url(self) -> str:
        """What the SDK's ``base_url`` should be."""
        assert self._server is not None, "start() the server first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}" + ("/v1" if self.kind == "openai" else "")

    def start(self) -> StubServer:
        """Starts listening; returns ``self``."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                stub._handle(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ answers
    def _next(self, request: dict[str, Any]) -> Reply | Fault:
        with self._lock:
            item = self.script[min(self.position, len(self.script) - 1)]
            self.position += 1
            self._counter += 1
        return item(request) if callable(item) else item

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        expected = "/v1/messages" if self.kind == "anthropic" else "/v1/chat/completions"
        if handler.path.split("?")[0] != expected:
            self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
            return
        try:
            request = strict_json(body)
            if self.kind == "openai":
                for message in request.get("messages", []):
                    for call in message.get("tool_calls") or []:
                        strict_json(call["function"]["arguments"])
        except ValueError as exc:  # JSONDecodeError is one
            self._send(handler, 400, {"error": {"message": f"bad JSON: {exc}"}})
            return
        except (KeyError, TypeError, AttributeError) as exc:  # a real server's 400, not a crash in this thread
            self._send(handler, 400, {"error": {"message": f"malformed messages or tool_calls: {exc!r}"}})
            return
        problem = unanswered_tool_calls(self.kind, request.get("messages", []))
        if problem:
            self._send(handler, 400, {"error": {"type": "invalid_request_error", "message": problem}})
            return
        with self._lock:
            self.requests.append(request)
            self.headers.append({k.lower(): v for k, v in handler.headers.items()})
        item = self._next(request)
        if isinstance(item, Fault):
            if item.kind == "timeout":
                time.sleep(item.delay)
                item = Reply(tool_calls=[("press_buttons", '{"buttons": ["b"]}')])
            elif item.kind == "truncated":
                data = json.dumps(
                    self._reply_json(Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')]), request)
                ).encode()
                self._send_raw(handler, 200, data[: len(data) // 2])
                return
            elif item.kind == "html":
                self._send_raw(handler, 200, b"<html><body>Sign in</body></html>", content_type="text/html")
                return
            else:
                status = int(item.kind)
                headers = {}
                if item.should_retry is not None:
                    headers["x-should-retry"] = "true" if item.should_retry else "false"
                if item.retry_after is not None:
                    headers["retry-after"] = f"{item.retry_after:g}"
                    headers["retry-after-ms"] = f"{item.retry_after * 1000:g}"
                kinds = {
                    429: "rate_limit_error",
                    500: "api_error",
                    529: "overloaded_error",
                    401: "authentication_error",
                    400: "invalid_request_error",
                }
                error = {"type": kinds.get(status, "api_error"), "message": item.message or f"stub fault {status}"}
                payload = {"type": "error", "error": error} if self.kind == "anthropic" else {"error": error}
                self._send(handler, status, payload, headers)
                return
        payload = self._reply_json(item, request)
        if item.no_usage:
            del payload["usage"]
        self._send(handler, 200, payload)

    def _usage(self, reply: Reply, request: dict[str, Any]) -> dict[str, int]:
        if reply.usage is not None:
            return reply.usage
        prompt = len(json.dumps(request)) // 4
        out = (len(reply.text) + sum(len(a) for _, a in reply.tool_calls)) // 4 + 5
        return {"input": prompt, "output": out, "cache_read": prompt // 2 if self._counter > 1 else 0}

    def _reply_json(self, reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
        usage = self._usage(reply, request)
        n = self._counter
        if self.kind == "anthropic":
            content: list[dict[str, Any]] = []
            if reply.text:
                content.append({"type": "text", "text": reply.text})
            for i, (name, raw) in enumerate(reply.tool_calls):
                try:
                    args = json.loads(raw)
                except json.JSONDecodeError:
                    args = {"_raw": raw}
                content.append({"type": "tool_use", "id": f"toolu_{n}_{i}", "name": name, "input": args})
            return {
                "id": f"msg_{n}",
                "type": "message",
                "role": "assistant",
                "model": request.get("model", "stub"),
                "content": content,
                "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": usage["input"] - usage.get("cache_read", 0),
                    "output_tokens": usage["output"],
                    "cache_read_input_tokens": usage.get("cache_read", 0),
                    "cache_creation_input_tokens": usage.get("cache_write", 0),
                },
            }
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function", "function": {"name": name, "arguments": raw}}
                for i, (name, raw) in enumerate(reply.tool_calls)
            ]
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage["input"],
                "completion_tokens": usage["output"],
                "total_tokens": usage["input"] + usage["output"],
                "prompt_tokens_details": {"cached_tokens": usage.get("cache_read", 0)},
            },
        }

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        StubServer._send_raw(handler, status, json.dumps(payload).encode(), headers)

    @staticmethod
    def _send_raw(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("content-type", content_type)
            handler.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


def unanswered_tool_calls(kind: str, messages: list[Any]) -> str | None:
    """Why both APIs would refuse ``messages`` (in ``kind``'s wire format), or ``None``: every assistant message's
    tool calls are answered right after it, one result per call id, and no result answers anything else (Anthropic:
    the ``tool_result`` blocks of the next user message; OpenAI: the ``tool`` messages that follow)."""
    calls: list[str] = []  # the ids of the tool calls waiting for their results
    results: list[str] = []
    for message in [*messages, {"role": "end"}]:
        role = message.get("role") if isinstance(message, dict) else None
        if kind == "openai" and role == "tool":
            results.append(str(message.get("tool_call_id")))
            continue
        blocks = message.get("content") if isinstance(message, dict) else None
        blocks = [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
        if kind == "anthropic" and role == "user":
            results = [str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"]
        if kind == "openai" or role == "user":  # where the results of the calls before must be
            if sorted(results) != sorted(calls):
                return (f"the tool results {results} do not answer the tool calls {calls} before them "
                        "(one result per call id)")
            calls, results = [], []
        if role == "assistant":
            calls = ([str(c.get("id")) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
                     if kind == "openai" else [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"])
    return None
