"""Action-space shaping: the policy presses only some of the buttons.

A policy over all eight buttons spends much of a random walk in screens it opened by accident: START opens
the menu, which only B or START close, so an untrained policy sits in menus a good part of the time. The
Pokemon Red RL projects train on a subset of the buttons for that reason. :class:`ButtonSubset` shows the
env as ``Discrete(len(buttons))``; the env itself keeps every button.

>>> parse_buttons("up,down,left,right,a,b")
(0, 1, 2, 3, 4, 5)
>>> parse_buttons("")
()
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces

from longplay.envs.checks import action_index
from longplay.envs.game import NOOP, Button

#: Button names (lower case) -> action index of the env; ``noop`` exists in envs made with ``noop=True``.
BUTTON_IDS: dict[str, int] = {**{b.name.lower(): int(b) for b in Button}, "noop": NOOP}


def parse_buttons(spec: str | None) -> tuple[int, ...]:
    """Action indices from comma-separated button names; ``""`` (or None) gives ``()``: every button.

    Raises ``ValueError`` (one line, listing the names) on an unknown or repeated name.
    """
    names = [p.strip().lower() for p in (spec or "").split(",") if p.strip()]
    bad = [n for n in names if n not in BUTTON_IDS]
    if bad:
        raise ValueError(f"unknown button {bad[0]!r}; valid buttons: {', '.join(BUTTON_IDS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"repeated button in {spec!r}")
    return tuple(BUTTON_IDS[n] for n in names)


def button_subset(buttons: str | tuple[int, ...], n: int | None) -> tuple[int, ...]:
    """The action indices of ``buttons`` (a spec string or indices), checked to be a non-empty subset of an
    action space of ``n`` actions, each once; raises ``ValueError`` (one line) otherwise."""
    if isinstance(buttons, str):
        ids = parse_buttons(buttons)
    else:  # ("a", "b") raised a TypeError from the comparison below; (0, 0) was taken as two actions
        ids = tuple(map(action_index, buttons)) if isinstance(buttons, (tuple, list)) else ()
    if not ids or n is None or any(not 0 <= b < n for b in ids) or len(set(ids)) < len(ids):
        raise ValueError(f"buttons {buttons!r} are not a non-empty subset of the env's {n} actions (a string of names "
                         "or action indices, each once)")
    return ids


class ButtonSubset(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """The env with ``Discrete(len(buttons))`` actions: action ``i`` presses ``buttons[i]``.

    Args:
        env: An env with a ``Discrete`` action space (a longplay env: the buttons of :class:`Button`).
        buttons: Action indices of ``env`` (see :func:`parse_buttons`) or their spec string.
    """

    def __init__(self, env: gym.Env, buttons: str | tuple[int, ...]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, buttons=buttons)
        gym.ActionWrapper.__init__(self, env)
        ids = button_subset(buttons, getattr(env.action_space, "n", None))
        self.buttons = ids
        self.action_space = spaces.Discrete(len(ids))

    def action(self, action: Any) -> int:
        """The env's action for the policy's ``action``; raises ``ValueError`` outside ``0..len(buttons) - 1``."""
        index = action_index(action)  # 3.7 names no action, as in the env itself
        if not 0 <= index < len(self.buttons):  # -1 would index the tuple from the end and press a button
            raise ValueError(f"invalid action {action!r}; valid: 0..{len(self.buttons) - 1}")
        return self.buttons[index]
