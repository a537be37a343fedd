"""Enums, fixed sizes and lookup tables of the quest game. No I/O, no logic beyond table reads.

Every rule that can be a table is one here, so the reference engine and the batched torch engine read the
same numbers (the batched engine turns these tuples into tensors).
"""

from __future__ import annotations

import enum

#: The version of the game's rules and content, in every replay's ``identity``: bump it whenever a change
#: alters what a button press does (a rule, a species, a move, a table), or what ``state()`` reports for map,
#: position or mode (replays' state summaries are verified against it), so a replay recorded under other
#: rules fails verification with that reason instead of diverging at some step. 1: the first release;
#: 2: the starters (and Burrowbit) learn a move every 6-7 levels; leaving water by a ledge or a boulder ends
#: swimming.
RULES_VERSION = 2

# ---------------------------------------------------------------------------------------------- screen
TILE_PX = 16  # a metatile is 16x16 pixels (2x2 of 8x8 tiles)
VIEW_W = 10  # metatiles visible across (160 px)
VIEW_H = 9  # metatiles visible down (144 px)
PLAYER_VIEW_X = 4  # the player's metatile column on screen
PLAYER_VIEW_Y = 4  # the player's metatile row on screen
TEXT_COLS = 18  # characters per text-box line
TEXT_ROWS = 2  # lines per text-box page

# ---------------------------------------------------------------------------------------------- sizes
PARTY_SIZE = 6
MOVE_SLOTS = 4
BOX_SIZE = 40
MAX_LEVEL = 100
MAX_MONEY = 999_999
MAX_ITEM_COUNT = 99


class Direction(enum.IntEnum):
    """Facing and movement; values equal the d-pad button values."""

    UP = 0
    DOWN = 1
    LEFT = 2
    RIGHT = 3


DX = (0, 0, -1, 1)
DY = (-1, 1, 0, 0)
DIRECTION_NAMES = ("up", "down", "left", "right")


class Tile(enum.IntEnum):
    """Metatile kinds of the world grid. What each does is in the tables below, not in branches."""

    VOID = 0  # outside the map; never walkable
    GROUND = 1  # outdoor path and lawn
    WALL = 2  # rock, fence, cliff
    TREE = 3  # border trees (not cuttable)
    TALL_GRASS = 4  # wild encounters
    WATER = 5  # needs the swim ability
    LEDGE = 6  # one way: entered only moving down, the player hops over it
    DOOR = 7  # a building or cave entrance (a warp sits on it)
    ROOF = 8  # building roof and walls
    FLOOR = 9  # indoor floor
    COUNTER = 10  # talk across it to the person behind
    MAT = 11  # indoor exit mat (a warp sits on it)
    CAVE_FLOOR = 12  # wild encounters, like tall grass
    CAVE_WALL = 13
    FLOWERS = 14  # decorative ground
    BRIDGE = 15  # walkable over water
    SHELF = 16  # indoor furniture, blocks


NUM_TILES = len(Tile)

#: True where the player may stand (without abilities).
TILE_WALKABLE = (False, True, False, False, True, False, False, True, False, True, False, True, True, False,
                 True, True, False)
#: True where a step may start a wild encounter.
TILE_ENCOUNTER = (False, False, False, False, True, False, False, False, False, False, False, False, True,
                  False, False, False, False)
#: One character per tile kind for the text view.
TILE_CHARS = (" ", ".", "#", "T", '"', "~", "v", "D", "^", "_", "=", "m", ",", "%", "*", "+", "&")
TILE_LEGEND = ("void", "ground", "wall", "tree", "tall grass", "water", "ledge (hop down)", "door", "roof",
               "floor", "counter", "exit mat", "cave floor", "cave wall", "flowers", "bridge", "shelf")

assert len(TILE_WALKABLE) == len(TILE_ENCOUNTER) == len(TILE_CHARS) == len(TILE_LEGEND) == NUM_TILES


class MapKind(enum.IntEnum):
    """What a map is; decides music-free things like its palette of tiles and whether it is indoors."""

    TOWN = 0
    ROUTE = 1
    CAVE = 2
    HOUSE = 3
    CENTRE = 4  # rest house: healing, respawn point
    SHOP = 5
    GYM = 6
    LEAGUE = 7
    LAB = 8


