"""The world generator: every size builds for many seeds, deterministically, with sound maps, warps,
entities, texts and events, and every world is solvable through its plan with real gates."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from longplay.envs.quest import worldgen
from longplay.envs.quest.constants import (
    DX,
    DY,
    ITEM_IS_KEY,
    TEXT_COLS,
    TEXT_ROWS,
    TILE_ENCOUNTER,
    TILE_WALKABLE,
    TYPE_CHART,
    Ability,
    Direction,
    EntityKind,
    MapKind,
    Tile,
)
from longplay.envs.quest.content import MOVES, SPECIES, STARTER_FORMS, STARTERS
from longplay.envs.quest.state import MapDef, World
from longplay.envs.quest.worldgen import SIZES, build_world, canonical_world, solvability_report, world_digest

SEEDS = range(20)

#: The canonical world, pinned: a change here changes every benchmark on it. Update deliberately (and say so).
CANONICAL_DIGEST = "3f78cfae49b274f52c9e62114b5d86dc4d92c2400c77a614d15a886d28e951a8"


def worlds(sizes: tuple[str, ...] = SIZES) -> Iterator[World]:
    for size in sizes:
        for seed in SEEDS:
            yield build_world(size, seed)


def tile_of(world: World, m: int, x: int, y: int) -> int:
    return world.maps[m].tile(x, y)


# ============================================================================================ API


def test_sizes_and_bad_size() -> None:
    assert SIZES == ("mini", "small", "standard")
    with pytest.raises(ValueError, match="unknown world size 'huge'; valid sizes: mini, small, standard"):
        build_world("huge", 0)


def test_cached_deterministic_and_varied() -> None:
    for size in SIZES:
        world = build_world(size, 5)
        assert build_world(size, 5) is world  # cached
        fresh = build_world.__wrapped__(size, 5)  # bypasses the cache: a real rebuild
        assert fresh is not world and world_digest(fresh) == world_digest(world)
        digests = {world_digest(build_world(size, seed)) for seed in SEEDS}
        assert len(digests) == len(SEEDS)


def test_canonical_world_is_pinned() -> None:
    world = canonical_world()
    assert world is canonical_world()
    assert (world.size, world.seed, world.name) == ("standard", 0, "Canon")
    assert dataclasses.replace(world, name=build_world("standard", 0).name) == build_world("standard", 0)
    assert world_digest(world) == CANONICAL_DIGEST, "the canonical world changed: update the pin on purpose"


def test_standard_builds_fast() -> None:
    start = time.process_time()  # CPU time: robust to a busy machine
    build_world.__wrapped__("standard", 12345)
    assert time.process_time() - start < 0.3


# ============================================================================================ structure


@pytest.mark.parametrize("size", SIZES)
def test_maps_are_closed_and_small(size: str) -> None:
    for world in worlds((size,)):
        sources = {(w.map, w.x, w.y) for w in world.warps}
        for m in world.maps:
            assert m.width <= 60 and m.height <= 60 and len(m.tiles) == m.width * m.height
            for x in range(m.width):
                for y in (0, m.height - 1):
                    assert not TILE_WALKABLE[m.tile(x, y)] or (m.index, x, y) in sources, (m.name, x, y)
            for y in range(m.height):
                for x in (0, m.width - 1):
                    assert not TILE_WALKABLE[m.tile(x, y)] or (m.index, x, y) in sources, (m.name, x, y)
            has_encounter_tiles = any(TILE_ENCOUNTER[t] for t in m.tiles)
            assert bool(m.encounters) == has_encounter_tiles == (m.encounter_rate > 0), m.name


@pytest.mark.parametrize("size", SIZES)
def test_warps(size: str) -> None:
    for world in worlds((size,)):
        sources = {(w.map, w.x, w.y) for w in world.warps}
        assert len(sources) == len(world.warps)
        for w in world.warps:
            m = world.maps[w.map]
            tile = m.tile(w.x, w.y)
            on_edge = w.x in (0, m.width - 1) or w.y in (0, m.height - 1)
            assert tile in (Tile.DOOR, Tile.MAT) or (on_edge and TILE_WALKABLE[tile]), (m.name, w)
            assert TILE_WALKABLE[tile_of(world, w.to_map, w.to_x, w.to_y)], w
            assert (w.to_map, w.to_x, w.to_y) not in sources, f"arrival on a warp: {w}"
            # Every warp has its way back, landing next to this one.
            back = [v for v in world.warps if v.map == w.to_map and v.to_map == w.map]
            assert any(abs(v.to_x - w.x) + abs(v.to_y - w.y) == 1 for v in back), w


@pytest.mark.parametrize("size", SIZES)
def test_entities(size: str) -> None:
    for world in worlds((size,)):
        sources = {(w.map, w.x, w.y) for w in world.warps}
        arrivals = {(w.to_map, w.to_x, w.to_y) for w in world.warps}
        places = [(e.map, e.x, e.y) for e in world.entities]
        assert len(set(places)) == len(places), "two entities on one tile"
        for i, e in enumerate(world.entities):
            assert e.index == i
            m = world.maps[e.map]
            assert 0 <= e.x < m.width and 0 <= e.y < m.height
            assert (e.map, e.x, e.y) not in sources | arrivals, e
            tile = m.tile(e.x, e.y)
            if e.kind == EntityKind.CAPSULE:
                assert tile == Tile.SHELF  # on the lab's table
            elif e.kind in (EntityKind.HEALER, EntityKind.CLERK):
                assert tile == Tile.FLOOR and m.tile(e.x, e.y + 1) == Tile.COUNTER
            else:
                assert TILE_WALKABLE[tile], (m.name, e)
            if e.text >= 0:
                assert e.text + e.pages <= len(world.texts) and e.pages >= 1
            if e.after_text >= 0:
                assert e.after_text + e.after_pages <= len(world.texts)
            if e.kind == EntityKind.TRAINER:
                trainer = world.trainers[e.trainer]
                assert e.pages >= 1 and trainer.defeat_text >= 0
                if trainer.rank == 0:
                    assert 2 <= e.sight <= 4 and 1 <= len(trainer.party) <= 3
                    ahead = m.tile(e.x + DX[e.facing], e.y + DY[e.facing])
                    assert TILE_WALKABLE[ahead], (m.name, e)  # faces the path
                else:
                    assert e.sight == 0  # leaders and the league are challenged when talked to
            if e.kind in (EntityKind.ITEM, EntityKind.GIFTER):
                assert e.item >= 0 and e.count >= 1
            if e.kind == EntityKind.CLERK:
                assert 0 <= e.shop < len(world.shops)
            if e.kind == EntityKind.GUARD:
                assert e.hide_event >= 0 and e.pages >= 1


def _walks_back_over(m: MapDef, blocked: set[tuple[int, int]], lx: int, ly: int) -> bool:
    """Whether, landing below the ledge at (lx, ly), the player can walk back to the tile above it."""
    def free(x: int, y: int) -> bool:
        return TILE_WALKABLE[m.tile(x, y)] and (x, y) not in blocked

    seen, queue = {(lx, ly + 1)}, [(lx, ly + 1)]
    while queue:
        x, y = queue.pop()
        for d in Direction:
            nx, ny = x + DX[d], y + DY[d]
            if m.tile(nx, ny) == Tile.LEDGE:
                if d != Direction.DOWN:
                    continue
                ny += 1
            if (nx, ny) == (lx, ly - 1):
                return True
            if (nx, ny) not in seen and free(nx, ny):
                seen.add((nx, ny))
                queue.append((nx, ny))
    return False


def test_ledges_never_trap() -> None:
    """From where a ledge lands, the player can always walk back above it (without water, around people)."""
    for world in worlds():
        for m in world.maps:
            blocked = {(w.x, w.y) for w in world.warps if w.map == m.index}
            blocked |= {(e.x, e.y) for e in world.entities if e.map == m.index}
            for y in range(m.height):
                for x in range(m.width):
                    if m.tile(x, y) == Tile.LEDGE:
                        assert TILE_WALKABLE[m.tile(x, y + 1)] and (x, y + 1) not in blocked
                        assert _walks_back_over(m, blocked, x, y), (world.size, world.seed, m.name, x, y)


@pytest.mark.parametrize("size", SIZES)
def test_capsules_start_and_respawn(size: str) -> None:
    for world in worlds((size,)):
        got_partner = next(e.index for e in world.events if e.id == "got_partner")
        capsules = [e for e in world.entities if e.kind == EntityKind.CAPSULE]
        assert [c.species for c in capsules] == list(STARTERS)
        assert all(c.level == 5 and c.group == capsules[0].group >= 0 and c.sets_event == got_partner
                   for c in capsules)
        assert world.maps[capsules[0].map].kind == MapKind.LAB
        house, x, y, facing = world.start
        assert world.maps[house].kind == MapKind.HOUSE and facing == Direction.DOWN
        assert world.maps[house].tile(x, y) == Tile.FLOOR
        centre, x, y = world.respawn
        assert world.maps[centre].kind == MapKind.CENTRE and world.maps[centre].tile(x, y - 1) == Tile.COUNTER
        assert any(e.kind == EntityKind.HEALER and (e.map, e.x, e.y) == (centre, x, y - 2)
                   for e in world.entities)
        # The partner guard holds the first town's exit.
        first_town = next(m for m in world.maps if m.kind == MapKind.TOWN)
        assert any(e.kind == EntityKind.GUARD and e.hide_event == got_partner and e.map == first_town.index
                   for e in world.entities)


@pytest.mark.parametrize("size", SIZES)
def test_texts_fit_the_text_box(size: str) -> None:
    for world in worlds((size,)):
        for page in world.texts:
            lines = page.split("\n")
            assert 1 <= len(lines) <= TEXT_ROWS and all(len(line) <= TEXT_COLS for line in lines), page
        for t in world.trainers:  # one page, shown on the battle screen
            assert 0 <= t.defeat_text < len(world.texts) and len(world.texts[t.defeat_text]) <= 2 * TEXT_COLS


@pytest.mark.parametrize("size", SIZES)
def test_events(size: str) -> None:
    for world in worlds((size,)):
        assert [e.index for e in world.events] == list(range(len(world.events)))
        flags = [e.milestone for e in world.events]
        count = world.milestone_count
        assert flags == [True] * count + [False] * (len(flags) - count), "milestones come first"
        ids = [e.id for e in world.events]
        assert len(set(ids)) == len(ids) and all(i == i.lower() and " " not in i for i in ids)
        assert world.milestone_ids == tuple(ids[:count])  # the catalog the envs, the engine and the learners name
        tiers = [e.tier for e in world.events[:count]]
        assert tiers == sorted(tiers) and tiers[0] == 0
        assert ids[:2] == ["left_house", "got_partner"]
        assert world.maps[next(m.index for m in world.maps if m.kind == MapKind.TOWN)].enter_event == 0
        for field in ("ev_first_wild_win", "ev_first_catch", "ev_first_trainer_win", "ev_finish"):
            assert 0 <= getattr(world, field) < count
        badges = len(world.badge_names)
        assert len(world.badge_events) == badges == {"mini": 1, "small": 3, "standard": 8}[size]
        assert [ids[e] for e in world.badge_events] == [f"badge_{k + 1}" for k in range(badges)]
        assert len(set(world.badge_names)) == badges, "each gym has a type of its own"
        assert list(world.badge_events) == sorted(world.badge_events)
        if size == "standard":
            assert count >= 40 and max(tiers) == 5
        # Every map a player must enter for the first time has a milestone.
        for m in world.maps:
            if m.kind in (MapKind.TOWN, MapKind.ROUTE, MapKind.CAVE):
                assert 0 <= m.enter_event < count, m.name


def test_size_requirements() -> None:
    expected = {"mini": (1, 1, 0, 1), "small": (3, 4, 1, 3), "standard": (8, 12, 2, 8)}
    for size, (towns, routes, caves, gyms) in expected.items():
        for world in worlds((size,)):
            kinds = [m.kind for m in world.maps]
            assert kinds.count(MapKind.TOWN) >= towns and kinds.count(MapKind.ROUTE) >= routes
            assert kinds.count(MapKind.CAVE) >= caves and kinds.count(MapKind.GYM) == gyms
            ranks = [t.rank for t in world.trainers]
            if size == "mini":
                assert ranks.count(2) == ranks.count(3) == 0 and kinds.count(MapKind.LEAGUE) == 0
                assert world.ev_finish == world.badge_events[0] and world.ability_badge == (-1, -1, -1)
            else:
                assert ranks.count(2) == 4 and ranks.count(3) == 1
                champion = next(t for t in world.trainers if t.rank == 3)
                assert champion.event == world.ev_finish
                assert kinds.count(MapKind.LEAGUE) == 6  # the lobby, four elites, the champion
            key_items = {e.item for e in world.entities if e.kind == EntityKind.GIFTER and ITEM_IS_KEY[e.item]}
            key_guards = [e for e in world.entities if e.kind == EntityKind.GUARD
                          and world.events[e.hide_event].id.startswith("got_")]
            if size == "small":  # chop only
                assert world.ability_badge[Ability.CHOP] >= 0 and len(key_items) >= 1 and key_guards
                assert world.ability_badge[Ability.SWIM] == world.ability_badge[Ability.SHOVE] == -1
            if size == "standard":
                assert all(b >= 0 for b in world.ability_badge) and len(set(world.ability_badge)) == 3
                assert len(key_items) >= 2 and len(key_guards) >= 2


def test_standard_content_totals() -> None:
    assert len(MOVES) >= 60
    for world in worlds(("standard",)):
        species = {row.species for m in world.maps for row in m.encounters}
        species |= {s for t in world.trainers for s, _ in t.party}
        species |= {e.species for e in world.entities if e.species >= 0}
        assert len(species) >= 40
        items = {e.item for e in world.entities if e.item >= 0} | {i for shop in world.shops for i in shop}
        assert len(items) >= 8


def test_levels_follow_the_progression() -> None:
    for world in worlds(("standard",)):
        leaders = sorted((t for t in world.trainers if t.rank == 1), key=lambda t: t.badge)
        tops = [max(level for _, level in t.party) for t in leaders]
        assert tops == [10 + 6 * k for k in range(8)]
        league = [max(level for _, level in t.party) for t in world.trainers if t.rank >= 2]
        assert min(league) > tops[-1] and max(league) <= 65
        areas = sorted((m for m in world.maps if m.encounters), key=lambda m: m.enter_event)
        lows = [min(row.min_level for row in m.encounters) for m in areas]
        assert lows == sorted(lows)
        for m in areas:
            assert all(1 <= row.min_level <= row.max_level and row.weight > 0 for row in m.encounters)
            assert all(0 <= row.species < len(SPECIES) for row in m.encounters)
    for world in worlds(("mini",)):
        leader = next(t for t in world.trainers if t.rank == 1)
        assert 1 <= len(leader.party) <= 2 and 9 <= max(level for _, level in leader.party) <= 10
        assert all(max(level for _, level in t.party) < 9 for t in world.trainers if t.rank == 0)


def test_counters_can_be_caught_before_each_gym() -> None:
    """Before each gym, some wild creature met on the way has a type that hits the gym's type hard."""
    for world in worlds():
        for k, badge in enumerate(world.badge_names):
            gym_type = worldgen.BADGE_NAMES.index(badge)
            strong = {t for t in range(len(TYPE_CHART)) if TYPE_CHART[t][gym_type] == 20}
            met = {row.species for m in world.maps if 0 <= m.enter_event < world.badge_events[k]
                   for row in m.encounters}
            assert not strong or any(strong & set(SPECIES[s].types) for s in met), (world.size, world.seed, k)


