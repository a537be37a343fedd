"""``LongplayEnv.reset(options={"state": data})``: an episode from a save state, on the built-in game and the
Game Boy test cartridge."""

from __future__ import annotations

import re
import zlib
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.envs.game import Button

MINI = "longplay/QuestMini-v0"


@pytest.fixture(scope="module")
def mini_state(oracle_state) -> tuple[bytes, dict[str, int]]:
    state, reached = oracle_state(steps=140)
    assert len(reached) >= 3
    return state, reached


def test_milestones_the_state_holds_count_at_step_0_and_are_not_paid_again(mini_state) -> None:
    """Loading a state through ``game.load_state`` after a reset paid every milestone it held at the next step."""
    state, reached = mini_state
    env = gym.make(MINI, obs_mode="symbolic")
    obs, info = env.reset(seed=5, options={"state": state})
    assert info["step"] == 0 and info["new_milestones"] == ()
    assert info["milestones"] == dict.fromkeys(reached, 0)
    assert info["progress"] == len(reached) / len(env.unwrapped.catalog)
    assert env.unwrapped.game.save_state() == state
    paid = []
    for action in np.random.default_rng(0).integers(0, 8, 300).tolist():
        _, reward, terminated, truncated, info = env.step(action)
        if reward:
            paid.append((reward, info["new_milestones"]))
        assert not set(info["new_milestones"]) & set(reached)
        if terminated or truncated:
            break
    assert all(reward == len(new) for reward, new in paid)  # only milestones the state did not hold


def test_same_seed_and_state_same_episode(mini_state) -> None:
    state, _ = mini_state
    runs = []
    for _ in range(2):
        env = gym.make(MINI, obs_mode="symbolic+text")
        obs, info = env.reset(seed=3, options={"state": state})
        trace = [obs["text"], info]
        for action in np.random.default_rng(1).integers(0, 8, 200).tolist():
            obs, reward, terminated, truncated, info = env.step(action)
            trace.append((obs["text"], obs["symbolic"]["vector"].tolist(), reward, terminated, truncated, info))
        runs.append((trace, env.unwrapped.game.state_hash()))
    assert runs[0] == runs[1]


def test_a_plain_reset_after_a_start_state_is_the_plain_start(mini_state) -> None:
    state, _ = mini_state
    env = gym.make(MINI, obs_mode="symbolic")
    env.reset(seed=2)
    fresh = env.unwrapped.game.state_hash()
    env.reset(seed=2, options={"state": state})
    _, info = env.reset(seed=2)
    assert env.unwrapped.game.state_hash() == fresh and info["milestones"] == {}
    for options in ({}, {"state": None}):  # what vector envs and check_env pass: no start state
        _, info = env.reset(seed=2, options=options)
        assert env.unwrapped.game.state_hash() == fresh and info["milestones"] == {}


@pytest.mark.parametrize(("options", "message"), [
    ({"stat": b""}, "unknown reset option 'stat'; valid: state"),
    ({"state": b"", "world": 1, "x": 2}, "unknown reset options 'world', 'x'; valid: state"),
    ("state", "reset options must be a dict, not str; valid keys: state"),
    ({"state": "runs/a.state"}, "reset option 'state' must be bytes from game.save_state(), not str"),
])
def test_bad_options_are_refused_in_one_line_before_anything_changes(mini_state, options, message) -> None:
    env = gym.make(MINI, obs_mode="symbolic")
    env.reset(seed=0)
    env.step(1)
    before = env.unwrapped.game.save_state()
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        env.reset(seed=0, options=options)
    assert env.unwrapped.game.save_state() == before
    env.step(1)  # the episode goes on


@pytest.mark.parametrize(("corrupt", "message"), [
    (lambda s: b"junk", "not a quest save state"),
    (lambda s: s[:-6], "corrupt quest save state"),
    (lambda s: s[:4] + b"\x09" + s[5:], "unsupported quest save state version 9"),
    # hostile files: JSON nested past Python's recursion limit raised RecursionError (a traceback, and the run
    # left an empty replay); a file of a few KB inflated to whatever it held (300 KB to 300 MB) before the JSON
    # parser looked at it
    (lambda s: s[:5] + zlib.compress(b"[" * 100_000 + b"]" * 100_000), "corrupt quest save state (nested too deep)"),
    (lambda s: s[:5] + zlib.compress(b" " * 4_000_000, 9), "corrupt quest save state (its document inflates past"),
])
def test_a_state_the_game_refuses_is_one_line_and_the_env_stays_usable(mini_state, corrupt, message) -> None:
    state, _ = mini_state
    env = gym.make(MINI, obs_mode="symbolic")
    with pytest.raises(ValueError, match=f"^cannot start from this state: {re.escape(message)}") as caught:
        env.reset(seed=0, options={"state": corrupt(state)})
    assert "\n" not in str(caught.value)
    with pytest.raises(ResetNeeded, match="reset again"):  # not a plain start nobody asked for
        env.step(0)
    _, info = env.reset(seed=0, options={"state": state})
    assert info["milestones"] and env.step(0)[4]["step"] == 1


