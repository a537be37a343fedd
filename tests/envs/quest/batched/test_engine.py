"""The batched engine's env behaviour: seeds, same-step autoreset, episode statistics, world pools, loading
and reading states, observations (pixels against the reference renderer), bounds and dtypes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from longplay.envs.quest import engine as ref_engine
from longplay.envs.quest import render, savestate, worldgen
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.batched.parity import fuzz_actions, scenario_states
from longplay.envs.quest.batched.tables import max_level_ups


@pytest.fixture(scope="module")
def mini():
    return worldgen.build_world("mini", 0)


def _ref_hash(world, seed: int) -> bytes:
    return savestate.state_hash(ref_engine.new_state(world, seed))


def test_shapes_dtypes_and_device(mini) -> None:
    b = BatchedQuest(5, worlds=[mini])
    obs = b.reset(seed=0)
    assert obs["tiles"].shape == (5, 9, 10) and obs["tiles"].dtype == torch.uint8
    assert obs["entities"].shape == (5, 9, 10) and obs["entities"].dtype == torch.uint8
    assert obs["vector"].shape == (5, 32) and obs["vector"].dtype == torch.float32
    dtypes = {k: v.dtype for k, v in b.state.tensors().items()}
    gen = np.random.default_rng(0)
    for _ in range(40):
        obs, reward, terminated, truncated, info = b.step(torch.as_tensor(fuzz_actions(gen, 5)))
    assert reward.dtype == torch.float32 and terminated.dtype == torch.bool and truncated.dtype == torch.bool
    assert {k: v.dtype for k, v in b.state.tensors().items()} == dtypes  # no silent promotion
    assert all(t.device.type == "cpu" for t in (*obs.values(), reward, terminated, truncated))


@pytest.mark.parametrize("battle_pass", [None, 1])
def test_seed_rule_and_same_step_autoreset(mini, battle_pass) -> None:
    """Env i's k-th episode is the reference episode of seed ``seed + i + k * num_envs`` (also with battle
    passes, where the envs that end are reset row by row)."""
    n = 3
    b = BatchedQuest(n, worlds=[mini], max_episode_steps=4, final_obs=True, battle_pass=battle_pass)
    b.reset(seed=10)
    assert [savestate.state_hash(b.state_of(i)) for i in range(n)] == [_ref_hash(mini, 10 + i) for i in range(n)]
    right = torch.full((n,), 3)
    for _ in range(3):
        obs, reward, terminated, truncated, info = b.step(right)
        assert not truncated.any()
    before = b._observe()
    obs, reward, terminated, truncated, info = b.step(right)
    assert truncated.all() and not terminated.any()
    assert info["episode_length"].tolist() == [4] * n
    # same-step autoreset: the returned obs is the new episode's first; the last one is in final_obs
    for i in range(n):
        assert savestate.state_hash(b.state_of(i)) == _ref_hash(mini, 10 + i + n)
    assert torch.equal(info["final_obs"]["vector"][:, 1], torch.full((n,), 3.0))  # the last obs faces right
    fresh = b.reset(seed=10 + n)
    for key in obs:
        assert torch.equal(obs[key], fresh[key])
    assert torch.equal(before["vector"][:, 1], info["final_obs"]["vector"][:, 1])


@pytest.mark.parametrize("battle_pass", [None, 1])
def test_episode_statistics_and_reward_count_milestones(mini, battle_pass) -> None:
    """Rewards are new milestones; at the end, episode_return sums them and episode_length counts presses
    (from the last piece of an oracle game: loaded states start their counters at zero)."""
    from longplay.envs.quest.batched.parity import oracle_chunks

    pieces = oracle_chunks(mini, seeds=[1, 2], steps=8000, chunk=40)
    ends = [(start, acts) for start, acts in pieces if 8 in acts.tolist()]  # padded: the game ended there
    assert ends, "the oracle finishes mini"
    b = BatchedQuest(len(ends), worlds=[mini], battle_pass=battle_pass)
    b.reset(seed=0)
    b.load_states(list(range(len(ends))), [start for start, _ in ends])
    first = b.milestones.clone()
    total = torch.zeros(len(ends))
    finished = torch.zeros(len(ends), dtype=torch.bool)
    for t in range(40):
        acts = torch.tensor([int(a[t]) for _, a in ends])
        obs, reward, terminated, truncated, info = b.step(acts)
        total += torch.where(finished, 0.0, reward)
        for i in torch.nonzero(terminated & ~finished).flatten().tolist():
            assert float(info["episode_return"][i]) == float(total[i]) > 0
            assert int(info["milestones"][i]) == int(first[i]) + int(total[i])
            assert int(info["episode_length"][i]) == t + 1
            assert float(obs["vector"][i, 29]) == float(b.milestones[i])  # the new episode's count
        finished |= terminated
    assert finished.all()


@pytest.mark.parametrize("battle_pass", [None, 1])
def test_a_new_episode_puts_the_boulders_back(battle_pass) -> None:
    """Boulders pushed in one episode stand at their starts in the next (also with battle passes, where the envs
    that end are reset row by row)."""
    world = worldgen.build_world("small", 0)
    b = BatchedQuest(2, worlds=[world], max_episode_steps=1, battle_pass=battle_pass)
    b.reset(seed=5)
    assert b.tables.num_boulders
    start = b.state.boulder_xy[:, :-1].clone()
    b.state.boulder_xy[:, :-1] += 1  # pushed during the first episode
    b.step(torch.full((2,), 8))  # a no-op: the episode is truncated and the next one starts
    assert torch.equal(b.state.boulder_xy[:, :-1], start)
    assert [savestate.state_hash(b.state_of(i)) for i in range(2)] == [_ref_hash(world, 7 + i) for i in range(2)]


def test_world_seed_none_plays_a_pool_of_worlds_as_the_vector_env_does() -> None:
    """``world_seed=None`` (the reference's new world per reset seed: ``longplay/Quest-v0``'s default) played world
    0 in every env, so SB3's ``BatchedVecEnv`` and ``longplay train --env Quest-v0 --vec-env batched`` trained on one
    world while evaluating on new ones; ``make_vec`` alone played the documented pool (``world_pool``, 16)."""
    assert [w.seed for w in BatchedQuest(3, world_seed=None).worlds] == [0, 1, 2]
    many = BatchedQuest(20, world_seed=None)
    assert [w.seed for w in many.worlds] == list(range(16)) and many.world_of.tolist() == [*range(16), 0, 1, 2, 3]
    assert [w.seed for w in BatchedQuest(5, world_seed=None, world_pool=2).worlds] == [0, 1]
    assert [w.seed for w in BatchedQuest(3, world_seed=None, world_seeds=[7]).worlds] == [7]  # the pool named wins
    assert [w.seed for w in BatchedQuest(3, world_seed=4).worlds] == [4]
    for pool in (0, 1.5, True):
        with pytest.raises(ValueError, match=rf"^world_pool must be an int >= 1, got {pool!r}$"):
            BatchedQuest(2, world_seed=None, world_pool=pool)


def test_world_pool_assignment() -> None:
    b = BatchedQuest(5, size="mini", world_seeds=[7, 8])
    assert [b.world_of_env(i).seed for i in range(5)] == [7, 8, 7, 8, 7]
    b.reset(seed=0)
    for i in range(5):
        assert savestate.state_hash(b.state_of(i)) == _ref_hash(b.world_of_env(i), i)


def test_load_and_read_back_states(mini) -> None:
    states = scenario_states(mini, 12, seed=4)
    b = BatchedQuest(12, worlds=[mini])
    b.reset(seed=0)
    b.load_states(list(range(12)), states)
    for i, s in enumerate(states):
        assert savestate.state_document(b.state_of(i)) == savestate.state_document(s)
        assert savestate.state_hash(b.state_of(i)) == savestate.state_hash(s)


def test_loaded_states_start_a_full_episode(mini) -> None:
    """A state loaded after ``stagger_episode_ends`` kept the staggered limit, so its episode (its length
    counted from 0 again) was truncated long before ``max_episode_steps``; unequal lists wrote part of them."""
    b = BatchedQuest(2, worlds=[mini], max_episode_steps=50)
    b.reset(seed=0)
    b.stagger_episode_ends(50, torch.Generator().manual_seed(0))
    b.load_states([0], [ref_engine.new_state(mini, 9)])
    assert b.episode_length[0] == 0 and b.episode_limit[0] == 50
    for _ in range(49):
        *_, truncated, _ = b.step(torch.zeros(2, dtype=torch.int64))
        assert not truncated[0]
    assert b.step(torch.zeros(2, dtype=torch.int64))[3][0]
    with pytest.raises(ValueError, match="one state per env"):
        b.load_states([0, 1], [ref_engine.new_state(mini, 9)])
    with pytest.raises(ValueError, match="limit >= 1"):  # was torch's "random_ expects 'from' < 'to'"
        b.stagger_episode_ends(0)


@pytest.mark.parametrize("limit", [1.5, "9", 2**40])
def test_stagger_episode_ends_refuses_a_bad_limit_in_one_line(mini, limit) -> None:
    """1.5 failed in ``torch.randint`` (a five-line TypeError), "9" in a comparison with 0, and 2**40 as
    "to - 1 is out of bounds for int"; none named the argument."""
    b = BatchedQuest(2, worlds=[mini], max_episode_steps=50)
    b.reset(seed=0)
    with pytest.raises(ValueError, match=f"stagger_episode_ends needs a limit >= 1.*got {limit!r}"):
        b.stagger_episode_ends(limit)
    assert b.episode_limit.tolist() == [50, 50]


@pytest.mark.parametrize("second", [1, 5, 0.5], ids=["other world", "no such env", "not an int"])
def test_load_states_writes_nothing_when_one_entry_is_bad(mini, second) -> None:
    """The states were checked one by one as they were written: a bad second entry (a state of another
    world, an env past the last) raised after the first env had been overwritten, its episode counters
    not restarted."""
    b = BatchedQuest(3, world_seeds=[0, 1])
    b.reset(seed=0)
    before = b.documents()
    state = b.state_of(0)
    state.money = 1234
    with pytest.raises((IndexError, ValueError), match="another world|no env"):
        b.load_states([0, second], [state, state])
    assert b.documents() == before


def test_pixels_match_reference_frames_in_the_overworld() -> None:
    world = worldgen.build_world("small", 0)
    n = 24
    b = BatchedQuest(n, worlds=[world], obs_mode="pixels")
    b.reset(seed=0)
    b.load_states(list(range(n)), scenario_states(world, n, seed=11))
    gen = np.random.default_rng(0)
    checked = 0
    for _ in range(6):
        frames = b._observe()["pixels"].numpy()
        assert frames.shape == (n, 144, 160, 3) and frames.dtype == np.uint8
        for i in range(n):
            s = b.state_of(i)
            if s.battle.kind or s.dialog or s.menu:
                continue
            assert np.array_equal(frames[i], render.render_frame(world, s)), f"env {i}"
            checked += 1
        b.step(torch.as_tensor(fuzz_actions(gen, n, a_bias=0.05)))
    assert checked > 20


def test_text_and_frame_of_one_env(mini) -> None:
    b = BatchedQuest(2, worlds=[mini])
    b.reset(seed=0)
    assert isinstance(b.text(1), str) and b.text(1)
    assert b.frame(0).shape == (144, 160, 3)


def test_noop_only_advances_time(mini) -> None:
    b = BatchedQuest(2, worlds=[mini], noop=True)
    b.reset(seed=0)
    b.step(torch.tensor([8, 8]))
    s = ref_engine.new_state(mini, 0)
    ref_engine.step(s, mini, None)
    assert savestate.state_hash(b.state_of(0)) == savestate.state_hash(s)


def test_bounds_and_memory(mini) -> None:
    b = BatchedQuest(4, worlds=[mini])
    assert b.state.messages.shape[1] == 17 + max_level_ups() + 1  # + the scratch slot
    per_env = b.state_bytes_per_env()
    assert 1_000 < per_env < 8_000


def test_bad_arguments(mini) -> None:
    with pytest.raises(ValueError, match="obs_mode"):
        BatchedQuest(2, worlds=[mini], obs_mode="text")
    with pytest.raises(ValueError, match="num_envs"):
        BatchedQuest(0, worlds=[mini])
    with pytest.raises(ValueError, match="size"):
        BatchedQuest(2, size="huge")
    with pytest.raises(ValueError, match="world='canonical' is one fixed world; world_seeds"):
        BatchedQuest(2, world="canonical", world_seeds=[1, 2])  # the pool was silently ignored
    with pytest.raises(ValueError, match="size='small' cannot go with it"):
        BatchedQuest(2, world="canonical", size="small")  # so was the size, as in the reference game
    with pytest.raises(ValueError, match="world_seed=4 cannot go with it"):
        BatchedQuest(2, world="canonical", world_seed=4)


def test_bad_arguments_fail_as_in_the_reference_env(mini) -> None:
    """What ``QuestGame`` refuses, the batched engine refuses too, in one line (they were silently accepted: a
    mistyped ``world`` played the procedural world, a negative seed built a world the reference never makes)."""
    with pytest.raises(ValueError, match="unknown world 'canonicle'"):
        BatchedQuest(2, world="canonicle")
    with pytest.raises(ValueError, match="invalid world_seed -1"):
        BatchedQuest(2, world_seed=-1)
    with pytest.raises(ValueError, match="invalid world_seeds entry -3"):
        BatchedQuest(2, world_seeds=[0, -3])
    with pytest.raises(ValueError, match="worlds"):
        BatchedQuest(2, worlds=[])
    with pytest.raises(ValueError, match="unknown palette"):
        BatchedQuest(2, worlds=[mini], palette="nope")  # symbolic: no frame would ever have failed
    with pytest.raises(ValueError, match="num_envs"):
        BatchedQuest(2.5, worlds=[mini])
    assert len(BatchedQuest(np.int64(2), world_seeds=np.arange(2)).worlds) == 2  # numpy ints are fine


@pytest.mark.parametrize("kwargs,message", [
    ({"device": "cdua"}, r"invalid device 'cdua'; use 'cpu', 'cuda' or 'cuda:N'$"),
    ({"device": "cuda:x"}, r"invalid device 'cuda:x'; use 'cpu', 'cuda' or 'cuda:N'$"),
    ({"device": None}, r"invalid device None; use 'cpu', 'cuda' or 'cuda:N'$"),
    ({"world_seeds": 3}, r"world_seeds must be a list of world seeds \(ints >= 0\), got 3$"),
    ({"world_seeds": "12"}, r"world_seeds must be a list of world seeds \(ints >= 0\), got '12'$"),
    ({"worlds": [1]}, r"worlds must hold World objects, got 1$"),
])
def test_bad_devices_and_pools_are_refused_in_one_line(mini, kwargs, message) -> None:
    """A mistyped device failed in ``torch.device`` (its list of twenty device types; ``None``: a six-line
    TypeError), ``world_seeds=3`` as "object of type 'int' has no len()" and ``worlds=[1]`` as "'int' object has
    no attribute 'size'"."""
    with pytest.raises(ValueError, match=message):
        BatchedQuest(2, **kwargs)


