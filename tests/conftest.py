"""Fixtures shared across the test packages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


@pytest.fixture
def eager_compile(monkeypatch: pytest.MonkeyPatch) -> list[Callable]:
    """``torch.compile`` on the eager backend with ``fullgraph=True`` for the test (it traces as inductor does,
    graph breaks included, but compiles in seconds); returns the list of the functions compiled."""
    compiled: list[Callable] = []
    real = torch.compile

    def eager_backend(fn: Callable, **kwargs: object) -> Callable:
        compiled.append(fn)
        return real(fn, backend="eager", fullgraph=True)

    monkeypatch.setattr(torch, "compile", eager_backend)
    return compiled
