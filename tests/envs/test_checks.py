"""The value checks the envs, the game interface and the wrappers share (``longplay.envs.checks``)."""

from __future__ import annotations

import numpy as np
import pytest

from longplay.envs.env import action_index
from longplay.envs.game import Button, button_index


@pytest.mark.parametrize("value", [3, Button.RIGHT, np.int64(3), np.uint8(3), np.array(3), 3.0, np.float32(3.0),
                                   np.array(3.0)])
def test_a_button_is_named_as_an_action_is(value) -> None:
    """``action_index(3.0)`` gave 3 and ``button_index(3.0)`` raised: one rule for both."""
    assert action_index(value) == button_index(value) == 3


@pytest.mark.parametrize("value", [3.5, True, np.True_, np.array(True), float("inf"), float("nan"), "3", None,
                                   np.array([3]), 1 + 0j, 8, -1])
def test_what_names_no_button_is_refused_by_both(value) -> None:
    assert action_index(value) == -1 or not 0 <= action_index(value) < len(Button)
    with pytest.raises(ValueError, match=r"^invalid button .*; valid: 0\.\.7 \(or None for no button\)$"):
        button_index(value)
