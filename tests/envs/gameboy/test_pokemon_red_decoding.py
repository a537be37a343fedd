"""The Pokemon Red/Blue pack's decoders, without the game: known bytes are written into the emulated RAM of
the test cartridge (``pyboy.memory[...] = ...``) at the addresses of the pret/pokered RAM map, then read back
through the pack. The real ROM is needed only by ``test_pokemon_red_rom.py``."""

from __future__ import annotations

import string

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from longplay.envs.game import GameError, Mode
from longplay.envs.gameboy import cartridge, intro
from longplay.envs.gameboy.core import GameBoyEnv, GameBoyGame
from longplay.envs.gameboy.packs import charset
from longplay.envs.gameboy.packs import pokemon_red as red
from longplay.envs.gameboy.packs import pokemon_red_ram as ram
from longplay.envs.gameboy.packs.pokemon_red_data import (
    EVENT_NAMES,
    ITEM_IDS,
    MAP_IDS,
    MOVE_NAMES,
    SPECIES_IDS,
)
from longplay.envs.gameboy.packs.testcart import TestCartPack
from longplay.envs.gameboy.roms import check_rom

EVENT = {name: index for index, name in EVENT_NAMES.items()}
PACK = red.PokemonRedPack("red")
ROM = check_rom(cartridge.build_rom())  # only its title and SHA-1 appear in the text view


@pytest.fixture(scope="module")
def game():
    """The test cartridge under PyBoy: its WRAM stands in for the game's."""
    g = GameBoyGame(pack="testcart")
    yield g
    g.close()


@pytest.fixture()
def memory(game: GameBoyGame):
    """The test cartridge's live emulated memory, reset to its start after each test."""
    game.reset(0)
    yield game.memory
    game.reset(0)


def write_string(memory, address: int, text: str) -> None:
    memory[address:address + len(text) + 1] = charset.encode(text, charset.POKEMON_GEN1) + [red.STRING_END]


def set_event(memory, name: str) -> None:
    index = EVENT[name]
    address = ram.W_EVENT_FLAGS + index // 8
    memory[address] = memory[address] | 1 << (index % 8)


def start_game(memory, map_name: str = "PALLET_TOWN") -> None:
    write_string(memory, ram.W_PLAYER_NAME, "RED")
    write_string(memory, ram.W_RIVAL_NAME, "BLUE")
    memory[ram.W_CUR_MAP] = MAP_IDS[map_name]


def test_money_is_bcd(memory) -> None:
    memory[ram.W_PLAYER_MONEY:ram.W_PLAYER_MONEY + 3] = [0x01, 0x23, 0x45]
    assert red.money(memory) == 12345
    memory[ram.W_PLAYER_MONEY:ram.W_PLAYER_MONEY + 3] = list(red.encode_bcd(999999))
    assert red.money(memory) == 999999 and PACK.state(memory).money == 999999
    assert red.encode_bcd(3000) == bytes([0x00, 0x30, 0x00])
    with pytest.raises(ValueError):
        red.encode_bcd(1_000_000)


def test_badges_position_facing(memory) -> None:
    start_game(memory, "VIRIDIAN_CITY")
    memory[ram.W_OBTAINED_BADGES] = 0b1000_0101
    memory[ram.W_X_COORD], memory[ram.W_Y_COORD] = 17, 25
    memory[ram.W_SPRITE_PLAYER_FACING] = 0x8
    s = PACK.state(memory)
    assert s.badges == ("BOULDER", "THUNDER", "EARTH")
    assert (s.map_id, s.map_name, s.x, s.y, s.facing) == (1, "Viridian City", 17, 25, "left")
    assert s.extra["player_name"] == "RED" and s.extra["rival_name"] == "BLUE"
    # The symbolic state vector: map, x, y, facing (0 down 1 up 2 left 3 right), mode, battle, badge bits, ...
    assert PACK.symbolic(memory)["state"][:4].tolist() == [1, 17, 25, 2]
    for facing, code in ((0x0, 0), (0x4, 1), (0x8, 2), (0xC, 3)):
        memory[ram.W_SPRITE_PLAYER_FACING] = facing
        assert PACK.symbolic(memory)["state"][3] == code
    assert PACK.symbolic(memory)["state"][6] == 0b1000_0101


