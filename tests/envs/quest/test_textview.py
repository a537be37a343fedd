"""The text view of the quest game: content, ASCII only, compact, legend, cursors in menus and battles."""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from longplay.envs.quest import render, textview
from longplay.envs.quest.battle import BattleMsg
from longplay.envs.quest.constants import (
    BATTLE_MAIN_OPTIONS,
    NUM_ITEMS,
    PARTY_SIZE,
    START_MENU_OPTIONS,
    TILE_CHARS,
    WARD_STEPS,
    BattleKind,
    BattlePhase,
    Direction,
    Item,
    MenuKind,
)
from longplay.envs.quest.content import SPECIES
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.party import make_mon
from longplay.envs.quest.state import Battle, QuestState, World


def _load_worlds() -> Any:
    """The hand-made world of ``test_render.py`` (the tests folder is not a package: load it by path)."""
    name = "longplay_test_render_worlds"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_render.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


worlds = _load_worlds()


@pytest.fixture(scope="module")
def world() -> World:
    return worlds.make_world()


def _check_text(text: str) -> None:
    bad = [ch for ch in text if not (32 <= ord(ch) < 127 or ch == "\n")]
    assert not bad, bad
    assert len(text) < 2500


def _option_line(text: str, option: str) -> str:
    return next(line for line in text.splitlines() if option in line)


def test_overworld_view_has_location_position_map_and_status(world: World) -> None:
    state = worlds.make_state(world)
    text = textview.text_view(world, state)
    _check_text(text)
    assert "Testville" in text and "town" in text
    assert "x=6, y=5" in text and "facing down" in text and "Mode: overworld" in text
    assert "Embercub Lv5 HP 18/18 [Fire]" in text and "Bump 35/35" in text
    assert "Tonic x3" in text and "Orb x5" in text and "$3000" in text
    assert "Badges 0/1" in text and "Abilities: none" in text
    assert "ahead: wall" in text  # (6, 6) is a wall tile


def test_map_window_symbols_and_legend(world: World) -> None:
    state = worlds.make_state(world)
    rows = textview.ascii_map_rows(world, state)
    rx, ry = textview.MAP_RADIUS
    assert len(rows) == 2 * ry + 1 and all(len(r) == 2 * rx + 1 for r in rows)
    assert rows[ry][rx] == textview.PLAYER_CHAR
    town = world.maps[0]
    assert rows[0][0] == TILE_CHARS[town.tile(state.x - rx, state.y - ry)]
    person = world.entities[0]
    assert rows[person.y - state.y + ry][person.x - state.x + rx] == "P"
    trainer = world.entities[2]
    assert rows[trainer.y - state.y + ry][trainer.x - state.x + rx] == "E"
    state.done[2] = 1
    beaten = textview.ascii_map_rows(world, state)
    assert beaten[trainer.y - state.y + ry][trainer.x - state.x + rx] == textview.BEATEN_TRAINER_CHAR
    text = textview.text_view(world, state)
    legend = _option_line(text, "Legend:")
    for entry in ("@ you", "P person", "~ water", "e trainer (beaten)"):
        assert entry in legend
    assert "E trainer" not in legend  # only symbols in view
    assert textview.ascii_map(world, state, 1).splitlines() == [r[rx - 1:rx + 2] for r in rows[ry - 1:ry + 2]]


def test_trainers_in_view_say_which_way_they_face_as_the_pixels_draw_them(world: World) -> None:
    """The screen draws a trainer facing its line of sight, which decides whether walking past starts a battle;
    the text view's ``E`` gave no facing. Each unbeaten trainer in view gets its facing, no line otherwise."""
    trainer = world.entities[2]
    frames = set()
    for direction in Direction:
        turned = dataclasses.replace(world, entities=(*world.entities[:2], dataclasses.replace(
            trainer, facing=direction), *world.entities[3:]))
        state = worlds.make_state(turned)
        lines = textview.text_view(turned, state).splitlines()
        legend = next(i for i, line in enumerate(lines) if line.startswith("Legend:"))
        assert lines[legend + 1] == f"Trainers (E): at ({trainer.x}, {trainer.y}) facing {direction.name.lower()}"
        frames.add(render.render_shades(turned, state).tobytes())
    assert len(frames) == len(Direction)  # the pixels show the facing: so must the text
    state = worlds.make_state(world)
    state.done[2] = 1  # beaten: it battles no more
    assert "Trainers (E)" not in textview.text_view(world, state)
    state = worlds.make_state(world)
    state.x = trainer.x + textview.MAP_RADIUS[0] + 1  # out of the map window
    assert "Trainers (E)" not in textview.text_view(world, state)


