"""Tests that loop over every registered env id (Minigrid style): check_env, determinism, render modes,
pickling, observation modes and clear errors."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import longplay.envs
from longplay.envs.env import parse_obs_mode
from longplay.envs.quest.game import QuestEnv, QuestGame

ENV_IDS = longplay.envs.env_ids()
QUEST_IDS = [i for i in ENV_IDS if "/Quest" in i]


def _make(env_id: str, **kwargs):
    try:
        return gym.make(env_id, **kwargs)
    except longplay.envs.GameError as exc:  # e.g. a Game Boy ROM the user does not have
        pytest.skip(str(exc))
    except ImportError as exc:
        pytest.skip(f"optional dependency missing: {exc}")


def test_registry_has_the_quest_ids() -> None:
    for env_id in ("longplay/QuestMini-v0", "longplay/QuestCanon-v0", "longplay/Quest-v0"):
        assert env_id in ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels", "text", "pixels+symbolic+text"])
def test_check_env(env_id: str, obs_mode: str) -> None:
    env = _make(env_id, obs_mode=obs_mode)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def _obs_equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_obs_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_run(env_id: str) -> None:
    runs = []
    for _ in range(2):
        env = _make(env_id, obs_mode="symbolic+text")
        obs, _ = env.reset(seed=7)
        actions = np.random.default_rng(3).integers(0, 8, 300)
        trace = [obs]
        for a in actions:
            obs, reward, terminated, truncated, info = env.step(int(a))
            trace.append((obs, reward, terminated, truncated, info["milestones"]))
            if terminated or truncated:
                break
        runs.append((trace, env.unwrapped.game.state_hash()))
        env.close()
    assert runs[0][1] == runs[1][1]
    assert all(_obs_equal(x[0] if isinstance(x, tuple) else x, y[0] if isinstance(y, tuple) else y)
               for x, y in zip(runs[0][0], runs[1][0], strict=True))


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("render_mode", ["rgb_array", "ansi"])
def test_render_modes(env_id: str, render_mode: str) -> None:
    env = _make(env_id, render_mode=render_mode)
    env.reset(seed=0)
    out = env.render()
    if render_mode == "rgb_array":
        assert out.shape == (144, 160, 3) and out.dtype == np.uint8
    else:
        assert isinstance(out, str) and out
    env.close()


@pytest.mark.parametrize("env_id", ["longplay/QuestMini-v0", "longplay/TestCart-v0"])
def test_a_closed_env_refuses_to_play_on_for_every_backend(env_id: str) -> None:
    """After close() the Game Boy env's step, reset and render raised PyBoy's AttributeError ('NoneType' object has
    no attribute 'button_press'), while the quest env played on: both now raise gymnasium's ClosedEnvironmentError,
    and close() may be called again."""
    env = _make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.close()
    env.close()
    for call in (lambda: env.step(0), lambda: env.reset(seed=0), env.render):
        with pytest.raises(gym.error.ClosedEnvironmentError, match="is closed .*make a new env"):
            call()


@pytest.mark.parametrize("env_id", ["longplay/QuestMini-v0", "longplay/TestCart-v0"])
def test_a_seed_past_int64_is_refused_and_changes_nothing(env_id: str) -> None:
    """gymnasium takes any int >= 0, but quest read 2**64 as 0 (the same episode for both seeds) and a recorder
    died at its next commit (OverflowError: Python int too large to convert to SQLite INTEGER)."""
    env = _make(env_id)
    env.reset(seed=2**63 - 1)
    env.step(1)
    before = env.unwrapped.game.save_state()
    for seed in (2**63, 2**64):
        with pytest.raises(ValueError, match=f"^invalid seed {seed}; use an int in 0..2\\*\\*63-1 or None$"):
            env.reset(seed=seed)
    assert env.unwrapped.game.save_state() == before
    env.step(1)  # the episode under way goes on
    env.close()


@pytest.mark.parametrize("env_id", QUEST_IDS)
def test_pickling_round_trip(env_id: str) -> None:
    env = _make(env_id)
    env.reset(seed=1)
    for a in (1, 1, 3, 3, 4):
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.unwrapped.game.state_hash() == env.unwrapped.game.state_hash()
    a = env.step(0)
    b = clone.step(0)
    assert _obs_equal(a[0], b[0]) and a[1:4] == b[1:4]


def test_pixel_options() -> None:
    env = gym.make("longplay/QuestMini-v0", obs_mode="pixels", grayscale=True, downsample=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (72, 80, 1) and env.observation_space.contains(obs)


def test_noop_action() -> None:
    env = gym.make("longplay/QuestMini-v0", noop=True)
    env.reset(seed=0)
    before = env.unwrapped.game.state()
    env.step(8)
    after = env.unwrapped.game.state()
    assert env.action_space.n == 9 and (before.x, before.y, before.facing) == (after.x, after.y, after.facing)


@pytest.mark.parametrize("kwargs", [{"max_steps": 5}, {"max_episode_steps": 5}])
def test_truncation(kwargs: dict) -> None:
    env = gym.make("longplay/QuestMini-v0", **kwargs)
    env.reset(seed=0)
    ends = [env.step(1)[2:4] for _ in range(5)]
    assert ends == [(False, False)] * 4 + [(False, True)]  # a time limit truncates; it never terminates


def test_max_episode_steps_is_an_alias_of_max_steps_when_the_env_is_built_directly() -> None:
    env = QuestEnv(size="mini", max_episode_steps=3)
    env.reset(seed=0)
    assert env.max_episode_steps == 3
    assert [env.step(1)[2:4] for _ in range(3)] == [(False, False)] * 2 + [(False, True)]


def test_truncation_can_be_turned_off() -> None:
    env = gym.make("longplay/QuestMini-v0", max_steps=None)
    assert env.unwrapped.max_episode_steps is None
    assert gym.make("longplay/QuestMini-v0").unwrapped.max_episode_steps == 20_000


def test_each_quest_size_has_the_step_limit_its_docs_give() -> None:
    # the QuestEnv docstring's 20,000 / 200,000 / 1,000,000: a size given without max_steps gets its own
    assert {size: QuestEnv(size=size).max_episode_steps for size in ("mini", "small")} == {
        "mini": 20_000, "small": 200_000}
    assert gym.make("longplay/Quest-v0").unwrapped.max_episode_steps == 200_000
    assert gym.make("longplay/QuestCanon-v0").unwrapped.max_episode_steps == 1_000_000


def test_the_symbolic_space_holds_every_tile_and_sprite_of_a_world() -> None:
    # check_env sees the first observation only: a sprite or tile kind that shows up later must be in the bounds too
    from longplay.envs.quest.constants import NUM_SPRITES, NUM_TILES, Sprite, Tile

    space = QuestEnv(size="small").observation_space
    assert space["tiles"].contains(np.full(space["tiles"].shape, max(Tile), np.uint8))
    assert space["entities"].contains(np.full(space["entities"].shape, max(Sprite), np.uint8))
    assert int(space["tiles"].high.max()) == NUM_TILES - 1 and int(space["entities"].high.max()) == NUM_SPRITES - 1


@pytest.mark.parametrize("kwargs, fragment", [
    ({"size": "huge"}, "valid sizes: mini, small, standard"),
    ({"obs_mode": "smell"}, "valid modes: pixels, symbolic, text"),
    ({"world": "mars"}, "valid worlds: procedural, canonical"),
    ({"render_mode": "vr"}, "valid: rgb_array, human, ansi"),
    ({"downsample": 7}, "invalid downsample"),
    ({"downsample": 3}, "invalid downsample 3; valid: 1, 2, 4, 8, 16"),  # divides the height 144, not the width 160
    ({"max_steps": "abc"}, "invalid max_steps 'abc'"),
    ({"max_steps": 0}, "invalid max_steps 0"),
    # strings that read as "no" switched the flag on (``--set grayscale=off``: any string is true)
    ({"grayscale": "off"}, "invalid grayscale 'off'; valid: True, False"),
    ({"noop": "no"}, "invalid noop 'no'; valid: True, False"),
    ({"noop": 2}, "invalid noop 2"),
    ({"world_seed": True}, "invalid world_seed True"),
])
def test_bad_kwargs_give_clear_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        gym.make("longplay/QuestMini-v0", **kwargs)


@pytest.mark.parametrize("env_id", ["longplay/QuestMini-v0", "longplay/TestCart-v0"])
def test_an_unknown_render_mode_is_refused_before_gymnasium_warns(env_id: str,
                                                                  recwarn: pytest.WarningsRecorder) -> None:
    """``--set render_mode=x`` printed gymnasium's coloured UserWarning ('The environment is being initialised with
    render_mode='x' ...') above longplay's one-line error: check_options, which the CLI runs before
    ``gymnasium.make``, refuses it first."""
    from longplay.envs.registration import check_options

    with pytest.raises(ValueError) as info:
        check_options(env_id, {"render_mode": "x"})
    assert str(info.value) == "invalid render_mode 'x'; valid: rgb_array, human, ansi"
    for mode in ("rgb_array", "ansi", "human", "rgb_array_list", None):  # gymnasium collects MODE_list frames
        check_options(env_id, {"render_mode": mode})
    assert not recwarn.list


@pytest.mark.parametrize("kwargs, fragment", [
    ({"size": "mini"}, "world='canonical' is the fixed standard world; size='mini' cannot go with it"),
    ({"world_seed": 3}, "world='canonical' is one fixed world; world_seed=3 cannot go with it"),
    ({"world_seed": None}, "world_seed=None cannot go with it"),
])
def test_canonical_world_refuses_options_it_would_ignore(kwargs: dict, fragment: str) -> None:
    # they were silently ignored: the run played the standard canonical world whatever size or seed it named
    with pytest.raises(ValueError, match=fragment):
        gym.make("longplay/QuestCanon-v0", **kwargs)
    with pytest.raises(ValueError, match=fragment):
        QuestGame(world="canonical", **kwargs)


def test_canonical_world_takes_its_own_size_and_defaults() -> None:
    assert QuestGame(world="canonical").size == "standard"
    assert QuestGame(world="canonical", size="standard", world_seed=0).size == "standard"
    assert QuestGame().size == "mini"
    assert gym.make("longplay/QuestCanon-v0").unwrapped.game.size == "standard"


def test_parse_obs_mode() -> None:
    assert parse_obs_mode("pixels+text") == ("pixels", "text")
    with pytest.raises(ValueError):
        parse_obs_mode("pixels+pixels")
    # --set obs_mode=5 or =null: "'int' object is not iterable" from gymnasium.make, quoting every kwarg
    for odd in (5, None, {"pixels": 1}):
        with pytest.raises(ValueError, match=f"^invalid observation mode {odd!r}; valid modes: pixels, symbolic, text"):
            parse_obs_mode(odd)


@pytest.mark.parametrize("action", [3.7, True, "a", 8, -1, float("inf"), np.array(True), np.float32("nan")])
def test_an_action_that_names_no_button_is_refused(action) -> None:
    """inf raised OverflowError from int(); ``np.array(True)`` pressed button 1 where ``True`` was refused."""
    env = gym.make("longplay/QuestMini-v0")
    env.reset(seed=0)
    before = env.unwrapped.game.save_state()
    with pytest.raises(ValueError, match="invalid action"):
        env.step(action)
    assert env.unwrapped.game.save_state() == before  # 3.7 pressed right (3) before
    for fine in (3, np.int64(2), np.array(1), 3.0):
        env.step(fine)
    env.close()


def test_check_options_leaves_an_unknown_id_to_gymnasium() -> None:
    """It raised a KeyError traceback on an id that is not registered; gymnasium.make names it instead."""
    from longplay.envs.registration import check_options

    check_options("longplay/NoSuchEnv-v0", {"size": "mini"})
    with pytest.raises(gym.error.Error, match="NoSuchEnv"):
        gym.make("longplay/NoSuchEnv-v0")


def test_a_numpy_world_seed_is_taken_as_the_int_it_is() -> None:
    """``QuestGame(world_seed=np.int64(3))`` (a seed from a numpy grid or ``rng.integers``) was refused as
    invalid, while the batched engine took it; it is world 3, held as a plain int (the identity a replay
    records is JSON)."""
    import numpy as np

    env = gym.make("longplay/QuestMini-v0", world_seed=np.int64(3))
    plain = gym.make("longplay/QuestMini-v0", world_seed=3)
    try:
        game = env.unwrapped.game
        assert game.world_seed == 3 and type(game.world_seed) is int
        assert game.world.seed == plain.unwrapped.game.world.seed
        assert type(game.identity()["world_seed"]) is int
    finally:
        env.close()
        plain.close()


@pytest.mark.parametrize("env_id", QUEST_IDS)
def test_a_reset_without_a_seed_draws_a_new_game_from_the_seeded_one(env_id: str) -> None:
    """``reset()`` after ``reset(seed=7)`` draws its game's seed from ``np_random``: a new game each time (another
    random key; on longplay/Quest-v0 another world), the same sequence from the same first seed."""
    runs = []
    for _ in range(2):
        env = _make(env_id)
        env.reset(seed=7)
        hashes = [env.unwrapped.game.state_hash()]
        for _ in range(2):
            env.reset()
            hashes.append(env.unwrapped.game.state_hash())
        runs.append(hashes)
        env.close()
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3


def test_each_quest_id_plays_the_world_it_is_registered_for() -> None:
    # results are compared across runs by env id: QuestMini is the one mini world of world seed 0 whatever the
    # reset seed, QuestCanon the canonical standard world, Quest-v0 a small world drawn from each reset seed
    def worlds(env_id: str) -> list[dict]:
        env = gym.make(env_id)
        identities = []
        for seed in (1, 2):
            env.reset(seed=seed)
            identities.append(env.unwrapped.game.identity())
        env.close()
        return identities

    mini = worlds("longplay/QuestMini-v0")
    assert mini[0] == mini[1] and (mini[0]["size"], mini[0]["world_seed"]) == ("mini", 0)
    canon = worlds("longplay/QuestCanon-v0")
    assert canon[0] == canon[1] and (canon[0]["size"], canon[0]["world"]) == ("standard", "canonical")
    drawn = worlds("longplay/Quest-v0")
    assert drawn[0]["size"] == drawn[1]["size"] == "small"
    assert drawn[0]["world_digest"] != drawn[1]["world_digest"]
