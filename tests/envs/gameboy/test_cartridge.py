"""The test cartridge ROM: deterministic, a valid header, code that disassembles back to itself."""

from __future__ import annotations

import pytest

from longplay.envs.gameboy import cartridge as cart
from longplay.envs.gameboy.roms import check_rom
from longplay.envs.gameboy.sm83 import assemble


def test_rom_is_deterministic_and_has_a_valid_header() -> None:
    rom = cart.build_rom()
    cart.build_rom.cache_clear()
    cart.assembled_program.cache_clear()
    assert cart.build_rom() == rom
    image = check_rom(rom)
    assert image.title == cart.TITLE and image.cartridge_type == "ROM" and len(rom) == 0x8000
    assert image.sha1 == cart.rom_sha1()
    assert cart.global_checksum(rom) == int.from_bytes(rom[0x14E:0x150], "big")
    assert rom[0x100:0x104] == bytes([0x00, 0xC3, 0x50, 0x01])  # nop; jp $0150


def test_font_text_box_and_room() -> None:
    box = cart.text_box(("HI!", "2 KEYS"))
    assert len(box) == 80
    assert box[20] == cart.TILE_BOX["│"] and box[39] == cart.TILE_BOX["▕"]
    assert box[21:24] == bytes([cart.CHARSET["H"], cart.CHARSET["I"], cart.CHARSET["!"]])
    with pytest.raises(ValueError, match="at most 18"):
        cart.text_box(("X" * 19, ""))
    with pytest.raises(ValueError, match="not in the test cartridge font"):
        cart.encode_text("é")
    assert all(len(row) == cart.MAP_WIDTH for row in cart.ROOM) and len(cart.ROOM) == cart.MAP_HEIGHT
    assert cart.start_position() == (2, 2)
    for lines in cart.MESSAGES.values():
        cart.text_box(lines)  # every message fits and uses only font characters


def test_tile_encoding() -> None:
    # Row "0123...." -> low bitplane 0b01010000, high bitplane 0b00110000.
    tile = cart.encode_tile((".123....",) + ("........",) * 7)
    assert tile[:2] == bytes([0b01010000, 0b00110000]) and tile[2:] == bytes(14)
    data = cart.tile_data()
    assert len(data) == 4096
    assert data[cart.TILE_WALL * 16:(cart.TILE_WALL + 1) * 16] != bytes(16)
    assert data[cart.CHARSET["A"] * 16:(cart.CHARSET["A"] + 1) * 16] != bytes(16)
    assert data[cart.TILE_BLANK * 16:(cart.TILE_BLANK + 1) * 16] == bytes(16)


def test_assembler_output_matches_the_symbols() -> None:
    program = cart.assembled_program()
    s = program.symbols
    assert s["start"] == 0x150
    rom = cart.build_rom()
    assert rom[s["ROOM"]:s["ROOM"] + 360] == cart.room_tiles()
    assert rom[s["TILES"]:s["TILES"] + 4096] == cart.tile_data()
    assert assemble("jp start", origin=0x101, symbols={"start": s["start"]}) == rom[0x101:0x104]
