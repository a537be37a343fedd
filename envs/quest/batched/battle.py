"""Battles for N envs: every battle screen, a whole turn per chosen action, catching, running, experience and
the endings (mirrors :mod:`longplay.envs.quest.battle`).

A press that resolves a turn writes its messages, whole, into the (empty) message queue. The messages one
press can write fit a fixed layout of :func:`message_capacity` candidate slots, each valid or not, which is
compacted (valid slots moved to the front, in order) with one cumulative sum and one scatter:

====================  ==============================================================================
slots                 messages
====================  ==============================================================================
pre (3)               the action's own: NO_MOVES_LEFT; USED_ITEM + RECOVERED/REVIVED; COME_BACK + GO;
                      THREW_ORB + CAUGHT/BROKE_FREE; GOT_AWAY/RUN_FAILED; a refusal; GO (forced switch)
first attack (3)      USED, then MISSED, or NO_EFFECT, or CRITICAL and SUPER/NOT_EFFECTIVE
second attack (3)     the same for the side that moves second (if it still can)
faint (1)             ENEMY_FAINTED or PLAYER_FAINTED
experience (1 + K)    GAINED_EXP, then LEVEL_UP for each level reached (K: ``ContentTables.max_level_ups``)
learned (4)           LEARNED for each move slot holding a newly learned move
follower (2)          TRAINER_SENT_OUT, or TRAINER_DEFEATED and DEFEAT_TEXT
====================  ==============================================================================

Levelling computes the level reached in one step (the cube-root of the experience by ``bucketize``) and
applies the learnset entries between the old and new level in order, so any number of levels is exact; the
LEVEL_UP messages need K slots, where K is the most levels one gain can reach with the game's content (the
largest experience yield added to the least experience of any level; 16 with today's content), so the
queue never overflows (``state.overflow`` would say so).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longplay.envs.quest.batched.common import (
    BKIND,
    BMSG,
    EFFECT,
    MSG,
    OUT,
    RNG,
    Ctx,
    Say,
    event_col,
    first_able,
    gather_mon,
    mark_done,
    new_mon,
    page,
    party_valid,
    put,
    running_count,
    scatter_mon,
    set_events,
    take,
)
from longplay.envs.quest.batched.dialog import TrainerStart
from longplay.envs.quest.batched.overworld import Wild
from longplay.envs.quest.batched.state import (
    ATTACK,
    DEFENSE,
    EXP,
    HP,
    LEVEL,
    MAX_HP,
    MOVES,
    PP,
    SPECIES,
    SPEED,
    BatchedState,
)
from longplay.envs.quest.batched.tables import S_, T_, WIN_PAGES, ContentTables
from longplay.envs.quest.battle import (
    CRIT_ODDS,
    EXP_DIV,
    RUN_BASE_ODDS,
    SPREAD_BASE,
    SPREAD_DIV,
    SPREAD_RANGE,
    STAB_DEN,
    STAB_NUM,
    TRAINER_EXP_DEN,
    TRAINER_EXP_NUM,
)
from longplay.envs.quest.constants import (
    BOX_SIZE,
    MAX_LEVEL,
    MAX_MONEY,
    NUM_ITEMS,
    NUM_TYPES,
    PARTY_SIZE,
    BattlePhase,
)

_UP, _DOWN, _A, _B = 0, 1, 4, 5
_MAIN, _FIGHT, _BAG, _PARTY, _FORCED, _MESSAGE = (int(p) for p in BattlePhase)
_PRE, _ATTACK = 3, 3


def message_capacity(content: ContentTables) -> int:
    """Slots of the battle message queue (the layout in the module docstring)."""
    return _PRE + 2 * _ATTACK + 1 + (1 + content.max_level_ups) + 4 + 2


def _msg(kind: int, arg0: torch.Tensor | int = 0, arg1: torch.Tensor | int = 0) -> torch.Tensor:
    return page(int(kind), arg0, arg1)


def _cursor_step(cursor: torch.Tensor, button: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``battle._cursor_step``: UP/DOWN over ``count`` rows, clamped."""
    up = (cursor - 1).clamp(min=0)
    down = torch.minimum(count - 1, cursor + 1).clamp(min=0)
    return torch.where(button == _UP, up, torch.where(button == _DOWN, down, cursor))


