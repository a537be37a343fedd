"""ROM helpers: the offsets that tell a ROM's banks apart, the sizes a ROM may have."""

from __future__ import annotations

import time

import numpy as np
import pytest

from longplay.envs.game import GameError
from longplay.envs.gameboy import cartridge
from longplay.envs.gameboy.roms import BANK_SIZE, bank_telling_offsets, check_rom, header_checksum


def _offsets_by_rescanning(data: bytes) -> tuple[int, ...]:
    """The first version of :func:`bank_telling_offsets` (one group split per pass, every bank compared again), whose
    offsets recorded state hashes cover: the new one must choose the same."""
    banks = np.frombuffer(data, np.uint8).reshape(-1, BANK_SIZE)
    offsets: list[int] = []
    while True:
        _, group = np.unique(banks[:, offsets], axis=0, return_inverse=True)
        for members in (np.flatnonzero(group.ravel() == g) for g in range(group.max() + 1)):
            unlike = banks[members[1:]] != banks[members[0]]
            rows = np.flatnonzero(unlike.any(axis=1))
            if rows.size:
                offsets.append(int(np.argmax(unlike[rows[0]])))
                break
        else:
            return tuple(offsets)


@pytest.mark.parametrize("seed", range(40))
def test_the_offsets_are_the_first_versions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = int(rng.choice([2, 4, 8, 16, 64]))
    banks = rng.integers(0, int(rng.integers(1, 4)), (count, BANK_SIZE), dtype=np.uint8)  # few byte values
    if seed % 2:  # mostly copies of a few banks, with a few bytes changed
        banks = banks[rng.integers(0, max(1, count // 4), count)]
        for _ in range(int(rng.integers(0, 2 * count))):
            banks[rng.integers(0, count), rng.integers(0, BANK_SIZE)] = rng.integers(0, 256)
    data = banks.tobytes()
    assert bank_telling_offsets(data) == _offsets_by_rescanning(data)


def test_the_test_cartridge_offsets_are_the_first_versions() -> None:
    rom = cartridge.build_rom()
    assert bank_telling_offsets(rom) == _offsets_by_rescanning(rom)


def test_banks_that_differ_late_are_told_apart_fast() -> None:
    """An 8 MiB ROM whose 512 banks each differ at their own late offset took 7 s to split one group a pass, in every
    GameBoyGame constructor (each unpickle, each vector env worker)."""
    banks = np.zeros((512, BANK_SIZE), np.uint8)
    banks[np.arange(512), BANK_SIZE - 1 - np.arange(512)] = 1
    started = time.perf_counter()
    offsets = bank_telling_offsets(banks.tobytes())
    assert time.perf_counter() - started < 2
    assert len(offsets) == 511 and len({bytes(bank[list(offsets)]) for bank in banks}) == 512


@pytest.mark.parametrize(("banks", "ok"), [(2, True), (512, True), (1, False), (513, False)])
def test_rom_sizes_from_32_kib_to_8_mib_are_taken(banks: int, ok: bool) -> None:
    """docs/gameboy.md: a ROM is a multiple of 16 KiB from 32 KiB to 8 MiB (both ends included)."""
    data = bytearray(banks * BANK_SIZE)
    data[0x134:0x13C] = b"SIZETEST"
    data[0x147] = 0x19  # MBC5
    data[0x148] = max(banks.bit_length() - 2, 0)  # 32 KiB << n
    data[0x14D] = header_checksum(data)
    if ok:
        assert check_rom(bytes(data)).title == "SIZETEST"
    else:
        with pytest.raises(GameError, match=f"found {banks * BANK_SIZE} bytes, expected a multiple of 16 KiB "
                                            "from 32 KiB to 8 MiB"):
            check_rom(bytes(data))
