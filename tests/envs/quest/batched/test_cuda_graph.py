"""``BatchedQuest.capture_graph``: a step replayed as a CUDA graph.

A graph replays the kernels of the step it recorded on the tensors it recorded, so the engine's step must
keep every state tensor in one storage (``_step_in_place``), and what ``reset`` and the others rebind must
be copied into those before a replay (``_replay``). Both run here on CPU: the first against the plain step,
the second with a stand-in for the graph that runs the recorded step again into the recorded outputs (the
``cpu_graph`` fixture of ``tests/conftest.py``). The graph itself needs a GPU (the last tests;
``benchmarks/batched_gpu.py`` checks every graph row the same way).
"""

from __future__ import annotations

import traceback

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from longplay.envs.quest import worldgen
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.batched.parity import ParityError, compare_batched, fuzz_actions, scenario_states
from longplay.envs.quest.batched.state import SCRATCH_FIELDS

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def mini():
    return worldgen.build_world("mini", 0)


def _engine(mini, **kwargs) -> BatchedQuest:
    # the CUDA step on CPU: no native kernels (those are CPU-only, and a CUDA graph could not replay them)
    return BatchedQuest(6, worlds=[mini], battle_pass=None, max_episode_steps=25, native=False, **kwargs)


def _storages(engine: BatchedQuest) -> dict:
    return {key: t.data_ptr() for key, t in engine._held_tensors().items()}


def test_the_in_place_step_matches_the_step_and_keeps_every_storage(mini) -> None:
    plain, fixed = _engine(mini), _engine(mini)
    for e in (plain, fixed):
        e.reset(seed=3)
    storages = _storages(fixed)
    rng = np.random.default_rng(0)
    for k in range(120):  # episodes of 25 steps: four rounds of same-step autoresets
        actions = torch.as_tensor(fuzz_actions(rng, 6))
        want, got = plain.step(actions), fixed._step_in_place(actions)
        assert torch.equal(got[1], want[1]) and torch.equal(got[2], want[2]) and torch.equal(got[3], want[3])
        assert all(torch.equal(got[0][n], want[0][n]) for n in want[0]), k
        for name, t in plain.state.tensors().items():
            assert torch.equal(getattr(fixed.state, name), t), (k, name)
        assert _storages(fixed) == storages, k
    assert int(plain.episode.sum()) >= 6 * 4  # the resets did happen


def test_replays_match_the_plain_step_through_resets_stagger_and_loads(mini, cpu_graph) -> None:
    plain, graphed = _engine(mini), _engine(mini)
    for e in (plain, graphed):
        e.reset(seed=0)
    graphed.capture_graph()
    storages = _storages(graphed)
    compare_batched(graphed, plain, 60)  # stagger_episode_ends and reset rebind tensors between replays
    states = scenario_states(mini, 3, seed=5)  # battles, dialogs and menus, loaded into rows
    for e in (plain, graphed):
        e.load_states([1, 2, 4], states)
    compare_batched(graphed, plain, 40, seed=9)  # ends with a reset, which rebinds: the next replay writes back
    graphed.step(torch.zeros(6, dtype=torch.int64))
    assert _storages(graphed) == storages


def test_returned_tensors_are_the_graphs_buffers(mini, cpu_graph) -> None:
    """A replay overwrites what the last step returned (the docstring tells users to clone what they keep)."""
    graphed = _engine(mini)
    graphed.reset(seed=0)
    graphed.capture_graph()
    first = graphed.step(torch.zeros(6, dtype=torch.int64))
    second = graphed.step(torch.ones(6, dtype=torch.int64))
    assert first[0]["vector"] is second[0]["vector"] and first[1] is second[1]
    assert first[0] is not second[0] and first[4] is not second[4]  # the dicts are the caller's own


def test_a_difference_names_the_tensor_and_step(mini) -> None:
    a, b = _engine(mini), _engine(mini)
    b.max_episode_steps = 24  # an env's second episode (after the staggered first) ends a step sooner in b
    with pytest.raises(ParityError, match=r"^state\.\w+ differs at step (2[4-9]|3[0-2])$"):  # not before
        compare_batched(a, b, 60)


