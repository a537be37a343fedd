"""The quest game as text, for language models: what the screen shows plus the player's status.

:func:`text_view` writes plain printable ASCII lines (under 2,500 characters): where the player is and what
has their attention (overworld, a text box, a menu or a battle) with the options and the ``>`` cursor, an
ASCII map of the surroundings, the party, bag, money, badges and unlocked abilities. It tells what the
screen shows, so that text and pixel agents compete on equal information: the selected move's type and PP,
which way each trainer faces (its line of sight), never hidden numbers such as move power or how far a
trainer sees. It leaves out only looks: which way people other than trainers face, and outfits (a gym leader,
the elite and the champion are drawn unlike other trainers, an elder unlike other people; a letter tells only
the kind). It gives on every turn some of what the screen shows only in a menu or leaves to memory: the
map a few tiles past the screen's edges, the party's moves, the bag, money and badges, the foe's HP to the
percent (the screen draws a bar) and which trainers are already beaten.

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

A legend under the map lists only the symbols in view, and a line under it says where each ``E`` in view
faces (``Trainers (E): at (12, 5) facing left, at (14, 8) facing up``).
"""

from __future__ import annotations

import functools
import operator
import re

from longplay.envs.game import Mode
from longplay.envs.quest import battle, engine, overworld
from longplay.envs.quest.cache import IdentityCache
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
from longplay.envs.quest.render import PAD, padded_tiles, tile_window, visible_entities
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
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e\n]")  # shown as "?"
_CONTROLS = re.compile(r" \[[^]]*\]")  # a menu header's controls, " [A use, B back]"


# ============================================================================================= map


def _entity_char(world: World, state: QuestState, e: int) -> str:
    kind = world.entities[e].kind
    if kind == EntityKind.TRAINER and state.done[e]:
        return BEATEN_TRAINER_CHAR
    return ENTITY_CHARS.get(kind, "?")


def _tile_rows(world: World, map_index: int) -> tuple[str, ...]:
    """The map's padded tile grid (:func:`~longplay.envs.quest.render.padded_tiles`) as rows of characters,
    built once per map."""
    grid = padded_tiles(world, map_index)
    return _TILE_ROWS.get(grid, lambda: tuple("".join(_TILE_CHAR_LIST[t] for t in row) for row in grid.tolist()))


_TILE_ROWS: IdentityCache[tuple[str, ...]] = IdentityCache(256)  # per padded grid
_TILE_CHAR_LIST = list(TILE_CHARS)


def ascii_map_rows(world: World, state: QuestState, radius: int | tuple[int, int] = MAP_RADIUS) -> list[str]:
    """The map around the player as rows of characters (tiles, visible entities, ``@`` for the player).

    Args:
        world: The world.
        state: The game state.
        radius: Columns and rows shown on each side of the player: ``(rx, ry)`` or one number for both.

    Returns:
        ``2 * ry + 1`` strings of ``2 * rx + 1`` characters; row 0 is ``y - ry``, column 0 is ``x - rx``.
    """
    return _map_window(world, state, radius)[0]


def _map_window(world: World, state: QuestState, radius: int | tuple[int, int]
                ) -> tuple[list[str], list[tuple[int, int, int]]]:
    """:func:`ascii_map_rows` and the visible entities drawn on them, as :func:`visible_entities` gives them."""
    rx, ry = (radius, radius) if isinstance(radius, int) else radius
    left, top, width, height = state.x - rx, state.y - ry, 2 * rx + 1, 2 * ry + 1
    r0, c0 = top + PAD, left + PAD
    padded = _tile_rows(world, state.map)
    if 0 <= r0 and 0 <= c0 and r0 + height <= len(padded) and c0 + width <= len(padded[0]):
        rows = [row[c0:c0 + width] for row in padded[r0:r0 + height]]  # the usual window: slices of text
    else:
        window = tile_window(world, state.map, left, top, width, height)
        rows = ["".join(_TILE_CHAR_LIST[t] for t in row) for row in window.tolist()]
    seen = visible_entities(world, state, left, top, width, height)
    for col, row, e in seen:
        line = rows[row]
        rows[row] = line[:col] + _entity_char(world, state, e) + line[col + 1:]
    line = rows[ry]
    rows[ry] = line[:rx] + PLAYER_CHAR + line[rx + 1:]
    return rows, seen