def test_party_species_level_hp_moves_nicknames(memory) -> None:
    memory[ram.W_PARTY_COUNT] = 2
    species = [SPECIES_IDS["CHARMANDER"], SPECIES_IDS["NIDORAN_M"]]
    memory[ram.W_PARTY_SPECIES:ram.W_PARTY_SPECIES + 3] = species + [0xFF]
    members = [(5, 19, 20, ["SCRATCH", "GROWL"]), (12, 300, 301, ["TACKLE"])]
    for i, (level, hp, max_hp, moves) in enumerate(members):
        base = ram.W_PARTY_MONS + i * ram.PARTY_MON_SIZE
        memory[base + ram.MON_SPECIES] = species[i]
        memory[base + ram.MON_HP:base + ram.MON_HP + 2] = [hp >> 8, hp & 0xFF]
        memory[base + ram.MON_MAX_HP:base + ram.MON_MAX_HP + 2] = [max_hp >> 8, max_hp & 0xFF]
        memory[base + ram.MON_LEVEL] = level
        ids = [MOVE_NAMES.index(m) for m in moves]
        memory[base + ram.MON_MOVES:base + ram.MON_MOVES + 4] = ids + [0] * (4 - len(ids))
    write_string(memory, ram.W_PARTY_MON_NICKS, "CHARMANDER")
    write_string(memory, ram.W_PARTY_MON_NICKS + ram.NAME_LENGTH, "SPIKE")
    s = PACK.state(memory)
    assert [(m.species, m.level, m.hp, m.max_hp, m.moves) for m in s.party] == [
        ("CHARMANDER", 5, 19, 20, ("SCRATCH", "GROWL")), ("NIDORAN(M)", 12, 300, 301, ("TACKLE",))]
    assert s.extra["nicknames"] == ("CHARMANDER", "SPIKE")
    sym = PACK.symbolic(memory)
    assert sym["party"][1].tolist() == [SPECIES_IDS["NIDORAN_M"], 12, 300, 301] and sym["party"][2].sum() == 0
    assert "SPIKE (NIDORAN(M)) Lv12 HP 300/301; moves: TACKLE" in PACK.text(memory, ROM)


def test_bag_and_item_milestone(memory) -> None:
    start_game(memory)
    memory[ram.W_NUM_BAG_ITEMS] = 3
    memory[ram.W_BAG_ITEMS:ram.W_BAG_ITEMS + 7] = [ITEM_IDS["POTION"], 3, ITEM_IDS["SILPH_SCOPE"], 1,
                                                  ITEM_IDS["HM_CUT"], 1, 0xFF]
    assert red.bag(memory) == (("POTION", 3), ("SILPH SCOPE", 1), ("HM01", 1))
    ids = [m.id for m in red.MILESTONES]
    assert red.milestone_mask(memory) >> ids.index("got_silph_scope") & 1


def test_pokedex_counts(memory) -> None:
    memory[ram.W_POKEDEX_OWNED:ram.W_POKEDEX_OWNED + 19] = [0b101] + [0] * 17 + [0x40]  # #1, #3, #151
    memory[ram.W_POKEDEX_SEEN:ram.W_POKEDEX_SEEN + 19] = [0xFF] * 19
    assert red.pokedex_counts(memory) == (3, 152)  # seen: every bit, even the unused 152nd


