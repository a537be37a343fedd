"""The species and move tables: sizes, ranges, type coverage, learnsets, stable early entries."""

from __future__ import annotations

import pytest

from longplay.envs.quest.constants import MAX_LEVEL, MOVE_SLOTS, NUM_TYPES, Type
from longplay.envs.quest.content import MOVE_INDEX, MOVES, SPECIES, STARTER_FORMS, STARTERS
from longplay.envs.quest.party import default_moves, make_mon
from longplay.envs.quest.state import Move, Species

T = Type

# Worlds, saves and replays refer to these by index: they never change.
FIRST_MOVES = (
    Move("Bump", T.NORMAL, 40, 100, 35),
    Move("Scratch Claw", T.NORMAL, 45, 95, 30),
    Move("Cinder", T.FIRE, 40, 100, 25),
    Move("Splash Jet", T.WATER, 40, 100, 25),
    Move("Leaf Flick", T.PLANT, 40, 100, 25),
    Move("Pebble Toss", T.STONE, 50, 90, 20),
)
FIRST_SPECIES = (  # rules 2 gave the first four full learnsets (they had two moves); names and stats stay
    Species("Embercub", (T.FIRE, T.FIRE), 39, 52, 43, 65, 45, 62,
            ((1, 0), (1, 2), (7, 1), (13, 11), (20, 7), (27, 12), (34, 13), (41, 14), (48, 15))),
    Species("Puddlet", (T.WATER, T.WATER), 44, 48, 65, 43, 45, 63,
            ((1, 0), (1, 3), (7, 1), (13, 16), (20, 7), (27, 17), (34, 18), (41, 19), (48, 20))),
    Species("Sproutling", (T.PLANT, T.PLANT), 45, 49, 49, 45, 45, 64,
            ((1, 0), (1, 4), (7, 1), (13, 21), (20, 7), (27, 22), (34, 23), (41, 24), (48, 25))),
    Species("Burrowbit", (T.NORMAL, T.NORMAL), 30, 56, 35, 72, 255, 51,
            ((1, 1), (7, 5), (14, 7), (21, 6), (28, 8), (35, 9), (42, 10))),
)

# A few well-known names from the commercial games: none may appear (a sanity net, not a full list).
FOREIGN_NAMES = {"pikachu", "charmander", "bulbasaur", "squirtle", "eevee", "mewtwo", "onix", "geodude",
                 "tackle", "ember", "water gun", "vine whip", "thunderbolt", "thunder shock", "hyper beam",
                 "quick attack", "razor leaf", "flamethrower", "surf", "earthquake", "psychic", "rock slide",
                 "gust", "bubble", "scratch", "headbutt", "body slam", "ice beam", "strength", "cut", "fly"}


def test_early_entries_never_change() -> None:
    assert MOVES[:len(FIRST_MOVES)] == FIRST_MOVES
    assert SPECIES[:len(FIRST_SPECIES)] == FIRST_SPECIES


def test_table_sizes_and_unique_original_names() -> None:
    assert len(SPECIES) >= 48 and len(MOVES) >= 64
    names = [s.name for s in SPECIES] + [m.name for m in MOVES]
    assert len(set(names)) == len(names)
    assert not {n.lower() for n in names} & FOREIGN_NAMES
    assert MOVE_INDEX == {m.name: i for i, m in enumerate(MOVES)}


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.name)
def test_move_ranges(move: Move) -> None:
    assert 30 <= move.power <= 120
    assert 70 <= move.accuracy <= 100
    assert 5 <= move.pp <= 35
    assert 0 <= move.type < NUM_TYPES


def test_every_type_has_weak_medium_and_strong_moves() -> None:
    for t in Type:
        powers = [m.power for m in MOVES if m.type == t]
        assert min(powers) <= 55, t.name
        assert any(55 < p < 90 for p in powers), t.name
        assert max(powers) >= 95, t.name


def _total(s: Species) -> int:
    return s.base_hp + s.base_attack + s.base_defense + s.base_speed


@pytest.mark.parametrize("species", SPECIES, ids=lambda s: s.name)
def test_species_ranges_and_learnset(species: Species) -> None:
    assert all(0 <= t < NUM_TYPES for t in species.types)
    assert all(20 <= stat <= 130 for stat in (species.base_hp, species.base_attack, species.base_defense,
                                              species.base_speed))
    assert 3 <= species.catch_rate <= 255
    assert 40 <= species.base_exp <= 250
    levels = [level for level, _ in species.learnset]
    assert levels == sorted(levels) and levels[0] == 1
    assert all(0 <= move < len(MOVES) for _, move in species.learnset)
    # A new move every few levels up to about 50, mostly of its own types (plus Normal).
    assert all(b - a <= 10 for a, b in zip(levels, levels[1:], strict=False))
    assert 40 <= levels[-1] <= 56
    own = {*species.types, T.NORMAL}
    assert sum(MOVES[m].type in own for _, m in species.learnset) >= 0.75 * len(species.learnset)


def test_types_are_spread_with_duals_and_every_type_has_weak_and_strong_species() -> None:
    assert sum(s.types[0] != s.types[1] for s in SPECIES) >= 12
    for t in Type:
        of_type = [s for s in SPECIES if t in s.types]
        assert len(of_type) >= 3, t.name
        assert min(map(_total, of_type)) < 240, t.name  # met early
        assert max(map(_total, of_type)) >= 330, t.name  # strong enough for late leaders


def test_starters() -> None:
    assert STARTERS == (0, 1, 2)
    assert all(SPECIES[s].catch_rate == 45 for s in STARTERS)
    for line in STARTER_FORMS:
        assert line[0] in STARTERS
        totals = [_total(SPECIES[s]) for s in line]
        assert totals == sorted(totals) and len(set(SPECIES[s].types[0] for s in line)) == 1


@pytest.mark.parametrize("level", [1, 5, 20, 45, 60, MAX_LEVEL])
def test_every_species_makes_a_creature(level: int) -> None:
    for index in range(len(SPECIES)):
        mon = make_mon(index, level)
        assert len(mon.moves) == MOVE_SLOTS and mon.moves[0] >= 0
        assert mon.moves == default_moves(index, level)
        assert mon.hp == mon.max_hp > 0
