"""Token and dollar accounting: the versioned price table shipped with the package, and run counters.

>>> table = PriceTable.load()
>>> price = table.lookup("claude-sonnet-4-5-20250929")
>>> price.name, round(price.cost(Usage(input=1_000_000, output=100_000)), 2)
('claude-sonnet-4-5', 4.5)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from longplay.agents.lm.messages import Usage
from longplay.agents.toml_files import parse_toml, read_toml


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens of one model."""

    name: str
    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, usage: Usage) -> float:
        """Dollars of one call."""
        return (
            usage.input * self.input
            + usage.output * self.output
            + usage.cache_read * self.cache_read
            + usage.cache_write * self.cache_write
        ) / 1e6


#: What may follow a price entry's name in a model name of the same model: dated snapshots, ``latest``, and
#: Bedrock-style versions (``-v1:0``).
_SNAPSHOT = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|latest)|-v\d+(?::\d+)?)*")


class PriceTable:
    """The price table (``prices.toml`` in this package by default)."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.version = str(data.get("version", "unversioned"))
        self.source = source
        self.prices: dict[str, Price] = {}
        for name, entry in data.get("models", {}).items():
            try:
                self.prices[name] = Price(
                    name,
                    float(entry["input"]),
                    float(entry["output"]),
                    float(entry.get("cache_read", entry["input"])),
                    float(entry.get("cache_write", entry["input"])),
                )
            except (KeyError, TypeError, ValueError):
                raise ValueError(
                    f"invalid price entry {name!r} in {source}: needs numbers input and output"
                ) from None

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """Reads a price table file; ``None``: the one shipped with longplay."""
        if path is None:
            text = resources.files("longplay.agents.lm").joinpath("prices.toml").read_text(encoding="utf-8")
            return cls(parse_toml(text, "longplay.agents.lm/prices.toml"), "longplay.agents.lm/prices.toml")
        return cls(read_toml(path)[0], str(path))

    def lookup(self, name: str) -> Price | None:
        """The entry named ``name`` (also after a ``vendor/``), else the entry it is a dated snapshot of
        (``claude-sonnet-4-5-20250929``, ``gpt-4o-2024-08-06``, ``o3-latest``), else ``None``.

        Only snapshot suffixes match: ``o3-pro`` or ``gpt-5-pro`` are not billed as ``o3`` or ``gpt-5``, which
        cost a tenth as much (a dollar budget would be overrun tenfold); an unknown model has no price, and a
        dollar budget then asks for ``--price NAME``.
        """
        for candidate in (name, name.rsplit("/", 1)[-1]):
            if candidate in self.prices:
                return self.prices[candidate]
            matches = [k for k in self.prices if candidate.startswith(k) and _SNAPSHOT.fullmatch(candidate[len(k):])]
            if matches:
                return self.prices[max(matches, key=len)]
        return None


@dataclass
class Counters:
    """Everything a run has spent so far; checkpointed and restored on resume."""

    steps: int = 0
    """Button presses (env steps)."""
    turns: int = 0
    """Turns of the acting agent."""
    model_calls: int = 0
    """Successful model calls (turns plus scaffold calls: summaries, critics)."""
    tokens_in: int = 0
    """Uncached input tokens."""
    tokens_out: int = 0
    """Output tokens."""
    tokens_cache_read: int = 0
    """Input tokens read from the prompt cache."""
    tokens_cache_write: int = 0
    """Input tokens written to the prompt cache."""
    dollars: float = 0.0
    """Cost from the price table."""
    seconds: float = 0.0
    """Wall-clock seconds, summed over sessions."""
    model_seconds: float = 0.0
    """Seconds spent waiting for models (retries and back-off included)."""
    failed_calls: int = 0
    """Attempts that failed (each retry counts)."""
    failed_turns: int = 0
    """Turns that ended without a usable reply."""
    consecutive_failures: int = 0
    """Failed turns since the last good one."""
    tool_errors: int = 0
    """Tool calls answered with an error (unknown tool, bad arguments ...)."""
    logged_turns: int = 0
    """Rows written to the replay's turns table (turns, failures and scaffold calls)."""
    logged_memory: int = 0
    """Rows written to the replay's memory table."""

    @property
    def tokens(self) -> int:
        """All tokens, read and written."""
        return self.tokens_in + self.tokens_out + self.tokens_cache_read + self.tokens_cache_write

    def add_usage(self, usage: Usage, dollars: float) -> None:
        """Adds one successful call."""
        self.model_calls += 1
        self._add_spending(usage, dollars)

    def add_discarded(self, usage: Usage, dollars: float) -> None:
        """Adds what model calls lost with a crashed run spent (see ``checkpoint.truncate_replay``): their tokens
        and dollars count against the budgets, and the replay's turns table holds one row more for them."""
        self._add_spending(usage, dollars)
        self.logged_turns += 1

    def _add_spending(self, usage: Usage, dollars: float) -> None:
        self.tokens_in += usage.input
        self.tokens_out += usage.output
        self.tokens_cache_read += usage.cache_read
        self.tokens_cache_write += usage.cache_write
        self.dollars += dollars

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counters:
        """The inverse of :meth:`to_json` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