class EntityKind(enum.IntEnum):
    """What interacting with an entity does (the table ENTITY_* below says whether it blocks)."""

    PERSON = 0  # talks
    SIGN = 1  # reads its text
    TRAINER = 2  # challenges on sight (or when talked to); talks after defeat
    ITEM = 3  # lies on the ground; picked up once
    HEALER = 4  # heals the party, sets the respawn point
    CLERK = 5  # opens a shop
    CAPSULE = 6  # gives the first partner (one of several; taking one hides the rest)
    GUARD = 7  # blocks a passage until its ``hide_event`` is set; talks about what it wants
    BOULDER = 8  # pushed with the shove ability
    CUT_TREE = 9  # cut with the chop ability
    GIFTER = 10  # gives an item once, then talks


NUM_ENTITY_KINDS = len(EntityKind)


class Sprite(enum.IntEnum):
    """How an entity (or the player) is drawn."""

    NONE = 0
    PLAYER = 1
    PERSON = 2
    ELDER = 3
    TRAINER = 4
    LEADER = 5
    HEALER = 6
    CLERK = 7
    GUARD = 8
    ITEM_ORB = 9
    CAPSULE = 10
    BOULDER = 11
    CUT_TREE = 12
    SIGN = 13
    RIVAL = 14
    ELITE = 15


NUM_SPRITES = len(Sprite)


class Type(enum.IntEnum):
    """Creature and move types."""

    NORMAL = 0
    FIRE = 1
    WATER = 2
    PLANT = 3
    ELECTRIC = 4
    ICE = 5
    FIGHTING = 6
    POISON = 7
    GROUND = 8
    AIR = 9
    MIND = 10
    STONE = 11


NUM_TYPES = len(Type)
TYPE_NAMES = tuple(t.name.capitalize() for t in Type)

# Effectiveness in tenths: 0 (no effect), 5 (half), 10 (normal), 20 (double). TYPE_CHART[attack][defend].
_N, _H, _D, _Z = 10, 5, 20, 0
TYPE_CHART: tuple[tuple[int, ...], ...] = (
    #    NOR FIR WAT PLA ELE ICE FIG POI GRO AIR MIN STO
    (_N, _N, _N, _N, _N, _N, _N, _N, _N, _N, _N, _H),  # NORMAL
    (_N, _H, _H, _D, _N, _D, _N, _N, _N, _N, _N, _H),  # FIRE
    (_N, _D, _H, _H, _N, _N, _N, _N, _D, _N, _N, _D),  # WATER
    (_N, _H, _D, _H, _N, _N, _N, _H, _D, _H, _N, _D),  # PLANT
    (_N, _N, _D, _H, _H, _N, _N, _N, _Z, _D, _N, _N),  # ELECTRIC
    (_N, _H, _H, _D, _N, _H, _N, _N, _D, _D, _N, _N),  # ICE
    (_D, _N, _N, _N, _N, _D, _N, _H, _N, _H, _H, _D),  # FIGHTING
    (_N, _N, _N, _D, _N, _N, _N, _H, _H, _N, _N, _H),  # POISON
    (_N, _D, _N, _H, _D, _N, _N, _D, _N, _Z, _N, _D),  # GROUND
    (_N, _N, _N, _D, _H, _N, _D, _N, _N, _N, _N, _H),  # AIR
    (_N, _N, _N, _N, _N, _N, _D, _D, _N, _N, _H, _N),  # MIND
    (_N, _D, _N, _N, _N, _D, _H, _N, _H, _D, _N, _N),  # STONE
)
assert len(TYPE_CHART) == NUM_TYPES and all(len(row) == NUM_TYPES for row in TYPE_CHART)


class Item(enum.IntEnum):
    """Bag items. Key items (gates) come last and are never sold."""

    TONIC = 0  # heals 20 HP
    STRONG_TONIC = 1  # heals 60 HP
    MAX_TONIC = 2  # heals fully
    REVIVAL_HERB = 3  # revives a fainted creature at half HP
    ORB = 4  # capture device
    FINE_ORB = 5  # better capture device
    PRIME_ORB = 6  # best capture device
    WARD_SPRAY = 7  # no wild encounters for the next WARD_STEPS - 1 steps (see WARD_STEPS)
    FERRY_PASS = 8  # key item
    LANTERN = 9  # key item
    OLD_KEY = 10  # key item
    SEAL_STONE = 11  # key item


