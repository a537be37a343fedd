"""Archive starts (``agents/rl/archive.py``): states reached after a milestone start later episodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch

pytest.importorskip("longplay.envs.quest.batched")

from longplay.agents.oracle import OracleAgent  # noqa: E402
from longplay.agents.rl.archive import StartArchive  # noqa: E402
from longplay.envs.quest.batched import BatchedQuest  # noqa: E402


def presses_to_leave_the_house(world_seed: int, milestone: str = "left_house", episode_seed: int = 0) -> list[int]:
    """The oracle's presses on QuestMini (world ``world_seed``, episode ``episode_seed``) up to leaving the house
    (or up to another ``milestone``)."""
    import longplay.envs  # noqa: F401

    env = gym.make("longplay/QuestMini-v0", world_seed=world_seed, max_episode_steps=None)
    agent = OracleAgent()
    obs, info = env.reset(seed=episode_seed)
    agent.reset(env, obs, info, episode_seed)
    presses = []
    while milestone not in info["milestones"]:
        presses.append(agent.act(obs, info))
        obs, _, _, _, info = env.step(presses[-1])
        assert len(presses) < 400
    return presses


def walked_archive(num_envs: int, milestone: str = "got_partner", **archive: Any
                   ) -> tuple[BatchedQuest, StartArchive]:
    """``num_envs`` envs of world 0 all pressing the oracle's way to ``milestone``, recorded by an archive
    (``StartArchive(engine, **archive)``)."""
    engine = BatchedQuest(num_envs, size="mini", max_episode_steps=None)
    engine.reset(seed=0)
    recorder = StartArchive(engine, **archive)
    for button in presses_to_leave_the_house(0, milestone):
        _, reward, terminated, truncated, _ = engine.step(torch.full((num_envs,), button))
        recorder.record(reward, terminated | truncated)
    return engine, recorder


@pytest.fixture(scope="module")
def played() -> tuple[BatchedQuest, StartArchive, list[int]]:
    """A world pool of two (envs 0 and 2 play world 0, 1 and 3 world 1) after world 0's way out."""
    torch.set_num_threads(1)
    engine = BatchedQuest(4, size="mini", world_seeds=[0, 1], max_episode_steps=None)
    engine.reset(seed=0)
    archive = StartArchive(engine, fraction=1.0, capacity=2, seed=0)
    rewarded: set[int] = set()
    for button in presses_to_leave_the_house(0):
        _, reward, terminated, truncated, _ = engine.step(torch.full((4,), button))
        archive.record(reward, terminated | truncated)
        rewarded |= set(torch.nonzero(reward > 0).flatten().tolist())
    return engine, archive, sorted(rewarded)


def test_the_archive_keeps_the_states_right_after_a_milestone(played: tuple) -> None:
    engine, archive, rewarded = played
    assert 0 in rewarded  # the oracle's presses lead env 0 out of its house
    world0 = [env for env in rewarded if engine.world_of[env] == 0]
    assert archive.states[(0, 1)] and len(archive.states[(0, 1)]) <= archive.capacity
    assert archive.offered[(0, 1)] == len(world0)
    assert engine.worlds[0].events[0].id == "left_house"
    assert all(state.has_event(0) for state in archive.states[(0, 1)])
    assert archive.summary()["charts/archive/states_stage1"] == sum(len(v) for v in archive.states.values())


def test_finished_envs_start_from_states_of_their_own_world(played: tuple) -> None:
    engine, archive, rewarded = played
    worlds_with_states = {w for w, _ in archive.states}
    before = engine.documents()
    loaded = archive.restart(torch.ones(4, dtype=torch.bool))
    assert loaded == [env for env in range(4) if engine.world_of[env] in worlds_with_states]
    after = engine.documents()
    obs = engine.observe()
    for env in loaded:
        assert int(engine.milestones[env]) == 1 and int(engine.episode_length[env]) == 0
        source = [s for s in archive.states[(int(engine.world_of[env]), 1)]
                  if (s.map, s.x, s.y) == (after[env]["map"], after[env]["x"], after[env]["y"])]
        assert source, "the env stands where an archived state stood"
        assert after[env]["key"] != source[0].key  # a fresh random stream for each start
        assert int(obs["vector"][env, 0 + 2]) == after[env]["map"]  # the observation follows the new state
    for env in set(range(4)) - set(loaded):
        assert after[env] == before[env]
    # a start is counted against its stage, so the next draw prefers stages tried less
    assert archive.taken[(0, 1)] == len(loaded)