# ============================================================================================ solvability


@pytest.mark.parametrize("size", SIZES)
def test_every_world_is_solvable_through_its_plan_with_real_gates(size: str) -> None:
    """The play-through reaches every milestone except those only battles give, with no gate open early."""
    assert _unsolvable(size, SEEDS) == []


def _unsolvable(size: str, seeds: range) -> list[tuple[int, str]]:
    """(seed, why) for each world of ``seeds`` the checker rejects: unsolvable, gates open early, or a
    milestone out of reach (other than those only battles give)."""
    failures = []
    for seed in seeds:
        world = build_world.__wrapped__(size, seed)  # past the cache: it holds 64 worlds and these are many
        report = solvability_report(world)
        missing = set(range(world.milestone_count)) - report.events - {world.ev_first_wild_win, world.ev_first_catch}
        if not report.solvable or report.early or missing:
            failures.append((seed, report.failure or str(report.early[:1]) or str(sorted(missing))))
    return failures


@pytest.mark.parametrize("size, seeds", [("mini", range(20, 400)), ("small", range(20, 150)),
                                         ("standard", range(20, 60))])
def test_more_worlds_are_solvable(size: str, seeds: range) -> None:
    """The checker is cheap: far more seeds than the structural tests build, a second or so per size."""
    assert _unsolvable(size, seeds) == []


