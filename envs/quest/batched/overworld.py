"""The overworld for N envs: turning, walking, ledges, water, boulders, warps, trainers' sight, wild encounters
and interacting with entities (mirrors :mod:`longplay.envs.quest.overworld`).

A move and an interaction both look at the cell in front of the player (a move only happens when the player
already faces the pressed direction) and at the cell beyond it (where a pushed boulder lands, where a ledge
hop lands, the person behind a counter), so two entity queries serve every env.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longplay.envs.quest.batched.common import (
    ABILITY,
    DIR,
    EFFECT,
    EK,
    MENU,
    MSG,
    RNG,
    Ctx,
    MonWrites,
    Say,
    boulder_visible,
    entity_at,
    event_col,
    first_able,
    mark_done,
    new_mon,
    page,
    put,
    set_events,
    take,
    visible,
)
from longplay.envs.quest.batched.state import BatchedState
from longplay.envs.quest.batched.tables import COUNTER, E_, ENCOUNTER, LEDGE, S_, WALKABLE, WARP, WATER
from longplay.envs.quest.constants import (
    MAX_ITEM_COUNT,
    NUM_ITEMS,
    PARTY_SIZE,
    EntityKind,
)

_A, _START = 4, 6
# the entity kinds as ints: iterating the enum class inside the step is a graph break for torch.compile in
# torch 2.11 (dynamo cannot trace ``EnumType.__iter__``), and with fullgraph=True an error
_ENTITY_KINDS = tuple(int(k) for k in EntityKind)


@dataclass
class Wild:
    """A wild battle to start: species and level per env, where ``mask``."""

    mask: torch.Tensor
    species: torch.Tensor
    level: torch.Tensor


def press(s: BatchedState, cx: Ctx, mask: torch.Tensor, button: torch.Tensor, rnd: torch.Tensor,
          able: torch.Tensor) -> tuple[Say, Wild, torch.Tensor, MonWrites]:
    """One button in the overworld for the envs in ``mask``; returns the pages and wild battle it starts, the
    envs that talked to a healer (the engine heals their party: one heal per step serves the overworld and
    the dialog's whiteout) and the partner a capsule gives (the engine writes it into the party).

    Args:
        s: The state (updated in place).
        cx: The step context.
        mask: Envs whose button the overworld takes.
        button: [N] buttons.
        rnd: [N, slots] this press's random numbers.
        able: [N] some party member can fight (``first_able >= 0``).
    """
    t = cx.t
    dev = button.device
    is_dir = button <= DIR.RIGHT
    turn = mask & is_dir & (s.facing != button)
    move = mask & is_dir & (s.facing == button)
    press_a = mask & (button == _A)
    s.facing = torch.where(turn, button, s.facing)
    fl = s.facing.long()
    dx, dy = cx.dx[fl], cx.dy[fl]
    fx, fy = s.x + dx, s.y + dy
    bx, by = fx + dx, fy + dy
    c_front, c_beyond = cx.cell(s.map, fx, fy), cx.cell(s.map, bx, by)
    f_front, f_beyond = take(t.cells, c_front).to(torch.int32), take(t.cells, c_beyond).to(torch.int32)
    bvis = boulder_visible(s, cx) if t.num_boulders else None
    e_front = entity_at(s, cx, c_front, fx, fy, bvis)
    e_beyond = entity_at(s, cx, c_beyond, bx, by, bvis)
    r_front = cx.rows(e_front)
    kind = r_front[:, E_["kind"]]
    found = e_front != cx.dummy

    abilities = s.events.gather(1, cx.env_ability_col)  # [N, 3] chop, swim, shove
    can_chop, can_swim, can_shove = abilities[:, ABILITY.CHOP], abilities[:, ABILITY.SWIM], \
        abilities[:, ABILITY.SHOVE]
    specials = cx.env_specials  # [N, 7]

    # ------------------------------------------------------------------------------------------ moving
    free_beyond = ((f_beyond & WALKABLE) != 0) & ((f_beyond & WARP) == 0) & (e_beyond == cx.dummy)
    push = move & found & (kind == EK.BOULDER) & can_shove & free_beyond
    open_ = move & ~found
    hop = open_ & ((f_front & LEDGE) != 0) & (s.facing == DIR.DOWN) & free_beyond
    water = open_ & ((f_front & WATER) != 0)
    start_swim = water & ~s.surfing & can_swim
    swim = water & (s.surfing | can_swim)
    walk = open_ & ((f_front & WALKABLE) != 0)
    arrive = push | hop | swim | walk
    s.surfing = (s.surfing | start_swim) & ~(walk | hop | push)  # every way onto land ends swimming
    if t.num_boulders:
        slot = torch.where(push, r_front[:, E_["boulder_slot"]], t.num_boulders).long()
        put(s.boulder_xy, slot[:, None], torch.stack([bx, by], 1)[:, None, :])

    # arriving: warps, then trainers' sight, then wild encounters
    ax, ay = torch.where(hop, bx, fx), torch.where(hop, by, fy)
    c_arr, f_arr = torch.where(hop, c_beyond, c_front), torch.where(hop, f_beyond, f_front)
    s.ward_steps = torch.where(arrive & (s.ward_steps > 0), s.ward_steps - 1, s.ward_steps)
    warp = arrive & ((f_arr & WARP) != 0)
    target = take(t.warp_to, c_arr)
    to_map, to_y, to_x = target >> 20, (target >> 10) & 1023, target & 1023
    s.map = torch.where(warp, to_map, s.map)
    s.x = torch.where(warp, to_x, torch.where(arrive, ax, s.x))
    s.y = torch.where(warp, to_y, torch.where(arrive, ay, s.y))
    s.surfing = s.surfing & ~warp
    map_row = (cx.map_base + s.map).long()
    map_info = take(t.map_info, map_row)  # encounter rate, enter event, encounter total
    stay = arrive & ~warp
    seen, trainer_e, trainer_facing = _sight(s, cx, stay & able, c_arr, bvis)
    s.facing = torch.where(seen, trainer_facing, s.facing)
    wild = stay & ~seen & (map_info[:, 0] > 0) & ((f_arr & ENCOUNTER) != 0) & (s.ward_steps == 0) & able \
        & ((rnd[:, RNG.ENCOUNTER] & 255) < map_info[:, 0])
    enc = take(t.encounters, map_row)  # [N, R, 4]
    pick = rnd[:, RNG.ENCOUNTER_SLOT] % map_info[:, 2]
    row = (enc[:, :, 3] <= pick[:, None]).sum(1, keepdim=True).clamp(max=enc.shape[1] - 1)
    chosen = enc.gather(1, row[:, :, None].expand(-1, 1, 4)).squeeze(1)
    wild_level = chosen[:, 1] + (rnd[:, RNG.ENCOUNTER_LEVEL] % chosen[:, 2].clamp(min=1)).to(torch.int32)

    # ------------------------------------------------------------------------------------------ interacting
    counter = press_a & ~found & ((f_front & COUNTER) != 0)
    e_target = torch.where(counter, e_beyond, e_front)
    r = torch.where(counter[:, None], cx.rows(e_beyond), r_front)
    kind = r[:, E_["kind"]]
    act = press_a & (e_target != cx.dummy)
    done_e = s.done.gather(1, e_target.long()[:, None]).squeeze(1)
    is_ = {k: act & (kind == k) for k in _ENTITY_KINDS}
    party_full = s.party_count >= PARTY_SIZE
    capsule = is_[EK.CAPSULE] & ~party_full
    trainer_fight = is_[EK.TRAINER] & ~done_e & able
    gift_new = is_[EK.GIFTER] & ~done_e
    pick_item = is_[EK.ITEM]
    chop = is_[EK.CUT_TREE] & can_chop
    clerk = is_[EK.CLERK]
    give = pick_item | gift_new
    # text runs: talking shows after_text once done (a taken capsule is done by the time it talks)
    talks = (is_[EK.PERSON] | is_[EK.SIGN] | is_[EK.GUARD] | is_[EK.HEALER]
             | (is_[EK.TRAINER] & ~trainer_fight) | (is_[EK.GIFTER] & done_e) | capsule)
    plain = trainer_fight | clerk | gift_new
    after = talks & (done_e | capsule) & (r[:, E_["after_text"]] >= 0)
    run_first = torch.where(after, r[:, E_["after_text"]], r[:, E_["text"]])
    run_count = torch.where(after, r[:, E_["after_pages"]], torch.where(talks | plain, r[:, E_["pages"]], 0))
    # the one generated page
    item, count = r[:, E_["item"]], r[:, E_["count"]]
    give_page = torch.where(count > 1, page(MSG.GOT_ITEMS, item, count), page(MSG.GOT_ITEM, item))
    extra = torch.where(give, give_page, page(MSG.HEALED))
    extra = torch.where(capsule, page(MSG.GOT_PARTNER, r[:, E_["species"]]), extra)
    extra = torch.where(is_[EK.BOULDER], page(MSG.BLOCKED_BOULDER), extra)
    extra = torch.where(is_[EK.CUT_TREE], torch.where(chop, page(MSG.CHOPPED), page(MSG.BLOCKED_TREE)),
                        extra)
    has_extra = give | is_[EK.HEALER] | capsule | (is_[EK.BOULDER] & ~can_shove) \
        | is_[EK.CUT_TREE]
    clerk_talks = clerk & (r[:, E_["pages"]] > 0)
    effect = torch.where(trainer_fight, EFFECT.TRAINER_BATTLE,
                         torch.where(clerk_talks, EFFECT.OPEN_SHOP, EFFECT.NONE).to(torch.int32))
    arg = torch.where(trainer_fight, e_target, r[:, E_["shop"]])
    # a clerk without pages opens the shop at once
    open_shop = clerk & ~clerk_talks
    s.menu = torch.where(open_shop, MENU.SHOP, s.menu)
    s.menu_cursor = torch.where(open_shop, 0, s.menu_cursor)
    s.menu_choice = torch.where(open_shop, r[:, E_["shop"]], s.menu_choice)
    start_menu = mask & (button == _START)
    s.menu = torch.where(start_menu, MENU.START, s.menu)
    s.menu_cursor = torch.where(start_menu, 0, s.menu_cursor)
    s.menu_choice = torch.where(start_menu, 0, s.menu_choice)

    # items into the bag
    bag_col = torch.where(give, item, NUM_ITEMS).long()[:, None]
    put(s.bag, bag_col, (s.bag.gather(1, bag_col) + count[:, None]).clamp(max=MAX_ITEM_COUNT))
    # a new partner
    partner = MonWrites.one(s.party_count, capsule, new_mon(cx, r[:, E_["species"]], r[:, E_["level"]]))
    s.party_count = s.party_count + capsule.to(torch.int32)
    # rest house
    healer = is_[EK.HEALER]
    s.respawn = torch.where(healer[:, None], torch.stack([s.map, s.x, s.y], 1), s.respawn)
    # done marks: items, gifts, trees, capsules (with their group)
    members = take(cx.t.group_members, cx.ent_base + e_target)  # [N, G]
    members = torch.where(capsule[:, None], members, cx.dummy)
    marks = torch.where(pick_item | gift_new | chop | capsule, e_target, cx.dummy)
    mark_done(s, torch.cat([members, marks[:, None]], 1))
    # events
    sets = r[:, E_["sets_col"]]
    set_events(s, [
        event_col(warp, map_info[:, 1], cx),
        event_col(push, specials[:, S_["ev_first_shove"]], cx),
        event_col(start_swim, specials[:, S_["ev_first_swim"]], cx),
        event_col(chop, specials[:, S_["ev_first_chop"]], cx),
        event_col(pick_item | gift_new | capsule, sets, cx),
    ])

    # ------------------------------------------------------------------------------------------ output
    tr = cx.rows(trainer_e)
    say_mask = act | seen
    say = Say(
        mask=say_mask,
        first=torch.where(seen, tr[:, E_["text"]], run_first),
        texts=torch.where(seen, tr[:, E_["pages"]], run_count),
        extra=extra[:, None],
        extras=(has_extra & ~seen).to(torch.int32),
        effect=torch.where(seen, EFFECT.TRAINER_BATTLE, effect),
        arg=torch.where(seen, trainer_e, arg),
    )
    del dev
    return say, Wild(wild, chosen[:, 0], wild_level), healer, partner


def _sight(s: BatchedState, cx: Ctx, mask: torch.Tensor, cell: torch.Tensor, bvis: torch.Tensor | None
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first unbeaten, visible trainer (by index) whose line of sight reaches ``cell`` unblocked.

    Returns ``(seen, trainer entity, the facing the player turns to)``.
    """
    t = cx.t
    cand = take(t.sight_entity, cell)  # [N, KS]
    dist = take(t.sight_dist, cell)
    rows = cx.rows(cand)  # [N, KS, C]
    ok = visible(s, cand, rows) & ~s.done.gather(1, cand.long())
    block = take(t.sight_block, cell)  # [N, KS, F]
    blocked = visible(s, block, cx.rows(block)).any(2)
    if bvis is not None:
        tx, ty = rows[..., E_["x"]], rows[..., E_["y"]]
        tf = rows[..., E_["facing"]].long()
        dx, dy = cx.dx[tf], cx.dy[tf]
        bxy = s.boulder_xy[:, None, :-1, :]  # [N, 1, B, 2]
        rx, ry = bxy[..., 0] - tx[..., None], bxy[..., 1] - ty[..., None]
        along = rx * dx[..., None] + ry * dy[..., None]
        across = rx * dy[..., None] - ry * dx[..., None]
        on_map = (cx.env_boulder_map == s.map[:, None])[:, None, :] & bvis[:, None, :]
        blocked = blocked | (on_map & (across == 0) & (along > 0) & (along < dist[..., None])).any(2)
    ok = ok & ~blocked & mask[:, None]
    first = ok.to(torch.uint8).argmax(1, keepdim=True)
    seen = ok.any(1)
    trainer = torch.where(seen, cand.gather(1, first).squeeze(1), cx.dummy)
    facing = rows[..., E_["facing"]].gather(1, first).squeeze(1)
    opposite = facing ^ 1  # UP <-> DOWN, LEFT <-> RIGHT (the Direction values pair up)
    return seen, trainer, opposite


def able_to_fight(s: BatchedState) -> torch.Tensor:
    """[N] some party member can fight."""
    return first_able(s.party, s.party_count) >= 0


__all__ = ["Wild", "able_to_fight", "press"]
