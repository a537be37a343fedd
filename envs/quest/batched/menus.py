"""Overworld menus for N envs: start menu, party, bag, bag target, shop (mirrors
:mod:`longplay.envs.quest.menus`)."""

from __future__ import annotations

import torch

from longplay.envs.quest.batched.common import (
    ITEM,
    MENU,
    MSG,
    Ctx,
    MonWrites,
    Say,
    gather_mon,
    page,
    put,
    running_count,
    take,
)
from longplay.envs.quest.batched.state import HP, MAX_HP, SPECIES, BatchedState
from longplay.envs.quest.constants import MAX_ITEM_COUNT, NUM_ITEMS, WARD_STEPS

_UP, _DOWN, _A, _B, _START = 0, 1, 4, 5, 6


def nth_item(bag: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """The ``n``-th held item in item order (``menus.bag_items(state)[n]``); item 0 when out of range."""
    held = bag[:, :NUM_ITEMS] > 0
    rank = running_count(held)
    hit = held & (rank == (n + 1)[:, None])
    return hit.to(torch.uint8).argmax(1).to(torch.int32)


def press(s: BatchedState, cx: Ctx, mask: torch.Tensor, button: torch.Tensor) -> tuple[Say, MonWrites]:
    """One button for the envs in ``mask`` (a menu is open); returns the pages it queues and its writes into
    the party (the engine writes them: a swap, or a creature healed)."""
    kind, cursor, choice = s.menu, s.menu_cursor, s.menu_choice
    c = cx.c
    held = s.bag[:, :NUM_ITEMS] > 0
    shop_row = (cx.shop_base + choice.clamp(0, cx.t.num_shops - 1)).long()
    shop_len = take(cx.t.shop_len, shop_row)
    is_start, is_party, is_bag = kind == MENU.START, kind == MENU.PARTY, kind == MENU.BAG
    is_target, is_shop = kind == MENU.BAG_TARGET, kind == MENU.SHOP
    rows = torch.where(is_start, 3, torch.where(is_party | is_target, s.party_count,
                       torch.where(is_bag, held.sum(1, dtype=torch.int32), torch.where(is_shop, shop_len + 1, 0))))
    updown = mask & ((button == _UP) | (button == _DOWN)) & (rows > 0)
    moved = torch.remainder(cursor + torch.where(button == _DOWN, 1, -1).to(torch.int32), rows.clamp(min=1))
    back = mask & ((button == _B) | ((button == _START) & is_start))
    choose = mask & (button == _A) & (cursor < rows)

    # ---------------------------------------------------------------------------------------- choosing
    start_back = choose & is_start & (cursor == 2)
    # party: the chosen creature swaps with the lead (two record writes: a permutation of every env's party
    # would copy the whole party array each step)
    swap = choose & is_party
    lead, chosen = s.party[:, 0], gather_mon(s.party, cursor)
    # bag: healing items choose a target, Ward Spray acts at once, anything else is of no use here
    item = nth_item(s.bag, cursor)
    heals = (take(c.item_heal, item) > 0) | (take(c.item_revives, item) > 0)
    bag_target = choose & is_bag & heals
    ward = choose & is_bag & ~heals & (item == ITEM.WARD_SPRAY)
    cant = choose & is_bag & ~heals & (item != ITEM.WARD_SPRAY)
    # bag target (the party is as it was before the swap: a swap is in another menu)
    target_item = choice.clamp(0, NUM_ITEMS - 1).long()
    mon = chosen
    hp, max_hp = mon[:, HP], mon[:, MAX_HP]
    heal_amount = take(c.item_heal, target_item)
    revive = (take(c.item_revives, target_item) > 0) & (hp == 0)
    heal = ~revive & (heal_amount > 0) & (hp > 0) & (hp < max_hp)
    target = choose & is_target
    used = target & (revive | heal)
    no_effect = target & ~used
    new_hp = torch.where(revive, (max_hp // 2).clamp(min=1), torch.minimum(max_hp, hp + heal_amount))
    healed = torch.cat([mon[:, :HP], new_hp[:, None], mon[:, HP + 1:]], 1)
    # the lead to the chosen slot then the chosen to the lead's (one record when the lead is chosen), or the
    # creature healed
    writes = MonWrites(torch.stack([swap | used, swap], 1), torch.stack([cursor, torch.zeros_like(cursor)], 1),
                       torch.stack([torch.where(swap[:, None], lead, healed), chosen], 1))
    # shop
    stock = take(cx.t.shop_stock, shop_row)
    stock_item = stock.gather(1, cursor.clamp(0, stock.shape[1] - 1).long()[:, None]).squeeze(1).clamp(min=0)
    shop = choose & is_shop
    shop_exit = shop & (cursor == shop_len)
    buying = shop & ~shop_exit
    price = take(c.item_price, stock_item)
    in_bag = s.bag.gather(1, stock_item.long()[:, None]).squeeze(1)
    poor = buying & (s.money < price)
    full = buying & ~poor & (in_bag >= MAX_ITEM_COUNT)
    buy = buying & ~poor & ~full
    s.money = torch.where(buy, s.money - price, s.money)

    # bag counts: one item used (ward spray, a target) or bought
    bag_item = torch.where(ward, ITEM.WARD_SPRAY, torch.where(used, target_item.to(torch.int32), stock_item))
    delta = torch.where(buy, 1, -1)
    changes = ward | used | buy
    col = torch.where(changes, bag_item, NUM_ITEMS).long()[:, None]
    after = s.bag.gather(1, col) + delta[:, None].to(torch.int32)
    put(s.bag, col, after)
    emptied = used & (after.squeeze(1) == 0)
    s.ward_steps = torch.where(ward, WARD_STEPS, s.ward_steps)

    # ---------------------------------------------------------------------------------------- menu state
    to_start = back & (is_party | is_bag)
    to_bag = (back & is_target) | emptied
    close = (back & ~is_party & ~is_bag & ~is_target) | start_back | shop_exit
    new_menu = torch.where(to_start, MENU.START, kind)
    new_menu = torch.where(to_bag, MENU.BAG, new_menu)
    new_menu = torch.where(choose & is_start & (cursor == 0), MENU.PARTY, new_menu)
    new_menu = torch.where(choose & is_start & (cursor == 1), MENU.BAG, new_menu)
    new_menu = torch.where(bag_target, MENU.BAG_TARGET, new_menu)
    new_menu = torch.where(close | ward, MENU.NONE, new_menu)
    new_cursor = torch.where(updown, moved, cursor)
    new_cursor = torch.where(to_start, is_bag.to(torch.int32), new_cursor)
    reset_cursor = to_bag | close | ward | bag_target | (choose & is_start)
    new_cursor = torch.where(reset_cursor, 0, new_cursor)
    s.menu_choice = torch.where(close, 0, torch.where(bag_target, item, choice))
    s.menu = new_menu
    s.menu_cursor = new_cursor

    # ---------------------------------------------------------------------------------------- pages
    extra = torch.where(ward, page(MSG.WARD_USED), page(MSG.CANT_USE))
    extra = torch.where(no_effect, page(MSG.NO_EFFECT), extra)
    extra = torch.where(used, page(MSG.USED_ITEM, target_item, mon[:, SPECIES]), extra)
    extra = torch.where(poor, page(MSG.NOT_ENOUGH_MONEY), extra)
    extra = torch.where(full, page(MSG.BAG_FULL), extra)
    say_mask = ward | cant | no_effect | used | poor | full
    zero = torch.zeros_like(cursor)
    return Say(mask=say_mask, first=zero, texts=zero, extra=extra[:, None], extras=say_mask.to(torch.int32),
               effect=zero, arg=zero), writes


__all__ = ["nth_item", "press"]
