"""Sliding window: the conversation keeps only the last ``k`` turns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from longplay.agents.lm.history import History
from longplay.scaffolds.base import Component


@dataclass
class Window(Component):
    """Keeps the last ``k`` turns of the conversation; older ones are forgotten.

    With ``stride`` > 1 the window drops ``stride`` turns at once when it overflows, so the start of the
    conversation stays the same for ``stride`` turns and prompt caching keeps working in between.
    """

    name = "window"
    version = "1"
    manages_history = True

    k: int = 20
    """Turns kept (at least this many once the run is that long)."""
    stride: int = 1
    """Turns dropped at once when the window overflows (1: slide every turn)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(k=0, stride=1)

    def trim(self, history: History, estimate: Callable[[], int]) -> None:
        if len(history) > self.k + self.stride - 1:
            history.drop_oldest(len(history) - self.k)