@pytest.mark.parametrize("actions", [None, "abcd", np.array([0, 1], dtype=object), [0, None]])
def test_actions_torch_cannot_read_are_refused_in_one_line(mini, actions) -> None:
    """``step(None)`` failed as torch's "Could not infer dtype of NoneType", an object array as "can't convert
    np.ndarray of type numpy.object_. The only supported types are: ..."; neither said what a step takes."""
    b = BatchedQuest(2, worlds=[mini])
    b.reset(seed=0)
    with pytest.raises(TypeError, match=r"^actions must be \[N\] integers \(a tensor, numpy array or list\), got "):
        b.step(actions)


def test_load_states_names_what_is_not_a_state(mini) -> None:
    """The bytes ``savestate.save`` writes (or any other object) failed as "'bytes' object has no attribute
    'party'", deep in the batched state's loader."""
    b = BatchedQuest(2, worlds=[mini])
    b.reset(seed=0)
    data = savestate.save(b.state_of(0), mini)
    with pytest.raises(TypeError, match=r"^load_states: the state for env 1 is a bytes, not a QuestState "
                                        r"\(savestate.load\(data, world\) reads one from a save\)$"):
        b.load_states([1], [data])
    b.load_states([1], [savestate.load(data, mini)])
    assert b.documents([1]) == b.documents([0])


