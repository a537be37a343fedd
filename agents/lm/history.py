"""The conversation kept between turns: one :class:`Exchange` per turn, trimmed by the scaffold.

An exchange is what the model saw at the start of a turn (the observation, without the scaffold's
sections), what it answered, and the feedback that opens the next user message (tool results, or a note
that no tool was called). Messages are rebuilt from exchanges for every request, so trimming the history
(window, summary) never leaves a tool result without its call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from longplay.agents.lm.messages import (
    Block,
    Image,
    Message,
    Text,
    ToolCall,
    ToolResult,
    estimate_message_tokens,
)

IMAGE_PLACEHOLDER = "[older screenshot omitted]"


@dataclass
class Exchange:
    """One turn of the conversation."""

    turn: int
    step: int
    observation: list[Block]
    reply: Message
    feedback: list[Block] = field(default_factory=list)
    tokens: int = field(default=0, compare=False)
    """Estimated tokens of the exchange in a request (kept up to date by :class:`History`)."""

    def measure(self) -> int:
        """Re-estimates :attr:`tokens`."""
        self.tokens = (
            estimate_message_tokens(Message("user", self.observation))
            + estimate_message_tokens(self.reply)
            + estimate_message_tokens(Message("user", self.feedback))
        )
        return self.tokens

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "turn": self.turn,
            "step": self.step,
            "observation": Message("user", self.observation).to_json()["blocks"],
            "reply": self.reply.to_json(),
            "feedback": Message("user", self.feedback).to_json()["blocks"],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exchange:
        """The inverse of :meth:`to_json`."""
        exchange = cls(
            data["turn"],
            data["step"],
            Message.from_json({"role": "user", "blocks": data["observation"]}).blocks,
            Message.from_json(data["reply"]),
            Message.from_json({"role": "user", "blocks": data["feedback"]}).blocks,
        )
        exchange.measure()
        return exchange


class History:
    """The exchanges kept in context, oldest first."""

    def __init__(self, keep_images: int = 1) -> None:
        self.exchanges: list[Exchange] = []
        self.keep_images = keep_images

    def __len__(self) -> int:
        return len(self.exchanges)

    def append(self, exchange: Exchange) -> None:
        """Adds a turn; screenshots older than the newest ``keep_images`` (counting the next observation)
        are dropped here, so memory and checkpoints stay small."""
        exchange.measure()
        self.exchanges.append(exchange)
        keep = max(0, self.keep_images - 1)  # the next turn's observation brings one more
        seen = 0
        for ex in reversed(self.exchanges):
            if not any(isinstance(b, Image) for b in ex.observation):
                if seen > keep:
                    break  # older ones were stripped already
                continue
            seen += 1
            if seen > keep:
                ex.observation = [
                    Text(IMAGE_PLACEHOLDER) if isinstance(b, Image) else b for b in ex.observation
                ]
                ex.measure()

    def tokens(self) -> int:
        """Estimated tokens of all exchanges."""
        return sum(ex.tokens for ex in self.exchanges)

    def drop_oldest(self, n: int) -> None:
        """Forgets the ``n`` oldest exchanges."""
        del self.exchanges[:n]

    def clear(self) -> None:
        """Forgets everything."""
        self.exchanges.clear()

    def messages(self, current: list[Block]) -> tuple[list[Message], int]:
        """The messages of a request whose last user message holds ``current``; and how many come before
        it (the stable prefix, for prompt caching)."""
        messages: list[Message] = []
        pending: list[Block] = []
        for ex in self.exchanges:
            messages.append(Message("user", pending + ex.observation))
            messages.append(ex.reply)
            pending = list(ex.feedback)
        prefix = len(messages)
        messages.append(Message("user", pending + current))
        return messages, prefix

    def transcript(self, last: int | None = None, max_chars: int = 400) -> str:
        """The exchanges as plain text (for summary and critic calls), each part cut to ``max_chars``."""
        lines = []
        for ex in self.exchanges[-last:] if last else self.exchanges:
            obs = " ".join(b.text for b in ex.observation if isinstance(b, Text))
            lines.append(f"--- turn {ex.turn}, step {ex.step}\nsaw: {one_line(obs, max_chars)}")
            if ex.reply.text:
                lines.append(f"thought: {one_line(ex.reply.text, max_chars)}")
            for b in ex.reply.blocks:
                if isinstance(b, ToolCall):
                    lines.append(f"called: {b.name} {one_line(b.raw_arguments, max_chars)}")
            for b in ex.feedback:
                if isinstance(b, ToolResult):
                    lines.append(f"result: {one_line(b.content, max_chars)}")
                elif isinstance(b, Text):
                    lines.append(f"note: {one_line(b.text, max_chars)}")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        """A JSON-able list."""
        return [ex.to_json() for ex in self.exchanges]

    def load_json(self, data: list[dict[str, Any]]) -> None:
        """Restores :meth:`to_json`."""
        self.exchanges = [Exchange.from_json(d) for d in data]


def one_line(text: str, n: int) -> str:
    """``text`` on one line (runs of whitespace as one space), cut to ``n`` characters with ``...``."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."