def test_no_restart_without_states_or_with_fraction_zero() -> None:
    engine = BatchedQuest(2, size="mini")
    engine.reset(seed=0)
    assert StartArchive(engine, fraction=1.0).restart(torch.ones(2, dtype=torch.bool)) == []
    with pytest.raises(ValueError, match="archive_starts"):
        StartArchive(engine, fraction=1.5)
    with pytest.raises(ValueError, match="quest batched engine"):
        StartArchive(object(), fraction=0.5)


def test_level_cells_keep_the_state_where_the_lead_first_reached_each_level() -> None:
    """``cell="level"``: the partner's arrival (level 5) is archived as a (milestones, level 5) cell, and an
    archived start plays ``episode_steps`` steps before it is truncated."""
    engine = BatchedQuest(2, size="mini", max_episode_steps=None)
    engine.reset(seed=0)
    archive = StartArchive(engine, fraction=1.0, capacity=4, seed=0, cell="level", episode_steps=7)
    for button in presses_to_leave_the_house(0, "got_partner"):
        _, reward, terminated, truncated, _ = engine.step(torch.full((2,), button))
        archive.record(reward, terminated | truncated)
    stage = int(engine.milestones[0])
    assert set(archive.states) == {(0, stage, 5)} and archive.offered[(0, stage, 5)] == 2
    assert all(state.party[0].level == 5 for state in archive.states[(0, stage, 5)])
    _, reward, terminated, truncated, _ = engine.step(torch.zeros(2, dtype=torch.long))
    archive.record(reward, terminated | truncated)
    assert archive.offered[(0, stage, 5)] == 2  # the same level again is not a new cell
    assert archive.restart(torch.tensor([True, False])) == [0]
    assert int(engine.lead_level()[0]) == 5 and int(engine.episode_limit[0]) == 7
    for step in range(7):
        _, _, terminated, truncated, _ = engine.step(torch.zeros(2, dtype=torch.long))
        assert bool(truncated[0]) == (step == 6) and not bool(truncated[1])
    with pytest.raises(ValueError, match="archive_cell"):
        StartArchive(engine, fraction=0.5, cell="map")


def test_flag_cells_also_keep_the_state_where_a_new_event_flag_was_set() -> None:
    """``cell="flags"``: leaving the house sets a flag at no level (a cell of its own, which ``level`` does not
    offer), and the partner's arrival a second flag at level 5; cells are (world, milestones, flags, level)."""
    engine, archive = walked_archive(2, fraction=1.0, capacity=4, seed=0, cell="flags")
    assert archive.offered == {(0, 1, 1, 0): 2, (0, 2, 2, 5): 2}
    assert all(not state.party for state in archive.states[(0, 1, 1, 0)])
    assert all(state.party[0].level == 5 for state in archive.states[(0, 2, 2, 5)])
    assert archive.restart(torch.tensor([True, False])) == [0]
    assert int(archive.best_flags[0]) == int(engine.flag_count()[0])  # a start's own flags are not new ones
    _, reward, terminated, truncated, _ = engine.step(torch.zeros(2, dtype=torch.long))
    archive.record(reward, terminated | truncated)
    assert sum(archive.offered.values()) == 4