@pytest.mark.slow
@pytest.mark.parametrize("size, count", [("mini", 5000), ("small", 3000), ("standard", 2000)])
def test_thousands_of_worlds_are_solvable(size: str, count: int) -> None:
    assert _unsolvable(size, range(count)) == []


def test_same_seed_same_world_in_another_process() -> None:
    """Nothing in generation hangs on str hashes (set order, hash()): a process with another
    PYTHONHASHSEED builds the same worlds, digest for digest."""
    pairs = [(size, seed) for size in SIZES for seed in (0, 7, 123)]
    code = ("import sys\nfrom longplay.envs.quest.worldgen import build_world, world_digest\n"
            f"print(' '.join(world_digest(build_world(size, seed)) for size, seed in {pairs!r}))")
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        digests.append(out.stdout.split())
    assert digests[0] == digests[1] == [world_digest(build_world(size, seed)) for size, seed in pairs]


def test_plan_shape() -> None:
    for world in worlds():
        plan = [world.entities[e] for e in world.plan]
        assert plan[0].kind == EntityKind.CAPSULE
        leaders = [world.trainers[e.trainer] for e in plan if e.kind == EntityKind.TRAINER]
        ranks = [t.rank for t in leaders]
        assert ranks == sorted(ranks) and [t.badge for t in leaders if t.rank == 1] == list(range(len(
            world.badge_names)))
        assert leaders[-1].event == world.ev_finish
        gifts = [e for e in plan if e.kind == EntityKind.GIFTER]
        assert all(ITEM_IS_KEY[g.item] and g.show_event in world.badge_events for g in gifts)


