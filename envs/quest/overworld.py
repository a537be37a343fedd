"""The overworld: walking, turning, ledges, water, boulders, warps, trainers' line of sight, wild encounters
and talking to people.

Rules in brief (the batched engine mirrors them):
    * A d-pad press while facing another way only turns the player.
    * A move is blocked by non-walkable tiles and visible entities; a LEDGE is entered only moving down and
      the player lands on the tile beyond it; WATER needs the swim ability; a BOULDER is pushed one tile
      with the shove ability when the tile beyond is free walkable land.
    * After a move: a warp on the new tile moves the player, and that ends the move (no trainer or wild
      encounter where it lands); else the first unbeaten trainer on the map that sees the player (straight
      ahead, within ``sight``, nothing in between) challenges; otherwise a step on an encounter tile may
      start a wild battle. A trainer who sees the player only after a warp, a battle or a turn waits for
      the player's next move.
    * A talks to (or uses) the entity in front, across a COUNTER if there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from longplay.envs.quest.cache import IdentityCache
from longplay.envs.quest.constants import (
    DX,
    DY,
    MAX_ITEM_COUNT,
    PARTY_SIZE,
    TILE_ENCOUNTER,
    TILE_WALKABLE,
    Ability,
    Direction,
    Effect,
    EntityKind,
    MenuKind,
    Rng,
    Tile,
)
from longplay.envs.quest.dialog import Msg, say, say_text
from longplay.envs.quest.party import first_able, heal_party, make_mon
from longplay.envs.quest.rng import rand, rand_below
from longplay.envs.quest.state import QuestState, World

_OPPOSITE = (Direction.DOWN, Direction.UP, Direction.RIGHT, Direction.LEFT)
_HIDDEN_WHEN_DONE = frozenset({EntityKind.ITEM, EntityKind.CAPSULE, EntityKind.CUT_TREE})


@dataclass
class WorldIndex:
    """Lookups derived once per world: warps by position, entities by map and position."""

    warps: dict[tuple[int, int, int], tuple[int, int, int]] = field(default_factory=dict)
    fixed_at: dict[tuple[int, int, int], tuple[int, ...]] = field(default_factory=dict)  # non-boulders
    boulders: dict[int, tuple[int, ...]] = field(default_factory=dict)  # map -> boulder entities
    trainers: dict[int, tuple[int, ...]] = field(default_factory=dict)  # map -> trainers with sight
    groups: dict[int, tuple[int, ...]] = field(default_factory=dict)  # capsule group -> entities


def _build_index(world: World) -> WorldIndex:
    index = WorldIndex()
    for w in world.warps:
        index.warps[(w.map, w.x, w.y)] = (w.to_map, w.to_x, w.to_y)
    fixed: dict[tuple[int, int, int], list[int]] = {}
    boulders: dict[int, list[int]] = {}
    trainers: dict[int, list[int]] = {}
    groups: dict[int, list[int]] = {}
    for e in world.entities:
        if e.kind == EntityKind.BOULDER:
            boulders.setdefault(e.map, []).append(e.index)
        else:
            fixed.setdefault((e.map, e.x, e.y), []).append(e.index)
        if e.kind == EntityKind.TRAINER and e.sight > 0:
            trainers.setdefault(e.map, []).append(e.index)
        if e.kind == EntityKind.CAPSULE and e.group >= 0:
            groups.setdefault(e.group, []).append(e.index)
    index.fixed_at = {k: tuple(v) for k, v in fixed.items()}
    index.boulders = {k: tuple(v) for k, v in boulders.items()}
    index.trainers = {k: tuple(v) for k, v in trainers.items()}
    index.groups = {k: tuple(v) for k, v in groups.items()}
    return index


_INDEXES: IdentityCache[WorldIndex] = IdentityCache(64)


def world_index(world: World) -> WorldIndex:
    """The :class:`WorldIndex` of ``world``, built once per world object."""
    return _INDEXES.get(world, lambda: _build_index(world))


# ================================================================================================ queries


def visible(state: QuestState, world: World, entity: int) -> bool:
    """Whether ``entity`` is on the map now (visible entities block movement)."""
    e = world.entities[entity]
    events = state.events
    if e.show_event >= 0 and not (events >> e.show_event) & 1:
        return False
    if e.hide_event >= 0 and (events >> e.hide_event) & 1:
        return False
    return not (state.done[entity] and e.kind in _HIDDEN_WHEN_DONE)


def entity_at(state: QuestState, world: World, map_index: int, x: int, y: int) -> int:
    """The visible entity standing on (map, x, y), or -1."""
    index = world_index(world)
    for e in index.fixed_at.get((map_index, x, y), ()):
        if visible(state, world, e):
            return e
    for e in index.boulders.get(map_index, ()):
        if state.entity_x[e] == x and state.entity_y[e] == y and visible(state, world, e):
            return e
    return -1


def has_ability(state: QuestState, world: World, ability: int) -> bool:
    """Whether the badge that unlocks ``ability`` has been won."""
    badge = world.ability_badge[ability]
    return badge >= 0 and state.has_event(world.badge_events[badge])


def _free_land(state: QuestState, world: World, x: int, y: int) -> bool:
    tile = world.maps[state.map].tile(x, y)
    return TILE_WALKABLE[tile] and (state.map, x, y) not in world_index(world).warps \
        and entity_at(state, world, state.map, x, y) < 0


# ================================================================================================ moving


def press(state: QuestState, world: World, button: int) -> None:
    """One button in the overworld."""
    if button <= Direction.RIGHT:
        if state.facing != button:
            state.facing = button
        else:
            _move(state, world, button)
    elif button == 4:  # A
        _interact(state, world)
    elif button == 6:  # START
        state.menu, state.menu_cursor, state.menu_choice = MenuKind.START, 0, 0


def _move(state: QuestState, world: World, direction: int) -> None:
    dx, dy = DX[direction], DY[direction]
    nx, ny = state.x + dx, state.y + dy
    blocker = entity_at(state, world, state.map, nx, ny)
    if blocker >= 0:
        if world.entities[blocker].kind == EntityKind.BOULDER and has_ability(state, world, Ability.SHOVE) \
                and _free_land(state, world, nx + dx, ny + dy):
            state.entity_x[blocker] = nx + dx
            state.entity_y[blocker] = ny + dy
            state.set_event(world.ev_first_shove)
            state.surfing = False  # the boulder stood on land
            _arrive(state, world, nx, ny)
        return
    tile = world.maps[state.map].tile(nx, ny)
    if tile == Tile.LEDGE:
        if direction == Direction.DOWN and _free_land(state, world, nx, ny + 1):
            state.surfing = False
            _arrive(state, world, nx, ny + 1)
        return
    if tile == Tile.WATER:
        if not state.surfing:
            if not has_ability(state, world, Ability.SWIM):
                return
            state.surfing = True
            state.set_event(world.ev_first_swim)
        _arrive(state, world, nx, ny)
        return
    if TILE_WALKABLE[tile]:
        state.surfing = False
        _arrive(state, world, nx, ny)


def _arrive(state: QuestState, world: World, x: int, y: int) -> None:
    """The player has moved onto (x, y): warps, then trainers, then wild encounters."""
    state.x, state.y = x, y
    if state.ward_steps > 0:
        state.ward_steps -= 1
    target = world_index(world).warps.get((state.map, x, y))
    if target is not None:
        state.map, state.x, state.y = target
        state.surfing = False
        state.set_event(world.maps[state.map].enter_event)
        return
    if _trainer_sees_player(state, world):
        return
    current = world.maps[state.map]
    if current.encounter_rate and TILE_ENCOUNTER[current.tile(x, y)] and state.ward_steps == 0 \
            and first_able(state.party) >= 0 \
            and rand(state.key, state.tick, Rng.ENCOUNTER) & 255 < current.encounter_rate:
        _start_encounter(state, world)


def _trainer_sees_player(state: QuestState, world: World) -> bool:
    if first_able(state.party) < 0:
        return False
    for e in world_index(world).trainers.get(state.map, ()):
        if state.done[e] or not visible(state, world, e):
            continue
        t = world.entities[e]
        dx, dy = DX[t.facing], DY[t.facing]
        for distance in range(1, t.sight + 1):
            tx, ty = t.x + dx * distance, t.y + dy * distance
            if tx == state.x and ty == state.y:
                state.facing = _OPPOSITE[t.facing]
                say_text(state, t.text, t.pages, effect=Effect.TRAINER_BATTLE, arg=e)
                return True
            if not TILE_WALKABLE[world.maps[state.map].tile(tx, ty)] \
                    or entity_at(state, world, state.map, tx, ty) >= 0:
                break
    return False


def _start_encounter(state: QuestState, world: World) -> None:
    from longplay.envs.quest import battle  # battle imports overworld helpers: import at use

    table = world.maps[state.map].encounters
    total = sum(row.weight for row in table)
    pick = rand_below(state.key, state.tick, Rng.ENCOUNTER_SLOT, total)
    for row in table:
        if pick < row.weight:
            span = row.max_level - row.min_level + 1
            level = row.min_level + rand_below(state.key, state.tick, Rng.ENCOUNTER_LEVEL, span)
            battle.start_wild(state, world, row.species, level)
            return
        pick -= row.weight


# ================================================================================================ talking


def _interact(state: QuestState, world: World) -> None:
    dx, dy = DX[state.facing], DY[state.facing]
    tx, ty = state.x + dx, state.y + dy
    target = entity_at(state, world, state.map, tx, ty)
    if target < 0 and world.maps[state.map].tile(tx, ty) == Tile.COUNTER:
        target = entity_at(state, world, state.map, tx + dx, ty + dy)
    if target >= 0:
        _INTERACTIONS[world.entities[target].kind](state, world, target)


def _talk(state: QuestState, world: World, e: int) -> None:
    ent = world.entities[e]
    if state.done[e] and ent.after_text >= 0:
        say_text(state, ent.after_text, ent.after_pages)
    elif ent.pages:
        say_text(state, ent.text, ent.pages)


def _trainer(state: QuestState, world: World, e: int) -> None:
    ent = world.entities[e]
    if state.done[e] or first_able(state.party) < 0:
        _talk(state, world, e)
    else:
        say_text(state, ent.text, ent.pages, effect=Effect.TRAINER_BATTLE, arg=e)


def _give(state: QuestState, item: int, count: int) -> None:
    state.bag[item] = min(MAX_ITEM_COUNT, state.bag[item] + count)
    if count > 1:
        say(state, (Msg.GOT_ITEMS, item, count))
    else:
        say(state, (Msg.GOT_ITEM, item, 0))


def _pick_item(state: QuestState, world: World, e: int) -> None:
    ent = world.entities[e]
    state.done[e] = 1
    state.set_event(ent.sets_event)
    _give(state, ent.item, ent.count)


def _heal(state: QuestState, world: World, e: int) -> None:
    heal_party(state.party)
    state.respawn = (state.map, state.x, state.y)
    _talk(state, world, e)
    say(state, (Msg.HEALED, 0, 0))


def _shop(state: QuestState, world: World, e: int) -> None:
    ent = world.entities[e]
    if ent.pages:
        say_text(state, ent.text, ent.pages, effect=Effect.OPEN_SHOP, arg=ent.shop)
    else:
        state.menu, state.menu_cursor, state.menu_choice = MenuKind.SHOP, 0, ent.shop


def _capsule(state: QuestState, world: World, e: int) -> None:
    ent = world.entities[e]
    if len(state.party) >= PARTY_SIZE:
        return
    for other in world_index(world).groups.get(ent.group, (e,)):
        state.done[other] = 1
    state.done[e] = 1
    state.party.append(make_mon(ent.species, ent.level))
    state.set_event(ent.sets_event)
    _talk(state, world, e)
    say(state, (Msg.GOT_PARTNER, ent.species, 0))


def _boulder(state: QuestState, world: World, e: int) -> None:
    if not has_ability(state, world, Ability.SHOVE):
        say(state, (Msg.BLOCKED_BOULDER, 0, 0))


def _cut_tree(state: QuestState, world: World, e: int) -> None:
    if has_ability(state, world, Ability.CHOP):
        state.done[e] = 1
        state.set_event(world.ev_first_chop)
        say(state, (Msg.CHOPPED, 0, 0))
    else:
        say(state, (Msg.BLOCKED_TREE, 0, 0))


def _gift(state: QuestState, world: World, e: int) -> None:
    ent = world.entities[e]
    if state.done[e]:
        _talk(state, world, e)
        return
    if ent.pages:
        say_text(state, ent.text, ent.pages)
    state.done[e] = 1
    state.set_event(ent.sets_event)
    _give(state, ent.item, ent.count)


_INTERACTIONS = {
    EntityKind.PERSON: _talk,
    EntityKind.SIGN: _talk,
    EntityKind.TRAINER: _trainer,
    EntityKind.ITEM: _pick_item,
    EntityKind.HEALER: _heal,
    EntityKind.CLERK: _shop,
    EntityKind.CAPSULE: _capsule,
    EntityKind.GUARD: _talk,
    EntityKind.BOULDER: _boulder,
    EntityKind.CUT_TREE: _cut_tree,
    EntityKind.GIFTER: _gift,
}
assert set(_INTERACTIONS) == set(EntityKind)
