"""Every overworld message fits the text box (2 lines of 18 columns) with the longest names it can hold."""

from __future__ import annotations

from longplay.envs.quest.constants import ABILITY_NAMES, ITEM_NAMES, MAX_MONEY, TEXT_COLS, TEXT_ROWS
from longplay.envs.quest.content import SPECIES
from longplay.envs.quest.dialog import MESSAGES, Msg, message_text, wrap
from longplay.envs.quest.worldgen import build_world, canonical_world


def _longest(names) -> int:
    return max(range(len(names)), key=lambda i: len(names[i]))


def test_every_message_fits_two_lines() -> None:
    world = canonical_world()
    species = _longest([s.name for s in SPECIES])
    item = _longest(ITEM_NAMES)
    badge = _longest(world.badge_names)
    ability = _longest(ABILITY_NAMES)
    for msg in Msg:
        if msg == Msg.TEXT:
            continue
        template = MESSAGES[msg]
        arg0 = (species if "{s}" in template and msg != Msg.USED_ITEM else item if "{i}" in template
                else badge if "{b}" in template else ability if "{a}" in template else MAX_MONEY)
        arg1 = species if msg == Msg.USED_ITEM else 99
        lines = message_text(world, (msg, arg0, arg1)).split("\n")
        assert len(lines) <= TEXT_ROWS and all(len(line) <= TEXT_COLS for line in lines), (msg, lines)


def test_wrap() -> None:
    assert wrap("a bb ccc", 4) == "a bb\nccc"
    assert wrap("abcdefghij", 4) == "abcd\nefgh\nij"


def test_the_closing_page_is_true_in_a_world_without_a_champion() -> None:
    """A mini world ends with its one gym leader's badge, yet the closing page said "You are the champion!"."""
    mini = build_world("mini", 0)
    assert not any(trainer.title == "Champion" for trainer in mini.trainers)
    assert "champion" not in message_text(mini, (Msg.FINISHED, 0, 0)).lower()