def test_the_checker_catches_broken_worlds() -> None:
    world = build_world("standard", 3)
    # No partner guard ever steps aside: nothing past the first town can be reached.
    got_partner = world.entities[world.plan[0]].sets_event
    stuck = dataclasses.replace(world, entities=tuple(
        dataclasses.replace(e, hide_event=-1) if e.hide_event == got_partner else e for e in world.entities))
    report = solvability_report(stuck)
    assert not report.solvable and report.steps_done <= 2
    # Without gates (guards gone, every ability from the first badge), later gyms open too early.
    open_world = dataclasses.replace(world, ability_badge=(0, 0, 0), entities=tuple(
        dataclasses.replace(e, show_event=len(world.events)) if e.kind == EntityKind.GUARD else e
        for e in world.entities))
    assert solvability_report(open_world).early


def test_gates_hold_until_their_badge() -> None:
    """A cross-check of ``report.early`` on the walker itself: before leader k is beaten, no later leader or
    league member can be reached, and the towns beyond the gate are not entered."""
    for world in [build_world(size, seed) for size in ("small", "standard") for seed in range(5)]:
        walker = worldgen._Walker(world)
        keepers = [e for e in world.plan if world.entities[e].kind == EntityKind.TRAINER]
        towns = [m for m in world.maps if m.kind == MapKind.TOWN]
        for i, e in enumerate(keepers):
            if world.trainers[world.entities[e].trainer].rank == 1:
                assert not any(walker.can_use(later) for later in keepers[i + 1:]), (world.seed, i)
                badge = world.trainers[world.entities[e].trainer].badge
                assert not any(walker.seen[walker.node(t.index, x, y)] for t in towns[badge + 1:]
                               for x in range(t.width) for y in range(t.height)), (world.seed, badge)
            for step in world.plan[world.plan.index(keepers[i - 1]) + 1 if i else 0:world.plan.index(e) + 1]:
                walker.use(step)


