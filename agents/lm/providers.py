"""Model providers behind one small interface, and retries with exponential back-off and jitter.

A :class:`Provider` turns a provider-neutral :class:`~longplay.agents.lm.messages.ModelRequest` into a
:class:`~longplay.agents.lm.messages.ModelResponse`, or raises :class:`ProviderError` saying whether the
failure is worth retrying. Three kinds:

* :class:`AnthropicProvider`: the official ``anthropic`` SDK (tool use, images, prompt caching).
* :class:`OpenAIProvider`: the official ``openai`` SDK against any OpenAI-compatible endpoint (OpenAI, vLLM,
  Ollama, llama.cpp server, OpenRouter) given a base URL.
* :class:`OfflineProvider`: a deterministic scripted policy that reads only the request (what a model
  would see): CI plays games end to end with it, with no network and no key.

API keys are read from the environment when a provider is built, held by the SDK client only, and scrubbed
from every error message (:func:`redact`); replays record the name of the variable, never its value.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import os
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from longplay.agents.lm.config import DEFAULT_KEY_ENV, PROVIDERS, ProviderConfig, RetryConfig
from longplay.agents.lm.messages import (
    Image,
    Message,
    ModelRequest,
    ModelResponse,
    Text,
    ToolCall,
    ToolResult,
    Usage,
    clean_text,
    estimate_message_tokens,
    estimate_tokens,
    sent_arguments,
)

#: Failure kinds worth another attempt.
RETRYABLE_KINDS = frozenset({"rate_limit", "server", "timeout", "conflict", "connection", "bad_response"})


class ProviderError(Exception):
    """A failed model call. ``str(error)`` is one line with no secret in it.

    Attributes:
        kind: ``rate_limit``, ``server``, ``timeout``, ``conflict``, ``connection``, ``bad_response`` (retryable),
            ``auth``, ``bad_request``, ``config`` (not).
        retry_after: Seconds the server asked to wait, if it said.
        status: The HTTP status, if there was one.
        should_retry: The server's ``x-should-retry`` header (``True``/``False``), if it sent one.
    """

    def __init__(
        self, kind: str, message: str, *, retry_after: float | None = None, status: int | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(" ".join(clean_text(message).split()))
        self.kind = kind
        self.retry_after = retry_after
        self.status = status
        self.should_retry = should_retry

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed: the server's ``x-should-retry`` when it sent one (both official SDKs
        obey it over their status rule), else by kind."""
        return self.kind in RETRYABLE_KINDS if self.should_retry is None else self.should_retry


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of 4 characters or more) replaced by ``***``.

    >>> redact("bad key sk-123456 given", ["sk-123456"])
    'bad key *** given'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def redact_url(url: str | None) -> str | None:
    """A URL without user name, password or query string (they may hold credentials).

    >>> redact_url("https://user:pw@example.com/v1?key=abc")
    'https://example.com/v1'
    """
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Provider(Protocol):
    """What the loop needs from a model endpoint."""

    name: str
    model: str

    def complete(self, request: ModelRequest) -> ModelResponse:
        """Answers one request, or raises :class:`ProviderError`."""

    def describe(self) -> dict[str, Any]:
        """What the replay header records (no secret)."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (empty for stateless endpoints)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`."""


def key_env(config: ProviderConfig) -> str:
    """The environment variable the provider's API key is read from (``--api-key-env``, else the default)."""
    return config.api_key_env or DEFAULT_KEY_ENV.get(config.provider, "")


def api_key(config: ProviderConfig, required: bool) -> str | None:
    """The key from the environment variable the config names; ``ProviderError`` if required and unset."""
    env_name = key_env(config)
    key = os.environ.get(env_name) if env_name else None
    if required and not key:
        raise ProviderError(
            "config",
            f"no API key: set the environment variable {env_name} (or name another one with --api-key-env)",
        )
    return key or None


