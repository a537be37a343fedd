"""The longplay test cartridge: a small Game Boy ROM assembled from Python, so CI runs the emulator path
with no proprietary ROM.

The program draws a walled room from its own tiles, shows a player sprite the d-pad moves one tile per press
(walls block it), and has two goals: a silver key, and a golden door that opens only once the key is held.
Reaching each goal sets a bit of ``wFlags`` in WRAM and opens a text box at the bottom of the screen, drawn
with the cartridge's own font; A closes it. Bumping the locked door shows a third message. Every graphic, the
font and the program are original to longplay.

The ROM is built deterministically (the same bytes on every machine) and cached in-process; building takes a
few milliseconds, so nothing is written to disk and nothing is committed.

WRAM map (the test cartridge pack reads these):

====================  ======  ====================================================================
name                  address meaning
====================  ======  ====================================================================
``wPlayerX``          $C000   player column, 0..19 (screen tiles)
``wPlayerY``          $C001   player row, 0..17
``wFlags``            $C002   bit 0: got the key; bit 1: opened the door
``wDialog``           $C003   message shown in the text box (0: none, 1 key, 2 door, 3 locked)
``wPrevJoy``          $C004   buttons held on the previous frame (edge detection)
``wFacing``           $C005   0 down, 1 up, 2 left, 3 right
``wSteps``            $C006   tiles walked, 16-bit little-endian
``wFrames``           $C008   frame counter (wraps)
``wReady``            $C009   $5A once the program has initialised (boot detection)
``wMap``              $C800   the 20x18 room, one tile id a cell (mutable: the key and door clear)
====================  ======  ====================================================================
"""

from __future__ import annotations

import functools
import hashlib

from longplay.envs.gameboy.sm83 import Program, assemble_program

TITLE = "LONGPLAY TEST"

# --------------------------------------------------------------------------------------- WRAM addresses
W_PLAYER_X = 0xC000
W_PLAYER_Y = 0xC001
W_FLAGS = 0xC002
W_DIALOG = 0xC003
W_PREV_JOY = 0xC004
W_FACING = 0xC005
W_STEPS = 0xC006
W_FRAMES = 0xC008
W_READY = 0xC009
W_MAP = 0xC800
READY_MAGIC = 0x5A

FLAG_KEY = 0
FLAG_DOOR = 1
FACINGS = ("down", "up", "left", "right")
MESSAGE_IDS = {1: "key", 2: "door", 3: "locked"}

# --------------------------------------------------------------------------------------- screen
MAP_WIDTH = 20
MAP_HEIGHT = 18
BG_MAP = 0x9800  # 32x32 background tile map; the visible 20x18 corner is the screen (no scrolling)
BOX_ROW = 14  # the text box covers screen rows 14..17

# Tile ids. Tile data starts at $8000 and the BG uses unsigned ids, so sprites and background share them.
TILE_FLOOR = 0x00
TILE_WALL = 0x01
TILE_KEY = 0x02
TILE_DOOR = 0x03
TILE_PLAYER_DOWN = 0x04
TILE_PLAYER_UP = 0x05
TILE_PLAYER_SIDE = 0x06
TILE_BOX = {"┌": 0x70, "─": 0x71, "┐": 0x72, "│": 0x73, "└": 0x74, "┘": 0x75, "▕": 0x76}  # ▕ right side
TILE_BLANK = 0x7F

#: Character -> font tile id; the text decoder inverts it. Letters at $80, digits at $A0, punctuation at $B0.
CHARSET: dict[str, int] = {" ": TILE_BLANK}
CHARSET.update({chr(ord("A") + i): 0x80 + i for i in range(26)})
CHARSET.update({chr(ord("0") + i): 0xA0 + i for i in range(10)})
CHARSET.update({ch: 0xB0 + i for i, ch in enumerate("!.,?'-:")})

