"""Opt-in reward shaping for RL: each term computed from the game state and logged apart from the milestones.

The env's reward is sparse (milestones only). :class:`RewardShaping` adds dense terms on top, the ones the
Pokemon Red RL projects use, each computed from the backend-agnostic :class:`~longplay.envs.game.GameState`
so the same recipe runs on the built-in quest game and on a Game Boy ROM:

* ``novelty``: each (map, x, y) stood on for the first time this episode, optionally shrinking with how
  many earlier episodes stood there (``novelty_decay``: the frontier pays, the tiles by the start stop paying);
* ``map``: each map entered for the first time this episode (a building, a route: a bigger step than a tile),
  optionally shrinking with how many earlier episodes entered it (``map_decay``) and counted per milestone
  stage (``map_by_stage``);
* ``level``: party levels gained (sum over the party), never paid twice (the best sum so far counts), with
  an optional soft cap after which a level pays ``1 / level_slope_after_cap``;
* ``heal``: party HP fraction regained with the same party size (a rest house, a potion);
* ``death``: a blackout (the party's HP was 0 and comes back);
* ``damage``: enemy HP removed in battle, as a fraction of the enemy's max HP (1.0 = one enemy creature
  knocked out): a dense signal for fighting, which the level term pays only at each level-up (read from
  ``GameState.extra["enemy"]``, (species, level, hp, max_hp) in battle: the built-in game and Pokemon Red
  have it; a backend without it pays nothing); with ``damage_by_level``, times the enemy's level over the
  lead's, at most 1;
* ``event``: each event flag (``GameState.flags``) set for the first time this episode: on quest the story
  events and one flag per trainer beaten (Pokemon Red keeps trainers' defeats among its event flags too);
* ``badge``: each badge won.

Every step, ``info["shaping"]`` holds each term's reward for that step and ``info["milestone_reward"]`` the
env's own reward; at the end of an episode ``info["shaping_episode"]`` holds each term's episode sum. With
no terms (or all weights 0) the wrapper returns the env's reward unchanged.

>>> import gymnasium as gym, longplay.envs                                      # doctest: +SKIP
>>> env = RewardShaping(gym.make("longplay/QuestMini-v0"), "quest")             # doctest: +SKIP
>>> obs, reward, terminated, truncated, info = env.step(0)                      # doctest: +SKIP
>>> sorted(info["shaping"])                                                     # doctest: +SKIP
['badge', 'damage', 'death', 'event', 'heal', 'level', 'map', 'novelty']
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import gymnasium as gym

from longplay.envs.checks import is_whole
from longplay.envs.game import Game, GameState

TERMS = ("novelty", "map", "level", "heal", "death", "damage", "event", "badge")
#: What each ``stage_level`` step adds to the stage (more than any catalog's milestones, so the two never mix).
LEVEL_STAGE = 64


@dataclass(frozen=True)
class ShapingWeights:
    """How much each shaping term pays (0 switches a term off). See the module docstring for the terms."""

    novelty: float = 0.0
    """Reward for each (map, x, y) stood on for the first time in the episode."""
    novelty_decay: float = 0.0
    """With d > 0 a tile's novelty is ``novelty / sqrt(1 + d * n)``, ``n`` the earlier episodes per env that
    stood on it (lifelong counts, kept across resets; on the device shared by all envs and divided by their
    number): exploration moves to the frontier instead of re-walking the start."""
    novelty_by_stage: float = 0.0
    """Nonzero: novelty is counted per (milestones reached, map, x, y), so each milestone makes every tile new
    again (Go-Explore's cells with a progress level): after taking the partner the policy is paid again for
    leaving the lab, instead of finding every tile by the start used up."""
    map: float = 0.0
    """Reward for each map entered for the first time in the episode."""
    map_by_stage: float = 0.0
    """Nonzero: the map term counts (milestones reached, map), so each milestone makes every map new again:
    after the first trainer win the gym pays again, though the episode walked into it before."""
    map_decay: float = 0.0
    """With d > 0 a map's reward is ``map / sqrt(1 + d * n)``, ``n`` the earlier episodes per env that entered
    it (lifelong, as ``novelty_decay``): the buildings every episode walks into stop paying, the one no
    episode found yet keeps paying in full."""
    stage_level: int = 0
    """Nonzero L: the stage that ``novelty_by_stage`` and ``map_by_stage`` count also goes up at every L levels of
    the lead creature, so the world is new again once the lead is strong (at the ``level_cap``, say): the gym
    walked into and left at level 6 pays again at level 13, when its leader can be beaten."""
    level: float = 0.0
    """Reward for each party level gained above the best sum of levels so far in the episode."""
    heal: float = 0.0
    """Reward per unit of party HP fraction regained (1.0 = from empty to full) with the same party size."""
    death: float = 0.0
    """Reward for each blackout (usually negative)."""
    damage: float = 0.0
    """Reward per enemy max HP removed in battle (1.0 = one enemy creature from full HP to knocked out)."""
    damage_by_level: float = 0.0
    """Nonzero: damage pays ``min(1, enemy level / lead level)`` of itself, so beating creatures far below the
    lead's level stops paying in full (grinding the first route for ever) and stronger opponents, a gym's,
    pay as before (the spirit of PokemonRedExperiments' opponent-level term)."""
    event: float = 0.0
    """Reward for each event flag set for the first time in the episode."""
    badge: float = 0.0
    """Reward for each badge won."""
    level_cap: int | None = None
    """Levels gained after which each further level pays ``1 / level_slope_after_cap`` (None: no cap). Levels
    gained count from the episode's start: on quest, which starts without a creature, the partner's 5 count."""
    level_slope_after_cap: float = 4.0
    """Divisor of the level reward beyond ``level_cap`` (PokemonRedExperiments v2 uses 22 and 4)."""
    scale: float = 1.0
    """Multiplies every term (the ``reward_scale`` of the Pokemon Red projects)."""

    def __post_init__(self) -> None:
        # Refused here rather than found mid-training: a negative decay divides by zero (or pays a complex
        # number), a slope of 0 divides by zero, a NaN or infinite weight turns every reward into one.
        for f in fields(self):
            value = getattr(self, f.name)
            # a weight given as text ("0.5") or None made math.isfinite raise a TypeError
            if f.name not in ("level_cap", "stage_level") and (not isinstance(value, numbers.Real)
                                                              or not math.isfinite(value)):
                raise ValueError(f"invalid shaping {f.name}={value!r}; use a finite number")
        for name in ("novelty_decay", "map_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"invalid shaping {name}={getattr(self, name)!r}; use a number >= 0")
        if self.level_slope_after_cap <= 0:
            raise ValueError(f"invalid shaping level_slope_after_cap={self.level_slope_after_cap!r}; use a number > 0")
        # Level counts are whole: a stage every 1.5 levels or a cap at 22.5 is a typo, not a recipe (2.0 is 2).
        for name, value in (("stage_level", self.stage_level), ("level_cap", self.level_cap)):
            if value is None and name == "level_cap":
                continue
            if not is_whole(value) or value < 0:
                raise ValueError(f"invalid shaping {name}={value!r}; use an int >= 0"
                                 + (" or none" if name == "level_cap" else ""))
            object.__setattr__(self, name, int(value))  # frozen: the checked value as a plain int

    def enabled(self) -> bool:
        """True when any term pays something."""
        return any(getattr(self, t) != 0.0 for t in TERMS) and self.scale != 0.0

    def as_dict(self) -> dict[str, Any]:
        """The weights as a JSON-able dict (for training logs and replay headers)."""
        return asdict(self)


#: Named recipes. ``pokemonred-v2`` is PokemonRedExperiments' ``red_gym_env_v2`` reward (event x4, level with
#: a soft cap at 22, heal x5, death -0.1, badge x5, explore 0.1 a coordinate; its opponent-level term needs
#: RAM the GameState does not carry and is left out). ``quest`` is tuned for the built-in game, where each
#: milestone pays 1: no event term (quest's story events are nearly all milestones, which the env already
#: pays; its trainer flags pay in the badge curriculum of docs/rl.md). Its novelty decays with the episodes
#: that stood on a tile, so the frontier keeps paying rather than the streets by the start, and counts tiles
#: per milestone stage, so taking the partner makes the town new again; its map term decays with the
#: episodes that entered a map, so the building nobody found yet pays most; and damage dealt pays every hit
#: of a battle, not only each level-up (see docs/rl.md, "Learning on QuestMini"; before map, map_decay and
#: damage were added it was ``quest,map=0,map_decay=0,damage=0``).
PRESETS: dict[str, ShapingWeights] = {
    "none": ShapingWeights(),
    "novelty": ShapingWeights(novelty=0.01),
    "quest": ShapingWeights(novelty=0.02, novelty_decay=10.0, novelty_by_stage=1.0, map=0.5, map_decay=10.0,
                            level=0.5, heal=0.1, death=-0.05, damage=0.1, badge=2.0),
    "pokemonred-v2": ShapingWeights(novelty=0.1, level=1.0, heal=5.0, death=-0.1, event=4.0, badge=5.0,
                                    level_cap=22, level_slope_after_cap=4.0),
}

_PRESET = object()  # what _spec_parts gives as a preset's weight


def parse_shaping(spec: str | Mapping[str, float] | ShapingWeights | None) -> ShapingWeights:
    """Weights from a preset name, ``"preset,term=value,..."``, ``"term=value,..."``, a mapping, or weights.

    Raises ``ValueError`` (one line, listing what is valid) on an unknown preset or term.

    >>> parse_shaping("quest,novelty=0.05").novelty
    0.05
    >>> parse_shaping("badge=2").badge
    2.0
    """
    if spec is None:
        return PRESETS["none"]
    if isinstance(spec, ShapingWeights):
        return spec
    names = {f.name for f in fields(ShapingWeights)}
    if isinstance(spec, Mapping):
        bad = sorted(set(spec) - names)
        if bad:
            raise ValueError(f"unknown shaping term {bad[0]!r}; valid terms: {', '.join(sorted(names))}")
        return ShapingWeights(**{k: _number(k, v) for k, v in spec.items()})
    weights = PRESETS["none"]
    overrides: dict[str, Any] = {}
    for _, key, value in _spec_parts(spec):
        if value is _PRESET:
            weights = PRESETS[key]
        else:
            overrides[key] = value
    return replace(weights, **overrides)


def paying_parts(spec: str) -> list[str]:
    """The parts of a shaping spec that pay, as written and in order: its preset (not ``none``) and each
    ``term=weight`` of a reward term weighted other than 0; none at all when the spec as a whole pays nothing
    (``scale=0``, every term 0). ``ValueError`` as :func:`parse_shaping`.

    >>> paying_parts("quest,novelty=0,map=0.5")
    ['quest', 'map=0.5']
    """
    if not parse_shaping(spec).enabled():
        return []
    return [part for part, key, value in _spec_parts(spec)
            if (value is _PRESET and key != "none") or (key in TERMS and value != 0)]


def _spec_parts(spec: str) -> list[tuple[str, str, Any]]:
    """A spec string's parts as (part, preset or term name, weight or ``_PRESET``); an empty part is skipped.
    ``ValueError`` (one line) on an unknown preset or term, a preset after the first part, or a term given twice
    (which of the two would pay is a guess: :func:`paying_parts` would name one and the weights take the other)."""
    names = {f.name for f in fields(ShapingWeights)}
    parts: list[tuple[str, str, Any]] = []
    for i, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
        key, sep, raw = part.partition("=")
        if not sep:
            if i or key not in PRESETS:
                raise ValueError(f"unknown shaping preset {key!r}; valid presets: {', '.join(PRESETS)} "
                                 "(optionally followed by ,term=value)")
            parts.append((part, key, _PRESET))
        elif key not in names:
            raise ValueError(f"unknown shaping term {key!r}; valid terms: {', '.join(sorted(names))}")
        elif any(key == seen and weight is not _PRESET for _, seen, weight in parts):
            raise ValueError(f"repeated shaping term {key!r} in {spec!r}; give each term once")
        else:
            parts.append((part, key, _number(key, raw)))
    return parts


def _number(key: str, raw: Any) -> Any:
    """A weight from a spec string's text or a mapping's value; a level count (``stage_level``, ``level_cap``) is
    parsed from text and otherwise left as it is for :class:`ShapingWeights` to check that it is whole."""
    if key in ("stage_level", "level_cap"):
        if key == "level_cap" and raw in (None, "none", "None", ""):
            return None
        if not isinstance(raw, str):
            return raw
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"invalid shaping {key} {raw!r}; use an int >= 0"
                             + (" or none" if key == "level_cap" else "")) from None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"invalid shaping weight {key}={raw!r}; use a number") from None


# ============================================================================================== terms
def _level_sum(state: GameState) -> int:
    return sum(m.level for m in state.party)


def _hp_fraction(state: GameState) -> float:
    max_hp = sum(m.max_hp for m in state.party)
    return sum(m.hp for m in state.party) / max_hp if max_hp > 0 else 1.0


def _decay_divisor(counts: dict[Any, int], key: Any, decay: float) -> float:
    """``sqrt(1 + decay * n)``, ``n`` the earlier episodes in ``counts`` at ``key``, counting this one (1.0 and
    nothing counted when ``decay`` is 0)."""
    if not decay:
        return 1.0
    seen = counts.get(key, 0)
    counts[key] = seen + 1
    return (1.0 + decay * seen) ** 0.5


class _Tracker:
    """What the terms remember within one episode (all reset at ``reset``)."""

    def __init__(self, weights: ShapingWeights, state: GameState,
                 visits: dict[tuple[int, int, int, int], int] | None = None,
                 map_visits: dict[tuple[int, int], int] | None = None) -> None:
        self.w = weights
        self.visits = {} if visits is None else visits  # lifelong: episodes that stood on each tile
        self.map_visits = {} if map_visits is None else map_visits  # lifelong: episodes that entered each map
        self.seen: set[tuple[int, int, int, int]] = {(0, state.map_id, state.x, state.y)}
        self.maps = {(0, state.map_id)}
        self.base_levels = _level_sum(state)
        self.best_level_reward = 0.0
        self.hp = _hp_fraction(state)
        self.party_size = len(state.party)
        self.flags = set(state.flags)
        self.badges = set(state.badges)
        self.enemy = state.extra.get("enemy")

    def level_reward(self, gained: int) -> float:
        """PokemonRedExperiments' level curve: linear up to the cap, then ``1 / slope`` a level."""
        cap = self.w.level_cap
        if cap is None or gained <= cap:
            return float(gained)
        return cap + (gained - cap) / self.w.level_slope_after_cap

    def step(self, state: GameState, stage: int = 0) -> dict[str, float]:
        """Each term's reward for the step that led to ``state``; ``stage``: milestones reached so far."""
        w, s = self.w, self.w.scale
        parts = dict.fromkeys(TERMS, 0.0)
        here = (stage if w.novelty_by_stage else 0, state.map_id, state.x, state.y)
        if here not in self.seen:
            self.seen.add(here)
            parts["novelty"] = w.novelty * s / _decay_divisor(self.visits, here, w.novelty_decay)
        entered = (stage if w.map_by_stage else 0, state.map_id)
        if entered not in self.maps:
            self.maps.add(entered)
            parts["map"] = w.map * s / _decay_divisor(self.map_visits, entered, w.map_decay)
        level = self.level_reward(max(_level_sum(state) - self.base_levels, 0))
        if level > self.best_level_reward:
            parts["level"] = w.level * s * (level - self.best_level_reward)
            self.best_level_reward = level
        hp, size = _hp_fraction(state), len(state.party)
        if hp > self.hp and size == self.party_size:
            if self.hp > 0:
                parts["heal"] = w.heal * s * (hp - self.hp)
            else:
                parts["death"] = w.death * s
        self.hp, self.party_size = hp, size
        enemy = state.extra.get("enemy")
        before, self.enemy = self.enemy, enemy
        if w.damage and enemy is not None and before is not None and before[:2] == enemy[:2] \
                and before[3] == enemy[3] and enemy[3] > 0 and enemy[2] < before[2]:
            parts["damage"] = w.damage * s * (before[2] - enemy[2]) / enemy[3]
            if w.damage_by_level and state.party:
                parts["damage"] *= min(1.0, enemy[1] / max(state.party[0].level, 1))
        if len(state.flags) != len(self.flags) or not state.flags <= self.flags:
            new = state.flags - self.flags
            parts["event"] = w.event * s * len(new)
            self.flags |= new
        if state.badges and not set(state.badges) <= self.badges:
            new_badges = set(state.badges) - self.badges
            parts["badge"] = w.badge * s * len(new_badges)
            self.badges |= new_badges
        return parts


class RewardShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds dense shaping terms to a longplay env's milestone reward (see the module docstring).

    Args:
        env: A longplay env (``env.unwrapped.game`` is a :class:`~longplay.envs.game.Game`).
        weights: :class:`ShapingWeights`, a preset name (``"quest"``, ``"pokemonred-v2"`` ...), a spec string
            (``"quest,novelty=0.05"``) or a mapping of term -> weight.
    """

    def __init__(self, env: gym.Env, weights: str | Mapping[str, float] | ShapingWeights = "quest") -> None:
        gym.Wrapper.__init__(self, env)
        game = getattr(env.unwrapped, "game", None)
        if not isinstance(game, Game):
            raise ValueError("RewardShaping needs a longplay env (env.unwrapped.game is a Game); "
                             f"got {env.unwrapped}")
        self.game: Game = game
        self.weights = parse_shaping(weights)
        # Recorded in ``env.spec`` (so ``gym.make(env.spec)`` and ``check_env`` rebuild the wrapper), JSON-able.
        gym.utils.RecordConstructorArgs.__init__(
            self, weights=weights if isinstance(weights, str) else self.weights.as_dict())
        self._tracker: _Tracker | None = None
        self._episode = dict.fromkeys(TERMS, 0.0)
        self._visits: dict[tuple[int, int, int, int], int] = {}  # novelty_decay's counts, across episodes
        self._map_visits: dict[tuple[int, int], int] = {}  # map_decay's counts, across episodes

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Resets the env and every term's memory."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._tracker = _Tracker(self.weights, self.game.state(), self._visits, self._map_visits)
        self._episode = dict.fromkeys(TERMS, 0.0)
        return obs, info

    def _state_and_stage(self, info: dict[str, Any]) -> tuple[GameState, int]:
        """The game's state after a step, and the stage the ``*_by_stage`` terms count (milestones reached, plus
        ``LEVEL_STAGE`` per ``stage_level`` levels of the lead)."""
        state = self.game.state()
        stage = len(info.get("milestones", ()))
        if self.weights.stage_level and state.party:
            stage += LEVEL_STAGE * (state.party[0].level // self.weights.stage_level)
        return state, stage

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Steps the env; the reward is the milestone reward plus every term (each also in ``info``)."""
        if self._tracker is None:  # checked first: the env must not advance on a step that is refused
            raise RuntimeError("call reset() before step()")
        obs, reward, terminated, truncated, info = self.env.step(action)
        parts = self._tracker.step(*self._state_and_stage(info)) if self.weights.enabled() \
            else dict.fromkeys(TERMS, 0.0)
        for name, value in parts.items():
            self._episode[name] += value
        info["shaping"] = parts
        info["milestone_reward"] = reward
        if terminated or truncated:
            info["shaping_episode"] = dict(self._episode)
        total = sum(parts.values())
        return obs, (reward + total if total else reward), terminated, truncated, info