def test_map_off_the_edge_is_blank_and_labelled(world: World) -> None:
    state = worlds.make_state(world)
    state.x, state.y = 0, 0
    text = textview.text_view(world, state)
    _check_text(text)
    assert "(blank) outside the map" in text
    assert textview.ascii_map_rows(world, state)[0].strip() == ""


def test_ahead_off_the_edge_uses_the_legend_words(world: World) -> None:
    """Facing off the map said "ahead: void", a word the legend never uses (it calls those tiles outside the
    map)."""
    state = worlds.make_state(world)
    state.x, state.y, state.facing = 0, 0, Direction.UP
    assert "; ahead: outside the map" in textview.text_view(world, state)


def test_dialog_page_and_more_pages(world: World) -> None:
    state = worlds.make_state(world)
    state.dialog = [(Msg.TEXT, 0, 0), (Msg.TEXT, 1, 0)]
    text = textview.text_view(world, state)
    assert "Mode: dialog" in text and '"Hello there! Nice day."' in text and "1 more page" in text
    state.dialog = [(Msg.GOT_ITEM, Item.ORB, 0)]
    assert "Found Orb!" in textview.text_view(world, state)


@pytest.mark.parametrize(("menu", "rows"), [
    (MenuKind.START, list(START_MENU_OPTIONS)),
    (MenuKind.PARTY, ["Embercub", "Burrowbit"]),
    (MenuKind.BAG, ["Tonic x3", "Strong Tonic x1", "Orb x5", "Ward Spray x1"]),
    (MenuKind.BAG_TARGET, ["Embercub", "Burrowbit"]),
    (MenuKind.SHOP, ["Tonic $200", "Orb $200", "Strong Tonic $600", "Revival Herb $1200", "Fine Orb $600",
                     "Ward Spray $350", "Max Tonic $1500", "Prime Orb $1200", "EXIT"]),
])
def test_menus_show_every_option_and_the_cursor(world: World, menu: MenuKind, rows: list[str]) -> None:
    state = worlds.make_state(world)
    state.menu = menu
    for cursor in range(len(rows)):
        state.menu_cursor = cursor
        text = textview.text_view(world, state)
        _check_text(text)
        assert "Mode: menu" in text
        menu_lines = text.split("Map (")[0]
        for i, row in enumerate(rows):
            line = _option_line(menu_lines, row)
            assert line.lstrip().startswith(">") == (i == cursor), (row, line)


def test_bag_target_names_the_item(world: World) -> None:
    state = worlds.make_state(world)
    state.menu, state.menu_choice = MenuKind.BAG_TARGET, Item.STRONG_TONIC
    assert "Use Strong Tonic on whom?" in textview.text_view(world, state)


def _battle(world: World, phase: int, cursor: int) -> QuestState:
    state = worlds.battle_state(world, phase, cursor)
    state.battle.kind, state.battle.trainer = BattleKind.TRAINER, 0
    return state


def test_battle_shows_both_creatures_and_the_message(world: World) -> None:
    state = _battle(world, BattlePhase.MESSAGE, 0)
    text = textview.text_view(world, state)
    _check_text(text)
    assert "Mode: battle" in text and "Hiker Ada" in text
    assert "Foe: Sproutling Lv4 HP 100% [Plant]" in text and "You: Embercub Lv5 HP 18/18 [Fire]" in text
    assert '"A wild Sproutling appeared!"' in text
    assert "Map (" not in text  # the screen shows the battle, not the map


def test_battle_main_grid_cursor(world: World) -> None:
    for cursor in range(4):
        text = textview.text_view(world, _battle(world, BattlePhase.MAIN, cursor))
        chosen = [opt for opt in BATTLE_MAIN_OPTIONS if f"> {opt}" in text]
        assert chosen == [BATTLE_MAIN_OPTIONS[cursor]]