#: The room. ``#`` wall, ``.`` floor, ``K`` key, ``D`` door, ``@`` the player's start (floor).
ROOM = (
    "####################",
    "#.........#........#",
    "#.@.......#........#",
    "#.........#....K...#",
    "#.........#........#",
    "#####.#####........#",
    "#.........######.###",
    "#..................#",
    "#...####...........#",
    "#......#....D......#",
    "#......#...........#",
    "#..................#",
    "#..................#",
    "#..................#",
    "#..................#",
    "#..................#",
    "#..................#",
    "####################",
)
_ROOM_TILES = {"#": TILE_WALL, ".": TILE_FLOOR, "K": TILE_KEY, "D": TILE_DOOR, "@": TILE_FLOOR}

MESSAGES = {
    1: ("YOU FOUND THE", "SILVER KEY!"),
    2: ("YOU OPENED THE", "GOLDEN DOOR!"),
    3: ("THE DOOR IS LOCKED", "FIND THE KEY FIRST"),
}

# --------------------------------------------------------------------------------------- graphics
# 8x8 tiles as rows of colour indices: "." 0 (white; transparent in sprites), "1" light, "2" dark, "3" black.
_TILE_ART: dict[int, tuple[str, ...]] = {
    TILE_FLOOR: ("........", "........", "..1.....", "........", "........", "......1.", "........",
                 "........"),
    TILE_WALL: ("33333333", "22232222", "22232222", "33333333", "22222223", "22222223", "33333333",
                "22232222"),
    TILE_KEY: ("........", ".333....", "3...3...", "3...3333", "3...3.3.", ".333..3.", "........",
               "........"),
    TILE_DOOR: (".333333.", "32222223", "32222223", "32222233", "32222233", "32222223", "32222223",
                "33333333"),
    TILE_PLAYER_DOWN: ("..3333..", ".311113.", ".313313.", ".311113.", "..3333..", ".322223.", ".322223.",
                       "..3..3.."),
    TILE_PLAYER_UP: ("..3333..", ".333333.", ".333333.", ".311113.", "..3333..", ".322223.", ".322223.",
                     "..3..3.."),
    TILE_PLAYER_SIDE: ("..3333..", ".311113.", ".311313.", ".311113.", "..3333..", "..3223..", "..3223..",
                       "..3.3..."),
    TILE_BOX["┌"]: ("........", "........", "........", "...33333", "...3....", "...3....", "...3....",
                    "...3...."),
    TILE_BOX["─"]: ("........", "........", "........", "33333333", "........", "........", "........",
                    "........"),
    TILE_BOX["┐"]: ("........", "........", "........", "33333...", "....3...", "....3...", "....3...",
                    "....3..."),
    TILE_BOX["│"]: ("...3....",) * 8,
    TILE_BOX["▕"]: ("....3...",) * 8,
    TILE_BOX["└"]: ("...3....", "...3....", "...3....", "...33333", "........", "........", "........",
                    "........"),
    TILE_BOX["┘"]: ("....3...", "....3...", "....3...", "33333...", "........", "........", "........",
                    "........"),
}

# A 5x7 font drawn for longplay ("#" ink), placed in columns 1..5 and rows 0..6 of each tile.
_FONT = {
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#", "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".###.|#...#|#....|#....|#....|#...#|.###.", "D": "####.|#...#|#...#|#...#|#...#|#...#|####.",
    "E": "#####|#....|#....|####.|#....|#....|#####", "F": "#####|#....|#....|####.|#....|#....|#....",
    "G": ".###.|#...#|#....|#.###|#...#|#...#|.####", "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
    "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.", "J": "..###|...#.|...#.|...#.|#..#.|#..#.|.##..",
    "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#", "L": "#....|#....|#....|#....|#....|#....|#####",
    "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#", "N": "#...#|##..#|#.#.#|#..##|#...#|#...#|#...#",
    "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.", "P": "####.|#...#|#...#|####.|#....|#....|#....",
    "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#", "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.", "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.", "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
    "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.", "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
    "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..", "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.", "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####", "3": "####.|....#|....#|.###.|....#|....#|####.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.", "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": ".###.|#....|#....|####.|#...#|#...#|.###.", "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.", "9": ".###.|#...#|#...#|.####|....#|....#|.###.",
    "!": "..#..|..#..|..#..|..#..|..#..|.....|..#..", ".": ".....|.....|.....|.....|.....|.....|..#..",
    ",": ".....|.....|.....|.....|.....|..#..|.#...", "?": ".###.|#...#|....#|...#.|..#..|.....|..#..",
    "'": "..#..|..#..|.....|.....|.....|.....|.....", "-": ".....|.....|.....|.###.|.....|.....|.....",
    ":": ".....|..#..|.....|.....|.....|..#..|.....",
}


