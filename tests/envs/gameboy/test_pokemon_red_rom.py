"""Pokemon Red/Blue on the real game: only with your own ROM in ``$LONGPLAY_ROMS`` (skipped otherwise).

The first run plays the scripted intro (a few seconds) and caches the bedroom state beside the ROM.
"""

from __future__ import annotations

import os

import gymnasium as gym
import pytest

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.envs.game import Button, Mode
from longplay.envs.gameboy.packs.pokemon_red import BLUE_SHA1, RED_SHA1
from longplay.envs.gameboy.roms import find_in_folder


def _rom_for(sha1: str) -> str | None:
    folder = os.environ.get("LONGPLAY_ROMS")
    if not folder or not os.path.isdir(folder):
        return None
    found = find_in_folder(folder, {sha1: ""})
    return str(found) if found else None


ROMS = {"longplay/PokemonRed-v0": _rom_for(RED_SHA1), "longplay/PokemonBlue-v0": _rom_for(BLUE_SHA1)}


@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(ROMS))
def test_intro_reaches_the_bedroom_and_the_env_runs(env_id: str) -> None:
    if ROMS[env_id] is None:
        pytest.skip(f"no ROM for {env_id} in $LONGPLAY_ROMS (the game is not redistributable)")
    env = gym.make(env_id, obs_mode="text+symbolic")
    obs, info = env.reset(seed=0)
    game = env.unwrapped.game
    s = game.state()
    assert s.map_name == "Reds House 2F" and s.mode == Mode.OVERWORLD and info["milestones"] == {}
    assert s.extra["player_name"] in ("RED", "BLUE") and s.party == ()
    assert "Map: Reds House 2F" in obs["text"] and "Squares on screen" in obs["text"]
    start = game.state_hash()
    for button in [Button.DOWN] * 3 + [Button.RIGHT] * 3:
        env.step(button)
    moved = game.state()
    assert (moved.x, moved.y) != (s.x, s.y)
    env.reset(seed=0)
    assert game.state_hash() == start
    env.close()