def test_load_states_refuses_an_env_named_twice(mini) -> None:
    """``load_states([1, 1], [a, b])`` (or ``[1, -1]`` of 2 envs) kept the last state without a word."""
    b = BatchedQuest(2, worlds=[mini])
    b.reset(seed=0)
    before = b.documents()
    states = [ref_engine.new_state(mini, 8), ref_engine.new_state(mini, 9)]
    for envs in ([1, 1], [1, -1]):
        with pytest.raises(ValueError, match=rf"^load_states: env 1 is named twice in {re.escape(str(envs))}$"):
            b.load_states(envs, states)
    assert b.documents() == before


@pytest.mark.parametrize("flag", ["noop", "final_obs", "keep_memory"])
@pytest.mark.parametrize("value", ["no", 1, None])
def test_flags_must_be_bools_as_in_the_reference_env(mini, flag, value) -> None:
    """``noop="no"`` was read by its truth: a 9-action space, where the reference env refuses it ("invalid noop
    'no'; valid: True, False"); so were the engine's other flags."""
    with pytest.raises(ValueError, match=rf"^invalid {flag} {value!r}; valid: True, False$"):
        BatchedQuest(2, worlds=[mini], **{flag: value})
    assert BatchedQuest(2, worlds=[mini], **{flag: np.bool_(False)}).num_envs == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_cuda_fails_in_one_line(mini) -> None:
    with pytest.raises(ValueError, match="no CUDA device"):
        BatchedQuest(2, worlds=[mini], device="cuda")


