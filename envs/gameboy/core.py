"""The ``gameboy`` backend: any Game Boy ROM under PyBoy as a :class:`~longplay.envs.game.Game`, and its env.

## Description
One step holds one button for the first ``release_after`` frames of a ``frameskip``-frame window (8 and 24 by
default, as the Pokemon Red RL projects use), then releases it; the last frame of the window is rendered.
The emulator boots once per game object and saves a start state; ``reset`` loads it (it never replays the
boot). What a game means (RAM map, milestones, text view) comes from its game pack
(:mod:`longplay.envs.gameboy.packs`), picked by the ROM's SHA-1.

## Action Space
``Discrete(8)``: up, down, left, right, a, b, start, select; ``noop=True`` adds 8 = press nothing.

## Observation
* ``pixels``: the screen, (144, 160, 3) ``uint8``; ``grayscale`` / ``downsample`` as for every longplay env.
* ``symbolic``: a ``Dict`` with ``ram``, the 8 KiB of work RAM ($C000-$DFFF) as ``uint8`` (or the
  ``ram_slice=(start, end)`` address range), plus the pack's entries (test cartridge: ``state``; Pokemon:
  ``state``, ``party``, ``badges``...). This is the Game Boy env's RAM observation.
* ``text``: the pack's text view (Pokemon: map, position, dialog decoded from the tile map, party, bag...).

## Rewards
Sparse: the pack's milestone catalog, each paid once an episode (see :class:`LongplayEnv`).

## Termination
When the pack says the game is finished (test cartridge: both goals; Pokemon: the Hall of Fame).

## Registered Configurations
``longplay/TestCart-v0`` (ROM built in), ``longplay/PokemonRed-v0``, ``longplay/PokemonBlue-v0`` (your ROM:
``rom=PATH`` or a ``LONGPLAY_ROMS`` folder).

Determinism: PyBoy is deterministic, so the same start state and buttons give the same screen and RAM bytes.
``reset(seed)`` starts from the same state for every seed unless ``random_start_frames=k`` > 0, which runs a
seed-drawn 0..k-1 frames with no input first (it varies the game's RNG, which reads the frame timing;
``game.reset()`` with no seed idles seed 0's count).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec
from gymnasium.error import ClosedEnvironmentError

from longplay.envs.checks import is_int
from longplay.envs.env import LongplayEnv
from longplay.envs.game import (
    BUTTON_NAMES,
    Button,
    GameError,
    GameState,
    Milestone,
    button_index,
)
from longplay.envs.gameboy.packs import Pack, get_pack, pack_for_rom
from longplay.envs.gameboy.roms import RomImage, bank_telling_offsets, check_rom, resolve_rom, rom_in_folder
from longplay.envs.wrappers.start import state_from_base64, state_to_base64

#: Save states made by :meth:`GameBoyGame.save_state` start with this, then the ROM's SHA-1 (20 bytes) and a
#: BLAKE2b-128 digest of the PyBoy state that follows, so foreign or corrupt data is refused before loading.
STATE_MAGIC = b"LPGB\x01"
_HEADER_SIZE = len(STATE_MAGIC) + 20 + 16
WRAM = (0xC000, 0xE000)
#: The most frames a step or a reset's idling may run: an hour of game time (PyBoy counts frames in a C int, and
#: far fewer already take hours to emulate).
MAX_FRAMES = 60 * 60 * 60
#: Bumped when :meth:`GameBoyGame.state_hash` hashes other bytes: the newest version, which games hash by default.
#: :meth:`GameBoyGame.identity` records it (version 1 did not: a recording without it is version 1), and a game
#: rebuilt from a recording hashes as the recording did (:meth:`GameBoyEnv.options_from_identity`).
STATE_HASH_VERSION = 2
#: State hash version -> memory :meth:`GameBoyGame.state_hash` hashes (the echo RAM mirrors WRAM). Version 1:
#: VRAM, WRAM, OAM and I/O + HRAM. Version 2: VRAM, WRAM and $FE00-$FFFF (OAM, the unusable $FEA0-$FEFF, which PyBoy
#: keeps, I/O with the timers, HRAM and the interrupt enable register), and the cartridge RAM and mapper's banks.
_HASHED_REGIONS = {
    1: ((0x8000, 0xA000), (0xC000, 0xE000), (0xFE00, 0xFEA0), (0xFF00, 0x10000)),
    2: ((0x8000, 0xA000), (0xC000, 0xE000), (0xFE00, 0x10000)),
}


def _chosen_pack(rom: str | os.PathLike[str] | bytes | None, pack: str | Pack) -> tuple[Pack, RomImage | None]:
    """The pack ``pack=`` chooses: a :class:`Pack` as given, ``"auto"`` the pack of the ROM's hash and title,
    else the pack of that name. With it the ROM read to choose it (``"auto"``), else None: a named pack needs no
    ROM to be chosen, so the caller resolves one (checked against the pack) only where it needs it."""
    if isinstance(pack, Pack):
        return pack, None
    if pack == "auto":
        image = resolve_rom(rom, None)
        return pack_for_rom(image.sha1, image.title), image
    return get_pack(pack), None


def _pyboy_class() -> Any:
    try:
        with warnings.catch_warnings():  # PyBoy's SDL2 import announces its DLL; headless needs none
            warnings.filterwarnings("ignore", message="Using SDL2 binaries")
            from pyboy import PyBoy
    except ImportError:
        raise GameError("the gameboy backend needs PyBoy: pip install 'longplay[gameboy]'") from None
    return PyBoy


class GameBoyGame:
    """A Game Boy ROM under PyBoy, with a game pack, as a longplay :class:`~longplay.envs.game.Game`.

    Args:
        rom: A ROM path or the ROM bytes; ``None`` finds it (the pack's own ROM, or ``$LONGPLAY_ROMS``).
        pack: A pack name (``"testcart"``, ``"pokemon_red"``, ``"pokemon_blue"``, ``"generic"``), a
            :class:`Pack`, or ``"auto"`` to pick it from the ROM's SHA-1 (or title).
        frameskip: Frames a step advances, from 2 to :data:`MAX_FRAMES` (an hour of game time).
        release_after: Frames the button is held, ``1 <= release_after < frameskip``.
        ram_slice: ``(start, end)`` addresses of the ``ram`` observation; default all of WRAM.
        start_state: Bytes or a file of a state to start every episode from, instead of the pack's start
            (a longplay state, or a raw PyBoy state of the same ROM).
        random_start_frames: ``k > 0`` runs a seed-drawn 0..k-1 frames of no input at each reset (``k`` at most
            :data:`MAX_FRAMES`).
        state_hash_version: The bytes :meth:`state_hash` covers: 1 (before cartridge RAM) or 2, the default
            (:data:`STATE_HASH_VERSION`); a game rebuilt from an older recording hashes as that recording did.
    """

    backend = "gameboy"
    #: Replays keep a save state this often: a press costs milliseconds here, so frames re-render fast.
    replay_keyframe_every = 64

    def __init__(
        self,
        rom: str | os.PathLike[str] | bytes | None = None,
        pack: str | Pack = "auto",
        frameskip: int = 24,
        release_after: int = 8,
        ram_slice: tuple[int, int] | None = None,
        start_state: bytes | str | os.PathLike[str] | None = None,
        random_start_frames: int = 0,
        state_hash_version: int = STATE_HASH_VERSION,
    ) -> None:
        # The missing extra first: without it, PokemonRed-v0 asked for a ROM that could not have run.
        _pyboy_class()
        # A step releases its button at least a frame before its end: PyBoy applies a release at the next frame, so
        # one left pending at the end of a step would be missing from a save state made there.
        if not is_int(frameskip) or not 2 <= frameskip <= MAX_FRAMES:
            raise GameError(f"invalid frameskip {frameskip!r}: must be an integer from 2 to {MAX_FRAMES} (a step "
                            "holds its button for release_after frames, then releases it for at least one)")
        if not is_int(release_after) or not 1 <= release_after < frameskip:
            raise GameError(f"invalid release_after {release_after!r}: must be an integer in 1..frameskip-1 "
                            f"(frameskip is {frameskip})")
        if not is_int(random_start_frames) or not 0 <= random_start_frames <= MAX_FRAMES:
            raise GameError(f"invalid random_start_frames {random_start_frames!r}: must be an integer from 0 to "
                            f"{MAX_FRAMES}")
        if not is_int(state_hash_version) or state_hash_version not in _HASHED_REGIONS:
            raise GameError(f"invalid state_hash_version {state_hash_version!r}: this longplay hashes Game Boy states "
                            f"as version {' or '.join(map(str, _HASHED_REGIONS))}")
        frameskip, release_after, random_start_frames = int(frameskip), int(release_after), int(random_start_frames)
        try:
            start, end = ram_slice if ram_slice is not None else WRAM
        except (TypeError, ValueError):  # not a pair: the message below says what is
            start = end = None
        if not (is_int(start) and is_int(end) and 0 <= start < end <= 0x10000):
            raise GameError(f"invalid ram_slice {ram_slice!r}: expected (start, end) addresses with "
                            "0 <= start < end <= 0x10000, e.g. (0xC000, 0xE000)")
        self.frameskip = frameskip
        self.release_after = release_after
        self.ram_slice = (int(start), int(end))
        self.random_start_frames = random_start_frames
        self.state_hash_version = int(state_hash_version)
        self._init_args = {"rom": rom, "pack": pack, "frameskip": frameskip, "release_after": release_after,
                           "ram_slice": ram_slice, "start_state": start_state,
                           "random_start_frames": random_start_frames, "state_hash_version": state_hash_version}

        self.pack, image = _chosen_pack(rom, pack)
        self.rom = image if image is not None else resolve_rom(rom, self.pack)
        self._pyboy = self._new_emulator()
        self.memory = self._pyboy.memory
        try:
            self._start = self._initial_state(start_state)
            self._load_raw(self._start)
            # The size of the states this emulator saves (a start of this PyBoy's is one): see load_state.
            own = self._start if self._start[0] == _pyboy_state_version() else self.save_emulator_state()
            self._state_size = len(own)
        except BaseException:
            self.close()
            raise
        self._start_sha1 = hashlib.sha1(self._start).hexdigest()
        self._catalog = self.pack.milestones()
        self._bank_offsets = bank_telling_offsets(self.rom.data)

    def _initial_state(self, start_state: bytes | str | os.PathLike[str] | None) -> bytes:
        """The PyBoy state episodes start from: the one given, else the pack's (boot, intro...)."""
        if start_state is None:
            return self.pack.start_state(self)
        if not isinstance(start_state, (str, os.PathLike, bytes, bytearray, memoryview)):  # bytes(5): 5 zeros
            raise GameError(f"invalid start_state {start_state!r}: expected a path to a state file or the state "
                            f"bytes, not {type(start_state).__name__}")
        if isinstance(start_state, (str, os.PathLike)):
            if not os.fspath(start_state):  # Path("") is the current folder
                raise GameError("invalid start_state '': an empty path")
            path = Path(start_state).expanduser()
            if path.is_dir():
                raise GameError(f"invalid start_state {path}: it is a folder, not a state file")
            if not path.is_file():
                raise GameError(f"start state file not found: {path}")
            try:
                start_state = path.read_bytes()
            except OSError as exc:
                raise GameError(f"cannot read the start state file {path}: {exc.strerror or exc}") from None
        return self._unwrap(bytes(start_state))

    # ------------------------------------------------------------------------------------ emulator
    def _new_emulator(self) -> Any:
        pyboy = _pyboy_class()(io.BytesIO(self.rom.data), window="null", sound_emulated=False,
                               log_level="ERROR")
        pyboy.set_emulation_speed(0)
        return pyboy

    @property
    def pyboy(self) -> Any:
        """The PyBoy instance (for packs, tests and tools; stepping it directly bypasses the env)."""
        return self._pyboy

    def save_emulator_state(self) -> bytes:
        """PyBoy's own state bytes, without longplay's header."""
        buffer = io.BytesIO()
        self._pyboy.save_state(buffer)
        return buffer.getvalue()

    def _load_raw(self, data: bytes) -> None:
        """Loads PyBoy's own state bytes; a one-line :class:`GameError` for bytes PyBoy refuses, which it may have
        loaded in part: the caller puts back what it wants there."""
        older = _older_pyboy(data)
        buffer = io.BytesIO(data)
        try:
            self._pyboy.load_state(buffer)
        except Exception as exc:  # PyBoy raises assorted errors on bad data
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            # PyBoy reads what this cartridge's state holds and ignores the rest: another cartridge's state (its
            # cartridge RAM) loads silently unless the bytes left unread refuse it.
            left = len(data) - buffer.tell()
            if not left:
                if older:  # PyBoy's own warning is below the log level the emulator runs at (its lines are noise)
                    warnings.warn(f"the state loaded is {older}: it may not play as it did there", stacklevel=3)
                return
            reason = f"{left} bytes past the end of its state: another cartridge's state, or not one state"
        if older:
            reason += f"; it is {older}"
        raise GameError(f"PyBoy could not load the state ({reason})") from None

    def _saved_here(self, payload: bytes) -> bool:
        """Whether the PyBoy state in a longplay state of this ROM (its header checked) is one this PyBoy saved: of its
        state version and size, which PyBoy reads through without refusing."""
        return len(payload) == self._state_size and payload[0] == _pyboy_state_version()

    def _unwrap(self, data: bytes) -> bytes:
        """The PyBoy state inside ``data`` (a longplay state is checked; raw PyBoy bytes pass through)."""
        if not data.startswith(STATE_MAGIC[:4]):
            return data
        if not data.startswith(STATE_MAGIC) or len(data) < _HEADER_SIZE:
            raise GameError(f"not a longplay Game Boy state of a version this longplay reads "
                            f"(header {data[:5]!r}, expected {STATE_MAGIC!r})")
        sha1 = data[len(STATE_MAGIC):len(STATE_MAGIC) + 20].hex()
        digest = data[len(STATE_MAGIC) + 20:_HEADER_SIZE]
        payload = data[_HEADER_SIZE:]
        if sha1 != self.rom.sha1:
            raise GameError(f"the state was saved on the ROM with SHA-1 {sha1}, but this game runs "
                            f"{self.rom.sha1} ({self.rom.title or 'untitled'})")
        if hashlib.blake2b(payload, digest_size=16).digest() != digest:
            raise GameError(f"the state is corrupt: its checksum does not match its {len(payload)} bytes")
        return payload

    # ------------------------------------------------------------------------------------ Game protocol
    def reset(self, seed: int | None = None) -> None:
        """Loads the start state; with ``random_start_frames`` > 0, idles a ``seed``-drawn frame count (no seed is
        seed 0, as in every game: the same reset, the same state)."""
        self._pyboy.load_state(io.BytesIO(self._start))
        if self.random_start_frames:
            idle = int(np.random.default_rng(0 if seed is None else seed).integers(0, self.random_start_frames))
            if idle:
                self._pyboy.tick(idle, True, False)

    def press(self, button: Button | None) -> int:
        """Holds ``button`` for ``release_after`` frames, releases it, and runs to the end of the window."""
        pyboy = self._pyboy
        if button is None:
            pyboy.tick(self.frameskip, True, False)
        else:
            name = BUTTON_NAMES[button_index(button)]  # -1 indexed from the end: SELECT, pressed without a word
            pyboy.button_press(name)
            pyboy.tick(self.release_after, False, False)
            pyboy.button_release(name)
            pyboy.tick(self.frameskip - self.release_after, True, False)
        return self.frameskip

    def state(self) -> GameState:
        return self.pack.state(self.memory)

    def frame(self) -> np.ndarray:
        """The last rendered screen as (144, 160, 3) ``uint8``: the RGB channels of a private copy of PyBoy's
        RGBA buffer. Copying all four channels and viewing three is ~10x faster than packing RGB, so the
        array is not C-contiguous; ``np.ascontiguousarray`` packs it where a library needs that."""
        return self._pyboy.screen.ndarray.copy()[:, :, :3]

    def text(self) -> str:
        return self.pack.text(self.memory, self.rom)

    def ram(self) -> np.ndarray:
        """The ``ram_slice`` bytes (default all 8 KiB of WRAM) as ``uint8``."""
        start, end = self.ram_slice
        return np.frombuffer(bytes(self.memory[start:end]), dtype=np.uint8).copy()

    def symbolic(self) -> dict[str, np.ndarray]:
        return {"ram": self.ram(), **self.pack.symbolic(self.memory)}

    def symbolic_space(self) -> spaces.Dict:
        start, end = self.ram_slice
        ram = spaces.Box(0, 255, (end - start,), np.uint8)
        return spaces.Dict({"ram": ram, **self.pack.symbolic_spaces()})

    def save_state(self) -> bytes:
        """The emulator state with longplay's header (ROM SHA-1 and a checksum); see :meth:`load_state`."""
        payload = self.save_emulator_state()
        return (STATE_MAGIC + bytes.fromhex(self.rom.sha1)
                + hashlib.blake2b(payload, digest_size=16).digest() + payload)

    def load_state(self, data: bytes) -> None:
        """Restores a :meth:`save_state` (or a raw PyBoy state of this ROM).

        Raises :class:`GameError` for another ROM's state, a corrupt one, a truncated one or one PyBoy refuses,
        and the game is then as it was. A longplay state is checked before anything changes (its header: format
        version, ROM SHA-1, checksum; then PyBoy's state version and size): one this PyBoy saved of this ROM loads
        straight away. PyBoy can judge other bytes (a raw PyBoy state, a longplay state an older PyBoy saved) only
        by loading them, so for those the game saves its emulator first (~10 ms) and puts it back on a refusal.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise GameError(f"a state is bytes, not {type(data).__name__}")
        data = bytes(data)
        payload = self._unwrap(data)
        checked = payload is not data and self._saved_here(payload)
        put_back = self._start if checked else self.save_emulator_state()
        try:
            self._load_raw(payload)
        except GameError as exc:
            self._pyboy.load_state(io.BytesIO(put_back))
            if checked:  # bytes made to pass the checksum: what was there is not kept for them
                raise GameError(f"{exc}; the game was put back at its start state") from None
            if payload is not data:  # a longplay state of this ROM that PyBoy refuses: its reason says it all
                raise
            # Bytes without longplay's header went to PyBoy as its own state format, and PyBoy's reason for
            # another game's state ("a newer version of PyBoy") misleads: say what the bytes are not.
            raise GameError(f"{exc}: the bytes lack longplay's Game Boy header {STATE_MAGIC[:4]!r} and PyBoy does "
                            "not read them as its own (another game's state, another PyBoy version's, or no state)"
                            ) from None

    def milestones(self) -> tuple[Milestone, ...]:
        return self._catalog

    def milestone_mask(self) -> int:
        return self.pack.milestone_mask(self.memory)

    def finished(self) -> bool:
        return self.pack.finished(self.memory)

    def state_hash(self) -> bytes:
        """BLAKE2b-128 of the machine state PyBoy's public API reads, much cheaper than a save state: VRAM, WRAM,
        $FE00-$FFFF (OAM, I/O with the timers, HRAM, IE), the CPU registers, every bank of cartridge RAM (a game's
        save file), and the mapper's choices as the CPU sees them: the ROM banks at $0000 and $4000 (from the few
        bytes that tell this ROM's banks apart) and the RAM window $A000-$BFFF (its bank, or $FF while disabled).

        PyBoy has no public read of the interrupt master enable, HALT, the timer's count below DIV or a RAM bank
        chosen while RAM is disabled: a difference there reaches the hash once it changes what the CPU does.

        That is version 2; a game made with ``state_hash_version=1`` hashes as longplay did before (no cartridge RAM,
        mapper or $FEA0-$FEFF), so that recordings of then verify and resume.
        """
        digest = hashlib.blake2b(digest_size=16)
        memory = self.memory
        for start, end in _HASHED_REGIONS[self.state_hash_version]:
            digest.update(bytes(memory[start:end]))
        r = self._pyboy.register_file
        digest.update(bytes([r.A, r.F, r.B, r.C, r.D, r.E]) + r.HL.to_bytes(2, "little")
                      + r.SP.to_bytes(2, "little") + r.PC.to_bytes(2, "little"))
        if self.state_hash_version == 1:
            return digest.digest()
        digest.update(bytes(memory[window + offset] for window in (0x0000, 0x4000) for offset in self._bank_offsets))
        if self.rom.ram_banks:
            # PyBoy refuses a banked slice that ends at $C000: each bank's last byte is read alone.
            for bank in range(self.rom.ram_banks):
                digest.update(bytes(memory[bank, 0xA000:0xBFFF]) + bytes([memory[bank, 0xBFFF]]))
            digest.update(bytes(memory[0xA000:0xC000]))
        return digest.digest()

    def identity(self) -> dict[str, Any]:
        """Backend, ROM (SHA-1, title), pack (name, version), step timing, RAM slice, start state and the version of
        :meth:`state_hash` from 2 on (replays compare it before the hashes)."""
        identity = {
            "backend": self.backend,
            "rom_sha1": self.rom.sha1,
            "rom_title": self.rom.title,
            "pack": self.pack.name,
            "pack_version": self.pack.version,
            "frameskip": self.frameskip,
            "release_after": self.release_after,
            "ram_slice": list(self.ram_slice),
            "random_start_frames": self.random_start_frames,
            "start_state_sha1": self._start_sha1,
            "pyboy_version": _pyboy_version(),
        }
        if self.state_hash_version > 1:  # version 1 recorded none: a game hashing as it did has its very identity
            identity["state_hash_version"] = self.state_hash_version
        return identity

    def close(self) -> None:
        """Stops the emulator (idempotent)."""
        if getattr(self, "_pyboy", None) is not None:
            self._pyboy.stop(save=False)
            self._pyboy = None

    # ------------------------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """Pickles as the constructor arguments, the ROM bytes, the pack, the start state and the current state.

        A closed game refuses, as a closed env refuses to play: its emulator is stopped, so there is no current state
        to save, and a copy would be a closed env that only raises.
        """
        if getattr(self, "_pyboy", None) is None:  # save_state on the stopped emulator raised AttributeError on None
            raise ClosedEnvironmentError("cannot pickle a closed Game Boy game: close() stopped its emulator, so it "
                                         "has no state to save (pickle or copy the env before closing it)")
        args = dict(self._init_args)
        args["rom"] = self.rom.data
        # The pack itself, not its name: a pack of one's own is in no registry (or bears its base's name).
        args["pack"] = self.pack
        args["start_state"] = self._start
        return {"args": args, "current": self.save_state()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state["args"])  # type: ignore[misc]
        self.load_state(state["current"])


def _rom_with_sha1(sha1: str, rom: str | os.PathLike[str] | bytes | None) -> str | os.PathLike[str] | bytes:
    """The ROM ``rom_sha1=sha1`` names: ``rom`` when it is that one, else a pack's own ROM with that SHA-1 (the test
    cartridge, built here) or the file in ``$LONGPLAY_ROMS``; a one-line :class:`GameError` says which SHA-1 is
    wanted and how to provide it."""
    if not isinstance(sha1, str) or len(sha1) != 40 or any(c not in "0123456789abcdef" for c in sha1.lower()):
        raise GameError(f"invalid rom_sha1 {sha1!r}: expected the ROM's SHA-1 as 40 hex digits")
    sha1 = sha1.lower()
    if rom is not None:
        given = resolve_rom(rom, None)
        if given.sha1 != sha1:
            raise GameError(f"{given.source} has SHA-1 {given.sha1}, but rom_sha1 expected the ROM with SHA-1 {sha1}")
        return given.data
    own = pack_for_rom(sha1, "").default_rom()
    if own is not None and check_rom(own).sha1 == sha1:
        return own
    return rom_in_folder({sha1: "the ROM"}, f"with SHA-1 {sha1}", f"SHA-1 {sha1}, the ROM this env was made with (its "
                         "spec and replays name a ROM given as bytes by SHA-1 only)").data


def _pyboy_state_version() -> int | None:
    """The version of the states this PyBoy saves (their first byte), or None for a PyBoy that does not say."""
    try:
        from pyboy.utils import STATE_VERSION
    except ImportError:
        return None
    return int(STATE_VERSION)


def _bytes_from_hex(option: object) -> bytes | None:
    """The bytes a ``rom`` or ``start_state`` option holds as hex text (as recordings of before ``rom_sha1`` and
    ``start_state_base64`` did: longer than any file name, hex digits only), or None for any other value (a path,
    bytes, None)."""
    if not isinstance(option, str) or len(option) <= 255 or len(option) % 2:
        return None
    try:
        return bytes.fromhex(option) if option.isalnum() else None  # fromhex skips whitespace, which hex text lacks
    except ValueError:
        return None


def _older_pyboy(data: bytes) -> str | None:
    """What a PyBoy state an older PyBoy saved is (its first byte is the state version; states of versions 0-1
    begin with 0 or 1, another field), or None for one of this PyBoy's version, a newer one, or no PyBoy state."""
    current = _pyboy_state_version()
    if current is None or not data or data[0] >= current:
        return None
    version = "0-1" if data[0] < 2 else str(data[0])
    return (f"PyBoy state version {version}, from a PyBoy older than this one (state version {current}, "
            f"PyBoy {_pyboy_version()})")


