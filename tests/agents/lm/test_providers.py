"""Providers against local stand-in servers through the real SDKs: replies, faults, retries, no key leaks."""

from __future__ import annotations

import json
import math
import random

import pytest

from longplay.agents.lm.config import ProviderConfig, RetryConfig
from longplay.agents.lm.messages import Image, Message, ModelRequest, Text, ToolCall, ToolResult, ToolSpec
from longplay.agents.lm.providers import (
    AnthropicProvider,
    OpenAIProvider,
    ProviderError,
    ScriptedProvider,
    backoff_delay,
    build_provider,
    call_with_retries,
    redact,
    redact_url,
)
from longplay.agents.lm.stubserver import Fault, Reply, StubServer

PNG = b"\x89PNG\r\n\x1a\nfake"
TOOLS = [ToolSpec("press_buttons", "press", {"type": "object", "properties": {"buttons": {"type": "array"}}})]


def _request() -> ModelRequest:
    history = [
        Message("user", [Image(PNG), Text("turn 1")]),
        Message(
            "assistant",
            [Text("go"), ToolCall("c1", "press_buttons", {"buttons": ["up"]}, '{"buttons": ["up"]}')],
        ),
        Message("user", [ToolResult("c1", "press_buttons", "pressed up"), Text("turn 2")]),
    ]
    return ModelRequest("system prompt", history, TOOLS, 64, cache_prefix=2)


