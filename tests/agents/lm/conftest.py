"""Fixtures of the LM-agent tests: a tiny deterministic game, dummy API keys, stub servers."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from longplay.envs.env import LongplayEnv
from longplay.envs.game import Button, GameError, GameState, Milestone, Mode

DUMMY_KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test-SECRET-0000", "OPENAI_API_KEY": "sk-test-SECRET-1111"}


class TinyGame:
    """A 6x6 room: walking, a text box opened by A, milestones for moving, reading and reaching (5, 5)."""

    backend = "tiny"

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, seed: int | None = None) -> None:
        self.seed = seed or 0
        self.x = self.y = 0
        self.dialog = 0
        self.reads = 0
        self.presses = 0

    def press(self, button: Button | None) -> int:
        self.presses += 1
        if button is None:
            return 1
        if self.dialog:
            self.dialog = 0 if button == Button.A else 1
            return 1
        moves = {Button.UP: (0, -1), Button.DOWN: (0, 1), Button.LEFT: (-1, 0), Button.RIGHT: (1, 0)}
        if button in moves:
            dx, dy = moves[button]
            self.x, self.y = min(5, max(0, self.x + dx)), min(5, max(0, self.y + dy))
        elif button == Button.A:
            self.dialog, self.reads = 1, self.reads + 1
        return 1

    def state(self) -> GameState:
        return GameState(0, "Room", self.x, self.y, "down", Mode.DIALOG if self.dialog else Mode.OVERWORLD)

    def frame(self) -> np.ndarray:
        frame = np.full((144, 160, 3), 224, np.uint8)
        frame[self.y * 20 : self.y * 20 + 16, self.x * 20 : self.x * 20 + 16] = 8
        return frame

    def text(self) -> str:
        rows = ["".join("@" if (x, y) == (self.x, self.y) else "." for x in range(6)) for y in range(6)]
        return "\n".join(rows) + ("\nA sign: HELLO" if self.dialog else "")

    def symbolic(self) -> dict[str, np.ndarray]:
        return {"pos": np.array([self.x, self.y, self.dialog], np.int16)}

    def symbolic_space(self) -> Any:
        return spaces.Dict({"pos": spaces.Box(0, 6, (3,), np.int16)})

    def save_state(self) -> bytes:
        return struct.pack(
            "<4sqiiiii", b"TINY", self.seed, self.x, self.y, self.dialog, self.reads, self.presses
        )

    def load_state(self, data: bytes) -> None:
        if len(data) != 28 or data[:4] != b"TINY":
            raise GameError("not a tiny-game state")
        _, self.seed, self.x, self.y, self.dialog, self.reads, self.presses = struct.unpack("<4sqiiiii", data)

    def milestones(self) -> tuple[Milestone, ...]:
        return (
            Milestone("moved", "Moved"),
            Milestone("read", "Read the sign"),
            Milestone("corner", "Reached the corner"),
        )

    def milestone_mask(self) -> int:
        return (
            (1 if (self.x, self.y) != (0, 0) else 0)
            | (2 if self.reads else 0)
            | (4 if (self.x, self.y) == (5, 5) else 0)
        )

    def finished(self) -> bool:
        return (self.x, self.y) == (5, 5) and self.reads > 0

    def state_hash(self) -> bytes:
        return hashlib.blake2b(self.save_state(), digest_size=16).digest()

    def identity(self) -> dict[str, Any]:
        return {"backend": self.backend}


TINY_ID = "LongplayTest/Tiny-v0"


def make_tiny_env(**kwargs: Any) -> LongplayEnv:
    """The tiny game as an env."""
    return LongplayEnv(TinyGame(), **kwargs)


def register_tiny() -> None:
    """Registers :data:`TINY_ID` (idempotent)."""
    from gymnasium.envs.registration import register, registry

    if TINY_ID not in registry:
        register(id=TINY_ID, entry_point=make_tiny_env, disable_env_checker=True)


@pytest.fixture
def dummy_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy API keys in the environment (nothing real is ever needed)."""
    for key, value in DUMMY_KEYS.items():
        monkeypatch.setenv(key, value)
    return DUMMY_KEYS


@pytest.fixture
def tiny_env() -> LongplayEnv:
    """A fresh tiny-game env (symbolic observations)."""
    register_tiny()
    import gymnasium as gym

    return gym.make(TINY_ID, obs_mode="symbolic")
