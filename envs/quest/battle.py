"""Turn-based battles: the battle screens, what each button does on them, and the battle rules.

A battle lives in ``QuestState.battle`` (a :class:`~longplay.envs.quest.state.Battle`); the engine treats
``battle.kind != BattleKind.NONE`` as "in battle" and hands every button to :func:`press`. Each phase
(:class:`~longplay.envs.quest.constants.BattlePhase`) has one small handler. A chosen action resolves a whole
turn at once: the results are queued as battle messages ``(BattleMsg, arg0, arg1)`` that the player pages
through with A or B, and ``battle.outcome`` says what happens once the queue is empty (back to the menu, a
forced switch, or the end of the battle).

Every rule is integer arithmetic over table reads, in a fixed order, and every random number is one draw
``rng.rand(state.key, state.tick, slot)`` from the slot of its purpose
(:class:`~longplay.envs.quest.constants.Rng`), each slot drawn at most once per press, so the batched torch
engine can reproduce a press exactly by drawing every slot and using only what this reference uses.

Rules, in the order they apply:

* Turn order: the faster creature acts first; on a speed tie the player goes first when
  ``rand(FIRST_MOVER) & 1 == 0``. A creature that faints does not act.
* Hit: ``rand_below(HIT, 100) < accuracy``. Critical hit: ``rand(CRIT) % 16 == 0``.
* Damage: see :func:`damage`. Using a move costs 1 PP; with no PP on any move a creature struggles with move
  0 (Bump) at no PP cost.
* Enemy move: uniform over its moves with PP left, ``rand_below(ENEMY_MOVE, n)``.
* Catch (wild only): see :func:`catch_chance`; caught when ``rand(CATCH) & 255 < chance``.
* Run (wild only): escapes when the player's creature is at least as fast, else when
  ``rand_below(RUN, 256) < run_odds(...)`` (see :func:`run_odds`).
* Experience: see :func:`exp_yield`; only the active creature gains it.
* An item, a switch, a failed catch or a failed run uses the turn: the enemy then attacks. A refusal (no PP,
  no effect, no escape from a trainer, no catching a trainer's creature) shows its message and uses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from longplay.envs.game import Button
from longplay.envs.quest import dialog, party
from longplay.envs.quest.constants import (
    BOX_SIZE,
    ITEM_CATCH,
    ITEM_HEAL,
    ITEM_NAMES,
    ITEM_REVIVES,
    MAX_MONEY,
    MOVE_SLOTS,
    NUM_ABILITIES,
    PARTY_SIZE,
    TYPE_CHART,
    BattleKind,
    BattlePhase,
    Effect,
    Item,
    Rng,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.rng import rand, rand_below
from longplay.envs.quest.state import Battle, Mon, QuestState, World

# ============================================================================================ messages


class BattleMsg(IntEnum):
    """Battle message templates; the argument kinds of each are in :data:`MESSAGE_ARGS`."""

    WILD_APPEARED = 0  # species
    TRAINER_CHALLENGE = 1  # trainer
    TRAINER_SENT_OUT = 2  # trainer, species
    GO = 3  # species
    COME_BACK = 4  # species
    PLAYER_USED = 5  # species, move
    ENEMY_USED = 6  # species, move
    PLAYER_MISSED = 7  # species
    ENEMY_MISSED = 8  # species
    CRITICAL = 9
    SUPER_EFFECTIVE = 10
    NOT_EFFECTIVE = 11
    NO_EFFECT = 12
    PLAYER_FAINTED = 13  # species
    ENEMY_FAINTED = 14  # species
    GAINED_EXP = 15  # species, number
    LEVEL_UP = 16  # species, number
    LEARNED = 17  # species, move
    NO_PP = 18
    NO_MOVES_LEFT = 19  # species (it struggles)
    USED_ITEM = 20  # item
    RECOVERED = 21  # species, number
    REVIVED = 22  # species
    ITEM_NO_EFFECT = 23
    CANT_CATCH = 24
    THREW_ORB = 25  # item
    CAUGHT = 26  # species
    BROKE_FREE = 27  # species
    GOT_AWAY = 28
    RUN_FAILED = 29
    CANT_ESCAPE = 30
    TRAINER_DEFEATED = 31  # trainer
    DEFEAT_TEXT = 32  # world text


class Arg(IntEnum):
    """How a message argument is written: which name table it indexes, or a plain number."""

    NONE = 0
    SPECIES = 1
    MOVE = 2
    ITEM = 3
    NUMBER = 4
    TRAINER = 5  # "title name" of World.trainers[arg]
    TEXT = 6  # World.texts[arg]


_A = Arg
#: Templates: ``{0}`` is arg0 and ``{1}`` arg1, written as :data:`MESSAGE_ARGS` says. With the longest names of
#: the game some take three lines ("Foe Bramblebuck / used Mountain / Throw!"): the text box shows up to four.
BATTLE_MESSAGES: dict[int, str] = {
    BattleMsg.WILD_APPEARED: "A wild {0} appeared!",
    BattleMsg.TRAINER_CHALLENGE: "{0} wants to battle!",
    BattleMsg.TRAINER_SENT_OUT: "{0} sent out {1}!",
    BattleMsg.GO: "Go! {0}!",
    BattleMsg.COME_BACK: "{0}, come back!",
    BattleMsg.PLAYER_USED: "{0} used {1}!",
    BattleMsg.ENEMY_USED: "Foe {0} used {1}!",
    BattleMsg.PLAYER_MISSED: "{0}'s attack missed!",
    BattleMsg.ENEMY_MISSED: "Foe {0}'s attack missed!",
    BattleMsg.CRITICAL: "A critical hit!",
    BattleMsg.SUPER_EFFECTIVE: "It's super effective!",
    BattleMsg.NOT_EFFECTIVE: "It's not very effective...",
    BattleMsg.NO_EFFECT: "It had no effect!",
    BattleMsg.PLAYER_FAINTED: "{0} fainted!",
    BattleMsg.ENEMY_FAINTED: "Foe {0} fainted!",
    BattleMsg.GAINED_EXP: "{0} gained {1} EXP!",
    BattleMsg.LEVEL_UP: "{0} grew to level {1}!",
    BattleMsg.LEARNED: "{0} learned {1}!",
    BattleMsg.NO_PP: "No PP left!",
    BattleMsg.NO_MOVES_LEFT: "{0} has no PP left!",
    BattleMsg.USED_ITEM: "Used {0}!",
    BattleMsg.RECOVERED: "{0} recovered {1} HP!",
    BattleMsg.REVIVED: "{0} was revived!",
    BattleMsg.ITEM_NO_EFFECT: "It won't have any effect.",
    BattleMsg.CANT_CATCH: "You can't catch a trainer's partner!",
    BattleMsg.THREW_ORB: "You threw a {0}!",
    BattleMsg.CAUGHT: "Caught {0}!",
    BattleMsg.BROKE_FREE: "{0} broke free!",
    BattleMsg.GOT_AWAY: "Got away safely!",
    BattleMsg.RUN_FAILED: "Couldn't get away!",
    BattleMsg.CANT_ESCAPE: "Can't escape!",
    BattleMsg.TRAINER_DEFEATED: "You defeated {0}!",
    BattleMsg.DEFEAT_TEXT: "{0}",
}

#: (arg0 kind, arg1 kind) of each message.
MESSAGE_ARGS: dict[int, tuple[int, int]] = {
    BattleMsg.WILD_APPEARED: (_A.SPECIES, _A.NONE),
    BattleMsg.TRAINER_CHALLENGE: (_A.TRAINER, _A.NONE),
    BattleMsg.TRAINER_SENT_OUT: (_A.TRAINER, _A.SPECIES),
    BattleMsg.GO: (_A.SPECIES, _A.NONE),
    BattleMsg.COME_BACK: (_A.SPECIES, _A.NONE),
    BattleMsg.PLAYER_USED: (_A.SPECIES, _A.MOVE),
    BattleMsg.ENEMY_USED: (_A.SPECIES, _A.MOVE),
    BattleMsg.PLAYER_MISSED: (_A.SPECIES, _A.NONE),
    BattleMsg.ENEMY_MISSED: (_A.SPECIES, _A.NONE),
    BattleMsg.CRITICAL: (_A.NONE, _A.NONE),
    BattleMsg.SUPER_EFFECTIVE: (_A.NONE, _A.NONE),
    BattleMsg.NOT_EFFECTIVE: (_A.NONE, _A.NONE),
    BattleMsg.NO_EFFECT: (_A.NONE, _A.NONE),
    BattleMsg.PLAYER_FAINTED: (_A.SPECIES, _A.NONE),
    BattleMsg.ENEMY_FAINTED: (_A.SPECIES, _A.NONE),
    BattleMsg.GAINED_EXP: (_A.SPECIES, _A.NUMBER),
    BattleMsg.LEVEL_UP: (_A.SPECIES, _A.NUMBER),
    BattleMsg.LEARNED: (_A.SPECIES, _A.MOVE),
    BattleMsg.NO_PP: (_A.NONE, _A.NONE),
    BattleMsg.NO_MOVES_LEFT: (_A.SPECIES, _A.NONE),
    BattleMsg.USED_ITEM: (_A.ITEM, _A.NONE),
    BattleMsg.RECOVERED: (_A.SPECIES, _A.NUMBER),
    BattleMsg.REVIVED: (_A.SPECIES, _A.NONE),
    BattleMsg.ITEM_NO_EFFECT: (_A.NONE, _A.NONE),
    BattleMsg.CANT_CATCH: (_A.NONE, _A.NONE),
    BattleMsg.THREW_ORB: (_A.ITEM, _A.NONE),
    BattleMsg.CAUGHT: (_A.SPECIES, _A.NONE),
    BattleMsg.BROKE_FREE: (_A.SPECIES, _A.NONE),
    BattleMsg.GOT_AWAY: (_A.NONE, _A.NONE),
    BattleMsg.RUN_FAILED: (_A.NONE, _A.NONE),
    BattleMsg.CANT_ESCAPE: (_A.NONE, _A.NONE),
    BattleMsg.TRAINER_DEFEATED: (_A.TRAINER, _A.NONE),
    BattleMsg.DEFEAT_TEXT: (_A.TEXT, _A.NONE),
}
assert set(BATTLE_MESSAGES) == set(MESSAGE_ARGS) == set(BattleMsg)


def _trainer_name(world: World, index: int) -> str:
    trainer = world.trainers[index]
    return f"{trainer.title} {trainer.name}" if trainer.title else trainer.name


#: How to write an argument of each :class:`Arg` kind.
_ARG_TEXT: tuple[Callable[[World, int], str], ...] = (
    lambda world, value: "",
    lambda world, value: SPECIES[value].name,
    lambda world, value: MOVES[value].name,
    lambda world, value: ITEM_NAMES[value],
    lambda world, value: str(value),
    _trainer_name,
    lambda world, value: world.texts[value],
)
assert len(_ARG_TEXT) == len(Arg)


def battle_message_text(world: World, state: QuestState, msg: tuple[int, int, int]) -> str:
    """The text of one queued battle message, wrapped to the text box (lines joined by ``\\n``).

    Args:
        world: The world (trainer names and texts).
        state: The game state (unused today: every name comes from the message's own arguments, so a message
            reads the same after the battle has moved on).
        msg: ``(BattleMsg, arg0, arg1)``.

    Returns:
        The wrapped text, at most ``TEXT_COLS`` characters per line.
    """
    kind, arg0, arg1 = msg
    kind0, kind1 = MESSAGE_ARGS[kind]
    text = BATTLE_MESSAGES[kind].format(_ARG_TEXT[kind0](world, arg0), _ARG_TEXT[kind1](world, arg1))
    return dialog.wrap(text)


# ============================================================================================ rules


class Outcome(IntEnum):
    """What happens once the message queue is empty (``Battle.outcome``)."""

    CONTINUE = 0  # back to MAIN, or FORCED_SWITCH when the active creature has fainted
    WIN = 1
    LOSE = 2
    FLEE = 3
    CAUGHT = 4


PLAYER, ENEMY = 0, 1  # the two sides, indexing the per-side tables below
STRUGGLE = -1  # move slot meaning "no PP anywhere: use STRUGGLE_MOVE for free"
STRUGGLE_MOVE = 0  # Bump
CRIT_ODDS = 16  # a critical hit is 1 draw in 16
SPREAD_BASE, SPREAD_RANGE, SPREAD_DIV = 217, 39, 255  # damage * (217..255) // 255
STAB_NUM, STAB_DEN = 3, 2
EXP_DIV = 7
TRAINER_EXP_NUM, TRAINER_EXP_DEN = 3, 2
RUN_BASE_ODDS = 30  # out of 256, on top of the speed ratio

#: Random slots of each side's attack: (hit, crit, damage spread).
_ATTACK_RNG = (
    (Rng.PLAYER_HIT, Rng.PLAYER_CRIT, Rng.PLAYER_DAMAGE),
    (Rng.ENEMY_HIT, Rng.ENEMY_CRIT, Rng.ENEMY_DAMAGE),
)
_USED_MSG = (BattleMsg.PLAYER_USED, BattleMsg.ENEMY_USED)
_MISSED_MSG = (BattleMsg.PLAYER_MISSED, BattleMsg.ENEMY_MISSED)

#: Items listed in the battle bag, in bag order: healing, reviving and orbs.
BATTLE_ITEMS: tuple[int, ...] = tuple(
    int(i) for i in Item if ITEM_HEAL[i] > 0 or ITEM_REVIVES[i] or ITEM_CATCH[i] > 0
)

#: MAIN grid (0 FIGHT, 1 BAG / 2 PARTY, 3 RUN): the cursor after UP, DOWN, LEFT, RIGHT from each cell.
MAIN_GRID: tuple[tuple[int, ...], ...] = ((0, 1, 0, 1), (2, 3, 2, 3), (0, 0, 2, 2), (1, 1, 3, 3))
#: The phase each MAIN option opens (RUN acts at once: -1).
MAIN_OPTION_PHASE = (BattlePhase.FIGHT, BattlePhase.BAG, BattlePhase.PARTY, -1)


def distinct_types(types: tuple[int, int]) -> tuple[int, ...]:
    """The types of a species without the repeat of a single-typed one (so it counts once)."""
    return types[:1] if types[0] == types[1] else types


def effectiveness(move_type: int, defender_types: tuple[int, int]) -> int:
    """Type effectiveness in tenths (10 = normal), applied type by type with the same floor as damage.

    >>> from longplay.envs.quest.constants import Type
    >>> effectiveness(Type.FIRE, (Type.PLANT, Type.PLANT)), effectiveness(Type.FIRE, (Type.PLANT, Type.WATER))
    (20, 10)
    >>> effectiveness(Type.ELECTRIC, (Type.GROUND, Type.AIR))
    0
    """
    eff = 10
    for t in distinct_types(defender_types):
        eff = eff * TYPE_CHART[move_type][t] // 10
    return eff


def damage(level: int, power: int, attack: int, defense: int, move_type: int, attacker_types: tuple[int, int],
           defender_types: tuple[int, int], crit: bool, spread: int) -> int:
    """Damage of one hit, integer arithmetic in this order.

    ``base = ((2*level//5 + 2) * power * attack // defense) // 50 + 2``; same-type bonus ``*3//2``; each
    distinct defender type ``*TYPE_CHART[move_type][t]//10``; critical ``*2``; spread
    ``*(217 + spread)//255``; at least 1 unless the move has no effect (then 0).

    Args:
        level: The attacker's level.
        power: The move's power.
        attack: The attacker's attack stat.
        defense: The defender's defense stat.
        move_type: The move's type.
        attacker_types: The attacker species' types (same-type bonus).
        defender_types: The defender species' types.
        crit: Whether it is a critical hit.
        spread: The spread draw, ``0 <= spread < 39``.

    >>> damage(20, 40, 40, 25, 1, (1, 1), (3, 5), False, 10)  # fire on plant/ice: 4x
    74
    """
    base = ((2 * level // 5 + 2) * power * attack // max(1, defense)) // 50 + 2
    if move_type in attacker_types:
        base = base * STAB_NUM // STAB_DEN
    eff = 10
    for t in distinct_types(defender_types):
        chart = TYPE_CHART[move_type][t]
        base = base * chart // 10
        eff = eff * chart // 10
    if eff == 0:
        return 0
    if crit:
        base *= 2
    base = base * (SPREAD_BASE + spread) // SPREAD_DIV
    return max(1, base)


def catch_chance(species: int, orb: int, hp: int, max_hp: int) -> int:
    """Out of 256: ``catch_rate * ITEM_CATCH[orb] // 10``, scaled by ``(3*max_hp - 2*hp) // (3*max_hp)``,
    clipped to 1..255 (a full-HP creature is a third as easy as a nearly fainted one)."""
    rate = SPECIES[species].catch_rate * ITEM_CATCH[orb] // 10
    chance = rate * (3 * max_hp - 2 * hp) // (3 * max_hp)
    return min(255, max(1, chance))


def run_odds(player_speed: int, enemy_speed: int) -> int:
    """Out of 256, the odds of escaping a wild creature: 256 (certain) when the player's creature is at least
    as fast, else ``player_speed * 128 // enemy_speed + 30`` (30..157)."""
    if player_speed >= enemy_speed:
        return 256
    return player_speed * 128 // enemy_speed + RUN_BASE_ODDS


def exp_yield(species: int, level: int, trainer: bool) -> int:
    """Experience for defeating ``species`` at ``level``: ``base_exp * level // 7``, then ``*3//2`` if the
    creature belonged to a trainer."""
    amount = SPECIES[species].base_exp * level // EXP_DIV
    return amount * TRAINER_EXP_NUM // TRAINER_EXP_DEN if trainer else amount


def move_count(mon: Mon) -> int:
    """How many moves ``mon`` knows (known moves fill the first slots)."""
    return MOVE_SLOTS - mon.moves.count(-1)


def has_pp(mon: Mon) -> bool:
    """Whether any known move has PP left (empty slots have 0 PP)."""
    return any(pp > 0 for pp in mon.pp)


def battle_items(state: QuestState) -> list[int]:
    """The items the BAG phase lists, in order: battle-usable items the player has."""
    return [i for i in BATTLE_ITEMS if state.bag[i] > 0]


# ============================================================================================ starting


def _start(state: QuestState, battle: Battle, intro: list[tuple[int, int, int]]) -> None:
    lead = party.first_able(state.party)
    if lead < 0:  # nobody can fight: the overworld never starts a battle then; refuse rather than crash
        return
    battle.player_active = lead
    battle.phase = BattlePhase.MESSAGE
    battle.messages = [*intro, (BattleMsg.GO, state.party[lead].species, 0)]
    battle.outcome = Outcome.CONTINUE
    state.battle = battle


def start_wild(state: QuestState, world: World, species: int, level: int) -> None:
    """Starts a battle against a wild ``species`` at ``level``: intro messages, then MAIN.

    Does nothing if the party has no creature able to fight.
    """
    enemy = party.make_mon(species, level)
    _start(state, Battle(kind=BattleKind.WILD, enemy=[enemy]), [(BattleMsg.WILD_APPEARED, species, 0)])


def start_trainer(state: QuestState, world: World, trainer: int, entity: int) -> None:
    """Starts a battle against ``world.trainers[trainer]`` (whose overworld entity is ``entity``).

    Does nothing if the party has no creature able to fight.
    """
    team = [party.make_mon(species, level) for species, level in world.trainers[trainer].party]
    intro = [(BattleMsg.TRAINER_CHALLENGE, trainer, 0),
             (BattleMsg.TRAINER_SENT_OUT, trainer, team[0].species)]
    _start(state, Battle(kind=BattleKind.TRAINER, trainer=trainer, entity=entity, enemy=team), intro)


# ============================================================================================ a turn


def _say(battle: Battle, kind: int, arg0: int = 0, arg1: int = 0) -> None:
    battle.messages.append((kind, arg0, arg1))


def _refuse(battle: Battle, kind: int) -> None:
    """Shows one message and uses no turn (back to MAIN after it)."""
    _say(battle, kind)
    battle.outcome = Outcome.CONTINUE
    battle.phase = BattlePhase.MESSAGE


def _enemy_slot(state: QuestState, foe: Mon) -> int:
    """The enemy's move slot: uniform over the slots with PP left (STRUGGLE when none)."""
    usable = [k for k in range(MOVE_SLOTS) if foe.moves[k] >= 0 and foe.pp[k] > 0]
    if not usable:
        return STRUGGLE
    return usable[rand_below(state.key, state.tick, Rng.ENEMY_MOVE, len(usable))]


def _attack(state: QuestState, side: int, slot: int) -> None:
    """One side attacks the other with its move ``slot`` (or struggles): PP, hit, crit, damage, messages."""
    battle = state.battle
    me, foe = state.party[battle.player_active], battle.enemy[battle.enemy_active]
    attacker, defender = (me, foe) if side == PLAYER else (foe, me)
    if slot == STRUGGLE:
        move = STRUGGLE_MOVE
    else:
        move = attacker.moves[slot]
        attacker.pp[slot] -= 1
    _say(battle, _USED_MSG[side], attacker.species, move)
    spec = MOVES[move]
    hit_slot, crit_slot, spread_slot = _ATTACK_RNG[side]
    if rand_below(state.key, state.tick, hit_slot, 100) >= spec.accuracy:
        _say(battle, _MISSED_MSG[side], attacker.species)
        return
    crit = rand(state.key, state.tick, crit_slot) % CRIT_ODDS == 0
    spread = rand_below(state.key, state.tick, spread_slot, SPREAD_RANGE)
    defender_types = SPECIES[defender.species].types
    dealt = damage(attacker.level, spec.power, attacker.attack, defender.defense, spec.type,
                   SPECIES[attacker.species].types, defender_types, crit, spread)
    defender.hp = max(0, defender.hp - dealt)
    eff = effectiveness(spec.type, defender_types)
    if eff == 0:
        _say(battle, BattleMsg.NO_EFFECT)
        return
    if crit:
        _say(battle, BattleMsg.CRITICAL)
    if eff > 10:
        _say(battle, BattleMsg.SUPER_EFFECTIVE)
    elif eff < 10:
        _say(battle, BattleMsg.NOT_EFFECTIVE)


def _enemy_attacks(state: QuestState) -> None:
    """The enemy's reply to a turn the player spent on something other than a move."""
    foe = state.battle.enemy[state.battle.enemy_active]
    _attack(state, ENEMY, _enemy_slot(state, foe))


def _fight(state: QuestState, world: World, slot: int) -> None:
    """Both sides attack, faster first; a side that faints before its turn does not act."""
    battle = state.battle
    me, foe = state.party[battle.player_active], battle.enemy[battle.enemy_active]
    enemy_slot = _enemy_slot(state, foe)
    if me.speed != foe.speed:
        player_first = me.speed > foe.speed
    else:
        player_first = rand(state.key, state.tick, Rng.FIRST_MOVER) & 1 == 0
    if player_first:
        _attack(state, PLAYER, slot)
        if foe.hp > 0:
            _attack(state, ENEMY, enemy_slot)
    else:
        _attack(state, ENEMY, enemy_slot)
        if me.hp > 0:
            _attack(state, PLAYER, slot)
    _end_turn(state, world)


def _gain_exp(state: QuestState, foe: Mon) -> None:
    """The active creature's experience for ``foe``, with level-up and learned-move messages."""
    battle = state.battle
    me = state.party[battle.player_active]
    amount = exp_yield(foe.species, foe.level, battle.kind == BattleKind.TRAINER)
    before = list(me.moves)
    levels = party.gain_exp(me, amount)
    _say(battle, BattleMsg.GAINED_EXP, me.species, amount)
    for level in levels:
        _say(battle, BattleMsg.LEVEL_UP, me.species, level)
    for move in me.moves:
        if move >= 0 and move not in before:
            _say(battle, BattleMsg.LEARNED, me.species, move)


def _end_turn(state: QuestState, world: World) -> None:
    """After the attacks: faints, experience, the trainer's next creature, and the outcome."""
    battle = state.battle
    battle.turns += 1
    battle.phase = BattlePhase.MESSAGE
    battle.outcome = Outcome.CONTINUE
    me, foe = state.party[battle.player_active], battle.enemy[battle.enemy_active]
    if foe.hp == 0:  # at most one side faints per turn: the fainted one never acts after
        _say(battle, BattleMsg.ENEMY_FAINTED, foe.species)
        _gain_exp(state, foe)
        follower = party.first_able(battle.enemy)
        if follower >= 0:
            battle.enemy_active = follower
            _say(battle, BattleMsg.TRAINER_SENT_OUT, battle.trainer, battle.enemy[follower].species)
        elif battle.kind == BattleKind.TRAINER:
            trainer = world.trainers[battle.trainer]
            _say(battle, BattleMsg.TRAINER_DEFEATED, battle.trainer)
            if trainer.defeat_text >= 0:
                _say(battle, BattleMsg.DEFEAT_TEXT, trainer.defeat_text)
            battle.outcome = Outcome.WIN
        else:
            battle.outcome = Outcome.WIN
    elif me.hp == 0:
        _say(battle, BattleMsg.PLAYER_FAINTED, me.species)
        if party.first_able(state.party) < 0:
            battle.outcome = Outcome.LOSE


# ============================================================================================ actions


def _struggle(state: QuestState, world: World) -> None:
    me = state.party[state.battle.player_active]
    _say(state.battle, BattleMsg.NO_MOVES_LEFT, me.species)
    _fight(state, world, STRUGGLE)


def _use_heal(state: QuestState, world: World, item: int) -> None:
    """A healing item on the active creature, or a reviving one on the first fainted member."""
    battle = state.battle
    if ITEM_REVIVES[item]:
        target = next((i for i, mon in enumerate(state.party) if mon.hp == 0), -1)
    else:
        active = state.party[battle.player_active]
        target = battle.player_active if active.hp < active.max_hp else -1
    if target < 0:
        _refuse(battle, BattleMsg.ITEM_NO_EFFECT)
        return
    state.bag[item] -= 1
    mon = state.party[target]
    _say(battle, BattleMsg.USED_ITEM, item)
    if ITEM_REVIVES[item]:
        mon.hp = max(1, mon.max_hp // 2)
        _say(battle, BattleMsg.REVIVED, mon.species)
    else:
        amount = min(ITEM_HEAL[item], mon.max_hp - mon.hp)  # 999 ("all") exceeds any max HP
        mon.hp += amount
        _say(battle, BattleMsg.RECOVERED, mon.species, amount)
    _enemy_attacks(state)
    _end_turn(state, world)


def _throw_orb(state: QuestState, world: World, orb: int) -> None:
    """An orb: caught (the battle ends) or broke free (the enemy attacks). Not at a trainer's creature."""
    battle = state.battle
    if battle.kind != BattleKind.WILD:
        _refuse(battle, BattleMsg.CANT_CATCH)  # the orb is kept
        return
    state.bag[orb] -= 1
    foe = battle.enemy[battle.enemy_active]
    _say(battle, BattleMsg.THREW_ORB, orb)
    chance = catch_chance(foe.species, orb, foe.hp, foe.max_hp)
    if rand(state.key, state.tick, Rng.CATCH) & 255 < chance:
        _say(battle, BattleMsg.CAUGHT, foe.species)
        battle.turns += 1
        battle.outcome = Outcome.CAUGHT
        battle.phase = BattlePhase.MESSAGE
        return
    _say(battle, BattleMsg.BROKE_FREE, foe.species)
    _enemy_attacks(state)
    _end_turn(state, world)


def _run(state: QuestState, world: World) -> None:
    """Escape a wild battle (speed decides, see :func:`run_odds`); a trainer battle refuses."""
    battle = state.battle
    if battle.kind != BattleKind.WILD:
        _refuse(battle, BattleMsg.CANT_ESCAPE)
        return
    me, foe = state.party[battle.player_active], battle.enemy[battle.enemy_active]
    if rand_below(state.key, state.tick, Rng.RUN, 256) < run_odds(me.speed, foe.speed):  # 256: certain
        _say(battle, BattleMsg.GOT_AWAY)
        battle.turns += 1
        battle.outcome = Outcome.FLEE
        battle.phase = BattlePhase.MESSAGE
        return
    _say(battle, BattleMsg.RUN_FAILED)
    _enemy_attacks(state)
    _end_turn(state, world)


def _switch(state: QuestState, world: World, index: int) -> None:
    """Sends in party member ``index`` instead of the active one; the enemy attacks the newcomer."""
    battle = state.battle
    _say(battle, BattleMsg.COME_BACK, state.party[battle.player_active].species)
    battle.player_active = index
    _say(battle, BattleMsg.GO, state.party[index].species)
    _enemy_attacks(state)
    _end_turn(state, world)


# ============================================================================================ ending


def _win(state: QuestState, world: World) -> None:
    battle = state.battle
    if battle.kind == BattleKind.WILD:
        state.set_event(world.ev_first_wild_win)
        return
    trainer = world.trainers[battle.trainer]
    if battle.entity >= 0:
        state.done[battle.entity] = 1
    state.set_event(trainer.event)
    state.set_event(world.ev_first_trainer_win)
    state.money = min(MAX_MONEY, state.money + trainer.money)
    pages: list[tuple[int, int, int]] = []
    if trainer.money > 0:
        pages.append((Msg.GOT_MONEY, trainer.money, 0))
    if trainer.badge >= 0:
        state.set_event(world.badge_events[trainer.badge])
        pages.append((Msg.GOT_BADGE, trainer.badge, 0))
        pages.extend((Msg.UNLOCKED, ability, 0) for ability in range(NUM_ABILITIES)
                     if world.ability_badge[ability] == trainer.badge)
    if world.ev_finish >= 0 and trainer.event == world.ev_finish:
        dialog.say(state, *pages, (Msg.FINISHED, 0, 0), effect=Effect.FINISH)
    else:
        dialog.say(state, *pages)


def _lose(state: QuestState, world: World) -> None:
    lost = state.money - state.money // 2  # what dialog.whiteout's halving takes
    dialog.say(state, (Msg.WHITEOUT, 0, 0), (Msg.WHITEOUT_2, lost, 0), effect=Effect.WHITEOUT)


def _keep_caught(state: QuestState, world: World) -> None:
    """The caught creature joins the party, else the box, else is let go (with an overworld page)."""
    battle = state.battle
    mon = battle.enemy[battle.enemy_active].copy()
    if len(state.party) < PARTY_SIZE:
        state.party.append(mon)
    elif len(state.box) < BOX_SIZE:
        state.box.append(mon)
        dialog.say(state, (Msg.CAUGHT_TO_BOX, mon.species, 0))
    else:
        dialog.say(state, (Msg.BOX_FULL, mon.species, 0))
    state.set_event(world.ev_first_catch)


def _flee(state: QuestState, world: World) -> None:
    pass


#: What ending with each outcome does before the battle is cleared (CONTINUE never ends a battle).
_END: dict[int, Callable[[QuestState, World], None]] = {
    Outcome.WIN: _win, Outcome.LOSE: _lose, Outcome.FLEE: _flee, Outcome.CAUGHT: _keep_caught,
}


def _messages_done(state: QuestState, world: World) -> None:
    """The queue is empty: apply the outcome. Overworld pages are queued only here, once the battle is over,
    so the dialog queue is never busy while a battle is."""
    battle = state.battle
    if battle.outcome == Outcome.CONTINUE:
        if state.party[battle.player_active].hp == 0:
            battle.phase, battle.cursor = BattlePhase.FORCED_SWITCH, party.first_able(state.party)
        else:
            battle.phase, battle.cursor = BattlePhase.MAIN, 0
        return
    _END[battle.outcome](state, world)
    state.battle = Battle()


# ============================================================================================ buttons


def _cursor_step(cursor: int, button: int, count: int) -> int:
    """UP/DOWN over a list of ``count`` rows, clamped at both ends."""
    if button == Button.UP:
        return max(0, cursor - 1)
    if button == Button.DOWN:
        return max(0, min(count - 1, cursor + 1))
    return cursor


def _press_main(state: QuestState, world: World, button: int) -> None:
    battle = state.battle
    if button <= Button.RIGHT:
        battle.cursor = MAIN_GRID[button][battle.cursor]
    elif button == Button.A:
        if battle.cursor == 0 and not has_pp(state.party[battle.player_active]):
            _struggle(state, world)
        elif battle.cursor == 3:
            _run(state, world)
        else:
            battle.phase, battle.cursor = MAIN_OPTION_PHASE[battle.cursor], 0


def _back_to_main(battle: Battle) -> None:
    """B from a sub-menu: MAIN with the cursor on the option that opened it."""
    battle.cursor = MAIN_OPTION_PHASE.index(battle.phase)
    battle.phase = BattlePhase.MAIN


def _press_fight(state: QuestState, world: World, button: int) -> None:
    battle = state.battle
    me = state.party[battle.player_active]
    if button == Button.A:
        if me.pp[battle.cursor] == 0:
            _refuse(battle, BattleMsg.NO_PP)
        else:
            _fight(state, world, battle.cursor)
    elif button == Button.B:
        _back_to_main(battle)
    else:
        battle.cursor = _cursor_step(battle.cursor, button, move_count(me))


def _press_bag(state: QuestState, world: World, button: int) -> None:
    battle = state.battle
    items = battle_items(state)
    if button == Button.A:
        if battle.cursor < len(items):
            item = items[battle.cursor]
            if ITEM_CATCH[item] > 0:
                _throw_orb(state, world, item)
            else:
                _use_heal(state, world, item)
    elif button == Button.B:
        _back_to_main(battle)
    else:
        battle.cursor = _cursor_step(battle.cursor, button, len(items))


def _press_party(state: QuestState, world: World, button: int) -> None:
    battle = state.battle
    if button == Button.A:
        index = battle.cursor
        if index != battle.player_active and state.party[index].hp > 0:
            _switch(state, world, index)
    elif button == Button.B:
        _back_to_main(battle)
    else:
        battle.cursor = _cursor_step(battle.cursor, button, len(state.party))


def _press_forced_switch(state: QuestState, world: World, button: int) -> None:
    battle = state.battle
    if button == Button.A:
        if state.party[battle.cursor].hp > 0:  # the fainted active can't be chosen: it has 0 HP
            battle.player_active = battle.cursor
            _say(battle, BattleMsg.GO, state.party[battle.cursor].species)
            battle.outcome = Outcome.CONTINUE
            battle.phase = BattlePhase.MESSAGE
    elif button != Button.B:
        battle.cursor = _cursor_step(battle.cursor, button, len(state.party))


def _press_message(state: QuestState, world: World, button: int) -> None:
    if button != Button.A and button != Button.B:
        return
    if state.battle.messages:
        state.battle.messages.pop(0)
    if not state.battle.messages:
        _messages_done(state, world)


#: The handler of each BattlePhase, in enum order.
_PHASE_PRESS: tuple[Callable[[QuestState, World, int], None], ...] = (
    _press_main, _press_fight, _press_bag, _press_party, _press_forced_switch, _press_message,
)
assert len(_PHASE_PRESS) == len(BattlePhase)


def press(state: QuestState, world: World, button: int) -> None:
    """What one button does in the battle in progress (nothing when there is none).

    Args:
        state: The game state; ``state.tick`` was already advanced for this press.
        world: The world.
        button: A :class:`~longplay.envs.game.Button` value (never the no-op).
    """
    if state.battle.kind == BattleKind.NONE:
        return
    _PHASE_PRESS[state.battle.phase](state, world, button)
