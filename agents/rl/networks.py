"""The policy networks: one observation encoder for any longplay observation, shared by both learners.

:func:`describe_space` turns a Gymnasium observation space into a plain, JSON-able description (what each
key is: a grid of categorical ids, an image or a vector) that checkpoints store, so a policy can be rebuilt
without the env. :class:`ObsEncoder` reads that description:

* categorical grids (quest's ``tiles`` and ``entities``, (9, 10) ids): a linear layer over the one-hot grid,
  as an ``EmbeddingBag`` (a gather and a sum per cell: on CPU a small CNN over embeddings costs several
  times more per sample);
* images (``pixels``, (H, W, C) ``uint8``): the Nature-DQN CNN;
* vectors (quest's ``vector``): :func:`vector_features` (symlog, tanh and periodic features of each entry);

then two ``features_dim`` layers (the first one joins all of the above).

:class:`ActorCritic` is the encoder plus linear policy and value heads (CleanRL's Atari layout); the
Stable-Baselines3 learner uses the same encoder through :class:`SB3Extractor` with the same heads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

#: Integer Box spaces with at most this many distinct values are treated as categorical ids.
MAX_CATEGORIES = 4096
#: The key a bare (non-Dict) Box observation gets (in longplay envs the only bare Box is the screen).
BARE_KEY = "pixels"


def describe_space(space: spaces.Space) -> dict[str, dict[str, Any]]:
    """A JSON-able description of ``space``: key -> ``{"kind": "grid"|"image"|"vector", "shape": ...}``.

    A bare Box becomes one entry under ``"pixels"``. Raises ``ValueError`` on spaces no encoder handles.
    """
    if isinstance(space, spaces.Dict):
        items = list(space.spaces.items())
    else:
        items = [(BARE_KEY, space)]
    described: dict[str, dict[str, Any]] = {}
    for key, sub in items:
        if not isinstance(sub, spaces.Box):
            raise ValueError(f"observation {key!r} is a {type(sub).__name__}; "
                             "the RL encoder reads Box spaces only")
        shape = [int(s) for s in sub.shape]
        integer = np.issubdtype(sub.dtype, np.integer)
        if len(shape) == 2 and integer and int(np.max(sub.high)) < MAX_CATEGORIES:
            described[key] = {"kind": "grid", "shape": shape, "classes": int(np.max(sub.high)) + 1}
        elif len(shape) == 3:
            described[key] = {"kind": "image", "shape": shape}
        else:
            described[key] = {"kind": "vector", "shape": shape, "size": int(np.prod(shape))}
    return described


def symlog(x: torch.Tensor) -> torch.Tensor:
    """``sign(x) * log(1 + |x|)``: keeps small values, compresses large ones."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


#: Periods of the sine/cosine features of vector entries: positions and counters get a fine, unique code.
FOURIER_PERIODS = (4.0, 16.0, 64.0)


def vector_features(v: torch.Tensor) -> torch.Tensor:
    """``symlog(v)``, ``tanh(v / 32)`` and ``sin``/``cos`` of ``v`` at :data:`FOURIER_PERIODS`, side by side.

    Money and counters span many magnitudes (symlog); positions, levels and HP want fine steps, and a policy
    that learns a route through a fixed world wants nearby tiles told apart (the periodic features).
    """
    parts = [symlog(v), torch.tanh(v / 32.0)]
    for period in FOURIER_PERIODS:
        angle = v * (2 * np.pi / period)
        parts += [torch.sin(angle), torch.cos(angle)]
    return torch.cat(parts, dim=1)


class _GridSum(torch.autograd.Function):
    """``embedding_bag(ids, weight, mode="sum")`` whose weight gradient is one matrix product with the one-hot
    rows (``one_hot.T @ grad``) over only the rows the batch uses: on CPU, faster for a whole PPO minibatch
    update than the sort-based backward of ``EmbeddingBag`` (2,048 samples of 90 cells;
    ``benchmarks/rl_speed.py --network``). The result is the same sum.

    A minibatch of QuestMini observations uses about half of the tile grid's (cell, id) rows and a seventh of
    the entity grid's (most cells hold no entity), so the product skips the rest: the one-hot of the used rows
    only, then the rows put back in place (the others' gradient is zero).
    """

    @staticmethod
    def forward(ctx: Any, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids)
        ctx.rows = weight.shape[0]
        return nn.functional.embedding_bag(ids, weight, mode="sum")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        (ids,) = ctx.saved_tensors
        used = torch.zeros(ctx.rows, dtype=torch.bool, device=ids.device).index_fill_(0, ids.reshape(-1), True)
        rows = used.nonzero().squeeze(1)
        local = (torch.cumsum(used, 0) - 1)[ids]  # each id's position among the used rows
        one_hot = grad.new_zeros(ids.shape[0], rows.shape[0]).scatter_(1, local, 1.0)
        return None, grad.new_zeros(ctx.rows, grad.shape[1]).index_copy_(0, rows, one_hot.t() @ grad)


def grid_sum(ids: torch.Tensor, bag: nn.EmbeddingBag) -> torch.Tensor:
    """The sum of ``bag``'s rows at each sample's ``ids`` (B, cells) -> (B, dim)."""
    if bag.weight.requires_grad and torch.is_grad_enabled() and bag.weight.device.type == "cpu":
        return _GridSum.apply(ids, bag.weight)
    return bag(ids)


def _init(layer: nn.Module, gain: float = float(np.sqrt(2))) -> nn.Module:
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)
    return layer


