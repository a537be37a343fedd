"""The native CPU observation kernel (``batched/native.py``): the same observations as the torch ops on every kind
of state, chosen where it applies, and one-line errors where it cannot build or reads a corrupt state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longplay.envs.quest import worldgen
from longplay.envs.quest.batched import native
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.batched.parity import fuzz_actions, scenario_states, targeted_states

try:
    native.compiler()
    HAS_COMPILER = True
except native.NativeUnavailable:
    HAS_COMPILER = False
needs_compiler = pytest.mark.skipif(not HAS_COMPILER, reason="no C++ compiler to build the native kernel")


@pytest.fixture(scope="module")
def worlds():
    return {size: worldgen.build_world(size, 0) for size in ("mini", "small", "standard")}


def _same_observations(engine: BatchedQuest, where: str) -> None:
    want = engine._observe()  # the torch ops
    got = engine._native.observe(engine.state, engine.milestones)
    assert set(got) == set(want)
    for key in want:
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape, (where, key)
        differ = (got[key] != want[key]).reshape(engine.num_envs, -1).any(1).nonzero().flatten()
        assert differ.numel() == 0, f"{where}: {key} differs in envs {differ[:8].tolist()}"


@needs_compiler
@pytest.mark.parametrize("size", ["mini", "small", "standard"])
def test_native_observations_equal_the_torch_ops_under_random_presses(worlds, size) -> None:
    engine = BatchedQuest(64, worlds=[worlds[size]], battle_pass=None, max_episode_steps=40)
    assert engine._native is not None and engine.native_reason == ""
    engine.reset(seed=5)
    rng = np.random.default_rng(5)
    for k in range(80):  # two episodes each: resets included
        engine.step(torch.as_tensor(fuzz_actions(rng, 64, a_bias=0.4)))
        _same_observations(engine, f"{size} step {k}")


@needs_compiler
def test_native_observations_equal_the_torch_ops_in_battles_menus_dialogs_and_a_pool_of_worlds(worlds) -> None:
    pool = [worldgen.build_world("small", seed) for seed in (1, 2, 3)]
    engine = BatchedQuest(48, worlds=pool, battle_pass=None)
    engine.reset(seed=2)
    for w, world in enumerate(pool):  # env i plays world i % 3
        envs = list(range(w, 48, 3))
        engine.load_states(envs, scenario_states(world, len(envs), seed=7 + w))
    _same_observations(engine, "loaded scenarios")
    rng = np.random.default_rng(7)
    for k in range(40):
        engine.step(torch.as_tensor(fuzz_actions(rng, 48, a_bias=0.5)))
        _same_observations(engine, f"pool step {k}")
    assert (engine.state.battle_kind != 0).any()  # the scenarios did reach battles


@needs_compiler
def test_native_observations_equal_the_torch_ops_on_targeted_scripts(worlds) -> None:
    """Boulders pushed, water, ledges, gates, trainers' sight and the rest of the targeted scripts."""
    world = worlds["small"]
    scripts = targeted_states(world, 3)
    n = len(scripts)
    engine = BatchedQuest(n, worlds=[world], battle_pass=None)
    engine.reset(seed=3)
    engine.load_states(list(range(n)), [state for state, _ in scripts])
    _same_observations(engine, "targeted start")
    longest = max(len(presses) for _, presses in scripts)
    for k in range(longest):
        actions = [presses[k] if k < len(presses) else -1 for _, presses in scripts]
        engine.step(torch.as_tensor(actions))
        _same_observations(engine, f"targeted press {k}")


@needs_compiler
def test_the_step_observes_natively_where_it_can() -> None:
    engine = BatchedQuest(4, size="mini")
    assert engine._native is not None
    called = []
    observe = engine._native.observe
    engine._native.observe = lambda *a: called.append(1) or observe(*a)
    engine.reset(seed=0)
    engine.step(torch.zeros(4, dtype=torch.int64))
    engine.observe()
    assert len(called) == 3
    for kwargs, reason in (({"native": False}, "native=False"), ({"obs_mode": "pixels"}, "obs_mode='pixels'")):
        other = BatchedQuest(2, size="mini", **kwargs)
        assert other._native is None and reason in other.native_reason


def test_native_refuses_a_bad_value_and_says_why_it_is_off(monkeypatch) -> None:
    with pytest.raises(ValueError, match="invalid native 'yes'; must be 'auto', True or False"):
        BatchedQuest(2, size="mini", native="yes")
    with pytest.raises(native.NativeUnavailable, match=r"native=True\): obs_mode='pixels'"):
        BatchedQuest(2, size="mini", obs_mode="pixels", native=True)

    def no_compiler() -> str:
        raise native.NativeUnavailable("no C++ compiler found (set CXX, or install g++); the torch ops observe instead")

    monkeypatch.setattr(native, "compiler", no_compiler)
    monkeypatch.setattr(native, "_LIBRARIES", {})
    engine = BatchedQuest(3, size="mini")  # auto: the torch ops, and why
    assert engine._native is None and engine.native_reason.startswith("no C++ compiler found")
    obs = engine.reset(seed=0)
    assert obs["vector"].shape == (3, 32)
    with pytest.raises(native.NativeUnavailable, match=r"^BatchedQuest\(native=True\): no C\+\+ compiler found"):
        BatchedQuest(3, size="mini", native=True)