def test_event_flags_drive_milestones_in_story_order(memory) -> None:
    ids = [m.id for m in red.MILESTONES]
    assert red.milestone_mask(memory) == 0  # no game: WRAM clear, and wCurMap 0 is not Pallet Town yet
    start_game(memory, "REDS_HOUSE_2F")
    assert red.milestone_mask(memory) == 0
    set_event(memory, "GOT_STARTER")
    set_event(memory, "BEAT_BROCK")  # an event the catalog does not use
    memory[ram.W_OBTAINED_BADGES] = 0b1
    memory[ram.W_POKEDEX_OWNED] = 0b11
    reached = {ids[i] for i in range(len(ids)) if red.milestone_mask(memory) >> i & 1}
    assert reached == {"got_starter", "badge_boulder", "first_catch"}
    assert {"GOT_STARTER", "BEAT_BROCK"} <= PACK.state(memory).flags
    # EVENT_GOT_STARTER is bit 2 of $D74B: the address RL projects commonly cite.
    assert EVENT["GOT_STARTER"] == 0x22 and memory[0xD74B] & 0b100
    memory[ram.W_CUR_MAP] = MAP_IDS["PALLET_TOWN"]
    assert red.milestone_mask(memory) >> ids.index("left_house") & 1
    assert not PACK.finished(memory)
    memory[ram.W_CUR_MAP] = MAP_IDS["HALL_OF_FAME"]
    assert PACK.finished(memory) and red.milestone_mask(memory) >> ids.index("hall_of_fame") & 1


def test_catalog_covers_the_game() -> None:
    ms = red.MILESTONES
    ids = [m.id for m in ms]
    assert len(ms) >= 40 and len(set(ids)) == len(ids)
    assert ids[0] == "left_house" and ids[-1] == "hall_of_fame"
    assert [m.tier for m in ms] == sorted(m.tier for m in ms) and ms[-1].tier == 9
    assert all(f"badge_{b.lower()}" in ids for b in ram.BADGES)
    assert {"got_hm01_cut", "got_hm02_fly", "got_hm03_surf", "got_hm04_strength", "got_hm05_flash",
            "got_poke_flute", "got_silph_scope", "got_ss_ticket", "got_bicycle", "got_secret_key"} <= set(ids)
    assert {"beat_lorelei", "beat_bruno", "beat_agatha", "beat_lance", "beat_champion"} <= set(ids)


def test_dialog_menu_and_battle_modes_from_the_tile_map(memory) -> None:
    start_game(memory)

    def put(row: int, col: int, tiles: list[int]) -> None:
        address = ram.W_TILE_MAP + row * 20 + col
        memory[address:address + len(tiles)] = tiles

    memory[ram.W_TILE_MAP:ram.W_TILE_MAP + 360] = [0x01] * 360  # overworld tiles
    assert red.screen_mode(memory, red.screen_tiles(memory)) == Mode.OVERWORLD
    box = charset.POKEMON_GEN1_BOX
    inverse = {v: k for k, v in box.items()}
    put(12, 0, [inverse["┌"]] + [inverse["─"]] * 18 + [inverse["┐"]])
    for row in range(13, 17):
        put(row, 0, [inverse["│"]] + [0x7F] * 18 + [inverse["│"]])
    put(17, 0, [inverse["└"]] + [inverse["─"]] * 18 + [inverse["┘"]])
    put(14, 1, charset.encode("Hello there!", charset.POKEMON_GEN1))
    put(16, 1, charset.encode("It's POKéMON ♂", charset.POKEMON_GEN1))
    put(16, 18, [0xEE])  # ▼ prompt
    tiles = red.screen_tiles(memory)
    assert red.dialog_text(tiles) == "Hello there!\nIt's POKEMON (M)   v"  # "♂" is one tile, "(M)" three
    s = PACK.state(memory)
    assert s.mode == Mode.DIALOG and s.dialog.startswith("Hello there!")
    assert "Dialog: Hello there! / It's POKEMON (M)   v" in PACK.text(memory, ROM)
    put(7, 14, [inverse["┌"], inverse["─"], inverse["┐"]])
    assert PACK.state(memory).mode == Mode.MENU  # a second box over the message box, before its cursor shows
    put(8, 15, [0xED] + charset.encode("YES", charset.POKEMON_GEN1))  # ▶YES
    assert PACK.state(memory).mode == Mode.MENU
    assert ">YES" in PACK.text(memory, ROM)
    memory[ram.W_IS_IN_BATTLE] = 1
    memory[ram.W_ENEMY_MON_SPECIES] = SPECIES_IDS["PIKACHU"]
    memory[ram.W_ENEMY_MON_LEVEL] = 4
    memory[ram.W_ENEMY_MON_HP:ram.W_ENEMY_MON_HP + 2] = [0, 17]
    memory[ram.W_ENEMY_MON_MAX_HP:ram.W_ENEMY_MON_MAX_HP + 2] = [0, 18]
    assert PACK.state(memory).mode == Mode.BATTLE
    assert "Battle (wild): enemy PIKACHU Lv4 HP 17/18" in PACK.text(memory, ROM)


