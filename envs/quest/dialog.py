"""Text boxes: the message templates, the dialog queue and what A/B do while a text box is open.

A dialog is a queue of pages ``(Msg, arg0, arg1)``; ``Msg.TEXT`` shows a page of the world's own text
(``World.texts[arg0]``), the other templates format names and numbers into a fixed sentence. When the last
page is dismissed, the queued :class:`~longplay.envs.quest.constants.Effect` runs.
"""

from __future__ import annotations

import enum

from longplay.envs.game import Button
from longplay.envs.quest.constants import (
    ABILITY_NAMES,
    ITEM_NAMES,
    TEXT_COLS,
    Effect,
    MenuKind,
)
from longplay.envs.quest.content import SPECIES
from longplay.envs.quest.party import heal_party
from longplay.envs.quest.state import QuestState, World


class Msg(enum.IntEnum):
    """Overworld text-box templates. ``{s}`` species name of arg0, ``{i}`` item name of arg0,
    ``{n}`` arg0 as a number, ``{m}`` arg1 as a number, ``{b}`` badge name of arg0, ``{a}`` ability name."""

    TEXT = 0
    GOT_ITEM = 1
    GOT_PARTNER = 2
    HEALED = 3
    GOT_MONEY = 4
    GOT_BADGE = 5
    WHITEOUT = 6
    WHITEOUT_2 = 7
    NO_EFFECT = 8
    CANT_USE = 9
    USED_ITEM = 10
    NOT_ENOUGH_MONEY = 11
    CHOPPED = 12
    SWIM_START = 13
    SHOVED = 14
    BLOCKED_TREE = 15
    BLOCKED_BOULDER = 16
    BLOCKED_WATER = 17
    CAUGHT_TO_BOX = 18
    BOX_FULL = 19
    GOT_ITEMS = 20
    UNLOCKED = 21
    FINISHED = 22
    WARD_USED = 23
    BAG_FULL = 24


MESSAGES: dict[int, str] = {
    Msg.TEXT: "",
    Msg.GOT_ITEM: "Found {i}!",
    Msg.GOT_PARTNER: "{s} joined you!",
    Msg.HEALED: "Your team is rested and healed!",
    Msg.GOT_MONEY: "Got ${n} for winning!",
    Msg.GOT_BADGE: "Received the {b} Badge!",
    Msg.WHITEOUT: "No one left who can fight!",
    Msg.WHITEOUT_2: "You rushed back. Lost ${n}.",
    Msg.NO_EFFECT: "It won't have any effect.",
    Msg.CANT_USE: "There is no use for that now.",
    Msg.USED_ITEM: "Used {i} on {s}.",
    Msg.NOT_ENOUGH_MONEY: "You can't afford that.",
    Msg.CHOPPED: "Chopped the little tree down!",
    Msg.SWIM_START: "Your team swims you across!",
    Msg.SHOVED: "You shoved the boulder!",
    Msg.BLOCKED_TREE: "A small tree. It could be chopped.",
    Msg.BLOCKED_BOULDER: "A heavy boulder. It won't move.",
    Msg.BLOCKED_WATER: "The water is deep here.",
    Msg.CAUGHT_TO_BOX: "{s} was sent to the box.",
    Msg.BOX_FULL: "Box full! Let {s} go.",
    Msg.GOT_ITEMS: "Got {i} x{m}!",
    Msg.UNLOCKED: "You can now use {a}!",
    Msg.FINISHED: "You beat the game! The end.",  # mini ends at a gym badge: no champion there
    Msg.WARD_USED: "Wild creatures stay away now.",
    Msg.BAG_FULL: "You can't carry any more of those.",
}


def message_text(world: World, page: tuple[int, int, int]) -> str:
    """The text of one dialog page; lines are separated by ``\\n`` and fit the text box."""
    msg, arg0, arg1 = page
    if msg == Msg.TEXT:
        return world.texts[arg0]
    template = MESSAGES[msg]
    text = template.format(
        s=SPECIES[arg0].name if "{s}" in template and msg != Msg.USED_ITEM else "",
        i=ITEM_NAMES[arg0] if "{i}" in template else "",
        n=arg0,
        m=arg1,
        b=world.badge_names[arg0] if "{b}" in template else "",
        a=ABILITY_NAMES[arg0] if "{a}" in template else "",
    )
    if msg == Msg.USED_ITEM:  # arg1 is the species here
        text = MESSAGES[msg].format(i=ITEM_NAMES[arg0], s=SPECIES[arg1].name)
    return wrap(text)


def wrap(text: str, cols: int = TEXT_COLS) -> str:
    """Greedy word wrap to ``cols`` columns (a word longer than a line is split)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            while len(word) > cols:
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cols])
                word = word[cols:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= cols:
                line += " " + word
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return "\n".join(lines)


def say(state: QuestState, *pages: tuple[int, int, int], effect: int = Effect.NONE, arg: int = 0) -> None:
    """Queues pages; ``effect`` runs when the queue empties (it replaces any effect already queued)."""
    state.dialog.extend(pages)
    if effect != Effect.NONE:
        state.dialog_effect = effect
        state.dialog_arg = arg


def say_text(state: QuestState, first: int, count: int, effect: int = Effect.NONE, arg: int = 0) -> None:
    """Queues ``count`` world text pages starting at ``first``."""
    say(state, *((Msg.TEXT, first + k, 0) for k in range(count)), effect=effect, arg=arg)


def whiteout(state: QuestState, world: World) -> None:
    """Back to the last rest house with a healed team and half the money."""
    state.map, state.x, state.y = state.respawn
    state.facing = 0
    state.surfing = False
    state.money //= 2
    heal_party(state.party)


def press(state: QuestState, world: World, button: int) -> None:
    """A or B dismisses the current page; after the last one, the queued effect runs."""
    if button != Button.A and button != Button.B:
        return
    state.dialog.pop(0)
    if state.dialog:
        return
    effect, arg = state.dialog_effect, state.dialog_arg
    state.dialog_effect, state.dialog_arg = Effect.NONE, 0
    if effect == Effect.TRAINER_BATTLE:
        from longplay.envs.quest import battle  # battle imports dialog: import at use

        entity = arg
        battle.start_trainer(state, world, world.entities[entity].trainer, entity)
    elif effect == Effect.OPEN_SHOP:
        state.menu, state.menu_cursor, state.menu_choice = MenuKind.SHOP, 0, arg
    elif effect == Effect.WHITEOUT:
        whiteout(state, world)
    elif effect == Effect.FINISH:
        state.finished = True