def _pyboy_version() -> str:
    try:
        from importlib.metadata import version

        return version("pyboy")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "unknown"


class GameBoyEnv(LongplayEnv):
    """:class:`LongplayEnv` over a :class:`GameBoyGame`; see the module docstring for spaces and episodes.

    Every keyword of :class:`GameBoyGame` (``rom``, ``pack``, ``frameskip``, ``release_after``, ``ram_slice``,
    ``start_state``, ``random_start_frames``, ``state_hash_version``) and of :class:`LongplayEnv` (``obs_mode``,
    ``render_mode``, ``max_episode_steps``, ``noop``, ``grayscale``, ``downsample``) is accepted, and
    ``start_state_base64``: the start state's bytes as base64 text, instead of ``start_state``; and ``rom_sha1``:
    the SHA-1 of the ROM to run, found as the test cartridge or in ``$LONGPLAY_ROMS`` (with ``rom``, the ROM given
    must be that one). ``env.spec`` records a ``start_state`` given as bytes as base64 text and a ``rom`` given as
    bytes by its SHA-1, so the spec stays JSON (``env.spec.to_json()``), ``gym.make(env.spec)`` makes the same env
    and a replay's header holds no ROM (a commercial game's, in a file one may share).

    >>> import gymnasium as gym
    >>> import longplay.envs
    >>> env = gym.make("longplay/TestCart-v0", obs_mode="text")
    >>> obs, info = env.reset(seed=0)
    >>> obs.splitlines()[1]
    'Map: Test Room; position x=2, y=2; facing down; mode overworld'
    >>> env.close()
    """

    _spec: EnvSpec | None = None  # behind the spec property, which records a bytes start_state and rom as text

    def __init__(
        self,
        rom: str | os.PathLike[str] | bytes | None = None,
        pack: str | Pack = "auto",
        frameskip: int = 24,
        release_after: int = 8,
        ram_slice: tuple[int, int] | None = None,
        start_state: bytes | str | os.PathLike[str] | None = None,
        random_start_frames: int = 0,
        state_hash_version: int = STATE_HASH_VERSION,
        start_state_base64: str | None = None,
        rom_sha1: str | None = None,
        obs_mode: str | tuple[str, ...] = "symbolic",
        render_mode: str | None = None,
        max_steps: int | None = None,
        noop: bool = False,
        grayscale: bool = False,
        downsample: int = 1,
        max_episode_steps: int | None = None,
    ) -> None:
        # ``gymnasium.make`` keeps ``max_episode_steps`` for its TimeLimit: ``max_steps`` reaches the env.
        max_steps = max_steps if max_episode_steps is None else max_episode_steps
        if start_state_base64 is not None:
            if start_state is not None:
                raise ValueError("give start_state or start_state_base64 (its bytes as base64 text), not both")
            start_state = state_from_base64(start_state_base64, "start_state_base64")
        if rom_sha1 is not None:
            rom = _rom_with_sha1(rom_sha1, rom)
        game = GameBoyGame(rom=rom, pack=pack, frameskip=frameskip, release_after=release_after,
                           ram_slice=ram_slice, start_state=start_state,
                           random_start_frames=random_start_frames, state_hash_version=state_hash_version)
        try:
            super().__init__(game, obs_mode=obs_mode, render_mode=render_mode,
                             max_episode_steps=max_steps, noop=noop, grayscale=grayscale,
                             downsample=downsample)
        except Exception:
            game.close()
            raise
        # A step is frameskip frames of a 60 Hz screen: videos of the steps play at the game's own speed.
        self.metadata = {**LongplayEnv.metadata, "render_fps": 60 / frameskip}

    @property
    def spec(self) -> EnvSpec | None:
        """How ``gymnasium.make`` made this env, with a bytes ``start_state`` recorded as ``start_state_base64`` and
        a bytes ``rom`` as ``rom_sha1``."""
        return self._spec

    @spec.setter
    def spec(self, spec: EnvSpec | None) -> None:
        # gymnasium.make records the kwargs as given, and a spec holding bytes made env.spec.to_json() raise TypeError
        # (and a replay header hold the whole ROM as hex, which its rebuild read as a path)
        if spec is None:
            self._spec = spec
            return
        kwargs = dict(spec.kwargs)
        if isinstance(kwargs.get("start_state"), (bytes, bytearray, memoryview)):
            kwargs["start_state_base64"] = state_to_base64(bytes(kwargs.pop("start_state")))
        if isinstance(kwargs.get("rom"), (bytes, bytearray, memoryview)):
            kwargs.pop("rom")
            kwargs["rom_sha1"] = self.game.rom.sha1
        self._spec = dataclasses.replace(spec, kwargs=kwargs)

    @staticmethod
    def catalog_from_options(rom: str | os.PathLike[str] | bytes | None = None, pack: str | Pack = "auto",
                             **options: Any) -> tuple[Milestone, ...]:
        """The milestone catalog of the env these options make, without making it: its pack's, so a named pack
        needs no ROM (``longplay milestones --env PokemonRed-v0`` prints Pokemon Red's with none). A ROM given is
        still checked (``pack="auto"`` reads it to pick the pack); the other options do not change the catalog
        and are not checked here."""
        chosen, image = _chosen_pack(rom, pack)
        if image is None and rom is not None:
            resolve_rom(rom, chosen)
        return chosen.milestones()

    @staticmethod
    def options_from_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
        """The options that rebuild the game a replay or checkpoint recorded with ``identity`` (its
        :meth:`GameBoyGame.identity`) so that it hashes its states as the recording did: the recorded
        ``state_hash_version``, 1 where none is recorded. A version this longplay does not compute (a newer
        longplay's) is left to the identity check, which names it."""
        version = identity.get("state_hash_version", 1)
        return {"state_hash_version": version} if is_int(version) and version in _HASHED_REGIONS else {}

    @staticmethod
    def recorded_options(env_kwargs: Mapping[str, Any], identity: Mapping[str, Any]) -> dict[str, Any]:
        """The options a replay or checkpoint recorded (``env_kwargs``, with ``identity``) as this env takes them. A
        header written before the spec named a ROM given as bytes by its SHA-1 holds the whole ROM as hex text in
        ``rom``, which the env would read as a path: it becomes the ROM's bytes, and where the identity names the
        ROM's SHA-1 (``rom_sha1``), a one-line :class:`GameError` names both SHA-1s when they differ. A
        ``start_state`` given as bytes before ``start_state_base64`` is hex text too, and becomes its bytes (the
        identity's ``start_state_sha1`` checks it when the game is compared with the recording)."""
        options = dict(env_kwargs)
        start_state = _bytes_from_hex(options.get("start_state"))
        if start_state is not None:
            options["start_state"] = start_state
        rom = _bytes_from_hex(options.get("rom"))
        if rom is not None:
            expected, found = identity.get("rom_sha1"), hashlib.sha1(rom).hexdigest()
            if isinstance(expected, str) and expected.lower() != found:
                raise GameError(f"the ROM the recording holds as hex text (its rom option) has SHA-1 {found}, but "
                                f"its identity names the ROM with SHA-1 {expected.lower()}")
            options["rom"] = rom
        return options


__all__ = ["MAX_FRAMES", "STATE_HASH_VERSION", "STATE_MAGIC", "GameBoyEnv", "GameBoyGame"]
