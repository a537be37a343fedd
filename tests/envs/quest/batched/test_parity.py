"""Parity of the batched engine with the reference engine (the specification), in lockstep.

Every test runs both engines from the same seeds or the same loaded states, presses the same buttons, and
after every step compares every env's full state document (what ``savestate.state_hash`` hashes: equal
documents are equal hashes), reward, termination and truncation; some also compare the symbolic
observation. A mismatch fails with the first differing field, env and step
(:class:`~longplay.envs.quest.batched.parity.ParityError`).

Action sources: fuzzed presses from fresh episodes and from random mid-game states (every map, party,
bag, badge and gate combination; battles in progress), and the oracle's games cut into pieces that are
replayed side by side (a whole game checked in one piece's length).

The fast tests total about 60,000 env-steps (400 lockstep steps of up to 256 envs) over mini, small and
standard worlds; ``-m slow`` runs about 1,000,000 more.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longplay.envs.quest import engine as ref_engine
from longplay.envs.quest import rng as ref_rng
from longplay.envs.quest import savestate, worldgen
from longplay.envs.quest.batched import rng
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.batched.parity import (
    Lockstep,
    ParityError,
    fuzz_actions,
    message_coverage,
    oracle_chunks,
    replay_pieces,
    replay_scripts,
    scenario_states,
    targeted_states,
)

SIZES = ("mini", "small", "standard")



@pytest.fixture(scope="module")
def worlds() -> dict[str, object]:
    return {size: worldgen.build_world(size, 0) for size in SIZES}


def test_rng_matches_reference() -> None:
    gen = np.random.default_rng(0)
    seeds = [0, 1, 2**31 - 1, 2**32 + 5, 2**62 + 12345, *gen.integers(0, 2**62, 50).tolist()]
    keys = rng.episode_keys(torch.tensor(seeds, dtype=torch.int64)).tolist()
    assert keys == [ref_rng.episode_key(s) for s in seeds]
    ticks = gen.integers(0, 2**31, len(seeds)).tolist()
    draws = rng.draw_all(torch.tensor(keys), torch.tensor(ticks)).tolist()
    for key, tick, row in zip(keys, ticks, draws, strict=True):
        assert row == [ref_rng.rand(key, tick, slot) for slot in range(rng.USED_SLOTS)]


@pytest.mark.parametrize("size", SIZES)
def test_reset_matches_reference(size: str, worlds) -> None:
    b = BatchedQuest(6, worlds=[worlds[size]])
    b.reset(seed=41)
    for i, doc in enumerate(b.documents()):
        ref = ref_engine.new_state(worlds[size], 41 + i)
        assert savestate.encode_document(doc) == savestate.encode_document(savestate.state_document(ref))
        assert savestate.state_hash(b.state_of(i)) == savestate.state_hash(ref)


@pytest.mark.parametrize("battle_pass", [None, 24])
def test_fuzz_from_new_games_mini(battle_pass: int | None, worlds) -> None:
    """Fresh mini games, fuzzed, auto-resetting every 40 presses; the observation is checked too (with
    battle passes, the envs that end are reset row by row)."""
    b = BatchedQuest(192, worlds=[worlds["mini"]], max_episode_steps=40, battle_pass=battle_pass)
    lock = Lockstep(b, check_obs_every=7, hash_every=10)
    lock.reset(seed=1000)
    gen = np.random.default_rng(1)
    for _ in range(60):
        lock.step(fuzz_actions(gen, b.num_envs))
    assert lock.env_steps == 192 * 60


@pytest.mark.parametrize("size,envs,steps,battle_pass", [
    ("mini", 256, 50, None), ("small", 256, 50, None), ("standard", 256, 50, None),
    ("mini", 256, 50, 24), ("standard", 256, 50, 24)])
def test_fuzz_from_mid_game_states(size: str, envs: int, steps: int, battle_pass: int | None, worlds) -> None:
    """Random mid-game states of every size (battles in progress, menus open, full boxes, gates), fuzzed;
    with ``battle_pass``, the battle rules run on the envs in a battle only (one pass, rounded up to a multiple
    of 24 envs)."""
    b = BatchedQuest(envs, worlds=[worlds[size]], battle_pass=battle_pass)
    lock = Lockstep(b, check_obs_every=10, hash_every=10)
    lock.reset(seed=7)
    lock.load(list(range(envs)), scenario_states(worlds[size], envs, seed={"mini": 1, "small": 2, "standard": 3}[size]))
    gen = np.random.default_rng(2)
    for _ in range(steps):
        lock.step(fuzz_actions(gen, envs, a_bias=0.35))
    assert lock.peaks["messages"] <= b.state.messages.shape[1]


@pytest.mark.parametrize("battle_pass", [None, 16])
def test_oracle_games_mini(battle_pass: int | None, worlds) -> None:
    """Whole mini games played by the oracle (with a little noise), replayed in 50-press pieces (with and
    without battle passes)."""
    pieces = oracle_chunks(worlds["mini"], seeds=[1, 2, 3], steps=2000, chunk=50, noise=0.03)
    b = BatchedQuest(len(pieces), worlds=[worlds["mini"]], battle_pass=battle_pass)
    b.full_pass_share = 1.0  # always a pass (a third of these envs fight: the default would mostly not)
    lock = Lockstep(b, hash_every=10)
    lock.reset(seed=0)
    replay_pieces(lock, pieces)
    assert any(p[0].finished or p[0].party for p in pieces)


@pytest.mark.parametrize("size", ["small", "standard"])
def test_oracle_openings(size: str, worlds) -> None:
    """The first presses of the oracle's games of the larger worlds, replayed in pieces."""
    pieces = oracle_chunks(worlds[size], seeds=[0], steps=1500, chunk=50, noise=0.02)
    b = BatchedQuest(len(pieces), worlds=[worlds[size]])
    lock = Lockstep(b, hash_every=10)
    lock.reset(seed=0)
    replay_pieces(lock, pieces)


