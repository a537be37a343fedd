"""The training config (validation, docstrings), the toy stand-in's parity, and the policy network."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import torch
from gymnasium import spaces

from longplay.agents.rl.config import TrainConfig, field_docs, resolve_device
from longplay.agents.rl.networks import ActorCritic, ObsEncoder, describe_space, symlog
from longplay.agents.rl.toy import ToyBatched, ToyGame, make_toy_env


def test_every_field_has_a_docstring() -> None:
    docs = field_docs(TrainConfig)
    missing = [f.name for f in fields(TrainConfig) if not docs.get(f.name)]
    assert not missing


@pytest.mark.parametrize("change,message", [
    ({"learner": "dqn"}, "invalid learner"),
    ({"num_envs": 0}, "invalid num_envs"),
    ({"n_steps": 3, "num_envs": 1, "n_minibatches": 2}, "divisible"),
    ({"shaping": "nope"}, "unknown shaping preset"),
    ({"learner": "ppo-device", "vec_env": "subproc"}, "batched engine"),
    ({"run_name": "a/b"}, "invalid run_name"),
    # runs_dir/train/. is the folder of every run, runs_dir/train/.. the one above: config.json went there
    ({"run_name": "."}, "invalid run_name"),
    ({"run_name": ".."}, "invalid run_name"),
    ({"eval_every": -2}, "eval_every"),
    ({"archive_explore_steps": -1}, "archive_explore_steps"),
    ({"seed": -1}, "invalid seed"),  # gymnasium refuses negative reset seeds, in a worker process
    ({"seed": 2**32}, "invalid seed"),  # numpy's global seed (SB3's set_random_seed) refuses it, mid-start
    ({"keep_checkpoints": -1}, "invalid keep_checkpoints"),
    ({"obs_mode": "pixels", "downsample": 3}, "invalid downsample"),
    # these trained without a word: no update at all (clip 0, grad norm 0), or a loss turned around
    ({"clip_range": 0.0}, "invalid clip_range"),
    ({"clip_range": -0.2}, "invalid clip_range"),
    ({"max_grad_norm": 0.0}, "invalid max_grad_norm"),
    ({"max_grad_norm": -1.0}, "invalid max_grad_norm"),
    ({"vf_coef": -0.5}, "invalid vf_coef"),
    ({"target_kl": 0.0}, "invalid target_kl"),
    ({"target_kl": -1.0}, "invalid target_kl"),
    ({"learning_rate": float("inf")}, "invalid learning_rate"),
    ({"learning_rate": float("nan")}, "invalid learning_rate"),
    # a negative entropy weight trains the policy towards one button; NaN turns every loss into NaN
    ({"ent_coef": -0.01}, "invalid ent_coef"),
    ({"ent_coef": float("nan")}, "invalid ent_coef"),
    ({"ent_coef": float("inf")}, "invalid ent_coef"),
    ({"gamma": float("nan")}, "invalid gamma"),
    ({"gae_lambda": float("nan")}, "invalid gae_lambda"),
    ({"gae_lambda": 1.5}, "invalid gae_lambda"),
    ({"vf_coef": float("nan")}, "invalid vf_coef"),
    ({"clip_range": float("nan")}, "invalid clip_range"),
    ({"max_grad_norm": float("nan")}, "invalid max_grad_norm"),
    ({"target_kl": float("nan")}, "invalid target_kl"),
    ({"archive_starts": float("nan")}, "invalid archive_starts"),
    ({"archive_focus": float("nan")}, "invalid archive_focus"),
    # each limit's first refused value: an episode of 0 steps, a checkpoint every 0 steps, no discounting at all
    # (gamma 0), no learning (rate 0), an archive that holds nothing
    ({"max_episode_steps": 0}, "invalid max_episode_steps 0; must be >= 1 or none"),
    ({"checkpoint_every": 0}, "invalid checkpoint_every 0; must be >= 1"),
    ({"gamma": 0.0}, "invalid gamma 0.0; must be in"),
    ({"learning_rate": 0.0}, "invalid learning_rate 0.0; must be > 0"),
    ({"archive_capacity": 0}, "invalid archive_capacity 0; must be an int >= 1"),
])
def test_validation_is_one_line(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        TrainConfig(**change).validate()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shaping,learner", [
    ("none", "ppo"), ("", "ppo"), ("quest", "ppo-quest"), ("quest,novelty=0.02", "ppo-quest"),
    (" quest", "ppo-quest"), ("novelty=1", "ppo-novelty=1"),
    # the parser skips an empty part and takes "none" as no preset: the name said "ppo-" and "ppo-none"
    (",novelty=1", "ppo-novelty=1"), ("none,novelty=1", "ppo-novelty=1"),
    # a spec that pays nothing is no shaping, and a term weighted 0 is none of the run's: "none,novelty=0" was
    # named "ppo-novelty=0"
    ("none,novelty=0", "ppo"), ("novelty=0", "ppo"), ("novelty,novelty=0", "ppo"), ("novelty=1,scale=0", "ppo"),
    ("novelty_decay=10", "ppo"), ("map=0,novelty=1", "ppo-novelty=1"), ("novelty_decay=10,map=0.5", "ppo-map=0.5"),
    ("quest,novelty=0", "ppo-quest"),
])
def test_default_run_names_say_the_shaping(shaping: str, learner: str) -> None:
    config = TrainConfig(shaping=shaping).validate()
    assert config.default_run_name().split("__")[1] == learner


@pytest.mark.parametrize("shaping", ["", "none,novelty=0", "quest,scale=0"])
def test_sb3_on_the_batched_engine_takes_a_shaping_that_pays_nothing(shaping: str) -> None:
    """It wraps no env (as on the reference engine); only "none" itself was let through."""
    TrainConfig(vec_env="batched", shaping=shaping).validate()


@pytest.mark.parametrize(("learner", "total", "final"), [("ppo-device", 112, 96), ("ppo-device", 16, 32),
                                                          ("ppo-device", 96, 96), ("ppo", 112, 128), ("ppo", 16, 32)])
def test_final_step_is_the_total_in_whole_updates(learner: str, total: int, final: int) -> None:
    """ppo-device rounds down (at least one update), SB3 up: the step the CLI says a run trains to."""
    assert TrainConfig(learner=learner, total_steps=total, num_envs=2, n_steps=16).final_step == final


def test_round_trip_and_names() -> None:
    config = TrainConfig(seed=3, shaping="quest,novelty=0.02", env_kwargs={"world_seed": 2})
    assert TrainConfig.from_dict({**config.to_dict(), "from_a_newer_version": 1}) == config
    assert config.default_run_name().startswith("QuestMini-v0__ppo-quest__seed3__")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
def test_toy_engines_run_in_lockstep(obs_mode: str) -> None:
    env = make_toy_env(obs_mode=obs_mode, max_episode_steps=30)
    batched = ToyBatched(1, obs_mode=obs_mode, max_episode_steps=30)
    obs, _ = env.reset(seed=0)
    obs_b = batched.reset(seed=0)
    rng = np.random.default_rng(0)
    ends = 0
    for i in range(300 if obs_mode == "symbolic" else 100):
        action = int(rng.integers(0, 8)) if i % 3 else (3 if i % 2 else 1)
        obs, reward, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
            ends += 1
        obs_b, reward_b, terminated_b, truncated_b, _ = batched.step(torch.tensor([action]))
        got = {k: v[0].numpy() for k, v in obs_b.items()}
        expected = obs if isinstance(obs, dict) else {"pixels": obs}
        assert all(np.array_equal(expected[k], got[k]) for k in expected), i
        assert (reward, terminated, truncated) == (reward_b.item(), terminated_b.item(), truncated_b.item())
    assert ends >= 2


def test_describe_space_and_encoder() -> None:
    description = describe_space(ToyGame().symbolic_space())
    assert description["tiles"] == {"kind": "grid", "shape": [9, 10], "classes": 5}
    assert description["vector"]["kind"] == "vector"
    assert describe_space(spaces.Box(0, 255, (72, 80, 3), np.uint8)) == {
        "pixels": {"kind": "image", "shape": [72, 80, 3]}}
    with pytest.raises(ValueError, match="Box"):
        describe_space(spaces.Dict({"d": spaces.Discrete(3)}))
    net = ActorCritic(description, 8, features_dim=32)
    grid = torch.zeros(4, 9, 10, dtype=torch.uint8)
    obs = {"tiles": grid, "entities": grid,
           "vector": torch.full((4, 32), 1e6)}
    logits, value = net(obs)
    assert logits.shape == (4, 8) and value.shape == (4,) and torch.isfinite(logits).all()
    image = ObsEncoder({"pixels": {"kind": "image", "shape": [72, 80, 3]}}, 16)
    assert image({"pixels": torch.zeros(2, 72, 80, 3, dtype=torch.uint8)}).shape == (2, 16)
    assert symlog(torch.tensor([-(np.e - 1), 0.0, np.e - 1])).tolist() == pytest.approx([-1, 0, 1])


def test_grid_sum_gradient_is_embedding_bags() -> None:
    """``grid_sum``'s own backward (a one-hot product over the rows the batch uses) gives ``EmbeddingBag``'s
    gradient: the used rows' sums, and zero for every row no sample uses."""
    from longplay.agents.rl.networks import grid_sum

    gen = torch.Generator().manual_seed(0)
    cells, classes = 90, 16
    # a few ids per cell, as in play (most cells hold no entity): most rows go unused
    ids = (torch.randint(0, 3, (64, cells), generator=gen) * 5 + torch.arange(cells) * classes)
    bag = torch.nn.EmbeddingBag(cells * classes, 8, mode="sum")
    grad = torch.randn(64, 8, generator=gen)
    grid_sum(ids, bag).backward(grad)
    ours, bag.weight.grad = bag.weight.grad, None
    bag(ids).backward(grad)
    assert torch.allclose(ours, bag.weight.grad, atol=1e-5)
    unused = torch.ones(cells * classes, dtype=torch.bool)
    unused[ids.flatten()] = False
    assert unused.sum() == cells * (classes - 3) and (ours[unused] == 0).all()
