"""The quest game as text, for language models: what the screen shows plus the player's status.

:func:`text_view` writes plain printable ASCII lines (under 2,500 characters): where the player is and what
has their attention (overworld, a text box, a menu or a battle) with the options and the ``>`` cursor, an
ASCII map of the surroundings, the party, bag, money, badges and unlocked abilities. It shows what the
screen shows (the selected move's type and PP, never hidden numbers such as move power), so text and
pixel agents compete on equal information.

The map is a window of 13 columns by 11 rows centred on the player (the screen's 10x9 area plus a little
more on every side), drawn with :data:`~longplay.envs.quest.constants.TILE_CHARS` and these letters for
what stands on a tile:

==== ==============================
 @   you
 P   person
 E   trainer who will battle
 e   trainer already beaten
 H   healer (rest here)
 C   clerk (shop)
 G   guard
 S   sign
 o   item on the ground
 c   capsule (a partner to choose)
 B   boulder
 X   small tree (can be chopped)
==== ==============================

A legend under the map lists only the symbols in view.
"""

from __future__ import annotations

from longplay.envs.game import Mode
from longplay.envs.quest import battle, engine, overworld
from longplay.envs.quest.constants import (
    ABILITY_NAMES,
    BATTLE_MAIN_OPTIONS,
    DIRECTION_NAMES,
    DX,
    DY,
    ITEM_NAMES,
    ITEM_PRICE,
    PARTY_SIZE,
    START_MENU_OPTIONS,
    TILE_CHARS,
    TILE_LEGEND,
    TYPE_NAMES,
    BattleKind,
    BattlePhase,
    EntityKind,
    MapKind,
    MenuKind,
    Tile,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import message_text
from longplay.envs.quest.menus import bag_items
from longplay.envs.quest.render import tile_window, visible_entities
from longplay.envs.quest.state import Mon, QuestState, World

PLAYER_CHAR = "@"
#: The map window's reach from the player: 6 columns and 5 rows each way (13 x 11).
MAP_RADIUS = (6, 5)

#: Map letter of each EntityKind (a beaten trainer is lower case).
ENTITY_CHARS: dict[int, str] = {
    EntityKind.PERSON: "P", EntityKind.SIGN: "S", EntityKind.TRAINER: "E", EntityKind.ITEM: "o",
    EntityKind.HEALER: "H", EntityKind.CLERK: "C", EntityKind.CAPSULE: "c", EntityKind.GUARD: "G",
    EntityKind.BOULDER: "B", EntityKind.CUT_TREE: "X", EntityKind.GIFTER: "P",
}
BEATEN_TRAINER_CHAR = "e"
_ENTITY_LEGEND: dict[str, str] = {
    "P": "person", "E": "trainer (will battle)", "e": "trainer (beaten)", "H": "healer",
    "C": "clerk (shop)", "G": "guard", "S": "sign", "o": "item", "c": "capsule (partner)", "B": "boulder",
    "X": "small tree (chop)",
}
assert set(ENTITY_CHARS) == set(EntityKind)
assert not set(_ENTITY_LEGEND) & set(TILE_CHARS) and PLAYER_CHAR not in TILE_CHARS

_KIND_NAMES = {EntityKind.PERSON: "a person", EntityKind.SIGN: "a sign", EntityKind.TRAINER: "a trainer",
               EntityKind.ITEM: "an item", EntityKind.HEALER: "a healer", EntityKind.CLERK: "a clerk",
               EntityKind.CAPSULE: "a capsule", EntityKind.GUARD: "a guard", EntityKind.BOULDER: "a boulder",
               EntityKind.CUT_TREE: "a small tree", EntityKind.GIFTER: "a person"}
_PRINTABLE = frozenset(chr(c) for c in range(32, 127)) | {"\n"}


# ============================================================================================= map


def _entity_char(world: World, state: QuestState, e: int) -> str:
    kind = world.entities[e].kind
    if kind == EntityKind.TRAINER and state.done[e]:
        return BEATEN_TRAINER_CHAR
    return ENTITY_CHARS.get(kind, "?")


def ascii_map_rows(world: World, state: QuestState, radius: int | tuple[int, int] = MAP_RADIUS) -> list[str]:
    """The map around the player as rows of characters (tiles, visible entities, ``@`` for the player).

    Args:
        world: The world.
        state: The game state.
        radius: Columns and rows shown on each side of the player: ``(rx, ry)`` or one number for both.

    Returns:
        ``2 * ry + 1`` strings of ``2 * rx + 1`` characters; row 0 is ``y - ry``, column 0 is ``x - rx``.
    """
    rx, ry = (radius, radius) if isinstance(radius, int) else radius
    left, top, width, height = state.x - rx, state.y - ry, 2 * rx + 1, 2 * ry + 1
    window = tile_window(world, state.map, left, top, width, height)
    grid = [[TILE_CHARS[t] for t in row] for row in window.tolist()]
    for col, row, e in visible_entities(world, state, left, top, width, height):
        grid[row][col] = _entity_char(world, state, e)
    grid[ry][rx] = PLAYER_CHAR
    return ["".join(row) for row in grid]


def ascii_map(world: World, state: QuestState, radius: int | tuple[int, int] = MAP_RADIUS) -> str:
    """:func:`ascii_map_rows` joined with newlines (no coordinates, no legend)."""
    return "\n".join(ascii_map_rows(world, state, radius))


def _map_section(world: World, state: QuestState) -> list[str]:
    rx, ry = MAP_RADIUS
    rows = ascii_map_rows(world, state)
    xs = range(state.x - rx, state.x + rx + 1)
    lines = [f"Map ({2 * rx + 1}x{2 * ry + 1} around you; x {xs[0]}..{xs[-1]}, "
             f"y {state.y - ry}..{state.y + ry}):",
             "     " + "".join(str(x // 10 % 10) if x >= 0 and x % 10 == 0 else " " for x in xs),
             "     " + "".join(str(x % 10) if x >= 0 else " " for x in xs)]
    for k, row in enumerate(rows):
        y = state.y - ry + k
        lines.append(f"{y:>4} {row}" if y >= 0 else f"     {row}")
    present = set("".join(rows))
    legend = [f"{PLAYER_CHAR} you"]
    legend += [f"{TILE_CHARS[t]} {TILE_LEGEND[t]}" if t != Tile.VOID else "(blank) outside the map"
               for t in Tile if TILE_CHARS[t] in present]
    legend += [f"{ch} {name}" for ch, name in _ENTITY_LEGEND.items() if ch in present]
    lines.append("Legend: " + ", ".join(legend))
    return lines


# ============================================================================================= pieces


def _types(species: int) -> str:
    kinds = dict.fromkeys(SPECIES[species].types)  # a single-typed species repeats its type
    return "/".join(TYPE_NAMES[t] for t in kinds)


def _mon(mon: Mon, exact_hp: bool = True) -> str:
    """Name, level, HP and types. A foe's HP is a percentage: the screen shows only its HP bar."""
    hp = f"{mon.hp}/{mon.max_hp}" if exact_hp else f"{(100 * mon.hp + mon.max_hp - 1) // max(1, mon.max_hp)}%"
    return f"{SPECIES[mon.species].name} Lv{mon.level} HP {hp} [{_types(mon.species)}]"


def _moves(mon: Mon) -> str:
    return ", ".join(f"{MOVES[m].name} {pp}/{MOVES[m].pp}" for m, pp in zip(mon.moves, mon.pp, strict=True)
                     if m >= 0)


def _options(rows: list[str], cursor: int, indent: str = "  ") -> list[str]:
    """One row per option, ``>`` before the chosen one (a cursor past the end points at an empty row)."""
    lines = [f"{indent}{'>' if i == cursor else ' '} {row}" for i, row in enumerate(rows)]
    if cursor >= len(rows):
        lines.append(f"{indent}>")
    return lines


def _party_rows(state: QuestState, active: int = -1) -> list[str]:
    return [f"{_mon(mon)}{' (in battle)' if i == active else ''}{' (fainted)' if mon.hp == 0 else ''}"
            for i, mon in enumerate(state.party)]


def _pages(text: str) -> str:
    """A page's lines as one line (the line breaks only fit the text box)."""
    return " ".join(line for line in text.split("\n") if line)


def _ahead(world: World, state: QuestState) -> str:
    x, y = state.x + DX[state.facing & 3], state.y + DY[state.facing & 3]
    e = overworld.entity_at(state, world, state.map, x, y)
    if e >= 0:
        what = _KIND_NAMES.get(world.entities[e].kind, "someone")
        if world.entities[e].kind == EntityKind.TRAINER and state.done[e]:
            what = "a trainer (beaten)"
        return what
    return TILE_LEGEND[world.maps[state.map].tile(x, y)]


# ============================================================================================= screens


def _dialog_section(world: World, state: QuestState) -> list[str]:
    more = len(state.dialog) - 1
    hint = f"A: next ({more} more page{'s' if more != 1 else ''})" if more else "A: close"
    return [f'Text box: "{_pages(message_text(world, state.dialog[0]))}"  [{hint}]']


def _menu_section(world: World, state: QuestState) -> list[str]:
    kind, cursor = state.menu, state.menu_cursor
    if kind == MenuKind.START:
        return ["Start menu [up/down move, A choose, B close]:", *_options(list(START_MENU_OPTIONS), cursor)]
    if kind == MenuKind.PARTY:
        return ["Party menu [A makes the chosen one lead, B back]:", *_options(_party_rows(state), cursor)]
    if kind == MenuKind.BAG:
        items = bag_items(state)
        rows = [f"{ITEM_NAMES[i]} x{state.bag[i]}" for i in items]
        return ["Bag menu [A use, B back]:", *(_options(rows, cursor) if rows else ["  (no items)"])]
    if kind == MenuKind.BAG_TARGET:
        item = state.menu_choice
        name = ITEM_NAMES[item] if 0 <= item < len(ITEM_NAMES) else "the item"
        return [f"Use {name} on whom? [A choose, B back]:", *_options(_party_rows(state), cursor)]
    if kind == MenuKind.SHOP:
        stock = world.shops[state.menu_choice] if 0 <= state.menu_choice < len(world.shops) else ()
        rows = [f"{ITEM_NAMES[i]} ${ITEM_PRICE[i]} (in bag: {state.bag[i]})" for i in stock] + ["EXIT"]
        return [f"Shop [A buy one, B leave] (money ${state.money}):", *_options(rows, cursor)]
    return []


def _battle_section(world: World, state: QuestState) -> list[str]:
    b = state.battle
    lines = []
    if b.kind == BattleKind.TRAINER and 0 <= b.trainer < len(world.trainers):
        trainer = world.trainers[b.trainer]
        able = sum(1 for m in b.enemy if m.hp > 0)
        lines.append(f"Battle vs {trainer.title} {trainer.name} ({able}/{len(b.enemy)} creatures left)")
    else:
        lines.append("Battle vs a wild creature")
    foe = b.enemy[b.enemy_active] if 0 <= b.enemy_active < len(b.enemy) else None
    me = state.party[b.player_active] if 0 <= b.player_active < len(state.party) else None
    lines.append(f"Foe: {_mon(foe, exact_hp=False)}" if foe else "Foe: -")
    lines.append(f"You: {_mon(me)}" if me else "You: -")
    phase, cursor = b.phase, b.cursor
    if phase == BattlePhase.MESSAGE:
        msg = battle.battle_message_text(world, state, b.messages[0]) if b.messages else ""
        more = len(b.messages) - 1
        lines.append(f'Message: "{_pages(msg)}"  [A: {"next" if more else "continue"}]')
    elif phase == BattlePhase.MAIN:
        marks = [">" if i == cursor else " " for i in range(4)]
        o = BATTLE_MAIN_OPTIONS
        lines += ["Choose [arrows move in the 2x2 grid, A select]:",
                  f"  {marks[0]} {o[0]:<6} {marks[1]} {o[1]}", f"  {marks[2]} {o[2]:<6} {marks[3]} {o[3]}"]
    elif phase == BattlePhase.FIGHT:
        rows = [f"{MOVES[m].name} ({TYPE_NAMES[MOVES[m].type]}, PP {pp}/{MOVES[m].pp})" if m >= 0 else "-"
                for m, pp in zip(me.moves, me.pp, strict=True)] if me else []
        lines += ["Moves [up/down move, A use, B back]:", *_options(rows, cursor)]
    elif phase == BattlePhase.BAG:
        rows = [f"{ITEM_NAMES[i]} x{state.bag[i]}" for i in battle.battle_items(state)]
        lines += ["Items [up/down move, A use, B back]:", *(_options(rows, cursor) if rows else ["  (none)"])]
    elif phase in (BattlePhase.PARTY, BattlePhase.FORCED_SWITCH):
        title = ("Switch to whom? [A switch, B back]:" if phase == BattlePhase.PARTY
                 else "Your creature fainted. Who fights next? [A choose]:")
        lines += [title, *_options(_party_rows(state, b.player_active), cursor)]
    return lines


def _status_section(world: World, state: QuestState) -> list[str]:
    lines = [f"Party ({len(state.party)}/{PARTY_SIZE}):"]
    for i, mon in enumerate(state.party):
        lines.append(f"  {i + 1}. {_mon(mon)}; moves: {_moves(mon)}")
    if not state.party:
        lines.append("  (no partner yet)")
    bag = [f"{ITEM_NAMES[i]} x{c}" for i, c in enumerate(state.bag) if c > 0]
    lines.append(f"Bag: {', '.join(bag) if bag else 'empty'}")
    lines.append(f"Money: ${state.money}")
    won = [name for name, ev in zip(world.badge_names, world.badge_events, strict=True)
           if state.has_event(ev)]
    lines.append(f"Badges {len(won)}/{len(world.badge_names)}: {', '.join(won) if won else 'none'}")
    abilities = [ABILITY_NAMES[a] for a in range(len(ABILITY_NAMES))
                 if overworld.has_ability(state, world, a)]
    lines.append(f"Abilities: {', '.join(abilities) if abilities else 'none'}")
    if state.ward_steps > 0:
        lines.append(f"Ward Spray: {state.ward_steps} steps left")
    return lines


def text_view(world: World, state: QuestState) -> str:
    """The state as plain ASCII text for a language model (see the module docstring for the symbols).

    Args:
        world: The world the state plays in.
        state: The game state (not modified).

    Returns:
        Newline-separated lines of printable ASCII, under 2,500 characters.
    """
    m = world.maps[state.map]
    mode = engine.mode(state)
    kind = MapKind(m.kind).name.lower() if m.kind in MapKind._value2member_map_ else "area"
    lines = [f"Location: {m.name} ({kind}, map {state.map})",
             f"Position: x={state.x}, y={state.y}, facing {DIRECTION_NAMES[state.facing & 3]}"
             + ("" if mode == Mode.BATTLE else f"; ahead: {_ahead(world, state)}")
             + ("; swimming" if state.surfing else ""),
             f"Mode: {mode.value}"]
    if mode == Mode.BATTLE:
        lines += _battle_section(world, state)
    else:
        if state.menu != MenuKind.NONE:
            lines += _menu_section(world, state)
        if state.dialog:
            lines += _dialog_section(world, state)
        lines += _map_section(world, state)
    lines += _status_section(world, state)
    text = "\n".join(lines)
    return "".join(ch if ch in _PRINTABLE else "?" for ch in text)


__all__ = ["BEATEN_TRAINER_CHAR", "ENTITY_CHARS", "MAP_RADIUS", "PLAYER_CHAR", "ascii_map", "ascii_map_rows",
           "text_view"]