def encode_tile(rows: tuple[str, ...]) -> bytes:
    """Encodes 8 rows of colour digits (``.`` = 0) as a Game Boy 2-bit-per-pixel tile (16 bytes)."""
    if len(rows) != 8 or any(len(r) != 8 for r in rows):
        raise ValueError("a tile is 8 rows of 8 pixels")
    out = bytearray()
    for row in rows:
        colours = [0 if ch == "." else int(ch) for ch in row]
        out.append(sum((c & 1) << (7 - i) for i, c in enumerate(colours)))
        out.append(sum((c >> 1 & 1) << (7 - i) for i, c in enumerate(colours)))
    return bytes(out)


def _glyph_rows(glyph: str) -> tuple[str, ...]:
    rows = [("." + r + "..").replace("#", "3") for r in glyph.split("|")]
    return tuple(rows + ["........"])


def tile_data() -> bytes:
    """All 256 tiles (4 KiB) in VRAM order: room and sprite tiles, box borders, then the font."""
    tiles = [bytes(16)] * 256
    for tile_id, rows in _TILE_ART.items():
        tiles[tile_id] = encode_tile(rows)
    for ch, glyph in _FONT.items():
        tiles[CHARSET[ch]] = encode_tile(_glyph_rows(glyph))
    return b"".join(tiles)


def room_tiles() -> bytes:
    """The room as 20x18 tile ids, row by row."""
    return bytes(_ROOM_TILES[ch] for row in ROOM for ch in row)


def start_position() -> tuple[int, int]:
    """The player's start (x, y) in screen tiles."""
    for y, row in enumerate(ROOM):
        if "@" in row:
            return row.index("@"), y
    raise ValueError("the room has no start")


def encode_text(text: str) -> bytes:
    """Encodes ``text`` with :data:`CHARSET`; raises ``ValueError`` on a character the font lacks."""
    try:
        return bytes(CHARSET[ch] for ch in text)
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the test cartridge font") from None


def text_box(lines: tuple[str, str]) -> bytes:
    """The 20x4 tiles of a text box holding two lines of at most 18 characters."""
    inner = MAP_WIDTH - 2
    if any(len(line) > inner for line in lines):
        raise ValueError(f"a text box line holds at most {inner} characters")
    top = bytes([TILE_BOX["┌"]]) + bytes([TILE_BOX["─"]]) * inner + bytes([TILE_BOX["┐"]])
    bottom = bytes([TILE_BOX["└"]]) + bytes([TILE_BOX["─"]]) * inner + bytes([TILE_BOX["┘"]])
    middle = b"".join(bytes([TILE_BOX["│"]]) + encode_text(line.ljust(inner)) + bytes([TILE_BOX["▕"]])
                      for line in lines)
    return top + middle + bottom


def _db(data: bytes, per_line: int = 16) -> str:
    return "\n".join("    db " + ", ".join(f"${b:02X}" for b in data[i:i + per_line])
                     for i in range(0, len(data), per_line))


