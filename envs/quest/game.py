"""``QuestGame`` (the built-in game as a :class:`~longplay.envs.game.Game`) and ``QuestEnv``.

## Description
quest is an original, ROM-free, Pokemon-style RPG: towns and routes, tall grass with wild creatures,
trainers who challenge on sight, turn-based battles with types, moves, PP, levels and catching, items,
shops and rest houses, gates opened by badges (chop, swim, shove) and key items, gyms and a league.
Worlds come in sizes ``mini`` (one town, one route, one gym), ``small`` and ``standard`` (eight gyms and
the league); the canonical world is fixed, procedural worlds come from a world seed.

## Action Space
``Discrete(8)`` buttons (``Discrete(9)`` with ``noop=True``): up, down, left, right, a, b, start, select.

## Observation
``obs_mode``: ``pixels`` (144x160x3 ``uint8``), ``symbolic`` (``Dict`` of ``tiles`` (9, 10) visible tile
kinds, ``entities`` (9, 10) visible sprites, ``vector`` (32,) scalar state; see :data:`VECTOR_FIELDS`),
``text`` (the text view for language models), or several joined with ``+``.

## Rewards
Sparse: +1 the first time each milestone of the world's catalog is reached.

## Termination
When the world's final milestone is reached (mini: its badge; small and standard: the champion) and the
text boxes after that battle (money, badge, the closing page) are dismissed: a few presses after the
milestone.
Truncation after ``max_steps`` steps (by default 20,000 for mini, 200,000 for small, 1,000,000 for
standard; ``max_steps=None`` never truncates). ``gymnasium.make(..., max_episode_steps=N)`` adds
gymnasium's own TimeLimit on top, as for any env.

## Registered Configurations
* ``longplay/QuestMini-v0``: ``size="mini", world_seed=0``
* ``longplay/QuestCanon-v0``: ``size="standard", world="canonical"``
* ``longplay/Quest-v0``: ``size="small", world_seed=None`` (the world seed is the reset seed)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from longplay.envs.checks import is_int
from longplay.envs.env import LongplayEnv
from longplay.envs.game import Button, GameError, GameState, Milestone, Mode, PartyMember, button_index
from longplay.envs.quest import art, engine, render, savestate, textview, worldgen
from longplay.envs.quest.constants import (
    DIRECTION_NAMES,
    ITEM_NAMES,
    NUM_SPRITES,
    NUM_TILES,
    PLAYER_VIEW_X,
    PLAYER_VIEW_Y,
    RULES_VERSION,
    VIEW_H,
    VIEW_W,
    EntityKind,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.rng import mix32
from longplay.envs.quest.state import Battle, Mon, QuestState, World

WORLDS = ("procedural", "canonical")
DEFAULT_MAX_STEPS = {"mini": 20_000, "small": 200_000, "standard": 1_000_000}

#: Names of the entries of the symbolic ``vector`` observation, in order.
VECTOR_FIELDS = (
    "mode", "facing", "map", "x", "y", "surfing", "money", "badges", "party_size", "menu", "menu_cursor",
    "battle_kind", "battle_phase", "battle_cursor", "dialog_pages", "ward_steps",
    "lead_level", "lead_hp", "lead_max_hp", "active_level", "active_hp", "active_max_hp",
    "enemy_species", "enemy_level", "enemy_hp", "enemy_max_hp", "party_hp", "party_max_hp", "box_size",
    "milestones", "key_items", "abilities",
)
_MODE_INDEX = {Mode.OVERWORLD: 0, Mode.DIALOG: 1, Mode.MENU: 2, Mode.BATTLE: 3}


def trainer_flag(entity: int) -> str:
    """The ``GameState.flags`` entry of the trainer at entity index ``entity``, once beaten (Pokemon Red keeps
    a trainer's defeat as an event flag too, so the ``event`` shaping term pays it on both backends)."""
    return f"beat_trainer_{entity}"


def world_size(size: str | None, world_seed: int | None, world: str) -> str:
    """The world size ``size`` names for ``world`` (``None``: ``mini``, or ``standard`` for the canonical world).

    The canonical world is one fixed standard world: a ``size`` other than ``standard``, or a ``world_seed`` other
    than the default 0, would be silently ignored with it, so they are refused.
    """
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; valid worlds: {', '.join(WORLDS)}")
    if world == "canonical":
        if size not in (None, "standard"):
            raise ValueError(f"world='canonical' is the fixed standard world; size={size!r} cannot go with it "
                             "(use longplay/QuestCanon-v0, or leave size out)")
        if world_seed != 0:
            raise ValueError(f"world='canonical' is one fixed world; world_seed={world_seed!r} cannot go with it "
                             "(use longplay/QuestCanon-v0, or leave world_seed out)")
        return "standard"
    size = "mini" if size is None else size
    if size not in worldgen.SIZES:
        raise ValueError(f"unknown world size {size!r}; valid sizes: {', '.join(worldgen.SIZES)}")
    return size


def resolve_world(size: str, world_seed: int | None, world: str, reset_seed: int) -> World:
    """The world a game plays in (see :class:`QuestGame`)."""
    if world == "canonical":
        return worldgen.canonical_world()
    return worldgen.build_world(size, reset_seed if world_seed is None else world_seed)


class QuestGame:
    """The built-in game behind the :class:`~longplay.envs.game.Game` protocol.

    Args:
        size: ``mini`` (the default), ``small`` or ``standard``; the canonical world is ``standard``.
        world_seed: The procedural world's seed; ``None`` takes the reset seed (a new world per episode).
        world: ``procedural`` (from ``size`` and ``world_seed``) or ``canonical`` (the fixed standard world).
        palette: Four RGB shades, lightest first, for the pixels.
    """

    backend = "quest"

    def __init__(self, size: str | None = None, world_seed: int | None = 0, world: str = "procedural",
                 palette: Any = None) -> None:
        if world_seed is not None:
            if not is_int(world_seed) or world_seed < 0:  # True is no seed: it was world 1
                raise ValueError(f"invalid world_seed {world_seed!r}; use a non-negative int or None")
            world_seed = int(world_seed)  # numpy's ints too, held (and recorded) as the plain int they are
        art.palette_array(palette)  # a bad palette fails here, not at the first frame (symbolic runs draw none)
        self.size = world_size(size, world_seed, world)
        self.world_seed = world_seed
        self.world_kind = world
        self.palette = palette
        self.seed = 0
        self.world = resolve_world(self.size, world_seed, world, 0)
        self._state = engine.new_state(self.world, 0)
        self._symbolic_space: spaces.Dict | None = None
        self._use_world(self.world)

    def _use_world(self, world: World) -> None:
        """Derives what the game caches from its world (a new procedural world per episode calls it)."""
        self.world = world
        self._catalog = self._build_catalog()
        self._milestone_bits = (1 << len(self._catalog)) - 1
        self._badge_mask = sum(1 << ev for ev in world.badge_events if ev >= 0)
        self._ability_masks = tuple(1 << world.badge_events[b] for b in world.ability_badge if b >= 0)
        self._sprites = bytes(e.sprite for e in world.entities)
        self._trainers = tuple(e.index for e in world.entities if e.kind == EntityKind.TRAINER)

    def _build_catalog(self) -> tuple[Milestone, ...]:
        events = [e for e in self.world.events if e.milestone]
        assert all(e.index == i for i, e in enumerate(events)), "milestone events must come first"
        return tuple(Milestone(e.id, e.name, e.tier) for e in events)

    # ----------------------------------------------------------------------------------- Game protocol
    def reset(self, seed: int | None = None) -> None:
        self.seed = 0 if seed is None else int(seed)
        if self.world_seed is None and self.world_kind == "procedural":
            world = resolve_world(self.size, None, "procedural", self.seed)
            if world is not self.world:
                self._use_world(world)
        self._state = engine.new_state(self.world, self.seed)

    def press(self, button: Button | int | None) -> int:
        # None presses nothing and skips button_index; which refuses -1 (it turned the player to facing -1, a
        # state no button makes)
        engine.step(self._state, self.world, None if button is None else button_index(button))
        return 1

    @property
    def raw(self) -> QuestState:
        """The engine's own mutable state (privileged: for the oracle and tests)."""
        return self._state

    def state(self) -> GameState:
        s, w = self._state, self.world
        current = w.maps[s.map]
        party = tuple(_member(m) for m in s.party)
        bag = tuple((ITEM_NAMES[i], c) for i, c in enumerate(s.bag) if c > 0)
        badges = tuple(name for name, ev in zip(w.badge_names, w.badge_events, strict=True) if s.has_event(ev))
        flags = frozenset(e.id for e in w.events if s.has_event(e.index)) | frozenset(
            trainer_flag(e) for e in self._trainers if s.done[e])
        dialog_text = ""
        if s.dialog:
            from longplay.envs.quest.dialog import message_text

            dialog_text = message_text(w, s.dialog[0])
        elif s.battle.messages:  # a battle's message box is the text box on screen then (as Pokemon Red's dialog)
            from longplay.envs.quest.battle import battle_message_text

            dialog_text = battle_message_text(w, s, s.battle.messages[0])
        return GameState(
            map_id=s.map, map_name=current.name, x=s.x, y=s.y, facing=DIRECTION_NAMES[s.facing],
            mode=engine.mode(s), party=party, bag=bag, money=s.money, badges=badges, flags=flags,
            dialog=dialog_text,
            extra={"surfing": s.surfing, "tick": s.tick, "battle_kind": s.battle.kind, "box": len(s.box),
                   "enemy": _enemy(s.battle)},
        )

    def frame(self) -> np.ndarray:
        return render.render_frame(self.world, self._state, self.palette)

    def text(self) -> str:
        return textview.text_view(self.world, self._state)

    def symbolic_space(self) -> spaces.Dict:
        if self._symbolic_space is None:
            self._symbolic_space = spaces.Dict({
                "tiles": spaces.Box(0, NUM_TILES - 1, (VIEW_H, VIEW_W), np.uint8),
                "entities": spaces.Box(0, NUM_SPRITES - 1, (VIEW_H, VIEW_W), np.uint8),
                "vector": spaces.Box(-1.0, 1e7, (len(VECTOR_FIELDS),), np.float32),
            })
        return self._symbolic_space

    def symbolic(self) -> dict[str, np.ndarray]:
        s = self._state
        tiles = render.tile_window(self.world, s.map, s.x - PLAYER_VIEW_X, s.y - PLAYER_VIEW_Y, VIEW_W, VIEW_H)
        entities = np.zeros((VIEW_H, VIEW_W), np.uint8)
        sprites = self._sprites
        for col, row, e in render.visible_entities(self.world, s, s.x - PLAYER_VIEW_X, s.y - PLAYER_VIEW_Y,
                                                   VIEW_W, VIEW_H):
            entities[row, col] = sprites[e]
        return {"tiles": tiles.copy(), "entities": entities, "vector": np.array(self._vector(), np.float32)}

    def _vector(self) -> list:
        s = self._state
        b = s.battle
        party = s.party
        lead = party[0] if party else _NO_MON
        active = party[b.player_active] if b.kind and b.player_active < len(party) else lead
        enemy = _field_enemy(b) or _NO_MON
        events = s.events
        party_hp = party_max = 0
        for m in party:
            party_hp += m.hp
            party_max += m.max_hp
        bag = s.bag
        return [
            _MODE_INDEX[engine.mode(s)], s.facing, s.map, s.x, s.y, s.surfing, s.money,
            (events & self._badge_mask).bit_count(), len(party), s.menu, s.menu_cursor,
            b.kind, b.phase, b.cursor, len(s.dialog), s.ward_steps,
            lead.level, lead.hp, lead.max_hp, active.level, active.hp, active.max_hp,
            enemy.species, enemy.level, enemy.hp, enemy.max_hp, party_hp, party_max,
            len(s.box), (events & self._milestone_bits).bit_count(),
            (bag[8] > 0) + (bag[9] > 0) + (bag[10] > 0) + (bag[11] > 0),
            sum(1 for mask in self._ability_masks if events & mask),
        ]

    def save_state(self) -> bytes:
        return savestate.save(self._state, self.world)

    def load_state(self, data: bytes) -> None:
        """Restores a :meth:`save_state`. A game with a world per reset seed (``world_seed=None``) takes the
        world the state is from (a procedural world of its size); a game of one fixed world refuses another
        world's state with :class:`GameError`, as it does corrupt bytes."""
        doc = savestate.decode(data)
        world = self._world_of(doc.get("world"))
        try:
            self._state = savestate.load_document(doc, world)
        except GameError as exc:
            named = doc.get("world")
            if self.world_seed is not None and self.world_kind == "procedural" and _procedural_world(named) \
                    and named[0] == self.size and named[1] != self.world.seed:
                raise GameError(f"{exc} (make the env with world_seed={named[1]}, or world_seed=None to play "
                                "the world of each state)") from None
            raise
        if world is not self.world:
            self._use_world(world)

    def _world_of(self, named: Any) -> World:
        """The world to load a state of world ``named`` ([size, seed, digest]) into: this game's, unless the game
        takes a world per reset seed and ``named`` is another procedural world of its size."""
        if self.world_seed is not None or self.world_kind != "procedural" or not _procedural_world(named) \
                or named[0] != self.size or named == savestate.world_id(self.world):
            return self.world
        return resolve_world(self.size, named[1], "procedural", 0)  # load_document checks its digest

    def milestones(self) -> tuple[Milestone, ...]:
        return self._catalog

    def milestone_mask(self) -> int:
        return self._state.events & self._milestone_bits

    def finished(self) -> bool:
        return self._state.finished

    def state_hash(self) -> bytes:
        return savestate.state_hash(self._state)

    def fingerprint(self) -> int:
        """A cheap 32-bit digest of what a button press can change (replays store its low byte every step,
        so a changed action is caught at the step it was changed, between full state hashes)."""
        s = self._state
        b = s.battle
        return mix32(s.map * 0x85EBCA77 + s.x * 0xC2B2AE3D + s.y * 0x27D4EB2F + s.facing * 0x165667B1
                     + s.menu * 0x9E3779B1 + s.menu_cursor * 131 + len(s.dialog) * 8191 + b.kind * 7
                     + b.phase * 524287 + b.cursor * 65537 + len(b.messages) * 977 + s.money
                     + (s.events & 0xFFFFFFFF) + (b.enemy[b.enemy_active].hp if b.enemy else 0) * 257)

    def identity(self) -> dict[str, Any]:
        w = self.world
        return {"backend": self.backend, "rules": RULES_VERSION, "size": self.size, "world": self.world_kind,
                "world_seed": w.seed, "world_name": w.name, "world_digest": savestate.world_id(w)[2]}


def _procedural_world(named: Any) -> bool:
    """Whether ``named`` (a save state's ``world`` entry) has the shape [size, seed, digest] of a world."""
    return isinstance(named, list) and len(named) == 3 and named[0] in worldgen.SIZES \
        and type(named[1]) is int and named[1] >= 0 and isinstance(named[2], str)


_NO_MON = Mon(-1, 0, 0, 0, 0, 0, 0, 0, [-1] * 4, [0] * 4)  # stands in for "no creature" in the vector


def _member(m: Mon) -> PartyMember:
    return PartyMember(SPECIES[m.species].name, m.level, m.hp, m.max_hp,
                       tuple(MOVES[x].name for x in m.moves if x >= 0))


def _field_enemy(b: Battle) -> Mon | None:
    """The enemy creature on the field; None out of battle."""
    if not b.kind or not 0 <= b.enemy_active < len(b.enemy):
        return None
    return b.enemy[b.enemy_active]


def _enemy(b: Battle) -> tuple[int, int, int, int] | None:
    """The enemy creature on the field as (species, level, hp, max_hp), None out of battle (the ``damage``
    shaping term reads it)."""
    m = _field_enemy(b)
    return None if m is None else (m.species, m.level, m.hp, m.max_hp)


class QuestEnv(LongplayEnv):
    """The built-in game as a Gymnasium env (see the module docstring for the full description).

    Args:
        size, world_seed, world, palette: see :class:`QuestGame`.
        obs_mode, render_mode, noop, grayscale, downsample: see :class:`~longplay.envs.env.LongplayEnv`.
        max_steps: The env's own truncation: ``"auto"`` (by size), an int, or ``None`` (never). It is not
            called ``max_episode_steps`` because ``gymnasium.make`` takes that name for its own TimeLimit
            wrapper and never passes it on; ``max_episode_steps`` is accepted as an alias when the env is
            built directly.
    """

    def __init__(self, size: str | None = None, world_seed: int | None = 0, world: str = "procedural",
                 obs_mode: str = "symbolic", render_mode: str | None = None,
                 max_steps: int | str | None = "auto", noop: bool = False, grayscale: bool = False,
                 downsample: int = 1, palette: Any = None, max_episode_steps: int | str | None = "unset") -> None:
        game = QuestGame(size=size, world_seed=world_seed, world=world, palette=palette)
        if max_episode_steps != "unset":
            max_steps = max_episode_steps
        if max_steps == "auto":
            max_steps = DEFAULT_MAX_STEPS[game.size]
        super().__init__(game, obs_mode=obs_mode, render_mode=render_mode,
                         max_episode_steps=max_steps,  # type: ignore[arg-type]
                         noop=noop, grayscale=grayscale, downsample=downsample)


__all__ = ["GameError", "QuestEnv", "QuestGame", "VECTOR_FIELDS"]
