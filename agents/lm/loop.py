"""The language-model agent loop: one loop for every provider and scaffold.

Each **turn**: the scaffold acts first (a critic review, say); the model is shown the observation (status
line, text view and/or screenshot), the scaffold's sections and the kept history; it answers with tool
calls, which press buttons (every press is an env step the replay records); the turn is logged with its
tokens, dollars, latency and errors; the scaffold updates its memory; a checkpoint is written when due.
The run stops cleanly at the first budget reached (steps, turns, tokens, dollars, seconds), when the game is
finished, or after too many failed turns in a row, and says which.

A model call that fails is retried with back-off (``providers.call_with_retries``); a malformed or unknown
tool call is answered with an error the model reads; nothing the model sends can crash the loop.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym

from longplay.agents.lm.accounting import Counters, PriceTable
from longplay.agents.lm.adapters import adapter_for
from longplay.agents.lm.config import LMConfig
from longplay.agents.lm.driver import Driver
from longplay.agents.lm.history import Exchange, History, one_line
from longplay.agents.lm.images import screenshot_png
from longplay.agents.lm.messages import (
    Block,
    Image,
    Message,
    ModelRequest,
    ModelResponse,
    Text,
    ToolResult,
    Usage,
    estimate_message_tokens,
    estimate_text_tokens,
)
from longplay.agents.lm.providers import Provider, ProviderError, call_with_retries, redact_url
from longplay.agents.lm.tools import Toolbox, navigate_to_tool, press_buttons_tool
from longplay.replays.recorder import sigint_held
from longplay.scaffolds.base import Scaffold

SYSTEM_PROMPT = """\
You are playing a Pokemon-style role-playing game through tools. Your aim is to progress as far as you can:
explore, talk to people, get a partner creature, win battles, earn badges and finish the game.

Each turn you get the game's current state (a status line, the screen as text and/or an image) and your
memory. Act by calling tools; every button press is one game step, and steps are what your progress is
measured against, so do not waste them.

Buttons: up, down, left, right walk (pressing a direction you are not facing first turns you to face it);
a talks to whoever you face, confirms, and advances text boxes; b cancels and backs out of menus; start
opens the menu; select is rarely used. In battle, a chooses the highlighted option.