def test_worlds_hold_plain_ints() -> None:
    """Enum members never leak into a world (the batched engine and the digest want plain ints)."""
    world = build_world("small", 1)
    for e in world.entities:
        assert all(type(getattr(e, f.name)) is int for f in dataclasses.fields(e) if f.name != "index")
    assert all(type(m.kind) is int for m in world.maps)
    assert all(type(i) is int for shop in world.shops for i in shop)
    assert "<" not in repr(world.entities) + repr(world.trainers) + repr(world.events)


# ============================================================================================ progression rules
# Rules a player meets on every world, each named (the pinned canonical digest alone would only say "changed").


def _top(trainer) -> int:
    return max(level for _, level in trainer.party)


def test_leaders_grow_stronger_gym_by_gym() -> None:
    """Each leader's strongest creature is the size's level step above the last one's, and leaders' teams grow
    from two creatures at the first gym to more at the last (standard)."""
    for size in ("small", "standard"):
        step = worldgen.SIZE_SPECS[size].level_step
        for world in worlds((size,)):
            leaders = sorted((t for t in world.trainers if t.rank == 1), key=lambda t: t.badge)
            tops = [_top(t) for t in leaders]
            assert tops == [tops[0] + step * k for k in range(len(leaders))] and step > 0, (size, world.seed)
            sizes = [len(t.party) for t in leaders]
            assert sizes == sorted(sizes) and sizes[0] == 2, (size, world.seed)
            if size == "standard":
                assert sizes[-1] > sizes[0], world.seed


