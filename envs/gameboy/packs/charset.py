"""Reading text off a Game Boy screen: a tile map decoded with a game's character set.

Game Boy games draw text as background tiles, one character a tile, so the dialog on screen can be read back
from the tile map (the 20x18 visible tiles) with the game's table of tile id -> character. Tiles that are not
characters (map graphics, box borders) read as spaces. The text is folded to printable ASCII, the alphabet of
the env's text observations.

``POKEMON_GEN1`` is the English Pokemon Red/Blue/Yellow character set, from ``constants/charmap.asm`` of the
pret/pokered disassembly (https://github.com/pret/pokered). A charset's key may also be a tuple of tile ids: a
word drawn over several tiles (``decode_row`` reads the longest one first), for tiles that mean a character
only beside each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Tile id (an ``int``, or a tuple of them: a word over several tiles) -> text.
Charset = Mapping[Any, str]

#: Non-ASCII characters of the games' fonts -> printable ASCII.
ASCII_FOLD = {
    "é": "E", "♂": "(M)", "♀": "(F)", "▶": ">", "▷": ">", "▼": "v", "▲": "^", "…": "...", "‘": "'", "’": "'",
    "“": '"', "”": '"', "·": ".", "×": "x", "¥": "$", "№": "No", "′": "'", "″": '"',
}


def _pokemon_gen1() -> dict[int | tuple[int, ...], str]:
    table: dict[int | tuple[int, ...], str] = {0x7F: " "}
    table.update({0x80 + i: chr(ord("A") + i) for i in range(26)})
    table.update({0xA0 + i: chr(ord("a") + i) for i in range(26)})
    table.update({0xF6 + i: chr(ord("0") + i) for i in range(10)})
    table.update({
        0x9A: "(", 0x9B: ")", 0x9C: ":", 0x9D: ";", 0x9E: "[", 0x9F: "]",
        0xBA: "é", 0xBB: "'d", 0xBC: "'l", 0xBD: "'s", 0xBE: "'t", 0xBF: "'v",
        0xE0: "'", 0xE1: "PK", 0xE2: "MN", 0xE3: "-", 0xE4: "'r", 0xE5: "'m", 0xE6: "?", 0xE7: "!", 0xE8: ".",
        0xEC: "▷", 0xED: "▶", 0xEE: "▼", 0xEF: "♂", 0xF0: "¥", 0xF1: "×", 0xF2: ".", 0xF3: "/", 0xF4: ",",
        0xF5: "♀",
        # The string terminator "@" and control codes never reach the screen; 0x54 is drawn as "POKé" in
        # strings but never placed as one tile, so it is not here.
    })
    # Tiles $60-$7F hold one of two fonts. Text boxes load font_extra (LoadTextBoxTilePatterns, from $60): of
    # its characters the English game prints only the ellipsis ($75, "……" in dialog) and the colon ($6D,
    # "#DEX Rating:", play times); its quotes and middle dot ($70-$74) appear in no English text. The party menu,
    # battles, the status screen, the Pokedex, Bill's PC and the naming screen load font_battle_extra
    # (LoadHpBarAndStatusTilePatterns, from $62; charmap.asm's second section), whose $70-$74 are "to", the "H"
    # of "HP:", an unused Japanese quote, "ID" and "No"; the status screen puts a bold P at $72 for "PP"
    # (gfx/font/P.1bpp), battles their HUD's lines at $73-$78, the Pokedex a line at $71 and a ball at $72. So
    # those tiles read as characters only where they are drawn as text (engine/pokemon/status_screen.asm,
    # home/pokemon.asm DrawHPBar and PrintLevel), and alone as nothing.
    table.update({
        0x75: "…", 0x6D: ":",
        0x6E: "Lv",  # the HP/status font's ":L" level sign (PrintLevel: always before the level's digits)
        0x70: "to",  # the status screen's "<to>" (next level); font_extra's "‘" is never printed
        (0x71, 0x62): "HP:",  # DrawHPBar's label
        (0x72, 0x72): "PP",  # the status screen's '<BOLD_P>' twice
        (0x73, 0x74): "IDNo",  # the status screen's and trade screen's "<ID>№"
        (0x74, 0xF2): "№.",  # "№<DOT>" before a Pokedex number
    })
    # DrawHPBar ends a bar ($63 empty .. $6B full) with $6D in battle and on the status screen: not a colon.
    table.update({(bar, 0x6D): "  " for bar in range(0x63, 0x6C)})
    return table


#: Tile id -> character of the English Pokemon Red/Blue font (pret/pokered ``constants/charmap.asm``).
POKEMON_GEN1: dict[int | tuple[int, ...], str] = _pokemon_gen1()

#: Box-drawing tile ids of Pokemon Red/Blue (``charmap.asm``: ``┌ ─ ┐ │ └ ┘``).
POKEMON_GEN1_BOX = {0x79: "┌", 0x7A: "─", 0x7B: "┐", 0x7C: "│", 0x7D: "└", 0x7E: "┘"}


def fold_ascii(text: str) -> str:
    """Replaces the fonts' non-ASCII characters by ASCII ones; anything else non-printable becomes ``?``.

    >>> fold_ascii("POKéMON ♂")
    'POKEMON (M)'
    """
    out = []
    for ch in text:
        if " " <= ch <= "~" or ch == "\n":
            out.append(ch)
        else:
            out.append(ASCII_FOLD.get(ch, "?"))
    return "".join(out)


def decode_row(tiles: Iterable[int], charset: Charset) -> str:
    """One row of tile ids as text; tiles outside ``charset`` read as spaces; trailing spaces dropped.

    A run of tiles that is a word of ``charset`` (a tuple key) reads as that word, the longest first:

    >>> decode_row([0x72, 0x72, 0x7F, 0x72], POKEMON_GEN1)  # the status screen's "PP"; one $72 is no letter
    'PP'
    """
    row = list(tiles)
    words = _words(charset)
    if not words or not words.keys() & set(row):  # no word can start here: one lookup a tile
        return "".join([charset.get(tile, " ") for tile in row]).rstrip()
    out = []
    i = 0
    while i < len(row):
        for word in words.get(row[i], ()):
            if tuple(row[i:i + len(word)]) == word:
                out.append(charset[word])
                i += len(word)
                break
        else:
            out.append(charset.get(row[i], " "))
            i += 1
    return "".join(out).rstrip()


_WORDS: dict[int, tuple[Charset, int, dict[int, list[tuple[int, ...]]]]] = {}


def _words(charset: Charset) -> dict[int, list[tuple[int, ...]]]:
    """The words (tuple keys) of ``charset`` by their first tile, longest first; computed once per charset (and
    again if its size changes), since a screen is decoded at every step of a text observation."""
    cached = _WORDS.get(id(charset))
    if cached is None or cached[1] != len(charset):  # (the entry holds the charset: its id stays its own)
        index: dict[int, list[tuple[int, ...]]] = {}
        for key in charset:
            if isinstance(key, tuple) and len(key) > 1:
                index.setdefault(key[0], []).append(key)
        for keys in index.values():
            keys.sort(key=len, reverse=True)
        cached = _WORDS[id(charset)] = (charset, len(charset), index)
    return cached[2]


def decode_screen(rows: Sequence[Sequence[int]], charset: Charset) -> list[str]:
    """Every row of a tile grid as text, empty rows kept (so row numbers stay screen rows).

    >>> decode_screen([[0x87, 0x88, 0xE7, 0x01]], POKEMON_GEN1)
    ['HI!']
    """
    return [decode_row(row, charset) for row in rows]


def screen_text(rows: Sequence[Sequence[int]], charset: Charset) -> str:
    """The text on a tile grid as ASCII lines: empty rows dropped, common left margin removed."""
    lines = [line for line in decode_screen(rows, charset) if line.strip()]
    if not lines:
        return ""
    margin = min(len(line) - len(line.lstrip(" ")) for line in lines)
    return fold_ascii("\n".join(line[margin:] for line in lines))


def encode(text: str, charset: Charset) -> list[int]:
    """Tile ids spelling ``text`` (one character a tile); the inverse of :func:`decode_row` for tests.

    >>> encode("HI!", POKEMON_GEN1)
    [135, 136, 231]
    """
    inverse: dict[str, int] = {}
    for tile, ch in charset.items():
        if isinstance(tile, int) and len(ch) == 1:
            inverse.setdefault(ch, tile)
    try:
        return [inverse[ch] for ch in text]
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the character set") from None
