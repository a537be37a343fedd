"""The Gymnasium vector env and the Stable-Baselines3 VecEnv over the batched engine."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.envs.quest import engine as ref_engine
from longplay.envs.quest import savestate
from longplay.envs.quest.batched.vector import BatchedVectorEnv


def test_make_vec_uses_the_batched_engine() -> None:
    env = gym.make_vec("longplay/QuestMini-v0", num_envs=4, vectorization_mode="vector_entry_point")
    assert isinstance(env.unwrapped, BatchedVectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, info = env.reset(seed=5)
    assert env.observation_space.contains(obs)
    assert info["milestones"].shape == (4,)
    engine = env.unwrapped.engine
    for i in range(4):  # env i plays the reference episode of seed 5 + i
        ref = ref_engine.new_state(engine.world_of_env(i), 5 + i)
        assert savestate.state_hash(engine.state_of(i)) == savestate.state_hash(ref)
    env.close()


def test_spaces_steps_and_same_step_autoreset() -> None:
    env = BatchedVectorEnv(6, size="mini", max_episode_steps=5)
    assert env.single_action_space == gym.spaces.Discrete(8)
    obs, _ = env.reset(seed=0)
    first = {k: v.copy() for k, v in obs.items()}
    env.action_space.seed(0)
    for _ in range(5):
        actions = np.full(6, 3)
        obs, reward, terminated, truncated, info = env.step(actions)
        assert env.observation_space.contains(obs)
        assert reward.dtype == np.float32 and reward.shape == (6,)
        assert terminated.dtype == bool and truncated.dtype == bool
    assert truncated.all()
    assert info["_final_obs"].all() and info["final_info"]["_episode"].all()
    assert info["final_info"]["episode"]["l"].tolist() == [5] * 6
    assert env.single_observation_space.contains(info["final_obs"][0])
    for k in obs:  # the reset observation of the next episodes (seeds 6..11) differs from the first ones
        assert obs[k].shape == first[k].shape
    env.close()


def test_determinism_and_world_pool() -> None:
    def run(seed: int) -> list:
        env = BatchedVectorEnv(4, size="mini", world_seed=None, world_pool=2)
        env.reset(seed=seed)
        gen = np.random.default_rng(0)
        out = []
        for _ in range(30):
            obs, *_ = env.step(gen.integers(0, 8, 4))
            out.append(obs["vector"].copy())
        assert [env.engine.world_of_env(i).seed for i in range(4)] == [0, 1, 0, 1]
        return out

    a, b = run(3), run(3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_unsupported_options_fail_clearly() -> None:
    with pytest.raises(ValueError, match="grayscale"):
        BatchedVectorEnv(2, grayscale=True)
    env = BatchedVectorEnv(2)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(2, np.int64))


def test_sb3_step_before_reset_is_refused_as_the_gymnasium_adapter_does() -> None:
    """SB3's ``BatchedVecEnv`` stepped the engine's all-zero state before any ``reset``."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(2)
    with pytest.raises(gym.error.ResetNeeded, match=r"call reset\(\) before step\(\)"):
        env.step(np.zeros(2, np.int64))
    env.reset()
    env.step(np.zeros(2, np.int64))


def test_sb3_ppo_learns_from_the_batched_engine(tmp_path, monkeypatch) -> None:
    """(With a logger of its own: without one, SB3's ``learn`` makes an empty ``SB3-<date>`` folder in the temp
    folder at every call, and this test left one in /tmp at every run.)"""
    pytest.importorskip("stable_baselines3")
    import tempfile

    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env  # noqa: F401  (SB3 is importable)
    from stable_baselines3.common.logger import Logger

    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3's default logger would go
    env = BatchedVecEnv(8, size="mini", max_episode_steps=16)
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(256)
    assert not list(tmp_path.glob("SB3-*"))
    assert model.num_timesteps >= 256
    assert len(model.ep_info_buffer) > 0  # episodes ended (truncation at 16) and were counted
    obs = env.reset()
    actions, _ = model.predict(obs)
    obs, rewards, dones, infos = env.step(actions)
    assert rewards.shape == (8,) and len(infos) == 8