def test_another_worlds_state_on_a_fixed_world_names_the_world_seed_to_use(oracle_state) -> None:
    other, _ = oracle_state(steps=40, world_seed=4)
    env = gym.make(MINI, obs_mode="symbolic")
    with pytest.raises(ValueError, match=r"another world \['mini', 4, .*world_seed=4, or world_seed=None"):
        env.reset(seed=0, options={"state": other})
    canon = gym.make("longplay/QuestCanon-v0", obs_mode="symbolic")
    with pytest.raises(ValueError, match="another world"):
        canon.reset(seed=0, options={"state": other})


def test_a_world_per_reset_seed_takes_the_world_of_the_state(oracle_state) -> None:
    """longplay/Quest-v0 draws a world from each reset seed; a start state brings its own world (and catalog)."""
    state, reached = oracle_state("longplay/Quest-v0", steps=120, seed=7)
    env = gym.make("longplay/Quest-v0", obs_mode="symbolic")
    _, info = env.reset(seed=3, options={"state": state})
    game = env.unwrapped.game
    assert game.identity()["world_seed"] == 7 and game.save_state() == state
    assert env.unwrapped.catalog is game.milestones() and info["milestones"] == dict.fromkeys(reached, 0)
    env.reset(seed=3)
    assert game.identity()["world_seed"] == 3
    mini, _ = oracle_state(steps=10)
    with pytest.raises(ValueError, match=r"another world \['mini'"):  # a world of another size
        env.reset(seed=3, options={"state": mini})


def test_the_game_boy_test_cartridge_starts_from_a_state(oracle_state) -> None:
    pytest.importorskip("pyboy")
    U, D, L, R = Button.UP, Button.DOWN, Button.LEFT, Button.RIGHT
    to_key = [R] * 3 + [D] * 5 + [R] * 11 + [U] * 4 + [L]  # tests/envs/gameboy/test_env.py's TO_KEY
    to_door = [Button.A, R] + [D] * 6 + [L] * 4
    env = gym.make("longplay/TestCart-v0", obs_mode="symbolic")
    env.reset(seed=0)
    for b in to_key:
        _, _, _, _, info = env.step(int(b))
    assert "got_key" in info["milestones"]
    state = env.unwrapped.game.save_state()
    env.close()

    env = gym.make("longplay/TestCart-v0", obs_mode="symbolic")
    _, info = env.reset(seed=1, options={"state": state})
    assert info["milestones"] == {"got_key": 0}
    rewards = [env.step(int(b))[1] for b in to_door]
    assert sum(rewards) == 1.0 and env.unwrapped._reached == {"got_key": 0, "opened_door": len(to_door)}
    quest, _ = oracle_state(steps=5)
    with pytest.raises(ValueError, match="^cannot start from this state: PyBoy could not load the state") as caught:
        env.reset(seed=0, options={"state": quest})
    # PyBoy's own reason for a quest state is "Cannot load state from a newer version of PyBoy": the message says
    # what the bytes are not
    assert "lack longplay's Game Boy header" in str(caught.value) and "\n" not in str(caught.value)
    _, info = env.reset(seed=0)
    assert info["milestones"] == {} and env.step(0)[4]["step"] == 1
    env.close()


