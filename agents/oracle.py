"""The quest oracle: an agent that reads the game's privileged state and finishes the game.

It is the proof that a world is solvable and the reference step count of every milestone. It ignores the
observation and reads ``env.unwrapped.game.raw`` (the mutable :class:`~longplay.envs.quest.state.QuestState`)
and ``.world`` (the static :class:`~longplay.envs.quest.state.World`).

How it decides, once per button press:

* **Screens.** A battle is fought by :meth:`OracleAgent._battle`: the move with the best expected damage; a
  healing item when the next hit could knock the active creature out; a switch to a benched member when the
  active one loses the matchup and another wins it; orbs at wild creatures worth catching (weakened first);
  running from wild creatures it cannot beat. A text box is advanced with A; a menu is driven by the errand
  that opened it (shopping, healing from the bag, choosing the lead) or closed with B.
* **Goals** (:meth:`OracleAgent._choose_goal`), in the overworld: walk ``World.plan`` in order (the entities
  whose use finishes the game: partner capsule, key-item givers, leaders, league). Before each plan step the
  trainers its route crosses (and the target, when it is one) are fought on paper (:func:`team_plan`, over
  the expected-damage model :func:`matchup`): each foe goes to the party member that beats it for the
  smallest share of its HP, within a margin plus credit for the healing items carried. While the rested
  party falls short, the member that needs the least experience to close the gap leads and *grinds* on the
  encounter tiles that pay it the most experience it can safely earn; the party *rests* at the nearest rest
  house (or heals from the bag) when too hurt for what is next; it *shops* for healing items and orbs when a
  clerk is near; it *catches* wild species that would beat the blocking foe at a clearly lower level. Before
  the last plan step (which ends the game) it sweeps up the catalog milestones still missing (maps not yet
  visited, a wild win, a catch, each field ability used once).
* **Navigation** (:class:`Navigator`): breadth-first search over (map, x, y) with the engine's own movement
  rules (visible entities block, ledges one way down, water needs swim, small trees are chopped and boulders
  shoved once the badge allows, warps teleport), shortest in moves and then in turns (the turn-first rule
  costs a press whenever the direction changes). A path is followed until the player leaves it, a step is
  blocked, or the goal changes.
* **Stuck fallback**: when nothing changes (events, experience, plan progress) for ``stuck_presses``
  presses, a short burst of seeded random presses shakes the state loose; ``OracleAgent.stats`` counts them
  (``fallback_presses``) with the other counters.

The oracle is deterministic: the same world and seed give the same presses.

``reference_run`` plays one episode and returns the step of every milestone, for benchmarks and tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from longplay.envs.game import Button
from longplay.envs.quest.battle import battle_items, catch_chance, effectiveness, exp_yield
from longplay.envs.quest.cache import IdentityCache
from longplay.envs.quest.constants import (
    DX,
    DY,
    ITEM_CATCH,
    ITEM_HEAL,
    ITEM_PRICE,
    MAX_LEVEL,
    MOVE_SLOTS,
    PARTY_SIZE,
    TILE_ENCOUNTER,
    TILE_WALKABLE,
    Ability,
    BattleKind,
    BattlePhase,
    Direction,
    EntityKind,
    Item,
    MenuKind,
    Tile,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.menus import bag_items
from longplay.envs.quest.overworld import has_ability, visible
from longplay.envs.quest.party import exp_for_level, heal, make_mon
from longplay.envs.quest.state import Encounter, Mon, QuestState, World

_A, _B, _START = int(Button.A), int(Button.B), int(Button.START)
_UP, _DOWN, _LEFT, _RIGHT = int(Button.UP), int(Button.DOWN), int(Button.LEFT), int(Button.RIGHT)
_BATTLE_ON, _BATTLE_LOSE, _BATTLE_FLEE = 0, 2, 3  # battle.Outcome.CONTINUE, LOSE, FLEE
SAFE_SHARE = 0.7  # a switch-in must keep 30% of its HP after the expected cost (hits vary)
_HEAL_ITEMS = tuple(int(i) for i in Item if ITEM_HEAL[i] > 0)
_ORBS = tuple(int(i) for i in Item if ITEM_CATCH[i] > 0)

# Node keys pack (map, x, y) into one int: the search touches tens of thousands of nodes per plan.
_SHIFT = 10
_COORD = (1 << _SHIFT) - 1


def node_key(map_index: int, x: int, y: int) -> int:
    """One int for a position (maps are at most 1024 tiles wide and high)."""
    return (map_index << (2 * _SHIFT)) | (y << _SHIFT) | x


def node_pos(key: int) -> tuple[int, int, int]:
    """(map, x, y) of a :func:`node_key`."""
    return key >> (2 * _SHIFT), key & _COORD, (key >> _SHIFT) & _COORD


# ============================================================================================ config


@dataclass
class OracleConfig:
    """The oracle's knobs (the defaults finish every world size)."""

    fight_margin: float = 0.7
    """Train until, in every fight before the next plan step, each party member is expected to lose at most
    this fraction of its max HP (topped up with ``item_credit`` of what the healing items restore)."""
    item_credit: float = 0.6
    """The share of the healing items' worth counted on in a fight (using one costs a turn)."""
    items_per_fight: int = 8
    """At most this many of each healing item are counted on in one fight."""
    margin_step: float = 0.12
    """After each loss to a trainer, the margin for that trainer shrinks by this much."""
    min_margin: float = 0.15
    """The margin never shrinks below this."""
    heal_below: float = 0.4
    """Rest when the lead's (or a strong member's) HP falls below this fraction ..."""
    low_stamina: float = 0.35
    """... or its PP, weighted by move power, below this fraction of full."""
    reserve: float = 0.25
    """Rest before setting off unless the party, as it is, beats the fights ahead keeping this share of HP."""
    battle_heal_below: float = 0.3
    """Use a healing item in battle when the active creature's HP falls below this fraction ..."""
    danger_hits: float = 1.3
    """... or below this many of the foe's expected hits (unless the foe goes down first)."""
    switch_gain: float = 0.5
    """In a trainer battle, switch to a benched member whose share of HP lost to the foe would be below this
    fraction of the active creature's."""
    heal_stock: int = 10
    """Healing items to carry (bought from clerks within ``shop_radius`` while money allows)."""
    orb_stock: int = 5
    """Orbs to carry while the party has room."""
    money_floor: int = 0
    """Money kept back when shopping."""
    shop_radius: int = 40
    """Detour at most this many tiles to a clerk."""
    max_grind_battles: int = 600
    """Training that would take more wild battles than this (doubled by each defeat by that trainer) is not
    worth it: go and try the fight."""
    catch_levels: int = 3
    """Catch a wild species when it would be ready for what is ahead this many levels sooner than the team."""
    grind_cost: float = 0.45
    """Train where the trainee's expected HP loss in a wild battle is at most this share of its max HP."""
    grind_rest_below: float = 0.6
    """While training, rest when the trainee's HP falls below this fraction (off its training maps) ..."""
    grind_fitness: float = 1.3
    """... or (on them) below this many times the expected cost of a wild battle there."""
    max_escapes: int = 3
    """Rest after running from this many wild battles in a row (too worn to win them)."""
    grind_detour: int = 60
    """Walk up to this many moves further than the nearest encounter tile for stronger wild creatures."""
    stuck_presses: int = 6000
    """Presses without any progress before the random fallback kicks in."""
    fallback_presses: int = 40
    """Length of one random fallback burst."""


# ============================================================================================ battle model


