"""The pack of longplay's own test cartridge (:mod:`longplay.envs.gameboy.cartridge`).

Two milestones from the WRAM flag byte (the key, then the door), the text box read back from the background
tile map with the cartridge's font, and a text view with the room drawn as characters.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from gymnasium import spaces

from longplay.envs.game import GameError, GameState, Milestone, Mode
from longplay.envs.gameboy import cartridge as cart
from longplay.envs.gameboy.packs import Memory, Pack
from longplay.envs.gameboy.packs.charset import screen_text

if TYPE_CHECKING:
    from longplay.envs.gameboy.core import GameBoyGame
    from longplay.envs.gameboy.roms import RomImage

#: Tile id -> character of the cartridge's font.
CHARSET: dict[int, str] = {tile: ch for ch, tile in cart.CHARSET.items()}
MILESTONES = (
    Milestone("got_key", "Found the silver key", tier=0),
    Milestone("opened_door", "Opened the golden door", tier=1),
)
_MAP_GLYPHS = {cart.TILE_WALL: "#", cart.TILE_FLOOR: ".", cart.TILE_KEY: "K", cart.TILE_DOOR: "D"}


@functools.lru_cache(maxsize=1)
def _sha1() -> str:
    return cart.rom_sha1()


def read_screen_tiles(memory: Memory) -> list[list[int]]:
    """The 20x18 visible background tiles (the cartridge never scrolls), from the tile map at $9800."""
    return [list(memory[cart.BG_MAP + 32 * row: cart.BG_MAP + 32 * row + cart.MAP_WIDTH])
            for row in range(cart.MAP_HEIGHT)]


class TestCartPack(Pack):
    """Pack of the test cartridge: milestones ``got_key`` then ``opened_door``; finished when both."""

    __test__ = False  # not a pytest class, despite the name
    name = "testcart"
    game = "the longplay test cartridge"
    titles = (cart.TITLE,)
    version = 1

    @property
    def sha1s(self) -> dict[str, str]:  # type: ignore[override]
        """The SHA-1 of the ROM this longplay builds (computed on first use)."""
        return {_sha1(): "longplay test cartridge"}

    def default_rom(self) -> bytes:
        """The test cartridge needs no user ROM: it is assembled here."""
        return cart.build_rom()

    def start_state(self, game: GameBoyGame) -> bytes:
        """Boots until the program has initialised (``wReady``), then two more frames to draw the room."""
        pyboy = game.pyboy
        for _ in range(600):
            pyboy.tick(1, False)
            if pyboy.memory[cart.W_READY] == cart.READY_MAGIC:
                break
        else:
            raise GameError("the test cartridge did not start within 600 frames (is this the test ROM?)")
        pyboy.tick(2, True)
        return game.save_emulator_state()

    # ----------------------------------------------------------------------------------- RAM
    def milestones(self) -> tuple[Milestone, ...]:
        return MILESTONES

    def milestone_mask(self, memory: Memory) -> int:
        return memory[cart.W_FLAGS] & 0b11

    def finished(self, memory: Memory) -> bool:
        return memory[cart.W_FLAGS] & 0b11 == 0b11

    def dialog(self, memory: Memory) -> str:
        """The open text box's text ("" when none), read from the tile map."""
        if not memory[cart.W_DIALOG]:
            return ""
        rows = read_screen_tiles(memory)[cart.BOX_ROW:]
        return screen_text(rows, CHARSET)

    def state(self, memory: Memory) -> GameState:
        flags = memory[cart.W_FLAGS]
        reached = frozenset(m.id for i, m in enumerate(MILESTONES) if flags >> i & 1)
        facing = memory[cart.W_FACING]
        return GameState(
            map_id=0,
            map_name="Test Room",
            x=memory[cart.W_PLAYER_X],
            y=memory[cart.W_PLAYER_Y],
            facing=cart.FACINGS[facing] if facing < len(cart.FACINGS) else "",
            mode=Mode.DIALOG if memory[cart.W_DIALOG] else Mode.OVERWORLD,
            bag=(("SILVER KEY", 1),) if flags & 1 << cart.FLAG_KEY else (),
            flags=reached,
            dialog=self.dialog(memory),
            extra={"steps": memory[cart.W_STEPS] | memory[cart.W_STEPS + 1] << 8,
                   "frames": memory[cart.W_FRAMES]},
        )

    def room(self, memory: Memory) -> list[str]:
        """The room as text rows (from WRAM, so a taken key or an opened door shows), ``@`` the player."""
        cells = memory[cart.W_MAP: cart.W_MAP + cart.MAP_WIDTH * cart.MAP_HEIGHT]
        rows = [[_MAP_GLYPHS.get(t, "?") for t in cells[r * cart.MAP_WIDTH:(r + 1) * cart.MAP_WIDTH]]
                for r in range(cart.MAP_HEIGHT)]
        x, y = memory[cart.W_PLAYER_X], memory[cart.W_PLAYER_Y]
        if y < cart.MAP_HEIGHT and x < cart.MAP_WIDTH:
            rows[y][x] = "@"
        return ["".join(r) for r in rows]

    def text(self, memory: Memory, rom: RomImage) -> str:
        s = self.state(memory)
        lines = [
            "Game: longplay test cartridge. Find the silver key (K), then open the golden door (D).",
            f"Map: {s.map_name}; position x={s.x}, y={s.y}; facing {s.facing}; mode {s.mode.value}",
            f"Key found: {'yes' if 'got_key' in s.flags else 'no'}; "
            f"door opened: {'yes' if 'opened_door' in s.flags else 'no'}; steps walked: {s.extra['steps']}",
        ]
        if s.dialog:
            lines.append("Dialog (press A to close): " + s.dialog.replace("\n", " / "))
        lines.append("Room (# wall, . floor, K key, D door, @ you; x grows right, y grows down):")
        lines.extend(self.room(memory))
        return "\n".join(lines)

    def symbolic_spaces(self) -> dict[str, spaces.Space]:
        """``state``: x, y, facing (0 down 1 up 2 left 3 right), flag bits, open message id."""
        return {"state": spaces.Box(0, 255, (5,), np.uint8)}

    def symbolic(self, memory: Memory) -> dict[str, np.ndarray]:
        values = [memory[cart.W_PLAYER_X], memory[cart.W_PLAYER_Y], memory[cart.W_FACING],
                  memory[cart.W_FLAGS], memory[cart.W_DIALOG]]
        return {"state": np.array(values, dtype=np.uint8)}