def test_adapters_compile_the_step_on_request(eager_compile) -> None:
    """``compile=True`` (``gym.make_vec`` keyword, SB3 ``BatchedVecEnv``) compiles the engine's step (on the
    eager backend here, which traces as inductor does but compiles in seconds); steps equal the plain ones."""
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    fast = gym.make_vec("longplay/QuestMini-v0", num_envs=4, vectorization_mode="vector_entry_point", compile=True)
    sb3 = BatchedVecEnv(4, size="mini", compile=True)
    # what compile() hands to torch.compile: the one step graph, or with battle passes (on CPU where the native
    # kernels do the route, the episode ends and the observation) the pass and the rare rules over every env
    compiled = [f.__name__ for f in eager_compile]
    passes = sb3.engine.battle_pass is not None
    assert sorted(compiled) == sorted(["_battle_pass", "_battle_all"] * 2 if passes else ["_step"] * 2)
    engine = BatchedVecEnv(4, size="mini").engine
    assert (engine._pass_fn == engine._battle_pass) if passes else (engine._step_fn == engine._step)  # not compiled
    plain = gym.make_vec("longplay/QuestMini-v0", num_envs=4, vectorization_mode="vector_entry_point")
    a, _ = plain.reset(seed=1)
    b, _ = fast.reset(seed=1)
    for k in range(15):
        actions = np.full(4, k % 8)
        a, ra, ta, ua, _ = plain.step(actions)
        b, rb, tb, ub, _ = fast.step(actions)
        assert all(np.array_equal(a[key], b[key]) for key in a)
        assert np.array_equal(ra, rb) and np.array_equal(ta, tb) and np.array_equal(ua, ub)
    sb3.reset()
    sb3.step(np.zeros(4, dtype=np.int64))


@pytest.mark.parametrize("noop", [False, True])
def test_out_of_range_actions_are_refused_as_in_the_reference_env(noop) -> None:
    """Actions outside the action space (8 without ``noop``, -1, 9) were silently played as no press at all;
    the reference env raises for them, and so do both adapters now."""
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    n = 9 if noop else 8
    env = BatchedVectorEnv(3, noop=noop)
    env.reset(seed=0)
    for bad in (n, -1):
        with pytest.raises(ValueError, match=f"invalid action {bad} for env 1; valid: 0..{n - 1}"):
            env.step(np.array([0, bad, 0]))
    env.step(np.array([0, n - 1, 0]))
    with pytest.raises(ValueError, match="must be integers"):  # 1.5 was played as 1
        env.step(np.array([0, 1.5, 0]))
    sb3 = BatchedVecEnv(3, noop=noop)
    sb3.reset()
    with pytest.raises(ValueError, match=f"invalid action {n}"):
        sb3.step_async(np.array([n, 0, 0]))
    sb3.step(np.array([n - 1, 0, 0]))


def test_reset_seed_lists_must_be_what_the_engine_plays() -> None:
    """``reset(seed=[10, 20, 30])`` silently played seeds 10, 11, 12 (the first entry as the base); a list is
    now taken only when it is the seeds the engine plays (``s, s + 1, ...``) or all ``None``."""
    env = BatchedVectorEnv(3)
    with pytest.raises(ValueError, match="seed \\+ i"):
        env.reset(seed=[10, 20, 30])
    with pytest.raises(ValueError, match="expected 3 seeds"):
        env.reset(seed=[10])
    env.reset(seed=[7, 8, 9])
    for i in range(3):
        ref = ref_engine.new_state(env.engine.world_of_env(i), 7 + i)
        assert savestate.state_hash(env.engine.state_of(i)) == savestate.state_hash(ref)
    env.reset(seed=[None, None, None])


def test_a_seed_list_past_the_engines_bound_is_refused_with_the_bound() -> None:
    """``[2**62 + 1, 2**62 + 2, 2**62 + 3]`` is what the engine would play, yet was refused with 'pass one int or
    the seeds [s, s + 1, s + 2]', as if it were not: the reason is the range, as for one int."""
    env = BatchedVectorEnv(3)
    start = 2**62 + 1
    with pytest.raises(ValueError, match=r"^invalid seed 4611686018427387905; use an int in 0\.\.2\*\*62 or None"):
        env.reset(seed=[start, start + 1, start + 2])


@pytest.mark.parametrize("seed", [1.5, True, "3", 2**62 + 1, [1.5, 2.5, 3.5]])
def test_bad_reset_seeds_are_refused_before_anything_changes(seed) -> None:
    """``int(seed)`` came first: ``reset(seed=1.5)``, ``True`` and ``"3"`` silently played seeds 1, 1 and 3
    (the reference env and the engine refuse them), and ``2**62 + 1`` reseeded the vector env's generator
    before the engine refused it."""
    env = BatchedVectorEnv(3)
    env.reset(seed=4)
    before = env.engine.documents(), env.np_random_seed, env.np_random.bit_generator.state
    with pytest.raises(ValueError, match="invalid seed|seed \\+ i"):
        env.reset(seed=seed)
    assert (env.engine.documents(), env.np_random_seed, env.np_random.bit_generator.state) == before