@pytest.mark.parametrize(("cell", "tiles"), [("position", 4), ("position_level", 4), ("position", 2)])
def test_position_cells_keep_where_an_env_first_stood_in_each_square(cell: str, tiles: int) -> None:
    """``cell="position"``: each 4x4-tile square an env walks into is a cell (world, milestones, map, x // 4,
    y // 4), offered once per episode, at most ``POSITION_CAPACITY`` states each, and a start from a cell puts
    the env there; ``position_level`` adds the lead's level // 4 to the cell (the partner's level 5 makes the
    lab's squares cells of bucket 1 once taken); ``cell_tiles`` sets the square's side."""
    from longplay.agents.rl.archive import POSITION_CAPACITY, POSITION_LEVELS

    def cell_of(env: int) -> tuple[int, ...]:
        s = engine.state
        key = (0, int(engine.milestones[env]), int(s.map[env]), int(s.x[env]) // tiles, int(s.y[env]) // tiles)
        return key + ((int(engine.lead_level()[env]) // POSITION_LEVELS,) if cell == "position_level" else ())

    engine = BatchedQuest(2, size="mini", max_episode_steps=None)
    engine.reset(seed=0)
    archive = StartArchive(engine, fraction=1.0, capacity=64, seed=0, cell=cell, cell_tiles=tiles)
    squares: set[tuple[int, ...]] = set()
    for button in presses_to_leave_the_house(0, "got_partner"):
        _, reward, terminated, truncated, _ = engine.step(torch.full((2,), button))
        archive.record(reward, terminated | truncated)
        squares.add(cell_of(0))
    assert set(archive.states) == squares and len(squares) > 3
    if cell == "position_level":
        assert {key[-1] for key in squares} == {0, 1}  # before and after the partner (level 5)
    assert all(count == 2 for count in archive.offered.values())  # both envs, once per episode each
    assert all(len(kept) <= POSITION_CAPACITY for kept in archive.states.values())
    for (_, _, place, cx, cy, *_), kept in archive.states.items():
        for state in kept:
            assert (state.map, state.x // tiles, state.y // tiles) == (place, cx, cy)
    assert archive.restart(torch.tensor([True, False])) == [0]
    assert cell_of(0) in archive.states and archive.visited.marked(0) == 0  # the start's episode is a new one


def test_place_cells_start_from_each_map_as_often_as_from_the_others() -> None:
    """Place cells pick a map first (weighted by its starts so far, as cells are), then a cell in it: the house,
    with few squares, gives as many starts as the town, with many."""
    _, archive = walked_archive(8, fraction=1.0, capacity=1, seed=0, cell="position")
    cells = {m: sum(1 for k in archive.states if k[2] == m) for m in {k[2] for k in archive.states}}
    assert len(cells) >= 3 and max(cells.values()) >= 2.5 * min(cells.values())
    for _ in range(30):
        archive.restart(torch.ones(8, dtype=torch.bool))
    starts = {m: sum(n for k, n in archive.taken.items() if k[2] == m) for m in cells}
    assert sum(starts.values()) == 240 and max(starts.values()) <= 1.5 * min(starts.values()), (cells, starts)


@pytest.mark.parametrize("frontier", [False, True])
def test_the_frontier_option_starts_rarely_reached_cells_more(frontier: bool) -> None:
    """``frontier``: within a map, a cell's weight is also divided by ``sqrt(1 + offers)``, so a square envs
    rarely stood in (the one by a narrow exit) gets most of its map's starts; without it, starts spread evenly
    over the map's cells whatever their offers."""
    _, archive = walked_archive(8, fraction=1.0, capacity=1, seed=0, cell="position", frontier=frontier)
    town = max({k[2] for k in archive.states}, key=lambda m: sum(k[2] == m for k in archive.states))
    cells = sorted(k for k in archive.states if k[2] == town)
    assert len(cells) >= 4
    rare = cells[len(cells) // 2]
    for key in cells:
        archive.offered[key] = 1 if key == rare else 10_000
    for _ in range(40):
        archive.restart(torch.ones(8, dtype=torch.bool))
    share = archive.taken.get(rare, 0) / sum(archive.taken.get(k, 0) for k in cells)
    assert share > 0.5 if frontier else share < 2.0 / len(cells), (share, len(cells))


def test_cells_found_after_a_start_are_started_from_and_the_map_counts_survive_a_checkpoint() -> None:
    """A start reads the cells as kept when the last new cell came; cells found later are started from too, and
    the per-map start counts come back from a checkpoint's per-cell ones."""
    presses = presses_to_leave_the_house(0, "got_partner")
    engine = BatchedQuest(8, size="mini", max_episode_steps=None)
    engine.reset(seed=0)
    archive = StartArchive(engine, fraction=1.0, capacity=1, seed=0, cell="position")
    only_env0, no = torch.zeros(8, dtype=torch.bool), torch.zeros(8, dtype=torch.bool)
    only_env0[0] = True
    half = len(presses) // 2
    for i, button in enumerate(presses):
        if i == half:
            early = {k[2] for k in archive.states}
            assert archive.restart(only_env0) == [0]
        _, reward, _, _, _ = engine.step(torch.full((8,), button))
        archive.record(reward, no)
    later = {k[2] for k in archive.states} - early
    assert later  # envs 1-7 walked on into maps the first start did not know
    for _ in range(40):
        archive.restart(only_env0)
    assert {k[2] for k, n in archive.taken.items() if n} >= later
    per_map = {m: sum(n for k, n in archive.taken.items() if k[2] == m) for m in early | later}
    assert {m: archive.map_taken.get((0, m), 0) for m in per_map} == per_map
    copy = StartArchive(engine, fraction=1.0, capacity=1, seed=0, cell="position")
    copy.load_state_dict(archive.state_dict())
    assert copy.map_taken == archive.map_taken


def test_the_explore_phase_walks_random_presses_from_an_archived_state() -> None:
    """``explore_steps``: a start is its archived state walked on by 0 to ``explore_steps`` random presses of
    the given buttons; the archived state itself stays as it was, and the same seed gives the same starts."""
    from longplay.envs.quest.savestate import save

    def starts(seed: int, explore_steps: int = 12) -> tuple[StartArchive, list[tuple[int, int, int]]]:
        engine, archive = walked_archive(8, "left_house", fraction=1.0, capacity=1, seed=seed,
                                         explore_steps=explore_steps, buttons=(0, 1, 2, 3))
        return archive, [(d["map"], d["x"], d["y"]) for d in (engine.documents()[e]
                                                             for e in archive.restart(torch.ones(8, dtype=torch.bool)))]

    archive, places = starts(seed=3)
    (kept,) = archive.states[(0, 1)]
    assert set(starts(seed=3, explore_steps=0)[1]) == {(kept.map, kept.x, kept.y)}  # without: all start there
    before = save(kept, archive.engine.worlds[0])
    assert len(places) == 8 and len(set(places)) > 2  # the starts spread from the one archived place
    assert save(kept, archive.engine.worlds[0]) == before  # the archived state was not walked on
    walked = archive._explore(kept, archive.engine.worlds[0])
    assert all(getattr(walked, name) is not getattr(kept, name) for name in ("party", "bag", "done", "battle"))
    assert starts(seed=3)[1] == places


def test_milestone_rates_from_the_worlds_start_leave_archived_episodes_out() -> None:
    """``milestone_rate`` counts every finished episode; ``milestone_rate_from_start`` only those that began at
    the world's start, so milestones an archived start brought along do not show as learnt."""
    from longplay.agents.rl.ppo_device import DeviceMilestones

    engine, _ = walked_archive(2, "left_house", fraction=0.0)
    milestones = DeviceMilestones(engine, torch.device("cpu"))
    both, no = torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool)
    out = engine.state.events[:, :len(milestones.ids)].clone()  # both episodes have left the house
    milestones.step(both, out, both)  # both end, both had begun at the world's start
    milestones.step(no, out, no)  # (running episodes count nothing)
    out[1] = False  # env 1's next episode ends at the world's start, env 0's archived one out of the house
    milestones.step(both, out, torch.tensor([False, True]))
    rates = milestones.rates(4)
    assert rates["charts/milestone_rate/left_house"] == 0.75  # 3 of 4 episodes were out of the house
    assert rates["charts/milestone_rate_from_start/left_house"] == 2 / 3  # the archived one left out
    assert "charts/milestone_rate_from_start/left_house" not in milestones.rates(1)  # totals were zeroed


def test_milestone_rates_count_a_milestone_reached_on_a_truncated_episodes_last_step() -> None:
    """ppo-device's rates followed the event flags, which the same-step reset clears, and credited only the finish
    (through ``terminated``): a milestone reached on the step that truncates the episode went uncounted. Here the
    oracle's presses leave the house on the episode's last step; the engine's ``milestones_reached`` holds it."""
    from longplay.agents.rl.ppo_device import DeviceMilestones

    presses = presses_to_leave_the_house(0)
    engine = BatchedQuest(1, size="mini", max_episode_steps=len(presses))
    engine.reset(seed=0)
    milestones = DeviceMilestones(engine, torch.device("cpu"))
    for button in presses:
        _, _, terminated, truncated, info = engine.step(torch.tensor([button]))
        milestones.step(terminated | truncated, info["milestones_reached"])
    assert truncated.all() and not engine.state.events[0, 0]  # the reset cleared the flag (left_house: event 0)
    rates = milestones.rates(1)
    assert rates["charts/milestone_rate/left_house"] == 1.0
    assert sum(rates.values()) == 1.0
    assert milestones.running()["charts/milestone_now/left_house"] == 0.0  # the new episode is in the house


def test_milestone_rates_of_a_pool_of_worlds_name_each_worlds_own_milestones() -> None:
    """Worlds of a pool have catalogs of their own (column 2 of mini world 0 is ``reached_kelglen_lane``, of world
    1 ``reached_zelwind_path``); the rates took world 0's ids for every env, so world 1's episodes were counted
    under world 0's names, and a pool of catalogs of different lengths (standard worlds 0 and 2) had no rates."""
    from longplay.agents.rl.ppo_device import DeviceMilestones
    from longplay.envs.quest.worldgen import build_world

    engine = BatchedQuest(2, size="mini", world_seeds=[0, 1])
    engine.reset(seed=0)
    first, second = (build_world("mini", seed).milestone_ids for seed in (0, 1))
    assert first[2] == "reached_kelglen_lane" and second[2] == "reached_zelwind_path"
    milestones = DeviceMilestones(engine, torch.device("cpu"))
    assert milestones.ids == list(dict.fromkeys(first + second))  # world 0's catalog, then world 1's other ids
    both = torch.ones(2, dtype=torch.bool)
    reached = torch.zeros((2, engine.milestone_columns), dtype=torch.bool)
    reached[:, 2] = True  # each env's episode reached its own world's lane
    reached[1, 0] = True  # env 1's also left the house
    milestones.step(both, reached)
    rates = milestones.rates(2)
    assert rates["charts/milestone_rate/reached_kelglen_lane"] == 0.5
    assert rates["charts/milestone_rate/reached_zelwind_path"] == 0.5
    assert rates["charts/milestone_rate/left_house"] == 0.5 and sum(rates.values()) == 1.5
    engine.state.events[:, :engine.milestone_columns] = reached
    running = milestones.running()
    assert running["charts/milestone_now/reached_zelwind_path"] == 0.5 and sum(running.values()) == 1.5

    pool = BatchedQuest(2, size="standard", world_seeds=[0, 2])  # 45 milestones and 46
    assert DeviceMilestones.available(pool)
    assert build_world("standard", 0).milestone_ids[44] == build_world("standard", 2).milestone_ids[45] \
        == "became_champion"
    milestones = DeviceMilestones(pool, torch.device("cpu"))
    reached = torch.zeros((2, pool.milestone_columns), dtype=torch.bool)
    reached[:, 45] = True  # env 1 (world 2) became champion; world 0 has no column 45 (counted nowhere)
    milestones.step(both, reached)
    rates = milestones.rates(2)
    assert rates["charts/milestone_rate/became_champion"] == 0.5 and sum(rates.values()) == 0.5


def test_milestone_rates_count_a_milestone_other_than_the_finish_reached_on_an_episodes_last_step() -> None:
    """``milestone_rates`` (``--select-episodes``, ``benchmarks/rl_policy_milestones.py``) read the event flags
    after the step, which the same-step reset clears, and credited only the finish (through ``terminated``): a
    policy that leaves the house on its episode's last step was scored as never leaving it."""
    from types import SimpleNamespace

    from longplay.agents.rl.config import TrainConfig
    from longplay.agents.rl.milestone_rates import milestone_rates

    presses = presses_to_leave_the_house(0)
    pressed = iter(presses)

    def net(obs: dict) -> tuple[torch.Tensor, None]:  # the oracle's presses, one per step, as certain logits
        logits = torch.full((1, 8), -1e9)
        logits[0, next(pressed)] = 0.0
        return logits, None

    policy = SimpleNamespace(config=TrainConfig(obs_mode="symbolic"), net=net)
    rates = milestone_rates(policy, BatchedQuest(1, size="mini", max_episode_steps=len(presses)), len(presses),
                            seed=0)
    assert rates.median_step("left_house") == len(presses)
    assert rates.mean == 1.0 and rates.finished == 0.0


def test_milestone_rates_of_a_pool_of_worlds_name_each_worlds_own_milestones_too() -> None:
    """``milestone_rates`` named every env's columns with world 0's ids: on a pool (``world_seeds=[0, 1]``) env 1
    reaching its world's ``reached_zelwind_path`` (column 2) was reported as world 0's ``reached_kelglen_lane``.
    It now maps the columns as ppo-device's ``DeviceMilestones`` does (one function)."""
    from types import SimpleNamespace

    from longplay.agents.rl.config import TrainConfig
    from longplay.agents.rl.milestone_rates import milestone_rates
    from longplay.envs.quest.worldgen import build_world

    presses = presses_to_leave_the_house(1, "reached_zelwind_path", episode_seed=1)  # env 1: world 1, seed 1
    pressed = iter(presses)

    def net(obs: dict) -> tuple[torch.Tensor, None]:  # both envs press world 1's oracle's way
        logits = torch.full((2, 8), -1e9)
        logits[:, next(pressed)] = 0.0
        return logits, None

    policy = SimpleNamespace(config=TrainConfig(obs_mode="symbolic"), net=net)
    engine = BatchedQuest(2, size="mini", world_seeds=[0, 1], max_episode_steps=None)
    rates = milestone_rates(policy, engine, len(presses), seed=0)
    first, second = (build_world("mini", seed).milestone_ids for seed in (0, 1))
    assert rates.names == list(dict.fromkeys(first + second))  # world 0's catalog, then world 1's other ids
    assert rates.first.shape == (2, len(rates.names))
    assert rates.median_step("reached_zelwind_path") == len(presses)
    assert rates.rate("reached_zelwind_path") == 0.5 and rates.rate("reached_kelglen_lane") == 0.0
    assert rates.finish == "badge_1"
    mixed = SimpleNamespace(worlds=[build_world("mini", 0), build_world("standard", 0)], world_of=[0, 1])
    with pytest.raises(ValueError, match=r"one finishing milestone; the worlds finish at \['badge_1', 'became_"):
        milestone_rates(policy, mixed, 8)


def test_the_archive_survives_a_checkpoint(played: tuple) -> None:
    engine, archive, _ = played
    copy = StartArchive(engine, fraction=1.0, capacity=2, seed=99)
    copy.load_state_dict(archive.state_dict())
    assert copy.states.keys() == archive.states.keys() and copy.taken == archive.taken
    for key, kept in archive.states.items():
        assert [s.x for s in copy.states[key]] == [s.x for s in kept]
    assert copy.rng.random() == archive.rng.random()


def test_ppo_device_trains_and_resumes_with_archive_starts(tmp_path: Path) -> None:
    from longplay.agents.rl.config import TrainConfig
    from longplay.agents.rl.ppo_device import train

    config = TrainConfig(env_id="longplay/QuestMini-v0", learner="ppo-device", vec_env="batched", num_envs=4,
                         n_steps=16, n_minibatches=2, n_epochs=1, total_steps=128, checkpoint_every=64,
                         eval_every=-1, features_dim=32, progress=False, torch_threads=1, device="cpu",
                         runs_dir=str(tmp_path), run_name="run", max_episode_steps=24, keep_checkpoints=0,
                         shaping="quest,novelty_by_stage=1", buttons="up,down,left,right,a,b", archive_starts=0.5,
                         archive_cell="position_level", archive_explore_steps=8)
    first = train(config)
    saved = torch.load(first.checkpoint, weights_only=False)
    assert "archive" in saved and saved["config"]["archive_starts"] == 0.5
    config.total_steps = 192
    resumed = train(config, run_dir=first.run_dir, resume=first.checkpoint)
    assert resumed.steps == 192
    with pytest.raises(ValueError, match="archive_starts needs"):
        TrainConfig(learner="ppo", archive_starts=0.5).validate()
    with pytest.raises(ValueError, match="invalid archive_focus"):
        TrainConfig(learner="ppo-device", archive_starts=0.5, archive_focus=1.5).validate()


def test_a_resume_keeps_the_archive_only_for_the_same_cells() -> None:
    """A curriculum step to another cell kind or another square size starts a new archive: keys of 4x4 squares
    read as 2x2 ones would start envs from the wrong places."""
    from longplay.agents.rl.config import TrainConfig
    from longplay.agents.rl.ppo_device import same_archive_cells

    config = TrainConfig(archive_cell="position")
    assert same_archive_cells(config.to_dict(), config)
    assert same_archive_cells({"archive_cell": "position"}, config)  # a checkpoint from before the field
    assert not same_archive_cells(TrainConfig(archive_cell="position", archive_cell_tiles=2).to_dict(), config)
    assert not same_archive_cells(TrainConfig(archive_cell="position_level").to_dict(), config)


@pytest.mark.parametrize("focus", [0.0, 1.0])
def test_focus_starts_from_where_episodes_from_the_worlds_start_end(focus: float) -> None:
    """``focus``: starts come from the cells of the stage and map where episodes from the world's start end most
    often (here: every env took the partner, then its episode ended where it stood); episodes the archive
    started do not move that stall. Without it, starts spread over every stage's cells."""
    engine, archive = walked_archive(8, fraction=1.0, capacity=1, seed=0, cell="position", focus=focus)
    assert {k[1] for k in archive.states} >= {0, 1, 2}
    where = int(engine.state.map[0])
    assert any(k[1:3] == (2, where) for k in archive.states)
    everyone, nobody = torch.ones(8, dtype=torch.bool), torch.zeros(8, dtype=torch.bool)
    archive.record(torch.zeros(8), everyone)  # all eight episodes from the world's start end with 2 milestones
    assert archive.stall() == ((2, where) if focus else None)  # (without focus nothing is counted)
    before = archive.stall_ends.clone()
    for _ in range(10):
        assert len(archive.restart(everyone)) == 8
        archive.record(torch.zeros(8), nobody)
        archive.record(torch.zeros(8), everyone)  # archived episodes end: the histogram stays
    assert torch.equal(archive.stall_ends, before)
    started = {k[1:3] for k, n in archive.taken.items() if n}
    assert started == {(2, where)} if focus else len({stage for stage, _ in started}) >= 3, started
    if focus:  # each archived episode ended where it began, no milestone further: a try without a win
        assert archive.outcomes and all(wins == 0.0 for _, wins in archive.outcomes.values())
        assert sum(tries for tries, _ in archive.outcomes.values()) > 9
        assert archive.summary()["charts/archive/stall_stage"] == 2.0
        assert archive.summary()["charts/archive/stall_map"] == where
        copy = StartArchive(engine, fraction=1.0, capacity=1, seed=0, cell="position", focus=focus)
        copy.load_state_dict(archive.state_dict())
        assert copy.stall() == (2, where) and torch.equal(copy.stall_ends, archive.stall_ends)
        assert copy.outcomes == archive.outcomes


def test_focus_starts_most_from_the_cells_the_policy_sometimes_gets_on_from() -> None:
    """Among the stall's cells, one from which half the archived episodes reached the next milestone (a good
    cell) gets most starts; the cells never left that way and the one always left that way get few, and all
    of them get some once no cell is good."""
    from longplay.agents.rl.archive import MAX_MAPS

    engine, archive = walked_archive(8, "reached_kelglen_lane", fraction=1.0, capacity=1, seed=0, cell="position",
                                     focus=1.0)
    town = max({k[2] for k in archive.states if k[1] == 2}, key=lambda m: sum(k[1:3] == (2, m) for k in archive.states))
    archive.stall_ends[2 * MAX_MAPS + town] = 1.0  # as if episodes from the world's start ended in the town
    cells = sorted(k for k in archive.states if k[1:3] == (2, town))
    assert len(cells) >= 3
    halfway, always = cells[0], cells[-1]
    for key in cells:
        archive.outcomes[key] = (20.0, 10.0 if key == halfway else 20.0 if key == always else 0.0)
    archive.taken.clear()
    for _ in range(20):
        archive.restart(torch.ones(8, dtype=torch.bool))
        archive.start_cell.clear()  # (these starts are not played: no outcomes)
    share = {k: archive.taken.get(k, 0) / 160 for k in cells}
    assert share[halfway] > 0.8 and share[always] < 0.1, share  # the one good cell, but a spread share
    archive.outcomes[halfway] = (20.0, 0.0)  # no cell is good: the starts go over all of them
    archive.taken.clear()
    for _ in range(20):
        archive.restart(torch.ones(8, dtype=torch.bool))
        archive.start_cell.clear()
    assert all(archive.taken.get(k, 0) > 0 for k in cells), archive.taken