@pytest.mark.parametrize("actions", [torch.zeros(3, 1, dtype=torch.int64), torch.zeros(4, dtype=torch.int64),
                                     torch.tensor(2), [0, 1]])
def test_wrong_action_shapes_fail_before_the_step(mini, actions) -> None:
    """A wrong shape raised deep in the rules (a broadcasting error) after the step had already written part of
    the state (the tick), so the engine was corrupted for every later step."""
    b = BatchedQuest(3, worlds=[mini])
    b.reset(seed=0)
    before = b.documents()
    with pytest.raises(ValueError, match=r"expected actions of shape \(3,\)"):
        b.step(actions)
    assert b.documents() == before
    b.step(np.zeros(3, dtype=np.int64))  # numpy and lists of ints are fine


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool])
def test_float_or_bool_actions_are_refused(mini, dtype) -> None:
    b = BatchedQuest(3, worlds=[mini])
    b.reset(seed=0)
    with pytest.raises(TypeError, match="integers"):
        b.step(torch.ones(3, dtype=dtype))


def test_actions_beyond_int32_press_nothing(mini) -> None:
    """The step casts actions to int32: 2**32 wrapped round to button 0 (up), 2**32 + 4 to A."""
    wide, none = BatchedQuest(3, worlds=[mini]), BatchedQuest(3, worlds=[mini])
    wide.reset(seed=4), none.reset(seed=4)
    for _ in range(3):
        wide.step(torch.tensor([2**32, 2**32 + 4, -(2**40)]))
        none.step(torch.full((3,), -1))
    assert all(torch.equal(t, none.state.tensors()[name]) for name, t in wide.state.tensors().items())


