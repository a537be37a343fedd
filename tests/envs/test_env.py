"""``LongplayEnv``'s reward, episode end and info over a small fake game: each milestone paid once, at its weight,
and every milestone of a step named in ``new_milestones``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from longplay.envs.env import LongplayEnv
from longplay.envs.game import Button


def _fakegame() -> Any:
    """``tests/replays/fakegame.py`` (the tests folder is not a package: load it by path)."""
    name = "longplay_fakegame"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).parents[1] / "replays" / "fakegame.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def test_each_milestone_is_paid_once_at_its_weight_and_named_on_its_step() -> None:
    # the fake game: left_home when the player moves, hundred_presses (weight 2) at press 100, and finish (the last
    # milestone, which ends the game) at press finish_at: two milestones on one step
    env = LongplayEnv(_fakegame().FakeGame(finish_at=100))
    env.reset(seed=0)
    steps = [env.step(int(Button.RIGHT))] + [env.step(int(Button.SELECT)) for _ in range(99)]
    rewards = [reward for _, reward, *_ in steps]
    assert rewards[0] == 1.0 and rewards[-1] == 3.0 and sum(rewards) == 4.0  # 1 + 2 + 1, each once
    assert [info["new_milestones"] for *_, info in steps if info["new_milestones"]] == [
        ("left_home",), ("hundred_presses", "finish")]
    _, _, terminated, truncated, info = steps[-1]
    assert (terminated, truncated) == (True, False)
    assert not any(terminated for _, _, terminated, *_ in steps[:-1])
    assert info["milestones"] == {"left_home": 1, "hundred_presses": 100, "finish": 100}
    assert info["step"] == 100 and info["progress"] == 0.75


def test_a_game_finished_on_the_last_allowed_step_terminates_without_truncating() -> None:
    # the step limit and the game's end on one step: the episode ended because the game did, so a learner
    # that bootstraps truncated episodes (and a log counting time-outs) must see terminated alone
    env = LongplayEnv(_fakegame().FakeGame(finish_at=5), max_episode_steps=5)
    env.reset(seed=0)
    ends = [env.step(int(Button.SELECT))[2:4] for _ in range(5)]
    assert ends == [(False, False)] * 4 + [(True, False)]


def test_a_milestone_the_game_no_longer_holds_is_not_paid_again() -> None:
    # the fake game's left_home holds only while the player is off the start tile: walking back (into a battle,
    # won with A) and out again reaches nothing new (the env keeps every milestone reached this episode, whatever
    # the game says later)
    env = LongplayEnv(_fakegame().FakeGame())
    env.reset(seed=0)
    steps = [env.step(int(b)) for b in (Button.RIGHT, Button.LEFT, Button.A, Button.RIGHT)]
    assert env.game.milestone_mask() == 1 and (env.game.x, env.game.y) == (9, 8)  # off the start tile again
    assert [reward for _, reward, *_ in steps] == [1.0, 0.0, 0.0, 0.0]
    assert [info["new_milestones"] for *_, info in steps] == [("left_home",), (), (), ()]
    assert steps[-1][-1]["milestones"] == {"left_home": 1}


def test_the_noop_action_presses_no_button() -> None:
    env = LongplayEnv(_fakegame().FakeGame(), noop=True)
    env.reset(seed=0)
    env.step(8)
    assert env.game.last == 255  # the fake game's "no button" (SELECT would be 7)
    env.step(int(Button.SELECT))
    assert env.game.last == int(Button.SELECT)


def test_rgb_array_renders_the_full_colour_screen_whatever_the_pixel_observation() -> None:
    # a video of a grayscale, downsampled agent still shows the game as a person sees it
    env = LongplayEnv(_fakegame().FakeGame(), obs_mode="pixels", render_mode="rgb_array", grayscale=True,
                      downsample=2)
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert obs.shape == (72, 80, 1) and frame.shape == (144, 160, 3)
    assert (frame == env.game.frame()).all()


def test_the_text_observation_keeps_texts_up_to_its_max_length_and_cuts_longer_ones_there() -> None:
    from longplay.envs.env import TEXT_MAX_LENGTH

    fake = _fakegame()
    for length in (TEXT_MAX_LENGTH, TEXT_MAX_LENGTH + 50):
        game = fake.FakeGame()
        game.text = lambda n=length: "ab" * (n // 2) + "c" * (n % 2)
        env = LongplayEnv(game, obs_mode="text")
        obs, _ = env.reset(seed=0)
        assert obs == game.text()[:TEXT_MAX_LENGTH] and len(obs) == TEXT_MAX_LENGTH
        assert env.observation_space.contains(obs)


def test_a_start_state_may_be_any_bytes_like_object() -> None:
    # a state read into a bytearray or handed over as a memoryview (a buffer, a mmap) is the same state
    env = LongplayEnv(_fakegame().FakeGame())
    env.reset(seed=0)
    for b in (Button.RIGHT, Button.DOWN, Button.START):
        env.step(int(b))
    data = env.game.save_state()
    for given in (bytearray(data), memoryview(data)):
        env.reset(seed=1)
        _, info = env.reset(options={"state": given})
        assert env.game.save_state() == data and env.reset_state == data
        assert info["milestones"] == {"left_home": 0}  # held by the state: reached at step 0
