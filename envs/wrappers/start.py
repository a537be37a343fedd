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

from typing import Any

import gymnasium as gym


class StartFromState(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Resets the env from ``state`` (bytes of ``game.save_state()``) unless the reset's options name one.

    Milestones the state holds count as reached at step 0 and pay nothing (the env's rule for a start state).

    Args:
        env: A longplay env.
        state: The save state every episode starts from.
    """

    def __init__(self, env: gym.Env, state: bytes) -> None:
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise ValueError(f"StartFromState needs bytes from game.save_state(), not {type(state).__name__}")
        gym.utils.RecordConstructorArgs.__init__(self, state=bytes(state))
        gym.Wrapper.__init__(self, env)
        self.state = bytes(state)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if options is None or isinstance(options, dict) and options.get("state") is None:
            options = {**(options or {}), "state": self.state}
        return self.env.reset(seed=seed, options=options)