def _part_text(part: Any) -> str:
    """The text of one part of an OpenAI-style content list (a dict or an SDK object); "" for a part of another
    kind (an image, audio)."""
    kind = part.get("type") if isinstance(part, dict) else getattr(part, "type", None)
    text = part.get("text") if isinstance(part, dict) else getattr(part, "text", None)
    return text if kind in (None, "text", "output_text") and isinstance(text, str) else ""


def _should_retry(headers: Any) -> bool | None:
    """A server's ``x-should-retry`` header: ``True`` for ``true``, ``False`` for ``false``, else ``None``."""
    try:
        value = None if headers is None else headers.get("x-should-retry")
    except (TypeError, AttributeError):
        return None
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:  # HTTP dates are GMT (RFC 9110), never local time
                when = when.replace(tzinfo=datetime.timezone.utc)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return None


#: The failure kind of an HTTP status; any other is ``server`` from 500 up, else ``bad_request``. Which are retried is
#: what both official SDKs retry by default (408, 409, 429, 5xx; their own retries are off, so the loop does it). A
#: 409 Conflict is, to both, a lock timeout (a concurrent request held what this one needed): over once that one is
#: done, so it is retried, and its own kind says so in the replay instead of passing for a server error.
STATUS_KINDS = {401: "auth", 403: "auth", 408: "timeout", 409: "conflict", 429: "rate_limit"}


def _classify_status(status: int) -> str:
    return STATUS_KINDS.get(status, "server" if status >= 500 else "bad_request")


def _sdk_call(create: Callable[[], Any], read: Callable[[Any], ModelResponse], sdk: Any, sdk_error: type,
              secrets: list[str], config: ProviderConfig) -> ModelResponse:
    """``read(create())``: one call through an SDK (anthropic and openai share their shapes). Its exceptions
    (``sdk_error``) are mapped by :func:`_sdk_error`; a body it cannot parse, or a reply whose fields have the
    wrong shape or type for ``read`` (a usage count that is not a number, say: the SDKs do not validate bodies),
    is a retryable ``bad_response``, not a crash."""
    try:
        reply = create()
    except sdk_error as exc:
        raise _sdk_error(exc, sdk, secrets, config) from None
    except (ValueError, TypeError, KeyError) as exc:  # an unreadable body
        raise ProviderError("bad_response", redact(f"unreadable reply: {exc}", secrets)) from None
    try:
        return read(reply)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ProviderError("bad_response", redact(f"unreadable reply: {exc}", secrets)) from None


def _sdk_error(exc: Exception, sdk: Any, secrets: list[str], config: ProviderConfig) -> ProviderError:
    """Maps an SDK exception (anthropic and openai share their shapes) to a :class:`ProviderError`; an
    authentication failure names the provider and the variable its key came from."""
    message = redact(f"{type(exc).__name__}: {exc}", secrets)
    if len(message) > 500:
        message = message[:500] + " ..."
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError("timeout", message)
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError("connection", message)
    if isinstance(exc, sdk.APIStatusError):
        status = int(exc.status_code)
        kind = _classify_status(status)
        if kind == "auth":
            refused = "the API key" if status == 401 else f"access to model {config.model}"
            message = (f"{config.provider} refused {refused} (HTTP {status}): check the key in {key_env(config)} "
                       f"(or name another variable with --api-key-env); {message}")
        headers = getattr(exc.response, "headers", None)
        return ProviderError(kind, message, status=status, retry_after=_retry_after(headers),
                             should_retry=_should_retry(headers))
    return ProviderError("bad_response", message)


def _estimated_response(request: ModelRequest, message: Message, stop_reason: Any, reply: Any) -> ModelResponse:
    """The response to a reply without usage (or without a count): the local estimate of the call's tokens, all
    input billed as uncached, marked ``estimated_usage``."""
    return ModelResponse(
        message,
        Usage(estimate_tokens(request), estimate_message_tokens(message)),
        stop_reason=str(stop_reason or ""),
        model=str(getattr(reply, "model", "")),
        estimated_usage=True,
    )