def test_the_league_rises_to_a_champion_with_a_final_form_starter() -> None:
    """Each elite is stronger than the one before, the champion strongest of all, and the champion's ace (last)
    is the final form of a starter line."""
    finals = {line[-1] for line in STARTER_FORMS}
    for world in worlds(("small", "standard")):
        elites = [t for t in world.trainers if t.rank == 2]
        champion = next(t for t in world.trainers if t.rank == 3)
        tops = [_top(t) for t in elites] + [_top(champion)]
        assert all(a < b for a, b in zip(tops, tops[1:], strict=False)), (world.size, world.seed, tops)
        assert champion.party[-1][0] in finals and champion.party[-1][1] == tops[-1]


def test_the_league_road_wants_the_last_badge() -> None:
    """Key items open legs before the last: the road to the league is held by a guard who wants the last
    badge, and every key item is handed out for an earlier badge."""
    for world in worlds(("small", "standard")):
        last = world.badge_events[-1]
        assert any(e.kind == EntityKind.GUARD and e.hide_event == last for e in world.entities), world.seed
        gifts = [e for e in world.entities if e.kind == EntityKind.GIFTER and ITEM_IS_KEY[e.item]]
        assert gifts and all(g.show_event in world.badge_events[:-1] for g in gifts), (world.size, world.seed)


def test_milestone_tiers_spread_the_gyms() -> None:
    """Badge milestones take tiers 1-4 in equal shares of the gyms (standard: two gyms a tier)."""
    expected = {"mini": [1], "small": [1, 2, 3], "standard": [1, 1, 2, 2, 3, 3, 4, 4]}
    for world in worlds():
        assert [world.events[e].tier for e in world.badge_events] == expected[world.size], world.seed


