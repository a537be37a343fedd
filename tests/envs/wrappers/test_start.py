"""StartFromState: every episode from one save state, the ones a vector env resets by itself included."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.envs.wrappers.start import StartFromState

MINI = "longplay/QuestMini-v0"


@pytest.fixture(scope="module")
def state(oracle_state) -> bytes:
    """A state two milestones into QuestMini (left the house, got a partner)."""
    return oracle_state(MINI, milestones=2)[0]


def test_every_autoreset_of_a_vector_env_starts_from_the_state(state: bytes) -> None:
    def make() -> gym.Env:
        return StartFromState(gym.make(MINI, obs_mode="symbolic", max_episode_steps=5), state)

    vec = gym.vector.SyncVectorEnv([make, make])  # next-step autoreset: the step after an end resets, no options
    _, info = vec.reset(seed=0)
    held = 2 / len(vec.envs[0].unwrapped.catalog)
    assert info["progress"].tolist() == [held, held] and info["step"].tolist() == [0, 0]
    starts, ended = 0, np.zeros(2, bool)
    for action in np.random.default_rng(0).integers(0, 8, (12, 2)):
        _, reward, terminated, truncated, info = vec.step(action)
        if ended.any():  # this step was the reset of those envs
            starts += int(ended.sum())
            assert (info["step"][ended] == 0).all() and (info["progress"][ended] == held).all()
        assert not reward.any()  # nothing new within 5 steps, and the held milestones are never paid
        ended = terminated | truncated
    assert starts == 4


def test_a_reset_that_names_its_own_state_keeps_it(state: bytes) -> None:
    env = StartFromState(gym.make(MINI, obs_mode="symbolic"), state)
    fresh = gym.make(MINI, obs_mode="symbolic")
    fresh.reset(seed=1)
    fresh.step(1)
    other = fresh.unwrapped.game.save_state()
    env.reset(seed=1, options={"state": other})
    assert env.unwrapped.game.save_state() == other
    _, info = env.reset(seed=1, options={})
    assert env.unwrapped.game.save_state() == state and len(info["milestones"]) == 2


def test_the_state_must_be_bytes() -> None:
    with pytest.raises(ValueError, match="StartFromState needs bytes from game.save_state\\(\\), not str"):
        StartFromState(gym.make(MINI), "start.state")  # type: ignore[arg-type]


def test_the_spec_is_json_and_rebuilds_the_wrapper(state: bytes) -> None:
    """The state's bytes were recorded in ``env.spec``, so ``env.spec.to_json()`` raised TypeError; it is
    recorded as base64 text, and ``gym.make`` rebuilds the wrapper from the spec or from its JSON."""
    from gymnasium.envs.registration import EnvSpec

    env = StartFromState(gym.make(MINI, obs_mode="symbolic"), state)
    text = env.spec.to_json()
    for spec in (env.spec, EnvSpec.from_json(text)):
        rebuilt = gym.make(spec)
        assert isinstance(rebuilt, StartFromState) and rebuilt.state == state
        _, info = rebuilt.reset(seed=0)
        assert rebuilt.unwrapped.game.save_state() == state and len(info["milestones"]) == 2


def test_the_state_as_base64_is_checked(state: bytes) -> None:
    import base64

    text = base64.b64encode(state).decode()
    assert StartFromState(gym.make(MINI), state_base64=text).state == state
    for kwargs, message in (({}, "needs a state"), ({"state": state, "state_base64": text}, "needs a state"),
                            ({"state_base64": "not base64!"}, "state_base64 is not base64"),
                            ({"state_base64": b"AAAA"}, "state_base64 is not base64")):
        with pytest.raises(ValueError, match=message) as info:
            StartFromState(gym.make(MINI), **kwargs)
        assert "\n" not in str(info.value)
