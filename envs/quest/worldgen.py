"""The world generator: Game-Boy-style worlds of towns, routes, caves, gyms and a league, from (size, seed).

Every world has the same shape, scaled by its size (see :data:`SIZE_SPECS`):

* **Towns** ``T0 .. T(n-1)``, one gym each (town ``k`` awards badge ``k``). The player starts in a house in
  ``T0``; ``T0`` also has the lab with the three partner capsules, and a guard holds its exit until the
  player has a partner. Every town has a rest centre (healer behind a counter), a shop (clerk behind a
  counter), houses with people, and signs.
* **Legs**: the way out of town ``k`` (a route, or route - cave - route) is gated so that it needs badge ``k``:
  a small tree (the CHOP ability), a water crossing (SWIM), a boulder in a niche (SHOVE), a guard who wants a
  key item (handed out in town ``k`` once badge ``k`` is won), or a guard who wants the badge itself. The
  first half of each route, before its gate, is open earlier: it is where the player trains for the gym.
  The last leg leads to the league: a lobby, four elites and the champion, each room's way on held by a
  guard until its member is beaten. ``mini`` has a single dead-end route and ends with its only badge.
* **Side routes** (standard) are dead ends off a town, with trainers, items, and sometimes the key-item giver.

The order is solvable by construction and checked by :func:`solvability_report`, an abstract play-through of
``World.plan`` (the capsule, key-item givers, leaders, elites, champion) under the engine's movement rules.
Everything random comes from one ``random.Random`` seeded with (size, seed): the same pair always gives
the same world, bit for bit (:func:`world_digest`).

>>> world = build_world("mini", 3)
>>> world is build_world("mini", 3), world.size, len(world.badge_names)
(True, 'mini', 1)
>>> solvability_report(world).solvable
True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from longplay.envs.quest.constants import (
    DX,
    DY,
    ITEM_NAMES,
    KEY_ITEMS,
    TILE_WALKABLE,
    TYPE_CHART,
    TYPE_NAMES,
    Ability,
    Direction,
    EntityKind,
    Item,
    MapKind,
    Sprite,
    Tile,
    Type,
)
from longplay.envs.quest.content import SPECIES, STARTER_FORMS, STARTERS
from longplay.envs.quest.dialog import wrap
from longplay.envs.quest.state import Encounter, EntityDef, EventDef, MapDef, TrainerDef, Warp, World

__all__ = [
    "BADGE_NAMES", "CANONICAL_NAME", "CANONICAL_SEED", "CANONICAL_SIZE", "SIZES", "SIZE_SPECS", "SizeSpec",
    "SolvabilityReport", "build_world", "canonical_world", "solvability_report", "world_digest",
]

SIZES = ("mini", "small", "standard")
CANONICAL_SIZE = "standard"
CANONICAL_SEED = 0
CANONICAL_NAME = "Canon"

UP, DOWN, LEFT, RIGHT = Direction.UP, Direction.DOWN, Direction.LEFT, Direction.RIGHT
OPPOSITE = (DOWN, UP, RIGHT, LEFT)
_DIRECTION_OF = {(DX[d], DY[d]): Direction(d) for d in Direction}
_DIRS = tuple(int(d) for d in Direction)  # plain ints: iterating the enum is slow in hot loops

# ============================================================================================ sizes


@dataclass(frozen=True)
class SizeSpec:
    """How big a world is: counts of towns/gyms, caves and side routes, gates and the level curve."""

    gyms: int  # one gym per town
    league: bool  # a league after the last gym (else the last badge finishes the game)
    league_cave: bool  # the way to the league runs route - cave - route
    mid_caves: tuple[int, ...]  # legs that may hold the mid-game cave (one is drawn); () for none
    side_routes: int  # dead-end routes off towns 1..n-1
    key_gates: tuple[int, ...]  # how many legs a key item opens (one value is drawn)
    ability_legs: tuple[tuple[int, ...], ...]  # per Ability (CHOP, SWIM, SHOVE): legs it may open; () unused
    first_leader: tuple[int, int]  # level range of the first gym leader's strongest creature
    level_step: int  # leader levels rise by this per gym
    route_trainers: tuple[int, int]  # trainers per main route (min, max)


SIZE_SPECS: dict[str, SizeSpec] = {
    "mini": SizeSpec(gyms=1, league=False, league_cave=False, mid_caves=(), side_routes=0, key_gates=(0,),
                     ability_legs=((), (), ()), first_leader=(9, 10), level_step=0, route_trainers=(2, 2)),
    "small": SizeSpec(gyms=3, league=True, league_cave=False, mid_caves=(0, 1), side_routes=0,
                      key_gates=(1,), ability_legs=((0, 1), (), ()), first_leader=(10, 10), level_step=7,
                      route_trainers=(2, 3)),
    "standard": SizeSpec(gyms=8, league=True, league_cave=True, mid_caves=(1, 2, 3, 4, 5), side_routes=2,
                         key_gates=(2, 3), ability_legs=((0, 1), (2, 3), (4, 5)), first_leader=(10, 10),
                         level_step=6, route_trainers=(2, 4)),
}
assert tuple(SIZE_SPECS) == SIZES

# ============================================================================================ tables

_NAME_HEADS = ("Ash", "Bram", "Cor", "Dun", "Elm", "Fen", "Gal", "Hol", "Ivy", "Kel", "Lun", "Mar", "Nor",
               "Oak", "Pel", "Quin", "Ros", "Sil", "Tam", "Vel", "Wyn", "Yar", "Zel", "Bri", "Cal", "Dor",
               "Emb", "Fal", "Gor", "Har", "Lin", "Mor", "Pim", "Ral", "Sor", "Tor", "Ul", "Ves")
_NAME_LINKS = ("", "", "", "a", "e", "i", "o", "en", "er")
_TOWN_TAILS = ("ford", "haven", "moor", "dale", "wick", "ton", "brook", "field", "mere", "crest", "vale",
               "ridge", "bury", "stead", "holm", "port")
_ROUTE_TAILS = ("wood", "stone", "reed", "hill", "fern", "wind", "glen", "marsh", "heath", "briar")
_ROUTE_KINDS = ("Trail", "Path", "Road", "Way", "Pass", "Lane")
_CAVE_KINDS = ("Cave", "Hollow", "Grotto", "Cavern", "Tunnel")
_REGION_TAILS = ("ia", "ora", "and", "ara", "eth", "ova")
_PERSON_SYLLABLES = ("Ka", "Lo", "Mi", "Ra", "Te", "Vo", "Na", "Si", "Du", "Be", "Fi", "Go", "Ha", "Jo", "Ku",
                     "Le", "Mo", "Ne", "Pa", "Ri", "Sa", "To", "Ve", "Yo", "Ze", "Ari", "Eli", "Ori")
_PERSON_ENDS = ("n", "r", "l", "s", "", "", "")
_TOWN_TAGLINES = ("A quiet green town", "Where roads meet", "Town of old trees", "Breezy and bright",
                  "Home of brave teams", "A town by the hills", "Lanterns and bells", "Fresh air and tea")

#: Badge names by gym type (index = Type).
BADGE_NAMES = ("Hearth", "Cinder", "Ripple", "Bramble", "Spark", "Rime", "Gauntlet", "Nettle", "Dune",
               "Gale", "Lucid", "Slate")
assert len(BADGE_NAMES) == len(Type)

#: Route trainer titles and the types their creatures favour (empty: any type).
_TRAINER_TITLES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Hiker", (Type.STONE, Type.GROUND)), ("Angler", (Type.WATER,)), ("Birder", (Type.AIR,)),
    ("Ranger", (Type.PLANT, Type.POISON)), ("Sage", (Type.MIND,)), ("Brawler", (Type.FIGHTING,)),
    ("Tinker", (Type.ELECTRIC,)), ("Skier", (Type.ICE,)), ("Stoker", (Type.FIRE,)), ("Scout", ()),
    ("Rookie", ()), ("Camper", (Type.NORMAL, Type.PLANT, Type.AIR)),
)
_CAVE_TYPES = (Type.STONE, Type.GROUND, Type.POISON, Type.FIGHTING, Type.ICE, Type.MIND)
_TRAINER_LINES = ("Let's battle!", "You look strong. Show me!", "My team trained all week!",
                  "Nobody passes without a battle!", "I was waiting for you!", "Ready? Here I come!")
_TRAINER_AFTER = ("Good battle! Keep it up.", "I need more training.", "You are really strong!",
                  "Next time I will win.", "Heal up before the gym!", "The grass hides rare ones.")
_TRAINER_DEFEAT = ("Aw, I lost!", "No way!", "You win this time.", "Well fought!", "Too strong!")

#: What shops sell, by how far into the game the town is (fraction of the badges behind it).
_SHOP_STOCK: tuple[tuple[float, tuple[int, ...]], ...] = (
    (0.0, (Item.ORB, Item.TONIC, Item.WARD_SPRAY)),
    (0.2, (Item.FINE_ORB, Item.STRONG_TONIC, Item.REVIVAL_HERB)),
    (0.6, (Item.PRIME_ORB, Item.MAX_TONIC)),
)
#: Items lying on the ground, by the same fraction.
_GROUND_ITEMS: tuple[tuple[float, tuple[int, ...]], ...] = (
    (0.0, (Item.TONIC, Item.ORB, Item.WARD_SPRAY)),
    (0.2, (Item.STRONG_TONIC, Item.FINE_ORB, Item.REVIVAL_HERB)),
    (0.6, (Item.MAX_TONIC, Item.PRIME_ORB)),
)

# Power bands of species by base-stat total, and the levels each band is met at.
_BAND_LIMITS = (240, 330)  # below the first: band 0; below the second: band 1; else band 2
_BAND_LEVELS = ((2, 30), (12, 48), (26, 100))
_STARTER_LINES = frozenset(s for line in STARTER_FORMS for s in line)
_BULK_ITEMS = frozenset({Item.ORB, Item.TONIC, Item.FINE_ORB})

# Building footprints on town maps (width, height of the roof block; the door is in its bottom row).
_FOOTPRINTS = {"house": (4, 3), "centre": (5, 3), "shop": (4, 3), "lab": (6, 3), "gym": (6, 4)}
_WALKABLE_LAWN = (Tile.GROUND, Tile.FLOWERS, Tile.TALL_GRASS)

_OPEN_SHARE = 0.3  # the share of a route or cave, from its entry, kept free of barriers

# Keep marks on a sketch: what decoration may not touch.
_FREE, _PATH, _FIXED = 0, 1, 2
_NONZERO = bytes([0] + [1] * 255)  # bytes.translate table: 1 where a byte is not 0


def _band_of(species: int) -> int:
    s = SPECIES[species]
    total = s.base_hp + s.base_attack + s.base_defense + s.base_speed
    return sum(total >= limit for limit in _BAND_LIMITS)


_BANDS = tuple(_band_of(s) for s in range(len(SPECIES)))


def _a(noun: str) -> str:
    """``noun`` with its indefinite article."""
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def _slug(name: str) -> str:
    return "_".join(name.lower().replace("'", "").split())


def _stock(table: tuple[tuple[float, tuple[int, ...]], ...], progress: float) -> tuple[int, ...]:
    return tuple(sorted(int(item) for at, items in table if progress >= at for item in items))


# ============================================================================================ frames


@dataclass(frozen=True)
class _Frame:
    """Maps a sketch's local (u, v) grid, drawn as if travel went up, onto the map's global (x, y).

    ``travel`` is the global direction local "up" points to; the map is ``across`` wide and ``along`` long
    in local terms.
    """

    travel: int
    across: int
    along: int

    @property
    def size(self) -> tuple[int, int]:
        if self.travel in (UP, DOWN):
            return self.across, self.along
        return self.along, self.across

    def point(self, u: int, v: int) -> tuple[int, int]:
        if self.travel == UP:
            return u, v
        if self.travel == DOWN:
            return self.across - 1 - u, self.along - 1 - v
        if self.travel == RIGHT:
            return self.along - 1 - v, u
        return v, self.across - 1 - u

    def direction(self, local: int) -> int:
        x0, y0 = self.point(1, 1)
        x1, y1 = self.point(1 + DX[local], 1 + DY[local])
        return _DIRECTION_OF[(x1 - x0, y1 - y0)]


# ============================================================================================ sketches


@dataclass
class _Placed:
    """An entity drawn on a sketch (local position and facing); the rest are EntityDef fields."""

    u: int
    v: int
    facing: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class _End:
    """One side of a connection: stepping on ``tile`` leaves the map; arriving puts the player on ``arrive``."""

    map: int
    tile: tuple[int, int]
    arrive: tuple[int, int]


class _Sketch:
    """A map being drawn: tiles, keep marks (what decoration must leave alone), entities and endpoints."""

    def __init__(self, width: int, height: int, fill: int) -> None:
        self.w, self.h = width, height
        self.tiles = bytearray([fill]) * (width * height)
        self.keep = bytearray(width * height)
        self.placed: list[_Placed] = []
        self.taken: set[tuple[int, int]] = set()
        self.ends: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
        self.tags: dict[str, int] = {}  # tag -> position in ``placed`` (to find an entity's index later)

    def inside(self, u: int, v: int) -> bool:
        return 0 <= u < self.w and 0 <= v < self.h

    def get(self, u: int, v: int) -> int:
        return self.tiles[v * self.w + u] if self.inside(u, v) else Tile.VOID

    def set(self, u: int, v: int, tile: int, keep: int | None = None) -> None:
        self.tiles[v * self.w + u] = tile
        if keep is not None:
            self.keep[v * self.w + u] = keep

    def mark(self, u: int, v: int) -> int:
        return self.keep[v * self.w + u]

    def rect(self, u0: int, v0: int, u1: int, v1: int, tile: int, keep: int | None = None) -> None:
        """Fills the inclusive rectangle (u0, v0)-(u1, v1)."""
        for v in range(v0, v1 + 1):
            for u in range(u0, u1 + 1):
                self.set(u, v, tile, keep)

    def border(self, tile: int) -> None:
        self.rect(0, 0, self.w - 1, 0, tile, _FIXED)
        self.rect(0, self.h - 1, self.w - 1, self.h - 1, tile, _FIXED)
        self.rect(0, 0, 0, self.h - 1, tile, _FIXED)
        self.rect(self.w - 1, 0, self.w - 1, self.h - 1, tile, _FIXED)

    def put(self, u: int, v: int, facing: int = DOWN, tag: str = "", **fields: Any) -> None:
        """Places an entity (``fields`` are EntityDef fields); ``tag`` names it for :meth:`_Builder.emit`."""
        assert (u, v) not in self.taken, f"two entities at {(u, v)}"
        self.taken.add((u, v))
        if tag:
            self.tags[tag] = len(self.placed)
        self.placed.append(_Placed(u, v, facing, fields))

    def carve(self, a: tuple[int, int], b: tuple[int, int], floor: int, rng: random.Random) -> None:
        """An L-shaped path from ``a`` to ``b`` (horizontal or vertical leg first at random)."""
        (u0, v0), (u1, v1) = a, b
        corner = (u1, v0) if rng.random() < 0.5 else (u0, v1)
        for (ua, va), (ub, vb) in ((a, corner), (corner, b)):
            du = (ub > ua) - (ub < ua)
            dv = (vb > va) - (vb < va)
            u, v = ua, va
            while True:
                if self.mark(u, v) != _FIXED:
                    self.set(u, v, floor, _PATH)
                if (u, v) == (ub, vb):
                    break
                u, v = u + du, v + dv

    def path_neighbours(self, rng: random.Random, tiles: tuple[int, ...] = _WALKABLE_LAWN
                        ) -> list[tuple[int, int, int]]:
        """Free tiles (of ``tiles`` kinds, no entity) next to a path tile, as (u, v, facing toward the path),
        shuffled: the places for people, trainers and items that can always be reached."""
        w, keep, grid = self.w, self.keep, self.tiles
        stand = (*tiles, Tile.CAVE_FLOOR, Tile.FLOOR, Tile.BRIDGE)
        found: dict[tuple[int, int], int] = {}
        for i in range(w * self.h):
            if keep[i] != _PATH or grid[i] not in stand:
                continue
            pu, pv = i % w, i // w
            for d in _DIRS:
                u, v = pu - DX[d], pv - DY[d]  # the spot is opposite to the way it faces
                if 0 < u < w - 1 and 0 < v < self.h - 1 and (u, v) not in found and keep[v * w + u] == _FREE \
                        and grid[v * w + u] in tiles and (u, v) not in self.taken:
                    found[(u, v)] = d
        spots = [(u, v, d) for (u, v), d in sorted(found.items())]
        rng.shuffle(spots)
        return spots


# ============================================================================================ builder


@dataclass
class _Town:
    """A town of the story: its name, gym, and which side each of its exits is on."""

    k: int
    name: str
    gym_type: int
    leader: str
    sides: dict[int, str] = field(default_factory=dict)  # Direction -> "in" | "out" | "side<i>"
    ends: dict[str, _End] = field(default_factory=dict)
    map: int = -1


@dataclass
class _Leg:
    """The way out of town ``k``: its gate (needs badge ``k``) and the maps along it."""

    k: int
    gate: str  # "chop" | "swim" | "shove" | "key" | "badge" | "none"
    key_item: int = -1
    segments: list[str] = field(default_factory=list)  # "route", "cave" (the last route may end in "league")
    names: list[str] = field(default_factory=list)
    travel: list[int] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)  # per segment: a second obstacle ("chop", ...) or ""
    to_league: bool = False
    dead_end: bool = False


@dataclass
class _Side:
    """A dead-end side route off town ``town``."""

    town: int
    name: str
    side: int
    gate: str = ""  # an ability obstacle near its start, or ""
    key_item: int = -1  # the key item its giver hands out (-1: an item lies at the end instead)
    role: str = ""  # the name of its exit in the town's ends


class _Builder:
    """Collects the world's tables while maps are drawn; :meth:`world` freezes them."""

    def __init__(self, size: str, seed: int) -> None:
        self.size, self.seed = size, seed
        self.spec = SIZE_SPECS[size]
        self.rng = random.Random(f"longplay-quest:{size}:{seed}")
        self.maps: list[MapDef] = []
        self.warps: list[Warp] = []
        self.entities: list[EntityDef] = []
        self.trainers: list[TrainerDef] = []
        self.texts: list[str] = []
        self._text_at: dict[str, tuple[int, int]] = {}
        self.shops: list[tuple[int, ...]] = []
        self.events: list[EventDef] = []
        self.event_at: dict[str, int] = {}
        self.species_used: dict[int, int] = {}
        self.names: set[str] = set()
        self.tagged: dict[str, int] = {}  # entity tags (see _Sketch.put) -> entity index
        self.ability_badge: tuple[int, int, int] = (-1, -1, -1)
        self.first_leader = self.rng.randint(*self.spec.first_leader)
        self.start: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.respawn: tuple[int, int, int] = (0, 0, 0)

    # ------------------------------------------------------------------------------------------ tables
    def text(self, text: str) -> tuple[int, int]:
        """(first page, page count) of ``text`` wrapped into text-box pages (identical texts are shared)."""
        if text not in self._text_at:
            lines = wrap(text).split("\n")
            pages = ["\n".join(lines[i:i + 2]) for i in range(0, len(lines), 2)]
            self._text_at[text] = (len(self.texts), len(pages))
            self.texts.extend(pages)
        return self._text_at[text]

    def event(self, event_id: str, name: str, tier: int = 0, milestone: bool = True) -> int:
        """Adds an event; milestones must all be added before the first other event."""
        assert event_id not in self.event_at, event_id
        assert not milestone or all(e.milestone for e in self.events), "milestones come first"
        self.event_at[event_id] = len(self.events)
        self.events.append(EventDef(len(self.events), event_id, name, tier, milestone))
        return self.event_at[event_id]

    def ev(self, event_id: str) -> int:
        return self.event_at[event_id]

    def shop(self, stock: tuple[int, ...]) -> int:
        if stock not in self.shops:
            self.shops.append(stock)
        return self.shops.index(stock)

    def trainer(self, name: str, title: str, party: list[tuple[int, int]], money_rate: int, rank: int = 0,
                badge: int = -1, event: int = -1, defeat: str = "") -> int:
        """A TrainerDef (prize: ``money_rate`` per level of its strongest creature); returns its index."""
        top = max(level for _, level in party)
        defeat_text = self.text(defeat or self.rng.choice(_TRAINER_DEFEAT))[0]
        self.trainers.append(TrainerDef(len(self.trainers), name, title, tuple(party), money_rate * top, rank,
                                        badge, event, defeat_text))
        return len(self.trainers) - 1

    # ------------------------------------------------------------------------------------------ names
    def unique(self, make: Callable[[], str]) -> str:
        """A name from ``make`` not used before in this world."""
        for _ in range(200):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("ran out of names")  # pragma: no cover

    def town_name(self) -> str:
        r = self.rng
        return self.unique(lambda: (r.choice(_NAME_HEADS) + r.choice(_NAME_LINKS[:3])
                                    + r.choice(_TOWN_TAILS)).capitalize())

    def route_name(self) -> str:
        r = self.rng
        return self.unique(lambda: (r.choice(_NAME_HEADS) + r.choice(_ROUTE_TAILS)).capitalize() + " "
                           + r.choice(_ROUTE_KINDS))

    def cave_name(self) -> str:
        r = self.rng
        return self.unique(lambda: (r.choice(_NAME_HEADS) + r.choice(_ROUTE_TAILS)).capitalize() + " "
                           + r.choice(_CAVE_KINDS))

    def person_name(self) -> str:
        r = self.rng
        return (r.choice(_PERSON_SYLLABLES) + r.choice(_PERSON_SYLLABLES).lower() + r.choice(_PERSON_ENDS))

    # ------------------------------------------------------------------------------------------ species
    def pick_species(self, level: int, count: int, types: tuple[int, ...] = (), strongest: bool = False
                     ) -> list[int]:
        """``count`` distinct species suited to ``level`` (of ``types`` when possible), least used first.

        Starters and their stronger forms are never picked (they are the player's and the champion's);
        ``strongest`` prefers the highest power band that suits the level (for leaders and the league)."""
        pool = [s for s in range(len(SPECIES))
                if _BAND_LEVELS[_BANDS[s]][0] <= level <= _BAND_LEVELS[_BANDS[s]][1] and s not in _STARTER_LINES]
        typed = [s for s in pool if set(SPECIES[s].types) & set(types)] if types else pool
        chosen: list[int] = []
        for candidates in (typed, pool):
            ranked = sorted((s for s in candidates if s not in chosen),
                            key=lambda s: (-_BANDS[s] if strongest else 0, self.species_used.get(s, 0),
                                           self.rng.random()))
            chosen.extend(ranked[:count - len(chosen)])
            if len(chosen) == count:
                break
        for s in chosen:
            self.species_used[s] = self.species_used.get(s, 0) + 1
        return chosen

    def wild_table(self, level_lo: int, level_hi: int, types: tuple[int, ...] = (),
                   counters: tuple[int, ...] = ()) -> tuple[Encounter, ...]:
        """3-5 wild species (of ``types`` when possible), common ones first; for each gym type in
        ``counters``, one species with a type that hits it hard (so a counter can be caught before that gym).
        Rarer rows are a level higher."""
        picks: list[int] = []
        for gym_type in counters:
            strong = tuple(t for t in Type if TYPE_CHART[t][gym_type] == 20)
            found = self.pick_species(level_hi, 1, strong) if strong else []
            if found and set(SPECIES[found[0]].types) & set(strong) and found[0] not in picks:
                picks += found
        count = max(3, len(picks) + self.rng.randint(2, 3))
        picks += [s for s in self.pick_species(level_hi, count, types) if s not in picks][:count - len(picks)]
        picks.sort(key=lambda s: (_BANDS[s], -SPECIES[s].catch_rate))
        weights = (35, 25, 20, 12, 8)[:len(picks)]
        return tuple(Encounter(s, level_lo + (i >= 3), level_hi + (i >= 3), w)
                     for i, (s, w) in enumerate(zip(picks, weights, strict=False)))

    # ------------------------------------------------------------------------------------------ maps
    def emit(self, sketch: _Sketch, frame: _Frame, name: str, kind: int, encounters: tuple[Encounter, ...] = (),
             rate: int = 0, enter_event: int = -1, ledges: int = 0) -> tuple[int, dict[str, _End]]:
        """Turns a sketch into a MapDef (through its frame) and its entities; returns the map index and its
        endpoints."""
        index = len(self.maps)
        w, h = frame.size
        tiles, keep = _turn(sketch.tiles, frame), _turn(sketch.keep, frame)
        spots = {frame.point(p.u, p.v) for p in sketch.placed}
        if ledges:
            _add_ledges(tiles, keep, w, h, spots, ledges, self.rng)
        if Tile.TALL_GRASS not in tiles and Tile.CAVE_FLOOR not in tiles:
            encounters, rate = (), 0
        self.maps.append(MapDef(index, name, int(kind), w, h, bytes(tiles), encounters, rate, enter_event))
        for p in sketch.placed:
            x, y = frame.point(p.u, p.v)
            fields = {key: int(value) for key, value in p.fields.items()}  # plain ints, never enum members
            self.entities.append(EntityDef(index=len(self.entities), map=index, x=x, y=y,
                                           facing=int(frame.direction(p.facing)), **fields))
        ends = {key: _End(index, frame.point(*tile), frame.point(*arrive))
                for key, (tile, arrive) in sketch.ends.items()}
        first = len(self.entities) - len(sketch.placed)
        self.tagged.update({tag: first + i for tag, i in sketch.tags.items()})
        return index, ends

    def link(self, a: _End, b: _End) -> None:
        """Warps both ways between two endpoints."""
        self.warps.append(Warp(a.map, a.tile[0], a.tile[1], b.map, b.arrive[0], b.arrive[1]))
        self.warps.append(Warp(b.map, b.tile[0], b.tile[1], a.map, a.arrive[0], a.arrive[1]))