def test_the_plan_picks_the_partner_best_against_the_first_gyms() -> None:
    """The plan's capsule holds the starter whose type fares best against the first three gyms (weighted 3,
    2, 1: the first gym counts most)."""
    def matchup(species: int, gym_types: list[int]) -> int:
        own = SPECIES[species].types[0]
        return sum(w * (TYPE_CHART[own][t] - TYPE_CHART[t][own]) for w, t in zip((3, 2, 1), gym_types, strict=False))

    for world in worlds():
        gym_types = [worldgen.BADGE_NAMES.index(badge) for badge in world.badge_names]
        partner = world.entities[world.plan[0]].species
        assert matchup(partner, gym_types) == max(matchup(s, gym_types) for s in STARTERS), (world.size, world.seed)


def test_every_route_has_its_trainers() -> None:
    """Every route (main or side) has as many trainers as its size asks for."""
    for world in worlds():
        low, high = worldgen.SIZE_SPECS[world.size].route_trainers
        for m in world.maps:
            if m.kind == MapKind.ROUTE:
                count = sum(1 for e in world.entities if e.map == m.index and e.kind == EntityKind.TRAINER)
                assert low <= count <= high, (world.size, world.seed, m.name, count)


def test_gates_stand_past_the_open_stretch_of_a_route() -> None:
    """The first stretch of a gated route, from where the player enters it, is free of gates: a tree to chop,
    a boulder or a guard stands at least a quarter of the route's length in (the player trains there)."""
    gates = (EntityKind.GUARD, EntityKind.CUT_TREE, EntityKind.BOULDER)
    checked = 0
    for world in worlds():
        for m in world.maps:
            if m.kind != MapKind.ROUTE:
                continue
            entry = next((w.to_x, w.to_y) for w in world.warps if w.to_map == m.index
                         and world.maps[w.map].enter_event < m.enter_event)
            along_y = m.height > m.width
            length = m.height if along_y else m.width
            for e in world.entities:
                if e.map == m.index and e.kind in gates:
                    distance = abs(e.y - entry[1]) if along_y else abs(e.x - entry[0])
                    assert distance >= length // 4, (world.size, world.seed, m.name, distance, length)
                    checked += 1
    assert checked > 50


def test_what_can_be_met_before_a_gym_is_weaker_than_its_leader() -> None:
    """Walking the plan: before leader k is beaten, every route, cave or gym trainer the player can reach, and
    every wild creature on a map the player can reach, is below leader k's strongest creature."""
    for world in [build_world(size, seed) for size in SIZES for seed in range(6)]:
        walker = worldgen._Walker(world)
        cells = [range(walker.offset[m.index], walker.offset[m.index] + m.width * m.height) for m in world.maps]
        trainers = [e.index for e in world.entities if e.kind == EntityKind.TRAINER
                    and world.trainers[e.trainer].rank == 0]
        for e in world.plan:
            ent = world.entities[e]
            leader = world.trainers[ent.trainer] if ent.kind == EntityKind.TRAINER else None
            if leader is not None and leader.rank == 1:
                top = _top(leader)
                for t in trainers:
                    if walker.can_use(t):
                        assert _top(world.trainers[world.entities[t].trainer]) < top, (world.size, world.seed, t)
                for m in world.maps:
                    if m.encounters and any(walker.seen[i] for i in cells[m.index]):
                        assert max(row.max_level for row in m.encounters) < top, (world.size, world.seed, m.name)
            walker.use(e)


def test_later_towns_sell_better_items() -> None:
    """Each town's shop sells what the one before sells and, by the last town, more (as the town folk say)."""
    for world in worlds(("small", "standard")):
        towns = sorted((m for m in world.maps if m.kind == MapKind.TOWN), key=lambda m: m.enter_event)
        stock_at = {world.maps[e.map].name: set(world.shops[e.shop]) for e in world.entities
                    if e.kind == EntityKind.CLERK and world.maps[e.map].kind == MapKind.SHOP}
        stocks = [stock_at[f"{town.name} Shop"] for town in towns]
        assert all(a <= b for a, b in zip(stocks, stocks[1:], strict=False)) and stocks[0] < stocks[-1], world.seed