@pytest.mark.parametrize("seed", [1.5, -1, True])
def test_sb3_seed_refuses_what_reset_would(seed) -> None:
    """``seed(1.5)`` set the base seed 1 and answered ``[1.5, 2.5, ...]``; ``seed(-1)`` was taken and failed
    at the next ``reset()``, in SB3's ``learn`` far from the call."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(2, seed=3)
    with pytest.raises(ValueError, match="invalid seed"):
        env.seed(seed)
    env.reset()
    assert env.engine.base_seed[0] == 3
    assert env.seed(np.int64(7)) == [7, 8]


def test_sb3_a_second_reset_plays_episodes_no_auto_reset_has_played() -> None:
    """Each ``reset`` moved the base seed on by ``num_envs`` only, so after one auto-reset the next ``reset`` (a
    second ``learn``, say) replayed the very episodes the auto-resets had played (seeds 2 and 3 of 2 envs, again);
    it now starts after every episode played since the last one. ``seed()`` still sets the next base, and a bad
    ``seed`` is refused at construction, not at the first ``reset``."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.engine import BatchedQuest
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    def episode_seeds(engine: BatchedQuest) -> list[int]:
        return (engine.base_seed + engine.env_ids + engine.episode * engine.num_envs).tolist()

    env = BatchedVecEnv(2, seed=0, max_episode_steps=3)
    env.reset()
    played = set(episode_seeds(env.engine))
    for _ in range(7):  # two auto-resets: seeds 2, 3 then 4, 5
        env.step(np.zeros(2, np.int64))
        played |= set(episode_seeds(env.engine))
    env.reset()
    assert played == set(range(6)) and episode_seeds(env.engine) == [6, 7]
    env.reset()  # no step since: the next seeds along
    assert episode_seeds(env.engine) == [8, 9]
    env.seed(1)
    env.reset()
    assert episode_seeds(env.engine) == [1, 2]
    with pytest.raises(ValueError, match="invalid seed -1"):
        BatchedVecEnv(2, seed=-1)
    unseeded = BatchedVecEnv(2, seed=None)  # a base drawn at random (a second reset failed on None + 2)
    unseeded.reset()
    unseeded.reset()


def test_sb3_render_mode_rgb_array_renders_every_env() -> None:
    """``BatchedVecEnv`` had no ``render_mode`` (``get_attr`` answered ``None``), so ``render()`` returned
    nothing and SB3's ``VecVideoRecorder`` refused it."""
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(2, render_mode="rgb_array")
    env.reset()
    assert env.render_mode == "rgb_array" and env.get_attr("render_mode") == ["rgb_array"] * 2
    image = env.render()
    assert image is not None and image.ndim == 3 and image.shape[2] == 3
    assert BatchedVecEnv(2).render_mode is None
    with pytest.raises(ValueError, match="render_mode"):
        BatchedVecEnv(2, render_mode="human")


def test_empty_world_pool_is_named() -> None:
    with pytest.raises(ValueError, match="world_pool must be an int >= 1"):
        BatchedVectorEnv(2, world_seed=None, world_pool=0)


def test_sb3_env_method_calls_each_envs_accessor_with_its_index() -> None:
    """``env_method`` called the engine's method once per index with the same arguments (``env_method("text",
    indices=[0, 1])`` failed, ``env_method("text", 1, indices=[0, 1])`` gave env 1's view twice); it now calls
    the per-env accessors with each env's index, and refuses other names."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(3, seed=5)
    env.reset()
    engine = env.engine
    assert env.env_method("text", indices=[2, 0]) == [engine.text(2), engine.text(0)]
    assert env.env_method("text") == [engine.text(i) for i in range(3)]
    frames = env.env_method("frame", indices=[1], palette="sepia")
    assert len(frames) == 1 and np.array_equal(frames[0], engine.frame(1, palette="sepia"))
    assert np.array_equal(env.env_method("render", indices=1)[0], engine.frame(1))
    states = env.env_method("state_of", indices=[0, 1])
    assert [savestate.state_hash(s) for s in states] == [savestate.state_hash(engine.state_of(i)) for i in (0, 1)]
    with pytest.raises(AttributeError, match=r"env_method\('reset'\).*supported: text, frame"):
        env.env_method("reset")
    with pytest.raises(TypeError, match=r"calls engine.text\(i, ...\) with each env's index i first"):
        env.env_method("text", 1, indices=[0])  # the old way of naming the env


def test_sb3_get_attr_and_set_attr_per_env() -> None:
    """Per-env attributes come back as each env's entry (they were the whole [N] tensor for every index), and
    ``set_attr`` on some envs only (it set the engine-wide attribute for all of them) is refused."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(3, world_seeds=[4, 5])
    env.reset()
    for _ in range(3):
        env.step(np.zeros(3, np.int64))
    assert env.get_attr("episode_length", indices=[0, 2]) == [3, 3]
    assert env.get_attr("world_of") == [0, 1, 0]
    assert env.get_attr("milestones", indices=1) == [int(env.engine.milestones[1])]
    assert env.get_attr("obs_mode") == ["symbolic"] * 3
    assert not env.has_attr("no_such_attribute")
    env.set_attr("full_pass_share", 0.5)
    assert env.engine.full_pass_share == 0.5
    with pytest.raises(ValueError, match="engine-wide attribute, for all 3 envs at once"):
        env.set_attr("full_pass_share", 0.25, indices=[1])
    with pytest.raises(ValueError, match="per-env bookkeeping"):
        env.set_attr("episode_limit", 10)
    with pytest.raises(ValueError, match="fixed at construction"):
        env.set_attr("render_mode", "rgb_array")