# The program. Hardware registers are named as in the Pan Docs; WRAM names as in the module docstring.
PROGRAM = """
rP1     equ $FF00
rIF     equ $FF0F
rLCDC   equ $FF40
rSCY    equ $FF42
rSCX    equ $FF43
rLY     equ $FF44
rBGP    equ $FF47
rOBP0   equ $FF48
rIE     equ $FFFF
LCDC_ON equ %10010011   ; LCD on, BG tiles at $8000, BG map $9800, sprites on, BG on

    org $0040
    reti                    ; VBlank interrupt: it only wakes the HALT in the main loop

    org $0100
    nop
    jp start
    ds $4C                  ; cartridge header, filled in by build_rom()

start:
    di
    ld sp, $E000
    call lcd_off
    ld hl, $C000            ; clear the variables
    ld bc, $0100
    ld d, 0
    call memset
    ld hl, TILES            ; all 256 tiles
    ld de, $8000
    ld bc, $1000
    call memcpy
    ld hl, BG_MAP           ; blank background
    ld bc, $0400
    ld d, TILE_BLANK
    call memset
    ld hl, ROOM             ; the room into WRAM, where goals can change it
    ld de, wMap
    ld bc, MAP_WIDTH * MAP_HEIGHT
    call memcpy
    call draw_room
    ld hl, $FE00            ; no sprites but the player
    ld bc, 160
    ld d, 0
    call memset
    ld a, START_X
    ld [wPlayerX], a
    ld a, START_Y
    ld [wPlayerY], a
    call update_sprite
    ld a, %11100100
    ldh [rBGP], a
    ldh [rOBP0], a
    xor a
    ldh [rSCX], a
    ldh [rSCY], a
    ldh [rIF], a
    call lcd_on
    ld a, 1                 ; VBlank interrupt only
    ldh [rIE], a
    ld a, READY_MAGIC
    ld [wReady], a
    ei

main:
    halt
    nop
    call update_sprite      ; in VBlank: OAM is free
    ld hl, wFrames
    inc [hl]
    call read_joypad        ; a = buttons newly pressed this frame
    ld b, a
    ld a, [wDialog]
    and a
    jr z, .walk
    bit 0, b                ; a text box is open: only A (closes it) counts
    jr z, main
    call close_dialog
    jr main
.walk:
    bit 7, b
    jr nz, .down
    bit 6, b
    jr nz, .up
    bit 5, b
    jr nz, .left
    bit 4, b
    jr nz, .right
    jr main
.down:
    ld d, 0
    ld e, 1
    ld a, 0
    jr .move
.up:
    ld d, 0
    ld e, $FF
    ld a, 1
    jr .move
.left:
    ld d, $FF
    ld e, 0
    ld a, 2
    jr .move
.right:
    ld d, 1
    ld e, 0
    ld a, 3
.move:
    ld [wFacing], a
    ld a, [wPlayerX]
    add d
    ld b, a
    ld a, [wPlayerY]
    add e
    ld c, a
    call tile_at            ; a = tile at (b, c), hl = its cell in wMap
    cp TILE_WALL
    jr z, main
    cp TILE_DOOR
    jr nz, .step
    ld a, [wFlags]
    bit FLAG_KEY, a
    jr nz, .step
    ld hl, BOX_LOCKED       ; the door stays shut without the key
    ld a, 3
    call open_dialog
    jp main
.step:
    ld a, b
    ld [wPlayerX], a
    ld a, c
    ld [wPlayerY], a
    ld a, [wSteps]
    add 1
    ld [wSteps], a
    ld a, [wSteps + 1]
    adc 0
    ld [wSteps + 1], a
    ld a, [hl]
    cp TILE_KEY
    jr z, .key
    cp TILE_DOOR
    jr z, .door
    jp main
.key:
    ld [hl], TILE_FLOOR     ; the key is picked up
    ld a, [wFlags]
    set FLAG_KEY, a
    ld [wFlags], a
    ld hl, BOX_KEY
    ld a, 1
    call open_dialog
    jp main
.door:
    ld [hl], TILE_FLOOR     ; the door stands open
    ld a, [wFlags]
    set FLAG_DOOR, a
    ld [wFlags], a
    ld hl, BOX_DOOR
    ld a, 2
    call open_dialog
    jp main

; a = tile id of wMap at column b, row c; hl = that cell. Keeps b and c.
tile_at:
    ld h, 0
    ld l, c
    add hl, hl
    add hl, hl
    ld d, h
    ld e, l
    add hl, hl
    add hl, hl
    add hl, de              ; hl = 20 * row
    ld d, 0
    ld e, b
    add hl, de
    ld de, wMap
    add hl, de
    ld a, [hl]
    ret

; Opens the text box hl (20x4 tiles) as message a: the room is redrawn (goals change it), then the box.
open_dialog:
    ld [wDialog], a
    push hl
    call lcd_off
    call draw_room
    pop hl
    ld de, BG_MAP + BOX_ROW * 32
    ld b, 4
    call copy_rows
    jp lcd_on

close_dialog:
    xor a
    ld [wDialog], a
    call lcd_off
    call draw_room
    jp lcd_on

draw_room:
    ld hl, wMap
    ld de, BG_MAP
    ld b, MAP_HEIGHT
    ; falls through

; Copies b rows of 20 tiles from hl to the 32-wide tile map at de.
copy_rows:
.row:
    ld c, MAP_WIDTH
.col:
    ld a, [hl+]
    ld [de], a
    inc de
    dec c
    jr nz, .col
    ld a, e
    add 32 - MAP_WIDTH
    ld e, a
    jr nc, .same_page
    inc d
.same_page:
    dec b
    jr nz, .row
    ret

update_sprite:
    ld hl, $FE00
    ld a, [wPlayerY]
    add a
    add a
    add a
    add 16
    ld [hl+], a
    ld a, [wPlayerX]
    add a
    add a
    add a
    add 8
    ld [hl+], a
    ld a, [wFacing]
    ld e, a
    ld d, 0
    push hl
    ld hl, SPRITE_TILES
    add hl, de
    ld b, [hl]
    ld hl, SPRITE_FLAGS
    add hl, de
    ld c, [hl]
    pop hl
    ld a, b
    ld [hl+], a
    ld a, c
    ld [hl], a
    ret

; a = buttons pressed now and not on the previous frame: bit 7 down, 6 up, 5 left, 4 right,
; 3 start, 2 select, 1 B, 0 A.
read_joypad:
    ld a, $20               ; select the d-pad
    ldh [rP1], a
    ldh a, [rP1]
    ldh a, [rP1]
    cpl
    and $0F
    swap a
    ld b, a
    ld a, $10               ; select the buttons
    ldh [rP1], a
    ldh a, [rP1]
    ldh a, [rP1]
    ldh a, [rP1]
    ldh a, [rP1]
    cpl
    and $0F
    or b
    ld b, a
    ld a, $30
    ldh [rP1], a
    ld a, [wPrevJoy]
    cpl
    and b
    ld c, a
    ld a, b
    ld [wPrevJoy], a
    ld a, c
    ret

; Turns the LCD off, waiting for VBlank first (turning it off mid-frame harms real hardware).
lcd_off:
    ldh a, [rLCDC]
    bit 7, a
    ret z
.wait:
    ldh a, [rLY]
    cp 144
    jr c, .wait
    ldh a, [rLCDC]
    res 7, a
    ldh [rLCDC], a
    ret

lcd_on:
    ld a, LCDC_ON
    ldh [rLCDC], a
    ret

; Copies bc bytes from hl to de.
memcpy:
    ld a, [hl+]
    ld [de], a
    inc de
    dec bc
    ld a, b
    or c
    jr nz, memcpy
    ret

; Fills bc bytes at hl with d.
memset:
    ld a, d
    ld [hl+], a
    dec bc
    ld a, b
    or c
    jr nz, memset
    ret

SPRITE_TILES:
    db TILE_PLAYER_DOWN, TILE_PLAYER_UP, TILE_PLAYER_SIDE, TILE_PLAYER_SIDE
SPRITE_FLAGS:
    db 0, 0, $20, 0         ; facing left mirrors the side view
"""


