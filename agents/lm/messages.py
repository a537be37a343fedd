"""The provider-neutral conversation: messages of text, image, tool-call and tool-result blocks.

Providers translate these to their own wire formats (``providers.py``); the loop, the scaffolds and the
checkpoints only see these types. Everything here round-trips through JSON (images as base64).

>>> m = Message("assistant", [Text("I go north."), ToolCall("c1", "press_buttons", {"buttons": ["up"]})])
>>> Message.from_json(m.to_json()) == m
True
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from longplay.replays.schema import strict_json

#: Tokens charged for one image in the estimate (about a 480x432 screenshot on current providers).
IMAGE_TOKENS = 280
#: Characters per token in the estimate (English and ASCII maps run close to 4).
CHARS_PER_TOKEN = 4


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: Any) -> Any:
    """``value`` (a string, or JSON of them) with every lone UTF-16 surrogate replaced by U+FFFD, and every number
    JSON cannot carry (infinite, NaN) by ``None``, as JavaScript's ``JSON.stringify`` writes it.

    A server may send a surrogate as a JSON escape (``"\\ud83d"``: half an emoji, cut at a token boundary), and Python
    decodes it as is; such text cannot be encoded as UTF-8, so neither the next request's digest nor the replay
    could be written. Python reads ``1e400`` as infinite (and the non-JSON ``NaN``): tool arguments holding one were
    kept in the history, and the SDK refused to encode every later request. So the providers clean what a reply
    brings as they read it, and a tool call read back from JSON (a checkpoint an older longplay wrote may hold
    ``Infinity``) has its arguments cleaned as it is read: once each, never for every request.

    >>> clean_text({"note": ["hi \\ud83d"], "x": float("inf")}) == {"note": ["hi \\ufffd"], "x": None}
    True
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    return value


@dataclass
class Text:
    """Plain text."""

    text: str


@dataclass
class Image:
    """A PNG image."""

    png: bytes

    def base64(self) -> str:
        """The PNG as base64 text."""
        return base64.b64encode(self.png).decode("ascii")


