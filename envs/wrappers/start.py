"""Every episode from one save state.

``LongplayEnv.reset(options={"state": data})`` starts one episode from a save state, but vector envs reset
their envs themselves when an episode ends, with no options (Stable-Baselines3's ``DummyVecEnv`` and
``SubprocVecEnv``, Gymnasium's autoreset). :class:`StartFromState` passes the state to every reset that does
not name one, so every episode of a training run starts there (as the PyBoy Pokemon Red RL projects start
every episode from a save state).

>>> import gymnasium as gym, longplay.envs                                      # doctest: +SKIP
>>> env = gym.make("longplay/QuestMini-v0")                                     # doctest: +SKIP
>>> env.reset(seed=0); data = env.unwrapped.game.save_state()                   # doctest: +SKIP
>>> env = StartFromState(gym.make("longplay/QuestMini-v0"), data)              # doctest: +SKIP
"""

from __future__ import annotations

import base64
from typing import Any

import gymnasium as gym


def state_to_base64(state: bytes) -> str:
    """``state`` as the base64 text a spec records instead of bytes: a spec holding bytes made
    ``env.spec.to_json()`` raise TypeError."""
    return base64.b64encode(state).decode("ascii")


def state_from_base64(text: str, name: str) -> bytes:
    """The bytes the base64 ``text`` holds (:func:`state_to_base64`'s inverse), or a one-line ``ValueError`` that
    ``name`` (what gave the text) is not base64 text."""
    try:
        if not isinstance(text, str):
            raise TypeError(f"got {type(text).__name__}")
        return base64.b64decode(text, validate=True)
    except (TypeError, ValueError) as error:  # binascii.Error is a ValueError
        raise ValueError(f"{name} is not base64 text ({error})") from None


class StartFromState(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Resets the env from ``state`` (bytes of ``game.save_state()``) unless the reset's options name one.

    Milestones the state holds count as reached at step 0 and pay nothing (the env's rule for a start state).

    Args:
        env: A longplay env.
        state: The save state every episode starts from.
        state_base64: The same as base64 text, instead of ``state``: what ``env.spec`` records, so the spec stays
            JSON (``env.spec.to_json()``) and ``gym.make(env.spec)`` rebuilds the wrapper from it.
    """

    def __init__(self, env: gym.Env, state: bytes | None = None, *, state_base64: str | None = None) -> None:
        if (state is None) == (state_base64 is None):
            raise ValueError("StartFromState needs a state: the bytes of game.save_state() or, as state_base64, "
                             "their base64 text (one of the two)")
        if state_base64 is not None:
            state = state_from_base64(state_base64, "StartFromState: state_base64")
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise ValueError(f"StartFromState needs bytes from game.save_state(), not {type(state).__name__}")
        self.state = bytes(state)
        gym.utils.RecordConstructorArgs.__init__(self, state_base64=state_to_base64(self.state))
        gym.Wrapper.__init__(self, env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if options is None or isinstance(options, dict) and options.get("state") is None:
            options = {**(options or {}), "state": self.state}
        return self.env.reset(seed=seed, options=options)
