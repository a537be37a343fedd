"""Per-env hashed sets of what each env's running episode has seen, forgotten at a new episode without clearing.

The device learner asks "is this the first time in this episode?" of tiles and maps (the ``novelty`` and ``map``
shaping terms) and of the archive's position cells. :class:`EpisodeStamps` answers it for N envs at once: a
``[N, slots]`` table whose slots are stamped with the env's episode number, so an env's new episode forgets
every slot by counting its episode up, and nothing is cleared.

>>> stamps = EpisodeStamps(num_envs=2, slots=8, device=torch.device("cpu"))
>>> stamps.first(torch.tensor([3, 3])).tolist(), stamps.first(torch.tensor([3, 4])).tolist()
([True, True], [False, True])
>>> stamps.new_episode(torch.tensor([True, False]))
>>> stamps.first(torch.tensor([3, 3])).tolist()
[True, False]
"""

from __future__ import annotations

import torch


class EpisodeStamps:
    """For each of ``num_envs`` envs, which of ``slots`` hashed slots its running episode has marked.

    Args:
        num_envs: Envs (rows of the table).
        slots: Slots per env (the caller hashes what it tracks into ``0 .. slots - 1``).
        device: Where the table lives (the learner's device).
    """

    def __init__(self, num_envs: int, slots: int, device: torch.device) -> None:
        self.table = torch.zeros((num_envs, slots), dtype=torch.int32, device=device)
        self.episode = torch.ones(num_envs, dtype=torch.int32, device=device)
        self.rows = torch.arange(num_envs, device=device)

    def first(self, slot: torch.Tensor) -> torch.Tensor:
        """Marks each env's ``slot`` (int64 [N]); True where its episode had not marked that slot before."""
        new = self.table[self.rows, slot] != self.episode
        self.table[self.rows, slot] = self.episode
        return new

    def new_episode(self, where: torch.Tensor) -> None:
        """Envs ``where`` (bool [N]) start an episode: they forget every slot."""
        self.episode += where.to(torch.int32)

    def marked(self, env: int) -> int:
        """How many slots env ``env``'s running episode has marked (tests, diagnostics)."""
        return int((self.table[env] == self.episode[env]).sum())
