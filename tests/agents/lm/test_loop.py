"""The LM loop: budgets, malformed replies, failures, accounting, history, faults over real SDK clients."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from longplay.agents.lm.accounting import PriceTable
from longplay.agents.lm.config import BudgetConfig, LMConfig, ObservationConfig, ProviderConfig, RetryConfig
from longplay.agents.lm.loop import ListLog, LMRun
from longplay.agents.lm.messages import Image, Message, ModelRequest, ModelResponse, Text, ToolCall, Usage
from longplay.agents.lm.providers import AnthropicProvider, OpenAIProvider, ProviderError, ScriptedProvider
from longplay.agents.lm.stubserver import Fault, Reply, StubServer
from longplay.scaffolds import build_scaffold


def press(*buttons: str, text: str = "go") -> Message:
    import json

    args = {"buttons": list(buttons)}
    return Message(
        "assistant",
        [Text(text), ToolCall(f"c{time.perf_counter_ns()}", "press_buttons", args, json.dumps(args))],
    )


def config(**budget: object) -> LMConfig:
    return LMConfig(
        provider=ProviderConfig(provider="scripted", model="scripted"),
        budget=BudgetConfig(**budget),
        retry=RetryConfig(max_retries=2, backoff_base_s=0.001),
    )


class Sink:
    """Collects checkpoint reasons."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def save(self, run: LMRun, reason: str) -> None:
        self.reasons.append(reason)


def make_run(env, script, cfg=None, scaffold="minimal", **kwargs):  # type: ignore[no-untyped-def]
    provider = ScriptedProvider(script)
    log = ListLog()
    run = LMRun(
        env,
        provider,
        build_scaffold(scaffold),
        cfg or config(max_turns=50),
        log=log,
        sleep=lambda s: None,
        **kwargs,
    )
    return run, provider, log


@pytest.mark.parametrize(
    "budget, reason, shown",
    [
        ({"max_steps": 5}, "steps", "(5 steps)"),
        ({"max_turns": 3}, "turns", "(3 turns)"),
        ({"max_tokens": 1500}, "tokens", "of 1,500 tokens)"),
        ({"max_seconds": 0.05}, "seconds", "of 0.05 s)"),  # said "(0 s)": rounded to whole seconds
    ],
)
def test_budgets_stop_cleanly_and_say_which(tiny_env, budget: dict, reason: str, shown: str) -> None:
    slow = [lambda r: (time.sleep(0.02), press("right", "left"))[1]]
    run, _, _ = make_run(
        tiny_env, slow if reason == "seconds" else [press("right", "left")], config(**budget)
    )
    outcome = run.run()
    assert outcome.reason == reason, outcome.message
    assert shown in outcome.message, outcome.message
    if reason == "steps":
        assert run.driver.steps == 5 and run.counters.turns == 3  # the last turn pressed only what was left
    if reason == "turns":
        assert run.counters.turns == 3


class ExactUsage(ScriptedProvider):
    """A scripted model whose every call reports 100 uncached input tokens (no estimate, no calibration)."""

    def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(super().complete(request).message, Usage(100, 0, 0, 0), model=self.model)


@pytest.mark.parametrize("budget, turns", [({"max_tokens": 300}, 3), ({"max_dollars": 1.0}, 4)])
def test_token_and_dollar_budgets_stop_the_turn_they_are_reached(tiny_env, budget: dict, turns: int) -> None:
    """A budget spent exactly is reached: the run stops there, and does not pay for one more turn past it."""
    cfg = config(**budget)
    cfg.provider.price = "exact"  # $0.25 a call: 100 tokens at $2,500 per million
    prices = PriceTable({"models": {"exact": {"input": 2500, "output": 0}}}, "test")
    run = LMRun(tiny_env, ExactUsage([press("right", "left")]), build_scaffold("minimal"), cfg, prices=prices,
                sleep=lambda s: None)
    outcome = run.run()
    assert outcome.reason == next(iter(budget)).removeprefix("max_") and run.counters.turns == turns
    assert run.counters.tokens == 100 * turns and run.counters.dollars == 0.25 * turns


def test_dollar_budget_needs_a_price_and_stops(tiny_env) -> None:
    cfg = config(max_dollars=0.001)
    with pytest.raises(ValueError, match="no price"):
        make_run(tiny_env, [press("a")], cfg)
    cfg.provider.price = "claude-sonnet-4-5"
    run, _, log = make_run(tiny_env, [press("down", "a")], cfg)
    outcome = run.run()
    assert outcome.reason == "dollars" and run.counters.dollars >= 0.001
    assert outcome.message.endswith(f"(${run.counters.dollars:.4f} of $0.001)"), outcome.message
    assert all(t["cost_usd"] > 0 for t in log.turns)