def _cut_note(request: ModelRequest) -> str:
    """What a call's argument error adds when the reply was cut at the output limit: without it the model took the
    unfinished arguments for its own mistake and wrote as much again."""
    return (f" (the reply was cut off at the output limit ({request.max_output_tokens} tokens): think less before "
            "the call)")


def _missing(usage: Any, *fields: str) -> bool:
    """Whether the reply has no usage block, or one without a count it must have (never read as 0)."""
    return usage is None or any(getattr(usage, name, None) is None for name in fields)


# ============================================================================================ SDKs
#: The SDK module each provider calls through (both in the ``lm`` extra).
SDKS = {"anthropic": "anthropic", "openai": "openai"}


def import_sdk(provider: str) -> Any:
    """The SDK module of ``provider``; :class:`ProviderError` (kind ``config``) naming the extra to install when it
    is missing. The providers import it when built; a sweep checks every cell's before the first one runs."""
    import importlib

    try:
        return importlib.import_module(SDKS[provider])
    except ImportError as exc:  # a base install: name the extra
        raise ProviderError("config", f"the {provider} provider needs the {SDKS[provider]} SDK: "
                            f"pip install 'longplay[lm]' ({exc})") from None


def check_sdk_installed(provider: str) -> None:
    """:func:`import_sdk`'s error when ``provider``'s SDK is not installed, found without importing it (slow): the
    providers check it before the API key, so a base install is told about the extra first, not about the key and
    then, once the key is set, about the extra."""
    import importlib.util

    try:
        found = importlib.util.find_spec(SDKS[provider]) is not None
    except ImportError:  # a finder that refuses the name (a broken install)
        found = False
    if not found:
        import_sdk(provider)  # raises its error naming the extra


# ============================================================================================ Anthropic


class AnthropicProvider:
    """Claude models through the official ``anthropic`` SDK (its own retries off: the loop retries)."""

    name = "anthropic"

    def __init__(self, config: ProviderConfig, key: str | None = None) -> None:
        check_sdk_installed("anthropic")
        key = key or api_key(config, required=True)  # before the (slow) SDK import: fail fast
        anthropic = import_sdk("anthropic")

        self.config = config
        self.model = config.model
        self._secrets = [key or ""]
        self._sdk = anthropic
        self._client = anthropic.Anthropic(
            api_key=key, base_url=config.base_url, max_retries=0, timeout=config.request_timeout_s
        )

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model, "base_url": redact_url(self.config.base_url)}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def wire_request(self, request: ModelRequest) -> dict[str, Any]:
        """The keyword arguments of ``messages.create`` for ``request``."""
        cache = {"type": "ephemeral"} if self.config.prompt_caching else None
        system: list[dict[str, Any]] = [{"type": "text", "text": request.system}]
        if cache:
            system[0]["cache_control"] = cache
        tools = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
        if cache and tools:
            tools[-1]["cache_control"] = cache
        messages = [
            {"role": m.role, "content": [self._block(b) for b in m.blocks] or [{"type": "text", "text": "."}]}
            for m in request.messages
        ]
        if cache and 0 < request.cache_prefix <= len(messages):
            messages[request.cache_prefix - 1]["content"][-1]["cache_control"] = cache
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_output_tokens,
            "system": system,
            "messages": messages,
        }
        if tools:
            kwargs["tools"] = tools
        if self.config.temperature is not None:
            kwargs["extra_body"] = {"temperature": self.config.temperature}
        return kwargs

    @staticmethod
    def _block(block: Any) -> dict[str, Any]:
        if isinstance(block, Text):
            return {"type": "text", "text": block.text or "."}
        if isinstance(block, Image):
            return {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": block.base64()},
            }
        if isinstance(block, ToolCall):
            return {"type": "tool_use", "id": block.id, "name": block.name, "input": sent_arguments(block)}
        assert isinstance(block, ToolResult)
        return {
            "type": "tool_result",
            "tool_use_id": block.call_id,
            "content": block.content or ".",
            "is_error": block.is_error,
        }

    def complete(self, request: ModelRequest) -> ModelResponse:
        return _sdk_call(lambda: self._client.messages.create(**self.wire_request(request)),
                         lambda reply: self._response(reply, request), self._sdk, self._sdk.AnthropicError,
                         self._secrets, self.config)

    @staticmethod
    def _response(reply: Any, request: ModelRequest) -> ModelResponse:
        content = getattr(reply, "content", None)
        if not isinstance(content, list):  # a web page, {}: no message, and never billed as an empty reply
            raise ProviderError("bad_response", "reply without a content list: not a Messages API reply")
        blocks: list[Any] = []
        for item in content:
            kind = getattr(item, "type", "")
            if kind == "text":
                if not isinstance(item.text, str):
                    raise TypeError(f"text block with text {item.text!r}")
                blocks.append(Text(clean_text(item.text)))
            elif kind == "tool_use":
                if not (isinstance(item.id, str) and isinstance(item.name, str)):
                    raise TypeError(f"tool_use block with id {item.id!r} and name {item.name!r}")
                call_id, name, args = clean_text(item.id), clean_text(item.name), clean_text(item.input)
                if isinstance(args, dict):
                    blocks.append(ToolCall(call_id, name, args, json.dumps(args)))
                else:
                    error = "tool input must be a JSON object"
                    if getattr(reply, "stop_reason", "") == "max_tokens":
                        error += _cut_note(request)
                    blocks.append(ToolCall(call_id, name, None, json.dumps(args), error))
        usage = getattr(reply, "usage", None)
        message = Message("assistant", blocks)
        if _missing(usage, "input_tokens", "output_tokens"):  # billed all the same: estimated, never retried
            return _estimated_response(request, message, getattr(reply, "stop_reason", ""), reply)
        return ModelResponse(
            message,
            Usage(
                int(usage.input_tokens or 0),
                int(usage.output_tokens or 0),
                int(getattr(usage, "cache_read_input_tokens", 0) or 0),
                int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
            ),
            stop_reason=str(getattr(reply, "stop_reason", "") or ""),
            model=str(getattr(reply, "model", "")),
        )


