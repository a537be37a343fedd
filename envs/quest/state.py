"""Dataclasses of the quest game: the static world (built once by ``worldgen``) and the dynamic state.

The world is immutable and shared; the dynamic :class:`QuestState` is small (a save state is a few KB) and
holds only integers, lists of integers and :class:`Mon` records, so the batched engine can mirror every
field as one tensor with a leading env dimension.

Conventions:
    * ``-1`` means "none" for any index field.
    * Events are world-defined story flags in one integer bitset ``QuestState.events``. Milestone events
      occupy bits ``0 .. len(milestones)-1`` in catalog order, so the milestone mask is a bit slice.
    * ``done[e]`` marks entity ``e`` as used up: a trainer defeated, an item picked, a tree cut,
      a gift given, a capsule taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from longplay.envs.quest.constants import BattleKind, BattlePhase, Effect, MenuKind

# ============================================================================================ static world


@dataclass(frozen=True)
class Species:
    """A creature species. Stats grow with level from the base stats (see ``party.stats_at``)."""

    name: str
    types: tuple[int, int]  # Type values; a single-typed species repeats its type
    base_hp: int
    base_attack: int
    base_defense: int
    base_speed: int
    catch_rate: int  # 1..255, higher is easier
    base_exp: int  # experience yield factor
    learnset: tuple[tuple[int, int], ...]  # (level, move index), sorted by level


@dataclass(frozen=True)
class Move:
    """A battle move: every move deals damage (power > 0)."""

    name: str
    type: int
    power: int
    accuracy: int  # percent, 1..100
    pp: int


@dataclass(frozen=True)
class Encounter:
    """One row of a map's wild-encounter table."""

    species: int
    min_level: int
    max_level: int
    weight: int


@dataclass(frozen=True)
class MapDef:
    """One map: a grid of :class:`~longplay.envs.quest.constants.Tile` values, row-major."""

    index: int
    name: str
    kind: int  # MapKind
    width: int
    height: int
    tiles: bytes  # width * height Tile values; tiles[y * width + x]
    encounters: tuple[Encounter, ...] = ()
    encounter_rate: int = 0  # chance out of 256 per step on an encounter tile
    enter_event: int = -1  # event set the first time the player stands on this map

    def tile(self, x: int, y: int) -> int:
        """The tile at (x, y); VOID outside the map."""
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.tiles[y * self.width + x]
        return 0


@dataclass(frozen=True)
class Warp:
    """Stepping onto (map, x, y) moves the player to (to_map, to_x, to_y), keeping the facing."""

    map: int
    x: int
    y: int
    to_map: int
    to_x: int
    to_y: int


@dataclass(frozen=True)
class EntityDef:
    """A person, sign, item, boulder, tree ... placed on a map. Entities block movement while visible.

    Visible means: ``show_event`` is -1 or set, ``hide_event`` is -1 or not set, and the entity is not
    ``done`` if it is an ITEM, CAPSULE, CUT_TREE or GIFTER-less pickup (see ``overworld.visible``).
    """

    index: int
    kind: int  # EntityKind
    map: int
    x: int
    y: int
    facing: int = 1  # Direction; DOWN by default
    sprite: int = 2  # Sprite
    text: int = -1  # first page (index into World.texts) shown on interaction
    pages: int = 0  # number of consecutive pages from ``text``
    after_text: int = -1  # pages shown instead once done (a beaten trainer, a gift given)
    after_pages: int = 0
    trainer: int = -1  # TrainerDef index (TRAINER)
    item: int = -1  # Item (ITEM, GIFTER)
    count: int = 0
    species: int = -1  # CAPSULE: the partner species
    level: int = 0  # CAPSULE: the partner level
    shop: int = -1  # CLERK: index into World.shops
    sight: int = 0  # TRAINER: tiles seen ahead in its facing direction (0 = only when talked to)
    show_event: int = -1
    hide_event: int = -1
    sets_event: int = -1  # set when the entity becomes done (gift received, capsule taken, item picked)
    group: int = -1  # CAPSULE: capsules sharing a group vanish together once one is taken


@dataclass(frozen=True)
class TrainerDef:
    """A trainer's team and reward. Creatures get their default moves for their level."""

    index: int
    name: str
    title: str  # "Hiker", "Leader", "Elite", "Champion" ...
    party: tuple[tuple[int, int], ...]  # (species, level)
    money: int
    rank: int = 0  # 0 regular, 1 gym leader, 2 league elite, 3 champion
    badge: int = -1  # badge number won (gym leaders)
    event: int = -1  # event set when beaten (badges, league members, champion)
    defeat_text: int = -1  # page shown on the battle screen when beaten (index into World.texts)


@dataclass(frozen=True)
class EventDef:
    """A story flag. Milestone events come first, in catalog order."""

    index: int
    id: str
    name: str
    tier: int = 0
    milestone: bool = True