@pytest.mark.parametrize(("phase", "rows"), [
    (BattlePhase.FIGHT, ["Bump (Normal, PP 35/35)", "Cinder (Fire, PP 25/25)"]),
    (BattlePhase.BAG, ["Tonic x3", "Strong Tonic x1", "Orb x5"]),
    (BattlePhase.PARTY, ["Embercub", "Burrowbit"]),
    (BattlePhase.FORCED_SWITCH, ["Embercub", "Burrowbit"]),
])
def test_battle_phase_options_and_cursor(world: World, phase: BattlePhase, rows: list[str]) -> None:
    for cursor in range(len(rows)):
        text = textview.text_view(world, _battle(world, phase, cursor))
        _check_text(text)
        section = text.split("]:\n", 1)[1].split("Party (")[0]  # the options under the prompt
        for i, row in enumerate(rows):
            assert _option_line(section, row).lstrip().startswith(">") == (i == cursor), (phase, row)


def test_badges_abilities_and_ward(world: World) -> None:
    state = worlds.make_state(world)
    state.ward_steps = 12
    text = textview.text_view(world, state)
    assert "Ward Spray: no wild creatures on the next 11 tiles you walk" in text


@pytest.mark.parametrize(("ward_steps", "line"), [
    (WARD_STEPS, f"Ward Spray: no wild creatures on the next {WARD_STEPS - 1} tiles you walk"),
    (2, "Ward Spray: no wild creatures on the next tile you walk"),
    (1, "Ward Spray: wears off on the next tile you walk"),
    (0, None),
])
def test_ward_line_counts_the_steps_it_still_keeps_creatures_away(world: World, ward_steps: int,
                                                                  line: str | None) -> None:
    """A tile walked counts ward_steps down before the encounter check, so encounters can start on the tile that
    takes it to 0: ward_steps = 1 keeps no tile safe (the line read "1 steps left", and "steps" read as presses)."""
    state = worlds.make_state(world)
    state.ward_steps = ward_steps
    found = [row for row in textview.text_view(world, state).splitlines() if row.startswith("Ward Spray")]
    assert found == ([line] if line else [])


def test_worst_case_stays_compact(world: World) -> None:
    state = worlds.make_state(world)
    state.party = [make_mon(s % len(SPECIES), 100) for s in range(PARTY_SIZE)]
    state.bag = [99] * NUM_ITEMS
    state.money = 999_999
    state.menu = MenuKind.SHOP
    state.dialog = [(Msg.WHITEOUT, 0, 0), (Msg.TEXT, 0, 0)]
    _check_text(textview.text_view(world, state))


def test_fuzz_text_view_is_printable_ascii(world: World) -> None:
    rng = random.Random(3)
    for _ in range(200):
        state = worlds.make_state(world)
        state.map = rng.randrange(len(world.maps))
        m = world.maps[state.map]
        state.x, state.y = rng.randrange(m.width), rng.randrange(m.height)
        state.facing = rng.choice(list(Direction))
        state.done = bytearray(rng.randrange(2) for _ in world.entities)
        mode = rng.randrange(4)
        if mode == 1:
            state.dialog = [(rng.choice(list(Msg)), 0, 0)]
        elif mode == 2:
            state.menu, state.menu_cursor = rng.choice(list(MenuKind)[1:]), rng.randrange(4)
        elif mode == 3:
            state.battle = Battle(kind=BattleKind.WILD, enemy=[make_mon(1, 3)],
                                  phase=rng.choice(list(BattlePhase)), cursor=rng.randrange(4),
                                  messages=[(BattleMsg.GO, 0, 0)])
        _check_text(textview.text_view(world, state))


def test_characters_outside_printable_ascii_become_question_marks(world: World) -> None:
    """World text is not trusted to be plain ASCII: any other character is shown as ``?``."""
    town = world.maps[0]
    odd = dataclasses.replace(world, maps=(dataclasses.replace(town, name="Caf\u00e9\tTown\x7f"), *world.maps[1:]))
    text = textview.text_view(odd, worlds.make_state(odd))
    assert text.splitlines()[0].startswith("Location: Caf??Town? (town, map 0)")
    _check_text(text)