def test_game_finished_stops_the_run(tiny_env) -> None:
    script = [press("a", "a"), press(*["right"] * 5), press(*["down"] * 5)]
    run, _, _ = make_run(tiny_env, script)
    outcome = run.run()
    assert outcome.reason == "finished" and set(outcome.milestones) == {"moved", "read", "corner"}


def test_malformed_and_empty_replies_are_answered_not_fatal(tiny_env) -> None:
    script = [
        Message("assistant", [ToolCall("1", "teleport", {"to": "end"}, '{"to": "end"}')]),
        Message("assistant", [ToolCall("2", "press_buttons", {"buttons": "up"}, '{"buttons": "up"}')]),
        Message("assistant", [ToolCall("3", "press_buttons", None, '{"buttons": [', "not valid JSON")]),
        Message("assistant", []),
        Message("assistant", [Text("I think I should move.")]),
        Message("assistant", [ToolCall("4", "press_buttons", {"buttons": ["hop"]}, '{"buttons": ["hop"]}')]),
        press("right"),
    ]
    cfg = config(max_turns=7)
    cfg.retry.max_consecutive_failures = 10
    run, provider, log = make_run(tiny_env, script, cfg)
    outcome = run.run()
    assert outcome.reason == "turns"
    texts = [r.messages[-1].blocks for r in provider.requests[1:]]
    assert "unknown tool 'teleport'" in texts[0][0].content
    assert "must be an array" in texts[1][0].content
    assert "not valid JSON" in texts[2][0].content
    assert "You called no tool" in "".join(b.text for b in texts[4] if isinstance(b, Text))
    assert "must be one of" in texts[5][0].content
    assert run.counters.failed_turns == 6 and run.counters.consecutive_failures == 0 and run.driver.steps == 1
    assert log.turns[3]["error"] == "empty reply"
    # every failed turn's row says why (it used to for empty replies only, so a replay and the viewer's error
    # marks showed 1 failed turn where the run counted 6)
    assert [t["error"] for t in log.turns] == ["only malformed tool calls"] * 3 + [
        "empty reply", "no tool called", "only malformed tool calls", None]


def test_turns_of_only_malformed_calls_in_a_row_stop_the_run(tiny_env) -> None:
    # docs/lm-agents.md said a malformed call "never stops the run"; --max-failures of them in a row do
    bad = Message("assistant", [ToolCall("1", "teleport", {"to": "end"}, '{"to": "end"}')])
    cfg = config(max_turns=50)
    cfg.retry.max_consecutive_failures = 3
    run, _, _ = make_run(tiny_env, [bad], cfg)
    outcome = run.run()
    assert outcome.reason == "failures" and "last: only malformed tool calls" in outcome.message
    assert run.counters.turns == 3 and run.driver.steps == 0


def test_a_turn_whose_run_calls_are_all_malformed_fails_even_with_calls_past_the_limit(tiny_env) -> None:
    """Calls past ``max_tool_calls`` are never run, so a turn whose run calls were all malformed did nothing: it
    fails as any such turn, however many calls the reply had past the limit."""
    bad = Message("assistant", [ToolCall(str(i), "teleport", {"to": "end"}, '{"to": "end"}') for i in range(3)])
    cfg = config(max_turns=1)
    cfg.tools.max_tool_calls = 2
    run, _, log = make_run(tiny_env, [bad], cfg)
    run.run()
    assert log.turns[0]["error"] == "only malformed tool calls" and run.counters.failed_turns == 1


def test_consecutive_failures_checkpoint_and_stop(tiny_env) -> None:
    sink = Sink()
    cfg = config(max_turns=50)
    cfg.retry.max_consecutive_failures = 3
    run, provider, log = make_run(
        tiny_env, [press("right"), ProviderError("server", "HTTP 500", status=500)], cfg, checkpoints=sink
    )
    outcome = run.run()
    assert outcome.reason == "failures" and "3 turns in a row failed" in outcome.message
    assert sink.reasons[-1] == "stop" and run.counters.turns == 4
    assert len(provider.requests) == 1 + 3 * 3  # each failed turn: the call and 2 retries
    assert [len(t["extra"]["attempts"]) for t in log.turns] == [0, 3, 3, 3]
    assert log.turns[-1]["error"].startswith("server:")