def test_sb3_set_attr_refuses_what_it_cannot_change() -> None:
    """``set_attr("noop", True)`` was accepted and changed nothing (the action space stayed Discrete(8)), and a
    misspelt name made a new attribute: only the settings the engine reads as it runs are set."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(2, size="mini", max_episode_steps=50)
    env.reset()
    for name, value in (("noop", True), ("obs_mode", "pixels"), ("final_obs", False), ("num_envs", 4),
                        ("device", "cuda")):
        with pytest.raises(ValueError, match=rf"set_attr\('{name}'\): fixed at construction") as info:
            env.set_attr(name, value)
        assert "\n" not in str(info.value) and "settable: max_episode_steps, full_pass_share" in str(info.value)
    assert env.engine.noop is False and env.engine.final_obs is True
    with pytest.raises(AttributeError, match=r"set_attr\('max_episode_step'\): no such attribute"):
        env.set_attr("max_episode_step", 10)
    assert not hasattr(env.engine, "max_episode_step")
    for name, value in (("max_episode_steps", 0), ("max_episode_steps", "10"), ("full_pass_share", 2.0),
                        ("full_pass_share", float("nan"))):
        with pytest.raises(ValueError, match=f"invalid {name}"):
            env.set_attr(name, value)
    env.set_attr("max_episode_steps", 3)  # the next episodes are cut at 3 steps
    env.set_attr("max_episode_steps", None)
    env.set_attr("max_episode_steps", 3)
    env.reset()
    for _ in range(3):
        _, _, done, infos = env.step(np.zeros(2, np.int64))
    assert done.all() and all(i["TimeLimit.truncated"] for i in infos)


def test_a_closed_vector_env_says_so() -> None:
    env = BatchedVectorEnv(2, size="mini")
    env.reset(seed=0)
    env.close()
    for call in (lambda: env.step(np.zeros(2, np.int64)), lambda: env.reset(seed=0)):
        with pytest.raises(gym.error.ClosedEnvironmentError, match="closed"):
            call()


def test_rendering_before_reset_is_refused_as_the_reference_env_does() -> None:
    """``render()`` before ``reset`` drew every env's all-zero state (no game: map 0 at 0,0) as a frame, where the
    reference env (and a ``SyncVectorEnv`` of them) raises ``ResetNeeded``; so did SB3's ``render``."""
    env = gym.make_vec("longplay/QuestMini-v0", num_envs=2, vectorization_mode="vector_entry_point",
                       render_mode="rgb_array")
    with pytest.raises(gym.error.ResetNeeded, match=r"call reset\(\) before render\(\)"):
        env.render()
    env.reset(seed=0)
    assert len(env.render()) == 2
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    sb3 = BatchedVecEnv(2, render_mode="rgb_array")
    for call in (sb3.render, sb3.get_images):
        with pytest.raises(gym.error.ResetNeeded, match=r"call reset\(\) before render\(\)"):
            call()
    sb3.reset()
    assert sb3.render().ndim == 3 and len(sb3.get_images()) == 2


def test_render_mode_ansi_gives_every_envs_text_view_as_sync_vector_env_does() -> None:
    """The reference env renders ``ansi`` (its text view), and a ``SyncVectorEnv`` of them a tuple of texts;
    ``make_vec(..., render_mode="ansi")`` of the batched engine was refused ("valid: rgb_array")."""
    kwargs = {"id": "longplay/QuestMini-v0", "num_envs": 2, "render_mode": "ansi"}
    batched = gym.make_vec(**kwargs, vectorization_mode="vector_entry_point")
    reference = gym.make_vec(**kwargs, vectorization_mode="sync")
    assert "ansi" in batched.metadata["render_modes"]
    with pytest.raises(gym.error.ResetNeeded):
        batched.render()
    batched.reset(seed=3)
    reference.reset(seed=3)
    for step in range(4):
        texts = batched.render()
        assert isinstance(texts, tuple) and texts == reference.render(), step
        actions = np.array([step % 8, 7 - step % 8])
        batched.step(actions)
        reference.step(actions)


