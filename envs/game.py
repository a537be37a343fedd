"""The backend-agnostic game interface every longplay backend implements.

A backend (the built-in quest game, a Game Boy ROM under PyBoy) is a :class:`Game`: it is reset with a seed,
advanced one button press at a time, and described by a typed :class:`GameState` summary, a frame, a text
view for language models, a symbolic view for RL and a milestone catalog. The Gymnasium env
(:class:`longplay.envs.env.LongplayEnv`) is glue over this protocol and knows nothing about any one game.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from longplay.envs.checks import action_index

SCREEN_HEIGHT = 144
SCREEN_WIDTH = 160


class Button(enum.IntEnum):
    """The eight Game Boy buttons; the value is the Gymnasium action index."""

    UP = 0
    DOWN = 1
    LEFT = 2
    RIGHT = 3
    A = 4
    B = 5
    START = 6
    SELECT = 7


#: Action index of the optional no-op (only in envs made with ``noop=True``).
NOOP = 8

BUTTON_NAMES: tuple[str, ...] = tuple(b.name.lower() for b in Button)
_BUTTONS = len(Button)


def parse_button(name: str) -> Button:
    """Returns the button called ``name`` (case-insensitive), or raises ``ValueError`` listing the valid names.

    >>> parse_button("a"), parse_button("Up")
    (<Button.A: 4>, <Button.UP: 0>)
    """
    try:
        return Button[name.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown button {name!r}; valid buttons: {', '.join(BUTTON_NAMES)}") from None


def button_index(button: Button | int) -> int:
    """The action index of ``button`` (a :class:`Button`, or what names its action as the env takes it: see
    :func:`~longplay.envs.checks.action_index`), or a one-line ``ValueError`` for one that does not exist: a game
    pressing -1 would index its buttons from the end (the Game Boy pressed SELECT) and 2.5 or True would pass for
    another button. Games check before they change anything; ``None`` (no button) is theirs to take.

    >>> button_index(Button.A), button_index(7), button_index(3.0)
    (4, 7, 3)
    """
    # What agents and the env press (an int, a Button), first: a bare press costs ~0.6 us.
    if (type(button) is int or type(button) is Button) and 0 <= button < _BUTTONS:
        return int(button)
    index = action_index(button)
    if not 0 <= index < _BUTTONS:
        raise ValueError(f"invalid button {button!r}; valid: 0..{len(Button) - 1} (or None for no button)")
    return index


class Mode(enum.Enum):
    """What the game is showing: it decides what the buttons do."""

    OVERWORLD = "overworld"
    DIALOG = "dialog"
    MENU = "menu"
    BATTLE = "battle"


@dataclass(frozen=True)
class PartyMember:
    """One creature of the player's party, as any backend reports it."""

    species: str
    level: int
    hp: int
    max_hp: int
    moves: tuple[str, ...] = ()


@dataclass(frozen=True)
class GameState:
    """A typed, backend-agnostic summary of the game at one moment.

    It is what agents with privileged access, the text view, replays (compact per-step summary) and tests
    read; it is never used to step the game.
    """

    map_id: int
    map_name: str
    x: int
    y: int
    facing: str
    mode: Mode
    party: tuple[PartyMember, ...] = ()
    bag: tuple[tuple[str, int], ...] = ()
    money: int = 0
    badges: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()  # event flags set: story events, trainers beaten (Pokemon Red's wEventFlags)
    dialog: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Milestone:
    """One entry of a game's milestone catalog: ordered, tiered, computed from game state only.

    Attributes:
        id: Stable machine name, e.g. ``"badge_1"``; unique within the catalog.
        name: What a person reads, e.g. ``"Won the Cinder Badge"``.
        tier: Coarse stage of the game (0 = opening moves ... higher = later); used for charts.
        weight: Reward paid the first time the milestone is reached in an episode.
    """

    id: str
    name: str
    tier: int = 0
    weight: float = 1.0


class GameError(Exception):
    """Bad input to a game (corrupt or foreign save state, wrong ROM, bad config): the message is one line."""


@runtime_checkable
class Game(Protocol):
    """What every backend provides. The env calls only these members."""

    #: Short backend name recorded in replays, e.g. ``"quest"`` or ``"gameboy"``.
    backend: str

    def reset(self, seed: int | None = None) -> None:
        """Puts the game at its start state; ``seed`` drives all of the game's randomness.

        Backends without randomness of their own (emulators) may ignore ``seed`` but stay deterministic.
        """

    def press(self, button: Button | None) -> int:
        """Presses one button (``None`` = no input) and advances the game; returns frames advanced."""

    def state(self) -> GameState:
        """A typed summary of the current state."""

    def frame(self) -> np.ndarray:
        """The screen as ``uint8`` of shape (144, 160, 3); a fresh array the caller may keep (it need not be
        C-contiguous)."""

    def text(self) -> str:
        """The screen and state as text, for language models."""

    def symbolic(self) -> dict[str, np.ndarray]:
        """The symbolic observation, matching :meth:`symbolic_space`."""

    def symbolic_space(self) -> Any:
        """The ``gymnasium.spaces.Dict`` of :meth:`symbolic`."""

    def save_state(self) -> bytes:
        """The whole dynamic state as bytes; :meth:`load_state` restores it exactly."""

    def load_state(self, data: bytes) -> None:
        """Restores a state from :meth:`save_state`, whatever the game was doing (the env loads a start state in
        place of a reset). Raises :class:`GameError` on corrupt or foreign data and leaves the game as it was: the
        env saves nothing before it tries a state, so the episode under way goes on after a refusal."""

    def milestones(self) -> tuple[Milestone, ...]:
        """The ordered milestone catalog of this game (and world)."""

    def milestone_mask(self) -> int:
        """Bit ``i`` is set when ``milestones()[i]`` has been reached, computed from the game state."""

    def finished(self) -> bool:
        """True when the game is complete (the episode terminates)."""

    def state_hash(self) -> bytes:
        """A digest of the dynamic state: equal states give equal hashes, bit for bit."""

    def identity(self) -> dict[str, Any]:
        """What replays record to rebuild this game: backend, world seed or ROM SHA-1, config."""

    # Optional: ``close()`` releases what the game holds (an emulator); ``LongplayEnv.close`` calls it.
