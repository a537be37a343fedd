"""longplay envs: game backends, the Gymnasium env, milestones, wrappers and registration.

Importing this package registers the env ids (``longplay/QuestMini-v0`` ...) and does nothing else.

>>> import gymnasium as gym
>>> import longplay.envs
>>> env = gym.make("longplay/QuestMini-v0", obs_mode="text")
"""

from longplay.envs.game import NOOP, Button, Game, GameError, GameState, Milestone, Mode, PartyMember
from longplay.envs.registration import ENV_SPECS, env_ids, register_all

register_all()

__all__ = [
    "ENV_SPECS", "NOOP", "Button", "Game", "GameError", "GameState", "Milestone", "Mode", "PartyMember",
    "env_ids",
]
