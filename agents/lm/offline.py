"""A deterministic offline "model": a scripted explorer that reads only what a model would read.

:class:`ExplorerPolicy` sits behind :class:`~longplay.agents.lm.providers.OfflineProvider`, so CI can play
the built-in game end to end through the real loop, tools and scaffolds with no network and no key. It
parses the request's text (the status line, the text view's map, the ``Map memory`` section when the
scaffold has one) and answers with tool calls, like a model would:

* text box or battle: ``press_buttons(["a", ...])``; menu: ``["b"]``;
* walking: talk once to each person or thing it sees (``navigate_to`` next to it, then ``a``), otherwise
  ``navigate_to`` the nearest tile at the edge of what it knows, preferring unvisited doors once the map is
  explored; wander at random when it knows of nothing new;
* it uses the scaffold's tools when they are offered (a note per map, a goal, a marker per map), and
  answers summary and critic requests with text.

It remembers what it has visited and who it has talked to (a model would keep that in its context or
notes); :meth:`ExplorerPolicy.state_dict` checkpoints that memory, bounded by the size of the world.
"""

from __future__ import annotations

import random
import re
from collections import deque
from typing import Any

from longplay.agents.lm.messages import Message, ModelRequest, Text, ToolCall
from longplay.agents.lm.navigation import DIRECTIONS

_STATUS = re.compile(r"Status: (\w+) \| map (\d+) \((.*?)\) \| x (-?\d+), y (-?\d+) \| facing (\w+)")
_ROW = re.compile(r"^\s*(-?\d+) (.+)$")
_XRANGE = re.compile(r"x: (-?\d+)\.\.(-?\d+)")
_MAP_HEAD = re.compile(r"Map \(.*?x (-?\d+)\.\.(-?\d+), y (-?\d+)\.\.(-?\d+)\):")
#: Text-view letters of people and things worth pressing A at (trainers, items, capsules included).
_TALK = frozenset("PEHCGSoc")
_STEP = ((0, -1), (0, 1), (-1, 0), (1, 0))


def _quest_tables() -> tuple[dict[str, bool], set[str]]:
    from longplay.envs.quest.constants import TILE_CHARS, TILE_WALKABLE, Tile

    walkable = dict(zip(TILE_CHARS, TILE_WALKABLE, strict=True))
    warps = {TILE_CHARS[Tile.DOOR], TILE_CHARS[Tile.MAT]}
    return walkable, warps