@pytest.mark.parametrize("flag", ["compile", "noop"])
def test_adapter_flags_must_be_bools(flag) -> None:
    """``BatchedVectorEnv(compile="no")`` compiled the step (a minute of inductor) and SB3's ``stagger="x"`` staggered
    the episodes: flags were read by their truth; the reference env refuses such values in one line."""
    with pytest.raises(ValueError, match=rf"^invalid {flag} 'no'; valid: True, False$"):
        BatchedVectorEnv(2, **{flag: "no"})
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    for name in ("stagger", flag):
        with pytest.raises(ValueError, match=rf"^invalid {name} 'no'; valid: True, False$"):
            BatchedVecEnv(2, **{name: "no"})


def test_an_autoreset_mode_other_than_same_step_is_refused_in_one_line() -> None:
    """``make_vec(..., autoreset_mode=AutoresetMode.NEXT_STEP)`` (what ``SyncVectorEnv`` takes) failed as
    "BatchedQuest.__init__() got an unexpected keyword argument 'autoreset_mode'"; the one mode it has passes."""
    kwargs = {"id": "longplay/QuestMini-v0", "num_envs": 2, "vectorization_mode": "vector_entry_point"}
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED, "next"):
        with pytest.raises(ValueError, match=r"^the batched engine autoresets in the same step "
                                             r"\(AutoresetMode.SAME_STEP\) only, got "):
            gym.make_vec(**kwargs, autoreset_mode=mode)
    env = gym.make_vec(**kwargs, autoreset_mode=AutoresetMode.SAME_STEP)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP


def test_every_top_level_info_key_has_its_mask_as_in_sync_vector_env() -> None:
    """Gymnasium's vector envs give each info key a ``_key`` mask of the envs it holds for (``SyncVectorEnv`` of
    reference envs: ``milestones`` and ``_milestones``); the top-level ``milestones`` had none, so code reading
    each key through its mask failed with a KeyError on ``_milestones``."""
    env = gym.make_vec("longplay/QuestMini-v0", num_envs=2, vectorization_mode="vector_entry_point",
                       max_episode_steps=2)
    _, info = env.reset(seed=0)
    infos = [info] + [env.step(np.zeros(2, np.int64))[-1] for _ in range(2)]
    assert "final_info" in infos[-1]
    for info in infos:
        for key in [k for k in info if not k.startswith("_")]:
            assert info[f"_{key}"].dtype == bool and info[f"_{key}"].shape == (2,), key
        assert info["_milestones"].all()


def test_a_closed_sb3_env_says_so() -> None:
    """SB3's ``BatchedVecEnv.close`` did nothing: a closed env went on stepping and resetting, where the Gymnasium
    adapter raises ``ClosedEnvironmentError``. Closing twice is fine (SB3 closes on exit too)."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(2)
    env.reset()
    env.close()
    env.close()
    for call in (env.reset, lambda: env.step(np.zeros(2, np.int64)), lambda: env.env_method("text"),
                 lambda: env.get_attr("milestones"), lambda: env.set_attr("max_episode_steps", 5), env.get_images):
        with pytest.raises(gym.error.ClosedEnvironmentError, match=r"this BatchedVecEnv is closed"):
            call()


def test_sb3_actions_of_another_shape_are_refused() -> None:
    """``step_async`` flattened any array of ``num_envs`` actions, so a [2, 2] array (two steps of two envs, say)
    stepped 4 envs without a word; it takes [N] and SB3's [N, 1] only."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(4)
    env.reset()
    with pytest.raises(ValueError, match=r"expected 4 actions, got shape \(2, 2\)"):
        env.step(np.zeros((2, 2), np.int64))
    env.step(np.zeros((4, 1), np.int64))
    env.step(np.zeros(4, np.int64))


@pytest.mark.parametrize("kwargs,name", [({"num_envs": 2.5}, "num_envs"), ({"num_envs": 2, "world_pool": 1.5},
                                                                          "world_pool"),
                                         ({"num_envs": 2, "world_pool": 0}, "world_pool")])
def test_bad_sizes_are_refused_in_one_line(kwargs, name) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be an int >= 1, got "):
        BatchedVectorEnv(size="mini", world_seed=None, **kwargs)


