"""Checks of the numbers the wrappers take, shared so that each refuses the same values the same way."""

from __future__ import annotations

import numbers
from typing import Any


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole real number: ``3``, ``3.0``, a numpy int; not a bool, ``1.5``, inf, nan or
    ``"3"`` (a count written as ``500.0`` in a config means 500, while ``1.5`` is a typo, not a recipe)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and float(value).is_integer()
