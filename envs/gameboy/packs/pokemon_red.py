"""The Pokemon Red and Blue (US) pack: RAM decoding, the milestone catalog to the Hall of Fame, the text view.

Everything is read from RAM with the addresses of :mod:`pokemon_red_ram` (cited from the pret/pokered
disassembly) and named with the tables of :mod:`pokemon_red_data`. The decoders are plain functions over a
``memory`` object (``memory[address]``, ``memory[start:end]``), tested by writing known bytes into emulated
RAM, so they run in CI without the game. The start state comes from :mod:`longplay.envs.gameboy.intro`, which
plays the opening of the user's own ROM up to the bedroom and caches the state beside the ROM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from gymnasium import spaces

from longplay.envs.game import GameState, Milestone, Mode, PartyMember
from longplay.envs.gameboy.packs import Memory, Pack
from longplay.envs.gameboy.packs import pokemon_red_ram as ram
from longplay.envs.gameboy.packs.charset import POKEMON_GEN1, fold_ascii, screen_text
from longplay.envs.gameboy.packs.pokemon_red_data import (
    EVENT_NAMES,
    ITEM_IDS,
    ITEM_NAMES,
    MAP_IDS,
    MAP_NAMES,
    MOVE_NAMES,
    SPECIES_NAMES,
)

if TYPE_CHECKING:
    from longplay.envs.gameboy.core import GameBoyGame
    from longplay.envs.gameboy.roms import RomImage

#: SHA-1s of the US releases (pret/pokered ``roms.sha1``).
RED_SHA1 = "ea9bcae617fdf159b045185467ae58b2e4a48b9a"
BLUE_SHA1 = "d7037c83e1ae5b39bde3c30787637ba1d4c48ce2"
HALL_OF_FAME = MAP_IDS["HALL_OF_FAME"]
STRING_END = 0x50  # "@" in charmap.asm
_BOX_TOP_LEFT, _BOX_BOTTOM_RIGHT = 0x79, 0x7E
_CURSOR = 0xED  # "▶"
_MODES = (Mode.OVERWORLD, Mode.DIALOG, Mode.MENU, Mode.BATTLE)


# --------------------------------------------------------------------------------------------- decoders
def read_u16_be(memory: Memory, address: int) -> int:
    """A big-endian 16-bit value (the games store HP and stats this way)."""
    return memory[address] << 8 | memory[address + 1]


def decode_bcd(data: bytes | list[int]) -> int:
    """Binary-coded decimal, most significant byte first: ``[0x01, 0x23, 0x45]`` -> 12345.

    >>> decode_bcd([0x00, 0x30, 0x00])
    3000
    """
    value = 0
    for byte in data:
        value = value * 100 + (byte >> 4) * 10 + (byte & 0x0F)
    return value


def encode_bcd(value: int, size: int = 3) -> bytes:
    """The inverse of :func:`decode_bcd` (for tests and tools)."""
    digits = f"{value:0{size * 2}d}"
    if len(digits) > size * 2 or value < 0:
        raise ValueError(f"{value} does not fit in {size} BCD bytes")
    return bytes(int(digits[i]) << 4 | int(digits[i + 1]) for i in range(0, size * 2, 2))


def decode_string(data: bytes | list[int]) -> str:
    """A game string (e.g. a name) up to its ``@`` terminator, in ASCII."""
    out = []
    for byte in data:
        if byte == STRING_END:
            break
        out.append(POKEMON_GEN1.get(byte, "?"))
    return fold_ascii("".join(out))


def money(memory: Memory) -> int:
    """``wPlayerMoney``, 3 bytes of BCD."""
    return decode_bcd(memory[ram.W_PLAYER_MONEY:ram.W_PLAYER_MONEY + 3])


def badges(memory: Memory) -> tuple[str, ...]:
    """Names of the badges held, in gym order."""
    bits = memory[ram.W_OBTAINED_BADGES]
    return tuple(name for i, name in enumerate(ram.BADGES) if bits >> i & 1)


def pokedex_counts(memory: Memory) -> tuple[int, int]:
    """(owned, seen): the set bits of the 151-bit Pokedex arrays."""
    def count(start: int) -> int:
        data = bytes(memory[start:start + ram.POKEDEX_BYTES])
        return int.from_bytes(data, "little").bit_count() if data else 0

    return count(ram.W_POKEDEX_OWNED), count(ram.W_POKEDEX_SEEN)


def event_flags(memory: Memory) -> bytes:
    """The 320 bytes of ``wEventFlags``."""
    return bytes(memory[ram.W_EVENT_FLAGS:ram.W_EVENT_FLAGS + ram.EVENT_FLAGS_BYTES])


def event_set(flags: bytes, index: int) -> bool:
    """Whether event ``index`` (an ``EVENT_*`` constant) is set in the ``wEventFlags`` bytes."""
    return bool(flags[index >> 3] >> (index & 7) & 1)


def event_names_set(flags: bytes) -> frozenset[str]:
    """Names (pret constants without ``EVENT_``) of every named event that is set."""
    return frozenset(name for index, name in EVENT_NAMES.items() if event_set(flags, index))


def bag(memory: Memory) -> tuple[tuple[str, int], ...]:
    """(item name, quantity) for each bag slot, in bag order."""
    count = min(memory[ram.W_NUM_BAG_ITEMS], ram.BAG_CAPACITY)
    if not count:  # (PyBoy refuses empty slices)
        return ()
    data = memory[ram.W_BAG_ITEMS:ram.W_BAG_ITEMS + 2 * count]
    items = []
    for i in range(count):
        item_id, quantity = data[2 * i], data[2 * i + 1]
        if item_id == 0xFF:
            break
        items.append((ITEM_NAMES.get(item_id, f"ITEM_{item_id:02X}"), quantity))
    return tuple(items)


def bag_item_ids(memory: Memory) -> set[int]:
    """Item ids in the bag."""
    count = min(memory[ram.W_NUM_BAG_ITEMS], ram.BAG_CAPACITY)
    if not count:
        return set()
    data = memory[ram.W_BAG_ITEMS:ram.W_BAG_ITEMS + 2 * count]
    return {data[2 * i] for i in range(count)} - {0xFF}


@dataclass(frozen=True)
class PartySlot:
    """One party member as stored in RAM (ids kept for the symbolic view)."""

    species_id: int
    nickname: str
    level: int
    hp: int
    max_hp: int
    move_ids: tuple[int, ...]
    status: int

    def member(self) -> PartyMember:
        """As the backend-agnostic :class:`PartyMember`."""
        return PartyMember(species=SPECIES_NAMES.get(self.species_id, f"SPECIES_{self.species_id:02X}"),
                           level=self.level, hp=self.hp, max_hp=self.max_hp,
                           moves=tuple(MOVE_NAMES[m] if m < len(MOVE_NAMES) else f"MOVE_{m:02X}"
                                       for m in self.move_ids))


def party(memory: Memory) -> tuple[PartySlot, ...]:
    """The party: species, nickname, level, HP, max HP, moves and status of each member."""
    count = min(memory[ram.W_PARTY_COUNT], 6)
    slots = []
    for i in range(count):
        base = ram.W_PARTY_MONS + i * ram.PARTY_MON_SIZE
        struct = memory[base:base + ram.PARTY_MON_SIZE]
        nick_at = ram.W_PARTY_MON_NICKS + i * ram.NAME_LENGTH
        slots.append(PartySlot(
            species_id=memory[ram.W_PARTY_SPECIES + i],
            nickname=decode_string(memory[nick_at:nick_at + ram.NAME_LENGTH]),
            level=struct[ram.MON_LEVEL],
            hp=struct[ram.MON_HP] << 8 | struct[ram.MON_HP + 1],
            max_hp=struct[ram.MON_MAX_HP] << 8 | struct[ram.MON_MAX_HP + 1],
            move_ids=tuple(m for m in struct[ram.MON_MOVES:ram.MON_MOVES + 4] if m),
            status=struct[ram.MON_STATUS],
        ))
    return tuple(slots)


def screen_tiles(memory: Memory) -> list[list[int]]:
    """``wTileMap``: the 20x18 tiles on screen, row by row."""
    data = memory[ram.W_TILE_MAP:ram.W_TILE_MAP + ram.SCREEN_WIDTH * ram.SCREEN_HEIGHT]
    return [list(data[r * ram.SCREEN_WIDTH:(r + 1) * ram.SCREEN_WIDTH]) for r in range(ram.SCREEN_HEIGHT)]


def has_dialog_box(tiles: list[list[int]]) -> bool:
    """True when the standard message box (rows 12-17, full width) is on screen."""
    return tiles[12][0] == _BOX_TOP_LEFT and tiles[17][19] == _BOX_BOTTOM_RIGHT


def dialog_text(tiles: list[list[int]]) -> str:
    """The text inside the message box, or ``""`` when there is none."""
    if not has_dialog_box(tiles):
        return ""
    return screen_text([row[1:19] for row in tiles[13:17]], POKEMON_GEN1)


def screen_mode(memory: Memory, tiles: list[list[int]]) -> Mode:
    """Battle when ``wIsInBattle``; menu when a cursor or a box other than the message box shows; dialog
    when only the message box shows; else overworld."""
    if memory[ram.W_IS_IN_BATTLE]:
        return Mode.BATTLE
    flat = [t for row in tiles for t in row]
    if _CURSOR in flat:
        return Mode.MENU
    boxes = flat.count(_BOX_TOP_LEFT)
    if has_dialog_box(tiles):
        return Mode.MENU if boxes > 1 else Mode.DIALOG
    return Mode.MENU if boxes else Mode.OVERWORLD


def passable_tiles(memory: Memory) -> set[int]:
    """Tile ids the player may stand on in the current tileset: the list ``wTilesetCollisionPtr`` points at
    (in bank 0, $FF-terminated; ``CheckTilePassable`` in home/overworld.asm) plus the grass tile."""
    pointer = memory[ram.W_TILESET_COLLISION_PTR] | memory[ram.W_TILESET_COLLISION_PTR + 1] << 8
    tiles: set[int] = set()
    if 0 < pointer < 0x4000:  # the lists live in bank 0; anything else is not a loaded map
        for address in range(pointer, min(pointer + 0x180, 0x4000)):
            tile = memory[address]
            if tile == 0xFF:
                break
            tiles.add(tile)
    grass = memory[ram.W_GRASS_TILE]
    if grass != 0xFF:
        tiles.add(grass)
    return tiles


def walkable_grid(memory: Memory, tiles: list[list[int]]) -> list[list[bool]]:
    """Which of the 9x10 visible 16x16 squares are passable, judged (as the game does) by each square's
    bottom-left tile; the player stands on row 4, column 4. Ledges and people are not accounted for."""
    passable = passable_tiles(memory)
    return [[tiles[r][c] in passable for c in range(0, ram.SCREEN_WIDTH, 2)]
            for r in range(1, ram.SCREEN_HEIGHT, 2)]


def people_on_screen(memory: Memory) -> set[tuple[int, int]]:
    """(row, column) squares of the 9x10 screen grid where a sprite other than the player stands."""
    squares = set()
    for slot in range(1, 16):
        base = ram.W_SPRITE_STATE_DATA1 + slot * ram.SPRITE_STRUCT_SIZE
        if memory[base + ram.SPRITE_PICTURE_ID] == 0 or memory[base + ram.SPRITE_IMAGE_INDEX] == 0xFF:
            continue
        row = (memory[base + ram.SPRITE_Y_PIXELS] + 4) // 16
        col = memory[base + ram.SPRITE_X_PIXELS] // 16
        if row < ram.SCREEN_HEIGHT // 2 and col < ram.SCREEN_WIDTH // 2:
            squares.add((row, col))
    return squares


def map_name(map_id: int) -> str:
    """Readable name of a map id (``"Map 0xNN"`` when unnamed)."""
    return MAP_NAMES.get(map_id) or f"Map 0x{map_id:02X}"


# --------------------------------------------------------------------------------------------- milestones
@dataclass(frozen=True)
class Condition:
    """When a milestone holds: ``kind`` is ``event``/``map``/``badge``/``item``/``owned``; ``any`` of
    several values may satisfy it."""

    kind: str
    values: tuple


def _event(*names: str) -> Condition:
    index = {name: i for i, name in EVENT_NAMES.items()}
    return Condition("event", tuple(index[n] for n in names))


def _map(*names: str) -> Condition:
    return Condition("map", tuple(MAP_IDS[n] for n in names))


def _badge(bit: int) -> Condition:
    return Condition("badge", (bit,))


def _item(*names: str) -> Condition:
    return Condition("item", tuple(ITEM_IDS[n] for n in names))


#: (id, name, condition), in story order; a milestone's tier is the number of badges before it.
_CATALOG: tuple[tuple[str, str, Condition], ...] = (
    ("left_house", "Stepped out into Pallet Town", _map("PALLET_TOWN")),
    ("met_oak", "Oak stopped you at the edge of town", _event("OAK_APPEARED_IN_PALLET")),
    ("got_starter", "Chose a starter Pokemon", _event("GOT_STARTER")),
    ("rival_battle_lab", "Battled the rival in Oak's lab", _event("BATTLED_RIVAL_IN_OAKS_LAB")),
    ("reached_viridian", "Reached Viridian City", _map("VIRIDIAN_CITY")),
    ("got_oaks_parcel", "Picked up Oak's parcel", _event("GOT_OAKS_PARCEL")),
    ("delivered_parcel", "Delivered the parcel to Oak", _event("OAK_GOT_PARCEL")),
    ("got_pokedex", "Received the Pokedex", _event("GOT_POKEDEX")),
    ("first_catch", "Caught a second Pokemon", Condition("owned", (2,))),
    ("reached_viridian_forest", "Entered Viridian Forest", _map("VIRIDIAN_FOREST")),
    ("reached_pewter", "Reached Pewter City", _map("PEWTER_CITY")),
    ("badge_boulder", "Beat Brock: Boulder Badge", _badge(0)),
    ("reached_mt_moon", "Entered Mt. Moon", _map("MT_MOON_1F")),
    ("got_fossil", "Took a fossil in Mt. Moon", _event("GOT_DOME_FOSSIL", "GOT_HELIX_FOSSIL")),
    ("reached_cerulean", "Reached Cerulean City", _map("CERULEAN_CITY")),
    ("rival_cerulean", "Beat the rival in Cerulean City", _event("BEAT_CERULEAN_RIVAL")),
    ("badge_cascade", "Beat Misty: Cascade Badge", _badge(1)),
    ("nugget_bridge", "Beat the Rocket at Nugget Bridge", _event("BEAT_ROUTE24_ROCKET")),
    ("helped_bill", "Helped Bill", _event("USED_CELL_SEPARATOR_ON_BILL")),
    ("got_ss_ticket", "Received the S.S. Ticket", _event("GOT_SS_TICKET")),
    ("reached_vermilion", "Reached Vermilion City", _map("VERMILION_CITY")),
    ("got_hm01_cut", "Received HM01 Cut on the S.S. Anne", _event("GOT_HM01")),
    ("badge_thunder", "Beat Lt. Surge: Thunder Badge", _badge(2)),
    ("got_bicycle", "Got the Bicycle", _event("GOT_BICYCLE")),
    ("got_hm05_flash", "Received HM05 Flash", _event("GOT_HM05")),
    ("reached_lavender", "Reached Lavender Town", _map("LAVENDER_TOWN")),
    ("reached_celadon", "Reached Celadon City", _map("CELADON_CITY")),
    ("badge_rainbow", "Beat Erika: Rainbow Badge", _badge(3)),
    ("found_rocket_hideout", "Found the Rocket Hideout", _event("FOUND_ROCKET_HIDEOUT")),
    ("beat_giovanni_hideout", "Beat Giovanni in the Rocket Hideout", _event("BEAT_ROCKET_HIDEOUT_GIOVANNI")),
    ("got_silph_scope", "Got the Silph Scope", _item("SILPH_SCOPE")),
    ("rival_pokemon_tower", "Beat the rival in Pokemon Tower", _event("BEAT_POKEMON_TOWER_RIVAL")),
    ("beat_ghost_marowak", "Laid the ghost in Pokemon Tower to rest", _event("BEAT_GHOST_MAROWAK")),
    ("rescued_mr_fuji", "Rescued Mr. Fuji", _event("RESCUED_MR_FUJI")),
    ("got_poke_flute", "Received the Poke Flute", _event("GOT_POKE_FLUTE")),
    ("woke_snorlax", "Woke a Snorlax blocking the road",
     _event("BEAT_ROUTE12_SNORLAX", "BEAT_ROUTE16_SNORLAX")),
    ("reached_fuchsia", "Reached Fuchsia City", _map("FUCHSIA_CITY")),
    ("badge_soul", "Beat Koga: Soul Badge", _badge(4)),
    ("got_hm03_surf", "Received HM03 Surf in the Safari Zone", _event("GOT_HM03")),
    ("got_hm04_strength", "Received HM04 Strength", _event("GOT_HM04")),
    ("got_hm02_fly", "Received HM02 Fly", _event("GOT_HM02")),
    ("rival_silph", "Beat the rival in Silph Co.", _event("BEAT_SILPH_CO_RIVAL")),
    ("beat_giovanni_silph", "Freed Silph Co. from Giovanni", _event("BEAT_SILPH_CO_GIOVANNI")),
    ("badge_marsh", "Beat Sabrina: Marsh Badge", _badge(5)),
    ("reached_cinnabar", "Reached Cinnabar Island", _map("CINNABAR_ISLAND")),
    ("got_secret_key", "Found the Secret Key in the Pokemon Mansion", _item("SECRET_KEY")),
    ("badge_volcano", "Beat Blaine: Volcano Badge", _badge(6)),
    ("badge_earth", "Beat Giovanni: Earth Badge", _badge(7)),
    ("rival_route22", "Beat the rival on Route 22 before the League",
     _event("BEAT_ROUTE22_RIVAL_2ND_BATTLE")),
    ("reached_victory_road", "Entered Victory Road", _map("VICTORY_ROAD_1F")),
    ("reached_indigo_plateau", "Reached Indigo Plateau", _map("INDIGO_PLATEAU_LOBBY")),
    ("beat_lorelei", "Beat Lorelei of the Elite Four", _event("BEAT_LORELEIS_ROOM_TRAINER_0")),
    ("beat_bruno", "Beat Bruno of the Elite Four", _event("BEAT_BRUNOS_ROOM_TRAINER_0")),
    ("beat_agatha", "Beat Agatha of the Elite Four", _event("BEAT_AGATHAS_ROOM_TRAINER_0")),
    ("beat_lance", "Beat Lance of the Elite Four", _event("BEAT_LANCE")),
    ("beat_champion", "Beat the rival: Champion", _event("BEAT_CHAMPION_RIVAL")),
    ("hall_of_fame", "Entered the Hall of Fame", _map("HALL_OF_FAME")),
)


def _tiers() -> tuple[int, ...]:
    tiers, badges_before = [], 0
    for _, _, condition in _CATALOG:
        after_league = condition.kind == "map" and condition.values == (HALL_OF_FAME,)
        tiers.append(badges_before + (1 if after_league else 0))
        if condition.kind == "badge":
            badges_before += 1
    return tuple(tiers)


#: The milestone catalog, start to Hall of Fame; tier = badges won before it (9 for the Hall of Fame).
MILESTONES: tuple[Milestone, ...] = tuple(
    Milestone(id=mid, name=name, tier=tier) for (mid, name, _), tier in zip(_CATALOG, _tiers(), strict=True)
)
CONDITIONS: tuple[Condition, ...] = tuple(c for _, _, c in _CATALOG)


def in_game(memory: Memory) -> bool:
    """True once a game is under way (the player has a name): before that ``wCurMap`` reads 0, Pallet Town."""
    return memory[ram.W_PLAYER_NAME] not in (0x00, STRING_END)


def milestone_mask(memory: Memory) -> int:
    """Bit ``i`` set when ``MILESTONES[i]`` holds (one read of each RAM block, then table lookups)."""
    flags = event_flags(memory)
    badge_bits = memory[ram.W_OBTAINED_BADGES]
    current_map = memory[ram.W_CUR_MAP] if in_game(memory) else -1
    items: set[int] | None = None
    owned: int | None = None
    mask = 0
    for i, condition in enumerate(CONDITIONS):
        kind, values = condition.kind, condition.values
        if kind == "event":
            hit = any(event_set(flags, v) for v in values)
        elif kind == "map":
            hit = current_map in values
        elif kind == "badge":
            hit = bool(badge_bits >> values[0] & 1)
        elif kind == "item":
            items = bag_item_ids(memory) if items is None else items
            hit = any(v in items for v in values)
        else:  # owned
            owned = pokedex_counts(memory)[0] if owned is None else owned
            hit = owned >= values[0]
        if hit:
            mask |= 1 << i
    return mask


# --------------------------------------------------------------------------------------------- the pack
class PokemonRedPack(Pack):
    """Pokemon Red or Blue (US), identified by SHA-1; see the module docstring.

    Args:
        version: ``"red"`` or ``"blue"``; the RAM map is the same, the ROM and its start state are not.
    """

    titles = ("POKEMON RED", "POKEMON BLUE")
    version = 1

    def __init__(self, version: str = "red") -> None:
        if version not in ("red", "blue"):
            raise ValueError(f"invalid Pokemon version {version!r}; valid: red, blue")
        self.release = version
        self.name = f"pokemon_{version}"
        self.game = f"Pokemon {version.capitalize()} (US)"
        self.sha1s = {RED_SHA1: "Pokemon Red (US)"} if version == "red" else {BLUE_SHA1: "Pokemon Blue (US)"}
        self.titles = ("POKEMON RED",) if version == "red" else ("POKEMON BLUE",)

    def start_state(self, game: GameBoyGame) -> bytes:
        """The bedroom at the start of a new game, from the cached intro or by playing it now (~seconds)."""
        from longplay.envs.gameboy import intro

        return intro.start_state(game)

    def milestones(self) -> tuple[Milestone, ...]:
        return MILESTONES

    def milestone_mask(self, memory: Memory) -> int:
        return milestone_mask(memory)

    def finished(self, memory: Memory) -> bool:
        """The Hall of Fame is the end of the game."""
        return in_game(memory) and memory[ram.W_CUR_MAP] == HALL_OF_FAME

    def state(self, memory: Memory) -> GameState:
        tiles = screen_tiles(memory)
        map_id = memory[ram.W_CUR_MAP]
        slots = party(memory)
        owned, seen = pokedex_counts(memory)
        return GameState(
            map_id=map_id,
            map_name=map_name(map_id),
            x=memory[ram.W_X_COORD],
            y=memory[ram.W_Y_COORD],
            facing=ram.FACINGS.get(memory[ram.W_SPRITE_PLAYER_FACING], ""),
            mode=screen_mode(memory, tiles),
            party=tuple(s.member() for s in slots),
            bag=bag(memory),
            money=money(memory),
            badges=badges(memory),
            flags=event_names_set(event_flags(memory)),
            dialog=dialog_text(tiles),
            extra={
                "player_name": decode_string(memory[ram.W_PLAYER_NAME:ram.W_PLAYER_NAME + ram.NAME_LENGTH]),
                "rival_name": decode_string(memory[ram.W_RIVAL_NAME:ram.W_RIVAL_NAME + ram.NAME_LENGTH]),
                "nicknames": tuple(s.nickname for s in slots),
                "pokedex_owned": owned,
                "pokedex_seen": seen,
                "in_battle": memory[ram.W_IS_IN_BATTLE],
                "walk_bike_surf": memory[ram.W_WALK_BIKE_SURF_STATE],
                "enemy": ((memory[ram.W_ENEMY_MON_SPECIES], memory[ram.W_ENEMY_MON_LEVEL],
                           read_u16_be(memory, ram.W_ENEMY_MON_HP), read_u16_be(memory, ram.W_ENEMY_MON_MAX_HP))
                          if memory[ram.W_IS_IN_BATTLE] else None),
            },
        )

    def text(self, memory: Memory, rom: RomImage) -> str:
        s = self.state(memory)
        tiles = screen_tiles(memory)
        lines = [
            f"Game: {self.game}. Player {s.extra['player_name'] or '?'}, "
            f"rival {s.extra['rival_name'] or '?'}.",
            f"Map: {s.map_name} (id {s.map_id}); position x={s.x}, y={s.y}; facing {s.facing or '?'}; "
            f"mode {s.mode.value}",
        ]
        if s.mode == Mode.BATTLE:
            kind = {1: "wild", 2: "trainer"}.get(s.extra["in_battle"], "ending")
            enemy = memory[ram.W_ENEMY_MON_SPECIES]
            hp = read_u16_be(memory, ram.W_ENEMY_MON_HP)
            max_hp = read_u16_be(memory, ram.W_ENEMY_MON_MAX_HP)
            lines.append(f"Battle ({kind}): enemy {SPECIES_NAMES.get(enemy, '?')} "
                         f"Lv{memory[ram.W_ENEMY_MON_LEVEL]} HP {hp}/{max_hp}")
        if s.dialog:
            lines.append("Dialog: " + s.dialog.replace("\n", " / "))
        if s.mode in (Mode.MENU, Mode.BATTLE):
            shown = screen_text(tiles, POKEMON_GEN1)
            if shown:
                lines.append("Screen text (> marks the cursor):")
                lines.extend("  " + line for line in shown.splitlines())
        if s.party:
            lines.append(f"Party ({len(s.party)}):")
            for member, nick in zip(s.party, s.extra["nicknames"], strict=True):
                named = member.species if nick in ("", member.species) else f"{nick} ({member.species})"
                lines.append(f"  {named} Lv{member.level} HP {member.hp}/{member.max_hp}; moves: "
                             f"{', '.join(member.moves) or 'none'}")
        else:
            lines.append("Party: empty")
        lines.append("Bag: " + (", ".join(f"{name} x{qty}" for name, qty in s.bag) or "empty"))
        lines.append(f"Money: ${s.money}; badges ({len(s.badges)}/8): {', '.join(s.badges) or 'none'}; "
                     f"Pokedex: {s.extra['pokedex_owned']} owned, {s.extra['pokedex_seen']} seen")
        if s.mode == Mode.OVERWORLD:
            grid = walkable_grid(memory, tiles)
            people = people_on_screen(memory)
            lines.append("Squares on screen (. walkable, # blocked, P a person, @ you; ledges not shown):")
            for r, row in enumerate(grid):
                lines.append("  " + "".join("@" if (r, c) == (4, 4) else "P" if (r, c) in people
                                            else "." if ok else "#" for c, ok in enumerate(row)))
        return "\n".join(lines)

    def symbolic_spaces(self) -> dict[str, spaces.Space]:
        """``state``: map, x, y, facing (0 down 1 up 2 left 3 right), mode (0 overworld 1 dialog 2 menu
        3 battle), ``wIsInBattle``, badge bits, Pokedex owned, money; ``party``: species id, level, HP and
        max HP of each of six slots (zeros when empty)."""
        return {
            "state": spaces.Box(0, 999_999, (9,), np.int32),
            "party": spaces.Box(0, 65_535, (6, 4), np.int32),
        }

    def symbolic(self, memory: Memory) -> dict[str, np.ndarray]:
        tiles = screen_tiles(memory)
        facing = {0x0: 0, 0x4: 1, 0x8: 2, 0xC: 3}.get(memory[ram.W_SPRITE_PLAYER_FACING], 0)
        state = np.array([
            memory[ram.W_CUR_MAP], memory[ram.W_X_COORD], memory[ram.W_Y_COORD], facing,
            _MODES.index(screen_mode(memory, tiles)), memory[ram.W_IS_IN_BATTLE],
            memory[ram.W_OBTAINED_BADGES], pokedex_counts(memory)[0], min(money(memory), 999_999),
        ], dtype=np.int32)
        members = np.zeros((6, 4), dtype=np.int32)
        for i, slot in enumerate(party(memory)):
            members[i] = (slot.species_id, slot.level, slot.hp, slot.max_hp)
        return {"state": state, "party": members}