def test_reset_options_the_engine_cannot_honour_are_refused() -> None:
    """``reset(options={"state": ...})`` (the reference env's start state) and SB3's ``set_options`` were
    silently ignored: every env played a fresh episode of its seed, not the state asked for."""
    env = BatchedVectorEnv(2, size="mini")
    env.reset(seed=4)
    before = env.engine.documents(), env.np_random.bit_generator.state
    for options in ({"state": b"x"}, {"reset_mask": np.ones(2, bool)}):
        with pytest.raises(ValueError, match="takes no reset options"):
            env.reset(seed=9, options=options)
    assert (env.engine.documents(), env.np_random.bit_generator.state) == before
    env.reset(seed=9, options={})  # nothing asked: as None
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    sb3 = BatchedVecEnv(2, size="mini")
    for options in ({"state": b"x"}, [{}, {"state": b"x"}]):
        with pytest.raises(ValueError, match="takes no reset options"):
            sb3.set_options(options)
    sb3.set_options(None)
    sb3.set_options({})
    sb3.set_options([{}, {}])
    sb3.reset()


def _oracle_presses_to_its_first_milestone() -> list[int]:
    """The oracle's presses on QuestMini seed 0 up to the step that reaches its first milestone."""
    from longplay.agents.base import make_agent

    ref = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    agent = make_agent("oracle")
    obs, info = ref.reset(seed=0)
    agent.reset(ref, obs, info, 0)
    presses = []
    while not info["milestones"]:
        presses.append(agent.act(obs, info))
        obs, _, _, _, info = ref.step(presses[-1])
    ref.close()
    return presses


def _last_info_of_truncated_episodes(vec: gym.vector.VectorEnv, presses: list[int]) -> dict[str, Any]:
    """The info of the last of ``presses`` (both envs press each) from seed 0 (env i plays seed i), on which both
    envs' episodes are truncated."""
    vec.reset(seed=0)
    for press in presses:
        _, _, _, truncated, info = vec.step(np.array([press, press]))
    assert truncated.all()
    return info


def test_final_info_holds_the_ending_envs_info_as_gymnasiums_same_step_vector_envs_do() -> None:
    """``info["final_info"]`` was ``{}`` (with ``_final_info`` set), so ``final_info["milestones"]`` or
    ``final_info["episode"]``, which Gymnasium's SyncVectorEnv in SAME_STEP mode fills from the ending envs' last
    info, raised KeyError. Compared with SyncVectorEnv over the reference env (with RecordEpisodeStatistics) on
    the same presses: the oracle's until its first milestone, so one episode ends holding it."""
    presses = _oracle_presses_to_its_first_milestone()
    steps = len(presses)

    def make() -> gym.Env:
        return gym.wrappers.RecordEpisodeStatistics(gym.make("longplay/QuestMini-v0", obs_mode="symbolic",
                                                             max_episode_steps=steps))

    sync = gym.vector.SyncVectorEnv([make, make], autoreset_mode=AutoresetMode.SAME_STEP)
    batched = BatchedVectorEnv(2, size="mini", max_episode_steps=steps)
    infos = [_last_info_of_truncated_episodes(vec, presses) for vec in (sync, batched)]
    want, got = infos[0]["final_info"], infos[1]["final_info"]
    assert got["_milestones"].tolist() == want["_milestones"].tolist() == infos[1]["_final_info"].tolist()
    reached = [sum(bool(want["milestones"]["_" + name][i]) for name in want["milestones"] if name[0] != "_")
               for i in range(2)]
    assert got["milestones"].tolist() == reached and reached[0] == 1
    # which ones, laid out per id as SyncVectorEnv lays out the reference's id -> step (the engine keeps no step)
    assert got["_milestones_reached"].tolist() == want["_milestones"].tolist()
    assert sorted(got["milestones_reached"]) == sorted(want["milestones"]) == ["_left_house", "left_house"]
    for name in want["milestones"]:
        assert got["milestones_reached"][name].tolist() == want["milestones"]["_" + name.lstrip("_")].tolist()
    assert sorted(got["episode"]) == sorted(want["episode"]) and got["_episode"].tolist() == want["_episode"].tolist()
    for key in ("r", "l", "_r", "_l", "_t"):
        assert got["episode"][key].tolist() == want["episode"][key].tolist(), key
    assert got["episode_length"].tolist() == [steps, steps] and got["episode_return"].tolist() == reached
    assert got["_episode_length"].all() and got["_episode_return"].all()
    sync.close()
    batched.close()


def test_final_info_times_each_episode_from_its_reset_as_record_episode_statistics_does(monkeypatch) -> None:
    """``final_info["episode"]["t"]`` was 0.0 always, where a SyncVectorEnv of reference envs under
    ``RecordEpisodeStatistics`` gives each episode's wall-clock seconds: from its reset (an autoreset's step for
    the episodes after the first) to its last step. Timed here by a clock the test moves."""
    import longplay.envs.quest.batched.vector as vector

    clock = [100.0]
    monkeypatch.setattr(vector.time, "perf_counter", lambda: clock[0])
    env = BatchedVectorEnv(2, size="mini", max_episode_steps=4)
    env.reset(seed=0)
    for episode in range(2):
        for step in range(4):
            clock[0] += 0.5 if step else 0.25 + episode  # an episode's first step comes 0.25 s (then 1.25 s) later
            _, _, _, truncated, info = env.step(np.array([0, 1]))
        assert truncated.all()
        final = info["final_info"]["episode"]
        assert final["t"].tolist() == [1.75 + episode] * 2 and final["_t"].all(), episode
    env.close()


