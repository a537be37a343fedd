"""Map memory: the fog-of-war map of the tiles seen on each map, and markers the agent places.

The seen tiles are the loop's (``driver.seen``, also what ``navigate_to`` walks over); this component shows
them around the player with coordinates, keeps the markers, lets ``navigate_to`` take a marker, and lists
the maps visited. It needs a game with a map adapter (quest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.history import Exchange
from longplay.agents.lm.messages import ToolSpec
from longplay.agents.lm.tools import Tool, ToolError
from longplay.scaffolds.base import Component

_DIGITS = "123456789"
_LABEL = {
    "type": "string",
    "description": 'a short label, e.g. "rest house" or "locked door"',
    "maxLength": 40,
}

#: The widest ``radius_x`` and ``radius_y`` taken.
MAX_RADIUS = 64


@dataclass
class MapMemory(Component):
    """Fog-of-war map around the player, markers, and the list of maps visited."""

    name = "map_memory"
    version = "2"  # 2: maps entered and left within one turn are among the maps visited
    needs_map = True

    radius_x: int = 10
    """Columns shown each side of the player."""
    radius_y: int = 7
    """Rows shown above and below the player."""
    max_markers: int = 40
    """Most markers over all maps."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(radius_x=0, radius_y=0, max_markers=0)
        # a 129-tile window holds any quest map (42 tiles at most) and most of Pokemon Red's longest routes; a radius
        # of a million drew a 2,000,001-column map into every prompt
        self.require_at_most(radius_x=MAX_RADIUS, radius_y=MAX_RADIUS)
        self.markers: dict[str, tuple[int, int, int, str]] = {}  # label -> map, x, y, note
        self.visited: list[int] = []

    def _visit(self) -> None:
        assert self.ctx is not None
        driver = self.ctx.driver
        pos = driver.position()
        # every map stood on, also one entered and left within a turn (it was missing from "Maps visited")
        for map_id in [*driver.maps_entered, *([pos.map_id] if pos is not None else [])]:
            if map_id not in self.visited:
                self.visited.append(map_id)
                self.changed()

    def before_turn(self) -> None:
        self._visit()

    def after_turn(self, exchange: Exchange) -> None:
        self._visit()

    def resolve_marker(self, label: str) -> tuple[int, int, int]:
        """The (map, x, y) of the marker ``label``; :class:`ToolError` if there is none."""
        key = " ".join(label.split())
        if key not in self.markers:
            raise ToolError(f"no marker {key!r}; markers: {', '.join(self.markers) or 'none'}")
        map_id, x, y, _ = self.markers[key]
        return map_id, x, y

    def tools(self) -> list[Tool]:
        def place(args: dict[str, Any]) -> str:
            assert self.ctx is not None
            pos = self.ctx.driver.position()
            assert pos is not None
            label = " ".join(args["label"].split())
            if not label:
                raise ToolError("the label is empty")
            if label not in self.markers and len(self.markers) >= self.max_markers:
                raise ToolError(f"at most {self.max_markers} markers; remove one first")
            x, y = args.get("x", pos.x), args.get("y", pos.y)
            self.markers[label] = (pos.map_id, x, y, args.get("note", ""))
            self.changed()
            return f"Marker {label!r} at ({x}, {y}) on map {pos.map_id} ({self.ctx.map_name(pos.map_id)})."

        def remove(args: dict[str, Any]) -> str:
            label = " ".join(args["label"].split())
            if label not in self.markers:
                raise ToolError(f"no marker {label!r}; markers: {', '.join(self.markers) or 'none'}")
            del self.markers[label]
            self.changed()
            return f"Removed marker {label!r}."

        return [
            Tool(
                ToolSpec(
                    "place_marker",
                    "Place a marker on the current map (default: where you stand); "
                    "navigate_to can walk to it later.",
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["label"],
                        "properties": {
                            "label": _LABEL,
                            "x": {"type": "integer"},
                            "y": {"type": "integer"},
                            "note": {"type": "string", "maxLength": 120},
                        },
                    },
                ),
                place,
            ),
            Tool(
                ToolSpec(
                    "remove_marker",
                    "Remove a marker.",
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["label"],
                        "properties": {"label": _LABEL},
                    },
                ),
                remove,
            ),
        ]

    def section(self) -> tuple[str, str] | None:
        assert self.ctx is not None
        driver = self.ctx.driver
        pos = driver.position()
        if pos is None or driver.seen is None:
            return None
        here = [(label, m) for label, m in self.markers.items() if m[0] == pos.map_id]
        # Digits never stand for a tile, so markers do not hide what the map shows.
        marks = {(m[1], m[2]): _DIGITS[i] for i, (_, m) in enumerate(here[: len(_DIGITS)])}
        lines = [
            f"Map {pos.map_id} ({self.ctx.map_name(pos.map_id)}), {driver.seen.seen_count(pos.map_id)} tiles "
            "seen. @ you, ? unseen, E someone/something, digits: markers."
        ]
        lines.append(driver.seen.render(pos.map_id, (pos.x, pos.y), (self.radius_x, self.radius_y), marks))
        for i, (label, (_, x, y, note)) in enumerate(here):
            mark = f"{_DIGITS[i]} = " if i < len(_DIGITS) else ""
            lines.append(f"{mark}{label} ({x}, {y})" + (f": {note}" if note else ""))
        elsewhere = [f"{label} (map {m[0]})" for label, m in self.markers.items() if m[0] != pos.map_id]
        if elsewhere:
            lines.append("Markers on other maps: " + "; ".join(elsewhere))
        lines.append("Maps visited: " + ", ".join(f"{m} ({self.ctx.map_name(m)})" for m in self.visited))
        return "Map memory", "\n".join(lines)

    def state_dict(self) -> dict[str, Any]:
        return {"markers": {k: list(v) for k, v in self.markers.items()}, "visited": list(self.visited)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.markers = {k: (int(v[0]), int(v[1]), int(v[2]), str(v[3])) for k, v in state["markers"].items()}
        self.visited = list(state["visited"])

    def snapshot(self) -> dict[str, Any]:
        assert self.ctx is not None
        seen = self.ctx.driver.seen
        return {
            "markers": {k: list(v) for k, v in self.markers.items()},
            "maps": {
                str(m): {"name": self.ctx.map_name(m), "seen": seen.seen_count(m) if seen else 0}
                for m in self.visited
            },
        }
