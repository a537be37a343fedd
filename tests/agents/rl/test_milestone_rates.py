"""Milestone rates over many episodes at once, and ``--select-episodes``: the best checkpoint by them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from longplay.agents.rl.config import TrainConfig
from longplay.agents.rl.milestone_rates import MilestoneRates, milestone_rates
from longplay.agents.rl.policy_agent import load_policy
from longplay.envs.quest.batched import BatchedQuest


def test_rates_of_the_shipped_policy_are_reproducible_and_leave_the_global_rng_alone() -> None:
    policy = load_policy(Path(__file__).parents[3] / "agents/rl/checkpoints/questmini_ppo.zip")
    rng = torch.get_rng_state()
    runs = [milestone_rates(policy, BatchedQuest(8, size="mini", max_episode_steps=None), steps=100, seed=7)
            for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(runs[0].first, runs[1].first)
    rates = runs[0]
    assert rates.episodes == 8 and rates.steps == 100
    assert rates.rate("left_house") == 1.0 and rates.rate("badge_1") == 0.0  # out of the house in 100 steps
    assert 1 <= rates.median_step("left_house") <= 100 and rates.median_step("badge_1") is None
    assert rates.mean == pytest.approx(sum(rates.rate(n) for n in rates.names))
    assert rates.finish == "badge_1" and rates.finished == 0.0
    assert int(rates.first.max()) <= 100
    other = milestone_rates(policy, BatchedQuest(8, size="mini", max_episode_steps=None), steps=100, seed=8)
    assert not torch.equal(other.first, rates.first)  # another seed, other episodes
    table = rates.table().splitlines()
    assert len(table) == 1 + len(rates.names) and "100.0%" in table[1]


def test_a_pixels_policy_is_refused_in_one_line() -> None:
    """``benchmarks/rl_policy_milestones.py --checkpoint`` with a pixels policy was a KeyError: 'pixels'
    traceback from the network (the batched engine here gives the symbolic view)."""
    from longplay.agents.rl.networks import ActorCritic
    from longplay.agents.rl.policy_agent import LoadedPolicy

    description = {"pixels": {"kind": "image", "shape": [72, 80, 3]}}
    policy = LoadedPolicy(ActorCritic(description, 8, 32), TrainConfig(obs_mode="pixels"), description)
    with pytest.raises(ValueError, match="milestone rates play symbolic policies; this one reads pixels"):
        milestone_rates(policy, BatchedQuest(2, size="mini", max_episode_steps=None), steps=8)


def _rates(whole: int, finished: float) -> MilestoneRates:
    """Ten episodes that all reach ``whole`` of the milestones a, b, c; a share ``finished`` of them also the
    finishing one."""
    first = torch.full((10, 4), -1)
    first[:, :whole] = 5
    first[: round(finished * 10), 3] = 9
    return MilestoneRates(["a", "b", "c", "end"], first, 100, finish="end")


def test_the_best_checkpoint_finishes_most_then_has_most_milestones_and_survives_a_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from longplay.agents.rl import ppo_device
    from longplay.agents.rl.ppo_device import BestCheckpoint

    assert _rates(1, 0.5).score == (0.5, 1.5) and _rates(3, 0.0).finished == 0.0
    played = iter([(2, 0.0), (1, 0.5), (3, 0.2), (1, 0.5), (0, 0.7), (3, 0.6)])
    monkeypatch.setattr(ppo_device, "milestone_rates", lambda *a, **k: _rates(*next(played)))
    config = TrainConfig(env_id="longplay/QuestMini-v0", learner="ppo-device", vec_env="batched",
                         select_episodes=2)
    saved: list[int] = []

    def score(selection: Any, step: int) -> dict[str, float]:
        return selection.score(None, step, lambda: saved.append(step))

    selection = BestCheckpoint(config, tmp_path)
    assert [score(selection, s)["charts/select/best_finished"] for s in (1, 2, 3)] == [0.0, 0.5, 0.5]
    assert saved == [1, 2]  # more finished beats more milestones (3.2 per episode at step 3)
    resumed = BestCheckpoint(config, tmp_path)  # a resume reads best.json
    assert resumed.best["step"] == 2
    scores = [score(resumed, s) for s in (4, 5, 6)]
    assert saved == [1, 2, 5]  # a tie does not replace the best
    assert [s["charts/select/milestones"] for s in scores] == pytest.approx([1.5, 0.7, 3.6])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "best.json").write_text('{"step": 5, "mean"')
    with pytest.raises(ValueError, match="cannot read .*best.json"):
        BestCheckpoint(config, tmp_path / "broken")
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["step"] == 5 and best["finish"] == "end" and best["finished"] == pytest.approx(0.7)
    assert best["milestones"]["a"]["rate"] == 0.0 and best["milestones"]["end"]["median_step"] == 9


def test_selection_keeps_best_pt_and_trains_exactly_as_without_it(tmp_path: Path) -> None:
    from longplay.agents.rl.ppo_device import train

    def run(name: str, select: int) -> Path:
        config = TrainConfig(env_id="longplay/QuestMini-v0", learner="ppo-device", vec_env="batched", num_envs=8,
                             n_steps=16, n_minibatches=2, n_epochs=1, total_steps=384, checkpoint_every=128,
                             eval_every=128, eval_episodes=1, eval_steps=24, record_eval=False, features_dim=32,
                             progress=False, torch_threads=1, runs_dir=str(tmp_path), run_name=name,
                             max_episode_steps=32, select_episodes=select, keep_checkpoints=1)
        return train(config).run_dir

    plain, selected = run("plain", 0), run("selected", 4)
    final = [torch.load(d / "checkpoints/step_000000000384.pt", weights_only=False)["model"] for d in (plain, selected)]
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])
    assert not (plain / "best.json").exists()
    best = json.loads((selected / "best.json").read_text())
    assert best["step"] in (128, 256, 384) and best["episodes"] == 4 and best["steps"] == 24
    # best.pt is the weights of that step (a full checkpoint: it loads as a policy), and not "latest"
    assert torch.load(selected / "checkpoints/best.pt", weights_only=False)["step"] == best["step"]
    assert load_policy(selected / "checkpoints/best.pt").step == best["step"]
    assert (selected / "checkpoints/latest.txt").read_text().strip() == "step_000000000384.pt"
    assert [p.name for p in (selected / "checkpoints").glob("step_*.pt")] == ["step_000000000384.pt"]


def test_selection_needs_the_device_learner_on_symbolic_quest() -> None:
    with pytest.raises(ValueError, match="select_episodes needs --learner ppo-device"):
        TrainConfig(learner="ppo", select_episodes=8).validate()
    with pytest.raises(ValueError, match="invalid select_episodes"):
        TrainConfig(learner="ppo-device", vec_env="batched", select_episodes=-1).validate()


@pytest.fixture()
def rl_policy_milestones(benchmark):
    """``benchmarks/rl_policy_milestones.py``, imported for the test only."""
    return benchmark("rl_policy_milestones")


def _saved_policy(tmp_path: Path, env_kwargs: dict[str, Any], n_actions: int = 8) -> Path:
    from longplay.agents.rl.networks import ActorCritic, describe_space
    from longplay.agents.rl.policy_agent import LoadedPolicy, save_policy
    from longplay.envs.quest.batched.vector import single_observation_space

    description = describe_space(single_observation_space("symbolic"))
    config = TrainConfig(env_id="longplay/QuestMini-v0", env_kwargs=env_kwargs, features_dim=32)
    return save_policy(tmp_path / "policy.zip", LoadedPolicy(ActorCritic(description, n_actions, 32), config,
                                                             description))


def test_the_benchmark_measures_a_policy_on_the_world_it_was_trained_on(
        rl_policy_milestones, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """``benchmarks/rl_policy_milestones.py`` played every policy on QuestMini's world 0: one trained with
    ``--set world_seed=3`` was measured, without a word, on a world it never saw; one trained with ``noop`` (9
    actions) stopped in an IndexError traceback. It now builds the engine as ``--select-episodes`` does."""
    import sys

    played: list[Any] = []
    monkeypatch.setattr(rl_policy_milestones, "milestone_rates",
                        lambda policy, engine, *args: played.append(engine) or _rates(1, 0.0))
    path = _saved_policy(tmp_path, {"world_seed": 3})
    monkeypatch.setattr(sys, "argv", ["rl_policy_milestones.py", "--checkpoint", str(path), "--episodes", "2"])
    rl_policy_milestones.main()
    assert [played[0].world_of_env(i).seed for i in range(2)] == [3, 3]
    assert played[0].max_episode_steps is None  # never truncated: the episodes run --steps steps
    path = _saved_policy(tmp_path, {"noop": True}, n_actions=9)
    monkeypatch.setattr(sys, "argv", ["rl_policy_milestones.py", "--checkpoint", str(path), "--episodes", "2"])
    with pytest.raises(SystemExit) as exit_info:
        rl_policy_milestones.main()
    assert exit_info.value.code == 2
    assert "does not take the env option 'noop'" in capsys.readouterr().err.splitlines()[-1]
