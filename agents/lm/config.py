"""The configuration of a language-model run, as dataclasses; ``asdict(LMConfig)`` goes in the replay header.

Nothing secret is ever in a config: API keys are read from the environment variable named by
:attr:`ProviderConfig.api_key_env` when the provider is built, and only that name is recorded.

>>> config = LMConfig(provider=ProviderConfig(provider="openai", model="gpt-4.1-mini"))
>>> config.budget.max_turns is None, config.observation.text
(True, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Version of the prompts and tool descriptions the loop sends; recorded so runs say what the model read.
PROMPT_VERSION = "4"

PROVIDERS = ("anthropic", "openai", "offline")

#: The environment variable each provider reads its key from, unless ``api_key_env`` says otherwise.
DEFAULT_KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


@dataclass
class ProviderConfig:
    """Which model answers, and how it is called."""

    provider: str = "offline"
    """``anthropic`` (official SDK), ``openai`` (any OpenAI-compatible endpoint) or ``offline`` (scripted)."""
    model: str = "offline-explorer"
    """The model name sent to the endpoint (for ``offline``: the scripted policy's name)."""
    base_url: str | None = None
    """Endpoint URL (vLLM, Ollama, llama.cpp server, OpenRouter ...); ``None``: the SDK's default."""
    api_key_env: str | None = None
    """Environment variable holding the key; ``None``: ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY``."""
    temperature: float | None = None
    """Sampling temperature; ``None`` leaves the endpoint's default."""
    max_output_tokens: int = 1024
    """Most tokens the model may write in one reply."""
    request_timeout_s: float = 120.0
    """Seconds before one request is abandoned (and retried)."""
    price: str | None = None
    """Entry of the price table that bills this model; ``None``: the model name (or a dated snapshot of an entry);
    ``offline`` for the offline provider."""
    prompt_caching: bool = True
    """Mark the stable prefix (system, tools, history) for prompt caching where the provider supports it."""
    openai_max_tokens_field: str = "auto"
    """Field that carries the output limit to OpenAI-compatible endpoints: ``max_tokens``,
    ``max_completion_tokens``, or ``auto`` (the latter for OpenAI itself, whose reasoning models refuse
    ``max_tokens``; the former for other servers)."""

    @property
    def price_name(self) -> str:
        """The price table entry (or model name) that bills this model: ``price``, else ``offline`` for the
        scripted models (free whatever they are called), else the model name."""
        return self.price or ("offline" if self.provider == "offline" else self.model)


#: Largest ``image_scale``: the 160x144 screen at 12 is 1920x1728, about the size past which providers shrink an
#: image (Anthropic past 1568 px, OpenAI past 2048), so a larger one costs more and shows nothing more.
MAX_IMAGE_SCALE = 12


@dataclass
class ObservationConfig:
    """What the model is shown each turn (the scaffold adds its own sections)."""

    screenshot: bool = False
    """Send the screen as a PNG image."""
    text: bool = True
    """Send the game's text view."""
    status: bool = True
    """Send one status line (mode, map, position, facing) read from the symbolic observation."""
    image_scale: int = 3
    """Integer upscaling of the 160x144 screen (nearest neighbour) before it is sent."""
    keep_images: int = 1
    """Screenshots kept in the conversation, newest first; older ones are replaced by a placeholder."""


@dataclass
class BudgetConfig:
    """Limits of a run; it stops cleanly at the first one reached and says which (``None``: no limit)."""

    max_steps: int | None = None
    """Button presses (env steps): the x-axis that matters."""
    max_turns: int | None = None
    """Model turns of the acting agent (summary and critic calls are not turns, but cost tokens)."""
    max_tokens: int | None = None
    """Tokens in and out, cache reads and writes included, over all model calls."""
    max_dollars: float | None = None
    """Dollars, from the price table, over all model calls."""
    max_seconds: float | None = None
    """Wall-clock seconds, summed over resumed sessions."""

    def limits(self) -> dict[str, Any]:
        """The replay header's ``budget``: the run's limits (None: no such limit), by which compare tells a run
        that used its budget from one stopped early (Ctrl+C, failures).

        >>> BudgetConfig(max_steps=100).limits()
        {'steps': 100, 'turns': None, 'tokens': None, 'dollars': None, 'seconds': None}
        """
        return {"steps": self.max_steps, "turns": self.max_turns, "tokens": self.max_tokens,
                "dollars": self.max_dollars, "seconds": self.max_seconds}


@dataclass
class RetryConfig:
    """Retries of failed model calls and when to give up."""

    max_retries: int = 6
    """Retries of one call after a rate limit, server error, timeout or unreadable reply."""
    backoff_base_s: float = 1.0
    """First back-off; it doubles each retry (with jitter), unless the server says when to retry."""
    backoff_max_s: float = 60.0
    """Longest single wait, ``retry-after`` included."""
    max_consecutive_failures: int = 5
    """Turns in a row without a usable reply (after retries) before the run checkpoints and stops."""


@dataclass
class ToolConfig:
    """Limits of the built-in tools."""

    max_buttons: int = 10
    """Most buttons in one ``press_buttons`` call."""
    max_navigate_steps: int = 80
    """Most button presses one ``navigate_to`` call may spend."""
    max_tool_calls: int = 4
    """Tool calls executed per turn; the rest are answered with an error."""


@dataclass
class CheckpointConfig:
    """When the run saves everything needed to resume it."""

    every_turns: int = 50
    """Checkpoint every this many turns (0: never on a schedule)."""
    at_milestones: bool = True
    """Checkpoint at the end of every turn that reached a milestone."""


@dataclass
class LMConfig:
    """The whole configuration of a language-model run (see each part)."""

    provider: ProviderConfig = field(default_factory=ProviderConfig)
    """The model and its endpoint."""
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    """What the model sees."""
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    """When the run stops."""
    retry: RetryConfig = field(default_factory=RetryConfig)
    """Retries and failure limits."""
    tools: ToolConfig = field(default_factory=ToolConfig)
    """Tool limits."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Checkpoint schedule."""
    scaffold: list[dict[str, Any]] = field(default_factory=list)
    """The scaffold components, ``[{"name": ..., "params": {...}}, ...]`` (see ``longplay.scaffolds``)."""
    seed: int = 0
    """Seed of the env reset, of retry jitter and of the offline model."""
    prompt_version: str = PROMPT_VERSION
    """Version of the loop's prompts and tool descriptions."""


def config_from_dict(data: dict[str, Any]) -> LMConfig:
    """Rebuilds an :class:`LMConfig` from ``asdict(config)`` (unknown keys raise ``ValueError``)."""
    parts = {f.name: f for f in dataclasses.fields(LMConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in parts:
            raise ValueError(f"unknown LM config key {key!r}")
        kind = {
            "provider": ProviderConfig,
            "observation": ObservationConfig,
            "budget": BudgetConfig,
            "retry": RetryConfig,
            "tools": ToolConfig,
            "checkpoint": CheckpointConfig,
        }.get(key)
        if kind is None:
            kwargs[key] = value
            continue
        names = {f.name for f in dataclasses.fields(kind)}
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"unknown LM config key {key}.{sorted(unknown)[0]}")
        kwargs[key] = kind(**value)
    return LMConfig(**kwargs)