@pytest.mark.parametrize("battle_pass,share", [(None, None), (8, 1.0), (8, 0.0)])
def test_every_rule_is_reached(battle_pass: int | None, share: float | None, worlds) -> None:
    """Hand-set situations with press scripts (catching into party, box and past a full box, running,
    struggling, items, levelling into new moves, the whiteout, badges and abilities, the final win, trees,
    boulders, water, bag and shop, and the edges of rules: a catch draw equal to the chance, experience that
    reaches a level exactly, a move learned over tied weakest ones, a ledge from the side or below, Ward
    Spray's last safe tile, a tonic on a fainted member, a foe out of PP, prize money at the cap, a battle met
    with a fainted first member, the battle bag's cursor on its one item) on mini and standard worlds: every
    message template the reference engine can queue is queued, in both engines alike (also with the battle
    rules run in a pass rounded to 8 envs, where a creature caught into the box is written outside the pass,
    and with battle passes on but the rules run over every env, ``full_pass_share`` 0)."""

    seen: set[str] = set()
    for size in ("mini", "standard"):
        scripts = targeted_states(worlds[size], seed=5)
        b = BatchedQuest(len(scripts), worlds=[worlds[size]], battle_pass=battle_pass)
        if share is not None:
            b.full_pass_share = share
        lock = Lockstep(b, hash_every=5)
        lock.reset(seed=0)
        replay_scripts(lock, scripts)
        seen |= lock.seen
    reached, possible = message_coverage(seen)
    missing = sorted(possible - reached)
    assert not missing


@pytest.mark.parametrize("battle_pass", [None, 8])
def test_world_pool_parity(battle_pass: int | None) -> None:
    """Each env plays its own world of a pool (different sizes of tables padded together), with episodes
    ending and reset in their own worlds."""
    pool = [worldgen.build_world("mini", s) for s in (3, 4)] + [worldgen.build_world("small", 5)]
    b = BatchedQuest(64, worlds=pool, max_episode_steps=30, battle_pass=battle_pass)
    lock = Lockstep(b, hash_every=5)
    lock.reset(seed=3)
    states = [scenario_states(b.world_of_env(i), 1, seed=i)[0] for i in range(32)]
    lock.load(list(range(32)), states)
    gen = np.random.default_rng(3)
    for _ in range(40):
        lock.step(fuzz_actions(gen, b.num_envs, a_bias=0.35))


def test_mismatch_names_field_and_step(worlds) -> None:
    b = BatchedQuest(4, worlds=[worlds["mini"]])
    lock = Lockstep(b)
    lock.reset(seed=0)
    lock.step(np.array([1, 1, 1, 1]))
    b.state.money[2] += 1  # corrupt one env
    with pytest.raises(ParityError, match=r"env 2 differs at step 1: state\.money: batched 3001 != reference 3000"):
        lock.compare(None)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_slow_long_fuzz(size: str, worlds) -> None:
    b = BatchedQuest(256, worlds=[worlds[size]], max_episode_steps=400)
    lock = Lockstep(b, check_obs_every=25)
    lock.reset(seed=99)
    lock.load(list(range(128)), scenario_states(worlds[size], 128, seed=99))
    gen = np.random.default_rng(99)
    for _ in range(1000):
        lock.step(fuzz_actions(gen, b.num_envs, a_bias=0.3))


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_slow_oracle_games(size: str, worlds) -> None:
    steps = {"mini": 5000, "small": 20000, "standard": 20000}[size]
    pieces = oracle_chunks(worlds[size], seeds=[0, 1], steps=steps, chunk=200, noise=0.02)
    b = BatchedQuest(len(pieces), worlds=[worlds[size]])
    lock = Lockstep(b)
    lock.reset(seed=0)
    replay_pieces(lock, pieces)


@pytest.mark.slow
@pytest.mark.parametrize("battle_pass", [None, 16])
def test_slow_canonical_world(battle_pass: int | None) -> None:
    world = worldgen.canonical_world()
    b = BatchedQuest(128, worlds=[world], battle_pass=battle_pass)
    b.full_pass_share = 1.0  # always a pass
    lock = Lockstep(b, check_obs_every=20)
    lock.reset(seed=5)
    lock.load(list(range(128)), scenario_states(world, 128, seed=5))
    gen = np.random.default_rng(5)
    for _ in range(400):
        lock.step(fuzz_actions(gen, b.num_envs, a_bias=0.35))