def _provider(kind: str, url: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    cls = AnthropicProvider if kind == "anthropic" else OpenAIProvider
    return cls(ProviderConfig(provider=kind, model="stub-model", base_url=url, request_timeout_s=timeout))


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_reply_and_wire_format(kind: str, dummy_keys: dict[str, str]) -> None:
    with StubServer(kind, [Reply("thinking", [("press_buttons", '{"buttons": ["a", "b"]}')])]) as server:
        response = _provider(kind, server.base_url).complete(_request())
    assert response.message.text == "thinking"
    (call,) = response.message.tool_calls
    assert call.name == "press_buttons" and call.arguments == {"buttons": ["a", "b"]}
    assert response.usage.input > 0 and response.usage.output > 0
    wire = server.requests[0]
    assert wire["model"] == "stub-model"
    key = dummy_keys["ANTHROPIC_API_KEY" if kind == "anthropic" else "OPENAI_API_KEY"]
    assert any(key in v for v in server.headers[0].values())  # the SDK sent the key ...
    assert key not in json.dumps(wire)  # ... only in headers
    if kind == "anthropic":
        assert wire["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert wire["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert wire["messages"][1]["content"][-1]["cache_control"] == {
            "type": "ephemeral"
        }  # end of the prefix
        assert wire["messages"][0]["content"][0]["type"] == "image"
        assert wire["messages"][2]["content"][0] == {
            "type": "tool_result",
            "tool_use_id": "c1",
            "content": "pressed up",
            "is_error": False,
        }
    else:
        roles = [m["role"] for m in wire["messages"]]
        assert roles == ["system", "user", "assistant", "tool", "user"]
        assert wire["messages"][1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
        assert wire["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"buttons": ["up"]}'
        assert wire["tools"][0]["function"]["name"] == "press_buttons"


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize(
    "fault, expected",
    [
        (Fault("429", retry_after=0.25), "rate_limit"),
        (Fault("500"), "server"),
        (Fault("529"), "server"),
        (Fault("409"), "conflict"),
        (Fault("timeout", delay=1.0), "timeout"),
        (Fault("truncated"), "bad_response"),
        (Fault("html"), "bad_response"),
        (Fault("401"), "auth"),
        (Fault("400"), "bad_request"),
    ],
)
def test_faults_become_provider_errors(
    kind: str, fault: Fault, expected: str, dummy_keys: dict[str, str]
) -> None:
    with StubServer(kind, [fault]) as server:
        with pytest.raises(ProviderError) as info:
            _provider(kind, server.base_url, timeout=0.3).complete(_request())
    error = info.value
    assert error.kind == expected
    assert error.retryable == (expected not in ("auth", "bad_request"))
    if fault.retry_after is not None:
        assert error.retry_after == pytest.approx(0.25)
    for secret in dummy_keys.values():
        assert secret not in str(error)
    assert "\n" not in str(error)


def test_openai_bad_arguments_and_empty_reply(dummy_keys: dict[str, str]) -> None:
    script = [
        Reply(tool_calls=[("press_buttons", '{"buttons": [')]),
        Reply(tool_calls=[("press_buttons", "[1]")]),
        Reply(),
    ]
    with StubServer("openai", script) as server:
        provider = _provider("openai", server.base_url)
        truncated = provider.complete(_request()).message.tool_calls[0]
        not_object = provider.complete(_request()).message.tool_calls[0]
        empty = provider.complete(_request()).message
    assert truncated.arguments is None and "not valid JSON" in (truncated.parse_error or "")
    assert truncated.raw_arguments == '{"buttons": ['
    assert not_object.arguments is None and "JSON object" in (not_object.parse_error or "")
    assert empty.blocks == []


def test_retries_with_backoff_then_success(dummy_keys: dict[str, str]) -> None:
    script = [
        Fault("429", retry_after=0.05),
        Fault("500"),
        Fault("timeout", delay=0.6),
        Fault("truncated"),
        Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')]),
    ]
    waits: list[float] = []
    with StubServer("openai", script) as server:
        provider = _provider("openai", server.base_url, timeout=0.3)
        response, attempts, error = call_with_retries(
            provider, _request(), RetryConfig(backoff_base_s=0.01), random.Random(0), waits.append
        )
    assert error is None and response is not None
    assert [a.kind for a in attempts] == ["rate_limit", "server", "timeout", "bad_response"]
    assert waits[0] == pytest.approx(0.05)  # the server's retry-after wins
    for i, wait in enumerate(
        waits[1:], start=1
    ):  # exponential, with jitter: between half and all of 0.01 * 2^i
        assert 0.01 * 2**i / 2 <= wait <= 0.01 * 2**i


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_conflict_is_retried_as_the_sdks_retry_it(kind: str, dummy_keys: dict[str, str]) -> None:
    """Both official SDKs retry 409 Conflict (a lock timeout) by default; with their retries off, the loop does, on
    both providers alike, and the replay says it was a conflict, not a server error."""
    script = [Fault("409"), Fault("409"), Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]
    waits: list[float] = []
    with StubServer(kind, script) as server:
        response, attempts, error = call_with_retries(
            _provider(kind, server.base_url), _request(), RetryConfig(backoff_base_s=0.01), random.Random(0),
            waits.append
        )
    assert error is None and response is not None
    assert [(a.kind, a.status) for a in attempts] == [("conflict", 409), ("conflict", 409)]
    assert len(server.requests) == 3 and len(waits) == 2


def test_retries_give_up_and_auth_is_not_retried() -> None:
    sleeps: list[float] = []
    provider = ScriptedProvider([ProviderError("server", "boom", status=500)])
    response, attempts, error = call_with_retries(
        provider, _request(), RetryConfig(max_retries=3), random.Random(0), sleeps.append
    )
    assert response is None and error is not None and len(attempts) == 4 and len(sleeps) == 3
    provider = ScriptedProvider([ProviderError("auth", "no", status=401)])
    response, attempts, error = call_with_retries(
        provider, _request(), RetryConfig(), random.Random(0), sleeps.append
    )
    assert error is not None and error.kind == "auth" and len(attempts) == 1


def test_backoff_grows_is_jittered_and_capped() -> None:
    config = RetryConfig(backoff_base_s=1.0, backoff_max_s=10.0)
    rng = random.Random(1)
    delays = [backoff_delay(i, config, rng, None) for i in range(8)]
    for i, d in enumerate(delays):
        ceiling = min(10.0, 2.0**i)
        assert ceiling / 2 <= d <= ceiling
    assert backoff_delay(0, config, rng, 99.0) == 10.0  # retry-after capped too


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY") as info:
        build_provider(ProviderConfig(provider="anthropic", model="claude-x"))
    assert info.value.kind == "config"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # A local OpenAI-compatible server needs no key.
    assert (
        build_provider(ProviderConfig(provider="openai", model="m", base_url="http://127.0.0.1:9/v1")).model
        == "m"
    )
    with pytest.raises(ProviderError, match="unknown provider"):
        build_provider(ProviderConfig(provider="gemini"))


def test_redaction() -> None:
    assert redact("key sk-abcdef in text", ["sk-abcdef", ""]) == "key *** in text"
    assert redact_url("https://u:p@host:8080/v1?key=1") == "https://host:8080/v1"
    assert redact_url(None) is None



@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_reply_with_malformed_fields_is_a_retryable_bad_response(
    kind: str, dummy_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDKs build reply objects without validating them, so a server's odd body reaches the provider.
    from types import SimpleNamespace as NS

    provider = _provider(kind, "http://127.0.0.1:9")
    if kind == "anthropic":
        usage = NS(input_tokens=10, output_tokens=5)
        replies = [
            NS(content=[NS(type="text", text="hi")], usage=NS(input_tokens=10, output_tokens="lots")),
            NS(content=[NS(type="text", text=None)], usage=usage),
            NS(content=[NS(type="tool_use", id=None, name=None, input={})], usage=usage),
        ]
        endpoint = provider._client.messages
    else:
        choice = NS(message=NS(content="hi", tool_calls=None), finish_reason="stop")
        usage = NS(prompt_tokens=10, completion_tokens="lots", prompt_tokens_details=None)
        replies = [NS(choices=[choice], usage=usage, model="m")]
        endpoint = provider._client.chat.completions
    for reply in replies:
        monkeypatch.setattr(endpoint, "create", lambda reply=reply, **_: reply)
        with pytest.raises(ProviderError, match="unreadable reply") as info:
            provider.complete(_request())
        assert info.value.kind == "bad_response" and info.value.retryable


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_reply_without_usage_is_estimated_not_retried(
    kind: str, dummy_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anthropic retried a reply without a usage block (each retry billed again, and a proxy that never sends
    one failed every turn) while OpenAI estimated it; both estimate it now, marked, and a count that is
    missing from a usage block is estimated too rather than read as 0."""
    from types import SimpleNamespace as NS

    script = [Reply("hi", [("press_buttons", '{"buttons": ["a"]}')], no_usage=True)]
    with StubServer(kind, script) as server:
        response, attempts, error = call_with_retries(
            _provider(kind, server.base_url), _request(), RetryConfig(), random.Random(0), lambda s: None
        )
    assert error is None and response is not None and attempts == [] and len(server.requests) == 1
    assert response.estimated_usage and response.usage.input > 0 and response.usage.output > 0
    assert response.usage.cache_read == 0  # all input billed as uncached: never less than the real cost
    assert response.message.tool_calls[0].arguments == {"buttons": ["a"]}

    provider = _provider(kind, "http://127.0.0.1:9")
    if kind == "anthropic":
        reply = NS(content=[NS(type="text", text="hi")], usage=NS(input_tokens=None, output_tokens=5))
        endpoint = provider._client.messages
    else:
        choice = NS(message=NS(content="hi", tool_calls=None), finish_reason="stop")
        reply = NS(choices=[choice], usage=NS(prompt_tokens=None, completion_tokens=5), model="m")
        endpoint = provider._client.chat.completions
    monkeypatch.setattr(endpoint, "create", lambda **_: reply)
    partial = provider.complete(_request())
    assert partial.estimated_usage and partial.usage.input > 0


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("status", ["401", "403"])
def test_auth_failures_name_the_provider_and_the_key_variable(
    kind: str, status: str, dummy_keys: dict[str, str]
) -> None:
    with StubServer(kind, [Fault(status)]) as server:
        with pytest.raises(ProviderError) as info:
            _provider(kind, server.base_url).complete(_request())
    error = str(info.value)
    assert info.value.kind == "auth" and not info.value.retryable and "\n" not in error
    variable = "ANTHROPIC_API_KEY" if kind == "anthropic" else "OPENAI_API_KEY"
    refused = "the API key" if status == "401" else "access to model stub-model"
    assert error.startswith(f"{kind} refused {refused} (HTTP {status}): check the key in {variable}")
    assert all(secret not in error for secret in dummy_keys.values())


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_half_an_emoji_in_a_reply_is_replaced_not_fatal(kind: str, dummy_keys: dict[str, str]) -> None:
    """A server may send a lone UTF-16 surrogate (``"\\ud83d"``: half an emoji, cut by a token boundary); Python
    decodes it as is, and text holding one cannot be encoded as UTF-8: the next request's digest raised, the loop
    crashed and the replay could not even be closed. Replies and error messages carry U+FFFD in its place."""
    half = "\ud83d"
    script = [Reply(f"go {half}!", [("add_note", json.dumps({"title": f"t{half}", "text": [f"x{half}"]}))])]
    with StubServer(kind, script) as server:
        response = _provider(kind, server.base_url).complete(_request())
    assert response.message.text == "go \ufffd!"
    (call,) = response.message.tool_calls
    assert call.arguments == {"title": "t\ufffd", "text": ["x\ufffd"]}
    ModelRequest("s", [response.message]).digest()  # encodes
    json.dumps(call.to_record(), ensure_ascii=False).encode()
    assert str(ProviderError("bad_request", f"odd {half} body")) == "odd \ufffd body"


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_number_json_cannot_carry_in_tool_arguments_is_null_not_a_stuck_run(kind: str,
                                                                               dummy_keys: dict[str, str]) -> None:
    """``1e400`` is valid JSON that Python reads as ``inf`` (and ``NaN`` a token it reads though JSON has none): kept
    in the history, the Anthropic SDK refused to encode every later request ('Out of range float values are not JSON
    compliant', an unreadable reply, retried), so every turn failed until the exchange left the history, and a resume
    restored it; the replay and checkpoint got ``Infinity``, which no JSON reader but Python's takes. Such a number
    is ``null``, as JavaScript writes it: the call's arguments fail their schema, an error the model reads."""
    script = [Reply(tool_calls=[("navigate_to", '{"x": 1e400, "y": 3}'), ("navigate_to", '{"x": NaN, "y": -1e999}')]),
              Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]
    with StubServer(kind, script) as server:
        provider = _provider(kind, server.base_url)
        response = provider.complete(_request())
        assert [c.arguments for c in response.message.tool_calls] == [{"x": None, "y": 3}, {"x": None, "y": None}]
        results = [ToolResult(c.id, c.name, "error: x must be an integer") for c in response.message.tool_calls]
        later = ModelRequest("s", [*_request().messages, response.message, Message("user", [*results, Text("t")])],
                             TOOLS, 64)
        assert provider.complete(later).message.tool_calls[0].arguments == {"buttons": ["a"]}
    for call in response.message.tool_calls:
        json.dumps(call.to_record(), allow_nan=False)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_call_restored_with_a_number_json_cannot_carry_goes_back_as_null(kind: str,
                                                                          dummy_keys: dict[str, str]) -> None:
    """A checkpoint written before such numbers were read as null restores ``inf`` in a call's arguments (its JSON
    holds ``Infinity``, which Python reads back): the Anthropic SDK refused to encode every request of the resumed
    run, and the OpenAI history sent the model's ``1e400`` back to servers that refuse it. Both send null."""
    restored = Message.from_json(json.loads(json.dumps(Message("assistant", [
        ToolCall("c1", "navigate_to", {"x": math.inf, "y": 3}, '{"x": 1e400, "y": 3}')]).to_json())))
    history = [Message("user", [Text("turn 1")]), restored,
               Message("user", [ToolResult("c1", "navigate_to", "error: x must be an integer", True), Text("t")])]
    with StubServer(kind, [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]) as server:
        _provider(kind, server.base_url).complete(ModelRequest("s", history, TOOLS, 64))
    call = server.requests[0]["messages"][1 if kind == "anthropic" else 2]
    if kind == "anthropic":
        assert call["content"][0]["input"] == {"x": None, "y": 3}
    else:
        assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"x": None, "y": 3}


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_body_that_is_no_reply_is_a_retryable_bad_response(
    kind: str, dummy_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 whose body is not a reply (a web page, ``{}``, a list) was played by the Anthropic provider as an empty
    reply, billed at the estimate and counted as the model's failed turn (OpenAI's retried it): both retry it now.
    A real reply with no content (``"content": []``) is still an empty reply."""
    from types import SimpleNamespace as NS

    provider = _provider(kind, "http://127.0.0.1:9")
    usage = NS(input_tokens=10, output_tokens=5)
    if kind == "anthropic":
        replies = [NS(), NS(content="hi", usage=usage), NS(content=None, usage=usage), "<html></html>", [1, 2]]
        empty = NS(content=[], usage=usage, stop_reason="end_turn")
        endpoint = provider._client.messages
    else:
        usage = NS(prompt_tokens=10, completion_tokens=5, prompt_tokens_details=None)
        replies = [NS(choices="x", usage=usage), NS(choices=[None], usage=usage),
                   NS(choices=[NS(message=None, finish_reason="stop")], usage=usage)]
        empty = NS(choices=[NS(message=NS(content=None, tool_calls=None), finish_reason="stop")], usage=usage)
        endpoint = provider._client.chat.completions
    for reply in replies:
        monkeypatch.setattr(endpoint, "create", lambda reply=reply, **_: reply)
        with pytest.raises(ProviderError) as info:
            provider.complete(_request())
        assert info.value.kind == "bad_response" and info.value.retryable, reply
    monkeypatch.setattr(endpoint, "create", lambda **_: empty)
    assert provider.complete(_request()).message.blocks == []


def test_openai_history_sends_unparsed_tool_arguments_as_an_empty_object(dummy_keys: dict[str, str]) -> None:
    """A call whose arguments did not parse (cut at the output limit, say) went back to the server word for word in
    every later request; vLLM and llama.cpp's server parse the history's arguments and refuse the request (400), so
    every turn failed while the call stayed in the window. It goes back as ``{}``, its error result beside it."""
    provider = _provider("openai", "http://127.0.0.1:9")
    bad = ToolCall("c1", "press_buttons", None, '{"buttons": [', "tool arguments are not valid JSON")
    scalar = ToolCall("c2", "press_buttons", None, "[1]", "tool arguments must be a JSON object")
    good = ToolCall("c3", "press_buttons", {"buttons": ["a"]}, '{"buttons":["a"]}')
    history = [
        Message("user", [Text("turn 1")]),
        Message("assistant", [bad, scalar, good]),
        Message("user", [ToolResult(c.id, c.name, "error", True) for c in (bad, scalar, good)] + [Text("turn 2")]),
    ]
    wire = provider.wire_request(ModelRequest("system", history, TOOLS, 64))
    sent = [c["function"]["arguments"] for c in wire["messages"][2]["tool_calls"]]
    assert sent == ["{}", "{}", '{"buttons":["a"]}']  # what parsed goes as the model wrote it (prompt caching)


def test_arguments_cut_at_the_output_limit_say_so(dummy_keys: dict[str, str]) -> None:
    """A reply cut at the output limit (``finish_reason`` ``length``) leaves its last call's arguments unfinished: the
    model read only "not valid JSON", took it for its own mistake and wrote as much again; the error now names the
    limit."""
    script = [Reply(tool_calls=[("press_buttons", '{"buttons": [')])]
    with StubServer("openai", script) as server:
        provider = _provider("openai", server.base_url)
        whole = provider.complete(_request()).message.tool_calls[0]
        server.script = [lambda request: Reply(tool_calls=[("press_buttons", '{"buttons": [')])]
        original = StubServer._reply_json

        def cut(self, reply, request):  # type: ignore[no-untyped-def]
            body = original(self, reply, request)
            body["choices"][0]["finish_reason"] = "length"
            return body

        server._reply_json = cut.__get__(server)  # type: ignore[method-assign]
        truncated = provider.complete(_request()).message.tool_calls[0]
    assert "output limit" not in (whole.parse_error or "")
    assert "not valid JSON" in (truncated.parse_error or "")
    assert "the reply was cut off at the output limit (64 tokens)" in (truncated.parse_error or "")


def test_anthropic_input_cut_at_the_output_limit_says_so(
    dummy_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace as NS

    provider = _provider("anthropic", "http://127.0.0.1:9")
    usage = NS(input_tokens=10, output_tokens=64)
    reply = NS(content=[NS(type="tool_use", id="t1", name="press_buttons", input="{\"buttons\": [")], usage=usage,
               stop_reason="max_tokens", model="m")
    monkeypatch.setattr(provider._client.messages, "create", lambda **_: reply)
    (call,) = provider.complete(_request()).message.tool_calls
    assert call.arguments is None and "cut off at the output limit (64 tokens)" in (call.parse_error or "")


def test_openai_refusal_text_is_the_reply_text(dummy_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal comes in ``message.refusal`` with no content: it was read as an empty reply, so the replay and the
    viewer showed "empty reply" and never what the model said; its text is now the reply's text."""
    from types import SimpleNamespace as NS

    provider = _provider("openai", "http://127.0.0.1:9")
    usage = NS(prompt_tokens=10, completion_tokens=5, prompt_tokens_details=None)
    message = NS(content=None, refusal="I can't help with that.", tool_calls=None)
    reply = NS(choices=[NS(message=message, finish_reason="stop")], usage=usage, model="m")
    monkeypatch.setattr(provider._client.chat.completions, "create", lambda **_: reply)
    response = provider.complete(_request())
    assert response.message.text == "I can't help with that."
    wire = provider.wire_request(ModelRequest("system", [Message("user", [Text("hi")]), response.message], TOOLS, 64))
    assert wire["messages"][-1] == {"role": "assistant", "content": "I can't help with that."}


def test_openai_content_sent_as_parts_is_the_reply_text(dummy_keys: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Some OpenAI-compatible servers send ``content`` as a list of parts: only a string was read, so the text was
    lost and the turn was an "empty reply"."""
    from types import SimpleNamespace as NS

    provider = _provider("openai", "http://127.0.0.1:9")
    usage = NS(prompt_tokens=10, completion_tokens=5, prompt_tokens_details=None)
    parts = [{"type": "text", "text": "Heading "}, {"type": "image_url", "image_url": {}},
             NS(type="text", text="north.")]
    reply = NS(choices=[NS(message=NS(content=parts, refusal=None, tool_calls=None), finish_reason="stop")],
               usage=usage, model="m")
    monkeypatch.setattr(provider._client.chat.completions, "create", lambda **_: reply)
    assert provider.complete(_request()).message.text == "Heading north."


@pytest.mark.parametrize("date", ["Wed, 21 Oct 2015 07:28:30", "Wed, 21 Oct 2015 07:28:30 -0000",
                                  "Wed, 21 Oct 2015 07:28:30 GMT"])
def test_retry_after_http_date_is_gmt(date: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP dates are GMT (RFC 9110); one without a zone was read as local time, so away from UTC the wait was off
    by hours (capped to the longest back-off, or none at all)."""
    import calendar
    import time

    from longplay.agents.lm import providers

    now = calendar.timegm((2015, 10, 21, 7, 28, 0))
    monkeypatch.setattr(providers.time, "time", lambda: now)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert providers._retry_after({"retry-after": date}) == pytest.approx(30.0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_openai_call_ids_made_up_for_a_server_that_omits_them_stay_unique_across_a_resume(
    dummy_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that sends no call ids got ``call_1``, ``call_2`` ... from a counter that no checkpoint kept: a resumed
    run counted from 1 again, and its ids repeated ones still in the history (results answered the wrong call). The
    ids come from the request now, so a new provider (a resumed run) never repeats them and needs no state."""
    from types import SimpleNamespace as NS

    def reply(*names: str) -> NS:
        calls = [NS(id=None, function=NS(name=n, arguments='{"buttons": ["a"]}')) for n in names]
        message = NS(content=None, tool_calls=calls)
        usage = NS(prompt_tokens=10, completion_tokens=5, prompt_tokens_details=None)
        return NS(choices=[NS(message=message, finish_reason="tool_calls")], usage=usage, model="m")

    first = _provider("openai", "http://127.0.0.1:9")
    monkeypatch.setattr(first._client.chat.completions, "create", lambda **_: reply("press_buttons", "press_buttons"))
    request = _request()
    message = first.complete(request).message
    ids = [c.id for c in message.tool_calls]
    assert len(set(ids)) == 2 and all(ids)
    assert [c.id for c in first.complete(request).message.tool_calls] == ids  # the same request: the same ids

    resumed = _provider("openai", "http://127.0.0.1:9")  # a new process: nothing carried over
    monkeypatch.setattr(resumed._client.chat.completions, "create", lambda **_: reply("press_buttons"))
    results = Message("user", [ToolResult(i, "press_buttons", "pressed a") for i in ids] + [Text("turn 3")])
    later = ModelRequest(request.system, [*request.messages, message, results], TOOLS, 64)
    (call,) = resumed.complete(later).message.tool_calls
    assert call.id and call.id not in ids
    assert resumed.state_dict() == {}


@pytest.mark.parametrize("call", [{"id": "c1", "type": "function", "function": {"name": "press_buttons"}},
                                  {"id": "c1", "type": "function"}, "c1"])
def test_the_stub_server_answers_a_malformed_tool_call_with_400(call: object) -> None:
    """A history's tool call without function.arguments raised KeyError in the stub server's thread: the client got
    no answer at all (the connection closed) where a real server says 400."""
    import urllib.error
    import urllib.request

    body = {"model": "m", "messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    with StubServer("openai", [Reply("unused")]) as server:
        request = urllib.request.Request(f"{server.base_url}/chat/completions", json.dumps(body).encode(),
                                         {"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=5)
        assert server.requests == []
    assert answer.value.code == 400 and "tool_calls" in json.load(answer.value)["error"]["message"]


#: (the arguments a model wrote, the text a later OpenAI-compatible request sends back for them)
ARGUMENT_TEXTS_SENT = [
    ('{"buttons": ["up"]}', '{"buttons": ["up"]}'),  # standard JSON: the model's own text
    ('{ "buttons" :["up"],"wait":2 }', '{ "buttons" :["up"],"wait":2 }'),  # spaced as the model spaced it
    ('{"b": 1, "a": 2}', '{"b": 1, "a": 2}'),
    ('{"x": 1e400, "y": 3}', '{"x": null, "y": 3}'),  # numbers JSON cannot carry: written out, as null
    ('{"x": NaN}', '{"x": null}'),
    ('{"note": "hi \\ud83d"}', '{"note": "hi \\ufffd"}'),  # half an emoji: written out, replaced
    ('{"buttons": [', "{}"),  # unparsed, or not an object: {} beside the error result
    ("[1]", "{}"),
    ("", "{}"),
]


def _long_history(monkeypatch: pytest.MonkeyPatch, turns: int) -> tuple[OpenAIProvider, ModelRequest]:
    """An OpenAI provider and a request with ``turns`` exchanges of history, each reply's calls read by the provider
    from a reply holding every case of :data:`ARGUMENT_TEXTS_SENT`."""
    from types import SimpleNamespace as NS

    def reply(turn: int) -> NS:
        calls = [NS(id=f"c{turn}_{i}", function=NS(name="press_buttons", arguments=raw))
                 for i, (raw, _) in enumerate(ARGUMENT_TEXTS_SENT)]
        usage = NS(prompt_tokens=10, completion_tokens=5, prompt_tokens_details=None)
        return NS(choices=[NS(message=NS(content=f"turn {turn}", tool_calls=calls), finish_reason="tool_calls")],
                  usage=usage, model="m")

    provider = _provider("openai", "http://127.0.0.1:9")
    messages = list(_request().messages)
    for turn in range(turns):
        monkeypatch.setattr(provider._client.chat.completions, "create", lambda turn=turn, **_: reply(turn))
        message = provider.complete(ModelRequest("s", messages, TOOLS, 64)).message
        results = [ToolResult(c.id, c.name, "pressed") for c in message.tool_calls]
        messages += [message, Message("user", [*results, Text(f"turn {turn + 1}")])]
    return provider, ModelRequest("system prompt", messages, TOOLS, 64, cache_prefix=2)


def test_openai_history_sends_each_calls_argument_text_as_read(dummy_keys: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Each history call goes back as the model's text when that reads, strictly, as the arguments kept, else as
    those arguments written out, byte for byte, however long the history; and a history restored from a checkpoint
    sends the very same request (each restored call's text worked out as it is restored)."""
    provider, request = _long_history(monkeypatch, 50)

    def read_again(text: str, **_: object) -> object:
        raise AssertionError(f"a request read a call's arguments again: {text!r}")

    with monkeypatch.context() as patched:  # worked out as each call was read, never for a request
        patched.setattr(json, "loads", read_again)
        wire = provider.wire_request(request)
    sent = [[c["function"]["arguments"] for c in m["tool_calls"]] for m in wire["messages"] if m.get("tool_calls")]
    assert sent[0] == ['{"buttons": ["up"]}']  # _request()'s own call
    assert sent[1:] == [[text for _, text in ARGUMENT_TEXTS_SENT]] * 50
    checkpoint = json.dumps([m.to_json() for m in request.messages], separators=(",", ":"))  # as checkpoint.py
    restored = [Message.from_json(m) for m in json.loads(checkpoint)]
    again = provider.wire_request(ModelRequest(request.system, restored, request.tools, 64, cache_prefix=2))
    assert json.dumps(again) == json.dumps(wire)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_the_servers_x_should_retry_header_decides_as_the_sdks_let_it(kind: str, dummy_keys: dict[str, str]) -> None:
    """Both official SDKs obey a server's ``x-should-retry`` over their status rule: ``false`` on a 500 (a request the
    server knows will fail again) is not retried, ``true`` on a 400 (a transient refusal) is. The loop ignored it,
    retrying the 500 until the retries ran out and giving up on the 400 at once."""
    script = [Fault("500", should_retry=False), Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]
    with StubServer(kind, script) as server:
        response, attempts, error = call_with_retries(_provider(kind, server.base_url), _request(),
                                                      RetryConfig(backoff_base_s=0.01), random.Random(0), [].append)
    assert response is None and error is not None and error.kind == "server" and not error.retryable
    assert len(server.requests) == 1
    script = [Fault("400", should_retry=True), Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]
    with StubServer(kind, script) as server:
        response, attempts, error = call_with_retries(_provider(kind, server.base_url), _request(),
                                                      RetryConfig(backoff_base_s=0.01), random.Random(0), [].append)
    assert error is None and response is not None and [a.kind for a in attempts] == ["bad_request"]
    assert len(server.requests) == 2


def test_openai_cached_prompt_tokens_are_billed_once_as_cache_reads(dummy_keys: dict[str, str]) -> None:
    """OpenAI's ``prompt_tokens`` include the ``cached_tokens`` of its details: those are cache reads, not input as
    well (counted twice, the token budget ran out early and a cached prefix cost the full input price besides)."""
    script = [Reply("hi", usage={"input": 100, "output": 7, "cache_read": 40})]
    with StubServer("openai", script) as server:
        usage = _provider("openai", server.base_url).complete(_request()).usage
    assert (usage.input, usage.output, usage.cache_read, usage.cache_write) == (60, 7, 40, 0)


@pytest.mark.parametrize("base_url, field", [
    (None, "max_completion_tokens"),  # OpenAI itself: its reasoning models refuse max_tokens
    ("https://api.openai.com/v1", "max_completion_tokens"),
    ("http://127.0.0.1:8000/v1", "max_tokens"),  # vLLM, Ollama, llama.cpp: the field they all read
])
def test_openai_output_limit_field_is_chosen_by_the_endpoint(base_url: str | None, field: str,
                                                            dummy_keys: dict[str, str]) -> None:
    provider = OpenAIProvider(ProviderConfig(provider="openai", model="m", base_url=base_url))
    wire = provider.wire_request(_request())
    assert wire[field] == 64
    other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
    assert other not in wire
    forced = OpenAIProvider(ProviderConfig(provider="openai", model="m", base_url=base_url,
                                           openai_max_tokens_field=other))
    assert forced.wire_request(_request())[other] == 64  # --openai-max-tokens-field wins over the guess


def test_retry_after_a_date_already_past_is_no_wait_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server whose clock is ahead sends a ``retry-after`` date already past: a negative wait made ``time.sleep``
    raise and stop the run, where retrying at once is what the server meant."""
    import calendar

    from longplay.agents.lm import providers

    monkeypatch.setattr(providers.time, "time", lambda: calendar.timegm((2015, 10, 21, 7, 30, 0)))
    assert providers._retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}) == 0.0
    assert providers._retry_after({"retry-after": "-5"}) == 0.0
    assert providers._retry_after({"retry-after-ms": "-5"}) == 0.0


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_long_error_body_is_cut_in_the_error(kind: str, dummy_keys: dict[str, str]) -> None:
    """An error's message is cut at 500 characters (a proxy's HTML page or a long validation dump would fill every
    failed turn's row and the summary line)."""
    with StubServer(kind, [Fault("400", message="x" * 5000)]) as server:
        with pytest.raises(ProviderError) as info:
            _provider(kind, server.base_url).complete(_request())
    assert len(str(info.value)) == 504 and str(info.value).endswith("x ...")