def test_state_differences_leave_scratch_slots_out(mini) -> None:
    """On CUDA, a scatter of several values into one scratch slot keeps any one of them: two engines stepped
    alike can differ there (the first graph check on an H200 failed on the messages' scratch slot at step 0)."""
    a, b = _engine(mini), _engine(mini)
    for e in (a, b):
        e.reset(seed=0)
    assert a.state.difference(b.state) is None
    for name in SCRATCH_FIELDS:
        getattr(b.state, name)[:, -1] = 1
    assert a.state.difference(b.state) is None
    b.state.messages[2, 0] += 1
    assert a.state.difference(b.state) == "messages"
    b.state.key[5] += 1
    assert a.state.difference(b.state) == "key"


def test_capture_graph_refuses_a_cpu_engine(mini) -> None:
    engine = _engine(mini)
    engine.reset(seed=0)
    with pytest.raises(ValueError, match="capture_graph needs a CUDA device"):
        engine.capture_graph()


class _TensorsFromHostData(TorchDispatchMode):
    """Records where a tensor is made from Python data (``lift_fresh``: ``torch.tensor``, ``as_tensor`` of a
    number or list). On CUDA that is a copy from the host and a wait for it, which stops a graph capture."""

    def __init__(self) -> None:
        super().__init__()
        self.places: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.lift_fresh.default:
            frames = [f for f in traceback.extract_stack() if "/batched/" in f.filename]
            self.places.add(f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?")
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
def test_a_step_makes_no_tensor_from_host_data(mini, obs_mode) -> None:
    """Checked on CPU for CI, which has no GPU: battles, dialogs, menus and episode ends, eager."""
    engine = _engine(mini, obs_mode=obs_mode)
    engine.reset(seed=0)
    engine.load_states([0, 2, 4], scenario_states(mini, 3, seed=5))
    rng = np.random.default_rng(0)
    actions = [torch.as_tensor(fuzz_actions(rng, 6)) for _ in range(60)]
    scan = _TensorsFromHostData()
    with scan:
        for a in actions:
            engine._step_in_place(a)
    assert not scan.places


@CUDA
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_captured_engine_matches_an_uncaptured_one(mini, compiled) -> None:
    make = lambda: BatchedQuest(64, worlds=[mini], device="cuda", max_episode_steps=25)  # noqa: E731
    graphed, plain = make(), make()
    if compiled:
        graphed.compile(dynamic=False)
    with pytest.raises(RuntimeError, match="before reset"):
        graphed.capture_graph()
    graphed.reset(seed=0)
    graphed.capture_graph()
    compare_batched(graphed, plain, 80)
    states = scenario_states(mini, 8, seed=5)
    for e in (plain, graphed):
        e.load_states(list(range(0, 64, 8)), states)
    compare_batched(graphed, plain, 40, seed=9)


@pytest.mark.parametrize("mode", ["reduce-overhead", "max-autotune"])
def test_compile_modes_asking_for_cuda_graphs_are_refused_on_cuda(mini, mode) -> None:
    """They gave no graph and a slower step on an H200; the refusal names capture_graph."""
    engine = _engine(mini)
    engine.compile(mode=mode)  # on CPU the mode is inductor's business (no graphs there)
    engine.device = torch.device("cuda")  # the check reads the device only (no GPU here)
    with pytest.raises(ValueError, match=r"gives this engine no CUDA graph .*compile\(\)\.capture_graph\(\)"):
        engine.compile(mode=mode)


@CUDA
@pytest.mark.parametrize("captured", [False, True], ids=["eager", "eager+graph"])
def test_lockstep_parity_with_the_reference_on_cuda(mini, captured) -> None:
    """The CPU tests' lockstep parity on CUDA (benchmarks/parity_device.py runs more of it, compiled too)."""
    from longplay.envs.quest.batched.parity import Lockstep, replay_scripts, targeted_states

    engine = BatchedQuest(64, worlds=[mini], device="cuda", max_episode_steps=50)
    if captured:
        engine.reset(seed=0)
        engine.capture_graph()
    lock = Lockstep(engine, check_obs_every=5, hash_every=5)
    lock.reset(seed=0)
    replay_scripts(lock, targeted_states(mini, seed=5))
    lock.reset(seed=7)
    lock.load(list(range(64)), scenario_states(mini, 64, seed=3))
    rng = np.random.default_rng(2)
    for _ in range(60):
        lock.step(fuzz_actions(rng, 64, a_bias=0.35))
