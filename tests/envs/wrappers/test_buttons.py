"""Action-space shaping: a policy that presses only some of the buttons."""

from __future__ import annotations

import gymnasium as gym
import pytest

import longplay.envs  # noqa: F401 - registers the ids
from longplay.envs.game import Button
from longplay.envs.wrappers.buttons import ButtonSubset, button_subset, parse_buttons


def test_parse_buttons() -> None:
    assert parse_buttons("up, down,LEFT,right,a,b") == (0, 1, 2, 3, 4, 5)
    assert parse_buttons("") == parse_buttons(None) == ()
    assert parse_buttons("start") == (int(Button.START),)
    with pytest.raises(ValueError, match="unknown button 'jump'; valid buttons: up"):
        parse_buttons("up,jump")
    with pytest.raises(ValueError, match="repeated"):
        parse_buttons("a,a")


def test_subset_presses_the_mapped_button() -> None:
    env = ButtonSubset(gym.make("longplay/QuestMini-v0"), "down,right")
    assert env.action_space == gym.spaces.Discrete(2)
    assert env.action(1) == int(Button.RIGHT)
    env.reset(seed=0)
    game = env.unwrapped.game
    x = game.state().x
    for _ in range(3):  # the first press may only turn the player
        env.step(1)
    assert game.state().x > x
    with pytest.raises(ValueError, match="subset"):
        ButtonSubset(gym.make("longplay/QuestMini-v0"), (0, 9))


def test_button_subset_checks_what_both_learners_press() -> None:
    """``button_subset`` is the one check of ``--buttons`` (ButtonSubset for SB3, ppo-device's presses)."""
    assert button_subset("up,a", 8) == (0, 4)
    assert button_subset((0, 1, 2), 8) == (0, 1, 2)
    assert button_subset([4, 5], 8) == (4, 5)
    # names in a tuple raised "TypeError: '<=' not supported between instances of 'int' and 'str'", a repeated index
    # was a second action pressing the same button, True pressed button 1 and 3 (an int) an error
    for bad, n in (("noop", 8), ((), 8), ((0,), None), (("a", "b"), 8), ((0, 0), 8), ((True,), 8), (3, 8)):
        with pytest.raises(ValueError, match="not a non-empty subset of the env's"):
            button_subset(bad, n)


@pytest.mark.parametrize("action", [-1, 2, 3, 1.5, True])
def test_an_action_outside_the_subset_is_refused(action: int) -> None:
    """Like the env's own ``step``: -1 once pressed the subset's last button, 2 was an IndexError, 1.5 pressed the
    second button."""
    env = ButtonSubset(gym.make("longplay/QuestMini-v0"), "down,right")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action .*; valid: 0\.\.1"):
        env.step(action)