def test_charset_round_trip_and_ascii() -> None:
    text = "PROF.OAK: 1,000? é! (x)"
    tiles = charset.encode(text.replace("(x)", "[x]"), charset.POKEMON_GEN1)
    assert charset.decode_row(tiles, charset.POKEMON_GEN1) == text.replace("(x)", "[x]")
    assert charset.fold_ascii("é♂♀▶…") == "E(M)(F)>..."
    assert charset.screen_text([[0x01, 0x7F, 0x87, 0x88], [0x7F] * 4, [0x7F, 0x7F, 0xF7, 0xF8]],
                               charset.POKEMON_GEN1) == "HI\n12"


def test_status_screen_and_hud_tiles_read_as_the_font_loaded_there() -> None:
    # Tiles $62-$7F hold another font on the HP/status screens (LoadHpBarAndStatusTilePatterns: party menu,
    # battle, the status screen, the Pokedex) than in text boxes (LoadTextBoxTilePatterns). The decoder read them
    # all as the text-box font's quotes, which the English game never prints: the status screen's "PP" (its bold P
    # at $72, twice) read '""', "IDNo/" ($73 $74) read '" /', "No." ($74 <DOT>) read " .", "HP:" ($71 $62) read
    # "'", the HP bar's right end ($6D) read ":", a battle HUD's line ($73) '"', a Pokedex line ($71) "'".
    def enc(text: str) -> list[int]:
        return charset.encode(text, charset.POKEMON_GEN1)

    space, bar, bar_end = 0x7F, [0x63] * 6, 0x6D  # status_screen.asm, home/pokemon.asm (DrawHPBar)
    screen = [
        [space] + [0x74, 0xF2] + enc("025"),  # "№<DOT>" and the Pokedex number
        [space] + [0x71, 0x62] + bar + [bar_end],  # "HP:" and an HP bar
        [space] + [0x70, space, 0x6E] + enc("13"),  # "<to>" then PrintLevel (":L" and the level)
        [space] + [0x73, 0x74, 0xF3] + enc("12345"),  # "<ID>№/" and the trainer id
        [space] + enc("TACKLE"),
        [space] * 3 + [0x72, 0x72, space] + enc("35/35"),  # '<BOLD_P>' twice: "PP"
        [0x73] + enc("CHARMANDER"),  # a battle HUD's vertical line (PlaceHUDTiles), then a name
        [0x74, 0x76, 0x76, 0x77],  # a HUD's lower corners and line
        [0x72] + enc("BULBASAUR") + [0x71],  # a Pokedex list's owned ball and its vertical line
    ]
    assert charset.screen_text(screen, charset.POKEMON_GEN1).splitlines() == [  # the empty HUD row dropped
        "No.025", "HP:", "to Lv13", "IDNo/12345", "TACKLE", "  PP 35/35", "CHARMANDER", "BULBASAUR"]
    # What the text boxes print from the same range still reads: the ellipsis, the colon of "#DEX Rating:".
    assert charset.screen_text([[0x75, 0x75] + enc("Rating") + [0x6D]], charset.POKEMON_GEN1) == "......Rating:"