# ============================================================================================ OpenAI


class OpenAIProvider:
    """Any OpenAI-compatible chat-completions endpoint through the official ``openai`` SDK."""

    name = "openai"

    def __init__(self, config: ProviderConfig, key: str | None = None) -> None:
        # Local servers (vLLM, Ollama, llama.cpp) take any key; OpenAI itself needs one, and so does a server
        # whose key variable the user named (--api-key-env).
        check_sdk_installed("openai")
        required = config.base_url is None or config.api_key_env is not None
        key = key or api_key(config, required=required) or "no-key"
        openai = import_sdk("openai")

        self.config = config
        self.model = config.model
        self._secrets = [key]
        self._sdk = openai
        field = config.openai_max_tokens_field
        if field == "auto":
            official = config.base_url is None or "api.openai.com" in config.base_url
            field = "max_completion_tokens" if official else "max_tokens"
        self.max_tokens_field = field
        self._client = openai.OpenAI(
            api_key=key, base_url=config.base_url, max_retries=0, timeout=config.request_timeout_s
        )

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model, "base_url": redact_url(self.config.base_url)}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def wire_request(self, request: ModelRequest) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for ``request``."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
        for message in request.messages:
            messages.extend(self._messages(message))
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            self.max_tokens_field: request.max_output_tokens,
        }
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        return kwargs

    @staticmethod
    def _messages(message: Message) -> list[dict[str, Any]]:
        if message.role == "assistant":
            out: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            calls = message.tool_calls
            if calls:
                out["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {
                            "name": c.name,
                            "arguments": c.sent_argument_text,
                        },
                    }
                    for c in calls
                ]
            elif out["content"] is None:
                out["content"] = ""
            return [out]
        wire: list[dict[str, Any]] = [
            {"role": "tool", "tool_call_id": b.call_id, "content": b.content}
            for b in message.blocks
            if isinstance(b, ToolResult)
        ]
        parts: list[dict[str, Any]] = []
        for b in message.blocks:
            if isinstance(b, Text):
                parts.append({"type": "text", "text": b.text})
            elif isinstance(b, Image):
                parts.append(
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b.base64()}"}}
                )
        if parts:
            only_text = all(p["type"] == "text" for p in parts)
            wire.append(
                {"role": "user", "content": "\n".join(p["text"] for p in parts) if only_text else parts}
            )
        return wire

    def complete(self, request: ModelRequest) -> ModelResponse:
        return _sdk_call(lambda: self._client.chat.completions.create(**self.wire_request(request)),
                         lambda reply: self._response(reply, request), self._sdk, self._sdk.OpenAIError,
                         self._secrets, self.config)

    def _response(self, reply: Any, request: ModelRequest) -> ModelResponse:
        choices = getattr(reply, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise ProviderError("bad_response", "reply without choices")
        choice = choices[0]
        msg = getattr(choice, "message", None)
        if msg is None:  # never billed as an empty reply: a refusal or filtered reply still has its message
            raise ProviderError("bad_response", "reply whose first choice has no message")
        blocks: list[Any] = []
        content = getattr(msg, "content", None)
        if isinstance(content, list):  # some compatible servers send parts, [{"type": "text", "text": ...}, ...]
            content = "".join(_part_text(part) for part in content)
        if isinstance(content, str) and content:
            blocks.append(Text(clean_text(content)))
        refusal = getattr(msg, "refusal", None)  # what the model said when it refused: the replay shows it
        if isinstance(refusal, str) and refusal.strip():
            blocks.append(Text(clean_text(refusal)))
        made_up = ""
        for i, call in enumerate(getattr(msg, "tool_calls", None) or []):
            function = getattr(call, "function", None)
            name = clean_text(str(getattr(function, "name", "") or ""))
            raw = getattr(function, "arguments", "")
            raw = clean_text(raw if isinstance(raw, str) else json.dumps(raw))
            call_id = clean_text(str(getattr(call, "id", "") or ""))
            if not call_id:  # a server that sends none: made from the request, so a resumed run never repeats one
                made_up = made_up or request.digest().removeprefix("sha256:")[:12]
                call_id = f"call_{made_up}_{i}"
            try:
                args = clean_text(json.loads(raw)) if raw.strip() else {}
                error = None if isinstance(args, dict) else "tool arguments must be a JSON object"
            except json.JSONDecodeError as exc:
                args, error = None, f"tool arguments are not valid JSON ({exc.msg} at character {exc.pos})"
            if error is not None and getattr(choice, "finish_reason", "") == "length":
                error += _cut_note(request)
            blocks.append(ToolCall(call_id, name, args if error is None else None, raw, error))
        usage = getattr(reply, "usage", None)
        message = Message("assistant", blocks)
        if _missing(usage, "prompt_tokens", "completion_tokens"):  # estimated, as the Anthropic provider does
            return _estimated_response(request, message, getattr(choice, "finish_reason", ""), reply)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
        return ModelResponse(
            message,
            Usage(max(0, prompt - cached), int(getattr(usage, "completion_tokens", 0) or 0), cached, 0),
            stop_reason=str(getattr(choice, "finish_reason", "") or ""),
            model=str(getattr(reply, "model", "")),
        )


# ============================================================================================ offline


class Policy(Protocol):
    """A scripted model: reads the request, writes the reply. Deterministic given its state."""

    def reply(self, request: ModelRequest) -> Message:
        """The assistant message for ``request``."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`."""


#: Offline model name -> "module:Class" of its policy.
OFFLINE_POLICIES: dict[str, str] = {
    "offline-explorer": "longplay.agents.lm.offline:ExplorerPolicy",
}


class OfflineProvider:
    """A scripted policy behind the provider interface; token usage is the local estimate."""

    name = "offline"

    def __init__(self, config: ProviderConfig, policy: Policy | None = None, seed: int = 0) -> None:
        self.config = config
        self.model = config.model
        if policy is None:
            if config.model not in OFFLINE_POLICIES:
                raise ProviderError(
                    "config",
                    f"unknown offline model {config.model!r}; valid: {', '.join(sorted(OFFLINE_POLICIES))}",
                )
            import importlib

            module, cls = OFFLINE_POLICIES[config.model].split(":")
            policy = getattr(importlib.import_module(module), cls)(seed=seed)
        self.policy = policy

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model, "base_url": None}

    def state_dict(self) -> dict[str, Any]:
        return self.policy.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state)

    def complete(self, request: ModelRequest) -> ModelResponse:
        message = self.policy.reply(request)
        return ModelResponse(
            message,
            Usage(estimate_tokens(request), estimate_message_tokens(message)),
            stop_reason="tool_use" if message.tool_calls else "end_turn",
            model=self.model,
            estimated_usage=True,
        )


