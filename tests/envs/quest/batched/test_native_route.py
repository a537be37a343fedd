"""The native route (``native_route.cpp``) against the torch route, in lockstep.

Two engines of the same envs step side by side with the same seeds and presses, one with the torch route
(``native=False``) and one with the native kernel, both on the CPU step with battle passes (``battle_pass``
small, so small batches take that path). After every step the tests compare the whole state (but the scratch
slots), the step's outputs, and the route's outputs under their masks: a wrong rule, a missed write or a
write to the wrong env fails at the step it happens, naming what differs.

Workloads: random presses (the no-op and values outside the buttons included) from fresh and mid-game states
in mini, small and standard worlds and a pool of worlds; the oracle's games (battles, shops, the story); and
hand-set situations (boulders, water, ledges, trees, the bag and shop, the whiteout). ``-m slow`` runs longer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from longplay.envs.quest import worldgen
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.batched.native import NativeUnavailable
from longplay.envs.quest.batched.parity import oracle_chunks, scenario_states, targeted_states

try:
    from longplay.envs.quest.batched.native_route import library

    library()
except NativeUnavailable as e:  # no C++ compiler here: nothing to compare
    pytest.skip(f"native route unavailable: {e}", allow_module_level=True)


class RouteMismatch(AssertionError):
    """The native and torch engines differ (the message names what and at which step)."""


def _capture(engine: BatchedQuest) -> list[Any]:
    """Wraps the engine's route so each step's ``(routed, in_pass, count)`` is kept (the last one)."""
    kept: list[Any] = [None]
    route = engine._route_fn

    def captured(button: torch.Tensor) -> Any:
        kept[0] = route(button)
        return kept[0]

    engine._route_fn = captured
    return kept


def _routed_difference(got: Any, want: Any) -> str | None:
    """The first route output of ``got`` that differs from ``want``'s under its mask (None: none)."""
    (g, g_pass, g_count), (w, w_pass, w_count) = got, want
    if int(g_count) != int(w_count):
        return "count"
    pairs: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor | None]] = [
        ("in_pass", g_pass, w_pass, None), ("in_battle", g.in_battle, w.in_battle, None),
        ("rnd", g.rnd, w.rnd, w.in_battle),
        ("healer", g.healer, w.healer, None), ("whiteout", g.whiteout, w.whiteout, None),
        ("wild.mask", g.wild.mask, w.wild.mask, None), ("trainer.mask", g.trainer.mask, w.trainer.mask, None)]
    for name in ("species", "level"):
        pairs.append((f"wild.{name}", getattr(g.wild, name), getattr(w.wild, name), w.wild.mask))
    for name in ("trainer", "entity"):
        pairs.append((f"trainer.{name}", getattr(g.trainer, name), getattr(w.trainer, name), w.trainer.mask))
    for which in ("say_overworld", "say_menu"):
        gs, ws = getattr(g, which), getattr(w, which)
        pairs.append((f"{which}.mask", gs.mask, ws.mask, None))
        for name in ("first", "texts", "extra", "extras", "effect", "arg"):
            pairs.append((f"{which}.{name}", getattr(gs, name), getattr(ws, name), ws.mask))
    for name, a, b, mask in pairs:
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{name} ({a.dtype} {tuple(a.shape)} against {b.dtype} {tuple(b.shape)})"
        if mask is not None:
            a, b = a[mask], b[mask]
        if not torch.equal(a, b):
            return name
    return None


def _step_difference(got: tuple[Any, ...], want: tuple[Any, ...]) -> str | None:
    pairs = [(f"obs.{k}", got[0][k], want[0][k]) for k in want[0]]
    pairs += [(name, got[i], want[i]) for i, name in ((1, "reward"), (2, "terminated"), (3, "truncated"))]
    pairs += [(f"info.{k}", got[4][k], want[4][k]) for k in want[4]]
    for name, a, b in pairs:
        if not torch.equal(a, b):
            return name
    return None