NUM_ITEMS = len(Item)
ITEM_NAMES = ("Tonic", "Strong Tonic", "Max Tonic", "Revival Herb", "Orb", "Fine Orb", "Prime Orb",
              "Ward Spray", "Ferry Pass", "Lantern", "Old Key", "Seal Stone")
ITEM_PRICE = (200, 600, 1500, 1200, 200, 600, 1200, 350, 0, 0, 0, 0)
ITEM_HEAL = (20, 60, 999, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # HP restored (999 = all)
ITEM_REVIVES = (False, False, False, True, False, False, False, False, False, False, False, False)
ITEM_CATCH = (0, 0, 0, 0, 10, 15, 20, 0, 0, 0, 0, 0)  # catch-rate multiplier in tenths (0 = not an orb)
ITEM_IS_KEY = (False,) * 8 + (True,) * 4
KEY_ITEMS = tuple(i for i in Item if ITEM_IS_KEY[i])
WARD_STEPS = 100  # a step counts it down before the encounter check: encounters resume on the step it hits 0
assert all(len(t) == NUM_ITEMS for t in (ITEM_NAMES, ITEM_PRICE, ITEM_HEAL, ITEM_REVIVES, ITEM_CATCH,
                                         ITEM_IS_KEY))


class Ability(enum.IntEnum):
    """Field abilities, each unlocked by a badge (which badge is the world's ``ability_badge``)."""

    CHOP = 0  # cut a small tree
    SWIM = 1  # cross water
    SHOVE = 2  # push a boulder


NUM_ABILITIES = len(Ability)
ABILITY_NAMES = ("Chop", "Swim", "Shove")


class MenuKind(enum.IntEnum):
    """Overworld menus (battle menus are battle phases)."""

    NONE = 0
    START = 1  # PARTY / BAG / CLOSE
    PARTY = 2  # view the party; A makes the chosen creature the lead
    BAG = 3  # choose an item
    BAG_TARGET = 4  # choose who gets the item chosen in BAG
    SHOP = 5  # buy items; B leaves


START_MENU_OPTIONS = ("PARTY", "BAG", "CLOSE")


class Effect(enum.IntEnum):
    """What happens when a dialog's last page is dismissed."""

    NONE = 0
    TRAINER_BATTLE = 1  # arg: trainer index
    OPEN_SHOP = 2  # arg: shop index
    WHITEOUT = 3  # respawn at the last rest house, money halved, party healed
    FINISH = 4  # the game is complete


class BattleKind(enum.IntEnum):
    NONE = 0
    WILD = 1
    TRAINER = 2


class BattlePhase(enum.IntEnum):
    """Which battle screen takes the buttons."""

    MAIN = 0  # FIGHT / BAG / PARTY / RUN, a 2x2 grid
    FIGHT = 1  # four moves
    BAG = 2  # usable items
    PARTY = 3  # switch the active creature (B returns to MAIN)
    FORCED_SWITCH = 4  # the active creature fainted: choose the next (B does nothing)
    MESSAGE = 5  # a queue of messages advanced with A (or B)


BATTLE_MAIN_OPTIONS = ("FIGHT", "BAG", "PARTY", "RUN")


class Rng(enum.IntEnum):
    """Slots of the counter-based random stream: draw ``rand(key, tick, slot)``.

    Each purpose has its own slot, so whether one draw happens never shifts another: the batched engine
    can draw every slot every step and use only what the reference engine would.
    """

    ENCOUNTER = 0
    ENCOUNTER_SLOT = 1
    ENCOUNTER_LEVEL = 2
    FIRST_MOVER = 3
    PLAYER_HIT = 4
    PLAYER_CRIT = 5
    PLAYER_DAMAGE = 6
    ENEMY_MOVE = 7
    ENEMY_HIT = 8
    ENEMY_CRIT = 9
    ENEMY_DAMAGE = 10
    CATCH = 11
    RUN = 12


RNG_SLOTS = 16
