"""The map the agent has seen (fog of war, per map) and path-finding over it for ``navigate_to``.

Only tiles that were on screen are known; unknown tiles are never walked through. A :class:`SeenMap` holds,
per map, a grid of tile codes (``UNSEEN`` where nothing was seen) and the entities last seen on each tile.
What a code means (walkable, one-way ledge, warp) comes from a :class:`TileRules` the game adapter gives.
Memory is bounded by the size of the maps visited.

>>> rules = TileRules(passable=(False, True), chars=(" ", "."))
>>> seen = SeenMap(rules)
>>> seen.update(0, 0, 0, np.ones((3, 3), np.uint8), np.zeros((3, 3), np.uint8))
>>> find_path(seen, 0, (0, 0), (2, 2))
Plan(steps=['down', 'down', 'right', 'right'], ends_facing=False)
"""

from __future__ import annotations

import base64
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNSEEN = 255
DIRECTIONS = ("up", "down", "left", "right")
STEPS = ((0, -1), (0, 1), (-1, 0), (1, 0))


@dataclass(frozen=True)
class TileRules:
    """What the tile codes of one game mean for walking.

    Attributes:
        passable: Per code, whether the player may stand there.
        chars: Per code, one character for the map drawing.
        ledges: Codes entered only moving down, landing one tile beyond.
        warps: Codes that move the player elsewhere (doors, mats): only ever the last tile of a path.
        legend: Per code, a name (for the map legend).
        counters: Codes the player talks across (a clerk or healer behind a counter is faced from the
            tile in front of the counter).
        swim: Codes the player may also stand on once it can swim (water).
        pushable: Entity codes the player pushes one tile on by walking into them once it can shove
            (boulders), when the tile beyond is free land.
        choppable: Entity codes the player clears for good by facing them and pressing A once it can chop (small
            trees), freeing their tile.
        outside: Codes of what lies beyond a map's edge (quest: void). A passable tile beside one is the map's exit
            to the next map (a route's end), a warp as a door is.
    """

    passable: tuple[bool, ...]
    chars: tuple[str, ...]
    ledges: frozenset[int] = frozenset()
    warps: frozenset[int] = frozenset()
    legend: tuple[str, ...] = ()
    counters: frozenset[int] = frozenset()
    swim: frozenset[int] = frozenset()
    pushable: frozenset[int] = frozenset()
    choppable: frozenset[int] = frozenset()
    outside: frozenset[int] = frozenset()


@dataclass
class Plan:
    """A path :func:`find_path` found.

    Attributes:
        steps: The d-pad directions, in order.
        ends_facing: Whether the last direction only turns the player to face the goal, not a step onto it: the goal
            is no tile to stand on (a person, a sign, a boulder, a tree, a clerk behind a counter, a tile a step into
            failed), so the path ends next to it, or in front of the counter it is behind.
    """

    steps: list[str]
    ends_facing: bool = False


#: Most states (player tile and boulder places) one path search with pushes explores before it gives up.
MAX_PUSH_STATES = 200_000


@dataclass
class _Grid:
    x0: int
    y0: int
    tiles: np.ndarray  # uint8 codes, UNSEEN where unknown
    entities: np.ndarray  # uint8, last entity seen on the tile (0: none)


