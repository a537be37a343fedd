"""The quest game's Game-protocol glue: its milestone catalog, the world a reset seed picks, and the badges and
abilities its state summary and vector report."""

from __future__ import annotations

from longplay.envs.quest.constants import Ability
from longplay.envs.quest.game import VECTOR_FIELDS, QuestGame
from longplay.envs.quest.worldgen import build_world


def _vector_entry(game: QuestGame, name: str) -> float:
    return float(game.symbolic()["vector"][VECTOR_FIELDS.index(name)])


def test_catalog_is_the_worlds_milestones_only() -> None:
    """Only milestone events are in the catalog (gifts in houses and the like are events, not milestones)."""
    game = QuestGame(size="small", world_seed=2)
    world = game.world
    assert len(world.events) > world.milestone_count  # the world has non-milestone events to leave out
    assert tuple(m.id for m in game.milestones()) == world.milestone_ids
    assert [m.tier for m in game.milestones()] == [e.tier for e in world.events[:world.milestone_count]]


def test_a_world_per_reset_seed_brings_its_own_catalog() -> None:
    """With world_seed=None each reset seed picks its world, and the catalog follows that world."""
    game = QuestGame(size="mini", world_seed=None)
    for seed in (3, 11):
        game.reset(seed)
        assert game.world is build_world("mini", seed) and game.seed == seed
        assert tuple(m.id for m in game.milestones()) == game.world.milestone_ids
    assert game.world.milestone_ids != build_world("mini", 0).milestone_ids  # the catalog did change


def test_the_reset_seed_reaches_the_episode() -> None:
    """The reset seed seeds the episode (the same seed the same state, another seed another)."""
    game = QuestGame(size="mini")
    hashes = []
    for seed in (1, 1, 2):
        game.reset(seed)
        hashes.append(game.state_hash())
    assert hashes[0] == hashes[1] != hashes[2]


def test_badges_and_abilities_follow_the_badge_events() -> None:
    """state().badges names exactly the badges whose events are set; the vector counts badges and the field
    abilities they unlock (mini has none; in small the chop badge unlocks one)."""
    mini = QuestGame(size="mini")
    mini.reset(0)
    assert mini.state().badges == () and _vector_entry(mini, "badges") == 0
    mini.raw.set_event(mini.world.badge_events[0])
    assert mini.state().badges == mini.world.badge_names
    assert _vector_entry(mini, "badges") == 1 and _vector_entry(mini, "abilities") == 0

    small = QuestGame(size="small", world_seed=0)
    small.reset(0)
    chop_badge = small.world.ability_badge[Ability.CHOP]
    small.raw.set_event(small.world.badge_events[chop_badge])
    assert small.state().badges == (small.world.badge_names[chop_badge],)
    assert _vector_entry(small, "badges") == 1 and _vector_entry(small, "abilities") == 1


def test_milestone_mask_and_finished_read_the_state() -> None:
    """The milestone mask and the vector's milestone count leave other events out; finished() is the state's."""
    game = QuestGame(size="mini")
    game.reset(0)
    world, raw = game.world, game.raw
    other = world.milestone_count  # the first event that is not a milestone
    raw.set_event(other)
    raw.set_event(world.badge_events[0])
    assert game.milestone_mask() == 1 << world.badge_events[0]  # the house the game starts in sets no event
    assert _vector_entry(game, "milestones") == 1
    assert not game.finished()
    raw.finished = True
    assert game.finished()


def test_a_fixed_world_seed_keeps_its_world_across_resets() -> None:
    """With a world_seed, the reset seed seeds the episode only: the world stays the same."""
    game = QuestGame(size="mini", world_seed=4)
    world = game.world
    for seed in (0, 9):
        game.reset(seed)
        assert game.world is world is build_world("mini", 4)