def expected_damage(attacker: Mon, defender: Mon, move: int) -> float:
    """The mean damage of ``move`` (accuracy, critical hits and the damage spread averaged in).

    Mirrors :func:`longplay.envs.quest.battle.damage` with real-valued means instead of draws.
    """
    spec = MOVES[move]
    level_term = 2 * attacker.level // 5 + 2
    base = (level_term * spec.power * attacker.attack // max(1, defender.defense)) // 50 + 2
    attacker_types = SPECIES[attacker.species].types
    if spec.type in attacker_types:
        base = base * 3 // 2
    eff = effectiveness(spec.type, SPECIES[defender.species].types)
    if eff == 0:
        return 0.0
    mean = base * eff / 10 * (1 + 1 / 16) * (217 + 19) / 255
    return max(1.0, mean) * spec.accuracy / 100


def best_move(attacker: Mon, defender: Mon) -> tuple[int, float]:
    """(slot, expected damage) of the attacker's best move with PP left; (-1, 0) when none has PP."""
    best, best_damage = -1, -1.0
    for slot in range(MOVE_SLOTS):
        move = attacker.moves[slot]
        if move < 0 or attacker.pp[slot] <= 0:
            continue
        dealt = expected_damage(attacker, defender, move)
        if dealt > best_damage:
            best, best_damage = slot, dealt
    return best, max(0.0, best_damage)


def enemy_damage(attacker: Mon, defender: Mon) -> float:
    """The mean damage of an enemy turn: the enemy picks uniformly among its moves with PP."""
    moves = [attacker.moves[k] for k in range(MOVE_SLOTS) if attacker.moves[k] >= 0 and attacker.pp[k] > 0]
    if not moves:
        moves = [0]
    return sum(expected_damage(attacker, defender, m) for m in moves) / len(moves)


def fight_cost(me: Mon, team: Iterable[Mon]) -> float:
    """Expected HP the creature ``me`` loses beating every creature of ``team`` in turn (``inf``: it can't).

    Each enemy takes ``ceil(hp / best expected damage)`` turns; the enemy hits back every turn, except the
    last one when ``me`` is faster. Experience gained during the fight is ignored (the estimate is prudent).
    """
    return sum(matchup(me, foe)[0] for foe in team)


#: matchup() results by the fields they depend on (bounded: cleared when full).
_MATCHUPS: dict[tuple, tuple[float, float]] = {}


def matchup(me: Mon, foe: Mon) -> tuple[float, float]:
    """(expected HP ``me`` loses beating ``foe``, the foe's expected damage per hit); memoised."""
    key = (me.species, me.level, me.attack, me.defense, me.speed, *me.moves, *(p > 0 for p in me.pp),
           foe.species, foe.level, foe.hp, foe.attack, foe.defense, foe.speed, *foe.moves,
           *(p > 0 for p in foe.pp))
    result = _MATCHUPS.get(key)
    if result is None:
        incoming = enemy_damage(foe, me)
        _, dealt = best_move(me, foe)
        if dealt <= 0:
            cost = math.inf
        else:
            turns = math.ceil(foe.hp / dealt)
            hits = turns if foe.speed > me.speed else turns - 0.5 if foe.speed == me.speed else turns - 1
            cost = hits * incoming
        if len(_MATCHUPS) > 500_000:
            _MATCHUPS.clear()
        result = _MATCHUPS[key] = (cost, incoming)
    return result


def team_plan(party: list[Mon], team: list[Mon], margin: float, pool: float = 0.0) -> int:
    """Plays a trainer fight on paper: each foe, in order, is taken on by the party member that beats it for
    the smallest share of its HP (a member other than the active one first takes a free hit while switching
    in; the first foe's opponent is sent out first), as long as that member stays within ``margin`` of its
    max HP, topped up from ``pool`` (HP the healing items are counted on for).

    Returns:
        The index of the first foe no member beats in time, or -1 when the party beats the whole team.
    """
    spent = [m.max_hp - m.hp for m in party]
    active = -1  # whoever takes on the first foe is sent out first: the plan does not depend on the order
    for index, foe in enumerate(team):
        best, best_key, best_cost = -1, (math.inf,), 0.0
        for i, mon in enumerate(party):
            if mon.hp <= 0:
                continue
            cost, incoming = matchup(mon, foe)
            cost += 0.0 if i == active or active < 0 else incoming
            short = max(0.0, spent[i] + cost - margin * mon.max_hp)
            # Ties go by the creature, not its place in the party: the plan must not depend on the order.
            key = (short, cost / mon.max_hp, -mon.level, mon.species, spent[i])
            if short <= pool and key < best_key:
                best, best_key, best_cost = i, key, cost
        if best < 0:
            return index
        spent[best] += best_cost
        pool -= best_key[0]
        active = best
    return -1


def _lowest(passes: Any, low: int, high: int) -> int:
    """The lowest level in [low, high] where ``passes(level)`` (assumed monotone), or high + 1."""
    if low > high or not passes(high):
        return high + 1
    while low < high:
        middle = (low + high) // 2
        if passes(middle):
            high = middle
        else:
            low = middle + 1
    return low


def trainer_team(world: World, trainer: int) -> list[Mon]:
    """The creatures a trainer sends out, as battle would build them."""
    return [make_mon(species, level) for species, level in world.trainers[trainer].party]


def healed(mon: Mon) -> Mon:
    """A copy of ``mon`` with full HP and PP (as after a rest house)."""
    copy = mon.copy()
    heal(copy)
    return copy


# ============================================================================================ navigation

#: What a step does besides walking (the values of ``Path.acts``): shove a boulder, or chop a tree first.
PUSH, CHOP = 1, 2
_WALK, _SWIM, _LEDGE = 0, 1, 2  # what a step needs: nothing, the swim ability, a free landing spot
_NO_MOVES: tuple[None, ...] = (None, None, None, None)
#: Static moves per world.
_MOVE_TABLES: IdentityCache[dict] = IdentityCache(16)


def _move_table(world: World, warps: dict[int, int]) -> dict[int, tuple[tuple[int, int, int] | None, ...]]:
    """For every tile the player can stand on, per direction: ``(ahead, destination, need)`` when the tiles
    allow the step (entities aside), else None. The destination follows a warp or a ledge hop."""
    return _MOVE_TABLES.get(world, lambda: _build_move_table(world, warps))


def _build_move_table(world: World, warps: dict[int, int]) -> dict[int, tuple[tuple[int, int, int] | None, ...]]:
    table: dict[int, tuple[tuple[int, int, int] | None, ...]] = {}
    for m in world.maps:
        for y in range(m.height):
            for x in range(m.width):
                here = m.tile(x, y)
                if not TILE_WALKABLE[here] and here != Tile.WATER:
                    continue
                entries: list[tuple[int, int, int] | None] = []
                for d in range(4):
                    nx, ny = x + DX[d], y + DY[d]
                    tile, ahead = m.tile(nx, ny), node_key(m.index, nx, ny)
                    landing = node_key(m.index, nx, ny + 1)
                    if tile == Tile.LEDGE:
                        ok = d == Direction.DOWN and TILE_WALKABLE[m.tile(nx, ny + 1)] \
                            and landing not in warps
                        entries.append((ahead, landing, _LEDGE) if ok else None)
                    elif tile == Tile.WATER:
                        entries.append((ahead, warps.get(ahead, ahead), _SWIM))
                    elif TILE_WALKABLE[tile]:
                        entries.append((ahead, warps.get(ahead, ahead), _WALK))
                    else:
                        entries.append(None)
                table[node_key(m.index, x, y)] = tuple(entries)
    return table


@dataclass
class Path:
    """A route: ``nodes[i]`` to ``nodes[i+1]`` by pressing ``dirs[i]`` (after chopping when ``acts[i]``)."""

    nodes: list[int]
    dirs: list[int]
    acts: list[int]
    facing: int  # the direction to face at the end (-1: any)
    index: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {node: i for i, node in enumerate(self.nodes)}


class Navigator:
    """Breadth-first search over (map, x, y) with the overworld's movement rules."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.warps = {node_key(w.map, w.x, w.y): node_key(w.to_map, w.to_x, w.to_y) for w in world.warps}
        self.kinds = [e.kind for e in world.entities]
        self.moves = _move_table(world, self.warps)
        self._occupied_version: tuple[int, bytes, bytes, bytes] | None = None
        self._occupied: dict[int, int] = {}
        self._sight_version: tuple[int, bytes, bytes, bytes] | None = None
        self._sight: dict[int, int] = {}

    # ------------------------------------------------------------------------------------------ state
    def occupied(self, state: QuestState) -> dict[int, int]:
        """Position -> visible entity, over every map (boulders where they stand now); cached until an
        event, a used-up entity or a boulder changes."""
        version = (state.events, bytes(state.done), bytes(state.entity_x), bytes(state.entity_y))
        if version != self._occupied_version:
            self._occupied_version, self._occupied = version, self._find_occupied(state)
        return self._occupied

    def _find_occupied(self, state: QuestState) -> dict[int, int]:
        taken: dict[int, int] = {}
        for e in self.world.entities:
            if visible(state, self.world, e.index):
                if e.kind == EntityKind.BOULDER:
                    taken[node_key(e.map, state.entity_x[e.index], state.entity_y[e.index])] = e.index
                else:
                    taken.setdefault(node_key(e.map, e.x, e.y), e.index)
        return taken

    def sight_lines(self, state: QuestState) -> dict[int, int]:
        """Position -> undefeated trainer that challenges the player arriving there (cached like
        :meth:`occupied`)."""
        taken = self.occupied(state)
        if self._sight_version != self._occupied_version:
            self._sight_version, self._sight = self._occupied_version, self._find_sight_lines(state, taken)
        return self._sight

    def _find_sight_lines(self, state: QuestState, taken: dict[int, int]) -> dict[int, int]:
        seen: dict[int, int] = {}
        for e in self.world.entities:
            if e.kind != EntityKind.TRAINER or e.sight <= 0 or state.done[e.index] \
                    or not visible(state, self.world, e.index):
                continue
            tiles = self.world.maps[e.map]
            for distance in range(1, e.sight + 1):
                tx, ty = e.x + DX[e.facing] * distance, e.y + DY[e.facing] * distance
                key = node_key(e.map, tx, ty)
                seen.setdefault(key, e.index)
                if not TILE_WALKABLE[tiles.tile(tx, ty)] or key in taken:
                    break
        return seen

    def _free_land(self, taken: dict[int, int], m: int, x: int, y: int) -> bool:
        key = node_key(m, x, y)
        return TILE_WALKABLE[self.world.maps[m].tile(x, y)] and key not in self.warps and key not in taken

    # ------------------------------------------------------------------------------------------ moves
    def _into_entity(self, node: int, direction: int, taken: dict[int, int], abilities: tuple[bool, ...]
                     ) -> tuple[int, int] | None:
        """A step into a visible entity: shove a boulder onto free land, or chop a small tree and walk on."""
        m, x, y = node_pos(node)
        ahead_x, ahead_y = x + DX[direction], y + DY[direction]
        ahead = node_key(m, ahead_x, ahead_y)
        kind = self.kinds[taken[ahead]]
        if kind == EntityKind.BOULDER and abilities[Ability.SHOVE] \
                and self._free_land(taken, m, ahead_x + DX[direction], ahead_y + DY[direction]):
            return self.warps.get(ahead, ahead), PUSH
        if kind != EntityKind.CUT_TREE or not abilities[Ability.CHOP]:
            return None
        _, dest, need = self.moves[node][direction]  # type: ignore[misc]
        if (need == _SWIM and not abilities[Ability.SWIM]) or (need == _LEDGE and dest in taken):
            return None
        return dest, CHOP

    def search(self, state: QuestState, goals: dict[int, int], avoid: dict[int, int] | None = None,
               limit: int = 1 << 30, value: dict[int, int] | None = None, slack: int = 0) -> Path | None:
        """A shortest path (fewest moves, then fewest turns) from the player to a goal position.

        Args:
            state: The game state (position, facing, entities, abilities).
            goals: Goal position -> the direction to face there (-1: any).
            avoid: Positions never entered (e.g. undefeated trainers' sight lines).
            limit: Give up beyond this many moves.
            value: Optional goal position -> value: the search goes on ``slack`` moves past the first goal
                found and returns the most valuable goal seen (the nearest among equals).
            slack: See ``value``.

        Returns:
            The path, or None when no goal is reachable within ``limit``.
        """
        taken = self.occupied(state)
        abilities = tuple(has_ability(state, self.world, a) for a in range(3))
        swim, moves = abilities[Ability.SWIM], self.moves
        start = node_key(state.map, state.x, state.y)
        # node -> (parent, direction pressed, act, depth, turns); the start "arrived" facing its facing.
        came: dict[int, tuple[int, int, int, int, int]] = {start: (-1, state.facing, 0, 0, 0)}
        frontier = [start]
        depth = 0
        avoid = avoid or {}
        best, best_value, stop = -1, -math.inf, limit
        while frontier and depth <= stop:
            for node in frontier:
                if node in goals:
                    if value is None:
                        return self._unwind(node, came, goals[node])
                    if value[node] > best_value:
                        best, best_value = node, value[node]
                        stop = min(stop, depth + slack)
            depth += 1
            next_frontier: list[int] = []
            for node in frontier:
                _, facing, _, _, turns = came[node]
                table = moves.get(node, _NO_MOVES)
                for direction in range(4):
                    entry = table[direction]
                    if entry is None:
                        continue
                    ahead, dest, need = entry
                    act = 0
                    if ahead in taken:
                        move = self._into_entity(node, direction, taken, abilities)
                        if move is None:
                            continue
                        dest, act = move
                    elif (need == _SWIM and not swim) or (need == _LEDGE and dest in taken):
                        continue
                    if dest in avoid:
                        continue
                    cost = turns + (direction != facing) + (act == CHOP)
                    seen = came.get(dest)
                    if seen is None:
                        next_frontier.append(dest)
                    elif seen[3] != depth or seen[4] <= cost:
                        continue
                    came[dest] = (node, direction, act, depth, cost)
            frontier = next_frontier
        return self._unwind(best, came, goals[best]) if best >= 0 else None

    @staticmethod
    def _unwind(node: int, came: dict[int, tuple[int, int, int, int, int]], facing: int) -> Path:
        nodes, dirs, acts = [node], [], []
        while True:
            parent, direction, act, _, _ = came[node]
            if parent < 0:
                break
            nodes.append(parent)
            dirs.append(direction)
            acts.append(act)
            node = parent
        nodes.reverse()
        dirs.reverse()
        acts.reverse()
        return Path(nodes, dirs, acts, facing)

    # ------------------------------------------------------------------------------------------ goals
    def interaction_spots(self, state: QuestState, entity: int) -> dict[int, int]:
        """Where to stand (and which way to face) to press A at ``entity``: beside it or across a counter."""
        e = self.world.entities[entity]
        ex, ey = state.entity_x[entity], state.entity_y[entity]
        tiles = self.world.maps[e.map]
        spots: dict[int, int] = {}
        for direction in range(4):
            # Standing one tile away opposite to `direction`, facing `direction`.
            sx, sy = ex - DX[direction], ey - DY[direction]
            tile = tiles.tile(sx, sy)
            if tile == Tile.COUNTER:
                sx, sy = sx - DX[direction], sy - DY[direction]
                tile = tiles.tile(sx, sy)
            if TILE_WALKABLE[tile] or tile == Tile.WATER:
                spots[node_key(e.map, sx, sy)] = direction
        return spots



# ============================================================================================ the agent


@dataclass(frozen=True)
class Assessment:
    """The party against the fights before the next plan step (see ``OracleAgent._assess``)."""

    ready: bool  # the rested party beats every trainer ahead within the margins
    trainee: int  # when not ready: the member to train (-1: no amount of training is enough)
    blocker: Mon | None  # when not ready: the first foe the party can't beat in time
    ready_now: bool = False  # ready, and also as the party is now (no need to rest first)


#: The fights ahead, as the team model sees them: ((trainer, margin), ...), ((healing item, count), ...).
Threats = tuple[tuple[tuple[int, float], ...], tuple[tuple[int, int], ...]]


@dataclass(frozen=True)
class Goal:
    """What the overworld policy is after.

    ``kind``: ``plan`` (use plan entity ``entity``), ``heal`` (the nearest rest house), ``bag_heal`` (healing
    items from the bag), ``shop`` (clerk ``entity``), ``grind`` (wild battles until ready for the next plan
    step; the member in training leads on its training maps, the strongest member elsewhere), or a milestone
    sweep before the last plan step, over once ``event`` is set: ``visit`` (map ``entity``), ``wild`` (win a
    wild battle), ``catch``, ``chop`` (tree ``entity``), ``swim``, ``shove`` (boulder ``entity``).
    """

    kind: str
    entity: int = -1
    event: int = -1


class OracleAgent:
    """Finishes quest worlds with privileged state (see the module docstring for how it decides).

    Args:
        config: An :class:`OracleConfig` (defaults when omitted); extra keyword arguments are ignored so the
            command line can build every agent the same way.
    """

    name = "oracle"
    obs_mode = "symbolic"
    privileged = True

    def __init__(self, config: OracleConfig | None = None) -> None:
        self.config = config or OracleConfig()
        self.stats: dict[str, int] = {}
        self.game: Any = None

    # ------------------------------------------------------------------------------------------ episode
    @staticmethod
    def check_env(env: gym.Env) -> None:
        """``ValueError`` unless the game behind ``env`` is the built-in quest game (the oracle reads its state)."""
        game = getattr(env.unwrapped, "game", None)
        if not hasattr(game, "raw"):
            raise ValueError("the oracle plays only the built-in quest game (it reads env.unwrapped.game.raw); "
                             f"{type(game).__name__} is not it")

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        """Captures the game behind ``env`` (``env.unwrapped.game``) and forgets the previous episode."""
        self.check_env(env)
        game = env.unwrapped.game  # type: ignore[attr-defined]
        self.game = game
        self.world: World = game.world
        self.nav = Navigator(self.world)
        self.teams = [trainer_team(self.world, t.index) for t in self.world.trainers]
        self.trainer_entities: dict[int, list[int]] = {}
        for e in self.world.entities:
            if e.kind == EntityKind.TRAINER:
                self.trainer_entities.setdefault(e.trainer, []).append(e.index)
        self.rng = np.random.default_rng(seed)
        self.stats = {"presses": 0, "battles": 0, "losses": 0, "grind_presses": 0, "heals": 0, "shops": 0,
                      "orbs": 0, "lead_changes": 0, "lead_freezes": 0, "replans": 0, "blocked": 0,
                      "fallback_presses": 0}
        self.losses: dict[int, int] = {}  # trainer -> battles lost to it
        self.talked: set[int] = set()  # plan entities that never become "done" (people, signs)
        self.sweep_skipped: set[int] = set()  # milestone events the sweep could not reach
        self.goal: Goal | None = None
        self.errand = ""  # what an open menu is for: "shop", "bag_heal" or "lead"
        self.path: Path | None = None
        self.path_goal: Goal | None = None
        self.last_move: tuple[int, int] | None = None  # (position, direction) of the last walking press
        self.heal_blocked_at = -1  # plan step at which no rest house could be reached
        self.grind_blocked_at = (-1, -1, -1)  # (plan step, trainee species, level): no encounter tile reached
        self.in_battle = False
        self.escapes = 0  # wild battles in a row ended by running away
        self.recent_swaps: list[int] = []  # presses of the last lead swaps
        self.lead_frozen_until = 0  # no lead swaps before this press
        self.fallback = 0  # random presses left in a fallback burst
        self.progress_mark: tuple[int, int, int] = (-1, -1, -1)
        self.progress_at = 0
        self.step_now = 0  # the plan step, worked out once per press
        self.threats_now = None
        self.assessment_now = None
        # Caches: the world is static, so these are keyed by what they depend on.
        self._threat_cache: dict[tuple[int, int], list[int]] = {}
        self._assess_cache: dict[tuple, Assessment] = {}
        self._level_cache: dict[tuple, int] = {}
        self._shop_cache: dict[tuple, int] = {}
        self._spot_value: dict[int, int] = {}
        self._map_value_cache: dict[tuple, dict[int, int]] = {}

    @property
    def state(self) -> QuestState:
        """The game's live state (privileged)."""
        return self.game.raw

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        """The next button (reads the game's state, not ``obs``)."""
        s = self.state
        self.stats["presses"] += 1
        self.step_now = self._plan_step(s)
        self.threats_now: Threats | None = None
        self.assessment_now: Assessment | None = None
        self._watch_progress(s)
        if self.fallback > 0:
            self.fallback -= 1
            self.stats["fallback_presses"] += 1
            return int(self.rng.integers(0, 6))
        if s.battle.kind != BattleKind.NONE:
            return self._battle(s)
        self.in_battle = False
        if s.dialog:
            return _A
        if s.menu != MenuKind.NONE:
            return self._menu(s)
        return self._overworld(s)

    def _watch_progress(self, s: QuestState) -> None:
        """A random burst after ``stuck_presses`` presses with no new event, experience or plan step."""
        mark = (s.events, sum(m.exp for m in s.party), self.step_now)
        if mark != self.progress_mark:
            self.progress_mark, self.progress_at = mark, self.stats["presses"]
        elif self.stats["presses"] - self.progress_at > self.config.stuck_presses:
            self.progress_at = self.stats["presses"]
            self.fallback = self.config.fallback_presses
            self.path = self.goal = None

    # ------------------------------------------------------------------------------------------ the plan
    def _plan_step(self, s: QuestState) -> int:
        """Index in ``World.plan`` of the first entity still to use (len(plan) when all are used)."""
        for i, e in enumerate(self.world.plan):
            if not self._used(s, e):
                return i
        return len(self.world.plan)

    def _used(self, s: QuestState, entity: int) -> bool:
        e = self.world.entities[entity]
        if s.done[entity] or (e.sets_event >= 0 and s.has_event(e.sets_event)):
            return True
        if e.kind == EntityKind.TRAINER:
            return self._trainer_beaten(s, e.trainer)
        if e.kind == EntityKind.CAPSULE:
            return bool(s.party)
        return e.kind in (EntityKind.PERSON, EntityKind.SIGN, EntityKind.GUARD) and entity in self.talked

    def _trainer_beaten(self, s: QuestState, trainer: int) -> bool:
        event = self.world.trainers[trainer].event
        if event >= 0 and s.has_event(event):
            return True
        return any(s.done[e] for e in self.trainer_entities.get(trainer, ()))

    def _threats(self, s: QuestState) -> list[int]:
        """Trainers (TrainerDef indices) still to beat on the way to the next plan entity, and the entity
        itself when it is a trainer. The route is searched once per plan step and set of events."""
        step = self.step_now
        if step >= len(self.world.plan):
            return []
        key = (step, s.events)
        if key not in self._threat_cache:
            target = self.world.plan[step]
            trainers: list[int] = []
            path = self.nav.search(s, self.nav.interaction_spots(s, target))
            if path is not None:
                sight = self.nav.sight_lines(s)
                trainers = [self.world.entities[sight[n]].trainer for n in path.nodes[1:] if n in sight]
            if self.world.entities[target].kind == EntityKind.TRAINER:
                trainers.append(self.world.entities[target].trainer)
            self._threat_cache[key] = trainers
        return [t for t in self._threat_cache[key] if not self._trainer_beaten(s, t)]

    def _threat_key(self, s: QuestState) -> Threats:
        """The threats with the margin each must be beaten by (it shrinks with every loss to that trainer),
        and the healing items at hand; worked out once per press."""
        if self.threats_now is None:
            cfg = self.config
            margins = tuple(
                (t, max(cfg.min_margin, cfg.fight_margin - cfg.margin_step * self.losses.get(t, 0)))
                for t in dict.fromkeys(self._threats(s)))
            supplies = tuple((i, min(s.bag[i], cfg.items_per_fight)) for i in _HEAL_ITEMS if s.bag[i] > 0)
            self.threats_now = (margins, supplies)
        return self.threats_now

    # ------------------------------------------------------------------------------------------ the team
    def _item_pool(self, s: QuestState, threats: Threats) -> float:
        """HP the healing items at hand are counted on for in one fight."""
        biggest = max((m.max_hp for m in s.party), default=0)
        worth = sum(count * min(ITEM_HEAL[item], biggest) for item, count in threats[1])
        return self.config.item_credit * worth

    def _assess(self, s: QuestState) -> Assessment:
        """Whether the party is ready for the fights before the next plan step, and if not whom to train;
        worked out once per press and cached by what it depends on."""
        if self.assessment_now is not None:
            return self.assessment_now
        threats = self._threat_key(s)
        margins, _ = threats
        pool = self._item_pool(s, threats)
        signature = tuple((m.species, m.level, tuple(m.moves)) for m in s.party)
        key = (threats, signature)
        if key not in self._assess_cache:
            rested = [healed(m) for m in s.party]
            failing = next(((t, margin, fail) for t, margin in margins
                            if (fail := team_plan(rested, self.teams[t], margin, pool)) >= 0), None)
            if failing is None:
                self._assess_cache[key] = Assessment(True, -1, None)
            else:
                trainer, margin, fail = failing
                trainee = self._trainee(s, trainer, margin, pool)
                self._assess_cache[key] = Assessment(False, trainee, self.teams[trainer][fail])
        assessment = self._assess_cache[key]
        if assessment.ready:
            hurt = any(m.hp < m.max_hp or m.pp != healed(m).pp for m in s.party)
            limit = 1.0 - self.config.reserve
            now = not hurt or all(team_plan(s.party, self.teams[t], limit, pool) < 0 for t, _ in margins)
            assessment = Assessment(True, -1, None, now)
        self.assessment_now = assessment
        return assessment

    def _trainee(self, s: QuestState, trainer: int, margin: float, pool: float) -> int:
        """The party member whose training beats ``trainer`` soonest (fewest wild battles: the experience it
        needs over what a battle on its best training ground pays), or -1 when none gets there within
        ``max_grind_battles``."""
        rested = [healed(m) for m in s.party]
        battles: list[float] = []
        for i, mon in enumerate(s.party):
            def passes(level: int, i: int = i, mon: Mon = mon) -> bool:
                trained = rested[:i] + [make_mon(mon.species, level)] + rested[i + 1:]
                return team_plan(trained, self.teams[trainer], margin, pool) < 0

            level = _lowest(passes, mon.level + 1, MAX_LEVEL)
            if level > MAX_LEVEL:
                battles.append(math.inf)
                continue
            pay = max(self._map_values(mon).values(), default=0)
            # By levels, not the exact experience: the result is cached by the party's levels.
            battles.append((exp_for_level(level) - exp_for_level(mon.level)) / max(pay, 1))
        # Order-free choice (the party's order changes as leads swap): fewest battles, then the strongest.
        party = s.party
        best = min(range(len(battles)), key=lambda i: (battles[i], -party[i].level, party[i].species, i))
        # Each defeat by this trainer makes a training twice as long worth it.
        if battles[best] > self.config.max_grind_battles * 2 ** self.losses.get(trainer, 0):
            return -1
        return best

    def _solo_level(self, species: int, foe: Mon) -> int:
        """The lowest level at which a fresh ``species`` beats ``foe`` alone within the fight margin."""
        key = (species, foe.species, foe.level)
        if key not in self._level_cache:
            margin = self.config.fight_margin

            def passes(level: int) -> bool:
                mon = make_mon(species, level)
                return matchup(mon, foe)[0] <= margin * mon.max_hp

            self._level_cache[key] = _lowest(passes, 2, MAX_LEVEL)
        return self._level_cache[key]

    def _worth_catching(self, s: QuestState, foe: Mon) -> bool:
        """A first catch (a milestone and a spare), or a species clearly better against the foe that stops
        the team."""
        if len(s.party) >= PARTY_SIZE or not any(s.bag[o] for o in _ORBS):
            return False
        if len(s.party) == 1 or not s.has_event(self.world.ev_first_catch):
            return True
        blocker = self._assess(s).blocker
        if blocker is None or any(m.species == foe.species for m in s.party):
            return False
        mine = min(self._solo_level(m.species, blocker) for m in s.party)
        return self._solo_level(foe.species, blocker) + self.config.catch_levels <= mine

    # ------------------------------------------------------------------------------------------ battle
    def _battle(self, s: QuestState) -> int:
        b = s.battle
        if not self.in_battle:
            self.in_battle = True
            self.stats["battles"] += 1
        if b.phase == BattlePhase.MESSAGE:
            if len(b.messages) == 1 and b.kind == BattleKind.WILD and b.outcome != _BATTLE_ON:  # it ends
                self.escapes = self.escapes + 1 if b.outcome == _BATTLE_FLEE else 0
            if b.outcome == _BATTLE_LOSE and len(b.messages) == 1:
                self.stats["losses"] += 1
                if b.kind == BattleKind.TRAINER:
                    self.losses[b.trainer] = self.losses.get(b.trainer, 0) + 1
                    self.threats_now = self.assessment_now = None
                self.path = self.goal = None
            return _A
        foe = b.enemy[b.enemy_active]
        if b.phase == BattlePhase.FORCED_SWITCH:
            return _pick_in_list(b.cursor, self._best_switch(s, foe))
        option, detail = self._battle_choice(s, s.party[b.player_active], foe)
        if b.phase == BattlePhase.MAIN:
            return grid_press(b.cursor, option)
        wanted = {BattlePhase.FIGHT: 0, BattlePhase.BAG: 1, BattlePhase.PARTY: 2}[b.phase]
        if option != wanted:
            return _B
        if b.phase == BattlePhase.BAG:
            items = battle_items(s)
            if detail not in items:
                return _B
            press = _pick_in_list(b.cursor, items.index(detail))
            if press == _A and ITEM_CATCH[detail] > 0:
                self.stats["orbs"] += 1
            return press
        return _pick_in_list(b.cursor, detail)

    def _battle_choice(self, s: QuestState, me: Mon, foe: Mon) -> tuple[int, int]:
        """(MAIN option, detail): 0 FIGHT and a move slot, 1 BAG and an item, 2 PARTY and a member, 3 RUN."""
        cfg = self.config
        wild = s.battle.kind == BattleKind.WILD
        incoming = enemy_damage(foe, me)
        slot, dealt = best_move(me, foe)
        if wild and me.hp > 3 * incoming and self._worth_catching(s, foe):
            orb = max(o for o in _ORBS if s.bag[o] > 0)
            chance = catch_chance(foe.species, orb, foe.hp, foe.max_hp)
            if foe.hp * 2 > foe.max_hp and chance < 100:
                # Weaken it first (a hurt creature is up to three times easier to catch), never knock it out.
                soft = _softest_blow(me, foe)
                if soft >= 0:
                    return 0, soft
            return 1, orb
        finishes = dealt >= foe.hp * 1.1 and me.speed > foe.speed  # it goes down before it hits back
        cost = matchup(me, foe)[0]
        if not finishes and cost >= me.hp:  # the active creature loses this matchup
            if wild and me.speed >= foe.speed:
                return 3, 0
            better = self._better_member(s, foe, math.inf)
            if better >= 0:
                return 2, better
        elif not finishes and not wild:  # a benched member that handles this foe much more cheaply
            better = self._better_member(s, foe, cfg.switch_gain * cost / me.max_hp)
            if better >= 0:
                return 2, better
        in_danger = me.hp <= max(incoming * cfg.danger_hits, cfg.battle_heal_below * me.max_hp)
        if in_danger and not finishes:
            heal = _heal_item(s, me, incoming)
            if heal >= 0:
                return 1, heal
            if wild and me.speed >= foe.speed:
                return 3, 0
        if wild and me.hp <= incoming * 2 and dealt < foe.hp and me.speed >= foe.speed:
            return 3, 0
        return 0, max(slot, 0)  # no PP anywhere: FIGHT struggles

    @staticmethod
    def _better_member(s: QuestState, foe: Mon, below: float) -> int:
        """The benched member that beats ``foe`` after taking the hit of switching in, for the smallest share
        of its max HP (under ``below``), or -1."""
        best, best_share = -1, below
        for i, mon in enumerate(s.party):
            if i == s.battle.player_active or mon.hp <= 0:
                continue
            cost, incoming = matchup(mon, foe)
            cost += incoming
            if cost < SAFE_SHARE * mon.hp and cost / mon.max_hp < best_share:
                best, best_share = i, cost / mon.max_hp
        return best

    @staticmethod
    def _best_switch(s: QuestState, foe: Mon) -> int:
        """The able party member expected to come out of a fight with ``foe`` with the most HP."""
        def left(i: int) -> float:
            mon = s.party[i]
            return mon.hp - fight_cost(mon, [foe]) if mon.hp > 0 else -math.inf

        return max(range(len(s.party)), key=lambda i: (left(i), s.party[i].hp > 0, -i))

    # ------------------------------------------------------------------------------------------ menus
    def _menu(self, s: QuestState) -> int:
        if self.errand == "shop" and s.menu == MenuKind.SHOP:
            return self._shop_menu(s)
        if self.errand == "bag_heal" and s.party and s.party[0].hp < s.party[0].max_hp \
                and _heal_item(s, s.party[0], 0.0) >= 0:
            return self._bag_heal_menu(s)
        if self.errand == "lead" and s.party and self._lead_target(s) != 0:
            if s.menu == MenuKind.START:
                return _A if s.menu_cursor == 0 else _wrap_toward(s.menu_cursor, 0, 3)
            if s.menu == MenuKind.PARTY:
                target = self._lead_target(s)
                if s.menu_cursor == target:
                    self._count_lead_change()
                    return _A
                return _wrap_toward(s.menu_cursor, target, len(s.party))
        self.errand = ""
        return _B

    def _count_lead_change(self) -> None:
        """Counts a lead swap; swaps back and forth in quick succession (a planning blind spot) freeze the
        lead for a while, visibly in ``stats["lead_freezes"]``."""
        self.stats["lead_changes"] += 1
        now = self.stats["presses"]
        self.recent_swaps = [*self.recent_swaps[-7:], now]
        if len(self.recent_swaps) == 8 and now - self.recent_swaps[0] < 400:
            self.lead_frozen_until = now + 2000
            self.recent_swaps = []
            self.stats["lead_freezes"] += 1

    def _shopping_list(self, s: QuestState, stock: tuple[int, ...]) -> int:
        """The next item to buy from ``stock`` (orbs while the party has room, then healing), or -1."""
        cfg = self.config
        budget = s.money - cfg.money_floor
        room = len(s.party) < PARTY_SIZE
        if room and sum(s.bag[o] for o in _ORBS) < cfg.orb_stock:
            orbs = [i for i in stock if ITEM_CATCH[i] > 0 and ITEM_PRICE[i] <= budget]
            if orbs:
                return min(orbs, key=lambda i: ITEM_PRICE[i])
        if room and self.step_now == len(self.world.plan) - 1 and not s.has_event(self.world.ev_first_catch):
            # The sweep still needs the catch and the last plan step may pay nothing more (a mini world's
            # leader ends the game): keep back a second stock of orbs (none in a shop that sells none), as
            # every orb of the first may miss.
            budget -= cfg.orb_stock * min((ITEM_PRICE[i] for i in stock if ITEM_CATCH[i] > 0), default=0)
        if sum(s.bag[i] for i in _HEAL_ITEMS) < cfg.heal_stock:
            lead_hp = s.party[0].max_hp if s.party else 40
            options = [i for i in stock if ITEM_HEAL[i] > 0 and ITEM_PRICE[i] <= budget]
            # The cheapest item that heals a third of the lead, else the strongest affordable one.
            enough = [i for i in options if ITEM_HEAL[i] * 3 >= lead_hp]
            if enough:
                return min(enough, key=lambda i: ITEM_PRICE[i])
            if options:
                return max(options, key=lambda i: ITEM_HEAL[i])
        return -1

    def _shop_menu(self, s: QuestState) -> int:
        stock = self.world.shops[s.menu_choice]
        want = self._shopping_list(s, stock)
        if want < 0:
            self.errand, self.goal = "", None
            return _B
        return _A if s.menu_cursor == stock.index(want) else \
            _wrap_toward(s.menu_cursor, stock.index(want), len(stock) + 1)

    def _bag_heal_menu(self, s: QuestState) -> int:
        if s.menu == MenuKind.START:
            return _A if s.menu_cursor == 1 else _wrap_toward(s.menu_cursor, 1, 3)
        if s.menu == MenuKind.BAG:
            items = bag_items(s)
            row = items.index(_heal_item(s, s.party[0], 0.0))
            return _A if s.menu_cursor == row else _wrap_toward(s.menu_cursor, row, len(items))
        if s.menu == MenuKind.BAG_TARGET:
            return _A if s.menu_cursor == 0 else _wrap_toward(s.menu_cursor, 0, len(s.party))
        return _B

    # ------------------------------------------------------------------------------------------ goals
    def _choose_goal(self, s: QuestState) -> Goal:
        """The current errand (heal, shop, grind, lead) until it is over, else a fresh choice."""
        if self.goal is None or self._goal_over(s, self.goal):
            self.goal = self._new_goal(s)
        return self.goal

    def _goal_over(self, s: QuestState, goal: Goal) -> bool:
        if goal.event >= 0:
            if goal.kind in ("wild", "catch") and not self._fit_to_grind(s):
                return True  # rest first
            return s.has_event(goal.event) or (goal.kind == "catch" and not any(s.bag[o] for o in _ORBS))
        if goal.kind == "plan" or not s.party:
            return True  # plan steps are re-decided every press: errands may pre-empt them
        lead = s.party[0]
        if goal.kind == "heal":
            return all(m.hp >= m.max_hp and m.pp == healed(m).pp for m in s.party)
        if goal.kind == "bag_heal":
            return lead.hp >= lead.max_hp or _heal_item(s, lead, 0.0) < 0
        if goal.kind == "grind":
            assessment = self._assess(s)
            return not self._fit_to_grind(s) or assessment.ready or assessment.trainee < 0
        # shop: over when the shop menu closes (see _shop_menu) or nothing on the list is affordable
        return self._shopping_list(s, self.world.shops[self.world.entities[goal.entity].shop]) < 0

    def _new_goal(self, s: QuestState) -> Goal:
        step = self.step_now
        target = self.world.plan[step] if step < len(self.world.plan) else -1
        if not s.party or target < 0:
            return Goal("plan", target)
        assessment = self._assess(s)
        rest = self._heal_goal(s, step)
        if self._tired(s) and rest is not None:
            return rest
        clerk = self._nearby_clerk(s, step)
        if clerk >= 0:
            return Goal("shop", clerk)
        trainee = s.party[assessment.trainee] if not assessment.ready and assessment.trainee >= 0 else None
        if trainee is not None and self.grind_blocked_at != (step, trainee.species, trainee.level):
            if not self._fit_to_grind(s) and rest is not None:
                return rest
            return Goal("grind", target)
        hurt = any(m.hp < m.max_hp for m in s.party)
        must_rest = not assessment.ready_now if assessment.ready else hurt
        if rest is not None and must_rest:
            return rest
        if step == len(self.world.plan) - 1:
            sweep = self._sweep_goal(s)
            if sweep is not None:
                return sweep
        return Goal("plan", target)

    def _sweep_goal(self, s: QuestState) -> Goal | None:
        """Before the last plan step (reaching it ends the game): the first catalog milestone still missing
        that a short errand reaches (a map not yet visited, a wild win, a catch, using an ability once)."""
        world = self.world
        for event in range(world.milestone_count):
            if s.has_event(event) or event in self.sweep_skipped:
                continue
            goal = self._milestone_errand(s, event)
            if goal is not None:
                return goal
        return None

    def _milestone_errand(self, s: QuestState, event: int) -> Goal | None:
        world = self.world
        abilities = [has_ability(s, world, a) for a in range(3)]
        nearest = {kind: next((e.index for e in world.entities
                               if e.kind == kind and visible(s, world, e.index)), -1)
                   for kind in (EntityKind.CUT_TREE, EntityKind.BOULDER)}
        if event == world.ev_first_wild_win:
            return Goal("wild", event=event)
        if event == world.ev_first_catch and len(s.party) < PARTY_SIZE:
            if any(s.bag[o] for o in _ORBS):
                return Goal("catch", event=event)
            clerk = self._nearby_clerk(s, self.step_now, radius=1 << 30)
            return Goal("shop", clerk) if clerk >= 0 else None
        if event == world.ev_first_chop and abilities[Ability.CHOP] and nearest[EntityKind.CUT_TREE] >= 0:
            return Goal("chop", nearest[EntityKind.CUT_TREE], event)
        if event == world.ev_first_swim and abilities[Ability.SWIM]:
            return Goal("swim", event=event)
        if event == world.ev_first_shove and abilities[Ability.SHOVE] and nearest[EntityKind.BOULDER] >= 0:
            return Goal("shove", nearest[EntityKind.BOULDER], event)
        target = next((m.index for m in world.maps if m.enter_event == event), -1)
        return Goal("visit", target, event) if target >= 0 else None

    def _fit_to_grind(self, s: QuestState) -> bool:
        """Whether the member in training, as it is (HP and PP), still beats the wild creatures of this map
        (or, off its training grounds, keeps ``grind_rest_below`` of its HP), and the party is not tired."""
        if all(m.hp == m.max_hp and m.pp == healed(m).pp for m in s.party):
            self.escapes = 0
            return True  # resting would change nothing
        if self._tired(s) or self.escapes >= self.config.max_escapes:
            return False
        trainee = self._trainee_mon(s)
        here = self.world.maps[s.map]
        if s.map not in self._map_values(trainee):
            return trainee.hp >= self.config.grind_rest_below * trainee.max_hp
        total = sum(row.weight for row in here.encounters)
        cost = sum(row.weight * matchup(trainee, _typical(row))[0] for row in here.encounters) / total
        return cost * self.config.grind_fitness < trainee.hp

    def _lead_target(self, s: QuestState) -> int:
        """The party member that should lead (0: the lead stays). While a member trains, it leads on its
        training grounds; on other wild maps the strongest member leads (an escort: the trainee could not
        handle the wild creatures there); elsewhere nobody swaps."""
        if not s.party:  # no partner yet (a game taken over early): nobody to assess or to lead
            return 0
        assessment = self._assess(s)
        if assessment.ready or assessment.trainee < 0:
            return 0
        here = self.world.maps[s.map]
        if not here.encounter_rate or not here.encounters:
            return 0
        if s.map in self._map_values(s.party[assessment.trainee]):
            return assessment.trainee
        escort = max(range(len(s.party)), key=lambda i: (s.party[i].level, i == 0, -i))
        return escort

    def _trainee_mon(self, s: QuestState) -> Mon:
        """The member in training (the lead when none is)."""
        assessment = self._assess(s)
        return s.party[assessment.trainee] if not assessment.ready and assessment.trainee >= 0 else s.party[0]

    def _tired(self, s: QuestState) -> bool:
        """The lead, or a member about as strong as the strongest (the ones that step in when the lead
        struggles), is low on HP or (nearly) out of PP: time for a rest house."""
        strong = max(m.level for m in s.party) * 0.8
        return any(m.hp < self.config.heal_below * m.max_hp or _stamina(m) < self.config.low_stamina
                   for i, m in enumerate(s.party) if i == 0 or m.level >= strong)

    def _heal_goal(self, s: QuestState, step: int) -> Goal | None:
        """The nearest rest house, else healing items for a hurt lead, else None."""
        if self.heal_blocked_at != step:
            return Goal("heal")
        lead = s.party[0]
        if lead.hp < lead.max_hp and _heal_item(s, lead, 0.0) >= 0:
            return Goal("bag_heal")
        return None

    def _nearby_clerk(self, s: QuestState, step: int, radius: int | None = None) -> int:
        """A clerk within ``radius`` moves (default ``shop_radius``) that sells something on the shopping
        list, or -1 (cached per map, plan step and what is wanted)."""
        cfg = self.config
        wants = (sum(s.bag[i] for i in _HEAL_ITEMS) < cfg.heal_stock,
                 len(s.party) < PARTY_SIZE and sum(s.bag[o] for o in _ORBS) < cfg.orb_stock)
        if not any(wants):
            return -1
        radius = cfg.shop_radius if radius is None else radius
        key = (s.map, step, wants, radius)
        if key not in self._shop_cache:
            goals: dict[int, int] = {}
            owner: dict[int, int] = {}
            for e in self.world.entities:
                if e.kind == EntityKind.CLERK and visible(s, self.world, e.index) \
                        and self._shopping_list(s, self.world.shops[e.shop]) >= 0:
                    for spot, facing in self.nav.interaction_spots(s, e.index).items():
                        goals[spot], owner[spot] = facing, e.index
            path = self.nav.search(s, goals, limit=radius) if goals else None
            self._shop_cache[key] = owner[path.nodes[-1]] if path is not None else -1
        clerk = self._shop_cache[key]
        if clerk >= 0 and self._shopping_list(s, self.world.shops[self.world.entities[clerk].shop]) < 0:
            return -1
        return clerk

    # ------------------------------------------------------------------------------------------ overworld
    def _overworld(self, s: QuestState) -> int:
        goal = self._choose_goal(s)
        if goal.kind == "bag_heal":
            self.errand = "bag_heal"
            return _START
        if self._lead_target(s) != 0 and self.stats["presses"] >= self.lead_frozen_until:
            self.errand = "lead"
            return _START
        if goal.kind in ("grind", "wild", "catch"):
            self.stats["grind_presses"] += 1
            here = self.world.maps[s.map]
            on_ground = goal.kind != "grind" or s.map in self._map_values(self._trainee_mon(s))
            if on_ground and here.encounter_rate and TILE_ENCOUNTER[here.tile(s.x, s.y)]:
                return self._pace(s)
        if goal != self.path_goal or self.path is None or node_key(s.map, s.x, s.y) not in self.path.index:
            self.path = self._plan_path(s, goal)
            self.path_goal = goal
            self.stats["replans"] += 1
            if self.path is None:
                return self._unreachable(s, goal)
        return self._follow(s, goal, self.path)

    def _goal_spots(self, s: QuestState, goal: Goal) -> dict[int, int]:
        """Goal positions (-> facing) of a goal."""
        if goal.kind in ("plan", "shop"):
            return self.nav.interaction_spots(s, goal.entity) if goal.entity >= 0 else {}
        if goal.kind == "heal":
            spots: dict[int, int] = {}
            for e in self.world.entities:
                if e.kind == EntityKind.HEALER and visible(s, self.world, e.index):
                    spots.update(self.nav.interaction_spots(s, e.index))
            return spots
        if goal.kind in ("grind", "wild", "catch"):
            return self._grind_spots(s)
        if goal.kind == "chop":
            return self.nav.interaction_spots(s, goal.entity)
        if goal.kind == "visit":
            m = self.world.maps[goal.entity]
            return {node_key(m.index, x, y): -1 for y in range(m.height) for x in range(m.width)
                    if TILE_WALKABLE[m.tile(x, y)]}
        if goal.kind == "swim":
            return {key: -1 for key, moves in self.nav.moves.items() for entry in moves
                    if entry is not None and entry[2] == _SWIM for key in (entry[1],)}
        if goal.kind == "shove":
            taken = self.nav.occupied(s)
            spots = self.nav.interaction_spots(s, goal.entity)
            return {spot: d for spot, d in spots.items()
                    if self.nav._free_land(taken, *_ahead(node_pos(spot), d, 2))}
        return {}

    def _grind_spots(self, s: QuestState) -> dict[int, int]:
        """Encounter tiles with a neighbouring encounter tile to pace to, valued by the experience a wild
        battle there brings the lead, on the maps where the lead beats the wild creatures cheaply (expected
        cost at most ``grind_cost`` of its HP; the cheapest map when none qualifies)."""
        value = self._map_values(self._trainee_mon(s))
        watched = self.nav.sight_lines(s)  # undefeated trainers would interrupt
        self._spot_value = {}
        for index, worth in value.items():
            m = self.world.maps[index]
            for y in range(m.height):
                for x in range(m.width):
                    key = node_key(index, x, y)
                    if TILE_ENCOUNTER[m.tile(x, y)] and key not in watched and any(
                            TILE_ENCOUNTER[m.tile(x + DX[d], y + DY[d])] for d in range(4)):
                        self._spot_value[key] = worth
        return dict.fromkeys(self._spot_value, -1)

    def _map_values(self, lead: Mon) -> dict[int, int]:
        """Map -> mean experience per wild battle, for the maps where ``lead`` (rested) wins cheaply (the
        cheapest map when none is cheap)."""
        key = (lead.species, lead.level, tuple(lead.moves))
        if key not in self._map_value_cache:
            rested = healed(lead)
            costs: dict[int, float] = {}
            gains: dict[int, int] = {}
            for m in self.world.maps:
                if not m.encounter_rate or not m.encounters:
                    continue
                total = sum(row.weight for row in m.encounters)
                cost = gain = 0.0
                for row in m.encounters:
                    wild = _typical(row)
                    cost += row.weight * matchup(rested, wild)[0]
                    gain += row.weight * exp_yield(row.species, wild.level, False)
                costs[m.index], gains[m.index] = cost / total, int(gain / total)
            cheap = {i: gains[i] for i in costs if costs[i] <= self.config.grind_cost * rested.max_hp}
            if not cheap and costs:
                easiest = min(costs, key=lambda i: (costs[i], i))
                cheap = {easiest: gains[easiest]}
            self._map_value_cache[key] = cheap
        return self._map_value_cache[key]

    def _plan_path(self, s: QuestState, goal: Goal) -> Path | None:
        """A path to the goal; errands keep out of undefeated trainers' sight when they can."""
        spots = self._goal_spots(s, goal)
        if not spots:
            return None
        pacing = goal.kind in ("grind", "wild", "catch")
        value, slack = (self._spot_value, self.config.grind_detour) if pacing else (None, 0)
        if goal.kind != "plan":
            path = self.nav.search(s, spots, avoid=self.nav.sight_lines(s), value=value,
                                   slack=slack)
            if path is not None:
                return path
        return self.nav.search(s, spots, value=value, slack=slack)

    def _unreachable(self, s: QuestState, goal: Goal) -> int:
        """No path to the goal: heal from the bag instead of a rest house, skip the shop, or shake loose."""
        step = self.step_now
        if goal.event >= 0:
            self.sweep_skipped.add(goal.event)
        elif goal.kind == "heal":
            self.heal_blocked_at = step
        elif goal.kind == "grind":
            trainee = self._trainee_mon(s)
            self.grind_blocked_at = (step, trainee.species, trainee.level)
        elif goal.kind == "shop":
            self._shop_cache = {k: -1 for k in self._shop_cache}
        else:
            self.stats["blocked"] += 1
            self.fallback = self.config.fallback_presses
        self.goal = None
        return _B

    def _follow(self, s: QuestState, goal: Goal, path: Path) -> int:
        """The next press along ``path``: turn, chop, step, and at the end face the target and press A."""
        here = node_key(s.map, s.x, s.y)
        i = path.index[here]
        if i == len(path.dirs):  # arrived
            self.path = None
            if goal.kind in ("grind", "wild", "catch"):
                return self._pace(s)
            if path.facing >= 0 and s.facing != path.facing:
                return path.facing
            if goal.kind == "shove":
                return path.facing
            if goal.kind == "plan":
                self.talked.add(goal.entity)
            elif goal.kind == "heal":
                self.stats["heals"] += 1
            elif goal.kind == "shop":
                self.stats["shops"] += 1
                self.errand = "shop"
            return _A
        direction = path.dirs[i]
        if s.facing != direction:
            return direction
        if path.acts[i] == CHOP and self._tree_ahead(s):
            return _A
        if self.last_move == (here, direction):  # pressed last time and still here: blocked
            self.stats["blocked"] += 1
            self.last_move = None
            self.path = None
            return _B
        self.last_move = (here, direction)
        return direction

    def _tree_ahead(self, s: QuestState) -> bool:
        ahead = self.nav.occupied(s).get(node_key(s.map, s.x + DX[s.facing], s.y + DY[s.facing]), -1)
        return ahead >= 0 and self.world.entities[ahead].kind == EntityKind.CUT_TREE

    def _pace(self, s: QuestState) -> int:
        """Walks back and forth over encounter tiles (grinding): straight on when possible, else turn."""
        here = self.world.maps[s.map]
        taken = self.nav.occupied(s)
        watched = self.nav.sight_lines(s)
        for direction in (s.facing, *range(4)):
            nx, ny = s.x + DX[direction], s.y + DY[direction]
            key = node_key(s.map, nx, ny)
            if TILE_ENCOUNTER[here.tile(nx, ny)] and key not in taken and key not in self.nav.warps \
                    and key not in watched:
                return direction
        return int(self.rng.integers(0, 4))


def _stamina(mon: Mon) -> float:
    """The share of its attacking power a creature has left: PP weighted by move power, over full PP."""
    full = sum(MOVES[m].pp * MOVES[m].power for m in mon.moves if m >= 0)
    left = sum(pp * MOVES[m].power for m, pp in zip(mon.moves, mon.pp, strict=True) if m >= 0)
    return left / full if full else 1.0


def _typical(row: Encounter) -> Mon:
    """The typical creature of an encounter-table row (its middle level)."""
    return make_mon(row.species, (row.min_level + row.max_level + 1) // 2)


def _ahead(position: tuple[int, int, int], direction: int, distance: int) -> tuple[int, int, int]:
    m, x, y = position
    return m, x + DX[direction] * distance, y + DY[direction] * distance


def _softest_blow(me: Mon, foe: Mon) -> int:
    """The move slot that hurts ``foe`` most without likely knocking it out, or -1."""
    best, best_damage = -1, 0.0
    for slot in range(MOVE_SLOTS):
        move = me.moves[slot]
        if move < 0 or me.pp[slot] <= 0:
            continue
        dealt = expected_damage(me, foe, move)
        if best_damage < dealt and dealt * 1.4 < foe.hp:
            best, best_damage = slot, dealt
    return best


def _heal_item(s: QuestState, me: Mon, incoming: float) -> int:
    """The healing item that restores the most (and more than a hit takes back), or -1."""
    missing = me.max_hp - me.hp
    best, best_gain = -1, incoming
    for item in _HEAL_ITEMS:
        if s.bag[item] > 0:
            gain = min(ITEM_HEAL[item], missing)
            if gain > best_gain:
                best, best_gain = item, gain
    return best


def _pick_in_list(cursor: int, target: int) -> int:
    """Up/down toward ``target`` in a clamped list, then A."""
    if cursor < target:
        return _DOWN
    if cursor > target:
        return _UP
    return _A


def _wrap_toward(cursor: int, target: int, rows: int) -> int:
    """Up/down toward ``target`` in a wrapping list (the shorter way), then A."""
    if cursor == target:
        return _A
    down = (target - cursor) % rows
    return _DOWN if down <= rows - down else _UP


def grid_press(cursor: int, target: int) -> int:
    """The MAIN 2x2 grid (0 1 / 2 3): the press that moves the cursor toward ``target``, or A on it."""
    if cursor == target:
        return _A
    if cursor % 2 != target % 2:
        return _RIGHT if target % 2 else _LEFT
    return _DOWN if target >= 2 else _UP


# ============================================================================================ reference runs


def reference_run(env_id_or_kwargs: str | dict[str, Any], seed: int = 0, max_steps: int = 1_000_000,
                  config: OracleConfig | None = None) -> dict[str, Any]:
    """Plays one episode with the oracle and reports when each milestone was reached.

    Args:
        env_id_or_kwargs: A registered env id (``"longplay/QuestMini-v0"``) or the keyword arguments of
            :class:`~longplay.envs.quest.game.QuestEnv` (``{"size": "small", "world_seed": 3}``).
        seed: The reset seed (and, for ``world_seed=None`` envs, the world seed).
        max_steps: Give up after this many presses.
        config: Oracle knobs.

    Returns:
        ``{"finished", "steps", "seconds", "milestones" (id -> step, in catalog order), "catalog" (ids in
        order), "world" (the game's identity), "stats" (the oracle's counters)}``.
    """
    import longplay.envs  # noqa: F401  (registers the ids)

    if isinstance(env_id_or_kwargs, str):
        env = gym.make(env_id_or_kwargs, max_episode_steps=None)
    else:
        from longplay.envs.quest.game import QuestEnv

        env = QuestEnv(**{"max_episode_steps": None, **env_id_or_kwargs})
    agent = OracleAgent(config=config)
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    agent.reset(env, obs, info, seed)
    steps, finished = 0, False
    while steps < max_steps:
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        steps += 1
        if terminated or truncated:
            finished = bool(terminated)
            break
    seconds = time.perf_counter() - start
    catalog = [m.id for m in env.unwrapped.catalog]  # type: ignore[attr-defined]
    reached = info["milestones"]
    result = {
        "finished": finished, "steps": steps, "seconds": seconds,
        "milestones": {m: reached[m] for m in catalog if m in reached}, "catalog": catalog,
        "world": env.unwrapped.game.identity(),  # type: ignore[attr-defined]
        "stats": dict(agent.stats),
    }
    env.close()
    return result


__all__ = [
    "CHOP", "PUSH", "Navigator", "OracleAgent", "OracleConfig", "expected_damage", "fight_cost", "grid_press",
    "matchup", "reference_run", "team_plan",
]