def test_unsigned_actions_beyond_int32_press_nothing(mini) -> None:
    """Only int64 actions were clamped before the cast to int32: uint64 2**32 (numpy's ``np.uint64``) still
    wrapped round to button 0 and turned the player."""
    wide, none = BatchedQuest(3, worlds=[mini]), BatchedQuest(3, worlds=[mini])
    wide.reset(seed=4), none.reset(seed=4)
    for _ in range(3):
        wide.step(np.array([2**32, 2**32 + 4, 2**64 - 1], dtype=np.uint64))
        wide.step(np.array([2**32 - 1, 2**31, 8], dtype=np.uint32))
        none.step(torch.full((3,), -1)), none.step(torch.full((3,), -1))
    assert all(torch.equal(t, none.state.tensors()[name]) for name, t in wide.state.tensors().items())


@pytest.mark.parametrize("steps", [0, 1.5, True, "abc", 2**40])
def test_bad_max_episode_steps_are_refused_in_one_line(mini, steps) -> None:
    """1.5 and True were taken as 1 (the reference env refuses them), "abc" failed in ``int()`` and 2**40 in
    filling the int32 episode limits, neither naming the argument."""
    with pytest.raises(ValueError, match=f"invalid max_episode_steps {steps!r}"):
        BatchedQuest(2, worlds=[mini], max_episode_steps=steps)
    assert BatchedQuest(2, worlds=[mini], max_episode_steps=np.int64(5)).max_episode_steps == 5


@pytest.mark.parametrize("seed", [-1, 2**62 + 1, 1.5, True, "3"])
def test_bad_reset_seeds_are_refused(mini, seed) -> None:
    b = BatchedQuest(2, worlds=[mini])
    with pytest.raises(ValueError, match="invalid seed"):
        b.reset(seed=seed)


def test_reset_without_a_seed_draws_one(mini) -> None:
    b = BatchedQuest(2, worlds=[mini])
    b.reset(seed=None)
    assert 0 <= int(b.base_seed.max()) < 2**31


def test_frame_uses_the_engine_palette(mini) -> None:
    """``frame(i)`` (and so the adapters' ``render``/``get_images``) drew the default palette whatever the
    engine's ``palette``, so it differed from the pixel observation."""
    b = BatchedQuest(2, worlds=[mini], obs_mode="pixels", palette="sepia")
    obs = b.reset(seed=0)["pixels"]
    assert np.array_equal(b.frame(1), obs[1].numpy())
    assert np.array_equal(b.frame(1, palette="grey"), render.render_frame(mini, b.state_of(1), "grey"))


@pytest.mark.slow
def test_step_traces_without_graph_breaks() -> None:
    """``torch.compile(fullgraph=True)`` traces the whole step: no host syncs, no data-dependent shapes."""
    b = BatchedQuest(8, size="small")
    b.reset(seed=0)
    b.compile(backend="eager", fullgraph=True, dynamic=False)
    for a in range(8):
        b.step(torch.full((8,), a))