def test_a_turn_whose_call_failed_is_shown_and_checkpointed_as_any_turn(tiny_env) -> None:
    """A turn whose model call failed returned early: the progress bar stood still while calls failed (on_turn not
    called), a checkpoint due at that turn was skipped, and the outcome did not say why turns had failed."""
    sink = Sink()
    cfg = config(max_turns=4)
    cfg.checkpoint.every_turns = 2
    cfg.retry.max_retries = 0
    seen: list[int] = []
    run, _, log = make_run(tiny_env, [press("right"), ProviderError("server", "HTTP 500", status=500), press("down"),
                                      press("down")], cfg, checkpoints=sink, on_turn=lambda r: seen.append(r.turn))
    outcome = run.run()
    assert outcome.reason == "turns" and seen == [1, 2, 3, 4]
    assert sink.reasons == ["start", "milestone", "every", "every", "stop"]  # the first "every": the failed turn 2
    assert outcome.last_failure == log.turns[1]["error"] == "server: HTTP 500"
    assert run.state_dict()["last_failure"] == "server: HTTP 500"  # a resumed run's summary names it too


def test_memory_written_before_a_failed_turn_is_recorded(tiny_env) -> None:
    critic = Message("assistant", [Text("go right")])
    cfg = config(max_turns=50)
    cfg.retry.max_consecutive_failures = 2
    server_error = ProviderError("server", "HTTP 500", status=500)
    # turns 1-2 act; the critic reviews before turn 3; then every act call fails until the run stops
    run, _, log = make_run(
        tiny_env, [press("right"), press("right"), critic, server_error], cfg, scaffold="critic(every=2)"
    )
    assert run.run().reason == "failures"
    assert [(m["name"], m["content"], m["step"], m["extra"]["turn"]) for m in log.memory] == [
        ("critic", "go right", 2, 3)
    ]


def test_auth_failure_stops_at_once_without_counting_a_turn(tiny_env) -> None:
    """A refused key played no turn: it was counted (turns 1) and recorded as a failed turn, so a resume
    after fixing the key started at turn 2 and a turn budget lost one."""
    run, _, log = make_run(tiny_env, [ProviderError("auth", "bad key", status=401)])
    outcome = run.run()
    assert outcome.reason == "error" and "bad key" in outcome.message
    assert run.counters.turns == 0 and run.counters.failed_turns == 0
    assert run.counters.failed_calls == 1 and run.driver.steps == 0
    # The refused call has its row (kind "refused", not an agent turn), so the counters are the rows' sums: it was
    # counted in failed_calls with no row, as c549dec made sure an answered call never is.
    (row,) = log.turns
    assert row["error"] == "auth: bad key" and row["extra"]["kind"] == "refused" and row["extra"]["turn"] == 1
    assert run.counters.logged_turns == 1
    assert run.counters.failed_calls == sum(len(t["extra"]["attempts"]) for t in log.turns)


def test_a_refusal_after_retries_records_every_failed_attempt_in_its_row(tiny_env) -> None:
    errors = [ProviderError("rate_limit", "slow down", status=429), ProviderError("config", "no such model")]
    cfg = config(max_turns=5)
    run, _, log = make_run(tiny_env, [press("right"), *errors], cfg)
    outcome = run.run()
    assert outcome.reason == "error" and "no such model" in outcome.message and run.counters.turns == 1
    assert [t["extra"]["kind"] for t in log.turns] == ["act", "refused"]
    assert [len(t["extra"]["attempts"]) for t in log.turns] == [0, 2]
    assert run.counters.failed_calls == 2 and run.counters.logged_turns == len(log.turns) == 2