def _turn(grid: bytearray, frame: _Frame) -> bytearray:
    """A sketch's row-major grid in global orientation (see :meth:`_Frame.point`)."""
    w = frame.across
    if frame.travel == UP:
        return bytearray(grid)
    if frame.travel == DOWN:
        return bytearray(reversed(grid))
    if frame.travel == RIGHT:  # global row u is local column u, bottom to top
        return bytearray(b"".join(bytes(reversed(grid[u::w])) for u in range(w)))
    return bytearray(b"".join(bytes(grid[u::w]) for u in reversed(range(w))))  # LEFT


def _add_ledges(tiles: bytearray, keep: bytearray, w: int, h: int, taken: set[tuple[int, int]], count: int,
                rng: random.Random) -> None:
    """Adds up to ``count`` one-way ledge segments on free lawn, then removes any that would trap the player
    (a landing spot from which the tiles above the ledge cannot be walked back to)."""

    def standable(x: int, y: int) -> bool:
        i = y * w + x
        return 0 <= x < w and 0 <= y < h and TILE_WALKABLE[tiles[i]] and tiles[i] not in (Tile.DOOR, Tile.MAT) \
            and (x, y) not in taken

    segments: list[list[tuple[int, int, int]]] = []
    for _ in range(count * 8):
        if len(segments) == count:
            break
        length = rng.randint(3, 6)
        y = rng.randint(3, h - 4)
        x0 = rng.randint(2, max(2, w - 2 - length))
        cells = [(x, y) for x in range(x0, x0 + length)]
        if all(keep[y * w + x] == _FREE and tiles[y * w + x] in _WALKABLE_LAWN and (x, y) not in taken
               and standable(x, y - 1) and standable(x, y + 1) and keep[(y + 1) * w + x] != _FIXED
               for x, y in cells):
            segments.append([(x, y, tiles[y * w + x]) for x, y in cells])
            for x, y in cells:
                tiles[y * w + x] = Tile.LEDGE
    for segment in segments:
        sources = [(x, y + 1) for x, y, _ in segment]
        targets = {(x, y - 1) for x, y, _ in segment}
        seen = set(sources)
        queue = deque(sources)
        found = False
        while queue and not found:
            x, y = queue.popleft()
            for d in _DIRS:
                nx, ny = x + DX[d], y + DY[d]
                if 0 <= nx < w and 0 <= ny < h and tiles[ny * w + nx] == Tile.LEDGE:
                    if d != DOWN:
                        continue
                    ny += 1
                if (nx, ny) in seen or not standable(nx, ny):
                    continue
                if (nx, ny) in targets:
                    found = True
                    break
                seen.add((nx, ny))
                queue.append((nx, ny))
        if not found:
            for x, y, old in segment:
                tiles[y * w + x] = old