@needs_compiler
def test_a_source_that_does_not_build_is_one_line_and_the_cache_keeps_what_built(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = tmp_path / "broken.cpp"
    bad.write_text("extern \"C\" int f() { return undefined_name; }\n")
    with pytest.raises(native.NativeUnavailable, match=r"^building broken.cpp with \S+ failed: ") as raised:
        native.load_library(bad)
    assert "\n" not in str(raised.value)
    good = tmp_path / "good.cpp"
    good.write_text("extern \"C\" int longplay_answer() { return 42; }\n")
    lib = native.load_library(good)
    assert lib.longplay_answer() == 42
    built = list((tmp_path / "cache" / "longplay" / "native").glob("good-*.so"))
    assert len(built) == 1 and native.load_library(good) is lib
    good.write_text("extern \"C\" int longplay_answer() { return 43; }\n")  # a new source is a new build
    assert native.load_library(good).longplay_answer() == 43


@needs_compiler
def test_a_cache_folder_that_cannot_be_written_leaves_the_torch_ops(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache's parent folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    source = tmp_path / "fresh.cpp"
    source.write_text("extern \"C\" int longplay_fresh() { return 1; }\n")
    with pytest.raises(native.NativeUnavailable, match=r"^building fresh.cpp into \S+ failed: "):
        native.load_library(source)
    monkeypatch.setattr(native, "_LIBRARIES", {})  # nothing built in this process: every kernel builds anew
    engine = BatchedQuest(2, size="mini")
    assert engine._native is None and engine.native_reason.startswith("building native.cpp into ")
    assert engine.battle_pass is None  # no kernels: the torch step, as without a compiler
    engine.reset(seed=0)


@needs_compiler
def test_a_corrupt_state_is_a_one_line_error_naming_the_env(worlds) -> None:
    engine = BatchedQuest(4, worlds=[worlds["mini"]])
    engine.reset(seed=0)
    engine.state.x[2] = 10_000  # far off any map: its window reads past the tile table
    with pytest.raises(IndexError, match=r"^native observe: env 2 indexes past a table \(map \d+, x 10000, y \d+\)"):
        engine.observe()
    engine.state.x[2] = 3
    engine.state.party = engine.state.party.to(torch.int64)  # a state of the wrong dtype is refused, not misread
    with pytest.raises(TypeError, match="native observe: party must be a contiguous CPU torch.int32 tensor"):
        engine.observe()


def _same_step(a: tuple, b: tuple, where: str) -> None:
    for got, want, name in zip(a[1:4], b[1:4], ("reward", "terminated", "truncated"), strict=True):
        assert torch.equal(got, want), f"{where}: {name}"
    for key in b[0]:
        assert torch.equal(a[0][key], b[0][key]), f"{where}: obs {key}"
    assert set(a[4]) == set(b[4]), where
    for key in b[4]:
        if key == "final_obs":
            assert all(torch.equal(a[4][key][k], b[4][key][k]) for k in b[4][key]), f"{where}: final_obs"
        else:
            assert torch.equal(a[4][key], b[4][key]), f"{where}: info {key}"


@needs_compiler
def test_native_episode_ends_equal_the_torch_ops_in_a_pool_of_unequal_worlds(worlds) -> None:
    """The CPU step with passes ends episodes natively: rewards, truncation, same-step resets, final observations
    and the milestones of a pool whose worlds have 7 and 23 milestones (a mini world's later events are no
    milestones, though they share the columns of the small world's)."""
    pool = [worlds["mini"], worlds["small"]]
    make = dict(worlds=pool, battle_pass=4, max_episode_steps=30, final_obs=True)
    fast, slow = BatchedQuest(24, **make), BatchedQuest(24, native=False, **make)
    assert fast._native_finish is not None and slow._native_finish is None
    for e in (fast, slow):
        e.reset(seed=4)
        for w, world in enumerate(pool):
            envs = list(range(w, 24, 2))[:6]
            e.load_states(envs, scenario_states(world, len(envs), seed=11 + w))
    rng = np.random.default_rng(4)
    peak = 0
    for k in range(70):  # past two truncations
        actions = torch.as_tensor(fuzz_actions(rng, 24, a_bias=0.5))
        _same_step(fast.step(actions), slow.step(actions), f"step {k}")
        assert fast.state.difference(slow.state) is None, k
        peak = max(peak, int(fast.milestones.max()))
    assert int(fast.episode.sum()) >= 24 and peak > 0


@needs_compiler
def test_native_pages_keep_a_queued_effect_when_they_bring_none(worlds) -> None:
    """``apply_say``: pages without an effect leave the queued effect and its argument as they were."""
    from longplay.envs.quest.batched.common import Say

    engine = BatchedQuest(3, worlds=[worlds["mini"]], battle_pass=2)
    engine.reset(seed=0)
    s = engine.state
    s.dialog_effect[:] = torch.tensor([2, 2, 0], dtype=torch.int32)
    s.dialog_arg[:] = torch.tensor([9, 9, 0], dtype=torch.int32)

    def say(effect: list[int], arg: list[int]) -> Say:
        i32 = dict(dtype=torch.int32)
        return Say(mask=torch.tensor([True, True, False]), first=torch.tensor([4, 5, 6], **i32),
                   texts=torch.tensor([1, 2, 3], **i32), extra=torch.tensor([[11], [12], [13]]),
                   extras=torch.tensor([1, 1, 1], **i32), effect=torch.tensor(effect, **i32),
                   arg=torch.tensor(arg, **i32))

    quiet = say([0, 0, 0], [0, 0, 0])
    engine._native_finish.finish(engine, (say([0, 1, 1], [7, 5, 5]), quiet))
    assert s.dialog_effect.tolist() == [2, 1, 0] and s.dialog_arg.tolist() == [9, 5, 0]
    assert s.dialog_first.tolist()[:2] == [4, 5] and s.dialog_texts.tolist()[:2] == [1, 2]
    assert s.dialog_extra[:2, 0].tolist() == [11, 12] and s.dialog_head.tolist()[:2] == [0, 0]