class ExplorerPolicy:
    """See the module docstring. ``seed`` drives the random wandering only."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.walkable, self.warps = _quest_tables()
        self.known: dict[int, dict[tuple[int, int], str]] = {}  # map -> (x, y) -> char
        self.visited: dict[int, set[tuple[int, int]]] = {}
        self.talked: set[tuple[int, int, int]] = set()
        self.tried: set[tuple[int, int, int]] = set()  # targets already walked to
        self.noted: set[int] = set()
        self.marked: set[int] = set()
        self.goal_set = False
        self.calls = 0
        self.cleared: dict[int, int] = {}  # map -> known-tile count when its tried targets were last cleared

    # ------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {
            "rng": [version, list(internal), gauss],
            "known": {str(m): [[x, y, c] for (x, y), c in tiles.items()] for m, tiles in self.known.items()},
            "visited": {str(m): sorted(map(list, v)) for m, v in self.visited.items()},
            "talked": sorted(map(list, self.talked)),
            "tried": sorted(map(list, self.tried)),
            "noted": sorted(self.noted),
            "marked": sorted(self.marked),
            "goal_set": self.goal_set,
            "calls": self.calls,
            "cleared": {str(k): v for k, v in self.cleared.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.known = {int(m): {(x, y): c for x, y, c in tiles} for m, tiles in state["known"].items()}
        self.visited = {int(m): {tuple(p) for p in v} for m, v in state["visited"].items()}  # type: ignore[misc]
        self.talked = {tuple(p) for p in state["talked"]}  # type: ignore[misc]
        self.tried = {tuple(p) for p in state["tried"]}  # type: ignore[misc]
        self.noted, self.marked = set(state["noted"]), set(state["marked"])
        self.goal_set, self.calls = state["goal_set"], state["calls"]
        self.cleared = {int(k): v for k, v in state["cleared"].items()}

    # ------------------------------------------------------------------------------------------ replies
    def reply(self, request: ModelRequest) -> Message:
        """The assistant message for ``request``."""
        if request.system.startswith("PROGRESS SUMMARY"):
            return Message("assistant", [Text(self._summary())])
        if request.system.startswith("CRITIC"):
            return Message(
                "assistant",
                [
                    Text(
                        "Keep exploring tiles you have not seen, talk to everyone once, "
                        "and fight wild creatures in the grass to grow stronger."
                    )
                ],
            )
        text = request.messages[-1].text if request.messages else ""
        tools = {t.name for t in request.tools}
        calls = self._act(text, tools)
        return Message("assistant", [Text(calls[0]), *calls[1:]])  # type: ignore[list-item]

    def _call(self, name: str, **args: Any) -> ToolCall:
        import json

        self.calls += 1
        return ToolCall(f"offline_{self.calls}", name, args, json.dumps(args, sort_keys=True))

    def _summary(self) -> str:
        maps = ", ".join(f"map {m} ({len(v)} tiles walked)" for m, v in sorted(self.visited.items()))
        return (
            f"I explored {maps or 'nothing yet'}. I talked to {len(self.talked)} people or things. "
            "Next: explore further."
        )

    def _act(self, text: str, tools: set[str]) -> list[Any]:
        status = _STATUS.search(text)
        if status is None:  # no status line: press A and move on at random
            return [
                "I cannot read my position; I try something.",
                self._call("press_buttons", buttons=["a", self.rng.choice(DIRECTIONS)]),
            ]
        mode, map_id, map_name = status.group(1), int(status.group(2)), status.group(3)
        x, y = int(status.group(4)), int(status.group(5))
        if mode == "dialog":
            return ["Reading the text.", self._call("press_buttons", buttons=["a"])]
        if mode == "battle":
            return ["Fighting.", self._call("press_buttons", buttons=["a", "a", "a", "a"])]
        if mode == "menu":
            return ["Closing the menu.", self._call("press_buttons", buttons=["b"])]
        known = self.known.setdefault(map_id, {})
        self._perceive(text, known, x, y)
        visited = self.visited.setdefault(map_id, set())
        visited.add((x, y))
        move = self._move(map_id, known, visited, (x, y))
        # Bookkeeping with the scaffold's tools, one call a turn (a turn takes at most 4 calls).
        calls: list[Any] = []
        if "add_note" in tools and map_id not in self.noted:
            self.noted.add(map_id)
            note = f"First here on reaching ({x}, {y})."
            calls.append(self._call("add_note", title=f"{map_name} (map {map_id})", text=note))
        elif "push_goal" in tools and not self.goal_set:
            self.goal_set = True
            calls.append(self._call("push_goal", goal="Explore, get a partner, win the gym badge"))
        elif "place_marker" in tools and map_id not in self.marked:
            self.marked.add(map_id)
            calls.append(self._call("place_marker", label=f"arrival {map_id}", note=map_name))
        return [move[0], *calls, *move[1:]]

    def _perceive(self, text: str, known: dict[tuple[int, int], str], x: int, y: int) -> None:
        """Adds the tiles the request shows (map memory first, then the text view's map) to ``known``."""
        section = text.split("## Map memory", 1)
        if len(section) == 2:
            self._parse_map_memory(section[1], known)
        self._parse_text_view(text, known, x, y)

    def _parse_map_memory(self, text: str, known: dict[tuple[int, int], str]) -> None:
        xr = _XRANGE.search(text)
        if xr is None:
            return
        x0 = int(xr.group(1))
        for line in text[xr.end() :].splitlines()[1:]:
            row = _ROW.match(line)
            if row is None:
                break
            yy, cells = int(row.group(1)), row.group(2)
            for i, ch in enumerate(cells):
                if ch not in "?@123456789":  # unseen, me, markers
                    known[(x0 + i, yy)] = ch if ch in self.walkable else "E"

    def _parse_text_view(self, text: str, known: dict[tuple[int, int], str], x: int, y: int) -> None:
        """The text view's map: ``Map (..; x a..b, y c..d):``, two header lines, then one row per y after a
        five-character label."""
        head = _MAP_HEAD.search(text)
        if head is None:
            return
        x_lo, y_lo = int(head.group(1)), int(head.group(3))
        rows = text[head.end() :].split("\n")[3:]
        for k, line in enumerate(rows):
            if line.startswith("Legend") or len(line) < 6:
                break
            for c, ch in enumerate(line[5:]):
                if ch != "@":
                    known[(x_lo + c, y_lo + k)] = ch if ch in self.walkable else "E" if ch in _TALK else "#"

    def _standable(self, known: dict[tuple[int, int], str], pos: tuple[int, int]) -> bool:
        return self.walkable.get(known.get(pos, ""), False)

    def _move(
        self,
        map_id: int,
        known: dict[tuple[int, int], str],
        visited: set[tuple[int, int]],
        here: tuple[int, int],
    ) -> list[Any]:
        # Someone to talk to, reachable?
        dist = self._distances(known, here)
        people = sorted(
            (d, p, via)
            for p, (d, via) in self._adjacent_targets(known, dist).items()
            if (map_id, *p) not in self.talked
        )
        if people:
            _, target, via = people[0]
            self.talked.add((map_id, *target))
            return [
                f"I go and talk to whoever is at {target}.",
                self._call("navigate_to", x=via[0], y=via[1]),
                self._call("press_buttons", buttons=["a"]),
            ]
        options = self._options(map_id, known, visited, dist, here)
        if not options and self.cleared.get(map_id) != len(known):
            # Everything in sight was tried: the world may have changed (a guard left), so try again.
            self.cleared[map_id] = len(known)
            self.tried = {t for t in self.tried if t[0] != map_id}
            options = self._options(map_id, known, visited, dist, here)
        if options:
            _, kind, target = min(options)
            self.tried.add((map_id, *target))
            return [f"I head for {kind} at {target}.", self._call("navigate_to", x=target[0], y=target[1])]
        buttons = [self.rng.choice(DIRECTIONS) for _ in range(4)]
        return ["Nothing new in sight; I wander.", self._call("press_buttons", buttons=buttons)]

    def _options(
        self,
        map_id: int,
        known: dict[tuple[int, int], str],
        visited: set[tuple[int, int]],
        dist: dict[tuple[int, int], int],
        here: tuple[int, int],
    ) -> list[tuple[int, str, tuple[int, int]]]:
        """Places worth walking to: the edge of the known map, unused doors, the map's border (exits)."""
        options = []
        for pos, d in dist.items():
            if pos == here or (map_id, *pos) in self.tried:
                continue
            neighbours = [known.get((pos[0] + dx, pos[1] + dy)) for dx, dy in _STEP]
            if None in neighbours:
                options.append((d, "the edge of what I know", pos))
            elif pos in visited:
                continue
            elif known.get(pos) in self.warps:
                options.append((d + 1000, "a door I have not used", pos))
            elif " " in neighbours:  # next to the outside of the map: maybe a way out
                options.append((d + 1000, "the border of the map", pos))
        return options

    def _distances(
        self, known: dict[tuple[int, int], str], start: tuple[int, int]
    ) -> dict[tuple[int, int], int]:
        """Steps to every known standable tile reachable from ``start`` (doors end a path)."""
        dist = {start: 0}
        queue = deque([start])
        while queue:
            pos = queue.popleft()
            if pos != start and known.get(pos) in self.warps:
                continue
            for dx, dy in _STEP:
                nxt = (pos[0] + dx, pos[1] + dy)
                if nxt not in dist and self._standable(known, nxt):
                    dist[nxt] = dist[pos] + 1
                    queue.append(nxt)
        return dist

    def _adjacent_targets(
        self, known: dict[tuple[int, int], str], dist: dict[tuple[int, int], int]
    ) -> dict[tuple[int, int], tuple[int, tuple[int, int]]]:
        """Entities next to a reachable tile, or across a counter: entity -> (distance, tile to walk to and
        face: the entity itself, or the counter in front of it)."""
        targets: dict[tuple[int, int], tuple[int, tuple[int, int]]] = {}
        for pos, ch in known.items():
            if ch != "E":
                continue
            for dx, dy in _STEP:
                for reach in (1, 2):  # 2: across a counter
                    near = (pos[0] + dx * reach, pos[1] + dy * reach)
                    between = (pos[0] + dx, pos[1] + dy)
                    if near in dist and (reach == 1 or known.get(between) == "="):
                        via = pos if reach == 1 else between
                        if pos not in targets or dist[near] < targets[pos][0]:
                            targets[pos] = (dist[near], via)
        return targets