class Pair:
    """A torch-route engine and a native-route engine of the same envs, stepped and compared in lockstep."""

    def __init__(self, num_envs: int, battle_pass: int = 8, **kwargs: Any) -> None:
        self.torch = BatchedQuest(num_envs, battle_pass=battle_pass, native=False, **kwargs)
        self.native = BatchedQuest(num_envs, battle_pass=battle_pass, native=True, **kwargs)
        assert self.native._native_route is not None and self.torch._native_route is None
        self._want, self._got = _capture(self.torch), _capture(self.native)
        self.steps = 0
        self.passes = 0  # routed envs that needed the rare rules, over every step

    def reset(self, seed: int) -> None:
        for e in (self.torch, self.native):
            e.reset(seed)
        self._check("reset")

    def load(self, envs: list[int], states: list[Any]) -> None:
        for e in (self.torch, self.native):
            e.load_states(envs, states)
        self._check("load_states")

    def stagger(self, limit: int, seed: int) -> None:
        for e in (self.torch, self.native):
            e.stagger_episode_ends(limit, generator=torch.Generator().manual_seed(seed))

    def step(self, actions: np.ndarray) -> None:
        a = torch.as_tensor(actions)
        want, got = self.torch.step(a), self.native.step(a)
        where = f"step {self.steps}"
        routed = _routed_difference(self._got[0], self._want[0])
        if routed is not None:
            raise RouteMismatch(f"routed {routed} differs at {where}")
        out = _step_difference(got, want)
        if out is not None:
            raise RouteMismatch(f"{out} differs at {where}")
        self._check(where)
        self.passes += int(self._want[0][2])
        self.steps += 1

    def _check(self, where: str) -> None:
        field = self.native.state.difference(self.torch.state)
        if field is not None:
            env = _first_env(getattr(self.native.state, field), getattr(self.torch.state, field))
            raise RouteMismatch(f"state.{field} differs at {where} (env {env})")


def _first_env(a: torch.Tensor, b: torch.Tensor) -> int:
    differs = (a != b).reshape(a.shape[0], -1).any(1)
    return int(differs.nonzero()[0, 0]) if differs.any() else -1


def random_presses(gen: np.random.Generator, n: int) -> np.ndarray:
    """Buttons 0..7, the no-op (8) and values outside the buttons (-1, 9, 200), with A more likely."""
    presses = gen.integers(0, 9, n)
    presses = np.where(gen.random(n) < 0.3, 4, presses)
    odd = gen.random(n) < 0.03
    return np.where(odd, gen.choice([-1, 9, 200], n), presses).astype(np.int32)  # int32: step clamps no int32


def _fuzz(pair: Pair, steps: int, seed: int, mid_game: bool = True, stagger: int = 25) -> None:
    """Fresh games (staggered episode ends), half the envs loaded with mid-game states, random presses."""
    n = pair.native.num_envs
    pair.reset(seed)
    pair.stagger(stagger, seed)
    if mid_game:
        envs = list(range(0, n, 2))
        pair.load(envs, [scenario_states(pair.native.world_of_env(i), 1, seed=seed + i)[0] for i in envs])
    gen = np.random.default_rng(seed)
    for _ in range(steps):
        pair.step(random_presses(gen, n))


@pytest.mark.parametrize("size,envs,steps", [("mini", 256, 200), ("small", 192, 120), ("standard", 128, 100)])
def test_random_presses(size: str, envs: int, steps: int) -> None:
    pair = Pair(envs, world_seed=0, size=size)
    _fuzz(pair, steps, seed=11)
    assert pair.passes > 0  # battles started and were fought


def test_world_pool() -> None:
    """A pool of worlds (mini and small, padded to common tables), each env in its own."""
    pair = Pair(96, world_seeds=[3, 4, 7], size="mini")
    _fuzz(pair, 150, seed=5)
    pool = [worldgen.build_world("mini", 3), worldgen.build_world("small", 5)]
    pair = Pair(64, worlds=pool)
    _fuzz(pair, 100, seed=6)


def test_oracle_games() -> None:
    """The oracle's games cut into pieces, each replayed in its own env (battles, shops, the story)."""
    world = worldgen.build_world("mini", 0)
    pieces = oracle_chunks(world, seeds=[1, 2], steps=1200, chunk=60, noise=0.03)
    n = len(pieces) + 8
    pair = Pair(n, worlds=[world])
    pair.reset(0)
    pair.load(list(range(len(pieces))), [state for state, _ in pieces])
    gen = np.random.default_rng(0)
    for t in range(60):
        actions = random_presses(gen, n)
        for i, (_, acts) in enumerate(pieces):
            actions[i] = acts[t]
        pair.step(actions)
    assert pair.passes > 0


@pytest.mark.parametrize("size", ["mini", "small", "standard"])
def test_hand_set_situations(size: str) -> None:
    """``parity.targeted_states``: boulders pushed, water swum and left by a ledge or a boulder, trees chopped,
    the bag and shop (too poor, bag full), Ward Spray, the whiteout, badges and the final win."""
    world = worldgen.build_world(size, 0)
    scripts = targeted_states(world, seed=5)
    pair = Pair(len(scripts), worlds=[world])
    assert size == "mini" or pair.native.tables.num_boulders > 0  # (mini worlds have none)
    pair.reset(0)
    pair.load(list(range(len(scripts))), [state for state, _ in scripts])
    length = max(len(acts) for _, acts in scripts) + 4
    for t in range(length):
        pair.step(np.array([acts[t] if t < len(acts) else 4 for _, acts in scripts]))