class ScriptedProvider:
    """Plays back a list of replies and failures in order (for tests of the loop); then repeats the last."""

    name = "scripted"

    def __init__(
        self,
        script: list[Message | ProviderError | Callable[[ModelRequest], Message]],
        model: str = "scripted",
    ) -> None:
        self.script = script
        self.model = model
        self.position = 0
        self.requests: list[ModelRequest] = []

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model, "base_url": None}

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.position = int(state.get("position", 0))

    def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        item = self.script[min(self.position, len(self.script) - 1)]
        self.position += 1
        if isinstance(item, ProviderError):
            raise item
        message = item(request) if callable(item) else item
        return ModelResponse(
            message,
            Usage(estimate_tokens(request), estimate_message_tokens(message)),
            model=self.model,
            estimated_usage=True,
        )


def build_provider(config: ProviderConfig, seed: int = 0) -> Provider:
    """The provider the config names; raises :class:`ProviderError` (kind ``config``) on bad config."""
    if config.provider == "anthropic":
        return AnthropicProvider(config)
    if config.provider == "openai":
        return OpenAIProvider(config)
    if config.provider == "offline":
        return OfflineProvider(config, seed=seed)
    raise ProviderError(
        "config", f"unknown provider {config.provider!r}; valid providers: {', '.join(PROVIDERS)}"
    )


