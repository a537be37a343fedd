from __future__ import annotations

import torch

from longplay.agents.rl.stamps import EpisodeStamps


def test_a_slot_is_new_once_per_episode_and_a_new_episode_forgets_without_clearing() -> None:
    stamps = EpisodeStamps(num_envs=3, slots=16, device=torch.device("cpu"))
    assert stamps.first(torch.tensor([2, 2, 5])).tolist() == [True, True, True]
    assert stamps.first(torch.tensor([2, 3, 5])).tolist() == [False, True, False]
    table = stamps.table.clone()
    stamps.new_episode(torch.tensor([False, True, False]))
    assert torch.equal(stamps.table, table)  # nothing cleared
    assert stamps.marked(1) == 0 and stamps.marked(0) == 1 and stamps.marked(2) == 1
    assert stamps.first(torch.tensor([2, 2, 5])).tolist() == [False, True, False]