def test_rule_edges() -> None:
    """States fuzzing and the hand-set scripts do not reach, written into both engines' tensors: a ledge hop
    onto a boulder (the landing must be free), the same hop without it, and a revival herb on a creature of
    1 max HP (revived to at least 1)."""
    from longplay.envs.quest.constants import Item, Tile

    world = worldgen.build_world("standard", 0)
    pair = Pair(16, worlds=[world])
    pair.reset(0)
    s, t = pair.native.state, pair.native.tables
    boulder_vis = t.boulder_vis[0]
    visible = s.events[0, boulder_vis[:, 0].long()] & ~s.events[0, boulder_vis[:, 1].long()]
    slot = next(b for b in range(t.num_boulders) if visible[b])
    m = world.maps[int(t.boulder_map[0, slot])]
    lx, ly = next((x, y) for y in range(1, m.height - 1) for x in range(m.width)
                  if m.tile(x, y) == Tile.LEDGE and m.tile(x, y - 1) != Tile.LEDGE)
    mon = [0, 5, 125, 0, 1, 5, 5, 5, 0, -1, -1, -1, 10, 0, 0, 0]  # fainted, 1 max HP
    for e in (pair.torch, pair.native):
        st = e.state
        for env in (0, 1):  # above the ledge, facing down; a boulder below it for env 0
            st.map[env], st.x[env], st.y[env], st.facing[env] = m.index, lx, ly - 1, 1
        st.boulder_xy[0, slot] = torch.tensor([lx, ly + 1], dtype=torch.int32)
        st.party_count[2] = 1
        st.party[2, 0] = torch.tensor(mon, dtype=torch.int32)
        st.menu[2], st.menu_cursor[2], st.menu_choice[2] = 4, 0, int(Item.REVIVAL_HERB)  # the bag's target menu
        st.bag[2, int(Item.REVIVAL_HERB)] = 1
    pair._check("the edits")
    pair.step(np.array([1, 1, 4] + [8] * 13, dtype=np.int32))
    assert int(s.y[0]) == ly - 1 and int(s.y[1]) == ly + 1  # blocked, and hopped
    assert int(s.party[2, 0, 3]) == 1


def test_route_outputs_outside_masks_stay_in_tables() -> None:
    """The battle start gathers with every env's wild species and level and trainer (masked later): the native
    route's must be valid indices where their masks are off too; the draws are zeros outside battles (a valid
    draw for the battle press's masked-off rows); it leaves no party writes to apply."""
    pair = Pair(64, world_seed=0, size="mini")
    pair.reset(2)
    routed, _, _ = pair.native._native_route.route(torch.full((64,), 8, dtype=torch.int32))
    t = pair.native.tables
    assert routed.party_writes.mask.shape == (64, 0)
    assert bool((routed.trainer.trainer >= 0).all()) and bool((routed.trainer.trainer < t.num_trainers).all())
    assert bool((routed.wild.species == 0).all()) and bool((routed.wild.level == 0).all())
    assert not routed.in_battle.any() and bool((routed.rnd == 0).all())  # draws (valid ones) for the battle only


def test_engine_chooses_the_route() -> None:
    """The native route serves the CPU step with battle passes (also once compiled), and nothing else."""
    on = BatchedQuest(16, size="mini", battle_pass=8)
    assert on._route_fn == on._native_route.route
    on.compile(backend="eager")
    assert on._route_fn == on._native_route.route
    assert BatchedQuest(16, size="mini", battle_pass=8, native=False)._native_route is None
    one_graph = BatchedQuest(16, size="mini", battle_pass=None)
    assert one_graph._native_route is None and one_graph.native_route_reason == "battle_pass=None"


@pytest.mark.slow
@pytest.mark.parametrize("size", ["mini", "small", "standard"])
def test_slow_random_presses(size: str) -> None:
    pair = Pair(512, world_seed=1, size=size)
    _fuzz(pair, 1000, seed=21, stagger=200)


@pytest.mark.slow
def test_slow_oracle_games() -> None:
    for size, steps in (("mini", 6000), ("small", 3000)):
        world = worldgen.build_world(size, 0)
        pieces = oracle_chunks(world, seeds=[0, 1, 2], steps=steps, chunk=200, noise=0.02)
        pair = Pair(len(pieces), worlds=[world])
        pair.reset(0)
        pair.load(list(range(len(pieces))), [state for state, _ in pieces])
        for t in range(200):
            pair.step(np.array([acts[t] for _, acts in pieces]))