@dataclass(frozen=True)
class World:
    """A whole game world: maps, warps, entities, trainers, texts, shops and events.

    ``worldgen.build_world(size, seed)`` makes one; the canonical world is a fixed (size, seed).
    """

    size: str
    seed: int
    name: str
    maps: tuple[MapDef, ...]
    warps: tuple[Warp, ...]
    entities: tuple[EntityDef, ...]
    trainers: tuple[TrainerDef, ...]
    texts: tuple[str, ...]  # text-box pages, each at most TEXT_ROWS lines of TEXT_COLS characters
    shops: tuple[tuple[int, ...], ...]  # item ids for sale
    events: tuple[EventDef, ...]
    start: tuple[int, int, int, int]  # map, x, y, facing
    respawn: tuple[int, int, int]  # map, x, y before any rest house is used
    badge_names: tuple[str, ...]
    badge_events: tuple[int, ...]  # event of badge i
    ability_badge: tuple[int, int, int]  # badge number that unlocks CHOP, SWIM, SHOVE (-1: never needed)
    ev_first_wild_win: int = -1
    ev_first_catch: int = -1
    ev_first_trainer_win: int = -1
    ev_first_chop: int = -1
    ev_first_swim: int = -1
    ev_first_shove: int = -1
    ev_finish: int = -1  # the game is complete (mini: the badge; larger: the champion)
    plan: tuple[int, ...] = ()  # entity indices to interact with, in order, to finish (for the oracle)

    @property
    def milestone_ids(self) -> tuple[str, ...]:
        """The milestone events' ids in catalog order (they are events 0 .. milestone_count-1): the columns of the
        batched engine's ``info["milestones_reached"]``."""
        return tuple(e.id for e in self.events if e.milestone)

    @property
    def milestone_count(self) -> int:
        """How many events are milestones (they are events 0 .. milestone_count-1)."""
        return sum(1 for e in self.events if e.milestone)


# ============================================================================================ dynamic state


@dataclass(slots=True)
class Mon:
    """One creature, in the party, the box or an enemy team."""

    species: int
    level: int
    exp: int
    hp: int
    max_hp: int
    attack: int
    defense: int
    speed: int
    moves: list[int]  # MOVE_SLOTS move indices, -1 for an empty slot
    pp: list[int]  # MOVE_SLOTS

    def copy(self) -> Mon:
        return Mon(self.species, self.level, self.exp, self.hp, self.max_hp, self.attack, self.defense,
                   self.speed, list(self.moves), list(self.pp))


@dataclass(slots=True)
class Battle:
    """The battle in progress (``kind == NONE`` when there is none)."""

    kind: int = BattleKind.NONE
    trainer: int = -1  # TrainerDef index in a trainer battle
    entity: int = -1  # the trainer's entity (marked done on a win)
    enemy: list[Mon] = field(default_factory=list)
    enemy_active: int = 0
    player_active: int = 0
    phase: int = BattlePhase.MAIN
    cursor: int = 0
    messages: list[tuple[int, int, int]] = field(default_factory=list)  # (BattleMsg, arg0, arg1) queue
    outcome: int = 0  # what happens once ``messages`` empties (battle.Outcome)
    turns: int = 0


@dataclass(slots=True)
class QuestState:
    """Everything that changes during an episode."""

    key: int  # the episode's random key (rng.episode_key(seed))
    tick: int  # buttons pressed since reset; the random stream's counter
    map: int
    x: int
    y: int
    facing: int
    surfing: bool
    party: list[Mon]
    box: list[Mon]
    bag: list[int]  # count per Item
    money: int
    events: int  # bitset over World.events
    done: bytearray  # per entity
    entity_x: bytearray  # per entity (boulders move)
    entity_y: bytearray
    respawn: tuple[int, int, int]  # map, x, y of the last rest house used
    ward_steps: int  # steps of Ward Spray left
    dialog: list[tuple[int, int, int]]  # queue of text-box pages (dialog.Msg, arg0, arg1)
    dialog_effect: int  # Effect applied when the queue empties
    dialog_arg: int
    menu: int  # MenuKind
    menu_cursor: int
    menu_choice: int  # the bag item chosen (BAG_TARGET) or the shop index (SHOP)
    battle: Battle
    finished: bool = False

    def has_event(self, event: int) -> bool:
        return event >= 0 and (self.events >> event) & 1 == 1

    def set_event(self, event: int) -> None:
        if event >= 0:
            self.events |= 1 << event


__all__ = [
    "Battle", "BattleKind", "BattlePhase", "Effect", "Encounter", "EntityDef", "EventDef", "MapDef",
    "MenuKind", "Mon", "Move", "QuestState", "Species", "TrainerDef", "Warp", "World",
]
