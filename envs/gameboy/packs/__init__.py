"""Game packs: what longplay knows about one Game Boy game on top of the generic emulator env.

A pack names the ROMs it runs on (by SHA-1, and by header title as a fallback), makes the start state, and
reads the game's RAM into a :class:`~longplay.envs.game.GameState`, a milestone catalog, a text view and a
small symbolic vector. Packs only read memory through ``memory[address]`` and ``memory[start:end]`` (PyBoy's
``pyboy.memory`` or any 64 KiB ``bytes``-like object), so their decoders are tested without the emulator.

The registry maps a pack name to a string entry point, imported on first use (nothing heavy at import).

>>> sorted(PACKS)
['generic', 'pokemon_blue', 'pokemon_red', 'testcart']
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from gymnasium import spaces

from longplay.envs.game import GameError, GameState, Milestone, Mode

if TYPE_CHECKING:
    from longplay.envs.gameboy.core import GameBoyGame
    from longplay.envs.gameboy.roms import RomImage


class Memory(Protocol):
    """Byte-addressed memory: PyBoy's ``pyboy.memory`` or a 64 KiB ``bytes``/``bytearray`` in tests."""

    def __getitem__(self, key: Any) -> Any: ...


class Pack:
    """A game pack. The base class is the generic pack: any ROM, no milestones, a minimal text view.

    Subclasses override the class attributes and the methods whose defaults do not fit.

    Attributes:
        name: Registry name, recorded in replays (``"pokemon_red"``).
        game: What a person calls the game (``"Pokemon Red (US)"``).
        sha1s: SHA-1 (lower-case hex) -> release name, of every ROM the pack is made for.
        titles: Header titles ($0134) that select the pack when the SHA-1 is unknown (a warning is shown).
        version: Bumped when the pack's start state or decoding changes (replays record it).
    """

    name = "generic"
    game = "a Game Boy game"
    sha1s: dict[str, str] = {}
    titles: tuple[str, ...] = ()
    version = 1

    # ----------------------------------------------------------------------------------- ROM and start
    def default_rom(self) -> bytes | None:
        """ROM bytes the pack can supply itself (only the test cartridge); ``None`` when the user must."""
        return None

    def start_state(self, game: GameBoyGame) -> bytes:
        """The state every episode starts from; the default boots until the cartridge's code runs.

        ``game`` has just been created and has run nothing; packs may tick it, press buttons and save.
        """
        pyboy = game.pyboy
        for _ in range(600):
            pyboy.tick(1, False)
            if pyboy.register_file.PC >= 0x100:
                break
        pyboy.tick(1, True)
        return game.save_emulator_state()

    # ----------------------------------------------------------------------------------- reading RAM
    def milestones(self) -> tuple[Milestone, ...]:
        """The ordered milestone catalog (empty for the generic pack)."""
        return ()

    def milestone_mask(self, memory: Memory) -> int:
        """Bit ``i`` set when milestone ``i`` holds in ``memory``."""
        return 0

    def finished(self, memory: Memory) -> bool:
        """True when the game is complete."""
        return False

    def state(self, memory: Memory) -> GameState:
        """The typed summary; the generic pack knows no map, position or party."""
        return GameState(map_id=0, map_name="", x=0, y=0, facing="", mode=Mode.OVERWORLD)

    def text(self, memory: Memory, rom: RomImage) -> str:
        """The text view for language models."""
        return f"Game Boy game {rom.title or '(untitled)'} (SHA-1 {rom.sha1}); no game pack reads its RAM."

    def symbolic_spaces(self) -> dict[str, spaces.Space]:
        """Pack-specific entries of the symbolic ``Dict`` (beside ``ram``)."""
        return {}

    def symbolic(self, memory: Memory) -> dict[str, np.ndarray]:
        """Values for :meth:`symbolic_spaces`."""
        return {}


#: Pack name -> ``module:Class`` entry point (and constructor kwargs).
PACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "generic": ("longplay.envs.gameboy.packs:Pack", {}),
    "testcart": ("longplay.envs.gameboy.packs.testcart:TestCartPack", {}),
    "pokemon_red": ("longplay.envs.gameboy.packs.pokemon_red:PokemonRedPack", {"version": "red"}),
    "pokemon_blue": ("longplay.envs.gameboy.packs.pokemon_red:PokemonRedPack", {"version": "blue"}),
}


def get_pack(name: str) -> Pack:
    """A new instance of the pack called ``name``; :class:`GameError` lists the valid names."""
    if not isinstance(name, str) or name not in PACKS:  # --set pack=[1] is no name (nor hashable)
        raise GameError(f"unknown game pack {name!r}; valid packs: {', '.join(sorted(PACKS))} (or 'auto')")
    entry_point, kwargs = PACKS[name]
    module_name, _, class_name = entry_point.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**kwargs)


def pack_for_rom(sha1: str, title: str) -> Pack:
    """The pack made for the ROM with this SHA-1; else one that claims its header title (with a warning that
    the revision is unknown and the RAM map may differ); else the generic pack."""
    packs = [get_pack(name) for name in PACKS if name != "generic"]
    for pack in packs:
        if sha1 in pack.sha1s:
            return pack
    for pack in packs:
        if title and title in pack.titles:
            known = ", ".join(f"{release} {digest}" for digest, release in pack.sha1s.items())
            warnings.warn(f"ROM titled {title!r} has SHA-1 {sha1}, not a known release of {pack.game} "
                          f"({known}); using the {pack.name} pack, whose RAM map may not fit", stacklevel=2)
            return pack
    return get_pack("generic")