def test_the_top_level_milestones_of_an_env_that_just_ended_are_its_new_episodes() -> None:
    """The top level held the ended episode's count, which ``final_info`` holds: Gymnasium's SAME_STEP vector
    envs put the new episode's reset info at the top level, and the docstring said "count now" (the count the
    observation's vector carries, the one the next step's reward is measured from)."""
    presses = _oracle_presses_to_its_first_milestone()
    env = BatchedVectorEnv(2, size="mini", max_episode_steps=len(presses))
    _, info = env.reset(seed=0)
    for press in presses[:-1]:
        _, _, _, _, info = env.step(np.array([press, press]))
    before = info["milestones"].tolist()
    _, _, _, truncated, info = env.step(np.array([presses[-1], presses[-1]]))
    assert truncated.all() and before[0] == 0
    assert info["final_info"]["milestones"][0] == 1  # the ended episode's count
    fresh = BatchedVectorEnv(2, size="mini").reset(seed=2)[1]["milestones"]  # env i's next episode plays seed i + 2
    assert info["milestones"].tolist() == fresh.tolist() == env.unwrapped.engine.milestones.tolist()
    env.close()


def test_gymnasiums_record_episode_statistics_wraps_it_as_it_wraps_sync_vector_env() -> None:
    """``gymnasium.wrappers.vector.RecordEpisodeStatistics`` (CleanRL's first wrapper) raised ValueError on the
    first episode end: the adapter wrote a top-level ``info["episode"]`` itself, which Gymnasium's vector envs never
    do and the wrapper refuses to overwrite. Over the same presses (the oracle's, so one env's episode holds a
    milestone) it must record what it records over a SyncVectorEnv of reference envs, then keep agreeing with the
    adapter's own ``final_info`` episode figures over later episodes."""
    from gymnasium.wrappers.vector import RecordEpisodeStatistics

    presses = _oracle_presses_to_its_first_milestone()
    steps = len(presses)

    def make() -> gym.Env:
        return gym.make("longplay/QuestMini-v0", obs_mode="symbolic", max_episode_steps=steps)

    sync = RecordEpisodeStatistics(gym.vector.SyncVectorEnv([make, make], autoreset_mode=AutoresetMode.SAME_STEP))
    batched = RecordEpisodeStatistics(BatchedVectorEnv(2, size="mini", max_episode_steps=steps))
    infos = [_last_info_of_truncated_episodes(vec, presses) for vec in (sync, batched)]
    want, got = infos
    assert got["_episode"].tolist() == want["_episode"].tolist() == [True, True]
    for key in ("r", "l"):
        assert got["episode"][key].tolist() == want["episode"][key].tolist(), key
    assert got["episode"]["r"][0] == 1.0 and list(batched.return_queue) == list(sync.return_queue)
    assert list(batched.length_queue) == list(sync.length_queue) == [steps, steps]
    ends = 0
    for press in np.random.default_rng(0).integers(0, 8, (2 * steps, 2)):
        _, _, _, _, info = batched.step(press)
        if "episode" in info:
            ends += 1
            own = info["final_info"]["episode"]
            assert info["_episode"].tolist() == own["_r"].tolist()
            assert info["episode"]["r"].tolist() == own["r"].tolist()
            assert info["episode"]["l"].tolist() == own["l"].tolist()
    assert ends == 2 and batched.episode_count == 6
    sync.close()
    batched.close()


def test_sb3_names_the_milestones_each_ended_episode_reached_its_last_step_included() -> None:
    """The SB3 adapter gave a done env its milestone count only, so ``longplay train --vec-env batched`` logged no
    ``charts/milestone_rate/<id>``, which the same run over reference envs (whose info names them) logs. The
    presses are the oracle's until its first milestone, with episodes cut on that step: a milestone of an
    episode's last step is named too, though the reset has cleared it from the state."""
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    presses = _oracle_presses_to_its_first_milestone()
    sb3 = BatchedVecEnv(2, size="mini", max_episode_steps=len(presses))
    sb3.reset()  # env i plays seed i
    for press in presses:
        _, _, done, infos = sb3.step(np.array([press, press]))
    assert done.all()
    for i, info in enumerate(infos):
        ref = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
        ref.reset(seed=i)
        for press in presses:
            _, _, _, _, ref_info = ref.step(press)
        assert info["milestones_reached"] == list(ref_info["milestones"]), i
        assert info["milestones"] == len(info["milestones_reached"])
        ref.close()
    assert infos[0]["milestones_reached"] == ["left_house"]
    _, _, done, infos = sb3.step(np.array([0, 0]))
    assert not done.any() and all("milestones_reached" not in info for info in infos)


