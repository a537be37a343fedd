"""Finding, checking and identifying Game Boy ROMs.

A ROM comes from, in order: ``rom=`` (a path, or the bytes themselves; the CLI's ``--rom PATH`` passes it
here), the pack's own ROM (the test cartridge), or a folder named by the ``LONGPLAY_ROMS`` environment
variable, searched for a file whose SHA-1 is one the pack expects. The checks are the ones PyBoy's loader
makes (size a multiple of 16 KiB, header checksum at $014D, a cartridge type it emulates), a file no shorter
than its header's ROM size ($0148; PyBoy runs a cut dump on mirrored banks) and the SHA-1 a pack expects,
each failing with a one-line :class:`~longplay.envs.game.GameError` that says what was found and what was
expected. The Nintendo logo is not checked: PyBoy's boot ROM does not check it either.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from longplay.envs.game import GameError

if TYPE_CHECKING:
    from longplay.envs.gameboy.packs import Pack

ROMS_ENV = "LONGPLAY_ROMS"
BANK_SIZE = 0x4000
MIN_SIZE = 2 * BANK_SIZE
MAX_SIZE = 8 * 1024 * 1024
ROM_SUFFIXES = (".gb", ".gbc", ".sgb", ".bin", ".rom")

#: Cartridge type byte ($0147) -> name, for the types PyBoy 2 emulates (``pyboy/core/cartridge``).
CARTRIDGE_TYPES = {
    0x00: "ROM", 0x01: "MBC1", 0x02: "MBC1+RAM", 0x03: "MBC1+RAM+BATTERY", 0x05: "MBC2",
    0x06: "MBC2+BATTERY", 0x08: "ROM+RAM", 0x09: "ROM+RAM+BATTERY", 0x0F: "MBC3+TIMER+BATTERY",
    0x10: "MBC3+TIMER+RAM+BATTERY", 0x11: "MBC3", 0x12: "MBC3+RAM", 0x13: "MBC3+RAM+BATTERY", 0x19: "MBC5",
    0x1A: "MBC5+RAM", 0x1B: "MBC5+RAM+BATTERY", 0x1C: "MBC5+RUMBLE", 0x1D: "MBC5+RUMBLE+RAM",
    0x1E: "MBC5+RUMBLE+RAM+BATTERY",
}
#: The largest ROM size byte ($0148): 32 KiB << 8 = 8 MiB (the rarer $52-$54 are not checked).
MAX_ROM_SIZE_CODE = 0x08
#: Cartridge RAM size byte ($0149) -> 8 KiB banks PyBoy keeps for a cartridge with RAM (a whole bank for 2 KiB or
#: none declared: ``pyboy/core/cartridge/cartridge.py``'s ``EXTERNAL_RAM_TABLE``); its keys are the values PyBoy
#: accepts.
RAM_BANKS = {0x00: 1, 0x01: 1, 0x02: 1, 0x03: 4, 0x04: 16, 0x05: 8}


@dataclass(frozen=True)
class RomImage:
    """A checked ROM: its bytes and what identifies it.

    Attributes:
        data: The ROM bytes.
        sha1: Lower-case hex SHA-1 of ``data``; what packs and replays identify the game by.
        title: Header title ($0134-$0143), ASCII, trailing NULs and spaces removed.
        cartridge_type: Name of the mapper, e.g. ``"MBC3+RAM+BATTERY"``.
        path: Where it was read from (``None`` for bytes or a built ROM).
    """

    data: bytes
    sha1: str
    title: str
    cartridge_type: str
    path: Path | None = None

    @property
    def source(self) -> str:
        """A short description for messages: the path, or ``"ROM bytes"``."""
        return str(self.path) if self.path is not None else "ROM bytes"

    @property
    def ram_banks(self) -> int:
        """8 KiB banks of cartridge RAM: none unless the mapper has RAM (MBC2's built-in 512 half-bytes are one)."""
        if "RAM" not in self.cartridge_type and not self.cartridge_type.startswith("MBC2"):
            return 0
        return RAM_BANKS[self.data[0x149]]


def header_title(data: bytes) -> str:
    """The header title, decoded leniently (bytes past the title may hold CGB flags)."""
    raw = data[0x134:0x144].split(b"\x00", 1)[0]
    return "".join(chr(b) if 0x20 <= b < 0x7F else "" for b in raw).strip()


def header_checksum(data: bytes) -> int:
    """The checksum the boot ROM computes over $0134-$014C and compares with the byte at $014D."""
    value = 0
    for byte in data[0x134:0x14D]:
        value = (value - byte - 1) & 0xFF
    return value


def bank_telling_offsets(data: bytes) -> tuple[int, ...]:
    """Offsets into a 16 KiB bank at which every two different banks of the ROM ``data`` differ in at least one
    byte, so those few bytes at $4000 tell which bank the mapper shows there (identical banks need no telling
    apart). Each offset added is where two banks still alike so far first differ, so there are at most as many
    as the ROM has banks, and usually a handful.

    The offsets are state hashes' bytes, so they are the ones the first version chose: banks grouped by their bytes
    at the offsets so far, groups in the order of those bytes, the next offset is where the first group holding
    unlike banks has its first such bank differ from its first bank. A pass costs a sort of the bank numbers, not
    a comparison of every bank (seconds on an 8 MiB ROM whose banks differ late, in every constructor).
    """
    banks = np.frombuffer(data, np.uint8).reshape(-1, BANK_SIZE)
    count = len(banks)
    kinds: dict[bytes, int] = {}
    kind = np.array([kinds.setdefault(bank.tobytes(), len(kinds)) for bank in banks])  # banks alike share a kind
    group = np.zeros(count, np.int64)  # each bank's group, numbered in the order of the groups' bytes
    offsets: list[int] = []
    while True:
        pairs = np.unique(group * count + kind) // count  # the group of each (group, kind) pair there is
        mixed = pairs[1:][pairs[1:] == pairs[:-1]]  # groups with a second kind
        if not mixed.size:
            return tuple(offsets)
        members = np.flatnonzero(group == mixed[0])
        first, unlike = members[0], members[kind[members] != kind[members[0]]][0]
        offsets.append(int(np.argmax(banks[first] != banks[unlike])))
        _, group = np.unique(group * 256 + banks[:, offsets[-1]], return_inverse=True)
        group = group.ravel()


def check_rom(data: bytes, path: Path | None = None) -> RomImage:
    """Checks that ``data`` is a ROM PyBoy can run and identifies it; raises a one-line :class:`GameError`."""
    where = str(path) if path is not None else "the ROM bytes"
    size = len(data)
    if size < MIN_SIZE or size % BANK_SIZE or size > MAX_SIZE:
        raise GameError(f"{where} is not a Game Boy ROM: found {size} bytes, expected a multiple of 16 KiB "
                        f"from 32 KiB to 8 MiB")
    stored, computed = data[0x14D], header_checksum(data)
    if stored != computed:
        raise GameError(f"{where} is not a valid Game Boy ROM: header checksum at $014D is ${stored:02X} but "
                        f"the header ($0134-$014C) sums to ${computed:02X} (corrupt, patched or not a ROM; "
                        f"SHA-1 {hashlib.sha1(data).hexdigest()})")
    cart_type = data[0x147]
    if cart_type not in CARTRIDGE_TYPES:
        raise GameError(f"{where}: cartridge type ${cart_type:02X} at $0147 is not one PyBoy emulates "
                        f"(supported: ROM, MBC1, MBC2, MBC3, MBC5)")
    if data[0x149] not in RAM_BANKS:
        raise GameError(f"{where}: cartridge RAM size ${data[0x149]:02X} at $0149 is invalid "
                        f"(expected $00-$05)")
    # PyBoy runs a file shorter than its header says, mirroring the banks it lacks: a cut dump ran on garbage.
    if data[0x148] <= MAX_ROM_SIZE_CODE and size < MIN_SIZE << data[0x148]:
        raise GameError(f"{where} is truncated: its header ($0148) gives a ROM of {MIN_SIZE << data[0x148]} bytes, "
                        f"the file holds {size} (a dump cut short?)")
    return RomImage(data=bytes(data), sha1=hashlib.sha1(data).hexdigest(), title=header_title(data),
                    cartridge_type=CARTRIDGE_TYPES[cart_type], path=path)


def read_rom(path: str | os.PathLike[str]) -> RomImage:
    """Reads and checks the ROM file at ``path``."""
    if not os.fspath(path):  # Path("") is the current folder (--set rom=$UNSET)
        raise GameError("invalid rom '': an empty path")
    file = Path(path).expanduser()
    try:
        found = file.exists()
    except OSError as exc:  # a name too long to be a path: the ROM's hex a spec once recorded, read back as a path
        shown = str(file) if len(str(file)) <= 100 else f"{str(file)[:60]}... ({len(str(file))} characters)"
        raise GameError(f"invalid rom path {shown}: {exc.strerror or exc}") from None
    if not found:
        raise GameError(f"ROM file not found: {file}")
    if not file.is_file():
        raise GameError(f"ROM path is not a file: {file}")
    if file.stat().st_size > MAX_SIZE:
        raise GameError(f"{file} is not a Game Boy ROM: found {file.stat().st_size} bytes, expected at most "
                        f"8 MiB")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise GameError(f"cannot read the ROM file {file}: {exc.strerror or exc}") from None
    return check_rom(data, file)


def _expected(pack: Pack) -> str:
    return ", ".join(f"{release} SHA-1 {digest}" for digest, release in pack.sha1s.items())


def check_pack(rom: RomImage, pack: Pack) -> None:
    """Raises a one-line :class:`GameError` unless ``rom`` is one of the releases ``pack`` is made for."""
    if pack.sha1s and rom.sha1 not in pack.sha1s:
        raise GameError(f"{rom.source} (title {rom.title!r}, SHA-1 {rom.sha1}) is not {pack.game}: expected "
                        f"{_expected(pack)}")


def find_in_folder(folder: str | os.PathLike[str], sha1s: dict[str, str]) -> Path | None:
    """The first file in ``folder`` (and its direct subfolders) whose SHA-1 is in ``sha1s``."""
    root = Path(folder).expanduser()
    candidates = sorted(p for p in [*root.glob("*"), *root.glob("*/*")]
                        if p.is_file() and p.suffix.lower() in ROM_SUFFIXES and p.stat().st_size <= MAX_SIZE)
    for candidate in candidates:
        try:
            data = candidate.read_bytes()
        except OSError:  # a file this user may not read is not the one wanted
            continue
        if hashlib.sha1(data).hexdigest() in sha1s:
            return candidate
    return None


def rom_in_folder(sha1s: dict[str, str], wanted: str, expected: str) -> RomImage:
    """The ROM in the ``$LONGPLAY_ROMS`` folder whose SHA-1 is one of ``sha1s``; a one-line :class:`GameError`
    naming it as ``"no ROM " + wanted`` and ``expected`` (the SHA-1s, for the user to look up) when there is none."""
    folder = os.environ.get(ROMS_ENV)
    if not folder:
        raise GameError(f"no ROM {wanted}: pass rom=PATH (--rom PATH) or set {ROMS_ENV} to a folder holding it "
                        f"({expected})")
    if not Path(folder).expanduser().is_dir():
        raise GameError(f"{ROMS_ENV}={folder} is not a folder; it should hold the ROM {wanted} ({expected})")
    found = find_in_folder(folder, sha1s)
    if found is None:
        raise GameError(f"no ROM {wanted} in {ROMS_ENV}={folder}: no file there has {expected}")
    return read_rom(found)


def resolve_rom(rom: str | os.PathLike[str] | bytes | bytearray | None, pack: Pack | None) -> RomImage:
    """The checked ROM to run, from ``rom=``, the pack's own ROM or ``$LONGPLAY_ROMS`` (see module docstring).

    ``pack=None`` means "pick the pack from the ROM afterwards", so a ROM must be given. When a pack is
    given, the ROM must be one it expects.
    """
    if rom is not None and not isinstance(rom, (str, os.PathLike, bytes, bytearray, memoryview)):
        raise GameError(f"invalid rom {rom!r}: expected a path to a ROM file or the ROM bytes, not "
                        f"{type(rom).__name__}")
    if rom is not None:
        try:
            image = check_rom(bytes(rom)) if isinstance(rom, (bytes, bytearray, memoryview)) else read_rom(rom)
        except GameError as exc:
            if pack is None or not pack.sha1s:
                raise
            # A missing file or one that is no ROM: say which ROM the game wants, as check_pack does.
            raise GameError(f"{exc}; the game needs {_expected(pack)}") from None
    elif pack is not None and pack.default_rom() is not None:
        image = check_rom(pack.default_rom() or b"")
    elif pack is not None and pack.sha1s:
        image = rom_in_folder(pack.sha1s, f"for {pack.game}", _expected(pack))
    else:
        raise GameError("no ROM given: pass rom=PATH (--rom PATH) or ROM bytes, or choose a game pack whose "
                        f"ROM can be found in {ROMS_ENV}")
    if pack is not None:
        check_pack(image, pack)
    return image
