"""Tests of quest battles: the damage rules, every battle screen, catching, running, trainers and endings.

States are built by hand over a tiny hand-made world; random outcomes are forced by searching for a tick
whose draw passes (or fails), exactly as the rules read the counter-based stream.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import pytest

from longplay.envs.game import Button
from longplay.envs.quest import battle, party
from longplay.envs.quest.battle import BattleMsg, Outcome
from longplay.envs.quest.constants import (
    BOX_SIZE,
    MAX_LEVEL,
    MOVE_SLOTS,
    NUM_ITEMS,
    PARTY_SIZE,
    TEXT_COLS,
    BattleKind,
    BattlePhase,
    Effect,
    EntityKind,
    Item,
    MapKind,
    Rng,
    Tile,
    Type,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.rng import rand, rand_below
from longplay.envs.quest.state import Battle, EntityDef, EventDef, MapDef, Mon, QuestState, TrainerDef, World

EMBERCUB, PUDDLET, SPROUTLING, BURROWBIT = 0, 1, 2, 3
BUMP, SCRATCH_CLAW, CINDER, SPLASH_JET, LEAF_FLICK, PEBBLE_TOSS = 0, 1, 2, 3, 4, 5
UP, DOWN, LEFT, RIGHT = Button.UP, Button.DOWN, Button.LEFT, Button.RIGHT
A, B, START = Button.A, Button.B, Button.START
KEY = 12345

# Events of the test world.
EV_WILD_WIN, EV_CATCH, EV_TRAINER_WIN, EV_LEADER, EV_BADGE = 0, 1, 2, 3, 4

# ============================================================================================ builders


def make_world(**changes: object) -> World:
    """A 5x5 lawn with one trainer entity: a leader with two creatures who gives badge 0 and event 3."""
    leader = TrainerDef(0, "Ashe", "Leader", ((SPROUTLING, 5), (BURROWBIT, 6)), money=500, rank=1, badge=0,
                        event=EV_LEADER, defeat_text=0)
    world = World(
        size="mini", seed=0, name="test",
        maps=(MapDef(0, "Lawn", MapKind.TOWN, 5, 5, bytes([Tile.GROUND]) * 25),),
        warps=(),
        entities=(EntityDef(0, EntityKind.TRAINER, 0, 2, 2, trainer=0),),
        trainers=(leader,),
        texts=("You are strong!",),
        shops=(),
        events=tuple(EventDef(i, f"ev{i}", f"Event {i}") for i in range(5)),
        start=(0, 2, 2, 1), respawn=(0, 1, 1),
        badge_names=("Test",), badge_events=(EV_BADGE,), ability_badge=(0, -1, -1),
        ev_first_wild_win=EV_WILD_WIN, ev_first_catch=EV_CATCH, ev_first_trainer_win=EV_TRAINER_WIN,
    )
    return replace(world, **changes)


def make_mon(species: int, level: int = 10, *, moves: list[int] | None = None, **stats: int) -> Mon:
    """``party.make_mon`` with chosen moves (full PP) and stats overridden (``hp`` also sets ``max_hp`` if
    it is larger)."""
    mon = party.make_mon(species, level)
    if moves is not None:
        mon.moves = moves + [-1] * (MOVE_SLOTS - len(moves))
        mon.pp = [MOVES[m].pp if m >= 0 else 0 for m in mon.moves]
    for name, value in stats.items():
        setattr(mon, name, value)
    mon.max_hp = max(mon.max_hp, mon.hp)
    return mon


def make_state(*team: Mon, money: int = 1000) -> QuestState:
    bag = [0] * NUM_ITEMS
    return QuestState(
        key=KEY, tick=0, map=0, x=2, y=2, facing=1, surfing=False, party=list(team), box=[], bag=bag,
        money=money, events=0, done=bytearray(1), entity_x=bytearray([2]), entity_y=bytearray([2]),
        respawn=(0, 1, 1), ward_steps=0, dialog=[], dialog_effect=0, dialog_arg=0, menu=0, menu_cursor=0,
        menu_choice=-1, battle=Battle(),
    )


def push(state: QuestState, world: World, *buttons: int) -> None:
    """Presses buttons as the engine does: the tick advances before each press."""
    for button in buttons:
        state.tick += 1
        battle.press(state, world, button)


def read_messages(state: QuestState, world: World) -> list[tuple[int, int, int]]:
    """Pages through the message queue with A; returns the messages shown."""
    shown = []
    while state.battle.kind != BattleKind.NONE and state.battle.phase == BattlePhase.MESSAGE:
        shown.append(state.battle.messages[0])
        push(state, world, A)
    return shown


def kinds(messages: list[tuple[int, int, int]]) -> list[int]:
    return [m[0] for m in messages]


def wild(world: World, team: list[Mon], enemy: Mon, **state_args: int) -> QuestState:
    """A wild battle against ``enemy`` (its stats as given), intro read, at MAIN."""
    state = make_state(*team, **state_args)
    battle.start_wild(state, world, enemy.species, enemy.level)
    state.battle.enemy[0] = enemy
    read_messages(state, world)
    assert state.battle.phase == BattlePhase.MAIN
    return state


def trainer_battle(world: World, team: list[Mon]) -> QuestState:
    state = make_state(*team)
    battle.start_trainer(state, world, 0, 0)
    read_messages(state, world)
    return state


def tick_where(predicate: Callable[[int], bool], start: int = 1) -> int:
    """The first tick from ``start`` whose draws satisfy ``predicate``."""
    return next(t for t in range(start, start + 100_000) if predicate(t))


def press_at(state: QuestState, world: World, tick: int, button: int) -> None:
    """Presses ``button`` so that it runs at ``tick``."""
    state.tick = tick - 1
    push(state, world, button)


def enemy_misses(t: int, accuracy: int = 90) -> bool:
    return rand_below(KEY, t, Rng.ENEMY_HIT, 100) >= accuracy


# ============================================================================================ damage rules


def test_damage_hand_computed() -> None:
    # base = ((2*20//5 + 2) * 40 * 40 // 25) // 50 + 2 = (10*1600//25)//50 + 2 = 640//50 + 2 = 14
    # STAB: 14*3//2 = 21; fire on plant 21*20//10 = 42; on ice 42*20//10 = 84; spread 84*227//255 = 74
    fire, plant_ice = (Type.FIRE, Type.FIRE), (Type.PLANT, Type.ICE)
    assert battle.damage(20, 40, 40, 25, Type.FIRE, fire, plant_ice, False, 10) == 74
    # critical doubles before the spread: 168*227//255 = 149
    assert battle.damage(20, 40, 40, 25, Type.FIRE, fire, plant_ice, True, 10) == 149
    # base = (4*40*10//9)//50 + 2 = 177//50 + 2 = 5; neutral, no STAB; spread 38 keeps it, 0 takes 217/255
    normal = (Type.NORMAL, Type.NORMAL)
    assert battle.damage(5, 40, 10, 9, Type.NORMAL, (Type.FIRE, Type.FIRE), normal, False, 38) == 5
    assert battle.damage(5, 40, 10, 9, Type.NORMAL, (Type.FIRE, Type.FIRE), normal, False, 0) == 4


def test_same_type_bonus() -> None:
    fire, normal = (Type.FIRE, Type.FIRE), (Type.NORMAL, Type.NORMAL)
    assert battle.damage(5, 40, 10, 9, Type.FIRE, normal, normal, False, 38) == 5
    assert battle.damage(5, 40, 10, 9, Type.FIRE, fire, normal, False, 38) == 7  # 5*3//2
    water_fire = (Type.WATER, Type.FIRE)
    assert battle.damage(5, 40, 10, 9, Type.FIRE, water_fire, normal, False, 38) == 7  # second type


def test_effectiveness_single_dual_and_immune() -> None:
    assert battle.effectiveness(Type.FIRE, (Type.PLANT, Type.PLANT)) == 20  # a repeated type counts once
    assert battle.effectiveness(Type.FIRE, (Type.PLANT, Type.ICE)) == 40
    assert battle.effectiveness(Type.FIRE, (Type.PLANT, Type.WATER)) == 10
    assert battle.effectiveness(Type.FIRE, (Type.WATER, Type.STONE)) == 2  # 10*5//10*5//10
    assert battle.effectiveness(Type.ELECTRIC, (Type.GROUND, Type.GROUND)) == 0
    assert battle.effectiveness(Type.GROUND, (Type.FIRE, Type.AIR)) == 0
    # immune: no damage even on a critical hit; single vs dual typing in the damage itself
    electric, water_ground = (Type.ELECTRIC,) * 2, (Type.WATER, Type.GROUND)
    assert battle.damage(50, 90, 99, 5, Type.ELECTRIC, electric, water_ground, True, 38) == 0
    single = battle.damage(20, 40, 40, 25, Type.FIRE, (Type.NORMAL,) * 2, (Type.PLANT,) * 2, False, 38)
    assert single == (640 // 50 + 2) * 20 // 10  # 28: doubled once, not twice
    # not very effective twice still does at least 1
    assert battle.damage(1, 10, 1, 255, Type.FIRE, (Type.WATER,) * 2, (Type.WATER, Type.STONE), False, 0) == 1


def test_catch_chance_and_run_odds() -> None:
    # Burrowbit's catch rate 255, Orb x1.0: a full-HP creature is a third as easy as a nearly fainted one
    assert battle.catch_chance(BURROWBIT, Item.ORB, 30, 30) == 255 * 30 // 90
    assert battle.catch_chance(BURROWBIT, Item.ORB, 1, 30) == 255 * 88 // 90
    assert battle.catch_chance(BURROWBIT, Item.PRIME_ORB, 1, 30) == 255  # clipped
    assert battle.catch_chance(EMBERCUB, Item.ORB, 30, 30) == 15
    assert battle.run_odds(20, 20) == 256 and battle.run_odds(30, 20) == 256
    assert battle.run_odds(10, 20) == 10 * 128 // 20 + 30


def test_exp_yield() -> None:
    base = SPECIES[SPROUTLING].base_exp
    assert battle.exp_yield(SPROUTLING, 5, False) == base * 5 // 7
    assert battle.exp_yield(SPROUTLING, 5, True) == base * 5 // 7 * 3 // 2


# ============================================================================================ starting


def test_start_wild_intro_then_main() -> None:
    world = make_world()
    fainted, able = make_mon(EMBERCUB, hp=0), make_mon(PUDDLET)
    state = make_state(fainted, able)
    battle.start_wild(state, world, SPROUTLING, 4)
    b = state.battle
    assert b.kind == BattleKind.WILD and b.phase == BattlePhase.MESSAGE and b.outcome == Outcome.CONTINUE
    assert b.player_active == 1  # the first creature able to fight
    assert b.enemy[0] == party.make_mon(SPROUTLING, 4)
    assert b.messages == [(BattleMsg.WILD_APPEARED, SPROUTLING, 0), (BattleMsg.GO, PUDDLET, 0)]
    push(state, world, START, UP)  # other buttons don't page
    assert len(b.messages) == 2
    push(state, world, A, B)
    assert b.phase == BattlePhase.MAIN and b.cursor == 0


def test_start_trainer_and_no_able_creature() -> None:
    world = make_world()
    state = make_state(make_mon(EMBERCUB))
    battle.start_trainer(state, world, 0, 0)
    b = state.battle
    assert b.kind == BattleKind.TRAINER and b.trainer == 0 and b.entity == 0
    assert [m.species for m in b.enemy] == [SPROUTLING, BURROWBIT]
    assert kinds(b.messages) == [BattleMsg.TRAINER_CHALLENGE, BattleMsg.TRAINER_SENT_OUT, BattleMsg.GO]
    nobody = make_state(make_mon(EMBERCUB, hp=0))
    battle.start_wild(nobody, world, SPROUTLING, 4)
    assert nobody.battle.kind == BattleKind.NONE
    battle.press(nobody, world, A)  # no battle: nothing happens
    assert nobody.battle == Battle()


# ============================================================================================ menus


def test_main_grid_navigation() -> None:
    world = make_world()
    state = wild(world, [make_mon(EMBERCUB)], make_mon(SPROUTLING))
    b = state.battle
    seen = []
    for button in (RIGHT, DOWN, LEFT, UP, DOWN, RIGHT, UP, LEFT, B, START):
        push(state, world, button)
        seen.append(b.cursor)
    assert seen == [1, 3, 2, 0, 2, 3, 1, 0, 0, 0]
    assert b.phase == BattlePhase.MAIN


def test_sub_menus_open_and_back() -> None:
    world = make_world()
    state = wild(world, [make_mon(EMBERCUB), make_mon(PUDDLET)], make_mon(SPROUTLING))
    b = state.battle
    state.bag[Item.TONIC], state.bag[Item.ORB], state.bag[Item.FERRY_PASS] = 1, 2, 1
    assert battle.battle_items(state) == [Item.TONIC, Item.ORB]  # key items are not listed
    push(state, world, A)
    assert b.phase == BattlePhase.FIGHT and b.cursor == 0
    push(state, world, DOWN, DOWN, DOWN, DOWN)  # Embercub knows 3 moves at level 10: the cursor stops on the last
    assert b.cursor == 2
    push(state, world, UP, UP, LEFT)
    assert b.cursor == 0
    push(state, world, B)
    assert (b.phase, b.cursor) == (BattlePhase.MAIN, 0)
    push(state, world, RIGHT, A, DOWN, DOWN)
    assert (b.phase, b.cursor) == (BattlePhase.BAG, 1)
    push(state, world, B)
    assert (b.phase, b.cursor) == (BattlePhase.MAIN, 1)
    push(state, world, LEFT, DOWN, A, DOWN, DOWN)
    assert (b.phase, b.cursor) == (BattlePhase.PARTY, 1)
    push(state, world, B)
    assert (b.phase, b.cursor) == (BattlePhase.MAIN, 2)
    assert b.turns == 0  # browsing menus uses no turn


# ============================================================================================ fighting


def test_fight_hits_with_the_formula_and_messages() -> None:
    world = make_world()
    me = make_mon(EMBERCUB, moves=[CINDER], speed=50)
    foe = make_mon(SPROUTLING, moves=[PEBBLE_TOSS], hp=200, speed=10)
    state = wild(world, [me], foe)
    # a tick where the player's hit is critical and the enemy misses (its move has 90 accuracy)
    t = tick_where(lambda t: rand(KEY, t, Rng.PLAYER_CRIT) % 16 == 0 and enemy_misses(t))
    push(state, world, A)
    press_at(state, world, t, A)
    spread = rand_below(KEY, t, Rng.PLAYER_DAMAGE, 39)
    dealt = battle.damage(me.level, MOVES[CINDER].power, me.attack, foe.defense, Type.FIRE,
                          SPECIES[EMBERCUB].types, SPECIES[SPROUTLING].types, True, spread)
    assert foe.hp == 200 - dealt
    assert me.pp[0] == MOVES[CINDER].pp - 1 and foe.pp[0] == MOVES[PEBBLE_TOSS].pp - 1
    assert state.battle.messages == [
        (BattleMsg.PLAYER_USED, EMBERCUB, CINDER), (BattleMsg.CRITICAL, 0, 0),
        (BattleMsg.SUPER_EFFECTIVE, 0, 0),
        (BattleMsg.ENEMY_USED, SPROUTLING, PEBBLE_TOSS), (BattleMsg.ENEMY_MISSED, SPROUTLING, 0),
    ]
    assert state.battle.turns == 1
    read_messages(state, world)
    assert (state.battle.phase, state.battle.cursor) == (BattlePhase.MAIN, 0)


def test_not_very_effective_and_no_effect_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world()
    # Cinder on a water creature: not very effective
    state = wild(world, [make_mon(EMBERCUB, moves=[CINDER], speed=50)], make_mon(PUDDLET, hp=300, speed=1))
    t = tick_where(lambda t: rand(KEY, t, Rng.PLAYER_CRIT) % 16 != 0)
    push(state, world, A)
    press_at(state, world, t, A)
    assert kinds(state.battle.messages)[:2] == [BattleMsg.PLAYER_USED, BattleMsg.NOT_EFFECTIVE]
    # an electric move on a ground creature: no effect and no damage (test-only content appended)
    zap = len(MOVES)
    mole = len(SPECIES)
    monkeypatch.setattr(battle, "MOVES", (*MOVES, replace(MOVES[BUMP], name="Zap", type=Type.ELECTRIC)))
    monkeypatch.setattr(battle, "SPECIES", (*SPECIES, replace(SPECIES[BURROWBIT], name="Mole",
                                                               types=(Type.GROUND, Type.GROUND))))
    me = make_mon(EMBERCUB, speed=50)
    me.moves, me.pp = [zap, -1, -1, -1], [10, 0, 0, 0]
    foe = make_mon(BURROWBIT, hp=300, speed=1)
    state = wild(world, [me], foe)
    foe.species = mole
    push(state, world, A, A)
    assert foe.hp == 300
    assert state.battle.messages[:2] == [(BattleMsg.PLAYER_USED, EMBERCUB, zap), (BattleMsg.NO_EFFECT, 0, 0)]


def test_turn_order_by_speed_and_tie() -> None:
    world = make_world()

    def order(my_speed: int, foe_speed: int, tick: int) -> list[int]:
        me = make_mon(EMBERCUB, moves=[BUMP], hp=500, speed=my_speed)
        state = wild(world, [me], make_mon(SPROUTLING, moves=[BUMP], hp=500, speed=foe_speed))
        push(state, world, A)
        press_at(state, world, tick, A)
        return [k for k in kinds(state.battle.messages) if k in (BattleMsg.PLAYER_USED, BattleMsg.ENEMY_USED)]

    mine = [BattleMsg.PLAYER_USED, BattleMsg.ENEMY_USED]
    theirs = mine[::-1]
    assert order(20, 10, 50) == mine
    assert order(10, 20, 50) == theirs
    even = tick_where(lambda t: rand(KEY, t, Rng.FIRST_MOVER) & 1 == 0, 10)
    odd = tick_where(lambda t: rand(KEY, t, Rng.FIRST_MOVER) & 1 == 1, 10)
    assert order(15, 15, even) == mine
    assert order(15, 15, odd) == theirs


def test_fainted_first_target_does_not_act() -> None:
    world = make_world()
    me = make_mon(EMBERCUB, moves=[BUMP], speed=50)
    state = wild(world, [me], make_mon(SPROUTLING, hp=1, speed=10))
    push(state, world, A, A)
    assert BattleMsg.ENEMY_USED not in kinds(state.battle.messages)
    assert state.battle.outcome == Outcome.WIN


def test_pp_used_no_pp_refused_and_struggle() -> None:
    world = make_world()
    me = make_mon(EMBERCUB, moves=[BUMP, CINDER], hp=500, speed=50)
    me.pp[1] = 0
    foe = make_mon(SPROUTLING, moves=[BUMP], hp=500, speed=10)
    state = wild(world, [me], foe)
    push(state, world, A, DOWN, A)
    assert state.battle.messages == [(BattleMsg.NO_PP, 0, 0)]
    assert state.battle.turns == 0 and foe.hp == 500
    read_messages(state, world)
    assert (state.battle.phase, state.battle.cursor) == (BattlePhase.MAIN, 0)
    push(state, world, A, A)
    assert me.pp == [MOVES[BUMP].pp - 1, 0, 0, 0] and state.battle.turns == 1
    read_messages(state, world)
    # no PP anywhere: FIGHT struggles with Bump at once, at no PP cost
    me.pp = [0, 0, 0, 0]
    hp = foe.hp
    push(state, world, A)
    assert state.battle.messages[:2] == [(BattleMsg.NO_MOVES_LEFT, EMBERCUB, 0),
                                         (BattleMsg.PLAYER_USED, EMBERCUB, BUMP)]
    assert me.pp == [0, 0, 0, 0] and foe.hp < hp


def test_enemy_move_choice_is_uniform_over_moves_with_pp_and_deterministic() -> None:
    world = make_world()

    def enemy_move(foe_moves: list[int], foe_pp: list[int], tick: int) -> tuple[int, list[int]]:
        foe = make_mon(SPROUTLING, moves=foe_moves, hp=500, speed=1)
        foe.pp[:len(foe_pp)] = foe_pp
        state = wild(world, [make_mon(EMBERCUB, moves=[BUMP], hp=500, speed=50)], foe)
        push(state, world, A)
        press_at(state, world, tick, A)
        used = [m for m in state.battle.messages if m[0] == BattleMsg.ENEMY_USED]
        return used[0][2], foe.pp

    chosen = set()
    for t in range(20, 40):
        move, _ = enemy_move([BUMP, LEAF_FLICK, PEBBLE_TOSS], [5, 0, 5], t)
        expected = [BUMP, PEBBLE_TOSS][rand_below(KEY, t, Rng.ENEMY_MOVE, 2)]
        assert move == expected  # the move without PP is never chosen
        again, _ = enemy_move([BUMP, LEAF_FLICK, PEBBLE_TOSS], [5, 0, 5], t)
        assert again == move  # same key and tick, same move
        chosen.add(move)
    assert chosen == {BUMP, PEBBLE_TOSS}
    move, pp = enemy_move([LEAF_FLICK, PEBBLE_TOSS], [0, 0], 20)
    assert move == BUMP and pp == [0, 0, 0, 0]  # struggle: Bump, free


# ============================================================================ fainting and switching


def test_active_faints_then_forced_switch() -> None:
    world = make_world()
    first = make_mon(EMBERCUB, hp=1, speed=1)
    second = make_mon(PUDDLET, hp=0)
    third = make_mon(SPROUTLING)
    foe = make_mon(BURROWBIT, moves=[BUMP], speed=99)
    state = wild(world, [first, second, third], foe)
    push(state, world, A, A)
    b = state.battle
    assert kinds(b.messages) == [BattleMsg.ENEMY_USED, BattleMsg.PLAYER_FAINTED]
    assert b.outcome == Outcome.CONTINUE
    read_messages(state, world)
    assert (b.phase, b.cursor) == (BattlePhase.FORCED_SWITCH, 2)  # on the first able member
    push(state, world, B)
    assert b.phase == BattlePhase.FORCED_SWITCH
    push(state, world, UP, A)  # a fainted member can't be sent
    assert (b.phase, b.cursor) == (BattlePhase.FORCED_SWITCH, 1)
    push(state, world, DOWN, DOWN, DOWN, A)
    assert b.player_active == 2 and b.messages == [(BattleMsg.GO, SPROUTLING, 0)]
    turns, foe_pp = b.turns, list(foe.pp)
    read_messages(state, world)
    assert b.phase == BattlePhase.MAIN and b.turns == turns and foe.pp == foe_pp  # no enemy attack


def test_switch_from_party_uses_the_turn() -> None:
    world = make_world()
    first, fainted, other = make_mon(EMBERCUB), make_mon(PUDDLET, hp=0), make_mon(SPROUTLING, hp=400)
    state = wild(world, [first, fainted, other], make_mon(BURROWBIT, moves=[BUMP]))
    b = state.battle
    push(state, world, DOWN, A, A)  # the active one: nothing
    assert b.phase == BattlePhase.PARTY and b.turns == 0
    push(state, world, DOWN, A)  # fainted: nothing
    assert b.phase == BattlePhase.PARTY and b.turns == 0
    push(state, world, DOWN, DOWN, A)
    assert b.player_active == 2 and b.turns == 1
    assert b.messages[:3] == [(BattleMsg.COME_BACK, EMBERCUB, 0), (BattleMsg.GO, SPROUTLING, 0),
                              (BattleMsg.ENEMY_USED, BURROWBIT, BUMP)]
    assert other.hp < 400 and first.hp == first.max_hp  # the newcomer took the hit


# ============================================================================================ items


def test_healing_item_heals_the_active_and_uses_the_turn() -> None:
    world = make_world()
    me = make_mon(EMBERCUB, hp=10)
    me.max_hp = 40
    state = wild(world, [me], make_mon(SPROUTLING, moves=[PEBBLE_TOSS]))
    state.bag[Item.TONIC] = 2
    push(state, world, RIGHT, A)
    press_at(state, world, tick_where(enemy_misses, 10), A)
    assert state.battle.messages == [
        (BattleMsg.USED_ITEM, Item.TONIC, 0), (BattleMsg.RECOVERED, EMBERCUB, 20),
        (BattleMsg.ENEMY_USED, SPROUTLING, PEBBLE_TOSS), (BattleMsg.ENEMY_MISSED, SPROUTLING, 0),
    ]
    assert me.hp == 30 and state.bag[Item.TONIC] == 1 and state.battle.turns == 1
    read_messages(state, world)
    state.bag[Item.MAX_TONIC] = 1
    push(state, world, RIGHT, A, DOWN)
    press_at(state, world, tick_where(enemy_misses, 100), A)
    assert state.battle.messages[1] == (BattleMsg.RECOVERED, EMBERCUB, 10)  # capped at max HP
    assert me.hp == 40 and state.bag[Item.MAX_TONIC] == 0
    read_messages(state, world)
    push(state, world, RIGHT, A, A)  # full HP: no effect, nothing used
    assert state.battle.messages == [(BattleMsg.ITEM_NO_EFFECT, 0, 0)]
    assert state.bag[Item.TONIC] == 1 and state.battle.turns == 2


def test_revival_herb_revives_the_first_fainted_member() -> None:
    world = make_world()
    me, down1, down2 = make_mon(EMBERCUB, hp=500), make_mon(PUDDLET, hp=0), make_mon(SPROUTLING, hp=0)
    state = wild(world, [me, down1, down2], make_mon(BURROWBIT, moves=[BUMP]))
    state.bag[Item.REVIVAL_HERB] = 1
    push(state, world, RIGHT, A, A)
    assert down1.hp == down1.max_hp // 2 and down2.hp == 0 and state.bag[Item.REVIVAL_HERB] == 0
    assert kinds(state.battle.messages)[:3] == [BattleMsg.USED_ITEM, BattleMsg.REVIVED, BattleMsg.ENEMY_USED]
    read_messages(state, world)
    nobody_down = wild(world, [make_mon(EMBERCUB)], make_mon(BURROWBIT))
    nobody_down.bag[Item.REVIVAL_HERB] = 1
    push(nobody_down, world, RIGHT, A, A)
    assert nobody_down.battle.messages == [(BattleMsg.ITEM_NO_EFFECT, 0, 0)]
    assert nobody_down.bag[Item.REVIVAL_HERB] == 1


# ============================================================================================ catching


def _catch_state(world: World, team: list[Mon] | None = None) -> tuple[QuestState, Mon]:
    foe = make_mon(SPROUTLING, 5, moves=[PEBBLE_TOSS])
    state = wild(world, team or [make_mon(EMBERCUB, hp=500)], foe)
    state.bag[Item.ORB] = 3
    push(state, world, RIGHT, A)  # BAG, cursor on the Orb
    return state, foe


def _catch_roll(t: int) -> int:
    return rand(KEY, t, Rng.CATCH) & 255


def test_catch_success_joins_the_party() -> None:
    world = make_world()
    state, foe = _catch_state(world)
    chance = battle.catch_chance(SPROUTLING, Item.ORB, foe.hp, foe.max_hp)
    press_at(state, world, tick_where(lambda t: _catch_roll(t) < chance, 10), A)
    assert state.battle.messages == [(BattleMsg.THREW_ORB, Item.ORB, 0), (BattleMsg.CAUGHT, SPROUTLING, 0)]
    assert state.battle.outcome == Outcome.CAUGHT and state.bag[Item.ORB] == 2
    read_messages(state, world)
    assert state.battle == Battle()
    assert [m.species for m in state.party] == [EMBERCUB, SPROUTLING] and state.party[1] is not foe
    assert state.has_event(EV_CATCH) and not state.has_event(EV_WILD_WIN) and state.dialog == []


def test_catch_failure_enemy_attacks() -> None:
    world = make_world()
    state, foe = _catch_state(world)
    chance = battle.catch_chance(SPROUTLING, Item.ORB, foe.hp, foe.max_hp)
    press_at(state, world, tick_where(lambda t: _catch_roll(t) >= chance, 10), A)
    assert kinds(state.battle.messages)[:3] == [BattleMsg.THREW_ORB, BattleMsg.BROKE_FREE,
                                                BattleMsg.ENEMY_USED]
    assert state.bag[Item.ORB] == 2 and state.battle.outcome == Outcome.CONTINUE
    read_messages(state, world)
    assert state.battle.phase == BattlePhase.MAIN and len(state.party) == 1


@pytest.mark.parametrize("box_len, page", [(0, Msg.CAUGHT_TO_BOX), (BOX_SIZE, Msg.BOX_FULL)])
def test_catch_with_a_full_party(box_len: int, page: int) -> None:
    world = make_world()
    team = [make_mon(EMBERCUB, hp=500) for _ in range(PARTY_SIZE)]
    state, foe = _catch_state(world, team)
    state.box = [make_mon(PUDDLET) for _ in range(box_len)]
    chance = battle.catch_chance(SPROUTLING, Item.ORB, foe.hp, foe.max_hp)
    press_at(state, world, tick_where(lambda t: _catch_roll(t) < chance, 10), A)
    read_messages(state, world)
    assert len(state.party) == PARTY_SIZE
    assert len(state.box) == min(BOX_SIZE, box_len + 1)
    assert state.dialog == [(page, SPROUTLING, 0)] and state.has_event(EV_CATCH)


def test_no_catching_a_trainers_creature() -> None:
    world = make_world()
    state = trainer_battle(world, [make_mon(EMBERCUB)])
    state.bag[Item.ORB] = 1
    push(state, world, RIGHT, A, A)
    assert state.battle.messages == [(BattleMsg.CANT_CATCH, 0, 0)]
    assert state.bag[Item.ORB] == 1 and state.battle.turns == 0
    read_messages(state, world)
    assert state.battle.phase == BattlePhase.MAIN


# ============================================================================================ running


def test_run_when_faster_always_escapes() -> None:
    world = make_world()
    state = wild(world, [make_mon(EMBERCUB, speed=20)], make_mon(SPROUTLING, speed=20))
    push(state, world, RIGHT, DOWN, A)
    assert state.battle.messages == [(BattleMsg.GOT_AWAY, 0, 0)] and state.battle.outcome == Outcome.FLEE
    read_messages(state, world)
    assert state.battle == Battle() and state.events == 0 and state.dialog == []


def test_run_when_slower_succeeds_or_fails_by_the_draw() -> None:
    world = make_world()
    odds = battle.run_odds(10, 40)

    def run_at(tick: int) -> QuestState:
        foe = make_mon(SPROUTLING, moves=[BUMP], speed=40)
        state = wild(world, [make_mon(EMBERCUB, hp=500, speed=10)], foe)
        push(state, world, RIGHT, DOWN)
        press_at(state, world, tick, A)
        return state

    escaped = run_at(tick_where(lambda t: rand_below(KEY, t, Rng.RUN, 256) < odds, 10))
    assert escaped.battle.outcome == Outcome.FLEE
    stuck = run_at(tick_where(lambda t: rand_below(KEY, t, Rng.RUN, 256) >= odds, 10))
    assert kinds(stuck.battle.messages) == [BattleMsg.RUN_FAILED, BattleMsg.ENEMY_USED]
    assert stuck.battle.turns == 1 and stuck.party[0].hp < 500


def test_no_running_from_a_trainer() -> None:
    world = make_world()
    state = trainer_battle(world, [make_mon(EMBERCUB, speed=99)])
    push(state, world, DOWN, RIGHT, A)
    assert state.battle.messages == [(BattleMsg.CANT_ESCAPE, 0, 0)] and state.battle.turns == 0
    read_messages(state, world)
    assert state.battle.kind == BattleKind.TRAINER and state.battle.phase == BattlePhase.MAIN


# ============================================================================ trainers and endings


def _beat_trainer(world: World, money: int = 1000) -> tuple[QuestState, list[tuple[int, int, int]]]:
    me = make_mon(EMBERCUB, 30, moves=[BUMP], speed=99)
    state = trainer_battle(world, [me])
    state.money = money
    state.battle.enemy[0].hp = 1
    push(state, world, A, A)
    first = read_messages(state, world)
    assert state.battle.enemy_active == 1 and state.battle.phase == BattlePhase.MAIN
    state.battle.enemy[1].hp = 1
    push(state, world, A, A)
    return state, first + read_messages(state, world)


def test_trainer_sends_the_next_creature_then_loses() -> None:
    world = make_world()
    state, shown = _beat_trainer(world)
    exp1, exp2 = battle.exp_yield(SPROUTLING, 5, True), battle.exp_yield(BURROWBIT, 6, True)
    assert shown == [
        (BattleMsg.PLAYER_USED, EMBERCUB, BUMP), (BattleMsg.ENEMY_FAINTED, SPROUTLING, 0),
        (BattleMsg.GAINED_EXP, EMBERCUB, exp1), (BattleMsg.TRAINER_SENT_OUT, 0, BURROWBIT),
        (BattleMsg.PLAYER_USED, EMBERCUB, BUMP), (BattleMsg.ENEMY_FAINTED, BURROWBIT, 0),
        (BattleMsg.GAINED_EXP, EMBERCUB, exp2), (BattleMsg.TRAINER_DEFEATED, 0, 0),
        (BattleMsg.DEFEAT_TEXT, 0, 0),
    ]
    assert state.battle == Battle()
    assert state.done[0] == 1 and state.money == 1500
    for event in (EV_TRAINER_WIN, EV_LEADER, EV_BADGE):
        assert state.has_event(event)
    assert not state.has_event(EV_WILD_WIN)
    assert state.dialog == [(Msg.GOT_MONEY, 500, 0), (Msg.GOT_BADGE, 0, 0), (Msg.UNLOCKED, 0, 0)]
    assert state.dialog_effect == Effect.NONE and not state.finished


def test_beating_the_final_trainer_finishes_and_money_is_capped() -> None:
    world = make_world(ev_finish=EV_LEADER)
    state, _ = _beat_trainer(world, money=999_800)
    assert state.money == 999_999
    assert state.dialog[-1] == (Msg.FINISHED, 0, 0) and state.dialog_effect == Effect.FINISH


def test_the_game_finishes_when_the_closing_page_is_dismissed_not_at_the_final_milestone() -> None:
    """README and the game docstring said the episode ends when the last milestone is reached; the event (and
    its reward) comes as the battle ends, ``finished`` (``terminated``) only once its pages are read."""
    world = make_world(ev_finish=EV_LEADER)
    state, _ = _beat_trainer(world)
    from longplay.envs.quest import engine

    assert state.has_event(EV_LEADER) and not state.finished
    pages = len(state.dialog)
    assert pages >= 2 and state.dialog[-1] == (Msg.FINISHED, 0, 0)
    for _ in range(pages - 1):
        engine.step(state, world, A)
        assert not state.finished
    engine.step(state, world, A)  # the closing page
    assert state.finished and state.dialog == []


def test_plain_trainer_without_badge_or_text() -> None:
    plain = TrainerDef(0, "Bo", "Hiker", ((SPROUTLING, 3),), money=0)
    world = make_world(trainers=(plain,))
    state = trainer_battle(world, [make_mon(EMBERCUB, 20, moves=[BUMP], speed=99)])
    state.battle.enemy[0].hp = 1
    push(state, world, A, A)
    shown = read_messages(state, world)
    assert kinds(shown)[-1] == BattleMsg.TRAINER_DEFEATED
    assert state.dialog == [] and state.has_event(EV_TRAINER_WIN) and not state.has_event(EV_BADGE)


def test_wild_win_sets_the_event() -> None:
    world = make_world()
    state = wild(world, [make_mon(EMBERCUB, moves=[BUMP], speed=99)], make_mon(SPROUTLING, hp=1))
    push(state, world, A, A)
    read_messages(state, world)
    assert state.battle == Battle() and state.has_event(EV_WILD_WIN) and state.dialog == []


def test_losing_queues_the_whiteout() -> None:
    world = make_world()
    me = make_mon(EMBERCUB, hp=1, speed=1)
    foe = make_mon(BURROWBIT, moves=[BUMP], speed=99)
    state = wild(world, [me, make_mon(PUDDLET, hp=0)], foe, money=1001)
    push(state, world, A, A)
    shown = read_messages(state, world)
    assert kinds(shown)[-1] == BattleMsg.PLAYER_FAINTED
    assert state.battle == Battle()
    assert state.dialog == [(Msg.WHITEOUT, 0, 0), (Msg.WHITEOUT_2, 501, 0)]
    assert state.dialog_effect == Effect.WHITEOUT and state.money == 1001  # the whiteout halves it later


def test_exp_level_up_and_learned_move() -> None:
    world = make_world()
    me = make_mon(BURROWBIT, 6, moves=[SCRATCH_CLAW], speed=99)
    me.exp = party.exp_for_level(7) - 1  # any experience reaches level 7, where Burrowbit learns Pebble Toss
    state = wild(world, [me], make_mon(SPROUTLING, 5, hp=1))
    push(state, world, A, A)
    gained = battle.exp_yield(SPROUTLING, 5, False)
    assert state.battle.messages[-3:] == [(BattleMsg.GAINED_EXP, BURROWBIT, gained),
                                          (BattleMsg.LEVEL_UP, BURROWBIT, 7),
                                          (BattleMsg.LEARNED, BURROWBIT, PEBBLE_TOSS)]
    assert me.level == 7 and me.moves[:2] == [SCRATCH_CLAW, PEBBLE_TOSS]
    assert (me.max_hp, me.attack, me.defense, me.speed) == party.stats_at(BURROWBIT, 7)


def test_catch_needs_a_draw_below_the_chance_not_equal_to_it() -> None:
    """The rule reads ``rand(CATCH) & 255 < chance``: a draw equal to the chance breaks free."""
    world = make_world()
    state, foe = _catch_state(world)

    def chance_at(hp: int) -> int:
        return battle.catch_chance(SPROUTLING, Item.ORB, hp, foe.max_hp)

    chances = {chance_at(hp): hp for hp in range(1, foe.max_hp + 1)}
    tick = tick_where(lambda t: _catch_roll(t) in chances, 10)
    foe.hp = chances[_catch_roll(tick)]
    press_at(state, world, tick, A)
    assert kinds(state.battle.messages)[:2] == [BattleMsg.THREW_ORB, BattleMsg.BROKE_FREE]
    assert state.battle.outcome == Outcome.CONTINUE


def test_experience_that_reaches_the_next_level_exactly_levels_up() -> None:
    mon = party.make_mon(BURROWBIT, 6)
    assert mon.exp == party.exp_for_level(6)
    assert party.gain_exp(mon, party.exp_for_level(7) - party.exp_for_level(6)) == [7]
    assert mon.level == 7 and mon.exp == party.exp_for_level(7)


def test_stats_at_a_level_hand_computed() -> None:
    # Embercub's base (hp, attack, defense, speed) = (39, 52, 43, 65) at level 10:
    # max_hp 39*2*10//100 + 10 + 10 = 27; the others base*2*10//100 + 5
    assert party.stats_at(EMBERCUB, 10) == (27, 15, 13, 18)


def test_levelling_up_adds_the_max_hp_gain_to_hp_and_does_not_heal() -> None:
    mon = party.make_mon(BURROWBIT, 6)
    mon.hp, old_max = 5, mon.max_hp
    assert party.gain_exp(mon, party.exp_for_level(7) - mon.exp) == [7]
    assert mon.max_hp > old_max and mon.hp == 5 + mon.max_hp - old_max


def test_no_level_beyond_max_level() -> None:
    mon = party.make_mon(BURROWBIT, MAX_LEVEL)
    assert party.gain_exp(mon, party.exp_for_level(MAX_LEVEL + 2)) == [] and mon.level == MAX_LEVEL


def test_levelling_up_learns_only_the_moves_of_the_new_level() -> None:
    """A forgotten move of an earlier level is not learned again (Burrowbit: Scratch Claw at 1, Pebble Toss
    at 7)."""
    mon = make_mon(BURROWBIT, 6, moves=[BUMP])
    party.gain_exp(mon, party.exp_for_level(7) - mon.exp)
    assert mon.moves == [BUMP, PEBBLE_TOSS, -1, -1]


def test_a_hit_needs_a_draw_below_the_accuracy_not_equal_to_it() -> None:
    """``rand_below(HIT, 100) < accuracy`` hits: with Pebble Toss (90) a draw of 90 misses and 89 hits."""
    world = make_world()
    accuracy = MOVES[PEBBLE_TOSS].accuracy
    for draw in (accuracy, accuracy - 1):
        foe = make_mon(SPROUTLING, moves=[BUMP], hp=300, speed=1)
        state = wild(world, [make_mon(BURROWBIT, moves=[PEBBLE_TOSS], hp=500, speed=99)], foe)
        push(state, world, A)
        press_at(state, world, tick_where(lambda t, d=draw: rand_below(KEY, t, Rng.PLAYER_HIT, 100) == d, 10), A)
        missed = draw == accuracy
        assert ((BattleMsg.PLAYER_MISSED, BURROWBIT, 0) in state.battle.messages) == missed, f"draw {draw}"
        assert (foe.hp == 300) == missed, f"draw {draw}"


def test_a_critical_hit_is_a_draw_of_0_mod_16_only() -> None:
    """``rand(CRIT) % 16 == 0`` is critical: a draw of 1 mod 16 is a plain hit with plain damage."""
    world = make_world()
    me = make_mon(EMBERCUB, moves=[BUMP], speed=50)
    foe = make_mon(SPROUTLING, moves=[PEBBLE_TOSS], hp=200, speed=10)
    state = wild(world, [me], foe)
    t = tick_where(lambda t: rand(KEY, t, Rng.PLAYER_CRIT) % 16 == 1 and enemy_misses(t))
    push(state, world, A)
    press_at(state, world, t, A)
    spread = rand_below(KEY, t, Rng.PLAYER_DAMAGE, 39)
    plain = battle.damage(me.level, MOVES[BUMP].power, me.attack, foe.defense, MOVES[BUMP].type,
                          SPECIES[EMBERCUB].types, SPECIES[SPROUTLING].types, False, spread)
    assert BattleMsg.CRITICAL not in kinds(state.battle.messages) and foe.hp == 200 - plain


def test_run_needs_a_draw_below_the_odds_not_equal_to_them() -> None:
    world = make_world()
    odds = battle.run_odds(10, 40)
    state = wild(world, [make_mon(EMBERCUB, hp=500, speed=10)], make_mon(SPROUTLING, moves=[BUMP], speed=40))
    push(state, world, RIGHT, DOWN)
    press_at(state, world, tick_where(lambda t: rand_below(KEY, t, Rng.RUN, 256) == odds, 10), A)
    assert kinds(state.battle.messages)[:2] == [BattleMsg.RUN_FAILED, BattleMsg.ENEMY_USED]
    assert state.battle.outcome == Outcome.CONTINUE


def test_with_no_pp_left_only_fight_struggles_bag_and_run_still_work() -> None:
    world = make_world()
    me = make_mon(EMBERCUB, moves=[BUMP], hp=500, speed=99)
    me.pp = [0] * MOVE_SLOTS
    state = wild(world, [me], make_mon(SPROUTLING, speed=1))
    push(state, world, RIGHT, A)
    assert (state.battle.phase, state.battle.turns) == (BattlePhase.BAG, 0)
    push(state, world, B, DOWN, A)
    assert state.battle.messages == [(BattleMsg.GOT_AWAY, 0, 0)]


def test_a_badge_unlocks_only_the_abilities_tied_to_it() -> None:
    world = make_world(ability_badge=(0, 1, -1), badge_names=("Test", "Next"), badge_events=(EV_BADGE, EV_WILD_WIN))
    state, _ = _beat_trainer(world)
    assert [page for page in state.dialog if page[0] == Msg.UNLOCKED] == [(Msg.UNLOCKED, 0, 0)]


@pytest.mark.parametrize("attack, defend, tenths", [
    (Type.FIRE, Type.PLANT, 20), (Type.WATER, Type.FIRE, 20), (Type.PLANT, Type.WATER, 20),
    (Type.PLANT, Type.FIRE, 5), (Type.FIRE, Type.WATER, 5), (Type.WATER, Type.PLANT, 5),
    (Type.ELECTRIC, Type.WATER, 20), (Type.ELECTRIC, Type.AIR, 20), (Type.ICE, Type.PLANT, 20),
    (Type.FIGHTING, Type.NORMAL, 20), (Type.GROUND, Type.ELECTRIC, 20), (Type.NORMAL, Type.STONE, 5),
])
def test_the_type_chart_keeps_its_core_relations(attack: int, defend: int, tenths: int) -> None:
    assert battle.effectiveness(attack, (defend, defend)) == tenths


def test_each_item_does_what_its_name_promises() -> None:
    """Tonic 20 HP, Strong Tonic 60, Max Tonic all; Orb x1, Fine Orb x1.5, Prime Orb x2 on the catch rate."""
    world = make_world()
    for item, healed in ((Item.TONIC, 20), (Item.STRONG_TONIC, 60), (Item.MAX_TONIC, 299)):
        me = make_mon(EMBERCUB, hp=1)
        me.max_hp = 300
        state = wild(world, [me], make_mon(SPROUTLING, moves=[PEBBLE_TOSS]))
        state.bag[item] = 1
        push(state, world, RIGHT, A, A)
        assert state.battle.messages[1] == (BattleMsg.RECOVERED, EMBERCUB, healed), Item(item).name
    rate = SPECIES[EMBERCUB].catch_rate
    for orb, times_ten in ((Item.ORB, 10), (Item.FINE_ORB, 15), (Item.PRIME_ORB, 20)):
        assert battle.catch_chance(EMBERCUB, orb, 30, 30) == rate * times_ten // 10 * 30 // 90, Item(orb).name


def test_a_fifth_move_replaces_the_weakest_first_on_ties() -> None:
    mon = make_mon(EMBERCUB, moves=[SCRATCH_CLAW, BUMP, PEBBLE_TOSS, CINDER])  # powers 45, 40, 50, 40
    mon.pp = [1, 2, 3, 4]
    heavy_press = 9  # power 90
    party.learn(mon, heavy_press)
    assert mon.moves == [SCRATCH_CLAW, heavy_press, PEBBLE_TOSS, CINDER]
    assert mon.pp == [1, MOVES[heavy_press].pp, 3, 4]


# ============================================================================================ whole battles


def _fuzz(seed: int, presses: int) -> tuple[QuestState, list[int]]:
    """A random button mash through a wild battle and a trainer battle; returns the state and buttons."""
    world = make_world()
    buttons = random.Random(seed).choices(list(Button), weights=[2, 2, 2, 2, 6, 1, 1, 1], k=presses)
    state = make_state(make_mon(EMBERCUB, 8), make_mon(PUDDLET, 7), make_mon(SPROUTLING, 6))
    state.bag[Item.TONIC], state.bag[Item.ORB], state.bag[Item.REVIVAL_HERB] = 9, 20, 3
    for k, button in enumerate(buttons):
        if state.battle.kind == BattleKind.NONE:
            if party.first_able(state.party) < 0:
                party.heal_party(state.party)
            if k % 2:
                battle.start_wild(state, world, k % 4, 5)
            else:
                state.done[0] = 0
                battle.start_trainer(state, world, 0, 0)
        push(state, world, button)
        b = state.battle
        for mon in [*state.party, *b.enemy]:
            assert 0 <= mon.hp <= mon.max_hp and all(pp >= 0 for pp in mon.pp)
        if b.kind != BattleKind.NONE:
            assert b.phase != BattlePhase.MESSAGE or b.messages
            assert b.phase != BattlePhase.MAIN or 0 <= b.cursor < 4
            assert b.phase != BattlePhase.FORCED_SWITCH or state.party[b.player_active].hp == 0
    return state, buttons


def test_same_presses_same_battle() -> None:
    first, _ = _fuzz(7, 3000)
    again, _ = _fuzz(7, 3000)
    other, _ = _fuzz(8, 3000)
    assert first == again
    assert first != other


# ============================================================================================ message text


def test_every_message_formats_within_the_text_box() -> None:
    world = make_world()
    state = make_state(make_mon(EMBERCUB))
    values = {
        battle.Arg.NONE: [0],
        battle.Arg.SPECIES: [EMBERCUB, PUDDLET, SPROUTLING, BURROWBIT],
        battle.Arg.MOVE: [BUMP, SCRATCH_CLAW, CINDER, SPLASH_JET, LEAF_FLICK, PEBBLE_TOSS],
        battle.Arg.ITEM: list(battle.BATTLE_ITEMS),
        battle.Arg.NUMBER: [0, 7, 100, 9999],
        battle.Arg.TRAINER: [0],
        battle.Arg.TEXT: [0],
    }
    for msg in BattleMsg:
        kind0, kind1 = battle.MESSAGE_ARGS[msg]
        for arg0 in values[kind0]:
            for arg1 in values[kind1]:
                text = battle.battle_message_text(world, state, (msg, arg0, arg1))
                lines = text.split("\n")
                assert text and "{" not in text
                assert all(len(line) <= TEXT_COLS for line in lines), text
                assert len(lines) <= 2, text
    assert battle.battle_message_text(world, state, (BattleMsg.PLAYER_USED, EMBERCUB, CINDER)) == \
        "Embercub used\nCinder!"
    assert battle.battle_message_text(world, state, (BattleMsg.TRAINER_SENT_OUT, 0, BURROWBIT)) == \
        "Leader Ashe sent\nout Burrowbit!"
    assert battle.battle_message_text(world, state, (BattleMsg.DEFEAT_TEXT, 0, 0)) == "You are strong!"


def test_every_message_with_the_longest_names_fits_the_four_lines_the_box_shows() -> None:
    """The templates were said to fit two lines; with the game's longest names some take three ("Foe Bramblebuck /
    used Mountain / Throw!"), which the text box draws as up to four (render._text_box)."""
    from longplay.envs.quest.constants import ITEM_NAMES
    from longplay.envs.quest.worldgen import canonical_world

    world = canonical_world()
    longest = {
        battle.Arg.NONE: [0],
        battle.Arg.SPECIES: [max(range(len(SPECIES)), key=lambda i: len(SPECIES[i].name))],
        battle.Arg.MOVE: [max(range(len(MOVES)), key=lambda i: len(MOVES[i].name))],
        battle.Arg.ITEM: [max(range(len(ITEM_NAMES)), key=lambda i: len(ITEM_NAMES[i]))],
        battle.Arg.NUMBER: [999_999],
        battle.Arg.TRAINER: range(len(world.trainers)),
        battle.Arg.TEXT: [t.defeat_text for t in world.trainers if t.defeat_text >= 0],
    }
    most = 0
    for msg in BattleMsg:
        kind0, kind1 = battle.MESSAGE_ARGS[msg]
        for arg0 in longest[kind0]:
            for arg1 in longest[kind1]:
                lines = battle.battle_message_text(world, None, (msg, arg0, arg1)).split("\n")
                assert len(lines) <= 4 and all(len(line) <= TEXT_COLS for line in lines), (msg, lines)
                most = max(most, len(lines))
    assert most == 3  # the three-line case is real, not only allowed


def test_the_game_states_dialog_is_the_battle_message_on_screen() -> None:
    """``Game.state().dialog`` (the text box on screen, as Pokemon Red's pack reads it) was empty while a battle's
    message showed, so the viewer's state panel had no text for any battle message."""
    import gymnasium as gym

    import longplay.envs  # noqa: F401  (registers the ids)
    from longplay.agents.base import make_agent

    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    agent = make_agent("oracle")
    obs, info = env.reset(seed=0)
    agent.reset(env, obs, info, 0)
    game = env.unwrapped.game
    for _ in range(5000):
        if game._state.battle.messages and not game._state.dialog:
            break
        obs, _, _, _, info = env.step(agent.act(obs, info))
    else:
        pytest.fail("the oracle showed no battle message in 5,000 steps")
    s = game._state
    shown = battle.battle_message_text(game.world, s, s.battle.messages[0])
    assert shown and game.state().dialog == shown
    assert shown.split("\n")[0] in game.text()  # the text view shows the same message
    env.close()
