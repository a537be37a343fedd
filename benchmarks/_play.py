"""A trained policy playing many envs of the batched engine at once, for the benchmarks that need played states.

Imported as ``from _play import play`` (a script's own folder is on ``sys.path`` when it runs as
``python benchmarks/<name>.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch


def play(policy: Any, engine: Any, steps: int, seed: int) -> Iterator[tuple[int, dict, torch.Tensor]]:
    """Plays ``policy`` (``load_policy``'s) on every env of ``engine`` (a ``BatchedQuest``) for ``steps`` steps
    from a reset (env ``i``'s first episode has seed ``seed + i``), sampling its actions as ``longplay run
    --agent ppo`` does from a generator seeded with ``seed``. Yields ``(step, obs, terminated)`` after each
    step (``step`` from 1); the policy's buttons are mapped with ``button_subset``, as in training."""
    from longplay.envs.wrappers.buttons import button_subset

    presses = torch.tensor(button_subset(policy.config.buttons or tuple(range(8)), 8))
    obs = engine.reset(seed=seed)
    sampler = torch.Generator().manual_seed(seed)
    for step in range(1, steps + 1):
        with torch.no_grad():
            logits, _ = policy.net(obs)
        action = torch.multinomial(torch.softmax(logits.float(), 1), 1, generator=sampler).squeeze(1)
        obs, _, terminated, _, _ = engine.step(presses[action])
        yield step, obs, terminated