def test_final_info_names_each_worlds_milestones_under_their_ids(oracle_state) -> None:
    """A world pool: each env's ``milestones_reached`` columns are its own world's catalog (the third milestone
    of QuestMini worlds 0 and 1 is a road of a different name), and an id both worlds have is one entry. Env i
    holds the oracle's first three milestones of world i and is cut on the next step."""
    reached = [oracle_state(milestones=3, world_seed=i) for i in (0, 1)]
    env = BatchedVectorEnv(2, size="mini", world_seeds=[0, 1], max_episode_steps=1)
    env.reset(seed=0)
    engine = env.engine
    engine.load_states([0, 1], [savestate.load(data, engine.worlds[i]) for i, (data, _) in enumerate(reached)])
    _, _, _, truncated, info = env.step(np.array([0, 0]))  # (up reaches no fourth milestone: counts [3, 3])
    assert truncated.all()
    got = info["final_info"]["milestones_reached"]
    want = {name for _, milestones in reached for name in milestones}
    assert len(want) == 4 and set(got) == want | {"_" + name for name in want}
    for name in want:
        assert got[name].tolist() == [name in milestones for _, milestones in reached], name
        assert got["_" + name].tolist() == got[name].tolist()
    assert info["final_info"]["milestones"].tolist() == [3, 3]
    env.close()


def test_final_info_is_zero_for_the_envs_that_did_not_end() -> None:
    # SyncVectorEnv's layout: a key's values count only where its mask is set, and are 0 elsewhere, so a sum over
    # final_info["episode"]["r"] (as a logger may take it) holds the ending episodes alone
    import torch

    env = BatchedVectorEnv(4, size="mini", max_episode_steps=30)
    env.reset(seed=0)
    env.engine.stagger_episode_ends(30, torch.Generator().manual_seed(1))
    for _ in range(30):
        *_, info = env.step(np.full(4, 3))  # right: the first milestone for some
        if "final_info" in info and not info["_final_info"].all():
            break
    done, final = info["_final_info"], info["final_info"]
    assert done.any() and not done.all()
    assert (env.engine.episode_length.cpu().numpy()[~done] > 0).all()  # the others are under way, not empty
    for values in (final["episode_length"], final["episode_return"], final["milestones"], final["episode"]["l"],
                   final["episode"]["r"]):
        assert (values[~done] == 0).all()
    assert (final["episode_length"][done] > 0).all()
    env.close()


def test_an_unseeded_reset_draws_a_new_seed_from_the_seeded_generator() -> None:
    def bases(env: BatchedVectorEnv) -> list[int]:
        env.reset(seed=5)
        drawn = []
        for _ in range(2):
            env.reset()
            drawn.append(int(env.engine.base_seed[0]))
        env.close()
        return drawn

    first = bases(BatchedVectorEnv(2, size="mini"))
    assert first[0] != first[1]  # a new episode each time, not seed 0 again
    assert bases(BatchedVectorEnv(2, size="mini")) == first  # drawn from the seeded generator: reproducible


def test_sb3_infos_of_a_finished_game_say_it_was_not_cut(oracle_state) -> None:
    # SB3 bootstraps the value of an episode whose info says TimeLimit.truncated: a game played to its end must say
    # False there, and its episode length counts the presses since the state was loaded
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    data, milestones = oracle_state(milestones=7)  # every QuestMini milestone: a few presses of A from the end
    env = BatchedVecEnv(2, size="mini", max_episode_steps=50)
    env.reset()
    env.engine.load_states([0], [savestate.load(data, env.engine.worlds[0])])
    presses = 0
    while presses < 20:
        _, _, done, infos = env.step(np.array([4, 0]))
        presses += 1
        if done[0]:
            break
    assert done.tolist() == [True, False] and "episode" not in infos[1]
    assert infos[0]["TimeLimit.truncated"] is False and infos[0]["episode"]["l"] == presses
    assert infos[0]["milestones"] == len(milestones) == 7
    env.close()


def test_sb3_stagger_draws_from_the_reset_seed() -> None:
    # runs of different seeds spread their first episodes differently; a run of the same seed the same way
    pytest.importorskip("stable_baselines3")
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    def limits(seed: int) -> list[int]:
        env = BatchedVecEnv(8, seed=seed, stagger=True, size="mini", max_episode_steps=1000)
        env.reset()
        drawn = env.engine.episode_limit.tolist()
        env.close()
        return drawn

    assert limits(3) == limits(3) != limits(4)