# ============================================================================================ the story


def _say(b: _Builder, text: str, after: str = "") -> dict[str, int]:
    """EntityDef text fields for ``text`` (and ``after``, shown once the entity is done)."""
    first, pages = b.text(text)
    fields = {"text": first, "pages": pages}
    if after:
        fields["after_text"], fields["after_pages"] = b.text(after)
    return fields


def _tier(b: _Builder, badges: int) -> int:
    """Milestone tier of something reached holding ``badges`` badges: 0 opening, 1-4 gyms, 5 the league."""
    n = b.spec.gyms
    return 0 if badges == 0 else min(4, 1 + (badges - 1) * 4 // n)


def _make_story(b: _Builder) -> tuple[list[_Town], list[_Leg], list[_Side]]:
    """The abstract progression: towns, gym types, legs with their gates, side routes, and the milestone
    events in the order a player meets them."""
    spec, rng = b.spec, b.rng
    n = spec.gyms
    gym_types = rng.sample(list(Type), n)
    towns = [_Town(k, b.town_name(), gym_types[k], b.person_name()) for k in range(n)]

    # Gates: the leg out of town k needs badge k. Abilities first (each on one of its legs), then key items.
    gates = ["badge"] * n
    ability_badge = [-1, -1, -1]
    for ability in Ability:
        legs = [k for k in spec.ability_legs[ability] if gates[k] == "badge"]
        if legs:
            leg = rng.choice(legs)
            gates[leg] = ("chop", "swim", "shove")[ability]
            ability_badge[ability] = leg
    open_legs = [k for k in range(n - 1) if gates[k] == "badge"]
    key_count = min(rng.choice(spec.key_gates), len(open_legs))
    key_legs = sorted(rng.sample(open_legs, key_count))
    key_items = rng.sample(list(KEY_ITEMS), key_count)
    legs: list[_Leg] = []
    cave_leg = rng.choice(spec.mid_caves) if spec.mid_caves else -1
    for k in range(n if spec.league else 1):
        leg = _Leg(k, gates[k] if spec.league else "none")
        if k in key_legs:
            leg.gate, leg.key_item = "key", key_items[key_legs.index(k)]
        if not spec.league:
            leg.segments, leg.dead_end = ["route"], True
        elif k == n - 1:
            leg.segments, leg.to_league = (["route", "cave", "route"] if spec.league_cave else ["route"]), True
        else:
            leg.segments = ["route", "cave", "route"] if k == cave_leg else ["route"]
        leg.names = [b.cave_name() if s == "cave" else b.route_name() for s in leg.segments]
        legs.append(leg)
    b.ability_badge = (ability_badge[0], ability_badge[1], ability_badge[2])

    # Second obstacles after a leg's gate, with abilities already won.
    for leg in legs:
        leg.extras = [""] * len(leg.segments)
        usable = [("chop", "swim", "shove")[a] for a in Ability if 0 <= ability_badge[a] <= leg.k]
        for i, segment in enumerate(leg.segments[1:], start=1):
            options = ["shove"] if segment == "cave" and "shove" in usable else \
                [u for u in usable if segment == "route"]
            if options and rng.random() < 0.6:
                leg.extras[i] = rng.choice(options)

    # Directions: no leg turns straight back into the town it left.
    came_from = -1
    for leg in legs:
        choices = [d for d in _DIRS if d != came_from]
        first = rng.choice(choices)
        leg.travel = [first] + [rng.choice(list(_DIRS)) for _ in leg.segments[1:]]
        towns[leg.k].sides[first] = "out"
        if leg.k + 1 < n:
            came_from = OPPOSITE[leg.travel[-1]]
            towns[leg.k + 1].sides[came_from] = "in"

    # Side routes: dead ends off towns 1..n-1, the first ones at the towns whose key item they hold.
    sides: list[_Side] = []
    hosts = [leg.k for leg in legs if leg.gate == "key" and leg.k > 0]
    others = [k for k in range(1, n) if k not in hosts]
    rng.shuffle(others)
    for i in range(spec.side_routes):
        town = (hosts + others)[i]
        free = [d for d in _DIRS if d not in towns[town].sides]
        side = _Side(town, b.route_name(), rng.choice(free), role=f"side{i}")
        towns[town].sides[side.side] = side.role
        if town in hosts:
            side.key_item = legs[town].key_item
        usable = [("chop", "swim", "shove")[a] for a in Ability if 0 <= ability_badge[a] < town]
        if usable and rng.random() < 0.7:
            side.gate = rng.choice(usable)
        sides.append(side)

    _register_milestones(b, towns, legs, sides)
    return towns, legs, sides


def _register_milestones(b: _Builder, towns: list[_Town], legs: list[_Leg], sides: list[_Side]) -> None:
    """Milestone events in the order a player meets them (they are the first events of the world)."""
    n = b.spec.gyms
    b.event("left_house", "Left the house", 0)
    b.event("got_partner", "Got a partner", 0)
    b.event(f"reached_{_slug(legs[0].names[0])}", f"Reached {legs[0].names[0]}", 0)
    b.event("first_wild_win", "Won a wild battle", 0)
    b.event("first_catch", "Caught a creature", 0)
    b.event("first_trainer_win", "Beat a trainer", 0)
    firsts = {"chop": ("first_chop", "First chop"), "swim": ("first_swim", "First swim"),
              "shove": ("first_shove", "First shove")}
    for k, town in enumerate(towns):
        badges = k
        if k > 0:
            if k < len(legs):
                b.event(f"reached_{_slug(legs[k].names[0])}", f"Reached {legs[k].names[0]}", _tier(b, badges))
            for side in sides:
                if side.town == k:
                    b.event(f"reached_{_slug(side.name)}", f"Reached {side.name}", _tier(b, badges))
        badge = BADGE_NAMES[town.gym_type]
        b.event(f"badge_{k + 1}", f"Won the {badge} Badge", _tier(b, k + 1))
        if k >= len(legs):
            continue
        leg = legs[k]
        tier = _tier(b, k + 1)
        if leg.gate == "key":
            item = ITEM_NAMES[leg.key_item]
            b.event(f"got_{_slug(item)}", f"Got the {item}", tier)
        if leg.gate in firsts:
            b.event(*firsts[leg.gate], tier)
        for name in leg.names[1:]:
            b.event(f"reached_{_slug(name)}", f"Reached {name}", tier)
        if k + 1 < n:
            b.event(f"reached_{_slug(towns[k + 1].name)}", f"Reached {towns[k + 1].name}", tier)
    if b.spec.league:
        b.event("entered_league", "Entered the league", 5)
        for i in range(4):
            b.event(f"beat_elite_{i + 1}", f"Beat elite {i + 1}", 5)
        b.event("became_champion", "Became the champion", 5)


# ============================================================================================ towns


def _town_layout(rng: random.Random, sides: dict[int, str], buildings: list[tuple[str, str]]) -> _Sketch:
    """Tree-bordered lawn with an exit corridor per side, buildings with doors facing south, and paths
    joining every exit and door. Tries growing sizes until everything fits."""
    grow = 0
    while True:
        sketch = _try_town_layout(rng, sides, buildings, 20 + 2 * len(buildings) // 2 + grow,
                                  18 + grow // 2 + len(buildings) // 3)
        if sketch is not None:
            return sketch
        grow += 2


def _try_town_layout(rng: random.Random, sides: dict[int, str], buildings: list[tuple[str, str]],
                     width: int, height: int) -> _Sketch | None:
    width += rng.randint(0, 3)
    height += rng.randint(0, 2)
    sk = _Sketch(width, height, Tile.GROUND)
    sk.border(Tile.TREE)
    hubs: list[tuple[int, int]] = []
    for side in sorted(sides):
        role = sides[side]
        inward = OPPOSITE[side]
        along = width if side in (UP, DOWN) else height
        p = rng.randint(4, along - 5)
        edge = {UP: (p, 0), DOWN: (p, height - 1), LEFT: (0, p), RIGHT: (width - 1, p)}[side]
        ix, iy = DX[inward], DY[inward]
        cells = [(edge[0] + ix * i, edge[1] + iy * i) for i in range(3)]
        for i, (x, y) in enumerate(cells):
            sk.set(x, y, Tile.GROUND, _FIXED)
            if i:
                for s in (-1, 1):  # corridor walls
                    sk.set(x + iy * s, y + ix * s, Tile.TREE, _FIXED)
        mouth = (edge[0] + ix * 3, edge[1] + iy * 3)
        sk.set(*mouth, Tile.GROUND, _PATH)
        sk.ends[role] = (cells[0], cells[1])
        sk.ends[role + ":guard"] = (cells[2], cells[2])
        hubs.append(mouth)
    for key, kind in buildings:
        bw, bh = _FOOTPRINTS[kind]
        # Summed-area table of kept tiles: a footprint (with a one-tile margin) fits where it sums to 0.
        kept = sk.keep.translate(_NONZERO)
        area = [[0] * (width + 1)]
        for y in range(height):
            row = accumulate(kept[y * width:(y + 1) * width], initial=0)
            area.append([above + here for above, here in zip(area[-1], row, strict=True)])
        fits = [(bx, by) for by in range(2, height - 2 - bh) for bx in range(2, width - 2 - bw)
                if area[by + bh + 1][bx + bw + 1] - area[by - 1][bx + bw + 1] - area[by + bh + 1][bx - 1]
                + area[by - 1][bx - 1] == 0]
        if not fits:
            return None
        bx, by = rng.choice(fits)
        sk.rect(bx, by, bx + bw - 1, by + bh - 1, Tile.ROOF, _FIXED)
        door = (bx + bw // 2, by + bh - 1)
        front = (door[0], door[1] + 1)
        sk.set(*door, Tile.DOOR, _FIXED)
        sk.set(*front, Tile.GROUND, _FIXED)
        sk.ends[key] = (door, front)
        hubs.append(front)
    # Paths: each hub is joined to the network grown so far by a breadth-first shortest path over lawn.
    size = width * height
    passable = bytearray(size)  # the border is all trees, so a step never wraps around a row
    for i in range(size):
        passable[i] = sk.tiles[i] == Tile.GROUND and sk.keep[i] != _FIXED
    for x, y in hubs:
        passable[y * width + x] = 1
    net = bytearray(size)
    net[hubs[0][1] * width + hubs[0][0]] = 1
    for hx, hy in hubs[1:]:
        steps = [-width, width, -1, 1]
        rng.shuffle(steps)
        start_i = hy * width + hx
        came = {start_i: -1}
        queue = deque([start_i])
        goal = -1
        while queue:
            cur = queue.popleft()
            if net[cur]:
                goal = cur
                break
            for step in steps:
                nxt = cur + step
                if passable[nxt] and nxt not in came:
                    came[nxt] = cur
                    queue.append(nxt)
        if goal < 0:
            return None
        while goal >= 0:
            net[goal] = 1
            if sk.keep[goal] != _FIXED:
                sk.tiles[goal], sk.keep[goal] = Tile.GROUND, _PATH
            goal = came[goal]
    for hub in hubs:
        sk.keep[hub[1] * width + hub[0]] = max(sk.mark(*hub), _PATH)
    return sk


def _decorate_lawn(sk: _Sketch, rng: random.Random, trees: int, flowers: float, ponds: int) -> None:
    """Trees, flower beds and ponds on free lawn (never on paths, corridors or next to doors)."""
    free = [(i % sk.w, i // sk.w) for i in range(sk.w * sk.h)
            if sk.keep[i] == _FREE and sk.tiles[i] == Tile.GROUND]
    for _ in range(ponds):
        pw, ph = rng.randint(2, 4), rng.randint(2, 3)
        u0, v0 = rng.choice(free) if free else (1, 1)
        cells = [(u, v) for v in range(v0, v0 + ph) for u in range(u0, u0 + pw)]
        if all(sk.inside(u, v) and sk.mark(u, v) == _FREE and sk.get(u, v) == Tile.GROUND for u, v in cells):
            for u, v in cells:
                sk.set(u, v, Tile.WATER)
    for _ in range(trees):
        u0, v0 = rng.choice(free) if free else (1, 1)
        for u, v in ((u0, v0), (u0 + 1, v0), (u0, v0 + 1), (u0 + 1, v0 + 1))[:rng.choice((1, 2, 4))]:
            if sk.inside(u, v) and sk.mark(u, v) == _FREE and sk.get(u, v) == Tile.GROUND:
                sk.set(u, v, Tile.TREE)
    for u, v in free:
        i = v * sk.w + u
        if sk.tiles[i] == Tile.GROUND and rng.random() < flowers:
            sk.tiles[i] = Tile.FLOWERS


# ============================================================================================ interiors


def _room(width: int, height: int, mat: int) -> _Sketch:
    """Walls around a floor, the exit mat in the bottom wall at column ``mat`` (its end is "door")."""
    sk = _Sketch(width, height, Tile.FLOOR)
    sk.border(Tile.WALL)
    sk.set(mat, height - 1, Tile.MAT, _FIXED)
    sk.set(mat, height - 2, Tile.FLOOR, _FIXED)
    sk.ends["door"] = ((mat, height - 1), (mat, height - 2))
    return sk


def _free_floor(sk: _Sketch, rng: random.Random, rows: tuple[int, int]) -> tuple[int, int]:
    """A random free floor tile (no entity, not kept clear) in the row range."""
    cells = [(u, v) for v in range(rows[0], rows[1] + 1) for u in range(1, sk.w - 1)
             if sk.get(u, v) == Tile.FLOOR and sk.mark(u, v) == _FREE and (u, v) not in sk.taken]
    return rng.choice(cells)


def _house(b: _Builder, name: str, people: list[dict[str, Any]]) -> tuple[int, dict[str, _End], tuple[int, int]]:
    """A house: shelves along the back wall and the given people (EntityDef fields). Returns the map, its
    ends and a free floor tile (the start position in the player's house)."""
    rng = b.rng
    sk = _room(8, 7, rng.randint(2, 5))
    for u in range(1, 7):
        if rng.random() < 0.5:
            sk.set(u, 1, Tile.SHELF)
    spot = _free_floor(sk, rng, (2, 4))
    sk.keep[spot[1] * sk.w + spot[0]] = _FIXED
    for fields in people:
        u, v = _free_floor(sk, rng, (2, 4))
        sk.put(u, v, rng.choice(list(_DIRS)), **fields)
    index, ends = b.emit(sk, _Frame(UP, sk.w, sk.h), name, MapKind.HOUSE)
    return index, ends, spot


def _counter_room(b: _Builder, name: str, kind: int, width: int, attendant: dict[str, Any],
                  people: list[dict[str, Any]]) -> tuple[int, dict[str, _End], tuple[int, int]]:
    """A centre or shop: a counter across the room, the attendant on the floor behind it. Returns the map,
    its ends and the tile in front of the counter facing the attendant."""
    rng = b.rng
    middle = width // 2
    sk = _room(width, 8, middle)
    sk.rect(1, 3, width - 2, 3, Tile.COUNTER, _FIXED)
    for u in range(1, width - 1):
        if u != middle and rng.random() < 0.6:
            sk.set(u, 1, Tile.SHELF)
    sk.put(middle, 2, DOWN, **attendant)
    sk.set(middle, 4, Tile.FLOOR, _FIXED)
    for fields in people:
        u, v = _free_floor(sk, rng, (4, 6))
        sk.put(u, v, rng.choice(list(_DIRS)), **fields)
    index, ends = b.emit(sk, _Frame(UP, sk.w, sk.h), name, kind)
    return index, ends, (middle, 4)


def _lab(b: _Builder, name: str, got_partner: int, professor: str) -> tuple[int, dict[str, _End]]:
    """The lab: three partner capsules on a table; taking one hides the others (one capsule group)."""
    sk = _room(11, 9, 5)
    for u in range(1, 10):
        if b.rng.random() < 0.6:
            sk.set(u, 1, Tile.SHELF)
    sk.rect(4, 3, 6, 3, Tile.SHELF, _FIXED)
    for i, species in enumerate(STARTERS):
        s = SPECIES[species]
        sk.put(4 + i, 3, DOWN, tag=f"capsule{i}", kind=EntityKind.CAPSULE, sprite=Sprite.CAPSULE,
               species=species, level=5, sets_event=got_partner, group=0,
               **_say(b, f"A capsule with {s.name}, a {TYPE_NAMES[s.types[0]]} type. It is yours now!"))
    sk.put(8, 4, LEFT, kind=EntityKind.PERSON, sprite=Sprite.ELDER,
           **_say(b, f"I am Professor {professor}. Pick a partner from the capsules on my table! "
                     "Then go and win badges."))
    return b.emit(sk, _Frame(UP, sk.w, sk.h), name, MapKind.LAB)


def _gym(b: _Builder, town: _Town, leader_trainer: int, gym_trainers: list[int], guide: str,
         after: str) -> tuple[int, dict[str, _End]]:
    """A gym: an entrance hall, then an aisle up to the leader (challenged when talked to) with the gym's
    trainers beside it, each seeing the aisle."""
    rng = b.rng
    sk = _room(11, 14, 5)
    sk.rect(1, 11, 9, 11, Tile.WALL, _FIXED)
    sk.set(5, 11, Tile.FLOOR, _FIXED)
    sk.rect(5, 3, 5, 12, Tile.FLOOR, _FIXED)
    sk.set(4, 2, Tile.SHELF, _FIXED)
    sk.set(6, 2, Tile.SHELF, _FIXED)
    trainer = b.trainers[leader_trainer]
    sk.put(5, 2, DOWN, tag=f"leader{town.k}", kind=EntityKind.TRAINER, sprite=Sprite.LEADER,
           trainer=leader_trainer,
           **_say(b, f"I am {trainer.name}, Leader of {town.name}! My {TYPE_NAMES[town.gym_type]} team will "
                     "test you!", after))
    for row, t in zip((9, 7, 5), gym_trainers, strict=False):
        side = rng.choice((-1, 1))
        u = 5 + 2 * side
        sk.set(5 + side, row, Tile.FLOOR, _FIXED)
        sk.put(u, row, RIGHT if side < 0 else LEFT, kind=EntityKind.TRAINER, sprite=Sprite.TRAINER, trainer=t,
               sight=2, **_say(b, f"{b.trainers[t].title} {b.trainers[t].name}: "
                                  + rng.choice(("Get past me first!", "The Leader is too strong for you!",
                                                "Our gym is the best!")),
                               rng.choice(_TRAINER_AFTER)))
        sk.keep[row * sk.w + u] = _FIXED
    for u in (1, 2, 8, 9):
        for v in range(2, 10):
            if sk.mark(u, v) == _FREE and (u, v) not in sk.taken and rng.random() < 0.2:
                sk.set(u, v, Tile.SHELF)
    sk.put(3, 12, RIGHT, kind=EntityKind.PERSON, sprite=Sprite.PERSON, **_say(b, guide))
    return b.emit(sk, _Frame(UP, sk.w, sk.h), f"{town.name} Gym", MapKind.GYM)


def _league(b: _Builder, name: str, members: list[int], heal_text: str, shop: int
            ) -> tuple[int, dict[str, _End]]:
    """The league: a lobby (healer and clerk behind counters) and one room per member, each room's exit
    held by a guard until its member is beaten. Returns the lobby map and its ends."""
    lobby = _room(11, 10, 5)
    lobby.set(5, 0, Tile.MAT, _FIXED)
    lobby.set(5, 1, Tile.FLOOR, _FIXED)
    lobby.ends["next"] = ((5, 0), (5, 1))
    for u0, attendant in ((1, "healer"), (7, "clerk")):
        lobby.rect(u0, 3, u0 + 2, 3, Tile.COUNTER, _FIXED)
        lobby.rect(u0 - 1 if u0 == 7 else u0 + 3, 1, u0 - 1 if u0 == 7 else u0 + 3, 3, Tile.WALL, _FIXED)
        if attendant == "healer":
            lobby.put(u0 + 1, 2, DOWN, kind=EntityKind.HEALER, sprite=Sprite.HEALER, **_say(b, heal_text))
        else:
            lobby.put(u0 + 1, 2, DOWN, kind=EntityKind.CLERK, sprite=Sprite.CLERK, shop=shop,
                      **_say(b, "Last chance to stock up!"))
    lobby_index, lobby_ends = b.emit(lobby, _Frame(UP, lobby.w, lobby.h), name, MapKind.LEAGUE,
                                     enter_event=b.ev("entered_league"))
    previous = lobby_ends["next"]
    for i, t in enumerate(members):
        trainer = b.trainers[t]
        champion = i == len(members) - 1
        room = _room(11, 10, 5)
        room.set(4, 3, Tile.SHELF, _FIXED)
        room.set(6, 3, Tile.SHELF, _FIXED)
        for u in (1, 2, 9):  # statues along the side walls
            for v in range(4, 8):
                if b.rng.random() < 0.3:
                    room.set(u, v, Tile.SHELF)
        room.put(5, 3, DOWN, tag=f"member{i}", kind=EntityKind.TRAINER,
                 sprite=Sprite.RIVAL if champion else Sprite.ELITE, trainer=t,
                 **_say(b, f"{trainer.title} {trainer.name}: "
                           + ("So you made it. I am the champion. Show me everything!" if champion else
                              f"I am elite number {i + 1}. Few get past me!"),
                        "Go on. The next room awaits." if not champion else "You are the champion now!"))
        if not champion:
            room.set(8, 0, Tile.MAT, _FIXED)
            room.rect(7, 1, 7, 2, Tile.WALL, _FIXED)
            room.rect(9, 1, 9, 2, Tile.WALL, _FIXED)
            room.rect(8, 1, 8, 3, Tile.FLOOR, _FIXED)
            room.ends["next"] = ((8, 0), (8, 1))
            room.put(8, 2, DOWN, kind=EntityKind.GUARD, sprite=Sprite.GUARD, hide_event=trainer.event,
                     **_say(b, f"Beat {trainer.name} first. Then the way on is open."))
        title = "Champion Room" if champion else f"Elite Room {i + 1}"
        _, ends = b.emit(room, _Frame(UP, room.w, room.h), title, MapKind.LEAGUE)
        b.link(previous, ends["door"])
        previous = ends.get("next", previous)
    return lobby_index, lobby_ends


# ============================================================================================ routes, caves


@dataclass
class _Barrier:
    """A full-width obstacle across a route or cave with one way through (drawn in the local frame).

    kind: "tree" (a CUT_TREE in a tree line), "guard" (a GUARD in a tree line), "water" (a river to swim),
    "bridge" (a river with a bridge: decoration), "boulder" (a BOULDER to shove into a niche beside it).
    """

    kind: str
    entity: dict[str, Any] = field(default_factory=dict)
    v: int = 0
    g: int = 0


def _lay_path(sk: _Sketch, rng: random.Random, start: tuple[int, int], end: tuple[int, int],
              barriers: list[_Barrier], low: int, high: int, floor: int, wall: int, line: int,
              bends: tuple[int, int] = (4, 7)) -> None:
    """Draws ``barriers`` (bottom to top) between rows ``high`` (top) and ``low`` (bottom), and a winding
    path from ``start`` (bottom) to ``end`` (top) through each barrier's one way. ``line`` is the tile of a
    tree line, ``wall`` of rock. The bottom :data:`_OPEN_SHARE` of the way stays free of barriers: it is
    where the player trains before the gate opens."""
    if barriers:
        low_barrier = low - int(_OPEN_SHARE * (low - high))
        slot = (low_barrier - high) / len(barriers)
        for i, barrier in enumerate(barriers):
            bottom = low_barrier - int(slot * i)
            top = low_barrier - int(slot * (i + 1))
            barrier.v = rng.randint(top + 3, max(top + 3, bottom - 3))
            barrier.g = rng.randint(3, sk.w - 4)
    points: list[tuple[int, int]] = [start]
    crossings: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for barrier in barriers:
        v, g = barrier.v, barrier.g
        if barrier.kind in ("tree", "guard"):
            sk.rect(1, v, sk.w - 2, v, line, _FIXED)
            sk.set(g, v, floor, _FIXED)
            sk.put(g, v, DOWN, **barrier.entity)
            enter, leave = (g, v + 1), (g, v - 1)
        elif barrier.kind in ("water", "bridge"):
            sk.rect(1, v - 1, sk.w - 2, v + 1, Tile.WATER, _FIXED)
            if barrier.kind == "bridge":
                sk.rect(g, v - 1, g, v + 1, Tile.BRIDGE, _FIXED)
            enter, leave = (g, v + 2), (g, v - 2)
        else:  # boulder: approach beside it, shove it sideways into the niche, go on where it stood
            side = rng.choice((-1, 1))
            sk.rect(1, v - 1, sk.w - 2, v + 1, wall, _FIXED)
            for u, vv in ((g - side, v + 1), (g - side, v), (g, v), (g + side, v), (g, v - 1)):
                sk.set(u, vv, floor, _FIXED)
            sk.put(g, v, DOWN, **barrier.entity)
            enter, leave = (g - side, v + 2), (g, v - 2)
        points += [enter, leave]
        crossings.append((enter, leave))
    points.append(end)
    # Bends between the fixed points, about every six rows.
    for a, b in zip(points[::2], points[1::2], strict=True):
        route = [a]
        v = a[1] - rng.randint(*bends)
        while v > b[1] + 2:
            route.append((rng.randint(2, sk.w - 3), v))
            v -= rng.randint(*bends)
        route.append(b)
        for p, q in zip(route, route[1:], strict=False):
            sk.carve(p, q, floor, rng)
    for enter, leave in crossings:
        for u, v in (enter, leave):
            if sk.mark(u, v) != _FIXED:
                sk.set(u, v, floor, _PATH)


def _patch(sk: _Sketch, rng: random.Random, anchor: tuple[int, int], tile: int, on_path: bool) -> None:
    """A rectangle of ``tile`` around ``anchor`` over ground (and path tiles when ``on_path``)."""
    pw, ph = rng.randint(3, 6), rng.randint(2, 4)
    u0, v0 = anchor[0] - rng.randint(0, pw - 1), anchor[1] - rng.randint(0, ph - 1)
    for v in range(max(1, v0), min(sk.h - 1, v0 + ph)):
        for u in range(max(1, u0), min(sk.w - 1, u0 + pw)):
            mark = sk.mark(u, v)
            if sk.get(u, v) == Tile.GROUND and (mark == _FREE or (on_path and mark == _PATH)) \
                    and (u, v) not in sk.taken:
                sk.set(u, v, tile)


def _path_cells(sk: _Sketch, rows: tuple[int, int]) -> list[tuple[int, int]]:
    return [(u, v) for v in range(rows[0], rows[1] + 1) for u in range(1, sk.w - 1) if sk.mark(u, v) == _PATH]


@dataclass
class _AreaPlan:
    """What to put on one route or cave besides its shape."""

    name: str
    stage: int  # badges the player holds when first here
    entry: str  # "edge" | "door"
    exit: str  # "edge" | "door" | "facade" | "dead"
    barriers: list[_Barrier]
    sign: str = ""
    goal: dict[str, Any] | None = None  # entity at a dead end's end
    short: bool = False  # side routes are shorter
    beyond_stage: int = -1  # badges held past the first barrier (-1: same as ``stage``)
    counters: tuple[int, ...] = ()  # gym types the wild creatures here should include a counter to


def _route(b: _Builder, plan: _AreaPlan, travel: int) -> tuple[int, dict[str, _End]]:
    """A route: trees around, entry at the bottom and exit at the top (in its local frame), barriers across,
    a winding path, tall grass (always some on the path before the first barrier), trees, flowers, ponds,
    ledges, trainers beside the path facing it, items, a sign and maybe a hint."""
    rng = b.rng
    across = rng.randint(12, 18)
    along = rng.randint(20, 26) if plan.short else rng.randint(30, 42)
    sk = _Sketch(across, along, Tile.GROUND)
    sk.border(Tile.TREE)
    ue, uo = rng.randint(3, across - 4), rng.randint(3, across - 4)
    if plan.entry == "edge":
        sk.set(ue, along - 1, Tile.GROUND, _FIXED)
        sk.set(ue, along - 2, Tile.GROUND, _FIXED)
        sk.ends["in"] = ((ue, along - 1), (ue, along - 2))
        start, low = (ue, along - 2), along - 4
    else:
        sk.rect(1, along - 2, across - 2, along - 2, Tile.WALL, _FIXED)
        sk.set(ue, along - 2, Tile.DOOR, _FIXED)
        sk.set(ue, along - 3, Tile.GROUND, _FIXED)
        sk.ends["in"] = ((ue, along - 2), (ue, along - 3))
        start, low = (ue, along - 3), along - 5
    if plan.exit == "edge":
        sk.set(uo, 0, Tile.GROUND, _FIXED)
        sk.set(uo, 1, Tile.GROUND, _FIXED)
        sk.ends["out"] = ((uo, 0), (uo, 1))
        end = (uo, 1)
    elif plan.exit in ("door", "facade"):
        rows = 1 if plan.exit == "door" else 3
        sk.rect(1, 1, across - 2, rows, Tile.WALL if plan.exit == "door" else Tile.ROOF, _FIXED)
        sk.set(uo, rows, Tile.DOOR, _FIXED)
        sk.set(uo, rows + 1, Tile.GROUND, _FIXED)
        sk.ends["out"] = ((uo, rows), (uo, rows + 1))
        end = (uo, rows + 1)
    else:  # dead end: the goal stands at the top of the path
        sk.set(uo, 2, Tile.GROUND, _FIXED)
        end = (uo, 3)
        if plan.goal is not None:
            sk.put(uo, 2, DOWN, **plan.goal)
    high = end[1] + 2
    barriers = list(plan.barriers)
    if rng.random() < 0.4 and (1 - _OPEN_SHARE) * (low - high) / (len(barriers) + 1) >= 7:
        barriers.insert(rng.randint(0, len(barriers)), _Barrier("bridge"))
    _lay_path(sk, rng, start, end, barriers, low, high, Tile.GROUND, Tile.WALL, Tile.TREE)

    # Tall grass: one patch on the path before the first real barrier, one after it, a few anywhere.
    first_v = next((x.v for x in barriers if x.kind != "bridge"), high)
    before = _path_cells(sk, (first_v + 2, low))
    after = _path_cells(sk, (high, first_v - 2))
    for cells in (before, after):
        if cells:
            _patch(sk, rng, rng.choice(cells), Tile.TALL_GRASS, on_path=True)
    for _ in range(rng.randint(2, 4)):
        _patch(sk, rng, (rng.randint(1, across - 2), rng.randint(high, low)), Tile.TALL_GRASS,
               on_path=rng.random() < 0.5)
    _decorate_lawn(sk, rng, trees=rng.randint(4, 9), flowers=0.04, ponds=rng.randint(0, 1))

    # People. Trainers beside the path, facing it; levels follow the part of the route they stand in.
    spots = sk.path_neighbours(rng)
    entry_spots = [s for s in spots if s[1] >= low - 4]
    if plan.sign and entry_spots:
        u, v, facing = entry_spots[0]
        spots.remove(entry_spots[0])
        sk.put(u, v, DOWN, kind=EntityKind.SIGN, sprite=Sprite.SIGN, **_say(b, plan.sign))
    for _ in range(min(len(spots), rng.randint(*b.spec.route_trainers))):
        u, v, facing = spots.pop()
        stage = plan.stage if v > first_v or plan.beyond_stage < 0 else plan.beyond_stage
        sk.put(u, v, facing, kind=EntityKind.TRAINER, sprite=Sprite.TRAINER, sight=rng.randint(2, 4),
               **_route_trainer(b, stage))
    for _ in range(min(len(spots), rng.randint(1, 3))):
        u, v, _ = spots.pop()
        sk.put(u, v, DOWN, kind=EntityKind.ITEM, sprite=Sprite.ITEM_ORB, **_ground_item(b, plan.stage))
    if spots and rng.random() < 0.5:
        u, v, facing = spots.pop()
        sk.put(u, v, facing, kind=EntityKind.PERSON, sprite=Sprite.PERSON,
               **_say(b, rng.choice(("Tall grass hides wild creatures. Weaken one, then throw an Orb!",
                                     "Trainers battle anyone who walks into their view.",
                                     "Hop down a ledge to take a shortcut back.",
                                     "Faint and you wake up at the last centre you rested in."))))
    lo_level, hi_level = _wild_levels(b, plan.stage)
    types = tuple(rng.sample(list(Type), 2)) if rng.random() < 0.6 else ()
    encounters = b.wild_table(lo_level, hi_level, types, plan.counters)
    return b.emit(sk, _Frame(travel, across, along), plan.name, MapKind.ROUTE, encounters, rng.randint(22, 32),
                  b.ev(f"reached_{_slug(plan.name)}"), ledges=rng.randint(0, 2))


def _cave(b: _Builder, plan: _AreaPlan, travel: int) -> tuple[int, dict[str, _End]]:
    """A cave: rock all round, a mat in the bottom and top walls, a winding passage (widened), side
    chambers, hikers, items and boulders wedged into corners (immovable decoration)."""
    rng = b.rng
    across, along = rng.randint(18, 24), rng.randint(20, 28)
    sk = _Sketch(across, along, Tile.CAVE_WALL)
    ue, uo = rng.randint(3, across - 4), rng.randint(3, across - 4)
    sk.set(ue, along - 1, Tile.MAT, _FIXED)
    sk.set(ue, along - 2, Tile.CAVE_FLOOR, _FIXED)
    sk.ends["in"] = ((ue, along - 1), (ue, along - 2))
    sk.set(uo, 0, Tile.MAT, _FIXED)
    sk.set(uo, 1, Tile.CAVE_FLOOR, _FIXED)
    sk.ends["out"] = ((uo, 0), (uo, 1))
    for u in range(across):  # the border stays rock
        sk.keep[u] = sk.keep[(along - 1) * across + u] = _FIXED
    for v in range(along):
        sk.keep[v * across] = sk.keep[v * across + across - 1] = _FIXED
    _lay_path(sk, rng, (ue, along - 2), (uo, 1), plan.barriers, along - 4, 3, Tile.CAVE_FLOOR, Tile.CAVE_WALL,
              Tile.CAVE_WALL, bends=(3, 5))
    path = _path_cells(sk, (1, along - 2))
    for u, v in path:  # a wider, rougher passage
        d = rng.choice(_DIRS)
        nu, nv = u + DX[d], v + DY[d]
        if sk.mark(nu, nv) == _FREE and rng.random() < 0.5:
            sk.set(nu, nv, Tile.CAVE_FLOOR)
    for _ in range(rng.randint(4, 7)):  # side tunnels ending in chambers
        u, v = rng.choice(path)
        d = rng.choice(_DIRS)
        for _ in range(rng.randint(5, 14)):
            if rng.random() < 0.3:
                d = rng.choice(_DIRS)
            if sk.mark(u + DX[d], v + DY[d]) == _FIXED:  # the border, mats and barriers stay
                break
            u, v = u + DX[d], v + DY[d]
            if sk.mark(u, v) == _FREE:
                sk.set(u, v, Tile.CAVE_FLOOR)
        pw, ph = rng.randint(2, 5), rng.randint(2, 4)
        for cv in range(v - ph // 2, v - ph // 2 + ph):
            for cu in range(u - pw // 2, u - pw // 2 + pw):
                if sk.inside(cu, cv) and sk.mark(cu, cv) == _FREE:
                    sk.set(cu, cv, Tile.CAVE_FLOOR)
    spots = sk.path_neighbours(rng, (Tile.CAVE_FLOOR,))
    for _ in range(min(len(spots), rng.randint(1, 3))):
        u, v, facing = spots.pop()
        sk.put(u, v, facing, kind=EntityKind.TRAINER, sprite=Sprite.TRAINER, sight=rng.randint(2, 4),
               **_route_trainer(b, plan.stage, "Hiker"))
    for _ in range(min(len(spots), rng.randint(2, 3))):
        u, v, _ = spots.pop()
        sk.put(u, v, DOWN, kind=EntityKind.ITEM, sprite=Sprite.ITEM_ORB, **_ground_item(b, plan.stage))
    walls = (Tile.CAVE_WALL,)
    corners = [(u, v) for v in range(2, along - 2) for u in range(2, across - 2)
               if sk.get(u, v) == Tile.CAVE_FLOOR and sk.mark(u, v) == _FREE and (u, v) not in sk.taken
               and (sk.get(u - 1, v) in walls or sk.get(u + 1, v) in walls)
               and (sk.get(u, v - 1) in walls or sk.get(u, v + 1) in walls)]
    rng.shuffle(corners)
    for u, v in corners[:rng.randint(1, 3)]:
        sk.put(u, v, DOWN, kind=EntityKind.BOULDER, sprite=Sprite.BOULDER)
    lo_level, hi_level = _wild_levels(b, plan.stage)
    encounters = b.wild_table(lo_level, hi_level, _CAVE_TYPES, plan.counters)
    return b.emit(sk, _Frame(travel, across, along), plan.name, MapKind.CAVE, encounters, rng.randint(10, 16),
                  b.ev(f"reached_{_slug(plan.name)}"))


# ============================================================================================ levels, teams


def _leader_level(b: _Builder, k: int) -> int:
    return b.first_leader + b.spec.level_step * k


def _league_level(b: _Builder) -> int:
    """Level of the first elite's strongest creature."""
    return _leader_level(b, b.spec.gyms - 1) + 3


def _stage_level(b: _Builder, badges: int) -> int:
    """The level a player holding ``badges`` badges is training toward (the next leader's)."""
    if badges >= b.spec.gyms:
        return _league_level(b) + 1  # the way to the league: wild creatures to train up for it
    return _leader_level(b, badges)


def _wild_levels(b: _Builder, badges: int) -> tuple[int, int]:
    top = _stage_level(b, badges)
    return max(2, top - 7), max(4, top - 4)


def _route_trainer(b: _Builder, badges: int, title: str = "") -> dict[str, Any]:
    """EntityDef fields of a route trainer (its TrainerDef made here): 1-3 creatures a bit below the next
    leader."""
    rng = b.rng
    if not title:
        title, types = rng.choice(_TRAINER_TITLES)
    else:
        types = dict(_TRAINER_TITLES)[title]
    size = rng.choice((1, 1, 2, 2, 3)) if badges > 0 else rng.choice((1, 1, 2))
    top = max(3, _stage_level(b, badges) - 4 - (size == 3))
    species = b.pick_species(top, size, types)
    party = [(s, max(2, top - rng.randint(0, 2) * (i < size - 1))) for i, s in enumerate(species)]
    name = b.person_name()
    t = b.trainer(name, title, party, 12)
    return {"trainer": t, **_say(b, f"{title} {name}: {rng.choice(_TRAINER_LINES)}", rng.choice(_TRAINER_AFTER))}


def _ground_item(b: _Builder, badges: int) -> dict[str, Any]:
    """EntityDef fields of an item orb: a stage-appropriate item, cheap ones in small stacks."""
    item = b.rng.choice(_stock(_GROUND_ITEMS, badges / max(1, b.spec.gyms - 1)))
    return {"item": item, "count": b.rng.choice((1, 1, 2, 3)) if item in _BULK_ITEMS else 1}


# ============================================================================================ towns with
#                                                                                              their buildings

_ABILITY_VERBS = ("chop small trees", "swim across water", "shove boulders")
_GATE_ABILITY = {"chop": Ability.CHOP, "swim": Ability.SWIM, "shove": Ability.SHOVE}


def _counter_hint(rng: random.Random, gym_type: int) -> str:
    strong = [TYPE_NAMES[c] for c in Type if TYPE_CHART[c][gym_type] == 20]
    return f"{rng.choice(strong)} moves hit them hard!" if strong else "Nothing hits them extra hard. Level up!"


def _gate_hint(b: _Builder, towns: list[_Town], leg: _Leg, sides: list[_Side]) -> str:
    """What a person in town ``leg.k`` says about the way on."""
    badge = BADGE_NAMES[towns[leg.k].gym_type]
    route = leg.names[0]
    if leg.gate in _GATE_ABILITY:
        what = {"chop": "A small tree blocks", "swim": "Deep water cuts across",
                "shove": "A big boulder blocks"}[leg.gate]
        return f"{what} {route}. With the {badge} Badge your team can " \
               f"{_ABILITY_VERBS[_GATE_ABILITY[leg.gate]]}."
    if leg.gate == "key":
        item = ITEM_NAMES[leg.key_item]
        side = next((s for s in sides if s.key_item == leg.key_item), None)
        where = f"at the end of {side.name}" if side else "in the elder's house"
        return f"The guard on {route} wants {_a(item)}. Win the {badge} Badge, then ask the elder {where}."
    if leg.to_league:
        return f"The road to the league starts at {route}. Its guard wants all {b.spec.gyms} badges."
    if leg.gate == "badge":
        return f"The guard on {route} lets only holders of the {badge} Badge pass."
    return "Wild creatures live in the tall grass. Train there before the gym!"


def _build_town(b: _Builder, towns: list[_Town], k: int, legs: list[_Leg], sides: list[_Side],
                elder_house: bool) -> None:
    """A town map (signs, people with hints, in town 0 the partner guard), then its buildings' insides."""
    rng, town = b.rng, towns[k]
    leg = legs[k] if k < len(legs) else None
    buildings = [("gym", "gym"), ("centre", "centre"), ("shop", "shop"), ("house0", "house")]
    if k == 0:
        buildings[1:1] = [("lab", "lab"), ("home", "house")]
    if rng.random() < 0.5:
        buildings.append(("house1", "house"))
    if elder_house:
        buildings.append(("elder", "house"))
    sk = _town_layout(rng, town.sides, buildings)
    _decorate_lawn(sk, rng, trees=rng.randint(3, 7), flowers=0.06, ponds=rng.choice((0, 0, 1)))
    spots = sk.path_neighbours(rng)
    u, v, _ = spots.pop()
    sk.put(u, v, DOWN, kind=EntityKind.SIGN, sprite=Sprite.SIGN,
           **_say(b, f"{town.name}. {rng.choice(_TOWN_TAGLINES)}."))
    u, v, _ = spots.pop()
    sk.put(u, v, DOWN, kind=EntityKind.SIGN, sprite=Sprite.SIGN,
           **_say(b, f"{town.name} Gym. Leader {town.leader}: the {TYPE_NAMES[town.gym_type]} expert."))
    hints = [f"Leader {town.leader} uses {TYPE_NAMES[town.gym_type]} creatures. "
             + _counter_hint(rng, town.gym_type)]
    if leg is not None:
        hints.append(_gate_hint(b, towns, leg, sides))
    if k == 0:
        hints.append("The professor in the lab gives new trainers a partner.")
    for text in hints:
        if spots:
            u, v, facing = spots.pop()
            sk.put(u, v, facing, kind=EntityKind.PERSON, sprite=rng.choice((Sprite.PERSON, Sprite.ELDER)),
                   **_say(b, text))
    if k == 0:
        role = "out"
        tile, _ = sk.ends[role + ":guard"]
        side = next(d for d, r in town.sides.items() if r == role)
        sk.put(*tile, OPPOSITE[side], kind=EntityKind.GUARD, sprite=Sprite.GUARD, hide_event=b.ev("got_partner"),
               **_say(b, "Wait! Wild creatures live in the tall grass. Get a partner at the lab first!"))
    enter = b.ev("left_house") if k == 0 else b.ev(f"reached_{_slug(town.name)}")
    town.map, town.ends = b.emit(sk, _Frame(UP, sk.w, sk.h), town.name, MapKind.TOWN, enter_event=enter)
    _build_interiors(b, town, leg, hints)
    _build_gym(b, town, leg, hints)


def _build_interiors(b: _Builder, town: _Town, leg: _Leg | None, hints: list[str]) -> None:
    """The centre, shop and houses of a town (town 0: also the player's home and the lab), each linked to
    its door."""
    rng, n, k, ends = b.rng, b.spec.gyms, town.k, town.ends
    badge = BADGE_NAMES[town.gym_type]
    progress = k / max(1, n - 1)
    heal_text = "Welcome! Let me rest your team. If you faint, you wake up here."
    centre, c_ends, front = _counter_room(
        b, f"{town.name} Centre", MapKind.CENTRE, 10,
        {"kind": EntityKind.HEALER, "sprite": Sprite.HEALER, **_say(b, heal_text)},
        [{"kind": EntityKind.PERSON, "sprite": Sprite.PERSON,
          **_say(b, rng.choice(("Rested creatures fight best.", "Shops in later towns sell better Orbs "
                                "and Tonics.", "I heard the league is far beyond the last gym.")))}])
    b.link(ends["centre"], c_ends["door"])
    if k == 0:
        b.respawn = (centre, front[0], front[1])
    shop, s_ends, _ = _counter_room(
        b, f"{town.name} Shop", MapKind.SHOP, 8,
        {"kind": EntityKind.CLERK, "sprite": Sprite.CLERK, "shop": b.shop(_stock(_SHOP_STOCK, progress)),
         **_say(b, "Welcome! What would you like?")}, [])
    b.link(ends["shop"], s_ends["door"])
    for key in ("house0", "house1"):
        if key in ends:
            people: list[dict[str, Any]] = [{"kind": EntityKind.PERSON, "sprite": Sprite.PERSON,
                                             **_say(b, rng.choice(hints))}]
            if rng.random() < 0.5:
                item = rng.choice(_stock(_GROUND_ITEMS, progress))
                event = b.event(f"got_gift_{_slug(town.name)}_{key}", f"Got a gift in {town.name}",
                                _tier(b, k), milestone=False)
                people.append({"kind": EntityKind.GIFTER, "sprite": Sprite.ELDER, "item": item, "count": 2,
                               "sets_event": event,
                               **_say(b, "You look busy. Take these, they help on the road!",
                                      "Come back any time.")})
            _, h_ends, _ = _house(b, f"{town.name} House", people)
            b.link(ends[key], h_ends["door"])
    if "elder" in ends and leg is not None:
        item = ITEM_NAMES[leg.key_item]
        gifter = {"kind": EntityKind.GIFTER, "sprite": Sprite.ELDER, "item": leg.key_item, "count": 1,
                  "show_event": b.ev(f"badge_{k + 1}"), "sets_event": b.ev(f"got_{_slug(item)}"), "tag": f"key{k}",
                  **_say(b, f"You won the {badge} Badge! Take this {item}. Show it to the guard on "
                            f"{leg.names[0]}.", "Good luck out there!")}
        helper = {"kind": EntityKind.PERSON, "sprite": Sprite.PERSON, "hide_event": b.ev(f"badge_{k + 1}"),
                  **_say(b, f"Grandpa went to watch the gym. He will be back once someone wins the {badge} "
                            "Badge.")}
        _, h_ends, _ = _house(b, "Elder's House", [gifter, helper])
        b.link(ends["elder"], h_ends["door"])
    if k == 0:
        mom = {"kind": EntityKind.GIFTER, "sprite": Sprite.PERSON, "item": Item.ORB, "count": 5,
               "sets_event": b.event("got_orbs_at_home", "Got Orbs at home", 0, milestone=False),
               **_say(b, "Off on your journey? Take these Orbs. Weaken a wild creature, then throw one!",
                      "Come home any time. Good luck!")}
        home, h_ends, spot = _house(b, "Home", [mom])
        b.link(ends["home"], h_ends["door"])
        b.start = (home, spot[0], spot[1], int(DOWN))
        _, l_ends = _lab(b, f"{town.name} Lab", b.ev("got_partner"), b.person_name())
        b.link(ends["lab"], l_ends["door"])



def _build_gym(b: _Builder, town: _Town, leg: _Leg | None, hints: list[str]) -> None:
    """The gym of a town: its leader (a team of the gym's type, the strongest last), its trainers, a guide."""
    rng, n, k = b.rng, b.spec.gyms, town.k
    badge = BADGE_NAMES[town.gym_type]
    level = _leader_level(b, k)
    size = rng.randint(1, 2) if n == 1 else 2 + (3 * k) // (n + 2)
    ace = b.pick_species(level, 1, (town.gym_type,), strongest=True)
    rest = b.pick_species(max(3, level - 2), size - 1, (town.gym_type,))
    party = [(s, level - 2 + i * 2 // max(1, size - 1)) for i, s in enumerate(rest)] + [(ace[0], level)]
    leader = b.trainer(town.leader, "Leader", party, 80, rank=1, badge=k, event=b.ev(f"badge_{k + 1}"),
                       defeat=f"You earned the {badge} Badge!")
    gym_trainers = []
    for _ in range(1 if n == 1 else min(3, 1 + k // 3 + rng.randint(0, 1))):
        count = rng.randint(1, 2)
        t_level = max(3, level - 3 - count)
        species = b.pick_species(t_level, count, (town.gym_type,))
        gym_trainers.append(b.trainer(b.person_name(), "Gym Ace", [(s, t_level) for s in species], 20))
    abilities = [a for a in Ability if b.ability_badge[a] == k]
    after = f"The {badge} Badge is yours. " + "".join(
        f"It lets your team {_ABILITY_VERBS[a]} outside battle. " for a in abilities) + (hints[1] if leg and
                                                                                          len(hints) > 1 else "")
    guide = f"Leader {town.leader} uses {TYPE_NAMES[town.gym_type]} creatures. " + _counter_hint(rng, town.gym_type)
    _, g_ends = _gym(b, town, leader, gym_trainers, guide, after.strip())
    b.link(town.ends["gym"], g_ends["door"])


# ============================================================================================ assembly


def _gate_barrier(b: _Builder, gate: str, towns: list[_Town], leg: _Leg) -> _Barrier:
    """The obstacle for a gate kind (a leg's own gate, or a second obstacle of an ability already won)."""
    if gate == "chop":
        return _Barrier("tree", {"kind": EntityKind.CUT_TREE, "sprite": Sprite.CUT_TREE})
    if gate == "swim":
        return _Barrier("water")
    if gate == "shove":
        return _Barrier("boulder", {"kind": EntityKind.BOULDER, "sprite": Sprite.BOULDER})
    if gate == "key":
        item = ITEM_NAMES[leg.key_item]
        return _Barrier("guard", {"kind": EntityKind.GUARD, "sprite": Sprite.GUARD,
                                  "hide_event": b.ev(f"got_{_slug(item)}"),
                                  **_say(b, f"Halt! Only travellers with {_a(item)} may pass here.")})
    badge = BADGE_NAMES[towns[leg.k].gym_type]
    text = f"Only trainers with all {b.spec.gyms} badges may enter the league." if leg.to_league else \
        f"Only trainers with the {badge} Badge may pass."
    return _Barrier("guard", {"kind": EntityKind.GUARD, "sprite": Sprite.GUARD,
                              "hide_event": b.ev(f"badge_{leg.k + 1}"), **_say(b, text)})


def _build_leg(b: _Builder, towns: list[_Town], leg: _Leg) -> _End | None:
    """The routes and caves of one leg, linked to the town it leaves; returns the open end at its far side
    (to link to the next town or the league), or None for a dead end."""
    n = len(leg.segments)
    previous = towns[leg.k].ends["out"]
    if leg.dead_end:
        destination = "Dead end"
    elif leg.to_league:
        destination = "The league"
    else:
        destination = towns[leg.k + 1].name
    for i, (segment, name, travel, extra) in enumerate(zip(leg.segments, leg.names, leg.travel, leg.extras,
                                                                     strict=True)):
        barriers = []
        if i == 0 and leg.gate != "none":
            barriers.append(_gate_barrier(b, leg.gate, towns, leg))
        if extra:
            barriers.append(_gate_barrier(b, extra, towns, leg))
        stage = leg.k if i == 0 else leg.k + 1
        # Counters to the gyms the player trains for here: this town's (before the gate) and the next.
        counters = tuple(towns[k].gym_type for k in (stage, stage + 1)[:2 if i == 0 else 1] if k < len(towns))
        if segment == "cave":
            plan = _AreaPlan(name, stage, "door", "door", barriers, counters=counters)
            _, ends = _cave(b, plan, travel)
        else:
            last = i == n - 1
            exit_kind = "dead" if leg.dead_end else ("facade" if leg.to_league else "edge") if last else "door"
            goal = None
            if leg.dead_end:
                goal = {"kind": EntityKind.ITEM, "sprite": Sprite.ITEM_ORB, **_ground_item(b, stage + 1)}
            plan = _AreaPlan(name, stage, "edge" if i == 0 else "door", exit_kind, barriers,
                             sign=f"{name}. Ahead: {destination}.", goal=goal,
                             beyond_stage=leg.k + 1 if i == 0 and leg.gate != "none" else -1,
                             counters=counters)
            _, ends = _route(b, plan, travel)
        b.link(previous, ends["in"])
        if "out" not in ends:
            return None
        previous = ends["out"]
    return previous


def _build_side(b: _Builder, towns: list[_Town], side: _Side, legs: list[_Leg]) -> None:
    """A dead-end side route off its town: an ability obstacle near the start maybe, and at the end the
    key-item giver (shown once the town's badge is won) or a good item."""
    town = towns[side.town]
    barriers = [_gate_barrier(b, side.gate, towns, legs[side.town])] if side.gate else []
    if side.key_item >= 0:
        item = ITEM_NAMES[side.key_item]
        badge = BADGE_NAMES[town.gym_type]
        goal = {"kind": EntityKind.GIFTER, "sprite": Sprite.ELDER, "item": side.key_item, "count": 1,
                "show_event": b.ev(f"badge_{side.town + 1}"), "sets_event": b.ev(f"got_{_slug(item)}"),
                "tag": f"key{side.town}",
                **_say(b, f"So you won the {badge} Badge! I am the elder. Take this {item} and show it to the "
                          f"guard on {legs[side.town].names[0]}.", "Safe travels, young trainer.")}
    else:
        goal = {"kind": EntityKind.ITEM, "sprite": Sprite.ITEM_ORB, **_ground_item(b, side.town + 2)}
    plan = _AreaPlan(side.name, side.town, "edge", "dead", barriers, sign=f"{side.name}. Dead end.", goal=goal,
                     short=True, counters=(town.gym_type,))
    _, ends = _route(b, plan, side.side)
    b.link(town.ends[side.role], ends["in"])


def _build_league(b: _Builder, towns: list[_Town], rng: random.Random) -> tuple[int, dict[str, _End]]:
    """The four elites (each a type theme) and the champion (a starter's final form and strong others)."""
    level = _league_level(b)
    members = []
    themes = rng.sample(list(Type), 4)
    for i, theme in enumerate(themes):
        top = level + i
        species = b.pick_species(top - 2, 3, (theme,)) + b.pick_species(top, 1, (theme,), strongest=True)
        party = [(s, top - 3 + j) for j, s in enumerate(species)]
        members.append(b.trainer(b.person_name(), "Elite", party, 100, rank=2,
                                 event=b.ev(f"beat_elite_{i + 1}"), defeat="A fine battle. Go on."))
    top = level + 4
    starter = rng.choice(STARTER_FORMS)[-1]
    others = b.pick_species(top - 1, 4, strongest=True)
    party = [(s, top - 5 + j) for j, s in enumerate(others)] + [(starter, top)]
    members.append(b.trainer(b.person_name(), "Champion", party, 150, rank=3, event=b.ev("became_champion"),
                             defeat="You are the new champion!"))
    name = b.unique(lambda: (rng.choice(_NAME_HEADS) + rng.choice(_TOWN_TAILS)).capitalize() + " League")
    shop = b.shop(_stock(_SHOP_STOCK, 1.0))
    return _league(b, name, members, "Rest here before the elites. You may leave and come back.", shop)


@functools.lru_cache(maxsize=64)
def build_world(size: str, seed: int) -> World:
    """The world of ``size`` (one of :data:`SIZES`) generated from ``seed``; built once per (size, seed).

    Raises:
        ValueError: for an unknown size.
    """
    if size not in SIZE_SPECS:
        raise ValueError(f"unknown world size {size!r}; valid sizes: {', '.join(SIZES)}")
    b = _Builder(size, seed)
    rng = b.rng
    towns, legs, sides = _make_story(b)
    side_keys = {s.key_item for s in sides if s.key_item >= 0}
    for k in range(len(towns)):
        elder = k < len(legs) and legs[k].gate == "key" and legs[k].key_item not in side_keys
        _build_town(b, towns, k, legs, sides, elder)
    far_end = None
    for leg in legs:
        end = _build_leg(b, towns, leg)
        if end is not None and not leg.to_league:
            b.link(end, towns[leg.k + 1].ends["in"])
        elif end is not None:
            far_end = end
    for side in sides:
        _build_side(b, towns, side, legs)
    if far_end is not None:
        _, lobby_ends = _build_league(b, towns, rng)
        b.link(far_end, lobby_ends["door"])

    # The plan: the partner best against the first gyms, then leaders, key-item givers, the league.
    def matchup(i: int) -> int:
        own = SPECIES[STARTERS[i]].types[0]
        return sum(weight * (TYPE_CHART[own][t.gym_type] - TYPE_CHART[t.gym_type][own])
                   for weight, t in zip((3, 2, 1), towns, strict=False))

    pick = max(range(len(STARTERS)), key=matchup)
    plan = [b.tagged[f"capsule{pick}"]]
    for k in range(len(towns)):
        plan.append(b.tagged[f"leader{k}"])
        if f"key{k}" in b.tagged:
            plan.append(b.tagged[f"key{k}"])
    plan += [b.tagged[f"member{i}"] for i in range(5) if f"member{i}" in b.tagged]

    n = b.spec.gyms
    badge_events = tuple(b.ev(f"badge_{k + 1}") for k in range(n))
    optional = {e: b.event_at.get(e, -1) for e in ("first_chop", "first_swim", "first_shove")}
    region = b.unique(lambda: (rng.choice(_NAME_HEADS) + rng.choice(_NAME_LINKS[3:])).capitalize()
                      + rng.choice(_REGION_TAILS))
    return World(
        size=size, seed=seed, name=region, maps=tuple(b.maps), warps=tuple(b.warps), entities=tuple(b.entities),
        trainers=tuple(b.trainers), texts=tuple(b.texts), shops=tuple(b.shops), events=tuple(b.events),
        start=b.start, respawn=b.respawn, badge_names=tuple(BADGE_NAMES[t.gym_type] for t in towns),
        badge_events=badge_events, ability_badge=b.ability_badge,
        ev_first_wild_win=b.ev("first_wild_win"), ev_first_catch=b.ev("first_catch"),
        ev_first_trainer_win=b.ev("first_trainer_win"), ev_first_chop=optional["first_chop"],
        ev_first_swim=optional["first_swim"], ev_first_shove=optional["first_shove"],
        ev_finish=b.ev("became_champion") if b.spec.league else badge_events[-1], plan=tuple(plan),
    )


@functools.lru_cache(maxsize=1)
def canonical_world() -> World:
    """The fixed world used to compare runs across models and years: the standard size, seed 0, "Canon"."""
    return dataclasses.replace(build_world(CANONICAL_SIZE, CANONICAL_SEED), name=CANONICAL_NAME)


def world_digest(world: World) -> str:
    """SHA-256 of the world's ``repr``: every field of every map, warp, entity, trainer, text and event.

    The generator stores plain ints (never enum members) and the dataclasses' ``repr`` lists fields in
    declaration order, so the text is canonical; it pins the canonical world in the tests.
    """
    return hashlib.sha256(repr(world).encode()).hexdigest()


# ============================================================================================ solvability


@dataclass(frozen=True)
class SolvabilityReport:
    """The result of :func:`solvability_report`.

    Attributes:
        solvable: every plan step could be done in order.
        steps_done: how many plan steps were done.
        failure: why the next step could not be done ("" when solvable).
        early: gate violations: a later leader, elite or key-item giver that could already be used before
            an earlier leader was beaten.
        events: the events set by the play-through (map entries, interactions, abilities used).
    """

    solvable: bool
    steps_done: int
    failure: str
    early: tuple[str, ...]
    events: frozenset[int]


# How a step onto each tile kind is decided: never, plainly (walk, maybe warp), or by _Walker._move.
_NEVER, _PLAIN, _SPECIAL = 0, 1, 2
_STEP_KIND = tuple(_SPECIAL if t in (Tile.LEDGE, Tile.WATER) else _PLAIN if TILE_WALKABLE[t] else _NEVER
                   for t in Tile)


class _Walker:
    """An abstract play-through: what the player can reach (breadth-first over (map, x, y) with the
    overworld's movement rules), growing as events are set, trees chopped and boulders shoved."""

    _HIDE_WHEN_DONE = (EntityKind.ITEM, EntityKind.CAPSULE, EntityKind.CUT_TREE)

    def __init__(self, world: World) -> None:
        self.world = world
        self.offset: list[int] = []
        total = 0
        for m in world.maps:
            self.offset.append(total)
            total += m.width * m.height
        self.tiles = b"".join(m.tiles for m in world.maps)
        self.map_of: list[int] = []
        self.xs: list[int] = []
        self.ys: list[int] = []
        for m in world.maps:
            self.map_of += [m.index] * (m.width * m.height)
            self.xs += list(range(m.width)) * m.height
            self.ys += [y for y in range(m.height) for _ in range(m.width)]
        self.warps = {self.node(w.map, w.x, w.y): self.node(w.to_map, w.to_x, w.to_y) for w in world.warps}
        self.pos = [self.node(e.map, e.x, e.y) for e in world.entities]
        self.at: dict[int, list[int]] = {}
        for e in world.entities:
            self.at.setdefault(self.pos[e.index], []).append(e.index)
        self.groups: dict[int, list[int]] = {}
        for e in world.entities:
            if e.kind == EntityKind.CAPSULE and e.group >= 0:
                self.groups.setdefault(e.group, []).append(e.index)
        self.events: set[int] = set()
        self.done: set[int] = set()
        self.seen = bytearray(total)
        self.queue: deque[int] = deque()
        self.blocked: list[tuple[int, int]] = []  # (node, direction) moves that may open later
        self.stale = False
        start_map, x, y, _ = world.start
        self.start = self.node(start_map, x, y)
        self._visit(self.start)
        self.explore()

    # ------------------------------------------------------------------------------------------ basics
    def node(self, m: int, x: int, y: int) -> int:
        return self.offset[m] + y * self.world.maps[m].width + x

    def step_node(self, node: int, direction: int, distance: int = 1) -> int:
        """The node ``distance`` tiles from ``node`` in ``direction``, or -1 off the map."""
        m = self.map_of[node]
        mp = self.world.maps[m]
        nx, ny = self.xs[node] + DX[direction] * distance, self.ys[node] + DY[direction] * distance
        if 0 <= nx < mp.width and 0 <= ny < mp.height:
            return self.offset[m] + ny * mp.width + nx
        return -1

    def set(self, event: int) -> None:
        if event >= 0:
            self.events.add(event)

    def has(self, event: int) -> bool:
        return event >= 0 and event in self.events

    def ability(self, ability: int) -> bool:
        badge = self.world.ability_badge[ability]
        return badge >= 0 and self.has(self.world.badge_events[badge])

    def visible(self, e: int) -> bool:
        ent = self.world.entities[e]
        if ent.show_event >= 0 and not self.has(ent.show_event):
            return False
        if self.has(ent.hide_event):
            return False
        return not (e in self.done and ent.kind in self._HIDE_WHEN_DONE)

    def occupant(self, node: int) -> int:
        for e in self.at.get(node, ()):
            if self.visible(e):
                return e
        return -1

    def free_land(self, node: int) -> bool:
        return node >= 0 and TILE_WALKABLE[self.tiles[node]] and node not in self.warps and self.occupant(node) < 0

    # ------------------------------------------------------------------------------------------ moving
    def _visit(self, node: int) -> None:
        self.seen[node] = 1
        self.queue.append(node)
        self.set(self.world.maps[self.map_of[node]].enter_event)
        if self.tiles[node] == Tile.WATER:
            self.set(self.world.ev_first_swim)

    def _move(self, node: int, direction: int) -> int:
        """Where a press toward ``direction`` from ``node`` lands: a node, -1 (never) or -2 (not now).
        Chops trees and shoves boulders in the way when the abilities allow (as the oracle does)."""
        ahead = self.step_node(node, direction)
        if ahead < 0:
            return -1
        blocker = self.occupant(ahead)
        if blocker >= 0:
            kind = self.world.entities[blocker].kind
            if kind == EntityKind.CUT_TREE and self.ability(Ability.CHOP):
                self.done.add(blocker)
                self.set(self.world.ev_first_chop)
            elif kind == EntityKind.BOULDER and self.ability(Ability.SHOVE) \
                    and self.free_land(self.step_node(ahead, direction)):
                beyond = self.step_node(ahead, direction)
                self.at[ahead].remove(blocker)
                self.at.setdefault(beyond, []).append(blocker)
                self.pos[blocker] = beyond
                self.set(self.world.ev_first_shove)
                if self.seen[beyond]:
                    self.stale = True
                return ahead
            else:
                return -2
        tile = self.tiles[ahead]
        if tile == Tile.LEDGE:
            if direction != DOWN:
                return -1
            landing = self.step_node(ahead, DOWN)
            return landing if self.free_land(landing) else -2
        if tile == Tile.WATER:
            return ahead if self.ability(Ability.SWIM) else -2
        if not TILE_WALKABLE[tile]:
            return -1
        return self.warps.get(ahead, ahead)

    def explore(self) -> None:
        """Grows the reachable set until nothing more opens."""
        self.stale = False
        seen, tiles, warps, at, maps = self.seen, self.tiles, self.warps, self.at, self.world.maps
        while True:
            while self.queue:
                node = self.queue.popleft()
                m = maps[self.map_of[node]]
                x, y = self.xs[node], self.ys[node]
                for d, ahead in ((UP, node - m.width if y > 0 else -1),
                                 (DOWN, node + m.width if y < m.height - 1 else -1),
                                 (LEFT, node - 1 if x > 0 else -1), (RIGHT, node + 1 if x < m.width - 1 else -1)):
                    if ahead < 0:
                        continue
                    kind = _STEP_KIND[tiles[ahead]]
                    if ahead in at or kind == _SPECIAL:
                        dest = self._move(node, d)
                    elif kind == _PLAIN:
                        dest = warps.get(ahead, ahead)
                    else:
                        continue
                    if dest == -2:
                        self.blocked.append((node, d))
                    elif dest >= 0 and not seen[dest]:
                        self._visit(dest)
            seen = self.seen
            if self.stale:  # a boulder landed on a reached tile: start over from the start
                self.stale = False
                self.seen = bytearray(len(self.seen))
                self.blocked = []
                self._visit(self.start)
                continue
            retry, self.blocked = self.blocked, []
            for node, d in retry:
                dest = self._move(node, d)
                if dest == -2:
                    self.blocked.append((node, d))
                elif dest >= 0 and not self.seen[dest]:
                    self._visit(dest)
            if not self.queue:
                return

    # ------------------------------------------------------------------------------------------ using
    def can_use(self, e: int) -> bool:
        """Whether entity ``e`` is visible and the player can stand next to it (or across a counter)."""
        if not self.visible(e):
            return False
        p = self.pos[e]
        for d in _DIRS:
            near = self.step_node(p, d)
            if near >= 0 and self.seen[near]:
                return True
            if near >= 0 and self.tiles[near] == Tile.COUNTER:
                far = self.step_node(p, d, 2)
                if far >= 0 and self.seen[far]:
                    return True
        return False

    def use(self, e: int) -> None:
        """Talks to / battles / takes entity ``e`` and applies what that sets, then explores further."""
        ent = self.world.entities[e]
        self.done.add(e)
        self.set(ent.sets_event)
        if ent.kind == EntityKind.CAPSULE:
            self.done.update(self.groups.get(ent.group, ()))
        if ent.kind == EntityKind.TRAINER:
            trainer = self.world.trainers[ent.trainer]
            self.set(self.world.ev_first_trainer_win)
            self.set(trainer.event)
            if trainer.badge >= 0:
                self.set(self.world.badge_events[trainer.badge])
        self.explore()


def _is_gate_keeper(world: World, e: int) -> bool:
    ent = world.entities[e]
    if ent.kind == EntityKind.TRAINER:
        return world.trainers[ent.trainer].rank >= 1
    return ent.kind == EntityKind.GIFTER


def solvability_report(world: World) -> SolvabilityReport:
    """Plays ``world.plan`` abstractly: each plan entity must be usable (visible, and next to a reachable
    tile or across a counter from one) once the earlier ones are used. Reachability follows the engine's
    movement rules: visible entities block, ledges are one way down, water needs SWIM, small trees are
    chopped with CHOP and boulders shoved with SHOVE on the way (as the oracle does), warps teleport.

    Also records gate violations: before each leader (or elite) is beaten, no later leader, elite, champion
    or key-item giver of the plan may be usable.
    """
    walker = _Walker(world)
    early: list[str] = []
    for i, e in enumerate(world.plan):
        ent = world.entities[e]
        if ent.kind == EntityKind.TRAINER and world.trainers[ent.trainer].rank >= 1:
            for later in world.plan[i + 1:]:
                if _is_gate_keeper(world, later) and walker.can_use(later):
                    early.append(f"plan entity {later} usable before plan step {i} (entity {e})")
        if not walker.can_use(e):
            m = world.maps[ent.map]
            return SolvabilityReport(False, i, f"plan step {i}: entity {e} ({EntityKind(ent.kind).name}) on "
                                     f"{m.name} at ({ent.x}, {ent.y}) cannot be reached", tuple(early),
                                     frozenset(walker.events))
        walker.use(e)
    return SolvabilityReport(True, len(world.plan), "", tuple(early), frozenset(walker.events))