@dataclass
class _Attack:
    """One side's attack, computed whether or not it happens."""

    move: torch.Tensor
    hit: torch.Tensor
    damage: torch.Tensor
    msgs: torch.Tensor  # [N, 3]
    valid: torch.Tensor  # [N, 3] (given that the side acts)


def _attack(cx: Ctx, attacker: torch.Tensor, defender: torch.Tensor, move: torch.Tensor, rnd: torch.Tensor,
            slots: tuple[int, int, int], used_msg: int, missed_msg: int) -> _Attack:
    """``battle._attack`` minus the HP and PP bookkeeping: hit, critical hit, damage and the messages."""
    c = cx.c
    spec = take(c.move_table, move + 1)  # type, power, accuracy, pp
    mtype, power, accuracy = spec[:, 0], spec[:, 1], spec[:, 2]
    hit = (rnd[:, slots[0]] % 100) < accuracy
    crit = (rnd[:, slots[1]] % CRIT_ODDS) == 0
    spread = (rnd[:, slots[2]] % SPREAD_RANGE).to(torch.int32)
    a_types = take(c.species_types, attacker[:, SPECIES])
    d_types = take(c.species_types, defender[:, SPECIES])
    level = attacker[:, LEVEL]
    base = ((2 * level // 5 + 2) * power * attacker[:, ATTACK] // defender[:, DEFENSE].clamp(min=1)) // 50 + 2
    stab = (mtype == a_types[:, 0]) | (mtype == a_types[:, 1])
    base = torch.where(stab, base * STAB_NUM // STAB_DEN, base)
    c0 = take(c.type_chart, mtype * NUM_TYPES + d_types[:, 0])
    c1 = take(c.type_chart, mtype * NUM_TYPES + d_types[:, 1])
    dual = d_types[:, 1] != d_types[:, 0]
    base = base * c0 // 10
    eff = c0
    base = torch.where(dual, base * c1 // 10, base)
    eff = torch.where(dual, eff * c1 // 10, eff)
    base = torch.where(crit, base * 2, base)
    base = (base * (SPREAD_BASE + spread) // SPREAD_DIV).clamp(min=1)
    damage = torch.where(eff == 0, 0, base)
    sp = attacker[:, SPECIES]
    second = torch.where(~hit, _msg(missed_msg, sp), torch.where(eff == 0, _msg(BMSG.NO_EFFECT),
                                                                 _msg(BMSG.CRITICAL)))
    third = torch.where(eff > 10, _msg(BMSG.SUPER_EFFECTIVE), _msg(BMSG.NOT_EFFECTIVE))
    msgs = torch.stack([_msg(used_msg, sp, move), second, third], 1)
    ok = hit & (eff != 0)
    valid = torch.stack([torch.ones_like(hit), ~hit | (eff == 0) | crit, ok & (eff != 10)], 1)
    return _Attack(move, hit, damage, msgs, valid)


def _learn(c: ContentTables, species: torch.Tensor, old_level: torch.Tensor, level: torch.Tensor,
           grew: torch.Tensor, moves: torch.Tensor, pp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``party.learn`` of every learnset entry between the old and the new level, in order.

    Learnsets are sorted by level, so the entries in range start at the number of entries at or below the
    old level; at most ``c.learn_window`` of them fit in one gain, so only that many are visited. Slots are
    handled as separate [N] columns with plain comparisons (no reductions), which keeps the compiled loop
    small.
    """
    learnset = take(c.learnset, species)  # [N, LS, 2]
    entries = learnset.shape[1]
    first = (learnset[:, :, 0] <= old_level[:, None]).sum(1, dtype=torch.int32)
    m = list(moves.unbind(1))
    p = list(pp.unbind(1))
    for k in range(c.learn_window):
        j = (first + k).clamp(max=entries - 1)
        entry = learnset.gather(1, j.long()[:, None, None].expand(-1, 1, 2)).squeeze(1)
        at, move = entry[:, 0], entry[:, 1]
        present = (m[0] == move) | (m[1] == move) | (m[2] == move) | (m[3] == move)
        learns = grew & (first + k < entries) & (at > old_level) & (at <= level) & ~present
        # the first empty slot, else the first of the weakest moves
        power = [take(c.move_power, mk + 1) for mk in m]
        slot = torch.zeros_like(at)
        weakest = power[0]
        for s_ in range(1, 4):
            better = power[s_] < weakest
            slot = torch.where(better, s_, slot)
            weakest = torch.minimum(weakest, power[s_])
        for s_ in range(3, -1, -1):
            slot = torch.where(m[s_] == -1, s_, slot)
        new_pp = take(c.move_pp, move + 1)
        for s_ in range(4):
            put = learns & (slot == s_)
            m[s_] = torch.where(put, move, m[s_])
            p[s_] = torch.where(put, new_pp, p[s_])
    return torch.stack(m, 1), torch.stack(p, 1)


def press(s: BatchedState, cx: Ctx, mask: torch.Tensor, button: torch.Tensor, rnd: torch.Tensor
          ) -> tuple[Say, BoxWrite]:
    """One button for the envs in ``mask`` (a battle is on); returns the overworld pages an ending queues and
    the caught creatures bound for the box."""
    c = cx.c
    dev = button.device
    n = button.shape[0]
    phase, cursor = s.battle_phase, s.battle_cursor
    is_a, is_b = button == _A, button == _B
    wild = s.battle_kind == BKIND.WILD
    valid_slots = party_valid(s, cx)
    party_hp = s.party[:, :PARTY_SIZE, HP]
    me0 = gather_mon(s.party, s.player_active)
    in_phase = [mask & (phase == p) for p in range(6)]

    # ---------------------------------------------------------------------------------------- decode the press
    main_a = in_phase[_MAIN] & is_a
    has_pp = (me0[:, PP] > 0).any(1)
    struggle = main_a & (cursor == 0) & ~has_pp
    run = main_a & (cursor == 3)
    open_sub = main_a & ~struggle & ~run
    fight_a = in_phase[_FIGHT] & is_a
    slot_pp = me0[:, PP].gather(1, cursor.clamp(0, 3).long()[:, None]).squeeze(1)
    no_pp = fight_a & (slot_pp == 0)
    fight = fight_a & ~no_pp
    # bag
    battle_held = s.bag.index_select(1, c.battle_items) > 0  # [N, len(BATTLE_ITEMS)]
    held_count = battle_held.sum(1, dtype=torch.int32)
    rank = running_count(battle_held)
    item = take(c.battle_items, (battle_held & (rank == (cursor + 1)[:, None])).to(torch.uint8).argmax(1))
    bag_a = in_phase[_BAG] & is_a & (cursor < held_count)
    is_orb = take(c.item_catch, item) > 0
    orb = bag_a & is_orb
    throw = orb & wild
    cant_catch = orb & ~wild
    revives = take(c.item_revives, item) > 0
    fainted = valid_slots & (party_hp == 0)
    revive_target = torch.where(fainted.any(1), fainted.to(torch.uint8).argmax(1).to(torch.int32), -1)
    heal_target = torch.where(me0[:, HP] < me0[:, MAX_HP], s.player_active, -1)
    target = torch.where(revives, revive_target, heal_target)
    heal_try = bag_a & ~is_orb
    healed = heal_try & (target >= 0)
    heal_refused = heal_try & (target < 0)
    # party
    chosen_hp = party_hp.gather(1, cursor.clamp(0, PARTY_SIZE - 1).long()[:, None]).squeeze(1)
    switch = in_phase[_PARTY] & is_a & (cursor != s.player_active) & (chosen_hp > 0)
    forced = in_phase[_FORCED] & is_a & (chosen_hp > 0)
    # run
    foe0 = gather_mon(s.enemy, s.enemy_active)
    odds = torch.where(me0[:, SPEED] >= foe0[:, SPEED], 256,
                       me0[:, SPEED] * 128 // foe0[:, SPEED].clamp(min=1) + RUN_BASE_ODDS)
    escaped = run & wild & ((rnd[:, RNG.RUN] % 256) < odds)
    run_failed = run & wild & ~escaped
    cant_escape = run & ~wild
    # catch
    foe_species = foe0[:, SPECIES]
    rate = take(c.species_catch, foe_species) * take(c.item_catch, item) // 10
    max3 = 3 * foe0[:, MAX_HP]
    chance = (rate * (max3 - 2 * foe0[:, HP]) // max3.clamp(min=1)).clamp(1, 255)
    caught = throw & ((rnd[:, RNG.CATCH] & 255) < chance)
    broke_free = throw & ~caught

    # ---------------------------------------------------------------------------------------- pre-effects
    slots6 = cx.slots[None, :]
    old_active_species = me0[:, SPECIES]
    target_mon = gather_mon(s.party, target.clamp(min=0))
    t_hp, t_max = target_mon[:, HP], target_mon[:, MAX_HP]
    heal_amount = torch.minimum(take(c.item_heal, item), t_max - t_hp)
    new_hp = torch.where(revives, (t_max // 2).clamp(min=1), t_hp + heal_amount)
    hit_slot = healed[:, None] & (slots6 == target[:, None])
    s.party[:, :PARTY_SIZE, HP] = torch.where(hit_slot, new_hp[:, None], party_hp)
    col = torch.where(healed | throw, item, NUM_ITEMS).long()[:, None]
    put(s.bag, col, s.bag.gather(1, col) - 1)
    s.player_active = torch.where(switch | forced, cursor, s.player_active)

    # ---------------------------------------------------------------------------------------- the turn
    me = gather_mon(s.party, s.player_active)
    foe = foe0
    player_attacks = fight | struggle
    enemy_only = healed | broke_free | run_failed | switch
    turn = player_attacks | enemy_only
    usable = (foe[:, MOVES] >= 0) & (foe[:, PP] > 0)
    n_usable = usable.sum(1, dtype=torch.int32)
    k = (rnd[:, RNG.ENEMY_MOVE] % n_usable.clamp(min=1)).to(torch.int32)
    enemy_slot = (usable & (running_count(usable) == (k + 1)[:, None])).to(torch.uint8).argmax(1)
    enemy_struggles = n_usable == 0
    enemy_move = torch.where(enemy_struggles, 0, foe[:, MOVES].gather(1, enemy_slot[:, None]).squeeze(1))
    player_slot = cursor.clamp(0, 3).long()
    player_move = torch.where(struggle, 0, me[:, MOVES].gather(1, player_slot[:, None]).squeeze(1))
    pa = _attack(cx, me, foe, player_move, rnd, (RNG.PLAYER_HIT, RNG.PLAYER_CRIT, RNG.PLAYER_DAMAGE),
                 BMSG.PLAYER_USED, BMSG.PLAYER_MISSED)
    ea = _attack(cx, foe, me, enemy_move, rnd, (RNG.ENEMY_HIT, RNG.ENEMY_CRIT, RNG.ENEMY_DAMAGE),
                 BMSG.ENEMY_USED, BMSG.ENEMY_MISSED)
    faster = me[:, SPEED] > foe[:, SPEED]
    tie = me[:, SPEED] == foe[:, SPEED]
    player_first = player_attacks & (faster | (tie & ((rnd[:, RNG.FIRST_MOVER] & 1) == 0)))
    foe_hit = torch.where(pa.hit, pa.damage, 0)
    me_hit = torch.where(ea.hit, ea.damage, 0)
    # player first: the enemy acts if it survives; enemy first: the player acts if it survives
    foe_after_p = (foe[:, HP] - foe_hit).clamp(min=0)
    enemy_acts = turn & (~player_first | (foe_after_p > 0))
    me_hp = torch.where(enemy_acts, (me[:, HP] - me_hit).clamp(min=0), me[:, HP])
    player_acts = player_attacks & (player_first | (me_hp > 0))
    foe_hp = torch.where(player_acts, (foe[:, HP] - foe_hit).clamp(min=0), foe[:, HP])
    # PP
    me_pp = me[:, PP] - ((player_acts & ~struggle)[:, None] & (torch.arange(4, device=dev)[None, :] == player_slot[:,
                                                                                                            None])).to(
        torch.int32)
    foe_pp = foe[:, PP] - ((enemy_acts & ~enemy_struggles)[:, None]
                           & (torch.arange(4, device=dev)[None, :] == enemy_slot[:, None])).to(torch.int32)

    # ---------------------------------------------------------------------------------------- end of turn
    foe_fainted = turn & (foe_hp == 0)
    me_fainted = turn & ~foe_fainted & (me_hp == 0)
    # experience
    trainer_battle = s.battle_kind == BKIND.TRAINER
    amount = take(c.species_exp, foe[:, SPECIES]) * foe[:, LEVEL] // EXP_DIV
    amount = torch.where(trainer_battle, amount * TRAINER_EXP_NUM // TRAINER_EXP_DEN, amount)
    exp = me[:, EXP] + torch.where(foe_fainted, amount, 0)
    reached = torch.bucketize(exp.to(torch.int64), c.cubes, right=True).to(torch.int32).clamp(max=MAX_LEVEL)
    old_level = me[:, LEVEL]
    level = torch.maximum(old_level, reached)
    grew = level > old_level
    species = me[:, SPECIES]
    stats = take(c.stats, species * (MAX_LEVEL + 1) + level)
    me_hp = torch.where(grew & (me_hp > 0), me_hp + stats[:, 0] - me[:, MAX_HP], me_hp)
    before = me[:, MOVES]
    moves, pp = _learn(c, species, old_level, level, grew, before, me_pp)
    learned = (moves >= 0) & ~(moves[:, :, None] == before[:, None, :]).any(2)
    me_new = torch.cat([species[:, None], level[:, None], exp[:, None], me_hp[:, None],
                        torch.where(grew[:, None], stats, me[:, MAX_HP:SPEED + 1]), moves, pp], 1)
    scatter_mon(s.party, s.player_active, turn, me_new)
    foe_new = torch.cat([foe[:, :HP], foe_hp[:, None], foe[:, MAX_HP:SPEED + 1], foe[:, MOVES], foe_pp], 1)
    scatter_mon(s.enemy, s.enemy_active, turn, foe_new)
    follower = first_able(s.enemy, s.enemy_count)
    sent_out = foe_fainted & (follower >= 0)
    defeated = foe_fainted & ~sent_out & trainer_battle
    trainer_row = cx.trainer_base + s.battle_trainer.clamp(min=0)
    trow = take(cx.t.trainer, trainer_row)
    defeat_text = trow[:, T_["defeat_text"]]
    follower_species = gather_mon(s.enemy, follower.clamp(min=0))[:, SPECIES]
    s.enemy_active = torch.where(sent_out, follower, s.enemy_active)
    # the party's first able member after the turn (the party does not change again in this press)
    party_first = first_able(s.party, s.party_count)
    lost_all = me_fainted & (party_first < 0)
    win = foe_fainted & ~sent_out

    # ---------------------------------------------------------------------------------------- messages
    m = _msg
    sp = me[:, SPECIES]
    pre0 = torch.where(struggle, m(BMSG.NO_MOVES_LEFT, sp), m(BMSG.USED_ITEM, item))
    pre0 = torch.where(switch, m(BMSG.COME_BACK, old_active_species), pre0)
    pre0 = torch.where(throw, m(BMSG.THREW_ORB, item), pre0)
    pre0 = torch.where(escaped, m(BMSG.GOT_AWAY), pre0)
    pre0 = torch.where(run_failed, m(BMSG.RUN_FAILED), pre0)
    pre0 = torch.where(no_pp, m(BMSG.NO_PP), pre0)
    pre0 = torch.where(cant_escape, m(BMSG.CANT_ESCAPE), pre0)
    pre0 = torch.where(cant_catch, m(BMSG.CANT_CATCH), pre0)
    pre0 = torch.where(heal_refused, m(BMSG.ITEM_NO_EFFECT), pre0)
    pre0 = torch.where(forced, m(BMSG.GO, sp), pre0)
    pre1 = torch.where(revives, m(BMSG.REVIVED, target_mon[:, SPECIES]),
                       m(BMSG.RECOVERED, target_mon[:, SPECIES], heal_amount))
    pre1 = torch.where(switch, m(BMSG.GO, sp), pre1)
    pre1 = torch.where(caught, m(BMSG.CAUGHT, foe_species), pre1)
    pre1 = torch.where(broke_free, m(BMSG.BROKE_FREE, foe_species), pre1)
    refused = no_pp | cant_escape | cant_catch | heal_refused
    v_pre0 = struggle | healed | switch | throw | run | refused | forced
    v_pre1 = healed | switch | throw
    zero3 = torch.zeros((n, 3), dtype=torch.bool, device=dev)
    first_msgs = torch.where(player_first[:, None], pa.msgs, ea.msgs)
    first_valid = torch.where(player_first[:, None], pa.valid & player_acts[:, None], ea.valid & enemy_acts[:, None])
    second_msgs = torch.where(player_first[:, None], ea.msgs, pa.msgs)
    second_valid = torch.where(player_first[:, None], ea.valid & enemy_acts[:, None],
                               torch.where(player_attacks[:, None], pa.valid & player_acts[:, None], zero3))
    faint = torch.where(foe_fainted, m(BMSG.ENEMY_FAINTED, foe[:, SPECIES]), m(BMSG.PLAYER_FAINTED, sp))
    gained = exp - me[:, EXP]
    levels_gained = level - old_level
    ups = torch.arange(c.max_level_ups, device=dev, dtype=torch.int32)[None, :]
    level_msgs = m(BMSG.LEVEL_UP, sp[:, None], old_level[:, None] + 1 + ups)
    level_valid = foe_fainted[:, None] & (ups < levels_gained[:, None])
    learn_msgs = m(BMSG.LEARNED, sp[:, None], moves)
    learn_valid = foe_fainted[:, None] & learned
    follow = torch.where(sent_out, m(BMSG.TRAINER_SENT_OUT, s.battle_trainer, follower_species),
                         m(BMSG.TRAINER_DEFEATED, s.battle_trainer))
    cand = torch.cat([pre0[:, None], pre1[:, None], pre0[:, None], first_msgs, second_msgs, faint[:, None],
                      m(BMSG.GAINED_EXP, sp, gained)[:, None], level_msgs, learn_msgs, follow[:, None],
                      m(BMSG.DEFEAT_TEXT, defeat_text)[:, None]], 1)
    valid = torch.cat([v_pre0[:, None], v_pre1[:, None], zero3[:, :1], first_valid, second_valid,
                       (foe_fainted | me_fainted)[:, None], foe_fainted[:, None], level_valid, learn_valid,
                       (sent_out | defeated)[:, None], (defeated & (defeat_text >= 0))[:, None]], 1)
    writes = turn | escaped | caught | refused | forced
    _write_messages(s, writes, cand, valid)
    s.overflow = s.overflow | (foe_fainted & (levels_gained > c.max_level_ups))

    # ---------------------------------------------------------------------------------------- phase, cursor
    outcome = torch.where(escaped, OUT.FLEE, OUT.CONTINUE).to(torch.int32)
    outcome = torch.where(caught, OUT.CAUGHT, outcome)
    outcome = torch.where(win, OUT.WIN, outcome)
    outcome = torch.where(lost_all, OUT.LOSE, outcome)
    s.outcome = torch.where(writes, outcome, s.outcome)
    s.turns = s.turns + (turn | escaped | caught).to(torch.int32)
    new_phase = torch.where(writes, _MESSAGE, phase)
    new_phase = torch.where(open_sub, cursor + 1, new_phase)  # MAIN_OPTION_PHASE: FIGHT, BAG, PARTY
    back = (in_phase[_FIGHT] | in_phase[_BAG] | in_phase[_PARTY]) & is_b
    new_phase = torch.where(back, _MAIN, new_phase)
    grid = cx.main_grid
    main_dpad = in_phase[_MAIN] & (button <= 3)
    new_cursor = torch.where(main_dpad, take(grid, button.clamp(0, 3) * 4 + cursor.clamp(0, 3)), cursor)
    new_cursor = torch.where(open_sub, 0, new_cursor)
    new_cursor = torch.where(back, phase - 1, new_cursor)
    counts = torch.where(in_phase[_FIGHT], 4 - (me0[:, MOVES] == -1).sum(1, dtype=torch.int32),
                         torch.where(in_phase[_BAG], held_count, s.party_count))
    listing = (in_phase[_FIGHT] | in_phase[_BAG] | in_phase[_PARTY] | in_phase[_FORCED]) & ~is_a & ~is_b
    new_cursor = torch.where(listing, _cursor_step(cursor, button, counts), new_cursor)

    # ---------------------------------------------------------------------------------------- paging messages
    paging = in_phase[_MESSAGE] & (is_a | is_b)
    left = s.message_count - s.message_head
    s.message_head = s.message_head + (paging & (left > 0)).to(torch.int32)
    emptied = paging & (s.message_count - s.message_head == 0)
    cont = emptied & (s.outcome == OUT.CONTINUE)
    active_hp = gather_mon(s.party, s.player_active)[:, HP]
    to_forced = cont & (active_hp == 0)
    new_phase = torch.where(cont, torch.where(to_forced, _FORCED, _MAIN).to(torch.int32), new_phase)
    new_cursor = torch.where(cont, torch.where(to_forced, party_first, 0), new_cursor)
    s.battle_phase = new_phase
    s.battle_cursor = new_cursor
    ends = emptied & ~cont
    return _end(s, cx, ends)


@dataclass
class BoxWrite:
    """A caught creature to put in box slot ``slot`` where ``mask``.

    The engine writes it outside the (compiled) step: an in-place write into the box, the biggest array of
    the state, would otherwise be compiled as a copy of the whole box every step.
    """

    mask: torch.Tensor
    slot: torch.Tensor
    record: torch.Tensor

    def apply(self, s: BatchedState) -> None:
        scatter_mon(s.box, self.slot, self.mask, self.record)


def _write_messages(s: BatchedState, mask: torch.Tensor, cand: torch.Tensor, valid: torch.Tensor) -> None:
    """Compacts the valid candidate messages into the queue (from its start) where ``mask``.

    One scatter straight into the queue: candidates that are not written go to its scratch slot (the last),
    and slots past the new count keep stale messages, which nothing reads.
    """
    scratch = s.messages.shape[1] - 1
    pos = valid.to(torch.int32).cumsum(1) - 1
    target = torch.where(valid & mask[:, None], pos, scratch).long()
    put(s.messages, target, cand)
    s.message_count = torch.where(mask, valid.sum(1, dtype=torch.int32), s.message_count)
    s.message_head = torch.where(mask, 0, s.message_head)


def _end(s: BatchedState, cx: Ctx, ends: torch.Tensor) -> tuple[Say, BoxWrite]:
    """``battle._messages_done`` for a finished battle: the outcome's effects, then no battle."""
    outcome = s.outcome
    win = ends & (outcome == OUT.WIN)
    lose = ends & (outcome == OUT.LOSE)
    caught = ends & (outcome == OUT.CAUGHT)
    wild = s.battle_kind == BKIND.WILD
    specials = cx.env_specials
    trainer_row = cx.trainer_base + s.battle_trainer.clamp(min=0)
    trow = take(cx.t.trainer, trainer_row)
    trainer_win = win & ~wild
    # trainer win: the trainer is done, its events, money and pages
    mark_done(s, torch.where(trainer_win & (s.battle_entity >= 0), s.battle_entity, cx.dummy)[:, None])
    s.money = torch.where(trainer_win, (s.money + trow[:, T_["money"]]).clamp(max=MAX_MONEY), s.money)
    # caught: into the party, else the box, else let go
    mon = gather_mon(s.enemy, s.enemy_active)
    to_party = caught & (s.party_count < PARTY_SIZE)
    to_box = caught & ~to_party & (s.box_count < BOX_SIZE)
    let_go = caught & ~to_party & ~to_box
    scatter_mon(s.party, s.party_count, to_party, mon)
    box = BoxWrite(to_box, s.box_count, mon)
    s.party_count = s.party_count + to_party.to(torch.int32)
    s.box_count = s.box_count + to_box.to(torch.int32)
    set_events(s, [
        event_col(win & wild, specials[:, S_["ev_first_wild_win"]], cx),
        event_col(trainer_win, trow[:, T_["event_col"]], cx),
        event_col(trainer_win, specials[:, S_["ev_first_trainer_win"]], cx),
        event_col(caught, specials[:, S_["ev_first_catch"]], cx),
    ])
    # pages
    lost = s.money - s.money // 2
    pages = take(cx.t.trainer_pages, trainer_row)  # [N, WIN_PAGES]
    lose_pages = torch.stack([page(MSG.WHITEOUT) + torch.zeros_like(lost, dtype=torch.int64),
                              page(MSG.WHITEOUT_2, lost)], 1)
    extra = torch.where(lose[:, None], torch.nn.functional.pad(lose_pages, (0, WIN_PAGES - 2)), pages)
    box_page = torch.where(to_box, page(MSG.CAUGHT_TO_BOX, mon[:, SPECIES]), page(MSG.BOX_FULL, mon[:, SPECIES]))
    extra = torch.where((to_box | let_go)[:, None],
                        torch.nn.functional.pad(box_page[:, None], (0, WIN_PAGES - 1)), extra)
    extras = torch.where(trainer_win, trow[:, T_["win_pages"]], torch.where(lose, 2, (to_box | let_go).to(
        torch.int32)))
    effect = torch.where(lose, EFFECT.WHITEOUT,
                         torch.where(trainer_win & (trow[:, T_["finishes"]] > 0), EFFECT.FINISH,
                                     EFFECT.NONE).to(torch.int32))
    zero = torch.zeros_like(s.money)
    say = Say(mask=ends & (trainer_win | lose | to_box | let_go), first=zero, texts=zero, extra=extra,
              extras=extras, effect=effect, arg=zero)
    # no battle
    s.battle_kind = torch.where(ends, BKIND.NONE, s.battle_kind)
    s.battle_trainer = torch.where(ends, -1, s.battle_trainer)
    s.battle_entity = torch.where(ends, -1, s.battle_entity)
    s.enemy_count = torch.where(ends, 0, s.enemy_count)
    for name in ("enemy_active", "player_active", "battle_phase", "battle_cursor", "message_count", "message_head",
                 "outcome", "turns"):
        setattr(s, name, torch.where(ends, 0, getattr(s, name)))
    return say, box


def start(s: BatchedState, cx: Ctx, wild: Wild, trainer: TrainerStart) -> None:
    """``battle.start_wild`` / ``battle.start_trainer`` (nothing where no party member can fight)."""
    lead = first_able(s.party, s.party_count)
    go = (wild.mask | trainer.mask) & (lead >= 0)
    is_trainer = trainer.mask
    trow = cx.trainer_base + trainer.trainer.clamp(min=0)
    team = take(cx.t.trainer_team, trow)  # [N, TS, 16]
    wild_mon = new_mon(cx, wild.species, wild.level)
    team[:, 0] = torch.where(is_trainer[:, None], team[:, 0], wild_mon)  # a wild team: the wild creature first
    size = torch.where(is_trainer, take(cx.t.trainer, trow)[:, T_["team_size"]], 1)
    s.enemy[:, :-1] = torch.where(go[:, None, None], team, s.enemy[:, :-1])
    s.enemy_count = torch.where(go, size, s.enemy_count)
    s.battle_kind = torch.where(go, torch.where(is_trainer, BKIND.TRAINER, BKIND.WILD).to(torch.int32),
                                s.battle_kind)
    s.battle_trainer = torch.where(go, torch.where(is_trainer, trainer.trainer, -1), s.battle_trainer)
    s.battle_entity = torch.where(go, torch.where(is_trainer, trainer.entity, -1), s.battle_entity)
    for name in ("enemy_active", "battle_cursor", "outcome", "turns"):
        setattr(s, name, torch.where(go, 0, getattr(s, name)))
    s.player_active = torch.where(go, lead, s.player_active)
    s.battle_phase = torch.where(go, _MESSAGE, s.battle_phase)
    lead_species = gather_mon(s.party, lead.clamp(min=0))[:, SPECIES]
    first_species = team[:, 0, SPECIES]
    m = _msg
    cand = torch.stack([
        torch.where(is_trainer, m(BMSG.TRAINER_CHALLENGE, trainer.trainer), m(BMSG.WILD_APPEARED,
                                                                                    wild.species)),
        m(BMSG.TRAINER_SENT_OUT, trainer.trainer, first_species),
        m(BMSG.GO, lead_species)], 1)
    # the intro is two or three messages: written in place, no compaction needed
    intro = torch.where(is_trainer[:, None], cand, torch.stack([cand[:, 0], cand[:, 2], cand[:, 2] * 0], 1))
    s.messages[:, :3] = torch.where(go[:, None], intro, s.messages[:, :3])
    s.message_count = torch.where(go, torch.where(is_trainer, 3, 2).to(torch.int32), s.message_count)
    s.message_head = torch.where(go, 0, s.message_head)


__all__ = ["message_capacity", "press", "start"]