def test_every_route_reached_has_tall_grass_within_reach() -> None:
    """Walking the plan: at each gym, every route the player has reached has tall grass the player can reach
    (some lies on the path before a route's gate, so there is always somewhere to train)."""
    for world in [build_world(size, seed) for size in SIZES for seed in range(6)]:
        walker = worldgen._Walker(world)
        routes = [m for m in world.maps if m.kind == MapKind.ROUTE]
        for e in world.plan:
            ent = world.entities[e]
            if ent.kind == EntityKind.TRAINER and world.trainers[ent.trainer].rank == 1:
                for m in routes:
                    cells = range(walker.offset[m.index], walker.offset[m.index] + m.width * m.height)
                    if any(walker.seen[i] for i in cells):
                        assert any(walker.seen[i] and walker.tiles[i] == Tile.TALL_GRASS for i in cells), (
                            world.size, world.seed, m.name)
            walker.use(e)


def test_the_checker_flags_a_key_item_handed_out_early() -> None:
    """A key-item giver the player can reach before the leader whose badge it waits for is a gate violation."""
    world = build_world("standard", 3)
    givers = {e for e in world.plan if world.entities[e].kind == EntityKind.GIFTER}
    assert givers
    early_gifts = dataclasses.replace(world, entities=tuple(
        dataclasses.replace(e, show_event=-1) if e.index in givers else e for e in world.entities))
    early = solvability_report(early_gifts).early
    assert early and {int(v.split()[2]) for v in early} <= givers, early


def test_prize_money_is_a_rate_per_level() -> None:
    """A trainer's prize is its rate times the level of its strongest creature: the stronger, the richer."""
    rates = {"Leader": 80, "Elite": 100, "Champion": 150, "Gym Ace": 20}
    for world in worlds():
        for t in world.trainers:
            assert t.money == rates.get(t.title, 12) * _top(t), (world.size, world.seed, t.name, t.title)


def test_the_checker_never_climbs_a_ledge() -> None:
    """In the checker's walk, as in the engine, a ledge is hopped down (landing past it) and never climbed."""
    checked = 0
    for world in worlds(("small",)):
        walker = worldgen._Walker(world)
        for m in world.maps:
            for y in range(1, m.height - 2):
                for x in range(m.width):
                    if m.tile(x, y) != Tile.LEDGE:
                        continue
                    above, below = walker.node(m.index, x, y - 1), walker.node(m.index, x, y + 1)
                    assert walker._move(below, Direction.UP) == -1
                    if walker.free_land(below):
                        assert walker._move(above, Direction.DOWN) == below
                    checked += 1
    assert checked > 20


def test_every_gym_has_trainers_before_its_leader() -> None:
    """Each gym has one to three trainers beside the aisle to its leader."""
    for world in worlds():
        for m in world.maps:
            if m.kind == MapKind.GYM:
                aces = [e for e in world.entities if e.map == m.index and e.kind == EntityKind.TRAINER
                        and world.trainers[e.trainer].rank == 0]
                assert 1 <= len(aces) <= 3, (world.size, world.seed, m.name)


def _second_obstacles(world: World) -> int:
    """Small trees and rivers (water across the whole width) on routes entered from a cave: the second
    obstacles of a leg, past its own gate, that abilities already won clear."""
    count = 0
    for m in world.maps:
        sources = [world.maps[w.map].kind for w in world.warps
                   if w.to_map == m.index and world.maps[w.map].enter_event < m.enter_event]
        if m.kind != MapKind.ROUTE or MapKind.CAVE not in sources:
            continue
        count += sum(1 for e in world.entities if e.map == m.index and e.kind == EntityKind.CUT_TREE)
        if m.height > m.width:
            lines = [[m.tile(x, y) for x in range(1, m.width - 1)] for y in range(1, m.height - 1)]
        else:
            lines = [[m.tile(x, y) for y in range(1, m.height - 1)] for x in range(1, m.width - 1)]
        count += any(all(t == Tile.WATER for t in line) for line in lines)
    return count


def test_field_abilities_come_back_after_their_gate() -> None:
    """In standard worlds a won ability is needed again: in many worlds a route past a cave holds a small
    tree to chop or a river to swim, besides its leg's own gate."""
    counts = [_second_obstacles(world) for world in worlds(("standard",))]
    assert sum(count > 0 for count in counts) >= len(counts) // 3, counts