def ascii_map(world: World, state: QuestState, radius: int | tuple[int, int] = MAP_RADIUS) -> str:
    """:func:`ascii_map_rows` joined with newlines (no coordinates, no legend)."""
    return "\n".join(ascii_map_rows(world, state, radius))


@functools.lru_cache(maxsize=4096)
def _map_frame(x: int, y: int) -> tuple[str, str, str, tuple[str, ...]]:
    """What frames the map around (x, y): the title line, the tens and units lines over the columns, and
    the row labels (the y coordinate, blank above the map)."""
    rx, ry = MAP_RADIUS
    xs = range(x - rx, x + rx + 1)
    return (f"Map ({2 * rx + 1}x{2 * ry + 1} around you; x {xs[0]}..{xs[-1]}, y {y - ry}..{y + ry}):",
            "     " + "".join(str(x // 10 % 10) if x >= 0 and x % 10 == 0 else " " for x in xs),
            "     " + "".join(str(x % 10) if x >= 0 else " " for x in xs),
            tuple(f"{row_y:>4} " if row_y >= 0 else "     " for row_y in range(y - ry, y + ry + 1)))


# (symbol, meaning) in legend order: the player, tiles in Tile order, then what stands on tiles
_LEGEND = ((PLAYER_CHAR, f"{PLAYER_CHAR} you"),
           *((TILE_CHARS[t], f"{TILE_CHARS[t]} {TILE_LEGEND[t]}" if t != Tile.VOID else "(blank) outside the map")
             for t in Tile),
           *((ch, f"{ch} {name}") for ch, name in _ENTITY_LEGEND.items()))


@functools.lru_cache(maxsize=1024)
def _legend(present: frozenset[str]) -> str:
    """The legend line for the symbols in view (the player is always listed)."""
    return "Legend: " + ", ".join(text for ch, text in _LEGEND if ch in present or ch == PLAYER_CHAR)


def _trainer_facings(world: World, state: QuestState, seen: list[tuple[int, int, int]]) -> list[str]:
    """The line saying which way each trainer in view who will battle faces, as the screen draws them: a
    trainer challenges whoever walks into its line of sight. In reading order; no line when none is in view.
    How far a trainer sees is not drawn, so it is not said either."""
    looks = sorted((state.entity_y[e], state.entity_x[e], world.entities[e].facing & 3) for _, _, e in seen
                   if world.entities[e].kind == EntityKind.TRAINER and not state.done[e])
    if not looks:
        return []
    return [f"Trainers ({ENTITY_CHARS[EntityKind.TRAINER]}): "
            + ", ".join(f"at ({x}, {y}) facing {DIRECTION_NAMES[facing]}" for y, x, facing in looks)]


def _map_section(world: World, state: QuestState) -> list[str]:
    rows, seen = _map_window(world, state, MAP_RADIUS)
    title, tens, units, labels = _map_frame(state.x, state.y)
    return [title, tens, units, *map(operator.add, labels, rows), _legend(frozenset("".join(rows))),
            *_trainer_facings(world, state, seen)]


# ============================================================================================= pieces


def _types(species: int) -> str:
    kinds = dict.fromkeys(SPECIES[species].types)  # a single-typed species repeats its type
    return "/".join(TYPE_NAMES[t] for t in kinds)


def _mon(mon: Mon, exact_hp: bool = True) -> str:
    """Name, level, HP and types. A foe's HP is a percentage: the screen shows only its HP bar."""
    return _mon_text(mon.species, mon.level, mon.hp, mon.max_hp, exact_hp)


@functools.lru_cache(maxsize=4096)
def _mon_text(species: int, level: int, hp: int, max_hp: int, exact_hp: bool) -> str:
    shown = f"{hp}/{max_hp}" if exact_hp else f"{(100 * hp + max_hp - 1) // max(1, max_hp)}%"
    return f"{SPECIES[species].name} Lv{level} HP {shown} [{_types(species)}]"


def _moves(mon: Mon) -> str:
    return _moves_text(tuple(mon.moves), tuple(mon.pp))


@functools.lru_cache(maxsize=4096)
def _moves_text(moves: tuple[int, ...], pp: tuple[int, ...]) -> str:
    return ", ".join(f"{MOVES[m].name} {left}/{MOVES[m].pp}" for m, left in zip(moves, pp, strict=True) if m >= 0)


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


#: What "ahead:" calls each tile kind: the legend's words (VOID is what the legend calls outside the map).
_AHEAD_TILE = tuple("outside the map" if t == Tile.VOID else TILE_LEGEND[t] for t in Tile)


def _ahead(world: World, state: QuestState) -> str:
    x, y = state.x + DX[state.facing & 3], state.y + DY[state.facing & 3]
    e = overworld.entity_at(state, world, state.map, x, y)
    if e >= 0:
        what = _KIND_NAMES.get(world.entities[e].kind, "someone")
        if world.entities[e].kind == EntityKind.TRAINER and state.done[e]:
            what = "a trainer (beaten)"
        return what
    return _AHEAD_TILE[world.maps[state.map].tile(x, y)]


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
    lines.append(_bag_line(tuple(state.bag)))
    lines.append(f"Money: ${state.money}")
    lines += _progress_lines(world.badge_names, world.badge_events, world.ability_badge, state.events)
    if state.ward_steps > 0:
        lines.append(_ward_line(state.ward_steps))
    return lines


def _ward_line(ward_steps: int) -> str:
    """How many tiles the Ward Spray still keeps wild creatures off: a tile walked counts ``ward_steps`` down
    before the encounter check (:func:`~longplay.envs.quest.overworld.press`), so the tile that takes it to 0
    can start an encounter."""
    safe = ward_steps - 1
    if safe == 0:
        return "Ward Spray: wears off on the next tile you walk"
    return f"Ward Spray: no wild creatures on the next {f'{safe} tiles' if safe > 1 else 'tile'} you walk"


@functools.lru_cache(maxsize=1024)
def _bag_line(bag: tuple[int, ...]) -> str:
    items = [f"{ITEM_NAMES[i]} x{c}" for i, c in enumerate(bag) if c > 0]
    return f"Bag: {', '.join(items) if items else 'empty'}"


@functools.lru_cache(maxsize=1024)
def _progress_lines(badge_names: tuple[str, ...], badge_events: tuple[int, ...], ability_badge: tuple[int, ...],
                    events: int) -> tuple[str, str]:
    """The badges and abilities lines: what the events won (an ability comes with its badge, as in
    :func:`~longplay.envs.quest.overworld.has_ability`)."""
    def won(event: int) -> bool:
        return event >= 0 and (events >> event) & 1 == 1

    badges = [name for name, ev in zip(badge_names, badge_events, strict=True) if won(ev)]
    abilities = [ABILITY_NAMES[a] for a in range(len(ABILITY_NAMES))
                 if ability_badge[a] >= 0 and won(badge_events[ability_badge[a]])]
    return (f"Badges {len(badges)}/{len(badge_names)}: {', '.join(badges) if badges else 'none'}",
            f"Abilities: {', '.join(abilities) if abilities else 'none'}")


@functools.lru_cache(maxsize=1024)
def _location_line(name: str, kind: int, map_index: int) -> str:
    kind_name = MapKind(kind).name.lower() if kind in MapKind._value2member_map_ else "area"
    return f"Location: {name} ({kind_name}, map {map_index})"


_MODE_LINES = {mode: f"Mode: {mode.value}" for mode in Mode}


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
    lines = [_location_line(m.name, m.kind, state.map),
             f"Position: x={state.x}, y={state.y}, facing {DIRECTION_NAMES[state.facing & 3]}"
             + ("" if mode == Mode.BATTLE else f"; ahead: {_ahead(world, state)}")
             + ("; swimming" if state.surfing else ""),
             _MODE_LINES[mode]]
    if mode == Mode.BATTLE:
        lines += _battle_section(world, state)
    else:
        if state.menu != MenuKind.NONE:
            menu = _menu_section(world, state)
            if state.dialog and menu:  # the text box takes the presses: the menu's controls wait for it to close
                menu[0] = _CONTROLS.sub("", menu[0]).removesuffix(":") + ", under the text box:"
            lines += menu
        if state.dialog:
            lines += _dialog_section(world, state)
        lines += _map_section(world, state)
    lines += _status_section(world, state)
    text = "\n".join(lines)
    if text.isascii() and "".join(lines).isprintable():  # nearly always: no character to replace
        return text
    return _NOT_PRINTABLE.sub("?", text)


__all__ = ["BEATEN_TRAINER_CHAR", "ENTITY_CHARS", "MAP_RADIUS", "PLAYER_CHAR", "ascii_map", "ascii_map_rows",
           "text_view"]
