"""Overworld menus: the start menu, the party list, the bag (and choosing who gets an item), shops.

Cursors wrap with up/down; A chooses; B goes back one level (and closes the start menu, as START does).
"""

from __future__ import annotations

from longplay.envs.quest.constants import (
    ITEM_HEAL,
    ITEM_PRICE,
    ITEM_REVIVES,
    MAX_ITEM_COUNT,
    WARD_STEPS,
    Item,
    MenuKind,
)
from longplay.envs.quest.dialog import Msg, say
from longplay.envs.quest.state import QuestState, World

_UP, _DOWN, _A, _B, _START = 0, 1, 4, 5, 6


def bag_items(state: QuestState) -> list[int]:
    """Items the player holds, in item order (what the BAG menu lists)."""
    return [item for item, count in enumerate(state.bag) if count > 0]


def menu_options(state: QuestState, world: World) -> int:
    """How many rows the open menu has (the cursor ranges over them)."""
    kind = state.menu
    if kind == MenuKind.START:
        return 3
    if kind == MenuKind.PARTY or kind == MenuKind.BAG_TARGET:
        return len(state.party)
    if kind == MenuKind.BAG:
        return len(bag_items(state))
    if kind == MenuKind.SHOP:
        return len(world.shops[state.menu_choice]) + 1  # the last row is EXIT
    return 0


def press(state: QuestState, world: World, button: int) -> None:
    """One button while a menu is open."""
    rows = menu_options(state, world)
    if button == _UP or button == _DOWN:
        if rows:
            state.menu_cursor = (state.menu_cursor + (1 if button == _DOWN else -1)) % rows
        return
    kind = state.menu
    if button == _B or (button == _START and kind == MenuKind.START):
        _back(state)
    elif button == _A and state.menu_cursor < rows:
        _CHOOSE[kind](state, world)


def _back(state: QuestState) -> None:
    kind = state.menu
    if kind == MenuKind.PARTY or kind == MenuKind.BAG:
        state.menu, state.menu_cursor = MenuKind.START, 0 if kind == MenuKind.PARTY else 1
    elif kind == MenuKind.BAG_TARGET:
        state.menu, state.menu_cursor = MenuKind.BAG, 0
    else:
        state.menu, state.menu_cursor, state.menu_choice = MenuKind.NONE, 0, 0


def _choose_start(state: QuestState, world: World) -> None:
    if state.menu_cursor == 0:
        state.menu, state.menu_cursor = MenuKind.PARTY, 0
    elif state.menu_cursor == 1:
        state.menu, state.menu_cursor = MenuKind.BAG, 0
    else:
        _back(state)


def _choose_party(state: QuestState, world: World) -> None:
    """A on a party member makes it the lead (it goes first into battle)."""
    i = state.menu_cursor
    state.party[0], state.party[i] = state.party[i], state.party[0]


def _choose_bag(state: QuestState, world: World) -> None:
    item = bag_items(state)[state.menu_cursor]
    if ITEM_HEAL[item] or ITEM_REVIVES[item]:
        state.menu, state.menu_cursor, state.menu_choice = MenuKind.BAG_TARGET, 0, item
    elif item == Item.WARD_SPRAY:
        state.bag[item] -= 1
        state.ward_steps = WARD_STEPS
        state.menu, state.menu_cursor = MenuKind.NONE, 0
        say(state, (Msg.WARD_USED, 0, 0))
    else:
        say(state, (Msg.CANT_USE, 0, 0))


def _choose_target(state: QuestState, world: World) -> None:
    item = state.menu_choice
    mon = state.party[state.menu_cursor]
    if ITEM_REVIVES[item] and mon.hp == 0:
        mon.hp = max(1, mon.max_hp // 2)
    elif ITEM_HEAL[item] and 0 < mon.hp < mon.max_hp:
        mon.hp = min(mon.max_hp, mon.hp + ITEM_HEAL[item])
    else:
        say(state, (Msg.NO_EFFECT, 0, 0))
        return
    state.bag[item] -= 1
    say(state, (Msg.USED_ITEM, item, mon.species))
    if state.bag[item] == 0:
        state.menu, state.menu_cursor = MenuKind.BAG, 0


def _choose_shop(state: QuestState, world: World) -> None:
    stock = world.shops[state.menu_choice]
    if state.menu_cursor == len(stock):
        _back(state)
        return
    item = stock[state.menu_cursor]
    if state.money < ITEM_PRICE[item]:
        say(state, (Msg.NOT_ENOUGH_MONEY, 0, 0))
    elif state.bag[item] >= MAX_ITEM_COUNT:
        say(state, (Msg.BAG_FULL, 0, 0))
    else:
        state.money -= ITEM_PRICE[item]
        state.bag[item] += 1


_CHOOSE = {
    MenuKind.START: _choose_start,
    MenuKind.PARTY: _choose_party,
    MenuKind.BAG: _choose_bag,
    MenuKind.BAG_TARGET: _choose_target,
    MenuKind.SHOP: _choose_shop,
}