@dataclass
class ToolCall:
    """A tool call of the model. ``arguments`` is ``None`` when ``raw_arguments`` did not parse."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""
    parse_error: str | None = None
    sent_argument_text: str = field(default="", init=False, repr=False, compare=False)
    """The text a later OpenAI-compatible request sends for these arguments (:func:`sent_argument_text`), worked out
    once, as the call is made (read from a reply, restored from a checkpoint), not again for every request: a call is
    never changed once made."""

    def __post_init__(self) -> None:
        self.sent_argument_text = sent_argument_text(self)

    def to_record(self) -> dict[str, Any]:
        """What replays store: name, arguments (or the raw text when they did not parse)."""
        if self.arguments is not None:
            return {"id": self.id, "name": self.name, "arguments": self.arguments}
        return {
            "id": self.id,
            "name": self.name,
            "raw_arguments": self.raw_arguments,
            "error": self.parse_error,
        }


def sent_arguments(call: ToolCall) -> dict[str, Any]:
    """The arguments a later request carries for ``call``, one rule for every provider: those the run read, or ``{}``
    when they did not read as an object (the call's error result says what was wrong). A server reads the history's
    calls, and one that refuses a call refuses every request while the call is in the window: they are standard JSON
    already, cleaned once (:func:`clean_text`) as a reply is read and as a checkpoint's history is restored, not again
    for every request."""
    return call.arguments if call.arguments is not None else {}


def sent_argument_text(call: ToolCall) -> str:
    """:func:`sent_arguments` as the text of an OpenAI-compatible history: the model's own text when it says the same
    in standard JSON, as the strictest servers read it (a server's prefix cache may hold it as written), else those
    arguments written out (``NaN``, ``1e400``, half an emoji or unfinished JSON would go back to a server that refuses
    them). Worked out once per call, as :attr:`ToolCall.sent_argument_text`.

    >>> sent_argument_text(ToolCall("c1", "f", {"x": 1}, '{ "x":1 }'))
    '{ "x":1 }'
    >>> sent_argument_text(ToolCall("c2", "f", {"x": None}, '{"x": 1e400}'))
    '{"x": null}'
    """
    arguments = sent_arguments(call)
    try:
        if strict_json(call.raw_arguments) == arguments:
            return call.raw_arguments
    except ValueError:  # JSONDecodeError is one
        pass
    return json.dumps(arguments)


@dataclass
class ToolResult:
    """The answer to a tool call, as the model reads it."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


Block = Text | Image | ToolCall | ToolResult


@dataclass
class Message:
    """One message of the conversation."""

    role: Literal["user", "assistant"]
    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text blocks joined."""
        return "\n".join(b.text for b in self.blocks if isinstance(b, Text))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool-call blocks."""
        return [b for b in self.blocks if isinstance(b, ToolCall)]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (see :meth:`from_json`)."""
        return {"role": self.role, "blocks": [_block_json(b) for b in self.blocks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        """The inverse of :meth:`to_json`."""
        return cls(data["role"], [_block_from_json(b) for b in data["blocks"]])


def _block_json(block: Block) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    if isinstance(block, Image):
        return {"type": "image", "png": block.base64()}
    if isinstance(block, ToolCall):
        return {
            "type": "tool_call",
            "id": block.id,
            "name": block.name,
            "arguments": block.arguments,
            "raw_arguments": block.raw_arguments,
            "parse_error": block.parse_error,
        }
    return {
        "type": "tool_result",
        "call_id": block.call_id,
        "name": block.name,
        "content": block.content,
        "is_error": block.is_error,
    }


def _block_from_json(data: dict[str, Any]) -> Block:
    kind = data["type"]
    if kind == "text":
        return Text(data["text"])
    if kind == "image":
        return Image(base64.b64decode(data["png"]))
    if kind == "tool_call":  # a checkpoint of an older longplay may hold Infinity: cleaned once, here
        return ToolCall(
            data["id"],
            data["name"],
            clean_text(data["arguments"]),
            data.get("raw_arguments", ""),
            data.get("parse_error"),
        )
    if kind == "tool_result":
        return ToolResult(data["call_id"], data["name"], data["content"], data.get("is_error", False))
    raise ValueError(f"unknown message block type {kind!r}")


@dataclass
class ToolSpec:
    """A tool the model may call: a name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def fingerprint(self) -> bytes:
        """A digest of the spec (cached: specs do not change during a run)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            text = json.dumps([self.name, self.description, self.parameters], sort_keys=True)
            cached = self.__dict__["_fingerprint"] = hashlib.sha256(text.encode()).digest()
        return cached


@dataclass
class ModelRequest:
    """One call to a model."""

    system: str
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    max_output_tokens: int = 1024
    purpose: str = "act"
    """``act`` (the agent's turn), or the scaffold that asked (``summary``, ``critic``)."""
    cache_prefix: int = 0
    """Messages ``[0, cache_prefix)`` are the stable prefix (marked for prompt caching)."""

    def digest(self) -> str:
        """SHA-256 of everything the model reads, for the replay (the prompt itself is never stored)."""
        h = hashlib.sha256()
        h.update(self.system.encode())
        for tool in self.tools:
            h.update(b"\x00tool\x00" + tool.fingerprint())
        for message in self.messages:
            h.update(b"\x00" + message.role.encode())
            for block in message.blocks:
                if isinstance(block, Text):
                    h.update(b"\x00t\x00" + block.text.encode())
                elif isinstance(block, Image):
                    h.update(b"\x00i\x00" + hashlib.sha256(block.png).digest())
                elif isinstance(block, ToolCall):
                    h.update(f"\x00c\x00{block.id}\x00{block.name}\x00{block.raw_arguments}".encode())
                else:
                    h.update(f"\x00r\x00{block.call_id}\x00{block.is_error}\x00{block.content}".encode())
        return "sha256:" + h.hexdigest()


@dataclass
class Usage:
    """Tokens of one call. ``input`` excludes cached tokens: the four parts are billed separately."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def context(self) -> int:
        """Tokens the model read: the size of the context."""
        return self.input + self.cache_read + self.cache_write

    @property
    def total(self) -> int:
        """All tokens, read and written."""
        return self.context + self.output


@dataclass
class ModelResponse:
    """What a model answered."""

    message: Message
    usage: Usage
    stop_reason: str = ""
    model: str = ""
    estimated_usage: bool = False
    """True when the provider reported no usage and :attr:`usage` is the local estimate."""


# ============================================================================================ estimates


def estimate_text_tokens(text: str) -> int:
    """A provider-independent token estimate of ``text`` (characters / 4, rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_tokens(request: ModelRequest) -> int:
    """Estimated input tokens of a request: text by characters, a fixed cost per image."""
    total = estimate_text_tokens(request.system)
    for tool in request.tools:
        total += estimate_text_tokens(tool.description) + estimate_text_tokens(json.dumps(tool.parameters))
    for message in request.messages:
        total += estimate_message_tokens(message)
    return total


def estimate_message_tokens(message: Message) -> int:
    """Estimated tokens of one message."""
    total = 4
    for block in message.blocks:
        if isinstance(block, Text):
            total += estimate_text_tokens(block.text)
        elif isinstance(block, Image):
            total += IMAGE_TOKENS
        elif isinstance(block, ToolCall):
            total += 8 + estimate_text_tokens(block.raw_arguments or json.dumps(block.arguments))
        else:
            total += 8 + estimate_text_tokens(block.content)
    return total
