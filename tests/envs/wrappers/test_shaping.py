"""Reward shaping: each term from a scripted game state, logged apart from the milestone reward."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from longplay.envs.env import LongplayEnv
from longplay.envs.game import GameState, Milestone, Mode, PartyMember
from longplay.envs.wrappers.shaping import PRESETS, TERMS, RewardShaping, ShapingWeights, parse_shaping


def _state(x: int = 0, map_id: int = 0, levels: tuple[int, ...] = (5,), hp: tuple[int, ...] = (20,),
           flags: frozenset[str] = frozenset(), badges: tuple[str, ...] = (),
           enemy: tuple[int, int, int, int] | None = None) -> GameState:
    party = tuple(PartyMember("mon", lv, h, 20) for lv, h in zip(levels, hp, strict=True))
    return GameState(map_id, "m", x, 0, "down", Mode.OVERWORLD, party=party, flags=flags, badges=badges,
                     extra={"enemy": enemy} if enemy else {})


class ScriptedGame:
    """A game whose state after press ``i`` is ``script[i]``; its milestone is reached at ``milestone_at``."""

    backend = "scripted"

    def __init__(self, script: list[GameState], milestone_at: int = 2) -> None:
        self.script, self.milestone_at, self.i = script, milestone_at, 0

    def reset(self, seed: int | None = None) -> None:
        self.i = 0

    def press(self, button: Any) -> int:
        self.i = min(self.i + 1, len(self.script) - 1)
        return 1

    def state(self) -> GameState:
        return self.script[self.i]

    def frame(self) -> np.ndarray:
        return np.zeros((144, 160, 3), np.uint8)

    def text(self) -> str:
        return ""

    def symbolic(self) -> dict[str, np.ndarray]:
        return {"i": np.array([self.i], np.int16)}

    def symbolic_space(self) -> spaces.Dict:
        return spaces.Dict({"i": spaces.Box(0, 1000, (1,), np.int16)})

    def save_state(self) -> bytes:
        return bytes([self.i])

    def load_state(self, data: bytes) -> None:
        self.i = data[0]

    def milestones(self) -> tuple[Milestone, ...]:
        return (Milestone("m0", "first"),)

    def milestone_mask(self) -> int:
        return int(self.i >= self.milestone_at)

    def finished(self) -> bool:
        return False

    def state_hash(self) -> bytes:
        return bytes([self.i])

    def identity(self) -> dict[str, Any]:
        return {"backend": self.backend}


SCRIPT = [
    _state(x=0),                                  # start
    _state(x=1),                                  # new tile
    _state(x=0),                                  # seen tile; milestone reached here (press 2)
    _state(x=2, levels=(6,)),                     # new tile, +1 level
    _state(x=2, levels=(6,), hp=(10,)),           # damage
    _state(x=2, levels=(6,), hp=(20,)),           # healed half the party HP
    _state(x=2, levels=(6,), hp=(0,)),            # fainted
    _state(x=2, levels=(6,), hp=(20,)),           # blackout, healed from 0
    _state(x=2, levels=(5,), hp=(20,)),           # level down (a swap): nothing
    _state(x=2, levels=(6,), hp=(20,)),           # back to 6: not paid twice
    _state(x=2, levels=(6, 3), hp=(20, 20)),      # party grew: hp rose with a new member, not healing
    _state(x=2, levels=(6, 3), hp=(20, 20), flags=frozenset({"a", "b"})),
    _state(x=2, levels=(6, 3), hp=(20, 20), flags=frozenset({"a", "b", "c"}), badges=("one",)),
]


def _env(weights: Any, max_steps: int | None = None) -> RewardShaping:
    return RewardShaping(LongplayEnv(ScriptedGame(SCRIPT), max_episode_steps=max_steps), weights)


def _run(env: RewardShaping, steps: int) -> list[tuple[float, dict[str, Any]]]:
    env.reset(seed=0)
    out = []
    for _ in range(steps):
        _, reward, _, _, info = env.step(0)
        out.append((reward, info))
    return out


def test_disabled_shaping_leaves_the_milestone_reward_unchanged() -> None:
    plain = LongplayEnv(ScriptedGame(SCRIPT))
    plain.reset(seed=0)
    rewards = [plain.step(0)[1] for _ in range(len(SCRIPT) - 1)]
    for weights in ("none", {}, ShapingWeights(novelty=1.0, scale=0.0)):
        shaped = _run(_env(weights), len(SCRIPT) - 1)
        assert [r for r, _ in shaped] == rewards
        assert all(info["shaping"] == dict.fromkeys(TERMS, 0.0) for _, info in shaped)
        assert [info["milestone_reward"] for _, info in shaped] == rewards


def test_each_term_is_logged_apart() -> None:
    weights = ShapingWeights(novelty=1.0, level=10.0, heal=100.0, death=-1000.0, event=2.0, badge=50.0)
    steps = _run(_env(weights), len(SCRIPT) - 1)
    terms = {t: [info["shaping"][t] for _, info in steps] for t in TERMS}
    assert terms["novelty"] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    # The level term follows the party's level sum (as PokemonRedExperiments): a new member's levels count.
    assert terms["level"] == [0, 0, 10, 0, 0, 0, 0, 0, 0, 30, 0, 0]
    assert terms["heal"] == [0, 0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0]
    assert terms["death"] == [0, 0, 0, 0, 0, 0, -1000, 0, 0, 0, 0, 0]
    assert terms["event"] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2]
    assert terms["badge"] == [0] * 11 + [50]
    for (reward, info) in steps:
        assert reward == pytest.approx(info["milestone_reward"] + sum(info["shaping"].values()))
    assert steps[1][1]["milestone_reward"] == 1.0


def test_episode_sums_at_the_end_and_reset_forgets() -> None:
    env = _env(ShapingWeights(novelty=1.0, badge=5.0), max_steps=len(SCRIPT) - 1)
    steps = _run(env, len(SCRIPT) - 1)
    assert "shaping_episode" not in steps[0][1]
    final = steps[-1][1]["shaping_episode"]
    assert final["novelty"] == 2.0 and final["badge"] == 5.0
    again = _run(env, 3)  # a new episode pays the same tiles again
    assert [info["shaping"]["novelty"] for _, info in again] == [1.0, 0.0, 1.0]


def test_level_soft_cap_and_scale() -> None:
    weights = ShapingWeights(level=1.0, level_cap=2, level_slope_after_cap=4.0, scale=0.5)
    script = [_state(levels=(5,)), _state(levels=(7,)), _state(levels=(11,))]
    env = RewardShaping(LongplayEnv(ScriptedGame(script)), weights)
    steps = _run(env, 2)
    # 2 levels up to the cap pay 2, the 4 past it pay 1.
    assert [info["shaping"]["level"] for _, info in steps] == [0.5 * 2, 0.5 * 1.0]


def test_parse_shaping() -> None:
    assert parse_shaping("none") == ShapingWeights()
    assert parse_shaping(None) == ShapingWeights()
    assert parse_shaping("quest") == PRESETS["quest"]
    assert parse_shaping("pokemonred-v2,scale=0.5").scale == 0.5
    assert parse_shaping({"badge": 3}).badge == 3.0
    assert parse_shaping("level_cap=none,level=1").level_cap is None
    assert not parse_shaping("none").enabled() and parse_shaping("novelty").enabled()
    for bad, message in (("nope", "unknown shaping preset"), ("quest,x=1", "unknown shaping term"),
                         ("novelty=abc", "invalid shaping weight"),
                         ("novelty=1,quest", "unknown shaping preset")):
        with pytest.raises(ValueError, match=message) as info:
            parse_shaping(bad)
        assert "\n" not in str(info.value)


def test_needs_a_longplay_env() -> None:
    import gymnasium as gym

    with pytest.raises(ValueError, match="longplay env"):
        RewardShaping(gym.make("CartPole-v1"), "quest")


def test_novelty_decays_with_the_episodes_that_stood_there() -> None:
    env = _env(ShapingWeights(novelty=1.0, novelty_decay=3.0))
    paid = [[info["shaping"]["novelty"] for _, info in _run(env, 3)] for _ in range(3)]
    # x=1 and x=2 are new in every episode; the n-th episode that stands there gets 1 / sqrt(1 + 3 n)
    assert paid[0] == [1.0, 0.0, 1.0]
    assert paid[1] == pytest.approx([0.5, 0.0, 0.5])
    assert paid[2] == pytest.approx([1 / 7 ** 0.5, 0.0, 1 / 7 ** 0.5])
    assert parse_shaping("quest,novelty_decay=2").novelty_decay == 2.0


def test_novelty_by_stage_makes_every_tile_new_after_a_milestone() -> None:
    plain = [info["shaping"]["novelty"] for _, info in _run(_env(ShapingWeights(novelty=1.0)), 4)]
    staged = [info["shaping"]["novelty"] for _, info in
              _run(_env(ShapingWeights(novelty=1.0, novelty_by_stage=1)), 4)]
    assert plain == [1.0, 0.0, 1.0, 0.0]
    assert staged == [1.0, 1.0, 1.0, 0.0]  # x=0 again, but after the milestone (press 2): new


def test_damage_pays_the_enemy_hp_removed_as_a_fraction_of_its_max() -> None:
    script = [
        _state(),                                  # start, no battle
        _state(enemy=(3, 4, 16, 16)),              # a battle starts: nothing
        _state(enemy=(3, 4, 12, 16)),              # 4 of 16 HP removed
        _state(enemy=(3, 4, 12, 16)),              # nothing happens
        _state(enemy=(3, 4, 0, 16)),               # knocked out
        _state(enemy=(7, 6, 20, 20)),              # the trainer's next creature: nothing
        _state(enemy=(7, 6, 25, 20)),              # healed by an item: nothing, never negative
        _state(enemy=(7, 6, 15, 20)),              # 10 of its 20 HP... of the healed 25: 10 / 20
        _state(),                                  # battle over
        _state(enemy=(3, 4, 8, 16)),               # a new battle, first seen already hurt: nothing
    ]
    env = RewardShaping(LongplayEnv(ScriptedGame(script)), ShapingWeights(damage=2.0))
    assert [info["shaping"]["damage"] for _, info in _run(env, len(script) - 1)] == \
        [0.0, 0.5, 0.0, 1.5, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_damage_by_level_pays_weak_enemies_in_proportion_to_their_level() -> None:
    script = [
        _state(levels=(8,)),                                # lead at level 8
        _state(levels=(8,), enemy=(3, 4, 16, 16)),          # a level-4 enemy
        _state(levels=(8,), enemy=(3, 4, 0, 16)),           # knocked out: 4 / 8 of the damage
        _state(levels=(8,), enemy=(7, 12, 20, 20)),         # a level-12 enemy
        _state(levels=(8,), enemy=(7, 12, 10, 20)),         # half its HP: paid in full (at most 1)
    ]
    weights = ShapingWeights(damage=1.0, damage_by_level=1)
    env = RewardShaping(LongplayEnv(ScriptedGame(script)), weights)
    assert [info["shaping"]["damage"] for _, info in _run(env, len(script) - 1)] == [0.0, 0.5, 0.0, 0.5]


def test_map_decays_with_the_episodes_that_entered_it() -> None:
    script = [_state(map_id=0), _state(map_id=1), _state(map_id=0), _state(map_id=2)]
    env = RewardShaping(LongplayEnv(ScriptedGame(script)), ShapingWeights(map=1.0, map_decay=3.0))
    paid = [[info["shaping"]["map"] for _, info in _run(env, 3)] for _ in range(2)]
    assert paid[0] == [1.0, 0.0, 1.0]  # maps 1 and 2 entered for the first time (0 is the start)
    assert paid[1] == pytest.approx([0.5, 0.0, 0.5])  # the second episode in: 1 / sqrt(1 + 3)
    flat = RewardShaping(LongplayEnv(ScriptedGame(script)), ShapingWeights(map=1.0))
    assert [[info["shaping"]["map"] for _, info in _run(flat, 3)] for _ in range(2)] == [[1.0, 0.0, 1.0]] * 2


def test_map_by_stage_makes_every_map_new_after_a_milestone() -> None:
    script = [_state(map_id=0), _state(map_id=1), _state(map_id=0), _state(map_id=1)]  # milestone at press 2
    plain = RewardShaping(LongplayEnv(ScriptedGame(script)), ShapingWeights(map=1.0))
    staged = RewardShaping(LongplayEnv(ScriptedGame(script)), ShapingWeights(map=1.0, map_by_stage=1))
    assert [info["shaping"]["map"] for _, info in _run(plain, 3)] == [1.0, 0.0, 0.0]
    assert [info["shaping"]["map"] for _, info in _run(staged, 3)] == [1.0, 1.0, 1.0]


def test_stage_level_makes_every_map_and_tile_new_once_the_lead_is_strong() -> None:
    """With ``stage_level=L`` the stage of ``map_by_stage``/``novelty_by_stage`` also counts the lead's levels // L:
    the map and tile walked on at level 9 pay again at level 10 (no milestone in between)."""
    script = [_state(map_id=0, levels=(9,)), _state(map_id=1, levels=(9,)), _state(map_id=0, levels=(9,)),
              _state(map_id=0, levels=(10,)), _state(map_id=1, levels=(10,)), _state(map_id=1, levels=(11,))]
    game = ScriptedGame(script, milestone_at=99)
    weights = ShapingWeights(map=1.0, map_by_stage=1, novelty=0.5, novelty_by_stage=1, stage_level=10)
    steps = _run(RewardShaping(LongplayEnv(game), weights), 5)
    assert [info["shaping"]["map"] for _, info in steps] == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert [info["shaping"]["novelty"] for _, info in steps] == [0.5, 0.0, 0.5, 0.5, 0.0]
    plain = _run(RewardShaping(LongplayEnv(ScriptedGame(script, milestone_at=99)),
                               ShapingWeights(map=1.0, map_by_stage=1)), 5)
    assert [info["shaping"]["map"] for _, info in plain] == [1.0, 0.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="stage_level"):
        parse_shaping("quest,stage_level=-2")


@pytest.mark.parametrize("spec", ["novelty=nan", "novelty=inf", "scale=nan", "novelty_decay=-1", "map_decay=-0.5",
                                  "level_slope_after_cap=0", "level_slope_after_cap=-4", "level_cap=-3"])
def test_weights_that_break_the_arithmetic_are_refused(spec: str) -> None:
    """A negative decay once divided by zero on a tile's second episode (then paid complex rewards), a slope
    of 0 divided by zero past the cap, a NaN weight made every reward NaN; now one-line ValueErrors."""
    name = spec.split("=")[0]
    with pytest.raises(ValueError, match=f"invalid shaping {name}") as info:
        parse_shaping(spec)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=f"invalid shaping {name}"):
        parse_shaping({name: float(spec.split("=")[1])})


def test_negative_term_weights_stay_valid() -> None:
    assert parse_shaping("death=-1,novelty=-0.1").novelty == -0.1


def test_a_step_before_reset_is_refused_without_moving_the_game() -> None:
    """The wrapper raised only after stepping the env, so the refused step had pressed a button."""
    env = _env("novelty")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    assert env.unwrapped.game.i == 0


@pytest.mark.parametrize(("spec", "term"), [("novelty=0.1,novelty=0,map=1", "novelty"), ("quest,map=1,map=0", "map"),
                                            ("badge=2, badge=2", "badge")])
def test_a_term_repeated_in_one_spec_is_refused(spec: str, term: str) -> None:
    """The last value was taken while ``paying_parts`` (the run name) listed the first: 'novelty=0.1,novelty=0'
    named a run 'novelty=0.1' whose novelty paid nothing."""
    from longplay.envs.wrappers.shaping import paying_parts

    for parse in (parse_shaping, paying_parts):
        with pytest.raises(ValueError, match=f"repeated shaping term {term!r}") as info:
            parse(spec)
        assert "\n" not in str(info.value)
    # overriding a preset's term stays valid, the preset "novelty" and its term too
    assert parse_shaping("quest,novelty=0.05").novelty == 0.05 and parse_shaping("novelty,novelty=0").novelty == 0


@pytest.mark.parametrize(("name", "value"), [("stage_level", 1.5), ("stage_level", True), ("stage_level", float("nan")),
                                             ("stage_level", -2.0), ("level_cap", 22.5), ("level_cap", float("inf"))])
def test_a_level_count_that_is_not_a_whole_number_is_refused_everywhere(name: str, value: Any) -> None:
    """The spec string refused ``stage_level=1.5`` but a mapping made it 1 (and ``level_cap: 22.5`` 22) without a
    word, and ``ShapingWeights(stage_level=1.5)`` was taken as it came."""
    for make in (lambda: parse_shaping({name: value}), lambda: ShapingWeights(**{name: value})):
        with pytest.raises(ValueError, match=f"invalid shaping {name}") as info:
            make()
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=f"invalid shaping {name}"):
        parse_shaping(f"{name}=1.5")
    with pytest.raises(ValueError, match=f"invalid shaping {name}"):
        ShapingWeights(**{name: "2"})  # a spec string's "2" is parsed; the dataclass takes numbers


def test_whole_level_counts_stay_valid_as_ints() -> None:
    for weights in (parse_shaping({"stage_level": 2.0, "level_cap": 22.0}),
                    ShapingWeights(stage_level=2.0, level_cap=22),
                    parse_shaping("stage_level=2,level_cap=22"), parse_shaping({"stage_level": "2", "level_cap": None}),
                    ShapingWeights(stage_level=np.int64(2), level_cap=np.float32(22))):
        assert weights.stage_level == 2 and type(weights.stage_level) is int
        assert weights.level_cap in (22, None) and type(weights.level_cap) in (int, type(None))


@pytest.mark.parametrize("name", [f.name for f in fields(ShapingWeights) if f.name not in ("stage_level", "level_cap")])
@pytest.mark.parametrize("value", ["0.5", None, [1.0], 1j])
def test_a_weight_that_is_not_a_number_is_refused_by_the_dataclass(name: str, value: Any) -> None:
    """``ShapingWeights(novelty="0.5")`` raised a TypeError from ``math.isfinite`` (the spec and mapping parsers
    convert text first, the dataclass built directly did not)."""
    with pytest.raises(ValueError, match=f"invalid shaping {name}=") as info:
        ShapingWeights(**{name: value})
    assert "\n" not in str(info.value)
    assert ShapingWeights(**{name: np.float32(1.0)}) == ShapingWeights(**{name: 1.0})  # numbers stay valid


def test_a_new_member_at_full_hp_is_not_healing() -> None:
    """The module docstring: ``heal`` pays the party HP fraction regained with the same party size. A member
    caught at full HP while the lead is hurt raises the fraction (10/20 to 30/40) and pays nothing; healing the
    grown party then pays."""
    script = [_state(hp=(10,)), _state(levels=(5, 3), hp=(10, 20)), _state(levels=(5, 3), hp=(20, 20))]
    env = RewardShaping(LongplayEnv(ScriptedGame(script, milestone_at=99)), ShapingWeights(heal=4.0))
    heal = [info["shaping"]["heal"] for _, info in _run(env, 2)]
    assert heal == [0.0, pytest.approx(4.0 * (40 / 40 - 30 / 40))]


def test_damage_is_not_paid_across_two_creatures_of_one_species_and_level() -> None:
    # a trainer's next creature of the same species and level but other stats (Pokemon Red's DVs): its max HP
    # tells it apart, so its first HP read, below what the last one had left, removed nothing
    script = [
        _state(enemy=(3, 4, 16, 16)),
        _state(enemy=(3, 4, 14, 16)),              # 2 of 16
        _state(enemy=(3, 4, 9, 18)),               # another creature, hurt before it came out: nothing
        _state(enemy=(3, 4, 0, 18)),               # knocked out: 9 of 18
    ]
    env = RewardShaping(LongplayEnv(ScriptedGame(script)), ShapingWeights(damage=1.0))
    assert [info["shaping"]["damage"] for _, info in _run(env, len(script) - 1)] == [0.125, 0.0, 0.5]


def test_a_spec_scaled_to_zero_pays_nothing_and_names_no_part() -> None:
    # the run name lists the parts that pay (paying_parts): with scale=0 no term pays, whatever its weight
    from longplay.envs.wrappers.shaping import paying_parts

    assert not parse_shaping("quest,scale=0").enabled() and parse_shaping("quest").enabled()
    assert paying_parts("quest,scale=0") == [] and paying_parts("badge=2,scale=0") == []
    assert paying_parts("quest,badge=3") == ["quest", "badge=3"]