def test_the_replay_hears_a_heartbeat_before_each_attempt_of_a_retried_call(tiny_env) -> None:
    """Readers take a replay not written for its window (compare.recording_window_s) as killed: a rate-limited
    run waiting out its retries beats before every attempt (after each back-off), so its silence is one attempt and
    one wait."""
    events: list[str] = []

    class BeatingLog(ListLog):
        def heartbeat(self) -> None:
            events.append("beat")

    provider = ScriptedProvider([ProviderError("rate_limit", "slow down", status=429, retry_after=50.0),
                                 ProviderError("server", "overloaded", status=529), press("right")])
    complete = provider.complete

    def attempt(request: ModelRequest) -> Any:
        events.append("attempt")
        return complete(request)

    provider.complete = attempt  # type: ignore[method-assign]
    run = LMRun(tiny_env, provider, build_scaffold("minimal"), config(max_turns=1), log=BeatingLog(),
                sleep=lambda s: events.append(f"wait {s:g}"))
    assert run.run().reason == "turns"
    assert [e.split()[0] for e in events] == ["beat", "attempt", "wait", "beat", "attempt", "wait", "beat", "attempt"]
    assert events[2] == "wait 50"  # the server's retry-after (the second wait is jittered back-off)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_401_over_the_real_sdk_stops_the_run_naming_the_key_variable(kind: str, tiny_env, dummy_keys) -> None:
    cfg = LMConfig(provider=ProviderConfig(provider=kind, model="stub-model"), budget=BudgetConfig(max_turns=5))
    with StubServer(kind, [Fault("401")]) as server:
        cfg.provider.base_url = server.base_url
        provider = (AnthropicProvider if kind == "anthropic" else OpenAIProvider)(cfg.provider)
        log = ListLog()
        outcome = LMRun(tiny_env, provider, build_scaffold("minimal"), cfg, log=log, sleep=lambda s: None).run()
    variable = "ANTHROPIC_API_KEY" if kind == "anthropic" else "OPENAI_API_KEY"
    assert outcome.reason == "error" and "\n" not in outcome.message and len(server.requests) == 1
    assert f"{kind} refused the API key (HTTP 401): check the key in {variable}" in outcome.message
    assert outcome.counters.turns == 0 and [t["extra"]["kind"] for t in log.turns] == ["refused"]


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_replies_without_usage_are_played_and_billed_conservatively(kind: str, tiny_env, dummy_keys) -> None:
    """A reply without usage (Anthropic retried it until the turn failed) is played, billed at the local
    estimate scaled up by what the endpoint reported before (its tokenizer counts more than the estimate),
    and marked ``estimated_usage`` in the turn's record."""
    go = [("press_buttons", '{"buttons": ["right"]}')]

    def reported(request: dict) -> Reply:  # the endpoint counts about twice the local estimate (characters / 4)
        return Reply("ok", go, usage={"input": len(json.dumps(request)) // 2, "output": 20})

    cfg = LMConfig(provider=ProviderConfig(provider=kind, model="stub-model", price="claude-sonnet-4-5"),
                   budget=BudgetConfig(max_turns=4, max_dollars=10.0))
    with StubServer(kind, [reported, reported, Reply("ok", go, no_usage=True)]) as server:
        cfg.provider.base_url = server.base_url
        provider = (AnthropicProvider if kind == "anthropic" else OpenAIProvider)(cfg.provider)
        estimates: list[int] = []
        complete = provider.complete

        def spy(request: ModelRequest) -> Any:
            response = complete(request)
            estimates.append(response.usage.input)  # the provider's own figure, before the loop scales it
            return response

        provider.complete = spy  # type: ignore[method-assign]
        log = ListLog()
        outcome = LMRun(tiny_env, provider, build_scaffold("minimal"), cfg, log=log, sleep=lambda s: None).run()
    assert outcome.reason == "turns" and outcome.counters.failed_turns == 0 and len(server.requests) == 4
    assert [t["extra"]["estimated_usage"] for t in log.turns] == [False, False, True, True]
    assert all(t["extra"]["attempts"] == [] and t["cost_usd"] > 0 for t in log.turns)
    assert [t["tokens_in"] for t in log.turns[:2]] == estimates[:2]
    for turn, estimate in zip(log.turns[2:], estimates[2:], strict=True):
        assert turn["tokens_in"] >= 1.4 * estimate  # scaled up towards what the endpoint counts


def test_a_reply_without_usage_is_never_billed_below_the_local_estimate(tiny_env, dummy_keys) -> None:
    """The estimate is scaled up by what the endpoint counted before, never down: an endpoint that counted fewer
    tokens than the estimate (a denser tokenizer) must not make a reply without usage cheaper than estimated, or
    the token and dollar budgets would be overrun."""
    go = [("press_buttons", '{"buttons": ["right"]}')]

    def reported(request: dict) -> Reply:  # about a quarter of the local estimate (characters / 4)
        return Reply("ok", go, usage={"input": len(json.dumps(request)) // 16, "output": 1})

    cfg = LMConfig(provider=ProviderConfig(provider="openai", model="stub-model", price="local"),
                   budget=BudgetConfig(max_turns=3))
    with StubServer("openai", [reported, reported, Reply("ok", go, no_usage=True)]) as server:
        cfg.provider.base_url = server.base_url
        provider = OpenAIProvider(cfg.provider)
        estimates: list[int] = []
        complete = provider.complete

        def spy(request: ModelRequest) -> Any:
            response = complete(request)
            estimates.append(response.usage.input)
            return response

        provider.complete = spy  # type: ignore[method-assign]
        log = ListLog()
        LMRun(tiny_env, provider, build_scaffold("minimal"), cfg, log=log, sleep=lambda s: None).run()
    assert all(t["tokens_in"] < t["extra"]["context_tokens_est"] for t in log.turns[:2])  # counted fewer
    assert log.turns[2]["extra"]["estimated_usage"] and log.turns[2]["tokens_in"] == estimates[2]


def test_turn_log_accounting_and_memory(tiny_env) -> None:
    script = [
        Message("assistant", [ToolCall("n", "add_note", {"title": "t", "text": "x"}, "{}")]),
        press("right"),
    ]
    run, _, log = make_run(tiny_env, script, config(max_turns=2), scaffold="notes")
    run.run()
    first = log.turns[0]
    assert first["prompt_digest"].startswith("sha256:") and first["tokens_in"] > 0 and first["tokens_out"] > 0
    assert first["tool_calls"][0]["result"].startswith("Added note") and first["extra"]["kind"] == "act"
    assert first["extra"]["harness_s"] >= 0 and first["latency_s"] >= 0
    assert [m["name"] for m in log.memory] == ["notes"] and log.memory[0]["content"] == {"t": "x"}
    assert run.counters.tokens == sum(t["tokens_in"] + t["tokens_out"] for t in log.turns)


def test_window_and_images_bound_the_context(tiny_env) -> None:
    cfg = config(max_turns=6)
    cfg.observation = ObservationConfig(screenshot=True, text=True, keep_images=1)
    run, provider, _ = make_run(tiny_env, [press("right")], cfg, scaffold="window(k=2)")
    run.run()
    last: ModelRequest = provider.requests[-1]
    assert len(last.messages) == 5  # two kept turns (user, assistant each) and the current message
    images = [b for m in last.messages for b in m.blocks if isinstance(b, Image)]
    assert len(images) == 1 and isinstance(last.messages[-1].blocks[1], Image)  # after the tool result
    assert last.messages[-1].text.startswith("Turn 6 | step 5")


def test_critic_and_summary_calls_are_logged_and_bound_context(tiny_env) -> None:
    def model(request: ModelRequest) -> Message:
        if request.system.startswith(("PROGRESS SUMMARY", "CRITIC")):
            return Message("assistant", [Text("advice " + request.system[:8])])
        return press("right", "left", text="x" * 400)

    run, provider, log = make_run(
        tiny_env,
        [model],
        config(max_turns=40),
        scaffold="summary(budget_tokens=1500, keep_last=1),critic(every=10)",
    )
    run.run()
    kinds = [t["extra"]["kind"] for t in log.turns]
    assert kinds.count("critic") == 3 and kinds.count("summary") >= 2
    acts = [r for r in provider.requests if r.purpose == "act"]
    assert max(run.estimate(r.messages[-1].blocks) for r in acts[-5:]) < 2500
    assert (
        "Progress summary" in acts[-1].messages[-1].text and "Critic's advice" in acts[-1].messages[-1].text
    )


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_loop_survives_every_fault_over_real_sdks(kind: str, tiny_env, dummy_keys, tmp_path) -> None:
    from longplay.replays.reader import ReplayReader
    from longplay.replays.recorder import Recorder

    script = [
        Reply("hi", [("press_buttons", '{"buttons": ["right"]}')]),
        Fault("429", retry_after=0.01),
        Fault("500"),
        Fault("timeout", delay=0.5),
        Fault("truncated"),
        Reply(tool_calls=[("press_buttons", '{"buttons": [')]),  # truncated arguments
        Reply(tool_calls=[("jump", "{}")]),  # unknown tool
        Reply(tool_calls=[("press_buttons", '{"buttons": 3}')]),  # wrong type
        Reply(),  # empty
        Reply("done", [("press_buttons", '{"buttons": ["down"]}')]),
    ]
    cfg = LMConfig(
        provider=ProviderConfig(provider=kind, model="stub-model", request_timeout_s=0.25),
        budget=BudgetConfig(max_turns=6),
        retry=RetryConfig(max_retries=4, backoff_base_s=0.001),
    )
    path = tmp_path / "run.lpr"
    with StubServer(kind, script) as server:
        cfg.provider.base_url = server.base_url
        provider = (AnthropicProvider if kind == "anthropic" else OpenAIProvider)(cfg.provider)
        env = Recorder(tiny_env, path, agent="lm", model="stub-model", config=cfg)
        run = LMRun(env, provider, build_scaffold("minimal"), cfg, log=env, sleep=lambda s: None)
        outcome = run.run()
        env.close()
    assert outcome.reason == "turns" and run.driver.steps == 2
    with ReplayReader(path) as replay:
        turns = replay.turns()
    assert [len(t.extra["attempts"]) for t in turns] == [0, 4, 0, 0, 0, 0]
    assert [a["kind"] for a in turns[1].extra["attempts"]] == [
        "rate_limit",
        "server",
        "timeout",
        "bad_response",
    ]
    bad_json = turns[1].tool_calls[0]["result"]  # Anthropic never sends unparsed input: the stub wraps it
    assert ("not valid JSON" if kind == "openai" else "missing 'buttons'") in bad_json
    assert "unknown tool 'jump'" in turns[2].tool_calls[0]["result"]
    assert "must be an array" in turns[3].tool_calls[0]["result"]
    assert turns[4].error == "empty reply"
    assert all(t.tokens_in > 0 for t in turns)
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in dummy_keys.values():
        assert secret.encode() not in blob



@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_calls_past_the_limit_are_answered_each_under_its_own_id(kind: str, tiny_env, dummy_keys) -> None:
    """``max_tool_calls`` calls of a turn run (default 4) and every one after them is answered with an error under its
    own call id: both APIs refuse a history whose results do not answer its calls one to one (the stub too), so an
    answer under another call's id, or none, failed every later turn of the run."""
    six = Reply("go", [("press_buttons", json.dumps({"buttons": [b]})) for b in ["right", "down"] * 3])
    cfg = LMConfig(provider=ProviderConfig(provider=kind, model="stub-model"), budget=BudgetConfig(max_turns=2),
                   retry=RetryConfig(max_retries=0))
    with StubServer(kind, [six]) as server:
        cfg.provider.base_url = server.base_url
        provider = (AnthropicProvider if kind == "anthropic" else OpenAIProvider)(cfg.provider)
        log = ListLog()
        run = LMRun(tiny_env, provider, build_scaffold("minimal"), cfg, log=log, sleep=lambda s: None)
        outcome = run.run()
    assert outcome.reason == "turns" and cfg.tools.max_tool_calls == 4
    assert [t["error"] for t in log.turns] == [None, None]  # the second request, answering six calls, was taken
    assert run.driver.steps == 8  # four presses a turn
    results = [c["result"] for c in log.turns[0]["tool_calls"]]
    assert not any("ignored" in r for r in results[:4])
    assert all("at most 4 tool calls a turn" in r for r in results[4:]) and len(results) == 6
    wire = server.requests[1]["messages"]
    if kind == "anthropic":
        called = [b["id"] for b in wire[-2]["content"] if b["type"] == "tool_use"]
        answered = [(b["tool_use_id"], b["is_error"]) for b in wire[-1]["content"] if b["type"] == "tool_result"]
    else:
        called = [c["id"] for c in next(m for m in wire if m["role"] == "assistant")["tool_calls"]]
        answered = [(m["tool_call_id"], "ignored" in m["content"]) for m in wire if m["role"] == "tool"]
    assert answered == [(i, n >= 4) for n, i in enumerate(called)] and len(set(called)) == 6


def test_the_prefix_marked_for_prompt_caching_is_sent_again_unchanged(tiny_env, dummy_keys) -> None:
    """The stable prefix (system, tools, history) is marked for prompt caching: the messages up to the mark are sent
    again, unchanged, at the next turn, so they can be read from the cache there. The newest user message (the
    observation with the scaffold's sections) is not in it: a mark there is a cache write never read."""
    cfg = LMConfig(provider=ProviderConfig(provider="anthropic", model="stub-model"),
                   budget=BudgetConfig(max_turns=4), retry=RetryConfig(max_retries=0))
    with StubServer("anthropic", [Reply("go", [("press_buttons", '{"buttons": ["right"]}')])]) as server:
        cfg.provider.base_url = server.base_url
        run = LMRun(tiny_env, AnthropicProvider(cfg.provider), build_scaffold("notes"), cfg, log=ListLog(),
                    sleep=lambda s: None)
        assert run.run().reason == "turns"

    def marked(messages: list[dict]) -> int:  # how many messages the mark covers
        ends = [i + 1 for i, m in enumerate(messages) if any("cache_control" in b for b in m["content"])]
        assert len(ends) <= 1
        return ends[0] if ends else 0

    def unmarked(messages: list[dict]) -> list[dict]:
        return [{**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
                for m in messages]

    requests = [r["messages"] for r in server.requests]
    assert len(requests) == 4 and marked(requests[0]) == 0  # nothing stable yet at the first turn
    for this, following in zip(requests[1:-1], requests[2:], strict=True):
        n = marked(this)
        assert 0 < n < len(this)
        assert unmarked(following[:n]) == unmarked(this[:n])



def test_cache_writes_are_counted_billed_and_part_of_the_context(tiny_env, dummy_keys) -> None:
    """Anthropic reports the tokens written to the prompt cache apart from the input (``cache_creation_input_tokens``):
    each turn's row and the counters keep them, the price table bills them, and the context the model read, which
    the local estimate is scaled to, includes them."""

    def answer(request: dict) -> Reply:
        prompt = len(json.dumps(request)) // 4
        return Reply("go", [("press_buttons", '{"buttons": ["right"]}')],
                     usage={"input": prompt, "output": 5, "cache_read": prompt // 2, "cache_write": prompt})

    cfg = LMConfig(provider=ProviderConfig(provider="anthropic", model="claude-sonnet-4-5"),
                   budget=BudgetConfig(max_turns=8), retry=RetryConfig(max_retries=0))
    with StubServer("anthropic", [answer]) as server:
        cfg.provider.base_url = server.base_url
        log = ListLog()
        run = LMRun(tiny_env, AnthropicProvider(cfg.provider), build_scaffold("minimal"), cfg, log=log,
                    sleep=lambda s: None)
        assert run.run().reason == "turns"
    rows = log.turns
    assert all(r["tokens_cache_write"] > r["tokens_cache_read"] > 0 for r in rows)
    assert run.counters.tokens_cache_write == sum(r["tokens_cache_write"] for r in rows)
    last = rows[-1]
    read = last["tokens_in"] + last["tokens_cache_read"] + last["tokens_cache_write"]
    per_million = 3 * last["tokens_in"] + 15 * last["tokens_out"] + 0.3 * last["tokens_cache_read"] \
        + 3.75 * last["tokens_cache_write"]  # claude-sonnet-4-5's prices
    assert last["cost_usd"] == pytest.approx(per_million / 1e6)
    assert last["extra"]["context_tokens_est"] == pytest.approx(read, rel=0.15)

def test_scaffold_calls_over_the_anthropic_sdk(tiny_env, dummy_keys) -> None:
    def answer(request: dict) -> Reply:
        system = request["system"][0]["text"]
        if system.startswith(("PROGRESS SUMMARY", "CRITIC")):
            assert "tools" not in request
            return Reply(text=f"{system.split('.')[0]} written")
        return Reply("x" * 600, [("press_buttons", '{"buttons": ["right", "left"]}')])

    cfg = LMConfig(
        provider=ProviderConfig(provider="anthropic", model="claude-haiku-4-5"),
        budget=BudgetConfig(max_turns=12),
        retry=RetryConfig(max_retries=0),
    )
    with StubServer("anthropic", [answer]) as server:
        cfg.provider.base_url = server.base_url
        log = ListLog()
        run = LMRun(
            tiny_env,
            AnthropicProvider(cfg.provider),
            build_scaffold("summary(budget_tokens=1500),critic(every=4)"),
            cfg,
            log=log,
        )
        outcome = run.run()
    assert outcome.reason == "turns" and run.counters.failed_turns == 0
    kinds = [t["extra"]["kind"] for t in log.turns]
    assert "summary" in kinds and kinds.count("critic") == 2
    assert run.counters.dollars > 0 and run.counters.tokens_cache_read > 0
    last = server.requests[-1]
    assert "Progress summary" in json.dumps(last["messages"][-1]) and "Critic's advice" in json.dumps(
        last["messages"][-1]
    )


def test_the_progress_check_tells_a_stuck_agent_and_goes_away_at_progress(tiny_env) -> None:
    def model(request: ModelRequest) -> Message:
        turn = sum(r.purpose == "act" for r in provider.requests)
        if turn == 1:
            return press("right", "right")  # a new place
        if turn == 12:
            return press("down")  # a new place, at last
        return press("left", "right")  # back where the turn began: a loop

    run, provider, log = make_run(tiny_env, [model], config(max_turns=14), scaffold="minimal,progress_check(turns=5)")
    run.run()
    acts = [r.messages[-1].text for r in provider.requests if r.purpose == "act"]
    told = [i + 1 for i, text in enumerate(acts) if "Progress check" in text]
    # turns 2-6 ended where turn 1 did: the prompts of turns 7 to 12 say so (the message was written after turn 6
    # and again after turn 11, five turns on); turn 12 reached a new place, so turn 13's prompt no longer does
    assert told == [7, 8, 9, 10, 11, 12]
    assert ("No milestone and no new place for 5 turns (since turn 2). The last 5 turns ended on 1 place: Room "
            "(x 2, y 0); in overworld 5. Buttons pressed most: left 5, right 5.") in acts[6]
    assert "No milestone and no new place for 10 turns (since turn 2)" in acts[11]
    snapshots = [m["content"] for m in log.memory if m["name"] == "progress_check"]
    assert [s["times_stuck"] for s in snapshots] == [1, 1, 1] and snapshots[-1]["message"] == ""
    state = json.loads(json.dumps(run.scaffold.state_dict()))  # what a checkpoint holds
    twin = build_scaffold("minimal,progress_check(turns=5)")
    twin.load_state_dict(state)
    assert twin.state_dict() == run.scaffold.state_dict() and twin.get("progress_check").visited == {(0, 2, 0),
                                                                                                     (0, 2, 1)}


def test_ctrl_c_inside_a_press_waits_for_it_and_the_replay_verifies(tiny_env, tmp_path) -> None:
    # raised inside the env step, the interrupt left the game a press ahead of the recorded actions: the replay
    # closed on a state hash no recorded step has, and verify failed the run (1 of 3 Ctrl+C's of an offline run)
    import os
    import signal

    import gymnasium as gym

    from longplay.replays.recorder import Recorder
    from longplay.replays.verify import verify

    class CtrlCInsideStep(gym.Wrapper):
        steps = 0

        def step(self, action):  # type: ignore[no-untyped-def]
            result = self.env.step(action)
            self.steps += 1
            if self.steps == 7:  # after the game pressed the button, before the step returns
                os.kill(os.getpid(), signal.SIGINT)
            return result

    path = tmp_path / "run.lpr"
    recorder = Recorder(CtrlCInsideStep(tiny_env), path, env_id=tiny_env.spec.id)
    run, _, _ = make_run(recorder, [press("right", "down", "right")], config(max_turns=20))
    outcome = run.run()
    recorder.close()
    assert outcome.reason == "interrupted"
    report = verify(path)
    assert report.ok and report.steps == 7, report.summary()


def test_the_config_a_run_keeps_names_the_scaffold_it_runs(tiny_env) -> None:
    """Through the Python API (the guide's example, the harness benchmark) the config's scaffold was left empty
    beside build_scaffold("full"): the checkpoint's config named no scaffold, so --resume rebuilt the default
    window and failed on the memory it found. The run's config now names the scaffold it was given; a config that
    names another is refused."""
    from longplay.scaffolds import normalize, parse_spec

    run, _, _ = make_run(tiny_env, [press("right")], scaffold="notes,goals")
    assert [e["name"] for e in run.state_dict()["config"]["scaffold"]] == ["window", "notes", "goals"]
    assert run.state_dict()["config"]["scaffold"] == normalize(parse_spec("notes,goals"))
    mismatch = config(max_turns=5)
    mismatch.scaffold = normalize(parse_spec("minimal"))
    with pytest.raises(ValueError, match="the config's scaffold is window; the run was given window\\+notes"):
        make_run(tiny_env, [press("right")], mismatch, scaffold="notes")
    assert mismatch.scaffold == normalize(parse_spec("minimal"))  # the caller's config is not changed


def test_a_first_call_that_never_connects_stops_at_once_without_counting_a_turn(tiny_env) -> None:
    """No server at the base URL (a wrong --base-url, a local server not started): every attempt of every turn failed
    to connect, and the run took five turns of retries (minutes) to stop on failures. It stops after the first call,
    naming the address, plays no turn, and a resume plays that turn as its first."""
    unreachable = ProviderError("connection", "APIConnectionError: Connection error.")
    cfg = config(max_turns=5)
    cfg.provider.base_url = "http://user:pw@localhost:9/v1?key=secret"
    run, _, log = make_run(tiny_env, [unreachable], cfg)
    outcome = run.run()
    assert outcome.reason == "error" and "no model server answered at http://localhost:9/v1" in outcome.message
    assert "pw" not in outcome.message and "secret" not in outcome.message
    assert run.counters.turns == 0 and run.counters.failed_turns == 0 and run.driver.steps == 0
    assert [t["extra"]["kind"] for t in log.turns] == ["refused"]
    assert run.counters.failed_calls == len(log.turns[0]["extra"]["attempts"]) == cfg.retry.max_retries + 1


def test_connection_errors_after_the_server_answered_are_an_outage_to_wait_out(tiny_env) -> None:
    """Once a call of the run got an answer, a connection error is the server gone for a while: failed turns, as
    before, until too many in a row."""
    unreachable = ProviderError("connection", "APIConnectionError: Connection error.")
    run, _, log = make_run(tiny_env, [press("right"), unreachable], config(max_turns=20))
    outcome = run.run()
    assert outcome.reason == "failures" and run.counters.turns == 1 + run.config.retry.max_consecutive_failures
    run, _, log = make_run(tiny_env, [ProviderError("server", "HTTP 502", status=502), unreachable],
                           config(max_turns=20))
    assert run.run().reason == "failures"  # a 502 came from something listening there