@dataclass
class SeenMap:
    """Tiles seen, per map (see the module docstring)."""

    rules: TileRules
    grids: dict[int, _Grid] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def update(self, map_id: int, x0: int, y0: int, tiles: np.ndarray, entities: np.ndarray) -> None:
        """Writes a screen of ``tiles`` (rows, cols) whose top-left tile is (``x0``, ``y0``) on ``map_id``; its
        ``UNSEEN`` cells (hidden by a text box or a menu) keep what was seen there before."""
        h, w = tiles.shape
        grid = self._ensure(map_id, x0, y0, x0 + w, y0 + h)
        ox, oy = x0 - grid.x0, y0 - grid.y0
        shown = tiles != UNSEEN
        grid.tiles[oy : oy + h, ox : ox + w][shown] = tiles[shown]
        grid.entities[oy : oy + h, ox : ox + w][shown] = entities[shown]

    def _ensure(self, map_id: int, x_lo: int, y_lo: int, x_hi: int, y_hi: int) -> _Grid:
        grid = self.grids.get(map_id)
        if grid is None:
            grid = self.grids[map_id] = _Grid(
                x_lo,
                y_lo,
                np.full((y_hi - y_lo, x_hi - x_lo), UNSEEN, np.uint8),
                np.zeros((y_hi - y_lo, x_hi - x_lo), np.uint8),
            )
            return grid
        gh, gw = grid.tiles.shape
        if x_lo >= grid.x0 and y_lo >= grid.y0 and x_hi <= grid.x0 + gw and y_hi <= grid.y0 + gh:
            return grid
        # Grow by at least 16 tiles a side so walking along an edge does not copy every step.
        nx0 = min(grid.x0, x_lo - 16 if x_lo < grid.x0 else grid.x0)
        ny0 = min(grid.y0, y_lo - 16 if y_lo < grid.y0 else grid.y0)
        nx1 = max(grid.x0 + gw, x_hi + 16 if x_hi > grid.x0 + gw else grid.x0 + gw)
        ny1 = max(grid.y0 + gh, y_hi + 16 if y_hi > grid.y0 + gh else grid.y0 + gh)
        tiles = np.full((ny1 - ny0, nx1 - nx0), UNSEEN, np.uint8)
        entities = np.zeros_like(tiles)
        tiles[grid.y0 - ny0 : grid.y0 - ny0 + gh, grid.x0 - nx0 : grid.x0 - nx0 + gw] = grid.tiles
        entities[grid.y0 - ny0 : grid.y0 - ny0 + gh, grid.x0 - nx0 : grid.x0 - nx0 + gw] = grid.entities
        grid.x0, grid.y0, grid.tiles, grid.entities = nx0, ny0, tiles, entities
        return grid

    def tile(self, map_id: int, x: int, y: int) -> int:
        """The code seen at (x, y), or ``UNSEEN``."""
        grid = self.grids.get(map_id)
        if grid is None:
            return UNSEEN
        gx, gy = x - grid.x0, y - grid.y0
        if 0 <= gy < grid.tiles.shape[0] and 0 <= gx < grid.tiles.shape[1]:
            return int(grid.tiles[gy, gx])
        return UNSEEN

    def entity(self, map_id: int, x: int, y: int) -> int:
        """The entity last seen at (x, y) (0: none or unknown)."""
        grid = self.grids.get(map_id)
        if grid is None:
            return 0
        gx, gy = x - grid.x0, y - grid.y0
        if 0 <= gy < grid.tiles.shape[0] and 0 <= gx < grid.tiles.shape[1]:
            return int(grid.entities[gy, gx])
        return 0

    def move_entity(self, map_id: int, source: tuple[int, int], target: tuple[int, int] | None) -> None:
        """Moves the entity seen at ``source`` to ``target`` (``None``: takes it off the map): a boulder the player
        pushed stands there now, a tree it chopped is gone, as the next screen of them will show, and a plan before
        that must neither walk into the boulder nor keep either where it was. A ``target`` beyond the tiles seen so far
        grows the map, so the boulder is kept (on a tile not seen yet) until a screen shows that tile."""
        if map_id not in self.grids:
            return
        code = self.entity(map_id, *source)
        grid = self.grids[map_id] if target is None else self._ensure(map_id, *target, target[0] + 1, target[1] + 1)
        h, w = grid.entities.shape
        for place, value in ((source, 0), (target, code)):
            if place is not None and 0 <= place[1] - grid.y0 < h and 0 <= place[0] - grid.x0 < w:
                grid.entities[place[1] - grid.y0, place[0] - grid.x0] = value

    def seen_count(self, map_id: int | None = None) -> int:
        """Tiles seen on ``map_id`` (all maps when ``None``)."""
        grids = self.grids.values() if map_id is None else [g for m, g in self.grids.items() if m == map_id]
        return int(sum(int((g.tiles != UNSEEN).sum()) for g in grids))

    def render(
        self,
        map_id: int,
        center: tuple[int, int],
        radius: tuple[int, int] = (12, 8),
        marks: dict[tuple[int, int], str] | None = None,
    ) -> str:
        """The seen tiles around ``center`` as text with coordinates; ``?`` unseen, ``@`` the player,
        ``E`` an entity, ``marks`` single characters at tiles (e.g. markers)."""
        cx, cy = center
        rx, ry = radius
        w, h = 2 * rx + 1, 2 * ry + 1
        x0, y0 = cx - rx, cy - ry
        codes = np.full((h, w), UNSEEN, np.uint8)
        ents = np.zeros((h, w), np.uint8)
        grid = self.grids.get(map_id)
        if grid is not None:  # copy the overlap of the window and the grid
            gh, gw = grid.tiles.shape
            lx, ly = max(x0, grid.x0), max(y0, grid.y0)
            hx, hy = min(x0 + w, grid.x0 + gw), min(y0 + h, grid.y0 + gh)
            if lx < hx and ly < hy:
                codes[ly - y0 : hy - y0, lx - x0 : hx - x0] = grid.tiles[
                    ly - grid.y0 : hy - grid.y0, lx - grid.x0 : hx - grid.x0
                ]
                ents[ly - y0 : hy - y0, lx - x0 : hx - x0] = grid.entities[
                    ly - grid.y0 : hy - grid.y0, lx - grid.x0 : hx - grid.x0
                ]
        chars = self._char_table()[codes]
        chars[(ents != 0) & (codes != UNSEEN)] = ord("E")
        for (mx, my), mark in (marks or {}).items():
            if 0 <= mx - x0 < w and 0 <= my - y0 < h:
                chars[my - y0, mx - x0] = ord(mark[0])
        chars[ry, rx] = ord("@")
        lines = [f"x: {x0}..{x0 + w - 1} (left to right), y: {y0}..{y0 + h - 1} (top to bottom)"]
        for r in range(h):
            lines.append(f"{y0 + r:>4} {chars[r].tobytes().decode('ascii')}")
        return "\n".join(lines)

    def lookup_tables(self) -> tuple[np.ndarray, ...]:
        """Per tile code (256 entries): passable, warp, ledge, counter, swim; per entity code: pushable, choppable;
        per tile code: outside."""
        tables = getattr(self, "_luts", None)
        if tables is None:
            passable = np.zeros(256, bool)
            passable[: len(self.rules.passable)] = self.rules.passable

            def flags(codes: frozenset[int]) -> np.ndarray:
                table = np.zeros(256, bool)
                table[list(codes)] = True
                return table

            r = self.rules
            tables = self._luts = (passable, flags(r.warps), flags(r.ledges), flags(r.counters), flags(r.swim),
                                   flags(r.pushable), flags(r.choppable), flags(r.outside))
        return tables

    def warp_cells(self, tiles: np.ndarray) -> np.ndarray:
        """Where the grid of codes ``tiles`` has a warp: a warp code (a door, a mat), or a passable tile beside an
        ``outside`` code (a map's exit at its edge; an unseen neighbour tells nothing)."""
        passable, warps, *_, outside = self.lookup_tables()
        out = outside[tiles]
        beside = np.zeros_like(out)
        beside[1:] |= out[:-1]
        beside[:-1] |= out[1:]
        beside[:, 1:] |= out[:, :-1]
        beside[:, :-1] |= out[:, 1:]
        return warps[tiles] | (passable[tiles] & beside)

    def _char_table(self) -> np.ndarray:
        table = getattr(self, "_chars", None)
        if table is None:
            table = np.full(256, ord("?"), np.uint8)
            for code, ch in enumerate(self.rules.chars):
                table[code] = ord(ch) if ch.isascii() and len(ch) == 1 else ord("?")
            self._chars = table
        return table

    # ------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot (grids zlib-compressed, base64)."""
        return {
            "names": {str(k): v for k, v in self.names.items()},
            "grids": {
                str(m): {
                    "x0": g.x0,
                    "y0": g.y0,
                    "shape": list(g.tiles.shape),
                    "tiles": _pack(g.tiles),
                    "entities": _pack(g.entities),
                }
                for m, g in self.grids.items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`."""
        self.names = {int(k): v for k, v in state.get("names", {}).items()}
        self.grids = {}
        for m, g in state.get("grids", {}).items():
            shape = tuple(g["shape"])
            self.grids[int(m)] = _Grid(
                g["x0"], g["y0"], _unpack(g["tiles"], shape), _unpack(g["entities"], shape)
            )


def _pack(array: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(array.tobytes(), 6)).decode("ascii")


def _unpack(text: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), np.uint8).reshape(shape).copy()


def find_path(
    seen: SeenMap,
    map_id: int,
    start: tuple[int, int],
    goal: tuple[int, int],
    blocked: frozenset[tuple[int, int]] | set[tuple[int, int]] = frozenset(),
    swim: bool = False,
    shove: bool = False,
    chop: bool = False,
) -> Plan | None:
    """Shortest list of d-pad directions from ``start`` to ``goal`` over seen, passable, entity-free tiles.

    If ``goal`` itself cannot be stood on (a person, a counter, a sign), the path ends on a passable tile
    next to it, or in front of a counter with ``goal`` right behind it (a clerk, a healer: the game talks
    across counters), and a last direction turns the player to face it (the plan says so: :attr:`Plan.ends_facing`).
    Warp tiles (doors) are used only as the goal, and so is a map's exit (a passable tile beside the rules'
    ``outside``). Ledges are crossed moving down only, onto land that is no warp. With ``swim`` the rules' swim
    tiles (water) are walked too. With ``chop``, when no path around them is known, the path may go through the
    rules' choppable entities (small trees): the walker chops each down first (faces it, presses A), which clears
    its tile for good.
    With ``shove``, when no path around them is known (chopping included), the path may push the rules' pushable
    entities (boulders) as walking into one does in the game: one tile on, onto seen free land (no entity, no
    warp), the player taking its place; pushes are a last resort because they cannot be undone: such a path has
    the fewest pushes, then the fewest moves. ``None`` when no such path is known.
    """
    if start == goal:
        return Plan([])
    chop = chop and bool(seen.rules.choppable)
    tries = [(False, False)] + [(False, True)] * chop  # a chop cannot trap the player: before any push
    if shove and seen.rules.pushable:
        tries.append((True, chop))
    for push, through_trees in tries:
        plan = _search(seen, map_id, start, goal, blocked, swim, push, through_trees)
        if plan is not None:
            return plan
    return None


def _search(
    seen: SeenMap,
    map_id: int,
    start: tuple[int, int],
    goal: tuple[int, int],
    blocked: frozenset[tuple[int, int]] | set[tuple[int, int]],
    swim: bool,
    push: bool,
    chop: bool = False,
    stats: dict[str, int] | None = None,
) -> Plan | None:
    """The search of :func:`find_path`: fewest pushes, then fewest moves. A state is the player's tile and, with
    ``push``, where the pushable entities stand (an index into ``places``), so a pushed boulder blocks the rest of
    the path. With ``chop`` the choppable entities' tiles are walked (chopped first), but nothing lands on them (a
    ledge's jump, a pushed rock): the search does not track which trees the path has chopped. With ``stats``,
    ``stats["states"]`` is set to the number of states the search reached."""
    grid = seen.grids.get(map_id)
    if grid is None:
        return None
    h, w = grid.tiles.shape
    ox, oy = grid.x0, grid.y0
    passable, _, ledges, counters, swims, pushables, choppables, _ = seen.lookup_tables()
    codes = grid.tiles
    warps = seen.warp_cells(codes)  # a hop or a pushed rock never lands on one: the game refuses it
    rocks = pushables[grid.entities] if push else np.zeros(codes.shape, bool)
    trees = choppables[grid.entities] if chop else np.zeros(codes.shape, bool)
    # One flat list per property: Python-level BFS on ints, no per-cell method calls. Where a rock stands is
    # part of the state, so its tile counts as land here.
    free = (grid.entities == 0) | rocks
    # Where a ledge's hop lands (land only, swimmer or not) and where a pushed rock may stop: the same tiles.
    land = (passable[codes] & ~warps & free).ravel().tolist()
    walkable = (passable[codes] | swims[codes]) if swim else passable[codes]
    stand = (walkable & (free | trees)).ravel().tolist()
    hop = ((grid.entities == 0) | trees).ravel().tolist()  # a ledge with no one on it (a tree is chopped first)
    warp = warps.ravel().tolist()
    ledge = ledges[codes].ravel().tolist()
    counter = counters[codes].ravel().tolist()
    for bx, by in blocked:  # a tile a step into failed: not walked, landed on, pushed onto or hopped over again
        if 0 <= bx - ox < w and 0 <= by - oy < h:
            i = (by - oy) * w + bx - ox
            stand[i] = land[i] = hop[i] = False

    def index(x: int, y: int) -> int:
        return (y - oy) * w + (x - ox) if 0 <= x - ox < w and 0 <= y - oy < h else -1

    s, g = index(*start), index(*goal)
    if s < 0 or g < 0 or codes.flat[g] == UNSEEN:
        return None
    if trees.flat[g]:
        stand[g] = False  # a tree asked for is faced, as a person is: the walk does not chop it
    places = [frozenset(np.flatnonzero(rocks).tolist()) - {s}]  # where the rocks stand, per state
    place_ids = {places[0]: 0}
    cells = w * h
    goal_standable = stand[g] and g not in places[0]
    # where a walk to a goal no one can stand on ends, facing it
    facing: dict[int, int] = {} if goal_standable else _facing_cells(goal, index, counter)
    if stats is not None:
        stats["states"] = 1
    if push and not _may_reach(s, g, facing, places[0], index, w, ox, oy, stand, land, hop, warp, ledge):
        return None  # the search with pushes would try every way of pushing the rocks before it gave up
    previous: dict[int, tuple[int, int]] = {}
    # Fewest pushes first (a push may wedge a rock for good), then fewest moves. The states of one push count
    # come from two queues of (moves, state), each in order of moves: those the pushes before reached, and those
    # walked to since; taking the head with fewer moves searches the count in order of moves. Without pushes
    # this is a breadth-first search.
    cost = {s: (0, 0)}  # (pushes, moves) of the cheapest way found to each state
    walked: deque[tuple[int, int]] = deque([(0, s)])
    pushed_to: deque[tuple[int, int]] = deque()
    next_pushed: deque[tuple[int, int]] = deque()
    pushes = 0
    end = -1
    face = -1
    place, here = 0, places[0]
    while end < 0:
        if not walked and not pushed_to:
            if not next_pushed:
                break
            pushes, pushed_to, next_pushed = pushes + 1, next_pushed, deque()
            continue
        queue = walked if walked and (not pushed_to or walked[0][0] <= pushed_to[0][0]) else pushed_to
        moves, state = queue.popleft()
        if cost[state] != (pushes, moves):
            continue  # reached more cheaply since it was queued
        cell = state
        if push:
            if len(cost) > MAX_PUSH_STATES:  # a tangle of rocks is not searched on
                break
            place, cell = divmod(state, cells)
            here = places[place]
        if cell == g:
            end = state
            break
        if cell in facing:
            end, face = state, facing[cell]
            break
        x, y = cell % w + ox, cell // w + oy
        for d, (dx, dy) in enumerate(STEPS):
            nx, ny = x + dx, y + dy
            n = index(nx, ny)
            if n < 0:
                continue
            moved, pushed = place, 0
            if here and n in here:  # walking into a rock pushes it one tile on, if it can go there
                beyond = index(nx + dx, ny + dy)
                if beyond < 0 or not land[beyond] or beyond in here:
                    continue
                after = (here - {n}) | {beyond}
                moved = place_ids.setdefault(after, len(places))
                if moved == len(places):
                    places.append(after)
                pushed = 1
            elif ledge[n]:  # one way, down only: land beyond
                if d != 1 or not hop[n]:
                    continue
                ny += 1
                n = index(nx, ny)
                if n < 0 or not land[n] or n in here:
                    continue
            if not stand[n] or (warp[n] and n != g):
                continue
            following = moved * cells + n
            step = (pushes + pushed, moves + 1)
            if following in cost and cost[following] <= step:
                continue
            cost[following] = step
            previous[following] = (state, d)
            (next_pushed if pushed else walked).append((moves + 1, following))
    if stats is not None:
        stats["states"] = len(cost)
    if end < 0:
        return None
    path: list[str] = []
    node = end
    while node != s:
        node, d = previous[node]
        path.append(DIRECTIONS[d])
    path.reverse()
    if face >= 0:
        path.append(DIRECTIONS[face])
    return Plan(path, face >= 0)


def _facing_cells(goal: tuple[int, int], index: Callable[[int, int], int], counter: list[bool]) -> dict[int, int]:
    """The cells a walk to a ``goal`` no one can stand on ends on, each with the direction that faces ``goal`` from
    there: next to it, or in front of a counter with ``goal`` right behind it (the game talks across counters)."""
    gx, gy = goal
    facing: dict[int, int] = {}
    for d, (dx, dy) in enumerate(STEPS):
        beside = index(gx - dx, gy - dy)
        if beside < 0:
            continue
        facing[beside] = d
        across = index(gx - 2 * dx, gy - 2 * dy)
        if counter[beside] and across >= 0:
            facing[across] = d
    return facing


def _may_reach(
    s: int,
    g: int,
    facing: dict[int, int],
    rocks: frozenset[int],
    index: Callable[[int, int], int],
    w: int,
    ox: int,
    oy: int,
    stand: list[bool],
    land: list[bool],
    hop: list[bool],
    warp: list[bool],
    ledge: list[bool],
) -> bool:
    """False only when the search of :func:`_search` with pushes cannot reach the goal, told from tiles alone (not
    from every way the rocks may stand), so an unreachable goal does not cost that search its whole state cap.

    Rocks taken for stuck are walls; the others may stand on their tiles or on any land they may be pushed onto, and
    the player enters such a tile by pushing the rock on or by walking in as if none stood there, whichever the rules
    allow. A stuck rock has, on each side, the tile it would be pushed from out of reach, or the tile beyond no land
    for it or holding a stuck rock. Starting from every rock stuck, the rocks found not to be (from the tiles then in
    reach) are freed and the tiles in reach widened from them, until it holds: then no stuck rock can be pushed from
    a tile in reach and no move leaves the tiles in reach, so the search never gets beyond them. The goal is reached
    on ``g`` or on a cell of ``facing`` (:func:`_facing_cells`; none for a goal the player may stand on).
    """
    stuck = set(rocks)
    reached = {s}
    frontier = [s]
    while True:
        while frontier:
            cell = frontier.pop()
            if cell == g or cell in facing:
                return True
            x, y = cell % w + ox, cell // w + oy
            for d, (dx, dy) in enumerate(STEPS):
                nx, ny = x + dx, y + dy
                n = index(nx, ny)
                if n < 0 or n in stuck:
                    continue
                targets = []
                if n in rocks or land[n]:  # a rock may stand there: pushed on
                    beyond = index(nx + dx, ny + dy)
                    if beyond >= 0 and land[beyond] and beyond not in stuck:
                        targets.append(n)
                if not ledge[n]:  # or none does: walked onto, or a ledge hopped (down only)
                    targets.append(n)
                elif d == 1 and hop[n]:
                    landing = index(nx, ny + 1)
                    if landing >= 0 and land[landing] and landing not in stuck:
                        targets.append(landing)
                for target in targets:
                    if target not in reached and stand[target] and (not warp[target] or target == g):
                        reached.add(target)
                        frontier.append(target)
        freed = [
            rock
            for rock in stuck
            if any(
                index(rock % w + ox - dx, rock // w + oy - dy) in reached
                and (beyond := index(rock % w + ox + dx, rock // w + oy + dy)) >= 0
                and land[beyond]
                and beyond not in stuck
                for dx, dy in STEPS
            )
        ]
        if not freed:
            return False
        stuck.difference_update(freed)
        for rock in freed:  # the moves a freed rock allows start one or two tiles before it (a push, a hop)
            x, y = rock % w + ox, rock // w + oy
            for dx, dy in STEPS:
                frontier += [c for c in (index(x - dx, y - dy), index(x - 2 * dx, y - 2 * dy)) if c in reached]
