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


def _ask(policy, text: str) -> list[tuple[str, dict]]:
    from longplay.agents.lm.messages import Message, ModelRequest, Text

    reply = policy.reply(ModelRequest("You play a game.", [Message("user", [Text(text)])]))
    return [(call.name, call.arguments) for call in reply.tool_calls]


def test_offline_model_answers_each_mode_and_heads_for_the_nearest_edge() -> None:
    """Text box: A; battle: A four times; menu: B. Walking with nothing to talk to, it goes to the nearest tile at
    the edge of what it knows (one step west here), not the farthest (five steps east); an unused door comes after
    every edge, however near it is."""
    from longplay.agents.lm.offline import ExplorerPolicy

    def status(mode: str) -> str:
        return f"Status: {mode} | map 1 (Town) | x 1, y 1 | facing down"

    policy = ExplorerPolicy(seed=0)
    assert _ask(policy, status("dialog")) == [("press_buttons", {"buttons": ["a"]})]
    assert _ask(policy, status("battle")) == [("press_buttons", {"buttons": ["a"] * 4})]
    assert _ask(policy, status("menu")) == [("press_buttons", {"buttons": ["b"]})]
    view = "\n".join([status("overworld"), "Map (Town; x 0..6, y 0..2):", "     0123456", "",
                      "   0 #######", "   1 .@.....", "   2 #######", "Legend: . ground"])
    assert _ask(policy, view) == [("navigate_to", {"x": 0, "y": 1})]

    def town(x: int) -> str:  # a corridor open to the west, a door south of x 6
        row = "......." + "#"
        return "\n".join([f"Status: overworld | map 1 (Town) | x {x}, y 1 | facing down",
                          "Map (Town; x 0..7, y 0..3):", "     01234567", "", "   0 ########",
                          "   1 " + row[:x] + "@" + row[x + 1:], "   2 ######D#", "   3 ########", "Legend: . ground"])

    policy = ExplorerPolicy(seed=0)
    _ask(policy, town(6))  # now it knows the tile at x 6 too: from x 5, nothing around it is unknown
    assert _ask(policy, town(5)) == [("navigate_to", {"x": 0, "y": 1})]  # the edge five steps west, not the door


def test_offline_model_takes_a_map_memory_marker_for_no_one_to_talk_to() -> None:
    """Map memory draws the model's markers as digits over the tiles: the offline model reads them as unknown, not
    as people, so it never walks up to a marker to press A at it."""
    from longplay.agents.lm.offline import ExplorerPolicy

    text = "\n".join(["Status: overworld | map 1 (Town) | x 3, y 1 | facing down", "## Map memory",
                      "Town (x: 0..6)", "   0 #######", "   1 .1.@...", "   2 #######"])
    assert _ask(ExplorerPolicy(seed=0), text) == [("navigate_to", {"x": 2, "y": 1})]


def test_offline_model_restored_from_its_state_wanders_as_the_original_would() -> None:
    """Its checkpointed state holds its random generator: a resumed run presses what the uninterrupted one
    would, wandering included."""
    from longplay.agents.lm.offline import ExplorerPolicy

    original = ExplorerPolicy(seed=5)
    _ask(original, "no status line")
    restored = ExplorerPolicy(seed=0)
    restored.load_state_dict(original.state_dict())
    for _ in range(5):
        assert _ask(restored, "no status line") == _ask(original, "no status line")
