"""Critic: every N turns a separate model call reviews recent progress and the notes and writes advice."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.history import Exchange, History
from longplay.scaffolds.base import Component

CRITIC_SYSTEM = (
    "CRITIC. You review the recent play of an agent in a game. Say briefly what is going well, what is "
    "going wrong (loops, wasted steps, wrong beliefs in its notes), and the one or two things it should do "
    "next. Plain text, at most about 120 words."
)


@dataclass
class Critic(Component):
    """Every ``every`` turns, reviews the last ``lookback`` turns (and the other sections) and writes advice
    that stays in the prompt until the next review."""

    name = "critic"
    version = "1"

    every: int = 25
    """Turns between reviews."""
    lookback: int = 25
    """Turns the critic reads (kept here, whatever the window keeps)."""
    max_output_tokens: int = 400
    """Most tokens one review may write."""
    max_chars: int = 1500
    """The advice is cut to this many characters."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(every=1, lookback=1, max_output_tokens=1, max_chars=1)
        self.recent: deque[str] = deque(maxlen=self.lookback)
        self.advice = ""
        self.at_turn = 0
        # The turn whose review was asked for, answered or not: a turn played again after a resume (a Ctrl-C while
        # the turn's own call was awaited) does not ask twice.
        self.asked_at = 0

    def after_turn(self, exchange: Exchange) -> None:
        log = History()
        log.exchanges = [exchange]
        self.recent.append(log.transcript(max_chars=300))

    def before_turn(self) -> None:
        assert self.ctx is not None
        turn = self.ctx.turn
        if turn <= 1 or (turn - 1) % self.every or not self.recent or self.asked_at == turn:
            return
        parts = [f"{title}:\n{text}" for title, text in self.ctx.sections(exclude=self.name)]
        parts.append("Recent turns:\n" + "\n".join(self.recent))
        parts.append("Write your review and advice now.")
        text = self.ctx.call_model("critic", CRITIC_SYSTEM, "\n\n".join(parts), self.max_output_tokens)
        self.asked_at = turn
        if text and text.strip():
            self.advice = text.strip()[: self.max_chars]
            self.at_turn = turn
            self.changed()

    def section(self) -> tuple[str, str] | None:
        if not self.advice:
            return None
        return f"Critic's advice (turn {self.at_turn})", self.advice

    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "advice": self.advice, "at_turn": self.at_turn, "asked_at": self.asked_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent = deque(state["recent"], maxlen=self.lookback)
        self.advice, self.at_turn = state["advice"], state["at_turn"]
        self.asked_at = state.get("asked_at", self.at_turn)  # checkpoints from before it was kept

    def snapshot(self) -> str:
        return self.advice
