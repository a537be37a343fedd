"""The offline scripted model plays QuestMini end to end through the real loop with every scaffold."""

from __future__ import annotations

import gymnasium as gym
import pytest

import longplay.envs  # noqa: F401 - registers the envs
from longplay.agents.lm.config import BudgetConfig, LMConfig
from longplay.agents.lm.loop import ListLog, LMRun
from longplay.agents.lm.providers import OfflineProvider
from longplay.scaffolds import COMPONENTS, PRESETS, build_scaffold


@pytest.mark.parametrize("spec", [*PRESETS, *COMPONENTS])
def test_offline_model_reaches_the_first_milestones(spec: str) -> None:
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    config = LMConfig(budget=BudgetConfig(max_steps=700))
    log = ListLog()
    run = LMRun(env, OfflineProvider(config.provider), build_scaffold(spec), config, log=log)
    outcome = run.run()
    assert outcome.reason == "steps"
    assert {"left_house", "got_partner"} <= set(outcome.milestones), outcome.milestones
    assert run.counters.failed_turns == 0 and run.counters.tool_errors < run.counters.turns // 4
    for turn in log.turns:  # every scaffold tool the model was offered and used worked
        for call in turn["tool_calls"]:
            if call["name"] not in ("press_buttons", "navigate_to"):
                assert not call["is_error"], call


def test_offline_model_is_deterministic() -> None:
    def play() -> bytes:
        env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
        config = LMConfig(budget=BudgetConfig(max_turns=40))
        run = LMRun(env, OfflineProvider(config.provider), build_scaffold("full"), config)
        run.run()
        return bytes(run.driver.actions)

    assert play() == play()


def test_map_memory_snapshots_name_the_maps_entered() -> None:
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    config = LMConfig(budget=BudgetConfig(max_turns=12))
    log = ListLog()
    run = LMRun(env, OfflineProvider(config.provider), build_scaffold("map_memory"), config, log=log)
    assert "left_house" in run.run().milestones
    snapshots = [m["content"]["maps"] for m in log.memory if m["name"] == "map_memory"]
    assert len(snapshots[-1]) >= 2  # the house and the town
    for maps in snapshots:  # the turn that enters a map records its name, as the game shows it
        for map_id, entry in maps.items():
            assert entry["name"] == run.map_names[int(map_id)] and not entry["name"].startswith("map ")
