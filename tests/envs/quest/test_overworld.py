"""Overworld, dialog, menus and save states of the quest engine, on a small hand-built world."""

from __future__ import annotations

import dataclasses

import pytest

from longplay.envs.game import Button, GameError, Mode
from longplay.envs.quest import dialog, engine, savestate
from longplay.envs.quest.battle import BattleMsg
from longplay.envs.quest.constants import (
    ITEM_PRICE,
    MAX_ITEM_COUNT,
    PARTY_SIZE,
    WARD_STEPS,
    Ability,
    BattleKind,
    Direction,
    Effect,
    EntityKind,
    Item,
    MapKind,
    MenuKind,
    Rng,
    Tile,
)
from longplay.envs.quest.dialog import Msg, message_text
from longplay.envs.quest.overworld import visible
from longplay.envs.quest.party import make_mon
from longplay.envs.quest.rng import rand, rand_below
from longplay.envs.quest.state import (
    Encounter,
    EntityDef,
    EventDef,
    MapDef,
    QuestState,
    TrainerDef,
    Warp,
    World,
)

G, W, L, A, S, D, C, F, M = (Tile.GROUND, Tile.WALL, Tile.LEDGE, Tile.WATER, Tile.TALL_GRASS, Tile.DOOR,
                             Tile.COUNTER, Tile.FLOOR, Tile.MAT)
# 12 x 10 field: walls around, a door at (2, 1), a ledge row, water, grass, a counter.
FIELD = [
    [W, W, W, W, W, W, W, W, W, W, W, W],
    [W, G, D, G, G, G, G, G, G, G, G, W],
    [W, G, G, G, G, G, G, G, G, C, G, W],
    [W, G, G, G, G, G, G, G, G, G, G, W],
    [W, L, L, L, G, G, G, G, G, G, G, W],
    [W, G, G, G, G, G, A, A, G, G, G, W],
    [W, G, G, G, G, G, A, A, G, G, G, W],
    [W, S, S, S, G, G, G, G, G, G, G, W],
    [W, S, S, S, G, G, G, G, G, G, G, W],
    [W, W, W, W, W, W, W, W, W, W, W, W],
]
HOUSE = [
    [W, W, W, W],
    [W, F, F, W],
    [W, F, F, W],
    [W, W, M, W],
]

EV_LEFT, EV_PARTNER, EV_BADGE, EV_KEY, EV_WILD, EV_TRAINER, EV_CHOP, EV_SWIM, EV_SHOVE = range(9)


def _tiles(rows: list[list[int]]) -> bytes:
    return bytes(t for row in rows for t in row)


def tiny_world(ability_badge: tuple[int, int, int] = (0, 0, 0)) -> World:
    texts = ("Hello there!", "Second page.", "A sign.", "Stop! Bring", "me a partner.", "Fight me!",
             "You beat me.", "Take this key.", "Already gave.", "Welcome! Rest?", "Buy something?",
             "Arg, lost.")
    entities = (
        EntityDef(0, EntityKind.PERSON, 0, 4, 2, text=0, pages=2),
        EntityDef(1, EntityKind.SIGN, 0, 1, 1, sprite=13, text=2, pages=1),
        EntityDef(2, EntityKind.ITEM, 0, 5, 3, sprite=9, item=Item.TONIC, count=1),
        EntityDef(3, EntityKind.CAPSULE, 0, 7, 1, sprite=10, species=0, level=5, sets_event=EV_PARTNER, group=0),
        EntityDef(4, EntityKind.CAPSULE, 0, 8, 1, sprite=10, species=1, level=5, sets_event=EV_PARTNER, group=0),
        EntityDef(5, EntityKind.HEALER, 0, 10, 2, sprite=6, text=9, pages=1),
        EntityDef(6, EntityKind.GUARD, 0, 10, 7, sprite=8, text=3, pages=2, hide_event=EV_PARTNER),
        EntityDef(7, EntityKind.BOULDER, 0, 9, 5, sprite=11),
        EntityDef(8, EntityKind.CUT_TREE, 0, 9, 8, sprite=12),
        EntityDef(9, EntityKind.TRAINER, 0, 5, 5, facing=Direction.DOWN, sprite=4, text=5, pages=1,
                  after_text=6, after_pages=1, trainer=0, sight=2),
        EntityDef(10, EntityKind.GIFTER, 1, 1, 1, text=7, pages=1, after_text=8, after_pages=1,
                  item=Item.FERRY_PASS, count=1, sets_event=EV_KEY),
        EntityDef(11, EntityKind.CLERK, 0, 1, 6, sprite=7, text=10, pages=1, shop=0),
    )
    return World(
        size="mini", seed=0, name="Tiny",
        maps=(MapDef(0, "Field", MapKind.TOWN, 12, 10, _tiles(FIELD), enter_event=EV_LEFT),
              MapDef(1, "House", MapKind.HOUSE, 4, 4, _tiles(HOUSE))),
        warps=(Warp(0, 2, 1, 1, 2, 2), Warp(1, 2, 3, 0, 2, 2)),
        entities=entities,
        trainers=(TrainerDef(0, "Rook", "Hiker", ((3, 3),), 120, defeat_text=11),),
        texts=texts,
        shops=((Item.TONIC, Item.ORB),),
        events=tuple(EventDef(i, f"e{i}", f"event {i}") for i in range(9)),
        start=(1, 1, 2, Direction.DOWN),
        respawn=(0, 3, 3),
        badge_names=("Test",),
        badge_events=(EV_BADGE,),
        ability_badge=ability_badge,
        ev_first_wild_win=EV_WILD, ev_first_trainer_win=EV_TRAINER, ev_first_chop=EV_CHOP,
        ev_first_swim=EV_SWIM, ev_first_shove=EV_SHOVE, ev_finish=EV_BADGE,
    )