@pytest.mark.parametrize("env_id", [MINI, "longplay/Quest-v0", "longplay/TestCart-v0"])
def test_a_state_the_game_refuses_mid_episode_loses_nothing(env_id: str) -> None:
    """A refused start state ended the episode that was playing: the game was reset before the state failed, and
    the env refused steps until a reset. The episode goes on now as if the reset had not been asked for (on
    Quest-v0 the reset seed's world too, and on the Game Boy the emulator PyBoy put back at its start)."""
    if env_id.endswith("TestCart-v0"):
        pytest.importorskip("pyboy")
    actions = np.random.default_rng(5).integers(0, 8, 60).tolist()
    envs = [gym.make(env_id, obs_mode="symbolic+text") for _ in range(2)]
    for env in envs:
        env.reset(seed=4)
        for action in actions[:30]:
            env.step(action)
    refused, plain = envs
    game = refused.unwrapped.game
    before = (game.save_state(), game.identity(), refused.unwrapped.catalog, refused.np_random.random())
    plain.np_random.random()
    for bad in (b"junk", plain.unwrapped.game.save_state()[:-6]):
        with pytest.raises(ValueError, match="^cannot start from this state: "):
            refused.reset(seed=9, options={"state": bad})
        with pytest.raises(ValueError, match="^cannot start from this state: "):
            refused.reset(options={"state": bad})  # a seed drawn from np_random: put back too
    assert (game.save_state(), game.identity(), refused.unwrapped.catalog) == before[:3]
    for action in actions[30:]:
        got, want = refused.step(action), plain.step(action)
        assert got[0]["text"] == want[0]["text"] and got[1:] == want[1:]
    assert refused.np_random.random() == plain.np_random.random()
    assert refused.unwrapped.reset_state is None
    for env in envs:
        env.close()


def _played_game(name: str) -> Any:
    """A game of each :class:`~longplay.envs.game.Game` implementation, a few presses into its episode."""
    if name == "testcart":
        pytest.importorskip("pyboy")
        from longplay.envs.gameboy.core import GameBoyGame

        game = GameBoyGame(pack="testcart")
    elif name == "toy":
        from longplay.agents.rl.toy import ToyGame

        game = ToyGame()
    else:
        from longplay.envs.quest.game import QuestGame

        game = QuestGame(world_seed=None if name == "quest, a world per seed" else 0)
    game.reset(4)
    for button in (Button.RIGHT, Button.DOWN, Button.DOWN, Button.RIGHT):
        game.press(button)
    return game


def _bad_states(good: bytes, other_game: bytes) -> dict[str, bytes]:
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0xFF
    return {"junk": b"junk", "empty": b"", "truncated": good[:-6], "half": good[: len(good) // 2],
            "a flipped byte": bytes(flipped), "trailing bytes": good + b"end", "another game's": other_game}


@pytest.mark.parametrize("name", ["quest", "quest, a world per seed", "testcart", "toy"])
def test_every_game_refuses_a_bad_state_without_changing(name: str) -> None:
    """``LongplayEnv.reset`` loads a start state without saving the game first: a refusal must leave the game as it
    was. The Game Boy put PyBoy back at its start state after a raw state PyBoy refused."""
    from longplay.envs.game import GameError

    game = _played_game(name)
    other = _played_game("toy" if name != "toy" else "quest")
    before, before_hash = game.save_state(), game.state_hash()
    refused = []
    for what, bad in _bad_states(before, other.save_state()).items():
        try:
            game.load_state(bad)
        except GameError as exc:
            assert "\n" not in str(exc)
            refused.append(what)
        else:
            game.load_state(before)  # a game may read past what it does not need: not a refusal to check
        assert (game.state_hash(), game.save_state()) == (before_hash, before), what
    assert {"junk", "empty", "truncated", "another game's"} <= set(refused)
    for g in (game, other):
        getattr(g, "close", lambda: None)()


@pytest.mark.parametrize("env_id", [MINI, "longplay/TestCart-v0"])
def test_a_reset_from_a_state_saves_no_game(env_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The env saved the game before every start-from-state reset, so that a refusal could put it back: a PyBoy save
    (~10 ms) on every such reset of a Game Boy env. The game refuses bad data untouched now, and saves nothing."""
    if env_id.endswith("TestCart-v0"):
        pytest.importorskip("pyboy")
    env = gym.make(env_id, obs_mode="symbolic").unwrapped
    env.reset(seed=0)
    env.step(3)
    state = env.game.save_state()
    env.step(3)
    game = env.game
    saves: list[str] = []

    def counting(method: str) -> Any:
        saved = getattr(game, method)

        def counted() -> bytes:
            saves.append(method)
            return saved()
        return counted

    for method in ("save_state", "save_emulator_state"):
        if hasattr(game, method):
            monkeypatch.setattr(game, method, counting(method))
    env.reset(seed=1, options={"state": state})
    with pytest.raises(ValueError, match="^cannot start from this state: "):
        env.reset(seed=1, options={"state": state[:-6]})
    assert saves == []
    monkeypatch.undo()
    assert game.save_state() == state
    env.close()