def test_walkable_grid_from_the_collision_list() -> None:
    memory = bytearray(0x10000)
    memory[0x1735:0x1738] = bytes([0x00, 0x10, 0xFF])  # a collision list in bank 0: tiles $00 and $10 pass
    memory[ram.W_TILESET_COLLISION_PTR:ram.W_TILESET_COLLISION_PTR + 2] = (0x1735).to_bytes(2, "little")
    memory[ram.W_GRASS_TILE] = 0x52
    tiles = [[0x20] * 20 for _ in range(18)]
    tiles[9][8] = 0x00  # the player's square
    tiles[1][0] = 0x10  # top-left square
    tiles[17][18] = 0x52  # bottom-right square: grass
    grid = red.walkable_grid(memory, tiles)
    assert len(grid) == 9 and len(grid[0]) == 10
    assert grid[4][4] and grid[0][0] and grid[8][9] and sum(map(sum, grid)) == 3
    # People: slot 1 stands two squares right of the player (sprites sit 4 pixels above the grid),
    # slot 2 is off screen, slot 3 is empty; slot 15, the last of the 16 structs, stands in the top-left square.
    sprites = {1: (5, 0, 0x3C, 0x60), 2: (6, 0xFF, 0x3C, 0x20), 3: (0, 0, 0, 0), 15: (7, 0, 0x0C, 0x00)}
    for slot, (picture, image, y, x) in sprites.items():
        base = ram.W_SPRITE_STATE_DATA1 + slot * ram.SPRITE_STRUCT_SIZE
        memory[base:base + 7] = bytes([picture, 1, image, 0, y, 0, x])
    assert red.people_on_screen(memory) == {(4, 6), (1, 0)}


def test_symbolic_fits_its_space(memory) -> None:
    start_game(memory)
    memory[ram.W_PLAYER_MONEY:ram.W_PLAYER_MONEY + 3] = [0x99, 0x99, 0x99]
    values = PACK.symbolic(memory)
    for key, space in PACK.symbolic_spaces().items():
        assert space.contains(values[key]), key
    assert values["state"][-1] == 999999 and values["state"].dtype == np.int32


def test_intro_decisions_from_the_screen(memory) -> None:
    def show(*lines: str) -> None:
        memory[ram.W_TILE_MAP:ram.W_TILE_MAP + 360] = [0x7F] * 360
        for row, line in enumerate(lines):
            at = ram.W_TILE_MAP + 20 * (row + 1) + 2
            memory[at:at + len(line)] = charset.encode(line, charset.POKEMON_GEN1)

    show()
    assert intro.next_button(memory, "title") == ("a", "title")
    assert intro.next_button(memory, "speech") == ("b", "speech")
    show("NEW GAME", "OPTION")
    memory[ram.W_CURRENT_MENU_ITEM] = 0
    assert intro.next_button(memory, "title") == ("a", "speech")
    show("CONTINUE", "NEW GAME", "OPTION")
    assert intro.next_button(memory, "title") == ("down", "title")
    show("NEW NAME", "RED", "ASH", "JACK")
    assert intro.next_button(memory, "speech") == ("down", "name")
    memory[ram.W_CURRENT_MENU_ITEM] = 1
    assert intro.next_button(memory, "name") == ("a", "speech")
    assert intro.next_button(memory, "speech") == (None, "speech")  # a stale cursor: wait
    assert not intro.in_control(memory)


def test_intro_gives_up_in_one_line_and_unhooks(game: GameBoyGame) -> None:
    game.reset(0)
    patched = game.pyboy.memory[0, ram.JOYPAD_OVERWORLD]
    with pytest.raises(GameError, match="did not reach the bedroom in 3 presses") as info:
        intro.play_intro(game, max_presses=3)
    assert "\n" not in str(info.value)
    assert game.pyboy.memory[0, ram.JOYPAD_OVERWORLD] == patched  # the hook is gone
    game.reset(0)