def test_battle_pass_sizes() -> None:
    """``battle_pass``: "auto" is an eighth of the envs on CPU from AUTO_PASS_MIN_ENVS on (else off), or at least
    1 at every size where the native kernels are here, a size of all the envs or more is off, and bad values
    and devices other than the CPU are refused in one line."""
    from longplay.envs.quest.batched.engine import AUTO_PASS_MIN_ENVS, _battle_pass_size

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert _battle_pass_size("auto", AUTO_PASS_MIN_ENVS, cpu) == AUTO_PASS_MIN_ENVS // 8
    assert _battle_pass_size("auto", 65536, cpu) == 8192
    assert _battle_pass_size("auto", AUTO_PASS_MIN_ENVS - 8, cpu) is None
    assert _battle_pass_size("auto", AUTO_PASS_MIN_ENVS + 1, cpu) is None  # an eighth must divide the envs
    assert _battle_pass_size("auto", 65536, cuda) is None
    native = {"native": True}
    assert _battle_pass_size("auto", 256, cpu, **native) == 32 and _battle_pass_size("auto", 100, cpu, **native) == 12
    assert _battle_pass_size("auto", 2, cpu, **native) == 1 and _battle_pass_size("auto", 1, cpu, **native) == 1
    assert _battle_pass_size("auto", 256, cuda, **native) is None
    assert _battle_pass_size(None, 256, cpu, **native) is None
    assert _battle_pass_size(None, 65536, cpu) is None
    assert _battle_pass_size(64, 64, cpu) is None and _battle_pass_size(16, 64, cpu) == 16
    # a size from numpy (a sweep's grid, np.arange) is an int like any other, and comes back a plain int
    assert _battle_pass_size(np.int64(16), 64, cpu) == 16 and type(_battle_pass_size(np.int64(16), 64, cpu)) is int
    for bad in (0, -3, 2.5, "eighth", True):
        with pytest.raises(ValueError, match="invalid battle_pass"):
            _battle_pass_size(bad, 64, cpu)
    with pytest.raises(ValueError, match="needs a CPU device"):
        _battle_pass_size(16, 64, cuda)


def test_keep_memory(mini, monkeypatch) -> None:
    """``keep_memory`` (the default) asks malloc to keep freed memory on CPU, which glibc accepts;
    ``keep_memory=False`` leaves malloc alone."""
    import platform

    from longplay.envs.quest.batched import engine

    calls: list[bool] = []
    monkeypatch.setattr(engine, "keep_freed_memory", lambda: calls.append(True) or True)
    BatchedQuest(2, worlds=[mini], keep_memory=False)
    assert calls == []
    BatchedQuest(2, worlds=[mini])
    assert calls == [True]
    monkeypatch.undo()
    if platform.libc_ver()[0] == "glibc":
        assert engine.keep_freed_memory() is True


def _passes_match_one_press(world, passes: BatchedQuest, seed: int, steps: int) -> None:
    """Steps ``passes`` (battle passes) beside an eager one-press engine from the same mid-game states (battles
    on, more than one pass's worth) and presses: observations, rewards and episode ends equal at every step,
    state documents every 5 steps and at the end."""
    n = passes.num_envs
    one = BatchedQuest(n, worlds=[world], battle_pass=None)
    states = scenario_states(world, n, seed=seed)
    assert sum(s.battle.kind != 0 for s in states) > passes.battle_pass
    for b in (one, passes):
        b.reset(seed=seed)
        b.load_states(list(range(n)), states)
    gen = np.random.default_rng(seed)
    for k in range(steps):
        actions = torch.as_tensor(fuzz_actions(gen, n, a_bias=0.4))
        a, b = one.step(actions), passes.step(actions)
        assert all(torch.equal(a[0][key], b[0][key]) for key in a[0])
        assert all(torch.equal(x, y) for x, y in zip(a[1:4], b[1:4], strict=True))
        if k % 5 == 4 or k == steps - 1:
            assert one.documents() == passes.documents()


@pytest.mark.parametrize("share", [1.0, 0.0])
def test_battle_passes_trace_and_match_one_press(mini, share) -> None:
    """With battle passes, the step is three graphs that trace whole (``fullgraph=True``: no graph breaks
    inside them), and it gives what the one branch-free press gives: with a pass of the envs that need the
    rare rules every step (``full_pass_share`` 1.0), and with those rules over every env (0.0)."""
    passes = BatchedQuest(48, worlds=[mini], battle_pass=8)
    passes.full_pass_share = share
    _passes_match_one_press(mini, passes.compile(backend="eager", fullgraph=True, dynamic=False), seed=11, steps=30)


