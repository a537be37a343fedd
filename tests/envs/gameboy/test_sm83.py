"""The SM83 assembler: every opcode round-trips through lr35902dis's disassembly; labels, data, errors."""

from __future__ import annotations

import pytest

from longplay.envs.gameboy import cartridge
from longplay.envs.gameboy.sm83 import AssemblyError, assemble, assemble_program

lr35902 = pytest.importorskip("lr35902dis.lr35902", reason="lr35902dis is in the test extra")

ORIGIN = 0x150


def to_source(text: str) -> str:
    """lr35902dis's syntax (``LD (0xFF00+0x40),A``, ``LDI (HL+),A``) in the assembler's RGBDS syntax."""
    mnemonic, _, rest = text.partition(" ")
    mnemonic = mnemonic.lower()
    if mnemonic in ("ldi", "ldd"):
        mnemonic = "ld"
    operands = []
    for op in rest.split(",") if rest else []:
        op = op.strip().lower()
        if op.startswith("(0xff00+"):
            inner = op[len("(0xff00+"):-1]
            if inner == "c":
                operands.append("[c]")
            else:
                mnemonic = "ldh"
                operands.append(f"[{inner}]")
        elif op.startswith("("):
            operands.append("[" + op[1:-1] + "]")
        else:
            operands.append(op)
    return f"{mnemonic} {', '.join(operands)}".strip()


def _opcodes() -> list[bytes]:
    encodings = []
    for tail in (b"\xfb\x12", b"\x05\x80"):
        encodings.extend(bytes([first]) + tail for first in range(256) if first != 0xCB)
        encodings.extend(bytes([0xCB, second]) + tail for second in range(256))
    return encodings


def test_every_opcode_round_trips_through_the_disassembler() -> None:
    checked = 0
    for encoding in _opcodes():
        decoded = lr35902.decode(encoding, ORIGIN)
        if decoded.status != lr35902.DECODE_STATUS.OK:
            continue
        text = lr35902.disasm(encoding, ORIGIN)
        source = to_source(text)
        if text.startswith("STOP"):  # lr35902dis prints "STOP 0" whatever the padding byte is
            source = f"stop {encoding[1]}"
        assert assemble(source, origin=ORIGIN) == encoding[:decoded.len], (text, source)
        checked += 1
    # 244 unprefixed opcodes (11 of 255 are illegal on the SM83) + 256 CB-prefixed, with two operand sets.
    assert checked == 2 * (244 + 256)


def test_labels_local_labels_constants_and_data() -> None:
    program = assemble_program(
        """
        COUNT equ 3
        start:
            ld b, COUNT
        .loop:
            dec b
            jr nz, .loop
            jp other.loop
        other:
        .loop:
            ld hl, table + 2
            ld a, high($1234) + low($ff01)
            ret
        table:
            db 1, $02, %11, 0x04
            dw start, $BEEF
            ds 3, $FF
        """,
        origin=0x200,
    )
    s = program.symbols
    assert s["start"] == 0x200 and s["start.loop"] == 0x202 and s["other.loop"] == s["other"]
    assert program.code[:2] == b"\x06\x03"
    assert program.code[3:5] == b"\x20\xfd"  # jr nz back to .loop
    assert program.code[5:8] == bytes([0xC3]) + s["other.loop"].to_bytes(2, "little")
    assert program.code[-11:] == bytes([1, 2, 3, 4, 0x00, 0x02, 0xEF, 0xBE, 0xFF, 0xFF, 0xFF])


def test_org_pads_with_zeros_and_predefined_symbols() -> None:
    code = assemble("nop\n org $0004\n ld a, [wThing]", symbols={"wThing": 0xC123})
    assert code == b"\x00\x00\x00\x00\xfa\x23\xc1"


@pytest.mark.parametrize(("source", "message"), [
    ("frobnicate a", "no SM83 instruction"),
    ("ld [hl], [hl]", "no SM83 instruction"),
    ("jr far\n ds 200\nfar: nop", "outside -128..127"),
    ("jp nowhere", "undefined symbol 'nowhere'"),
    ("here: nop\nhere: nop", "defined twice"),
    ("bit 8, a", "outside 0..7"),
    ("ld a, 300", "does not fit in a byte"),
    ("rst $09", "rst target"),
    ("org 4\nnop\norg 0", "behind"),
    ("ld a, __import__('os')", "function"),
    ("ld a, 'x'", "expression"),
])
def test_errors_name_the_line(source: str, message: str) -> None:
    with pytest.raises(AssemblyError, match=message) as info:
        assemble(source)
    assert str(info.value).startswith("line ")


def test_test_cartridge_code_disassembles_and_reassembles_to_the_same_bytes() -> None:
    program = cartridge.assembled_program()
    rom = cartridge.build_rom()
    address, end = program.symbols["start"], program.symbols["SPRITE_TILES"]  # code runs up to the data
    count = 0
    while address < end:
        decoded = lr35902.decode(rom[address:address + 3], address)
        assert decoded.status == lr35902.DECODE_STATUS.OK, hex(address)
        source = to_source(lr35902.disasm(rom[address:address + 3], address))
        assert assemble(source, origin=address) == rom[address:address + decoded.len], (hex(address), source)
        address += decoded.len
        count += 1
    assert address == end and count > 150