@pytest.mark.parametrize("menu", [MenuKind.START, MenuKind.PARTY, MenuKind.BAG, MenuKind.BAG_TARGET, MenuKind.SHOP])
def test_a_menu_under_a_text_box_shows_no_controls(world: World, menu: MenuKind) -> None:
    """A text box opened over a menu (a shop's or the bag's message) takes the presses: the menu under it was
    listed with its own controls ("[A use, B back]"), which told an LM agent that A would act in the menu. It is
    listed as under the text box, its options and cursor kept; the text box's controls are the only ones."""
    state = worlds.make_state(world)
    state.menu = menu
    alone = textview.text_view(world, state)
    state.dialog = [(Msg.TEXT, 0, 0)]
    text = textview.text_view(world, state)
    _check_text(text)
    assert "Mode: dialog" in text and "[A: close]" in text
    before, after = alone.split("Map (")[0].splitlines(), text.split("Map (")[0].splitlines()
    header = next(line for line in before if line.endswith(":") and "[" in line)
    covered = after[before.index(header)]
    assert "[" not in covered and covered.endswith(", under the text box:"), covered
    assert covered.removesuffix(", under the text box:") == re.sub(r" \[[^]]*\]", "", header).removesuffix(":")
    assert [line for line in after if line.startswith("  ")] == [line for line in before if line.startswith("  ")]
    controls = re.compile(r"\[(A|B|up)\b")  # "[A use, B back]", "[up/down move, ...]"; not "[Fire]"
    assert sum(bool(controls.search(line)) for line in before) == 1
    assert [line for line in after if controls.search(line)] == [line for line in after if line.startswith("Text box")]


def test_a_trainer_battle_counts_the_foes_still_able_to_fight(world: World) -> None:
    state = _battle(world, BattlePhase.MAIN, 0)
    state.battle.enemy = [make_mon(2, 4), make_mon(2, 5), make_mon(2, 6)]
    state.battle.enemy[0].hp = 0  # fainted: no longer left
    assert "Battle vs Hiker Ada (2/3 creatures left)" in textview.text_view(world, state)


def test_the_move_menu_shows_the_pp_each_move_has_left(world: World) -> None:
    state = _battle(world, BattlePhase.FIGHT, 0)
    state.party[0].pp[0] = 7
    text = textview.text_view(world, state)
    assert "Bump (Normal, PP 7/35)" in text and "Cinder (Fire, PP 25/25)" in text


def test_the_position_line_says_when_the_player_swims(world: World) -> None:
    state = worlds.make_state(world)
    assert "swimming" not in textview.text_view(world, state)
    state.surfing = True
    position = _option_line(textview.text_view(world, state), "Position:")
    assert position.endswith("; swimming")


def test_a_foe_with_hp_left_never_shows_0_percent(world: World) -> None:
    # the percentage rounds up: 0% means fainted, so a foe 1 HP from fainting still shows 1%
    state = _battle(world, BattlePhase.MAIN, 0)
    foe = state.battle.enemy[state.battle.enemy_active]
    foe.max_hp, foe.hp = 250, 1  # 0.4%
    assert "Foe: Sproutling Lv4 HP 1% [" in textview.text_view(world, state)


def test_the_dialog_hint_counts_the_pages_left(world: World) -> None:
    state = worlds.make_state(world)
    state.dialog = [(Msg.TEXT, 0, 0), (Msg.TEXT, 1, 0)]
    assert "A: next (1 more page)" in textview.text_view(world, state)
    state.dialog.append((Msg.TEXT, 0, 0))
    assert "A: next (2 more pages)" in textview.text_view(world, state)


def test_the_status_counts_the_party_against_its_size_and_says_when_the_bag_is_empty(world: World) -> None:
    state = worlds.make_state(world)
    state.bag = [0] * NUM_ITEMS
    text = textview.text_view(world, state)
    assert f"Party ({len(state.party)}/{PARTY_SIZE}):" in text and "Bag: empty" in text