@pytest.mark.parametrize("battle_pass", [8, None])
def test_warm_up_compiles_every_graph_and_changes_nothing(mini, battle_pass) -> None:
    """``warm_up`` traces each graph of the compiled step (the battle pass too, which a run would otherwise
    compile at its first battle) and leaves the envs as they were: later steps compile nothing more and give
    what an engine that was not warmed up gives."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()  # graphs an earlier test compiled for engines of this shape would be reused
    n, states = 48, scenario_states(mini, 48, seed=13)
    warm = BatchedQuest(n, worlds=[mini], battle_pass=battle_pass).compile(backend="eager", fullgraph=True,
                                                                           dynamic=False)
    cold = BatchedQuest(n, worlds=[mini], battle_pass=battle_pass)
    for b in (warm, cold):
        b.reset(seed=13)
        b.load_states(list(range(n)), states)
    graphs = counters["stats"]["unique_graphs"]
    before = warm.documents()
    assert warm.warm_up() is warm
    # with passes: route, pass, rules over every env, episode ends and observation, less those the native kernels
    # do (outside any graph); without: the one step graph
    natives = (warm._native_route is not None) + (warm._native_finish is not None) + (warm._native is not None)
    assert counters["stats"]["unique_graphs"] - graphs == (5 - natives if battle_pass else 1)
    assert warm.documents() == before
    graphs = counters["stats"]["unique_graphs"]
    gen = np.random.default_rng(13)
    for _ in range(12):
        actions = torch.as_tensor(fuzz_actions(gen, n, a_bias=0.4))
        a, b = warm.step(actions), cold.step(actions)
        assert all(torch.equal(a[0][key], b[0][key]) for key in a[0])
        assert all(torch.equal(x, y) for x, y in zip(a[1:4], b[1:4], strict=True))
        assert all(torch.equal(a[4][key], b[4][key]) for key in a[4])
    assert warm.documents() == cold.documents()
    assert counters["stats"]["unique_graphs"] == graphs


@pytest.mark.slow
def test_inductor_battle_passes_match_eager_one_press(mini) -> None:
    """The inductor-compiled step with battle passes (a pass of a different size most steps: one dynamic-shape
    graph) against the eager step with one press over every env."""
    passes = BatchedQuest(64, worlds=[mini], battle_pass=8)
    passes.full_pass_share = 1.0  # always a pass
    _passes_match_one_press(mini, passes.compile(dynamic=False), seed=12, steps=40)


def test_levelling_and_learning_match_gain_exp() -> None:
    """Experience gains of every size (up to many levels at once) on creatures with full, partial and odd
    move sets: the level reached and the moves learned equal ``party.gain_exp``'s."""
    from longplay.envs.quest import party
    from longplay.envs.quest.batched.battle import _learn
    from longplay.envs.quest.batched.tables import ContentTables
    from longplay.envs.quest.content import MOVES, SPECIES

    c = ContentTables.build(torch.device("cpu"))
    gen = np.random.default_rng(0)
    mons, gains = [], []
    for _ in range(3000):
        sp = int(gen.integers(len(SPECIES)))
        level = int(gen.integers(1, 100))
        mon = party.make_mon(sp, level)
        if gen.random() < 0.5:  # any move set, duplicates of powers included
            mon.moves = [int(m) for m in gen.integers(-1, len(MOVES), 4)]
            mon.pp = [MOVES[m].pp if m >= 0 else 0 for m in mon.moves]
        mons.append(mon)
        gains.append(int(gen.integers(0, 6000)) if gen.random() < 0.5 else int(gen.integers(0, 300)))
    species = torch.tensor([m.species for m in mons], dtype=torch.int32)
    old = torch.tensor([m.level for m in mons], dtype=torch.int32)
    exp = torch.tensor([m.exp + g for m, g in zip(mons, gains, strict=True)], dtype=torch.int64)
    reached = torch.bucketize(exp, c.cubes, right=True).to(torch.int32).clamp(max=100)
    level = torch.maximum(old, reached)
    moves = torch.tensor([m.moves for m in mons], dtype=torch.int32)
    pp = torch.tensor([m.pp for m in mons], dtype=torch.int32)
    new_moves, new_pp = _learn(c, species, old, level, level > old, moves, pp)
    for i, (mon, gain) in enumerate(zip(mons, gains, strict=True)):
        party.gain_exp(mon, gain)
        assert int(level[i]) == mon.level
        assert new_moves[i].tolist() == mon.moves and new_pp[i].tolist() == mon.pp, i