Think briefly, then call one or more tools."""

#: Stop reasons, in the words the run reports.
STOP_REASONS = (
    "steps",
    "turns",
    "tokens",
    "dollars",
    "seconds",
    "finished",
    "episode_end",
    "failures",
    "error",
    "interrupted",
)

#: Kinds of :class:`ProviderError` by which the endpoint refuses the run (a bad key, a missing SDK): the run stops at
#: once, no turn is played, and the refused call of a turn is recorded with ``extra.kind`` ``"refused"``.
REFUSALS = ("auth", "config")

#: Characters of a failed turn's reason a stop message or summary shows (a provider's error runs to 500; the turn's
#: replay row holds it whole).
SHOWN_FAILURE_CHARS = 120


def shown_failure(reason: str) -> str:
    """A failed turn's reason (its replay row's ``error``) as the screen shows it: one line, cut short."""
    return one_line(reason, SHOWN_FAILURE_CHARS)


class TurnLog(Protocol):
    """Where turns and memory snapshots go: the replay :class:`~longplay.replays.recorder.Recorder`, or a
    stand-in with the same two methods. A log with a ``heartbeat()`` method too (the recorder's) has it called
    before each model call attempt."""

    def log_turn(self, **fields: Any) -> None:
        """Records one model call (see ``Recorder.log_turn``)."""

    def log_memory(
        self, name: str, content: Any, *, step: int | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        """Records a snapshot of a scaffold component's memory."""


class ListLog:
    """A :class:`TurnLog` that keeps everything in lists (tests, runs without a replay)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.turns: list[dict[str, Any]] = []
        self.memory: list[dict[str, Any]] = []

    def log_turn(self, **fields: Any) -> None:
        if self.keep:
            self.turns.append(fields)

    def log_memory(
        self, name: str, content: Any, *, step: int | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        if self.keep:
            self.memory.append({"name": name, "content": content, "step": step, "extra": extra})


@dataclass
class RunOutcome:
    """How a run ended."""

    reason: str
    """One of :data:`STOP_REASONS`."""
    message: str
    """One line for the person at the terminal."""
    counters: Counters
    milestones: dict[str, int] = field(default_factory=dict)
    last_failure: str | None = None
    """Why the run's latest failed turn failed (its replay row's ``error``; earlier sessions included), or ``None``."""


class CheckpointSink(Protocol):
    """Receives checkpoints (see ``checkpoint.py``)."""

    def save(self, run: LMRun, reason: str) -> None:
        """Writes a checkpoint of ``run``."""


class LMRun:
    """One language-model run on one env (see the module docstring).

    Args:
        env: The env, usually wrapped in the replay recorder.
        provider: The model endpoint.
        scaffold: The memory scaffold.
        config: The run's configuration.
        log: Where turns and memory snapshots go (the recorder); ``None``: nowhere.
        checkpoints: Where checkpoints go; ``None``: none are written.
        prices: The price table; default the shipped one.
        sleep: How back-off waits (tests pass a no-op).
        on_turn: Called after every turn (progress display).
        reset_options: The env's reset options (``{"state": bytes}``: the run starts from that save state).
    """

    def __init__(
        self,
        env: gym.Env,
        provider: Provider,
        scaffold: Scaffold,
        config: LMConfig,
        *,
        log: TurnLog | None = None,
        checkpoints: CheckpointSink | None = None,
        prices: PriceTable | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_turn: Callable[[LMRun], None] | None = None,
        reset_options: dict[str, Any] | None = None,
    ) -> None:
        self.env = env
        self.provider = provider
        self.scaffold = scaffold
        self.config = _naming_scaffold(config, scaffold)
        config = self.config
        self.log = log
        self.checkpoints = checkpoints
        self.sleep = sleep
        self.on_turn = on_turn
        self.prices = prices or PriceTable.load()
        price_name = config.provider.price_name
        self.price = self.prices.lookup(price_name)
        if self.price is None and config.budget.max_dollars is not None:
            raise ValueError(
                f"no price for {price_name!r} in the price table ({self.prices.source}), so a dollar "
                "budget cannot be kept; pass --price NAME"
            )
        self.adapter = adapter_for(env.unwrapped.game)
        if self.adapter is not None and self.adapter.obs_mode not in getattr(env.unwrapped, "obs_modes", ()):
            raise ValueError(
                f"the LM agent reads the {self.adapter.obs_mode} view of this game: make the env with "
                f"obs_mode={self.adapter.obs_mode!r} (or a mode with +{self.adapter.obs_mode})"
            )
        self.driver = Driver(env, self.adapter, config.budget.max_steps, reset_options=reset_options)
        self.history = History(config.observation.keep_images)
        self.counters = Counters()
        self.rng = random.Random(config.seed)  # back-off jitter only: never changes what the model sees
        self.turn = 0
        self.map_names: dict[int, str] = {}
        self.token_scale = 1.0  # reported / estimated context tokens of the last call (calibrates estimates)
        self.last_context_tokens = 0
        self.last_harness_s = 0.0
        #: Why the latest failed turn failed, as its replay row says (the run's summary names it).
        self.last_failure: str | None = None
        self._session_start = time.perf_counter()
        self._seconds_before = 0.0
        # Whether the state is between turn boundaries, so a Ctrl-C must not checkpoint it: from the moment a model
        # call answers (the answer is acted on, or kept by the scaffold) until the turn is logged.
        self._mid_turn = False
        self._server_answered = False  # a model call of this process got an answer (see _stops_the_run)
        # A provider with state of its own (the offline model) changes it while it answers: a Ctrl-C during its
        # call would checkpoint a state one answer ahead of the turn boundary, so its calls (the turn's, and the
        # scaffold's summaries and reviews) are mid-turn from the start.
        self._stateful_provider = bool(provider.state_dict())
        self._pending_log: dict[str, Any] | None = None  # the turn row of the act call, until the turn is logged
        #: (turns, steps) of the last checkpoint written or resumed from; ``None`` before the first.
        self.last_checkpoint: tuple[int, int] | None = None
        self._started = False
        self._fixed: int | None = None
        # a component the game cannot serve (map_memory on a Game Boy game: no map adapter) is refused in one line
        self.scaffold.check_game(self.driver.game.backend, self.driver.seen is not None)
        self.scaffold.bind(self)
        tools = [press_buttons_tool(self.driver, config.tools)]
        if self.adapter is not None:
            map_memory = scaffold.get("map_memory")
            tools.append(
                navigate_to_tool(self.driver, config.tools, getattr(map_memory, "resolve_marker", None))
            )
        self.toolbox = Toolbox(tools + scaffold.tools())

    # ------------------------------------------------------------------------------------------ context API
    def call_model(self, purpose: str, system: str, prompt: str, max_output_tokens: int) -> str | None:
        """A text-only model call for a scaffold component (summary, critic), retried and accounted.

        The run is mid-turn from its answer until the turn's own call (see :meth:`play_turn`): the component
        keeps the answer in its memory in between."""
        request = ModelRequest(system, [Message("user", [Text(prompt)])], [], max_output_tokens, purpose)
        if self._stateful_provider:
            self._mid_turn = True
        response, error = self._call(request, kind=purpose)
        if response is None:
            return None
        return response.message.text

    def sections(self, exclude: str | None = None) -> list[tuple[str, str]]:
        return self.scaffold.sections(exclude)

    def map_name(self, map_id: int) -> str:
        return self.map_names.get(map_id, f"map {map_id}")

    # ------------------------------------------------------------------------------------------ running
    def start(self) -> None:
        """Resets the env (a fresh run), logs the scaffold's initial memory and writes the first checkpoint.

        A Ctrl-C between turn boundaries does not checkpoint (see :meth:`run`): without one at the start, a run
        interrupted that way before its first scheduled checkpoint (50 turns by default) had nothing to resume
        from, and what its calls had spent was lost with the replay a new run replaced."""
        self.driver.reset(self.config.seed)
        self._note_map()
        self._log_memory()
        self._started = True
        self._checkpoint("start")

    @property
    def seconds(self) -> float:
        """Wall-clock seconds of the run, earlier sessions included."""
        return self._seconds_before + time.perf_counter() - self._session_start

    def stop_reason(self) -> tuple[str, str] | None:
        """The first budget reached or end of the episode, as (reason, message); ``None`` to go on."""
        budget, c, d = self.config.budget, self.counters, self.driver
        if d.terminated:
            return "finished", "the game is finished"
        if d.truncated:
            return "episode_end", "the episode reached its step limit (max_episode_steps)"
        if budget.max_steps is not None and d.steps >= budget.max_steps:
            return "steps", f"step budget reached ({d.steps} steps)"
        if budget.max_turns is not None and c.turns >= budget.max_turns:
            return "turns", f"turn budget reached ({c.turns} turns)"
        # Steps and turns stop exactly at their budget; the others overshoot by a turn's worth, and the budget is
        # named as given (a time budget of 0.5 s read "(1 s)", rounded to whole seconds).
        if budget.max_tokens is not None and c.tokens >= budget.max_tokens:
            return "tokens", f"token budget reached ({c.tokens:,} of {budget.max_tokens:,} tokens)"
        if budget.max_dollars is not None and c.dollars >= budget.max_dollars:
            return "dollars", f"dollar budget reached (${c.dollars:.4f} of ${budget.max_dollars:g})"
        if budget.max_seconds is not None and self.seconds >= budget.max_seconds:
            return "seconds", f"time budget reached ({self.seconds:.2f} s of {budget.max_seconds:g} s)"
        return None

    def run(self) -> RunOutcome:
        """Plays turns until a stop reason; writes a final checkpoint; returns how it ended."""
        if not self._started:
            self.start()
        outcome: RunOutcome | None = None
        try:
            while outcome is None:
                stop = self.stop_reason()
                if stop is not None:
                    outcome = RunOutcome(stop[0], stop[1], self.counters)
                    break
                outcome = self.play_turn()
        except KeyboardInterrupt:
            # Before the model answers the state is a turn boundary and can be saved; after, it cannot.
            safe = not self._mid_turn
            outcome = RunOutcome("interrupted", "interrupted" + ("" if safe else self._resume_note()), self.counters)
            if not safe:
                if self._pending_log is not None:
                    # The turn's call answered: its row goes in the replay, past the last checkpoint, so a resume
                    # from that checkpoint keeps what the call spent (``checkpoint.truncate_replay``).
                    self._pending_log["error"] = self._pending_log.get("error") or "interrupted during the turn"
                    self._flush_turn_log(harness_s=0.0)
                return self._ended(outcome)
        self._checkpoint("stop")
        return self._ended(outcome)

    def _ended(self, outcome: RunOutcome) -> RunOutcome:
        """``outcome`` with what the run reached and its latest failure."""
        self._sync_counters()
        outcome.milestones = dict(self.driver.milestones)
        outcome.last_failure = self.last_failure
        return outcome

    def _resume_note(self) -> str:
        """What a run interrupted between turn boundaries (no new checkpoint) can be resumed from."""
        if self.checkpoints is None or self.last_checkpoint is None:
            return " during a turn: this run writes no checkpoints, so it cannot be resumed"
        turns, steps = self.last_checkpoint
        return (f" during turn {self.turn}: resume from the last checkpoint (after turn {turns}, step {steps}); "
                "the turns after it are played again")

    def _sync_counters(self) -> None:
        self.counters.steps = self.driver.steps
        self.counters.seconds = self.seconds

    # ------------------------------------------------------------------------------------------ one turn
    def observe(self) -> list[Block]:
        """What the model is shown of the game this turn (the scaffold's sections come on top)."""
        game, obs_config = self.driver.game, self.config.observation
        reached = self.driver.milestones
        catalog = game.milestones()
        names = {m.id: m.name for m in catalog}
        head = f"Turn {self.turn} | step {self.driver.steps} | milestones {len(reached)}/{len(catalog)}"
        if reached:
            head += f" (latest: {names.get(next(reversed(reached)), '?')})"
        lines = [head]
        state = self._note_map()
        if obs_config.status:
            lines.append("Status: " + self.driver.status_line(state))
        if obs_config.text:
            lines.append("Screen (text):\n" + game.text())
            self.driver.observe_text_view()  # navigate_to may use every tile the model was shown
        blocks: list[Block] = []
        if obs_config.screenshot:
            blocks.append(Image(screenshot_png(game.frame(), obs_config.image_scale)))
            # the screens inside a press sequence were never shown: the seen map takes this one only
            self.driver.observe()
        blocks.append(Text("\n".join(lines)))
        return blocks

    def _note_map(self) -> Any:
        for map_id, name in self.driver.maps_entered.items():  # maps walked through within a turn too
            self.map_names.setdefault(map_id, name)
        state = self.driver.game.state()
        if self.map_names.get(state.map_id) != state.map_name:
            self.map_names[state.map_id] = state.map_name
        return state

    def _current(self, observation: list[Block], sections: list[tuple[str, str]]) -> list[Block]:
        """The blocks of this turn's user message: the observation with the scaffold's sections."""
        tail = "".join(f"\n\n## {title}\n{text}" for title, text in sections)
        last = observation[-1]
        assert isinstance(last, Text)
        return [*observation[:-1], Text(last.text + tail)]

    def _request(self, current: list[Block]) -> ModelRequest:
        messages, prefix = self.history.messages(current)
        return ModelRequest(
            SYSTEM_PROMPT,
            messages,
            self.toolbox.specs,
            self.config.provider.max_output_tokens,
            "act",
            prefix if self.config.provider.prompt_caching else 0,
        )

    def estimate(self, current: list[Block]) -> int:
        """Input tokens of the request this turn would send: the local estimate (cached per exchange),
        scaled by what the provider last reported."""
        base = (
            self._fixed_tokens()
            + self.history.tokens()
            + 4 * (len(self.history) + 1)
            + estimate_message_tokens(Message("user", current))
        )
        return int(base * self.token_scale)

    def _fixed_tokens(self) -> int:
        if self._fixed is None:
            import json

            self._fixed = estimate_text_tokens(SYSTEM_PROMPT) + sum(
                estimate_text_tokens(t.description) + estimate_text_tokens(json.dumps(t.parameters))
                for t in self.toolbox.specs
            )
        return self._fixed

    def play_turn(self) -> RunOutcome | None:
        """Plays one turn; returns an outcome only when the run must stop because of it."""
        start = time.perf_counter()
        model_before = self.counters.model_seconds
        self.turn = self.counters.turns + 1
        self.scaffold.before_turn()
        observation = self.observe()
        current = self._current(observation, self.scaffold.sections())
        revisions = [c.revision for c in self.scaffold]
        self.scaffold.trim(self.history, lambda: self.estimate(current))
        if [c.revision for c in self.scaffold] != revisions:  # a summary was written: show it
            current = self._current(observation, self.scaffold.sections())
        context = self.estimate(current)
        step_at_start = self.driver.steps
        # A turn boundary again, even after a summary or review this turn: the scaffold keeps it in its memory and
        # does not ask again when the turn is replayed (a resume from a Ctrl-C while the turn's call is awaited).
        self._mid_turn = self._stateful_provider
        response, error = self._call(self._request(current), kind="act", context=context, defer_log=True)
        if error is not None and self._stops_the_run(error):
            self._mid_turn = False
            # The endpoint refused the run (a bad key, 401/403), or no server answered this run's first call: no
            # turn was played, so none is counted (the call's row, kind "refused", is no agent turn), and a resume
            # after fixing the key or starting the server plays this turn as its first.
            self._log_memory()  # a critic review or summary written before the call is recorded now
            if error.kind not in REFUSALS:
                where = f" at {redact_url(self.config.provider.base_url)}" if self.config.provider.base_url else ""
                return RunOutcome("error", f"no model server answered{where} (every attempt of the run's first call "
                                  f"failed to connect; is it running?): {error}", self.counters)
            return RunOutcome("error", f"the model endpoint refused the run: {error}", self.counters)
        # From here until the turn is logged the state is between turn boundaries: no checkpoint on Ctrl-C.
        self._mid_turn = True
        interrupted = False
        try:
            self.counters.turns += 1
            assert self._pending_log is not None
            self._pending_log["step"] = step_at_start
            if response is None:
                self._log_memory()  # a critic review or summary written before the failed call is recorded now
                # the failed call's turn goes on as any failed turn: counted, shown on the progress bar, and due
                # checkpoints written (it returned early, and the bar stood still while calls failed)
                failure, new_milestones = self._pending_log["error"], []
            else:
                failure, new_milestones = self._act(response.message, observation, step_at_start)
            self._flush_turn_log(harness_s=self._harness(start, model_before))
        except KeyboardInterrupt:
            interrupted = True  # still mid-turn: run() must see it and not checkpoint this state
            raise
        finally:
            self._mid_turn = interrupted
        if failure is not None:
            outcome = self._count_failure(failure)
        else:
            self.counters.consecutive_failures = 0
            outcome = None
        every = self.config.checkpoint.every_turns
        if outcome is None:
            if new_milestones and self.config.checkpoint.at_milestones:
                self._checkpoint("milestone")
            elif every and self.counters.turns % every == 0:
                self._checkpoint("every")
        if self.on_turn is not None:
            self.on_turn(self)
        return outcome

    def _act(
        self, reply: Message, observation: list[Block], step_at_start: int
    ) -> tuple[str | None, list[str]]:
        """Runs the reply's tool calls, keeps the exchange, lets the scaffold update its memory.

        Returns why the turn failed (no tool called, only malformed calls, an empty reply) or ``None``, and
        the milestones reached during the turn.
        """
        calls = reply.tool_calls
        limit = self.config.tools.max_tool_calls
        results: list[ToolResult] = []
        malformed = 0
        before = len(self.driver.new_milestones)
        for i, call in enumerate(calls):
            if i >= limit:
                result = ToolResult(
                    call.id, call.name, f"error: ignored: at most {limit} tool calls a turn", True
                )
            else:
                result, bad = self.toolbox.run(call)
                malformed += bad
            results.append(result)
            self.counters.tool_errors += result.is_error
        feedback: list[Block] = list(results)
        empty = not calls and not reply.text.strip()
        if not calls:
            feedback.append(
                Text("(You called no tool, so nothing happened in the game. Act with a tool call.)")
            )
        exchange = Exchange(self.turn, step_at_start, observation, reply, feedback)
        if not empty:  # an empty assistant message cannot be sent back to the model
            self.history.append(exchange)
        new_milestones = self.driver.new_milestones[before:]
        log = self._pending_log
        assert log is not None
        log["tool_calls"] = [
            {**c.to_record(), "result": r.content, "is_error": r.is_error}
            for c, r in zip(calls, results, strict=True)
        ]
        log["extra"].update(new_milestones=new_milestones, steps=self.driver.steps - step_at_start)
        failure = ("empty reply" if empty else "no tool called" if not calls
                   else "only malformed tool calls" if malformed == len(calls[:limit]) else None)
        if failure is not None:  # the turn row says why the turn counts as failed
            log["error"] = failure
        self._note_map()  # a map entered this turn is named in the memory snapshot, not as "map <id>"
        self.scaffold.after_turn(exchange)
        self._log_memory()
        return failure, new_milestones

    def _harness(self, start: float, model_before: float) -> float:
        total = time.perf_counter() - start
        self.last_harness_s = max(0.0, total - (self.counters.model_seconds - model_before))
        return self.last_harness_s

    def _stops_the_run(self, error: ProviderError) -> bool:
        """Whether a failed call ends the run at once, playing no turn: the endpoint refused it (a bad key, a model
        it lacks), or no server has answered this process yet and every attempt failed to connect (a wrong
        ``--base-url``, a local server not started: five turns of retries took minutes to say so)."""
        return error.kind in REFUSALS or (error.kind == "connection" and not self._server_answered)

    def _count_failure(self, reason: str) -> RunOutcome | None:
        """Counts a failed turn (``reason``: its replay row's ``error``); the outcome when too many failed in a row."""
        self.counters.failed_turns += 1
        self.counters.consecutive_failures += 1
        self.last_failure = reason
        limit = self.config.retry.max_consecutive_failures
        if self.counters.consecutive_failures >= limit:
            return RunOutcome(
                "failures",
                f"{limit} turns in a row failed (last: {shown_failure(reason)}); the run was "
                "checkpointed and can be resumed",
                self.counters,
            )
        return None

    # ------------------------------------------------------------------------------------------ model calls
    def _call(
        self, request: ModelRequest, kind: str, context: int | None = None, defer_log: bool = False
    ) -> tuple[ModelResponse | None, ProviderError | None]:
        # Readers take a replay not written for its run's window as killed (compare.recording_window_s: one attempt
        # and one back-off, from the header's timeout and retries): its time is written before each attempt, so a
        # live run's longest silence is one attempt and one back-off, not a call retried to the limit.
        heartbeat = getattr(self.log, "heartbeat", None) or (lambda: None)

        def wait(seconds: float) -> None:
            self.sleep(seconds)
            heartbeat()  # the next attempt starts now

        heartbeat()
        t0 = time.perf_counter()
        response, attempts, error = call_with_retries(self.provider, request, self.config.retry, self.rng, wait)
        latency = time.perf_counter() - t0
        usage = response.usage if response is not None else Usage()
        if response is not None and response.estimated_usage and self.token_scale > 1.0:
            # A reply without usage from a provider that reports more tokens than the local estimate: scale the
            # estimate up by that ratio (never down), so token and dollar budgets stay conservative.
            usage = Usage(*(math.ceil(n * self.token_scale) for n in dataclasses.astuple(usage)))
        dollars = self.price.cost(usage) if self.price is not None else 0.0
        fields: dict[str, Any] = {
            "response": response.message.text if response is not None else "",
            "prompt_digest": request.digest(),
            "tool_calls": [c.to_record() for c in response.message.tool_calls]
            if response is not None
            else [],
            "tokens_in": usage.input,
            "tokens_out": usage.output,
            "tokens_cache_read": usage.cache_read,
            "tokens_cache_write": usage.cache_write,
            "cost_usd": dollars,
            "latency_s": round(latency, 4),
            "error": None if error is None else f"{error.kind}: {error}",
            "step": self.driver.steps,
            "extra": {
                "kind": kind,
                "turn": self.turn,
                "attempts": [a.to_json() for a in attempts],
                "context_tokens_est": context if context is not None else None,
                "estimated_usage": bool(response.estimated_usage) if response is not None else None,
                "stop_reason": response.stop_reason if response is not None else None,
            },
        }
        # A refused turn's call plays no turn: its row is written now, as no agent turn, and the run stays at the turn
        # boundary. Without a row, its failed attempts were counted (failed_calls) with none in the replay.
        if response is not None or any(a.kind != "connection" for a in attempts):
            self._server_answered = True  # a connection error later is an outage to wait out, not a wrong address
        refused = kind == "act" and error is not None and self._stops_the_run(error)
        if refused:
            fields["extra"]["kind"] = "refused"
        # A Ctrl-C waits until the call is counted, its row written (or kept for the turn's row) and the run
        # mid-turn: landing in between, it checkpointed counters holding a call the replay had no row of, and the
        # resumed run counted that call beside the rows (tokens, dollars, calls).
        with sigint_held():
            self._mid_turn = self._mid_turn or not refused
            self.counters.model_seconds += latency
            self.counters.failed_calls += len(attempts)
            if response is not None:
                self.counters.add_usage(usage, dollars)
                if kind == "act":
                    estimated = context
                    if estimated and not response.estimated_usage and usage.context:
                        # Calibrate the local estimate against the provider's count (smoothed).
                        self.token_scale = 0.5 * self.token_scale + 0.5 * usage.context / (
                            estimated / self.token_scale
                        )
                    self.last_context_tokens = usage.context
            if defer_log and not refused:
                self._pending_log = fields
            else:
                self._write_turn_log(fields)
        return response, error

    def _flush_turn_log(self, harness_s: float) -> None:
        fields = self._pending_log
        assert fields is not None
        fields["extra"]["harness_s"] = round(harness_s, 6)
        self._pending_log = None
        self._write_turn_log(fields)

    def _write_turn_log(self, fields: dict[str, Any]) -> None:
        self.counters.logged_turns += 1
        if self.log is not None:
            self.log.log_turn(**fields)

    def _log_memory(self) -> None:
        for name, snapshot in self.scaffold.changed_snapshots():
            self.counters.logged_memory += 1
            if self.log is not None:
                self.log.log_memory(name, snapshot, step=self.driver.steps, extra={"turn": self.turn})

    # ------------------------------------------------------------------------------------------ checkpoints
    def _checkpoint(self, reason: str) -> None:
        if self.checkpoints is not None:
            self._sync_counters()
            self.checkpoints.save(self, reason)
            self.last_checkpoint = (self.counters.turns, self.driver.steps)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run, except the game (the checkpoint adds the actions)."""
        self._sync_counters()
        return {
            "config": dataclasses.asdict(self.config),
            "turn": self.turn,
            "counters": self.counters.to_json(),
            "history": self.history.to_json(),
            "scaffold": self.scaffold.state_dict(),
            "seen": self.driver.seen.state_dict() if self.driver.seen is not None else None,
            "provider": self.provider.state_dict(),
            "map_names": {str(k): v for k, v in self.map_names.items()},
            "milestones": dict(self.driver.milestones),
            "token_scale": self.token_scale,
            "last_context_tokens": self.last_context_tokens,
            "last_failure": self.last_failure,
            "rng": _rng_state(self.rng),
        }

    def load_state_dict(
        self,
        state: dict[str, Any],
        obs: Any,
        info: dict[str, Any],
        actions: bytes,
        terminated: bool = False,
        truncated: bool = False,
    ) -> None:
        """Restores :meth:`state_dict` onto an env already brought to the checkpoint's game state by
        pressing ``actions`` (``obs``, ``info``, ``terminated``, ``truncated``: from the last press)."""
        self.counters = Counters.from_json(state["counters"])
        self.turn = state["turn"]
        self.history.load_json(state["history"])
        self.scaffold.load_state_dict(state["scaffold"])
        if self.driver.seen is not None and state.get("seen") is not None:
            self.driver.seen.load_state_dict(state["seen"])
        self.provider.load_state_dict(state.get("provider", {}))
        self.map_names = {int(k): v for k, v in state.get("map_names", {}).items()}
        self.token_scale = float(state.get("token_scale", 1.0))
        self.last_context_tokens = int(state.get("last_context_tokens", 0))
        self.last_failure = state.get("last_failure")  # None in a checkpoint of an older longplay
        self.rng.setstate(_rng_from_json(state["rng"]))
        self.driver.restore(obs, info, actions, terminated, truncated)
        self.driver.milestones = dict(state.get("milestones", self.driver.milestones))
        self._seconds_before = self.counters.seconds
        self._session_start = time.perf_counter()
        self.last_checkpoint = (self.counters.turns, self.driver.steps)  # the checkpoint this state came from
        self._started = True


def _naming_scaffold(config: LMConfig, scaffold: Scaffold) -> LMConfig:
    """``config`` naming ``scaffold`` in its ``scaffold`` spec, which the checkpoint keeps and ``--resume`` rebuilds:
    left empty (the Python API's default), a resume built the default window in its place and lost (or failed on)
    the memory of the scaffold the run had. ``ValueError`` when the config names another scaffold."""
    from longplay.scaffolds import normalize

    given = [{"name": c["name"], "params": c["params"]} for c in scaffold.card()]
    if not config.scaffold:
        return dataclasses.replace(config, scaffold=given)  # a copy: the caller's config is left as it was
    named = normalize(config.scaffold, recorded=True)
    if named != given:
        names = "+".join(e["name"] for e in named)
        raise ValueError(f"the config's scaffold is {names}; the run was given "
                         f"{'+'.join(e['name'] for e in given)} (or other parameters): build the scaffold from "
                         "config.scaffold, or leave config.scaffold empty")
    return config


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from_json(data: list[Any]) -> tuple[Any, ...]:
    return (data[0], tuple(data[1]), data[2])
