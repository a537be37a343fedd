"""The scaffold interface: small components, composed into a :class:`Scaffold`, each declared in the replay.

A component has one job (keep a window of turns, keep notes, ...). It may add tools, add a section to
every prompt, act before or after each turn (a summary or critic model call), and trim the history. Its
parameters are dataclass fields: together with its name and version they make its entry of the
**scaffold card** that every replay header carries, so runs say exactly which memory the model had.
Its memory (not its parameters) is what :meth:`Component.state_dict` returns for checkpoints, and what
:meth:`Component.snapshot` returns for the replay's memory table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from longplay.agents.lm.driver import Driver
    from longplay.agents.lm.history import Exchange, History
    from longplay.agents.lm.tools import Tool


class ScaffoldContext(Protocol):
    """What the loop offers components."""

    turn: int
    """The turn about to run (1-based), or that just ran in ``after_turn``."""
    driver: Driver
    """The env driver: position, seen map, milestones, the game (``driver.game``)."""
    history: History
    """The conversation kept in context."""

    def call_model(self, purpose: str, system: str, prompt: str, max_output_tokens: int) -> str | None:
        """One text-only model call through the loop's retries and accounting; ``None`` if it failed."""

    def sections(self, exclude: str | None = None) -> list[tuple[str, str]]:
        """The prompt sections of the other components, as (title, text)."""

    def map_name(self, map_id: int) -> str:
        """The name of a map the agent has been on (or ``map <id>``)."""


@dataclass
class Component:
    """Base class of scaffold components (see the module docstring). Parameters are dataclass fields."""

    name: ClassVar[str] = ""
    #: Bumped whenever what the component shows, keeps or asks changes: with the parameters it is all the card says
    #: of what ran, so runs of the old and the new behaviour must not share a card.
    version: ClassVar[str] = "1"
    #: True for components that bound the history (window, summary): one is added if none is given.
    manages_history: ClassVar[bool] = False
    #: True for components that read the seen map, which only a game with a map adapter (quest) has.
    needs_map: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.ctx: ScaffoldContext | None = None
        self.revision = 0  # bumped whenever the memory changes; the loop logs a snapshot then

    # ------------------------------------------------------------------------------------------ declaration
    def params(self) -> dict[str, Any]:
        """The parameters, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def require_at_least(self, **minimums: int) -> None:
        """``ValueError`` (one line) naming the first parameter below its minimum: a size or limit that cannot
        work is refused when the scaffold is built, not found mid-run."""
        for key, minimum in minimums.items():
            value = getattr(self, key)
            if value < minimum:
                raise ValueError(f"invalid {self.name} {key}={value}; must be >= {minimum}")

    def require_at_most(self, **maximums: int) -> None:
        """``ValueError`` (one line) naming the first parameter above its maximum (a size that would swamp every
        prompt), when the scaffold is built."""
        for key, maximum in maximums.items():
            value = getattr(self, key)
            if value > maximum:
                raise ValueError(f"invalid {self.name} {key}={value}; must be <= {maximum}")

    def card(self) -> dict[str, Any]:
        """This component's entry of the scaffold card."""
        return {"name": self.name, "version": self.version, "params": self.params()}

    # ------------------------------------------------------------------------------------------ hooks
    def check_game(self, backend: str, has_map: bool) -> None:
        """``ValueError`` (one line) when the game lacks what this component needs (``has_map``: the backend has
        a map adapter). The LM loop checks it before the first turn, and a sweep for every cell before the
        first cell starts."""
        if self.needs_map and not has_map:
            raise ValueError(f"the {self.name} scaffold needs a game with a map adapter; {backend!r} has none")

    def bind(self, ctx: ScaffoldContext) -> None:
        """Called once, before the first turn."""
        self.ctx = ctx

    def tools(self) -> list[Tool]:
        """Tools this component adds."""
        return []

    def section(self) -> tuple[str, str] | None:
        """(title, text) shown in every prompt, or ``None``."""
        return None

    def before_turn(self) -> None:
        """Runs before the observation is taken."""

    def after_turn(self, exchange: Exchange) -> None:
        """Runs after the turn's tools ran."""

    def trim(self, history: History, estimate: Callable[[], int]) -> None:
        """Shortens ``history`` before a request; ``estimate()`` gives the request's size in tokens now."""

    # ------------------------------------------------------------------------------------------ memory
    def state_dict(self) -> dict[str, Any]:
        """The memory, JSON-able, for checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`."""

    def snapshot(self) -> str | dict[str, Any] | list[Any] | None:
        """The memory as the replay's memory table shows it (``None``: nothing to show)."""
        return None

    def changed(self) -> None:
        """Marks the memory as changed."""
        self.revision += 1


class Scaffold:
    """An ordered set of components acting as one (sections appear in this order)."""

    def __init__(self, components: list[Component]) -> None:
        names = [c.name for c in components]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"scaffold component {sorted(dup)[0]!r} given twice")
        self.components = components
        self._logged: dict[str, int] = {c.name: 0 for c in components}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.components)

    def get(self, name: str) -> Component | None:
        """The component called ``name``, if present."""
        return next((c for c in self.components if c.name == name), None)

    def card(self) -> list[dict[str, Any]]:
        """The scaffold card: name, version and parameters of each component, in order."""
        return [c.card() for c in self.components]

    def check_game(self, backend: str, has_map: bool) -> None:
        """Every component's :meth:`Component.check_game`: the first that needs what the game lacks raises."""
        for c in self.components:
            c.check_game(backend, has_map)

    def bind(self, ctx: ScaffoldContext) -> None:
        """Binds every component to the loop."""
        for c in self.components:
            c.bind(ctx)

    def tools(self) -> list[Tool]:
        """Every component's tools."""
        return [t for c in self.components for t in c.tools()]

    def sections(self, exclude: str | None = None) -> list[tuple[str, str]]:
        """Every component's prompt section."""
        out = []
        for c in self.components:
            if c.name != exclude:
                section = c.section()
                if section is not None:
                    out.append(section)
        return out

    def before_turn(self) -> None:
        """Runs every component's ``before_turn``."""
        for c in self.components:
            c.before_turn()

    def after_turn(self, exchange: Exchange) -> None:
        """Runs every component's ``after_turn``."""
        for c in self.components:
            c.after_turn(exchange)

    def trim(self, history: History, estimate: Callable[[], int]) -> None:
        """Lets every component shorten the history."""
        for c in self.components:
            c.trim(history, estimate)

    def changed_snapshots(self) -> list[tuple[str, Any]]:
        """(name, snapshot) of every component whose memory changed since the last call."""
        out = []
        for c in self.components:
            if c.revision != self._logged[c.name]:
                self._logged[c.name] = c.revision
                snap = c.snapshot()
                if snap is not None:
                    out.append((c.name, snap))
        return out

    def state_dict(self) -> dict[str, Any]:
        """Every component's memory, by name."""
        return {
            c.name: {"state": c.state_dict(), "revision": c.revision, "logged": self._logged[c.name]}
            for c in self.components
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` (the components must be the same)."""
        for c in self.components:
            if c.name not in state:
                raise ValueError(f"the checkpoint has no memory for scaffold component {c.name!r}")
            entry = state[c.name]
            c.load_state_dict(entry["state"])
            c.revision = entry["revision"]
            self._logged[c.name] = entry["logged"]
