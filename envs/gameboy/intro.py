"""The scripted Pokemon Red/Blue intro: from power-on to the player's first free step in the bedroom.

It plays the user's own ROM: skips the opening movie and the title screen (A), picks NEW GAME, advances
Oak's speech (B, which advances text and touches nothing), picks the first preset name for the player and
for the rival (down, A), and stops once the bedroom has faded in with the player in control. It reacts to
what is on screen (the tile map read with the game's font, the menu cursor in RAM), not to fixed timings.
"In control" means the overworld loop has polled the joypad (a PyBoy hook on ``JoypadOverworld``) with the
bedroom faded in and no text on screen: ``wCurMap`` alone is no sign, as the game sets it to the bedroom
before Oak's speech.

The resulting state is cached beside the ROM (``<rom>.longplay-start.state``; for ROM bytes or a read-only
folder, under ``$XDG_CACHE_HOME/longplay`` or ``~/.cache/longplay``) and rebuilt when the ROM, the script or
PyBoy changes. It is derived from the user's ROM: it is never committed, and never shipped.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from longplay.envs.game import GameError, Mode
from longplay.envs.gameboy.packs import Memory
from longplay.envs.gameboy.packs import pokemon_red_ram as ram
from longplay.envs.gameboy.packs.charset import POKEMON_GEN1, screen_text
from longplay.envs.gameboy.packs.pokemon_red import in_game, screen_mode, screen_tiles
from longplay.envs.gameboy.packs.pokemon_red_data import MAP_IDS

if TYPE_CHECKING:
    from longplay.envs.gameboy.core import GameBoyGame

#: Bumped whenever the script changes what state it ends in (invalidates every cache).
INTRO_VERSION = 1
CACHE_MAGIC = b"LPINTRO"
CACHE_SUFFIX = ".longplay-start.state"
BEDROOM = MAP_IDS["REDS_HOUSE_2F"]
HOLD_FRAMES = 4
WAIT_FRAMES = 20
MAX_PRESSES = 2000
SETTLE_FRAMES = 60
_NORMAL_PALETTE = 0xE4


def next_button(memory: Memory, phase: str) -> tuple[str | None, str]:
    """The intro's next button (``None``: wait) and phase, from what is on screen.

    Phases: ``"title"`` (until NEW GAME is chosen: A skips the movie and the title screen), then ``"speech"``
    (B advances text; each name menu gets down, then A on the first preset name: phase ``"name"`` between
    the two, so a cursor left on row 1 by the previous menu is never taken for ours).
    """
    text = screen_text(screen_tiles(memory), POKEMON_GEN1)
    cursor = memory[ram.W_CURRENT_MENU_ITEM]
    if "NEW GAME" in text:
        target = 1 if "CONTINUE" in text else 0  # with a save the menu is CONTINUE / NEW GAME / OPTION
        if cursor != target:
            return ("down" if cursor < target else "up"), phase
        return "a", "speech"
    if "NEW NAME" in text:
        if cursor == 0:
            return "down", "name"
        if cursor == 1 and phase == "name":
            return "a", "speech"
        return None, phase  # the menu is still being set up: wait for its cursor
    return ("a" if phase == "title" else "b"), phase


def in_control(memory: Memory) -> bool:
    """True when the new game has reached the bedroom, faded in, with no text box and no input blocked."""
    return (in_game(memory) and memory[ram.W_CUR_MAP] == BEDROOM and memory[ram.W_JOY_IGNORE] == 0
            and memory[ram.R_BGP] == _NORMAL_PALETTE
            and screen_mode(memory, screen_tiles(memory)) == Mode.OVERWORLD)


def _count(hits: list[int]) -> None:
    hits[0] += 1


def play_intro(game: GameBoyGame, max_presses: int = MAX_PRESSES) -> bytes:
    """Plays the intro on ``game``'s fresh emulator and returns the PyBoy state in the bedroom."""
    pyboy = game.pyboy
    memory = pyboy.memory
    phase = "title"
    polls = [0]  # times the overworld loop read the joypad since the last look
    pyboy.hook_register(0, ram.JOYPAD_OVERWORLD, _count, polls)
    try:
        for _ in range(max_presses):
            if phase == "speech" and polls[0] and in_control(memory):
                polls[0] = 0
                pyboy.tick(SETTLE_FRAMES, False, False)
                if polls[0] and in_control(memory):
                    break
            polls[0] = 0
            button, phase = next_button(memory, phase)
            if button is None:
                pyboy.tick(HOLD_FRAMES + WAIT_FRAMES, False, False)
                continue
            pyboy.button_press(button)
            pyboy.tick(HOLD_FRAMES, False, False)
            pyboy.button_release(button)
            pyboy.tick(WAIT_FRAMES, False, False)
        else:
            _fail(memory, max_presses)
    finally:
        pyboy.hook_deregister(0, ram.JOYPAD_OVERWORLD)
    pyboy.tick(1, True, False)
    return game.save_emulator_state()


def _fail(memory: Memory, max_presses: int) -> NoReturn:
    shown = screen_text(screen_tiles(memory), POKEMON_GEN1).replace("\n", " / ")[:120]
    raise GameError(f"the scripted intro did not reach the bedroom in {max_presses} presses (map id "
                    f"{memory[ram.W_CUR_MAP]}, screen {shown!r}); pass start_state=PATH to start from a "
                    "state of your own")


def cache_path(game: GameBoyGame) -> Path:
    """Where the start state of ``game``'s ROM is cached: beside the ROM when its folder is writable."""
    rom = game.rom
    if rom.path is not None and os.access(rom.path.parent, os.W_OK):
        return rom.path.with_name(rom.path.name + CACHE_SUFFIX)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "longplay"
    return base / f"{rom.sha1}{CACHE_SUFFIX}"


def _cache_key(game: GameBoyGame) -> bytes:
    from longplay.envs.gameboy.core import _pyboy_version

    return hashlib.sha1(f"{game.rom.sha1}|intro {INTRO_VERSION}|pyboy {_pyboy_version()}".encode()).digest()


def read_cache(game: GameBoyGame, path: Path) -> bytes | None:
    """The cached PyBoy state at ``path`` if it was made for this ROM, script and PyBoy; else ``None``."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = len(CACHE_MAGIC) + 20 + 16
    key = data[len(CACHE_MAGIC):len(CACHE_MAGIC) + 20]
    if len(data) < header or not data.startswith(CACHE_MAGIC) or key != _cache_key(game):
        return None
    payload = data[header:]
    if hashlib.blake2b(payload, digest_size=16).digest() != data[len(CACHE_MAGIC) + 20:header]:
        return None
    return payload


def write_cache(game: GameBoyGame, path: Path, state: bytes) -> None:
    """Writes the cache atomically; an unwritable folder is skipped (the intro reruns next time)."""
    data = CACHE_MAGIC + _cache_key(game) + hashlib.blake2b(state, digest_size=16).digest() + state
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + f".tmp{os.getpid()}")
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError:
        pass


def start_state(game: GameBoyGame) -> bytes:
    """The bedroom start state of ``game``'s ROM: from the cache, or played now and cached."""
    path = cache_path(game)
    cached = read_cache(game, path)
    if cached is not None:
        return cached
    state = play_intro(game)
    write_cache(game, path, state)
    return state