def test_flag_count_counts_the_reference_flags(mini) -> None:
    """``flag_count`` (the device's ``event`` shaping term) equals the size of ``GameState.flags`` (story events
    and trainers beaten) at every piece of the oracle's games, trainers included."""
    from longplay.envs.quest.batched.parity import oracle_chunks
    from longplay.envs.quest.game import QuestGame

    states = [start for start, _ in oracle_chunks(mini, seeds=[1], steps=2000, chunk=50)]
    b = BatchedQuest(len(states), worlds=[mini])
    b.reset(seed=0)
    b.load_states(list(range(len(states))), states)
    game = QuestGame(size="mini", world_seed=0)
    flags = []
    for state in states:
        game._state = state
        flags.append(game.state().flags)
    assert b.flag_count().tolist() == [len(f) for f in flags]
    assert any(f.startswith("beat_trainer_") for f in flags[-1])  # the oracle beat trainers by then


def test_step_before_reset_is_refused(mini) -> None:
    """A step before ``reset`` stepped an all-zero state (no game: map 0 at 0,0, an empty party) without a
    word; it raises now, and states loaded into every env are a start too."""
    b = BatchedQuest(2, worlds=[mini])
    with pytest.raises(RuntimeError, match=r"BatchedQuest.step before reset\(\): call reset\(seed\) first"):
        b.step(torch.zeros(2, dtype=torch.int64))
    b.load_states([0], [ref_engine.new_state(mini, 3)])
    with pytest.raises(RuntimeError, match="before reset"):  # env 1 still has no game
        b.step(torch.zeros(2, dtype=torch.int64))
    b.load_states([1], [ref_engine.new_state(mini, 4)])
    b.step(torch.zeros(2, dtype=torch.int64))
    fresh = BatchedQuest(2, worlds=[mini])
    fresh.reset(seed=0)
    fresh.step(torch.zeros(2, dtype=torch.int64))


@pytest.mark.parametrize("env", [2, -3, True, 1.0, "1"], ids=["past the last", "below -num_envs", "bool", "float",
                                                           "str"])
@pytest.mark.parametrize("accessor", ["text", "frame", "state_of", "world_of_env"])
def test_per_env_accessors_name_a_bad_env_in_one_line(mini, accessor, env) -> None:
    """``text(2)`` of 2 envs failed in numpy ("index 2 is out of bounds for axis 0 with size 2"), ``text(True)``
    as "only 0-dimensional arrays can be converted to Python scalars", ``text(1.0)`` as numpy's list of valid
    indices; none named the env or the range. They take what ``load_states`` takes: an int in
    ``-num_envs..num_envs-1``."""
    b = BatchedQuest(2, worlds=[mini])
    b.reset(seed=0)
    with pytest.raises(IndexError, match=rf"{accessor}: no env {env!r}; envs are ints in 0\.\.1$"):
        getattr(b, accessor)(env)
    with pytest.raises(IndexError, match=rf"documents: no env {env!r}; envs are ints in 0\.\.1$"):
        b.documents([0, env])
    assert b.text(-1) == b.text(1) and b.world_of_env(np.int64(0)) is mini  # numpy ints, negative as Python's


def test_per_env_views_of_an_env_without_a_game_are_refused(mini) -> None:
    """Before ``reset``, ``text(0)`` and ``frame(0)`` drew the all-zero state (map 0 at 0,0, no party) as if it
    were a game, and a ``BatchedVectorEnv``'s ``render()`` gave those frames, where the reference env raises
    ``ResetNeeded``; an env with a loaded state has a game."""
    b = BatchedQuest(2, worlds=[mini])
    for accessor in ("text", "frame", "state_of"):
        with pytest.raises(RuntimeError, match=rf"BatchedQuest.{accessor}\(0\): env 0 has no game yet: call "
                                               r"reset\(seed\) first \(or load_states into it\)"):
            getattr(b, accessor)(0)
    b.load_states([1], [ref_engine.new_state(mini, 3)])
    assert b.text(1) and b.frame(1).shape == (144, 160, 3)
    with pytest.raises(RuntimeError, match="env 0 has no game yet"):
        b.text(0)
    b.reset(seed=0)
    assert b.text(0)


def test_step_before_reset_is_refused_when_compiled(mini, eager_compile) -> None:
    """The check is a host flag outside the compiled graphs: a compiled engine refuses too, then steps."""
    b = BatchedQuest(2, worlds=[mini]).compile()
    with pytest.raises(RuntimeError, match="before reset"):
        b.step(torch.zeros(2, dtype=torch.int64))
    b.reset(seed=0)
    b.step(torch.zeros(2, dtype=torch.int64))
    assert eager_compile
