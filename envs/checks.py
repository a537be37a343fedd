"""Checks of the values the envs, the game interface and the wrappers take: one rule, one place, one message.

Two rules for numbers, on purpose: :func:`is_int` for settings that are used as they are (a downsample factor, a
frame count), :func:`is_whole` for counts written in configs and for actions, which are converted (``500.0``
means 500, as a policy's ``3.0`` means action 3); both refuse bools and fractions. This module imports nothing
of longplay, so that the game interface, the env and the wrappers can all use it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """An integer (numpy's too), not a bool: ``--set frameskip=true`` is no frame count."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole real number: ``3``, ``3.0``, a numpy int; not a bool, ``1.5``, inf, nan or
    ``"3"`` (a count written as ``500.0`` in a config means 500, while ``1.5`` is a typo, not a recipe)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and float(value).is_integer()


def action_index(action: Any) -> int:
    """The index an action names, or -1 where it names none: an int (numpy's too), a whole float (``3.0``) or a
    0-d array of one (what a policy gives for one observation); not 3.7, which is not action 3, nor ``True`` or
    ``np.array(True)``, which are not action 1, nor inf or an array of several."""
    kind = type(action)
    if issubclass(kind, (int, np.integer)) and kind is not bool:  # what policies give, first: this runs every step
        return int(action)
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action[()]  # its scalar: np.bool_ for a bool array, which is_whole refuses
    return int(action) if is_whole(action) else -1


def check_flag(name: str, value: Any) -> None:
    """Raises ``ValueError`` (one line) unless ``value`` is a bool (numpy's too): ``"off"`` or ``0.0`` would be
    read by its truth, so ``--set grayscale=off`` switched it on."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"invalid {name} {value!r}; valid: True, False")


def check_downsample(downsample: Any, shape: tuple[int, ...]) -> None:
    """Raises ``ValueError`` (one line) unless ``downsample`` is an integer >= 1 dividing H and W of ``shape``."""
    h, w = shape[0], shape[1]
    if not is_int(downsample) or downsample < 1 or h % downsample or w % downsample:
        common = math.gcd(h, w)
        divisors = ", ".join(str(k) for k in range(1, common + 1) if common % k == 0)
        raise ValueError(f"invalid downsample {downsample!r}; valid: {divisors} (the integers that divide the frame "
                         f"size {h}x{w})")