def program_source() -> str:
    """The whole assembly source: the program followed by its data (room, text boxes, tiles)."""
    data = "\n".join([
        "ROOM:", _db(room_tiles(), MAP_WIDTH),
        "BOX_KEY:", _db(text_box(MESSAGES[1]), MAP_WIDTH),
        "BOX_DOOR:", _db(text_box(MESSAGES[2]), MAP_WIDTH),
        "BOX_LOCKED:", _db(text_box(MESSAGES[3]), MAP_WIDTH),
        "TILES:", _db(tile_data()),
    ])
    return PROGRAM + "\n" + data + "\n"


def program_symbols() -> dict[str, int]:
    """The constants the program source uses, shared with the pack that reads the RAM."""
    x, y = start_position()
    return {
        "wPlayerX": W_PLAYER_X, "wPlayerY": W_PLAYER_Y, "wFlags": W_FLAGS, "wDialog": W_DIALOG,
        "wPrevJoy": W_PREV_JOY, "wFacing": W_FACING, "wSteps": W_STEPS, "wFrames": W_FRAMES,
        "wReady": W_READY, "wMap": W_MAP, "READY_MAGIC": READY_MAGIC, "FLAG_KEY": FLAG_KEY,
        "FLAG_DOOR": FLAG_DOOR, "TILE_FLOOR": TILE_FLOOR, "TILE_WALL": TILE_WALL, "TILE_KEY": TILE_KEY,
        "TILE_DOOR": TILE_DOOR, "TILE_PLAYER_DOWN": TILE_PLAYER_DOWN, "TILE_PLAYER_UP": TILE_PLAYER_UP,
        "TILE_PLAYER_SIDE": TILE_PLAYER_SIDE, "TILE_BLANK": TILE_BLANK, "BG_MAP": BG_MAP,
        "BOX_ROW": BOX_ROW, "MAP_WIDTH": MAP_WIDTH, "MAP_HEIGHT": MAP_HEIGHT, "START_X": x, "START_Y": y,
    }