def test_intro_cache_round_trip(game: GameBoyGame, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = intro.cache_path(game)  # ROM bytes, not a file: the user cache folder
    assert path == tmp_path / "longplay" / f"{game.rom.sha1}{intro.CACHE_SUFFIX}"
    assert intro.read_cache(game, path) is None
    state = game.save_emulator_state()
    intro.write_cache(game, path, state)
    assert intro.read_cache(game, path) == state
    assert intro.start_state(game) == state  # from the cache: the intro is not played
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert intro.read_cache(game, path) is None  # corrupt: rebuilt next time


def test_decoders_survive_any_ram(memory) -> None:
    """Random WRAM (a corrupted game, a ROM hack): every view stays well-formed and inside its space."""
    rng = np.random.default_rng(0)
    printable = set(string.printable)
    for _ in range(20):
        memory[0xC000:0xE000] = rng.integers(0, 256, 0x2000, dtype=np.uint8).tobytes()
        s = PACK.state(memory)
        assert len(s.party) <= 6 and len(s.bag) <= 20
        assert set(PACK.text(memory, ROM)) <= printable
        values = PACK.symbolic(memory)
        for key, space in PACK.symbolic_spaces().items():
            assert space.contains(values[key]), key
        red.milestone_mask(memory)


def test_pokemon_pack_in_the_env_on_the_test_cartridge() -> None:
    """The Pokemon pack's spaces and views through LongplayEnv and check_env (RAM is the cartridge's)."""

    class RedOnTestCart(red.PokemonRedPack):
        def __init__(self) -> None:
            super().__init__("red")
            self.sha1s = {cartridge.rom_sha1(): "the test cartridge, standing in"}

        def start_state(self, game: GameBoyGame) -> bytes:
            return TestCartPack().start_state(game)

    env = GameBoyEnv(rom=cartridge.build_rom(), pack=RedOnTestCart(), obs_mode="symbolic+text")
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs["symbolic"]["party"].shape == (6, 4) and "Game: Pokemon Red (US)" in obs["text"]
    assert len(env.unwrapped.catalog) == len(red.MILESTONES)
    env.close()


#: What each milestone reads, as numbers from pret/pokered (``constants/event_constants.asm`` EVENT_*,
#: ``constants/map_constants.asm``, ``constants/item_constants.asm``, ``BIT_*BADGE`` in
#: ``constants/ram_constants.asm``), written out here so that an edit to the name tables cannot move them.
DISASSEMBLY_CONDITIONS = {
    "left_house": ("map", (0x00,)),  # PALLET_TOWN
    "met_oak": ("event", (0x027,)),  # EVENT_OAK_APPEARED_IN_PALLET
    "got_starter": ("event", (0x022,)),  # EVENT_GOT_STARTER
    "rival_battle_lab": ("event", (0x023,)),  # EVENT_BATTLED_RIVAL_IN_OAKS_LAB
    "reached_viridian": ("map", (0x01,)),  # VIRIDIAN_CITY
    "got_oaks_parcel": ("event", (0x039,)),  # EVENT_GOT_OAKS_PARCEL
    "delivered_parcel": ("event", (0x038,)),  # EVENT_OAK_GOT_PARCEL
    "got_pokedex": ("event", (0x025,)),  # EVENT_GOT_POKEDEX
    "first_catch": ("owned", (2,)),
    "reached_viridian_forest": ("map", (0x33,)),  # VIRIDIAN_FOREST
    "reached_pewter": ("map", (0x02,)),  # PEWTER_CITY
    "badge_boulder": ("badge", (0,)),  # BIT_BOULDERBADGE
    "reached_mt_moon": ("map", (0x3B,)),  # MT_MOON_1F
    "got_fossil": ("event", (0x57E, 0x57F)),  # EVENT_GOT_DOME_FOSSIL, EVENT_GOT_HELIX_FOSSIL
    "reached_cerulean": ("map", (0x03,)),  # CERULEAN_CITY
    "rival_cerulean": ("event", (0x098,)),  # EVENT_BEAT_CERULEAN_RIVAL
    "badge_cascade": ("badge", (1,)),  # BIT_CASCADEBADGE
    "nugget_bridge": ("event", (0x541,)),  # EVENT_BEAT_ROUTE24_ROCKET
    "helped_bill": ("event", (0x55B,)),  # EVENT_USED_CELL_SEPARATOR_ON_BILL
    "got_ss_ticket": ("event", (0x55C,)),  # EVENT_GOT_SS_TICKET
    "reached_vermilion": ("map", (0x05,)),  # VERMILION_CITY
    "got_hm01_cut": ("event", (0x5E0,)),  # EVENT_GOT_HM01
    "badge_thunder": ("badge", (2,)),  # BIT_THUNDERBADGE
    "got_bicycle": ("event", (0x0C0,)),  # EVENT_GOT_BICYCLE
    "got_hm05_flash": ("event", (0x3D8,)),  # EVENT_GOT_HM05
    "reached_lavender": ("map", (0x04,)),  # LAVENDER_TOWN
    "reached_celadon": ("map", (0x06,)),  # CELADON_CITY
    "badge_rainbow": ("badge", (3,)),  # BIT_RAINBOWBADGE
    "found_rocket_hideout": ("event", (0x1B9,)),  # EVENT_FOUND_ROCKET_HIDEOUT
    "beat_giovanni_hideout": ("event", (0x6A7,)),  # EVENT_BEAT_ROCKET_HIDEOUT_GIOVANNI
    "got_silph_scope": ("item", (0x48,)),  # SILPH_SCOPE
    "rival_pokemon_tower": ("event", (0x0EF,)),  # EVENT_BEAT_POKEMON_TOWER_RIVAL
    "beat_ghost_marowak": ("event", (0x10F,)),  # EVENT_BEAT_GHOST_MAROWAK
    "rescued_mr_fuji": ("event", (0x4CF,)),  # EVENT_RESCUED_MR_FUJI
    "got_poke_flute": ("event", (0x128,)),  # EVENT_GOT_POKE_FLUTE
    "woke_snorlax": ("event", (0x48F, 0x4C9)),  # EVENT_BEAT_ROUTE12_SNORLAX, EVENT_BEAT_ROUTE16_SNORLAX
    "reached_fuchsia": ("map", (0x07,)),  # FUCHSIA_CITY
    "badge_soul": ("badge", (4,)),  # BIT_SOULBADGE
    "got_hm03_surf": ("event", (0x880,)),  # EVENT_GOT_HM03
    "got_hm04_strength": ("event", (0x238,)),  # EVENT_GOT_HM04
    "got_hm02_fly": ("event", (0x4CE,)),  # EVENT_GOT_HM02
    "rival_silph": ("event", (0x740,)),  # EVENT_BEAT_SILPH_CO_RIVAL
    "beat_giovanni_silph": ("event", (0x78F,)),  # EVENT_BEAT_SILPH_CO_GIOVANNI
    "badge_marsh": ("badge", (5,)),  # BIT_MARSHBADGE
    "reached_cinnabar": ("map", (0x08,)),  # CINNABAR_ISLAND
    "got_secret_key": ("item", (0x2B,)),  # SECRET_KEY
    "badge_volcano": ("badge", (6,)),  # BIT_VOLCANOBADGE
    "badge_earth": ("badge", (7,)),  # BIT_EARTHBADGE
    "rival_route22": ("event", (0x526,)),  # EVENT_BEAT_ROUTE22_RIVAL_2ND_BATTLE
    "reached_victory_road": ("map", (0x6C,)),  # VICTORY_ROAD_1F
    "reached_indigo_plateau": ("map", (0xAE,)),  # INDIGO_PLATEAU_LOBBY
    "beat_lorelei": ("event", (0x8E1,)),  # EVENT_BEAT_LORELEIS_ROOM_TRAINER_0
    "beat_bruno": ("event", (0x8E9,)),  # EVENT_BEAT_BRUNOS_ROOM_TRAINER_0
    "beat_agatha": ("event", (0x8F1,)),  # EVENT_BEAT_AGATHAS_ROOM_TRAINER_0
    "beat_lance": ("event", (0x8FE,)),  # EVENT_BEAT_LANCE
    "beat_champion": ("event", (0x901,)),  # EVENT_BEAT_CHAMPION_RIVAL
    "hall_of_fame": ("map", (0x76,)),  # HALL_OF_FAME
}


def _synthetic_game() -> bytearray:
    """64 KiB of zeros with a game under way (wPlayerName $D158 = "R@") on an unused map (wCurMap $D35E)."""
    memory = bytearray(0x10000)
    memory[0xD158:0xD15A] = bytes([0x91, 0x50])
    memory[0xD35E] = 0xFF
    return memory


def test_each_milestone_reads_the_disassembly_bits() -> None:
    """Each milestone fires alone when its bit is set at the pokered.sym address (event n: byte
    wEventFlags $D747 + n / 8, bit n % 8; wObtainedBadges $D356; wCurMap $D35E; wNumBagItems $D31D and
    wBagItems $D31E; wPokedexOwned $D2F7), so addresses, bit numbering and constants are checked together."""
    ids = [m.id for m in red.MILESTONES]
    assert len(ids) == 57 and set(ids) == set(DISASSEMBLY_CONDITIONS)
    for i, mid in enumerate(ids):
        kind, values = DISASSEMBLY_CONDITIONS[mid]
        for value in values:
            memory = _synthetic_game()
            if kind == "event":
                memory[0xD747 + value // 8] |= 1 << value % 8
            elif kind == "map":
                memory[0xD35E] = value
            elif kind == "badge":
                memory[0xD356] = 1 << value
            elif kind == "item":
                memory[0xD31D:0xD320] = bytes([1, value, 1])
                memory[0xD320] = 0xFF
            else:
                memory[0xD2F7] = (1 << value) - 1
            assert red.milestone_mask(memory) == 1 << i, (mid, hex(value))


def test_lavender_town_event_block_starts_at_ee() -> None:
    """pokered's Lavender Town events begin with ``const_next $F0 - 2``: EVENT_POKEMON_TOWER_RIVAL_ON_LEFT
    is $EE, EVENT_BEAT_POKEMON_TOWER_RIVAL $EF, EVENT_GOT_POKE_FLUTE $128; a trainer's flag is bit (object
    number) of its map's block, so Pokemon Tower 3F's first channeler (object 1) is $F1, not the rival."""
    assert (EVENT["POKEMON_TOWER_RIVAL_ON_LEFT"], EVENT["BEAT_POKEMON_TOWER_RIVAL"]) == (0xEE, 0xEF)
    assert (EVENT["BEAT_POKEMONTOWER_3_TRAINER_0"], EVENT["IN_PURIFIED_ZONE"]) == (0xF1, 0x107)
    assert (EVENT["BEAT_GHOST_MAROWAK"], EVENT["RESCUED_MR_FUJI_2"], EVENT["GOT_POKE_FLUTE"]) == (0x10F, 0x117, 0x128)
    memory = _synthetic_game()
    memory[0xD747 + 0x128 // 8] |= 1 << 0x128 % 8  # $D76C bit 0
    assert PACK.state(memory).flags == {"GOT_POKE_FLUTE"}


def test_party_money_and_names_at_the_disassembly_addresses() -> None:
    """Party, money and names written at pokered.sym addresses: wPartyCount $D163, wPartySpecies $D164,
    wPartyMon1 $D16B / wPartyMon2 $D197 (HP +1 and max HP +$22 big-endian, level +$21, moves +8),
    wPartyMonNicks $D2B5 (11 bytes each), wPlayerMoney $D347 (3 bytes BCD), wRivalName $D34A."""
    memory = _synthetic_game()
    memory[0xD163] = 2
    memory[0xD164:0xD167] = bytes([0xB0, 0x54, 0xFF])  # CHARMANDER, PIKACHU (internal ids)
    memory[0xD197] = 0x54
    memory[0xD198:0xD19A] = bytes([0x01, 0x2C])  # HP 300
    memory[0xD19F:0xD1A1] = bytes([0x54, 0x00])  # moves: THUNDERSHOCK ($54)
    memory[0xD1B8] = 42  # level
    memory[0xD1B9:0xD1BB] = bytes([0x01, 0x2D])  # max HP 301
    memory[0xD2B5 + 11:0xD2B5 + 14] = bytes([0x8F, 0x88, 0x50])  # "PI"
    memory[0xD347:0xD34A] = bytes([0x01, 0x23, 0x45])
    memory[0xD34A:0xD34C] = bytes([0x81, 0x50])  # "B"
    s = PACK.state(memory)
    assert [(m.species, m.level, m.hp, m.max_hp, m.moves) for m in s.party][1] == (
        "PIKACHU", 42, 300, 301, ("THUNDERSHOCK",))
    assert s.extra["nicknames"][1] == "PI" and s.money == 12345
    assert (s.extra["player_name"], s.extra["rival_name"]) == ("R", "B")