class ObsEncoder(nn.Module):
    """Encodes a dict of batched observation tensors into ``features_dim`` features (see the module doc).

    The first layer is one linear map over everything: for each categorical grid, a ``features_dim`` vector
    per (cell, id) summed over the cells (an ``EmbeddingBag``: a linear layer over the one-hot grid without
    building it), plus a linear map of the image and vector features. A second layer follows.

    Args:
        description: From :func:`describe_space`.
        features_dim: Width of both layers (the output).
    """

    def __init__(self, description: dict[str, dict[str, Any]], features_dim: int = 128) -> None:
        super().__init__()
        self.description = description
        self.features_dim = features_dim
        self.grid_keys = [k for k, d in description.items() if d["kind"] == "grid"]
        self.image_keys = [k for k, d in description.items() if d["kind"] == "image"]
        self.vector_keys = [k for k, d in description.items() if d["kind"] == "vector"]
        self.grid_bags = nn.ModuleDict()
        cells = sum(int(np.prod(description[k]["shape"])) for k in self.grid_keys)
        for k in self.grid_keys:
            n_cells, classes = int(np.prod(description[k]["shape"])), description[k]["classes"]
            bag = nn.EmbeddingBag(n_cells * classes, features_dim, mode="sum")
            nn.init.normal_(bag.weight, 0.0, float(np.sqrt(2.0 / cells)))  # the sum over cells has variance 2
            self.grid_bags[k] = bag
            self.register_buffer(f"offsets_{k}", torch.arange(n_cells) * classes, persistent=False)
        width = 0
        self.image_nets = nn.ModuleDict()
        for k in self.image_keys:
            h, w, c = description[k]["shape"]
            net = nn.Sequential(
                _init(nn.Conv2d(c, 32, 8, stride=4)), nn.ReLU(),
                _init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
                _init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(), nn.Flatten())
            with torch.no_grad():
                width += int(net(torch.zeros(1, c, h, w)).shape[1])
            self.image_nets[k] = net
        vector_size = sum(description[k]["size"] for k in self.vector_keys)
        width += vector_size * (2 + 2 * len(FOURIER_PERIODS))
        self.first = _init(nn.Linear(width, features_dim)) if width else None
        if self.first is None:
            self.bias = nn.Parameter(torch.zeros(features_dim))
        self.second = nn.Sequential(nn.ReLU(), _init(nn.Linear(features_dim, features_dim)), nn.ReLU())

    def forward(self, obs: dict[str, torch.Tensor], images_normalized: bool = False,
                images_channels_first: bool = False) -> torch.Tensor:
        """``obs``: key -> tensor with a leading batch dimension (any dtype; grids are read as ids).

        Images come as ``uint8`` channels last (H, W, C) unless told otherwise (SB3 hands them over scaled
        to [0, 1] and channels first).
        """
        parts = []
        for k in self.image_keys:
            x = obs[k].float()
            if not images_normalized:
                x = x / 255.0
            if not images_channels_first:
                x = x.permute(0, 3, 1, 2)
            parts.append(self.image_nets[k](x))
        if self.vector_keys:
            v = torch.cat([obs[k].float().flatten(1) for k in self.vector_keys], dim=1)
            parts.append(vector_features(v))
        hidden = self.first(torch.cat(parts, dim=1)) if self.first is not None else self.bias
        for k in self.grid_keys:
            ids = obs[k].long().flatten(1) + getattr(self, f"offsets_{k}")
            hidden = hidden + grid_sum(ids, self.grid_bags[k])
        return self.second(hidden)


class ActorCritic(nn.Module):
    """:class:`ObsEncoder` plus a linear policy head (logits) and a linear value head."""

    def __init__(self, description: dict[str, dict[str, Any]], n_actions: int,
                 features_dim: int = 128) -> None:
        super().__init__()
        self.encoder = ObsEncoder(description, features_dim)
        self.policy_head = _init(nn.Linear(features_dim, n_actions), 0.01)
        self.value_head = _init(nn.Linear(features_dim, 1), 1.0)

    def forward(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, n_actions), value (B,))."""
        features = self.encoder(obs)
        return self.policy_head(features), self.value_head(features).squeeze(-1)


try:  # SB3 is optional for the encoder itself; the extractor class exists only when it is installed.
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
except ImportError:  # pragma: no cover - the rl extra is missing
    SB3Extractor = None  # type: ignore[assignment,misc]
else:
    class SB3Extractor(BaseFeaturesExtractor):
        """:class:`ObsEncoder` as an SB3 features extractor.

        SB3 hands it float tensors (grids are re-cast to ids) and images scaled to [0, 1] and transposed to
        channels first (``VecTransposeImage``); the description keeps the env's channels-last shapes, so the
        weights are the same as :class:`ActorCritic`'s (see ``policy_agent.actor_critic_from_sb3``).
        """

        def __init__(self, observation_space: spaces.Space, features_dim: int = 128) -> None:
            super().__init__(observation_space, features_dim)
            description = describe_space(observation_space)
            for d in description.values():
                if d["kind"] == "image":
                    c, h, w = d["shape"]  # SB3 transposed the env's (H, W, C)
                    d["shape"] = [h, w, c]
            self.encoder = ObsEncoder(description, features_dim)

        def forward(self, observations: Any) -> torch.Tensor:
            if not isinstance(observations, dict):
                observations = {BARE_KEY: observations}
            return self.encoder(observations, images_normalized=True, images_channels_first=True)