def header_checksum(rom: bytes | bytearray) -> int:
    """The header checksum the boot ROM (and PyBoy) check at $014D, computed over $0134-$014C."""
    value = 0
    for byte in rom[0x134:0x14D]:
        value = (value - byte - 1) & 0xFF
    return value


def global_checksum(rom: bytes | bytearray) -> int:
    """The 16-bit sum of every ROM byte but the two at $014E-$014F (stored big-endian there)."""
    return (sum(rom) - rom[0x14E] - rom[0x14F]) & 0xFFFF


@functools.lru_cache(maxsize=1)
def assembled_program() -> Program:
    """The assembled program (code from $0000 and every label), cached in-process."""
    return assemble_program(program_source(), origin=0, symbols=program_symbols())


@functools.lru_cache(maxsize=1)
def build_rom() -> bytes:
    """The test cartridge ROM (32 KiB, no mapper), built deterministically and cached in-process."""
    program = assembled_program()
    if len(program.code) > 0x8000:
        raise RuntimeError(f"the test cartridge program is {len(program.code)} bytes; it must fit in 32 KiB")
    rom = bytearray(0x8000)
    rom[: len(program.code)] = program.code
    # Header: $0104-$0133 is left blank (PyBoy's boot ROM does not check the logo), then title,
    # no CGB flag, no licensee, cartridge type 0 (ROM only), 32 KiB ROM, no cartridge RAM.
    title = TITLE.encode("ascii")
    rom[0x134:0x134 + len(title)] = title
    rom[0x147] = 0x00
    rom[0x148] = 0x00
    rom[0x149] = 0x00
    rom[0x14A] = 0x01  # not Japan
    rom[0x14D] = header_checksum(rom)
    rom[0x14E:0x150] = global_checksum(rom).to_bytes(2, "big")
    return bytes(rom)


def rom_sha1() -> str:
    """The SHA-1 of :func:`build_rom`, which identifies the test cartridge to the pack registry."""
    return hashlib.sha1(build_rom()).hexdigest()