# ============================================================================================ retries


@dataclass
class Attempt:
    """One failed attempt of a call."""

    kind: str
    message: str
    status: int | None
    waited_s: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict for the replay."""
        return {
            "kind": self.kind,
            "message": self.message,
            "status": self.status,
            "waited_s": round(self.waited_s, 3),
        }


def backoff_delay(attempt: int, config: RetryConfig, rng: random.Random, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    The server's ``retry-after`` wins when given; otherwise exponential back-off with "equal jitter"
    (half fixed, half random), so many runs hitting one rate limit spread out. Never above the maximum.
    """
    if retry_after is not None:
        return min(config.backoff_max_s, retry_after)
    ceiling = min(config.backoff_max_s, config.backoff_base_s * (2**attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


_SPACE = re.compile(r"\s+")


def call_with_retries(
    provider: Provider,
    request: ModelRequest,
    config: RetryConfig,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[ModelResponse | None, list[Attempt], ProviderError | None]:
    """Calls ``provider`` until it answers, a failure is not retryable, or the retries run out.

    Returns ``(response, failed_attempts, final_error)``: ``response`` is ``None`` exactly when
    ``final_error`` is set. Never raises :class:`ProviderError`.
    """
    attempts: list[Attempt] = []
    for attempt in range(config.max_retries + 1):
        try:
            return provider.complete(request), attempts, None
        except ProviderError as exc:
            error = exc
        if not error.retryable or attempt == config.max_retries:
            attempts.append(Attempt(error.kind, str(error), error.status, 0.0))
            return None, attempts, error
        delay = backoff_delay(attempt, config, rng, error.retry_after)
        attempts.append(Attempt(error.kind, _SPACE.sub(" ", str(error)), error.status, delay))
        sleep(delay)
    raise AssertionError("unreachable")
