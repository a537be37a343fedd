"""quest.batched: the built-in game's full rules over thousands of envs at once, in torch.

One tensor per state field with a leading env dimension, behaviour in lookup tables, branch-free updates,
the reference engine's counter-based random numbers, no host synchronisation inside ``step``. The reference
engine (:mod:`longplay.envs.quest.engine`) is the specification: parity tests run both in lockstep and
compare state hashes at every step.

Importing this package is cheap (it does not import torch); the engine lives in
:mod:`longplay.envs.quest.batched.engine` (:class:`BatchedQuest`), the adapters in
:mod:`~longplay.envs.quest.batched.vector` (Gymnasium) and :mod:`~longplay.envs.quest.batched.sb3`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BatchedQuest"]


def __getattr__(name: str) -> Any:
    if name == "BatchedQuest":
        from longplay.envs.quest.batched.engine import BatchedQuest

        return BatchedQuest
    raise AttributeError(name)
