"""Summary: when the context reaches a token budget, the model writes a progress summary that replaces the
history."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.history import History
from longplay.scaffolds.base import Component

SUMMARY_SYSTEM = (
    "PROGRESS SUMMARY. You are the memory of an agent playing a game. Its conversation is about to be "
    "cut. Write a compact progress summary the agent will read instead of it: where it is, what it has "
    "achieved, what it learned about the world (places, people, items, dangers), what it was trying to do "
    "and what failed. Plain text, no more than about 300 words."
)


@dataclass
class Summary(Component):
    """Replaces the history by a model-written summary whenever a request would exceed ``budget_tokens``."""

    name = "summary"
    version = "1"
    manages_history = True

    budget_tokens: int = 8000
    """Size of a request (estimated tokens) that triggers a summary."""
    keep_last: int = 2
    """Turns kept word for word after a summary."""
    max_output_tokens: int = 600
    """Most tokens the summary call may write."""
    max_chars: int = 3000
    """The summary is cut to this many characters."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(budget_tokens=500, keep_last=0, max_output_tokens=1, max_chars=1)
        self.summary = ""
        self.through_turn = 0
        self.summaries = 0
        self.failures = 0
        self.warned = False  # the over-budget warning is given once a run, resumed sessions included

    def trim(self, history: History, estimate: Callable[[], int]) -> None:
        if len(history) <= self.keep_last or estimate() <= self.budget_tokens:
            return
        assert self.ctx is not None
        cut = len(history) - self.keep_last
        old = History()
        old.exchanges = history.exchanges[:cut]
        parts = []
        if self.summary:
            parts.append(f"Summary so far (through turn {self.through_turn}):\n{self.summary}")
        for title, text in self.ctx.sections(exclude=self.name):
            parts.append(f"{title}:\n{text}")
        parts.append("Turns since then:\n" + old.transcript())
        parts.append("Write the new progress summary now.")
        text = self.ctx.call_model("summary", SUMMARY_SYSTEM, "\n\n".join(parts), self.max_output_tokens)
        if text and text.strip():
            self.summary = text.strip()[: self.max_chars]
            self.summaries += 1
        else:  # the context must stay bounded even when the summary call fails
            self.failures += 1
            note = f"(turns {self.through_turn + 1}-{old.exchanges[-1].turn} were dropped without a summary)"
            self.summary = (self.summary + "\n" + note).strip()[-self.max_chars :]
        self.through_turn = old.exchanges[-1].turn
        history.drop_oldest(cut)
        self.changed()
        self._warn_if_over_budget(estimate())

    def _warn_if_over_budget(self, size: int) -> None:
        """Warns once when the request is over the budget even right after a summary: every turn then pays for a
        summary call as well, which doubled a run's cost with nothing said."""
        if size <= self.budget_tokens or self.warned:
            return
        self.warned = True
        warnings.warn(
            f"summary budget_tokens={self.budget_tokens} is below the request right after a summary ({size} tokens "
            f"estimated: system prompt, tools, notes and the last {self.keep_last} turns), so a summary call runs "
            f"every turn; raise budget_tokens above {size}",
            UserWarning,
            stacklevel=3,
        )

    def section(self) -> tuple[str, str] | None:
        if not self.summary:
            return None
        return f"Progress summary (through turn {self.through_turn})", self.summary

    def state_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "through_turn": self.through_turn,
            "summaries": self.summaries,
            "failures": self.failures,
            "warned": self.warned,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.summary, self.through_turn = state["summary"], state["through_turn"]
        self.summaries, self.failures = state["summaries"], state["failures"]
        self.warned = state.get("warned", False)  # a checkpoint from before it was kept warns once more

    def snapshot(self) -> str:
        return self.summary