def press(state, world, *buttons: int) -> None:
    for b in buttons:
        engine.step(state, world, int(b))


def at(state, map_index: int, x: int, y: int, facing: int | None = None) -> None:
    state.map, state.x, state.y = map_index, x, y
    if facing is not None:
        state.facing = facing


@pytest.fixture
def world() -> World:
    return tiny_world()


@pytest.fixture
def state(world):
    return engine.new_state(world, seed=1)


def test_turn_first_then_move(world, state) -> None:
    at(state, 1, 1, 1, Direction.DOWN)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y, state.facing) == (1, 1, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (2, 1)


def test_walls_block(world, state) -> None:
    at(state, 1, 1, 1, Direction.UP)
    press(state, world, Button.UP)
    assert (state.x, state.y) == (1, 1)


def test_door_warps_and_sets_enter_event(world, state) -> None:
    assert not state.has_event(EV_LEFT)
    at(state, 1, 2, 2, Direction.DOWN)
    press(state, world, Button.DOWN)  # onto the mat: back outside, in front of the door
    assert (state.map, state.x, state.y) == (0, 2, 2)
    assert state.has_event(EV_LEFT)
    at(state, 0, 2, 2, Direction.UP)
    press(state, world, Button.UP)
    assert (state.map, state.x, state.y) == (1, 2, 2)


def test_ledge_is_one_way(world, state) -> None:
    at(state, 0, 2, 3, Direction.DOWN)
    press(state, world, Button.DOWN)
    assert (state.x, state.y) == (2, 5)  # hopped over the ledge
    at(state, 0, 2, 5, Direction.UP)
    press(state, world, Button.UP)
    assert (state.x, state.y) == (2, 5)


def test_ledge_is_entered_only_moving_down(world, state) -> None:
    state.ward_steps = 5  # a blocked move walks no tile: the ward counts nothing down
    for x, y, direction in ((4, 4, Direction.LEFT), (2, 5, Direction.UP)):
        at(state, 0, x, y, direction)
        press(state, world, direction)
        assert (state.x, state.y, state.ward_steps) == (x, y, 5), f"moving {Direction(direction).name} onto it"


def test_water_needs_the_swim_ability(world, state) -> None:
    at(state, 0, 5, 6, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (5, 6) and not state.surfing
    state.set_event(EV_BADGE)  # the badge unlocks every ability in this world
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (6, 6) and state.surfing and state.has_event(EV_SWIM)
    press(state, world, Button.RIGHT, Button.RIGHT)
    assert (state.x, state.y) == (8, 6) and not state.surfing


def test_leaving_water_by_ledge_or_boulder_ends_swimming(state) -> None:
    rows = [list(row) for row in FIELD]
    rows[3][2] = A  # water above the ledge at (2, 4)
    rows[5][8] = A  # water in front of the boulder at (9, 5)
    base = tiny_world()
    world = dataclasses.replace(base, maps=(dataclasses.replace(base.maps[0], tiles=_tiles(rows)), base.maps[1]))
    state.set_event(EV_BADGE)
    at(state, 0, 2, 2, Direction.DOWN)
    press(state, world, Button.DOWN)
    assert (state.x, state.y) == (2, 3) and state.surfing
    press(state, world, Button.DOWN)  # hops the ledge onto land
    assert (state.x, state.y) == (2, 5) and not state.surfing
    at(state, 0, 7, 5, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (8, 5) and state.surfing
    press(state, world, Button.RIGHT)  # shoves the boulder and steps where it stood
    assert (state.x, state.entity_x[7]) == (9, 10) and not state.surfing


def test_boulder_needs_shove_and_moves(world, state) -> None:
    at(state, 0, 8, 5, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.entity_x[7]) == (8, 9)
    state.set_event(EV_BADGE)
    press(state, world, Button.RIGHT)
    assert (state.x, state.entity_x[7]) == (9, 10) and state.has_event(EV_SHOVE)
    press(state, world, Button.RIGHT)  # against the wall: the boulder stays, so does the player
    assert (state.x, state.entity_x[7]) == (9, 10)


def test_cut_tree_needs_chop(world, state) -> None:
    at(state, 0, 8, 8, Direction.RIGHT)
    press(state, world, Button.A)
    assert state.dialog[0][0] == Msg.BLOCKED_TREE and visible(state, world, 8)
    press(state, world, Button.A)
    state.set_event(EV_BADGE)
    press(state, world, Button.A)
    assert not visible(state, world, 8) and state.has_event(EV_CHOP)
    press(state, world, Button.A, Button.RIGHT)
    assert state.x == 9


def test_talking_pages_and_modes(world, state) -> None:
    at(state, 0, 4, 3, Direction.UP)
    press(state, world, Button.A)
    assert engine.mode(state) == Mode.DIALOG and message_text(world, state.dialog[0]) == "Hello there!"
    press(state, world, Button.UP)  # ignored while a text box is open
    assert len(state.dialog) == 2
    press(state, world, Button.A, Button.B)
    assert engine.mode(state) == Mode.OVERWORLD


def test_item_pickup_once(world, state) -> None:
    at(state, 0, 5, 4, Direction.UP)
    press(state, world, Button.A, Button.A)
    assert state.bag[Item.TONIC] == 1 and not visible(state, world, 2)
    press(state, world, Button.A)
    assert state.bag[Item.TONIC] == 1


def test_capsule_group_and_guard(world, state) -> None:
    assert visible(state, world, 6)
    at(state, 0, 7, 2, Direction.UP)
    press(state, world, Button.A)
    assert len(state.party) == 1 and state.has_event(EV_PARTNER)
    assert not visible(state, world, 3) and not visible(state, world, 4)
    assert not visible(state, world, 6)  # the guard steps aside once you have a partner


def test_healer_across_counter_sets_respawn(world, state) -> None:
    state.party.append(make_mon(0, 5))
    state.party[0].hp = 1
    at(state, 0, 8, 2, Direction.RIGHT)
    press(state, world, Button.A)
    assert state.party[0].hp == state.party[0].max_hp and state.respawn == (0, 8, 2)


def test_gifter_gives_once(world, state) -> None:
    at(state, 1, 1, 2, Direction.UP)
    press(state, world, Button.A, Button.A, Button.A)
    assert state.bag[Item.FERRY_PASS] == 1 and state.has_event(EV_KEY)
    press(state, world, Button.A)
    assert message_text(world, state.dialog[0]) == "Already gave."


def test_trainer_line_of_sight_starts_a_battle(world, state) -> None:
    state.party.append(make_mon(0, 5))
    at(state, 0, 4, 7, Direction.RIGHT)
    press(state, world, Button.RIGHT)  # steps into the trainer's sight (5, 7), two tiles below it
    assert engine.mode(state) == Mode.DIALOG and state.facing == Direction.UP
    press(state, world, Button.A)
    assert engine.mode(state) == Mode.BATTLE and state.battle.entity == 9


def test_no_trainer_battle_without_a_partner(world, state) -> None:
    at(state, 0, 4, 7, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert engine.mode(state) == Mode.OVERWORLD


def test_wild_encounters_on_grass_and_ward_spray(world, state) -> None:
    state.party.append(make_mon(0, 5))
    grass = [m for m in world.maps][0]
    assert grass.encounter_rate == 0  # no table: no battles even on grass
    at(state, 0, 1, 7, Direction.DOWN)
    for _ in range(50):
        press(state, world, Button.DOWN, Button.UP)
    assert engine.mode(state) == Mode.OVERWORLD
    state.ward_steps = WARD_STEPS
    at(state, 0, 1, 7, Direction.DOWN)
    press(state, world, Button.DOWN)
    assert state.ward_steps == WARD_STEPS - 1


def test_ward_spray_keeps_encounters_away_for_ward_steps_minus_one_steps(world, state) -> None:
    """The counter runs down before the encounter check, so the step that takes it to 0 may meet a wild
    creature: WARD_STEPS - 1 safe steps (the Item comment said 100 and the code gives 99)."""
    field = dataclasses.replace(world.maps[0], encounters=(Encounter(3, 2, 2, 1),), encounter_rate=256)
    world = dataclasses.replace(world, maps=(field, world.maps[1]))  # every grass step without ward: a battle
    state.party.append(make_mon(0, 5))
    state.ward_steps = WARD_STEPS
    at(state, 0, 1, 7, Direction.DOWN)
    for step in range(1, WARD_STEPS):
        press(state, world, Button.DOWN if step % 2 else Button.UP)
        press(state, world, Button.DOWN if step % 2 else Button.UP)  # one press of each pair turns (or meets the wall)
        assert engine.mode(state) == Mode.OVERWORLD and state.ward_steps == WARD_STEPS - step
    press(state, world, Button.UP, Button.UP)  # step WARD_STEPS: the counter reaches 0 and a battle starts
    assert state.ward_steps == 0 and engine.mode(state) == Mode.BATTLE


def test_start_menu_party_and_bag(world, state) -> None:
    state.party += [make_mon(0, 5), make_mon(1, 6)]
    state.bag[Item.TONIC] = 2
    state.party[1].hp = 3
    press(state, world, Button.START)
    assert state.menu == MenuKind.START and engine.mode(state) == Mode.MENU
    press(state, world, Button.A, Button.DOWN, Button.A)  # PARTY, make the second the lead
    assert state.party[0].species == 1
    press(state, world, Button.B, Button.DOWN, Button.A)  # back, BAG
    assert state.menu == MenuKind.BAG
    press(state, world, Button.A, Button.A)  # Tonic on the lead
    assert state.party[0].hp == min(23, state.party[0].max_hp) and state.bag[Item.TONIC] == 1
    press(state, world, Button.A)  # dismiss the message
    press(state, world, Button.B, Button.B, Button.B)
    assert engine.mode(state) == Mode.OVERWORLD


def test_a_healing_item_does_not_work_on_a_fainted_creature(world, state) -> None:
    state.party += [make_mon(0, 5)]
    state.party[0].hp = 0
    state.bag[Item.TONIC] = 1
    press(state, world, Button.START, Button.DOWN, Button.A, Button.A, Button.A)  # BAG, the Tonic, on the lead
    assert state.dialog == [(Msg.NO_EFFECT, 0, 0)]
    assert state.party[0].hp == 0 and state.bag[Item.TONIC] == 1


def test_ward_spray_from_bag(world, state) -> None:
    state.bag[Item.WARD_SPRAY] = 1
    press(state, world, Button.START, Button.DOWN, Button.A, Button.A)
    assert state.ward_steps == WARD_STEPS and state.bag[Item.WARD_SPRAY] == 0


def test_shop_buys_and_refuses(world, state) -> None:
    at(state, 0, 2, 6, Direction.LEFT)
    press(state, world, Button.A, Button.A)
    assert state.menu == MenuKind.SHOP
    money = state.money
    press(state, world, Button.DOWN, Button.A)
    assert state.bag[Item.ORB] == 1 and state.money == money - 200
    state.money = 0
    press(state, world, Button.A)
    assert state.dialog[0][0] == Msg.NOT_ENOUGH_MONEY
    press(state, world, Button.A, Button.DOWN, Button.A)  # EXIT row
    assert state.menu == MenuKind.NONE


def test_abilities_follow_their_badge() -> None:
    world = tiny_world(ability_badge=(-1, 0, -1))
    state = engine.new_state(world, 0)
    state.set_event(EV_BADGE)
    from longplay.envs.quest.overworld import has_ability

    assert has_ability(state, world, Ability.SWIM) and not has_ability(state, world, Ability.CHOP)


def test_a_trainer_sees_only_as_far_as_its_sight(world, state) -> None:
    """Trainer 9 at (5, 5) looks down with sight 2: (5, 7) is seen (see above), (5, 8) is not."""
    state.party.append(make_mon(0, 5))
    at(state, 0, 4, 8, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (5, 8) and engine.mode(state) == Mode.OVERWORLD


def test_an_entity_in_between_blocks_a_trainers_sight(world, state) -> None:
    person = dataclasses.replace(world.entities[0], x=5, y=6)  # between trainer 9 at (5, 5) and (5, 7)
    world = dataclasses.replace(world, entities=(person, *world.entities[1:]))
    state.party.append(make_mon(0, 5))
    at(state, 0, 4, 7, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (5, 7) and engine.mode(state) == Mode.OVERWORLD


def _grass_world(world: World, *table: Encounter, rate: int) -> World:
    field = dataclasses.replace(world.maps[0], encounters=table, encounter_rate=rate)
    return dataclasses.replace(world, maps=(field, world.maps[1]))


def _step_on_grass(world: World, tick: int) -> QuestState:
    """A fresh state with a partner steps from grass (1, 7) onto grass (1, 8); the step runs at ``tick + 1``."""
    state = engine.new_state(world, seed=1)
    state.party.append(make_mon(0, 5))
    at(state, 0, 1, 7, Direction.DOWN)
    state.tick = tick
    press(state, world, Button.DOWN)
    return state


def test_a_wild_encounter_needs_a_draw_below_the_rate_not_equal_to_it(world) -> None:
    key = engine.new_state(world, seed=1).key
    tick = next(t for t in range(100) if rand(key, t + 1, Rng.ENCOUNTER) & 255 > 0)
    draw = rand(key, tick + 1, Rng.ENCOUNTER) & 255
    for rate, mode in ((draw, Mode.OVERWORLD), (draw + 1, Mode.BATTLE)):
        state = _step_on_grass(_grass_world(world, Encounter(3, 2, 2, 1), rate=rate), tick)
        assert engine.mode(state) == mode, f"rate {rate}, draw {draw}"


def test_wild_rows_are_picked_by_weight_and_levels_span_min_to_max(world) -> None:
    world = _grass_world(world, Encounter(3, 2, 3, 1), Encounter(1, 4, 4, 2), rate=256)
    seen = set()
    for tick in range(60):
        state = _step_on_grass(world, tick)
        foe = state.battle.enemy[0]
        pick = rand_below(state.key, tick + 1, Rng.ENCOUNTER_SLOT, 3)  # weights 1 + 2
        assert foe.species == (3 if pick < 1 else 1), f"pick {pick}"
        seen.add((foe.species, foe.level))
    assert seen == {(3, 2), (3, 3), (1, 4)}


def test_a_boulder_is_not_pushed_onto_a_warp(world) -> None:
    boulder = dataclasses.replace(world.entities[7], x=2, y=2)  # the door (a warp) at (2, 1) is beyond it
    world = dataclasses.replace(world, entities=(*world.entities[:7], boulder, *world.entities[8:]))
    state = engine.new_state(world, seed=1)
    state.set_event(EV_BADGE)
    at(state, 0, 2, 3, Direction.UP)
    press(state, world, Button.UP)
    assert (state.x, state.y, state.entity_x[7], state.entity_y[7]) == (2, 3, 2, 2)


def test_a_full_party_takes_no_capsule(world, state) -> None:
    state.party += [make_mon(0, 5) for _ in range(PARTY_SIZE)]
    at(state, 0, 7, 2, Direction.UP)
    press(state, world, Button.A)
    assert len(state.party) == PARTY_SIZE and visible(state, world, 3) and not state.has_event(EV_PARTNER)


def test_a_picked_up_item_never_takes_the_count_past_the_cap(world, state) -> None:
    state.bag[Item.TONIC] = MAX_ITEM_COUNT
    at(state, 0, 5, 4, Direction.UP)
    press(state, world, Button.A)
    assert state.bag[Item.TONIC] == MAX_ITEM_COUNT and not visible(state, world, 2)


def test_a_beaten_trainer_only_talks(world, state) -> None:
    state.party.append(make_mon(0, 5))
    state.done[9] = 1
    at(state, 0, 5, 6, Direction.UP)
    press(state, world, Button.A)
    assert message_text(world, state.dialog[0]) == "You beat me." and state.dialog_effect == Effect.NONE
    press(state, world, Button.A)
    assert engine.mode(state) == Mode.OVERWORLD


def test_the_healer_restores_pp_too(world, state) -> None:
    state.party.append(make_mon(0, 5))
    full = list(state.party[0].pp)
    state.party[0].pp = [0] * len(full)
    at(state, 0, 8, 2, Direction.RIGHT)
    press(state, world, Button.A)
    assert state.party[0].pp == full


def test_the_shop_sells_at_exactly_the_price_and_refuses_a_full_stack(world, state) -> None:
    at(state, 0, 2, 6, Direction.LEFT)
    press(state, world, Button.A, Button.A)  # the clerk's page, then the shop with the cursor on the Tonic
    state.money = ITEM_PRICE[Item.TONIC]
    press(state, world, Button.A)
    assert (state.bag[Item.TONIC], state.money, state.dialog) == (1, 0, [])
    state.money, state.bag[Item.TONIC] = 10_000, MAX_ITEM_COUNT - 1
    press(state, world, Button.A)
    assert state.bag[Item.TONIC] == MAX_ITEM_COUNT and state.dialog == []
    press(state, world, Button.A)
    assert state.dialog == [(Msg.BAG_FULL, 0, 0)]
    assert state.bag[Item.TONIC] == MAX_ITEM_COUNT and state.money == 10_000 - ITEM_PRICE[Item.TONIC]


def test_b_goes_back_to_the_start_menu_row_that_opened_the_menu(world, state) -> None:
    press(state, world, Button.START, Button.DOWN, Button.A)
    assert state.menu == MenuKind.BAG
    press(state, world, Button.B)
    assert (state.menu, state.menu_cursor) == (MenuKind.START, 1)
    press(state, world, Button.UP, Button.A, Button.B)
    assert (state.menu, state.menu_cursor) == (MenuKind.START, 0)


def test_the_exit_row_closes_the_start_menu_and_b_leaves_the_target_list_for_the_bag(world, state) -> None:
    press(state, world, Button.START, Button.DOWN, Button.DOWN, Button.A)
    assert state.menu == MenuKind.NONE
    state.party.append(make_mon(0, 5))
    state.bag[Item.TONIC] = 1
    press(state, world, Button.START, Button.DOWN, Button.A, Button.A)
    assert state.menu == MenuKind.BAG_TARGET
    press(state, world, Button.B)
    assert (state.menu, state.menu_cursor) == (MenuKind.BAG, 0)


def test_choosing_a_party_member_swaps_it_with_the_lead(world, state) -> None:
    first, second, third = make_mon(0, 5), make_mon(1, 5), make_mon(2, 5)
    state.party += [first, second, third]
    press(state, world, Button.START, Button.A, Button.DOWN, Button.DOWN, Button.A)
    assert [m.species for m in state.party] == [2, 1, 0]


def test_using_the_last_of_an_item_goes_back_to_the_bag_list(world, state) -> None:
    state.party.append(make_mon(0, 5))
    state.party[0].hp = 1
    state.bag[Item.TONIC], state.bag[Item.ORB] = 1, 1
    press(state, world, Button.START, Button.DOWN, Button.A, Button.A, Button.A)  # BAG, the Tonic, on the lead
    assert state.bag[Item.TONIC] == 0 and (state.menu, state.menu_cursor) == (MenuKind.BAG, 0)


def test_a_revival_herb_from_the_bag_revives_to_half_hp(world, state) -> None:
    state.party.append(make_mon(0, 5))
    state.party[0].hp = 0
    state.bag[Item.REVIVAL_HERB] = 1
    press(state, world, Button.START, Button.DOWN, Button.A, Button.A, Button.A)
    assert state.party[0].hp == state.party[0].max_hp // 2 and state.bag[Item.REVIVAL_HERB] == 0


def test_the_whiteout_goes_to_the_respawn_healed_facing_up_on_land_with_half_the_money(world, state) -> None:
    mon = make_mon(0, 5)
    full_pp = list(mon.pp)
    mon.hp, mon.pp = 0, [0] * len(full_pp)
    state.party.append(mon)
    at(state, 0, 6, 6, Direction.RIGHT)
    state.surfing, state.money = True, 1001
    dialog.say(state, (Msg.WHITEOUT, 0, 0), effect=Effect.WHITEOUT)
    press(state, world, Button.A)
    assert (state.map, state.x, state.y) == state.respawn == (0, 3, 3)
    assert state.facing == Direction.UP and not state.surfing and state.money == 500
    assert mon.hp == mon.max_hp and mon.pp == full_pp


def test_pages_queued_without_an_effect_keep_the_queued_effect(state) -> None:
    dialog.say(state, (Msg.HEALED, 0, 0), effect=Effect.WHITEOUT, arg=3)
    dialog.say(state, (Msg.HEALED, 0, 0))
    assert (state.dialog_effect, state.dialog_arg) == (Effect.WHITEOUT, 3)


def test_an_entity_with_a_show_event_appears_only_once_the_event_is_set(world, state) -> None:
    person = dataclasses.replace(world.entities[0], show_event=EV_KEY)
    world = dataclasses.replace(world, entities=(person, *world.entities[1:]))
    assert not visible(state, world, 0)
    state.set_event(EV_KEY)
    assert visible(state, world, 0)


def test_one_item_says_found_and_several_say_how_many(world, state) -> None:
    at(state, 0, 5, 4, Direction.UP)
    press(state, world, Button.A)
    assert state.dialog == [(Msg.GOT_ITEM, Item.TONIC, 0)]
    three = dataclasses.replace(world.entities[2], count=3)
    world = dataclasses.replace(world, entities=(*world.entities[:2], three, *world.entities[3:]))
    state = engine.new_state(world, seed=1)
    at(state, 0, 5, 4, Direction.UP)
    press(state, world, Button.A)
    assert state.dialog == [(Msg.GOT_ITEMS, Item.TONIC, 3)] and state.bag[Item.TONIC] == 3


def test_menu_cursors_wrap_around(world, state) -> None:
    press(state, world, Button.START, Button.UP)
    assert state.menu_cursor == 2  # the last of the start menu's three rows
    press(state, world, Button.DOWN)
    assert state.menu_cursor == 0


def test_a_key_item_has_no_use_from_the_bag(world, state) -> None:
    state.bag[Item.FERRY_PASS] = 1
    press(state, world, Button.START, Button.DOWN, Button.A, Button.A)
    assert state.dialog == [(Msg.CANT_USE, 0, 0)] and state.bag[Item.FERRY_PASS] == 1


def test_a_finished_game_ignores_buttons_but_time_passes(world, state) -> None:
    at(state, 0, 4, 3, Direction.DOWN)
    state.finished = True
    tick = state.tick
    press(state, world, Button.DOWN, Button.START, Button.A)
    assert (state.x, state.y, state.menu, state.dialog) == (4, 3, MenuKind.NONE, [])
    assert state.tick == tick + 3


def test_a_new_episode_starts_in_the_start_house_with_3000_money_and_nothing_else(world) -> None:
    state = engine.new_state(world, seed=1)
    assert (state.map, state.x, state.y, state.facing) == world.start
    assert state.money == 3000 and state.party == [] and not any(state.bag)
    assert state.respawn == world.respawn and state.events == 0  # the house sets no event on entering


def test_a_ledge_hop_needs_free_land_beyond_it(world, state) -> None:
    person = dataclasses.replace(world.entities[0], x=2, y=5)  # where the hop over the ledge at (2, 4) lands
    world = dataclasses.replace(world, entities=(person, *world.entities[1:]))
    at(state, 0, 2, 3, Direction.DOWN)
    press(state, world, Button.DOWN)
    assert (state.x, state.y) == (2, 3)


def test_water_blocks_a_trainers_sight(world, state) -> None:
    trainer = dataclasses.replace(world.entities[9], x=6, y=3, sight=4)  # looks down over the water at (6, 5..6)
    world = dataclasses.replace(world, entities=(*world.entities[:9], trainer, *world.entities[10:]))
    state.party.append(make_mon(0, 5))
    at(state, 0, 5, 7, Direction.RIGHT)
    press(state, world, Button.RIGHT)
    assert (state.x, state.y) == (6, 7) and engine.mode(state) == Mode.OVERWORLD


def test_a_warp_ends_the_move_with_no_wild_encounter_where_it_lands(world, state) -> None:
    rows = [list(row) for row in FIELD]
    rows[2][2] = rows[3][2] = S  # the warp out of the house lands on grass at (2, 2), grass below it
    field = dataclasses.replace(world.maps[0], tiles=_tiles(rows), encounters=(Encounter(3, 2, 2, 1),),
                                encounter_rate=256)
    world = dataclasses.replace(world, maps=(field, world.maps[1]))
    state.party.append(make_mon(0, 5))
    at(state, 1, 2, 2, Direction.DOWN)
    press(state, world, Button.DOWN)
    assert (state.map, state.x, state.y) == (0, 2, 2) and engine.mode(state) == Mode.OVERWORLD


def test_save_load_round_trip_and_hash(world, state) -> None:
    state.party.append(make_mon(2, 7))
    press(state, world, Button.A, Button.DOWN, Button.DOWN, Button.START)
    data = savestate.save(state, world)
    assert len(data) < 64 * 1024
    again = savestate.load(data, world)
    assert savestate.state_hash(again) == savestate.state_hash(state)
    press(again, world, Button.B)
    assert savestate.state_hash(again) != savestate.state_hash(state)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: b"XXXX" + d[4:], "bad magic"),
    (lambda d: d[:4] + bytes([99]) + d[5:], "version 99"),
    (lambda d: d[:4] + bytes([0]) + d[5:], r"version 0 \(this longplay reads 1\)"),  # older is no better than newer
    (lambda d: d[:5] + b"garbage", "corrupt"),
    (lambda d: d[:-10], "corrupt"),
])
def test_corrupt_states_are_refused(world, state, mutate, fragment) -> None:
    with pytest.raises(GameError, match=fragment):
        savestate.load(mutate(savestate.save(state, world)), world)


def _edited(world, state, edit) -> bytes:
    """A save of ``state`` with its document changed by ``edit`` (a hand-edited save file)."""
    import json
    import zlib

    doc = json.loads(zlib.decompress(savestate.save(state, world)[5:]))
    edit(doc["state"])
    return savestate.MAGIC + bytes([savestate.VERSION]) + zlib.compress(savestate.encode_document(doc))


@pytest.mark.parametrize("edit, fragment", [
    (lambda s: s.update(money=-5), "money -5 outside 0..999999"),
    (lambda s: s.update(facing=7), "facing 7 outside"),
    (lambda s: s.update(x=500), "x 500 outside"),
    (lambda s: s.update(menu=99), "menu 99 outside"),
    (lambda s: s["bag"].__setitem__(0, 250), "bag item 0 250 outside"),
    (lambda s: s["party"][0].__setitem__(1, 0), "party 0 level 0 outside"),
    (lambda s: s["party"][0].__setitem__(3, 10_000), "party 0 hp 10000 outside"),
    (lambda s: s["battle"].update(phase=42), "battle phase 42 outside"),
    # indices the engine or the text view reads: each loaded before, then crashed the first press or view
    (lambda s: s["party"][0].__setitem__(slice(3, 5), [0, 0]), "party 0 max_hp 0 outside"),  # hp 0 of max 0
    (lambda s: s.update(respawn=[0, 40, 3]), "respawn x 40 outside"),
    (lambda s: s.update(menu=MenuKind.SHOP, menu_choice=5), "shop 5 outside"),
    (lambda s: s.update(dialog=[[Msg.TEXT, 99, 0]]), "dialog text 99 outside"),
    (lambda s: s.update(dialog=[[77, 0, 0]]), "dialog page 77 outside"),
    (lambda s: s.update(dialog=[[Msg.GOT_PARTNER, 999, 0]]), "dialog species 999 outside"),
    (lambda s: s.update(dialog=[[Msg.TEXT, 0, 0]], dialog_effect=Effect.TRAINER_BATTLE, dialog_arg=0),
     "challenging trainer's team -1 outside"),  # entity 0 is a person
    (lambda s: s.update(dialog=[[Msg.TEXT, 0, 0]], dialog_effect=Effect.OPEN_SHOP, dialog_arg=3),
     "shop to open 3 outside"),
])
def test_hand_edited_values_the_rules_never_produce_are_refused(world, state, edit, fragment) -> None:
    state.party.append(make_mon(2, 7))
    savestate.load(_edited(world, state, lambda s: None), world)  # the unedited document loads
    with pytest.raises(GameError, match=f"corrupt quest save state .*{fragment}"):
        savestate.load(_edited(world, state, edit), world)


@pytest.mark.parametrize("edit, fragment", [
    (lambda b: b.update(player_active=3), "battle player_active 3 outside 0..0"),
    (lambda b: b.update(enemy_active=2), "battle enemy_active 2 outside 0..0"),
    (lambda b: b.update(enemy=[]), "battle enemy team size 0 outside"),
    (lambda b: b.update(kind=BattleKind.TRAINER, trainer=7), "battle trainer 7 outside 0..0"),
    (lambda b: b.update(messages=[[99, 0, 0]]), "battle message 99 outside"),
    (lambda b: b.update(messages=[[BattleMsg.PLAYER_USED, 0, 999]]), "battle message move 999 outside"),
])
def test_hand_edited_battles_the_rules_never_produce_are_refused(world, state, edit, fragment) -> None:
    """A battle's indices are checked on loading like the rest (an out-of-range active creature, enemy, trainer
    or message loaded, then the first press or text view raised IndexError or KeyError)."""
    from longplay.envs.quest import battle

    state.party.append(make_mon(2, 7))
    battle.start_wild(state, world, 3, 4)
    savestate.load(_edited(world, state, lambda s: None), world)  # the unedited battle loads
    with pytest.raises(GameError, match=f"corrupt quest save state .*{fragment}"):
        savestate.load(_edited(world, state, lambda s: edit(s["battle"])), world)


def test_values_one_past_the_end_of_their_range_are_refused(world, state) -> None:
    """The last value a range holds loads and the next is refused (each check was tried with values far out)."""
    width = world.maps[state.map].width
    respawn_map = state.respawn[0]
    respawn_width = world.maps[respawn_map].width
    events = 2 ** len(world.events)
    for edit, fragment in [
        (lambda s: s.update(x=width - 1), None),
        (lambda s: s.update(x=width), f"x {width} outside 0..{width - 1}"),
        (lambda s: s.update(respawn=[respawn_map, respawn_width - 1, 0]), None),
        (lambda s: s.update(respawn=[respawn_map, respawn_width, 0]), f"respawn x {respawn_width} outside"),
        (lambda s: s.update(ward_steps=WARD_STEPS), None),
        (lambda s: s.update(ward_steps=WARD_STEPS + 1), f"ward_steps {WARD_STEPS + 1} outside"),
        (lambda s: s.update(events=events - 1), None),
        (lambda s: s.update(events=events), f"events {events} outside"),
    ]:
        if fragment is None:
            savestate.load(_edited(world, state, edit), world)
        else:
            with pytest.raises(GameError, match=f"corrupt quest save state .*{fragment}"):
                savestate.load(_edited(world, state, edit), world)


def test_foreign_state_is_refused(world, state) -> None:
    other = tiny_world(ability_badge=(-1, -1, -1))
    other = World(**{**other.__dict__, "seed": 5})
    with pytest.raises(GameError, match="another world"):
        savestate.load(savestate.save(state, world), other)
    # the same size and seed, another layout (another generator or rules version): another world all the same
    first = world.maps[0]
    corner = Tile.TALL_GRASS if first.tiles[0] == Tile.WALL else Tile.WALL
    tiles = bytes([corner]) + first.tiles[1:]
    changed = dataclasses.replace(world, maps=(dataclasses.replace(first, tiles=tiles), *world.maps[1:]))
    with pytest.raises(GameError, match="another world"):
        savestate.load(savestate.save(state, world), changed)


@pytest.mark.parametrize("button", [-1, 8, 99])
def test_the_game_refuses_a_button_that_does_not_exist(button: int) -> None:
    """``QuestGame.press(-1)`` turned the player to facing -1 (no button makes that state) and 8 or 99 silently
    used up a tick; the env checks its actions, the game's own API did not."""
    from longplay.envs.quest.game import QuestGame

    game = QuestGame()
    game.reset(0)
    before = game.save_state()
    with pytest.raises(ValueError, match="invalid button"):
        game.press(button)
    assert game.save_state() == before
    game.press(None)  # no button is still a press
    game.press(Button.UP)
    assert game.raw.tick == 2
