"""Stochastic layer-wise shuffle (Huang et al., 2024): a training-only regulariser for sequence layers.

In training, with probability ``prob`` per forward pass, the wrapped layer sees its tokens in a random order
(one permutation of the ``L`` positions, shared by the batch) and its output is put back into the original
order; otherwise, and always in evaluation mode, the layer runs unchanged. Deeper layers shuffle more:
layer ``i`` of ``depth`` gets ``prob_i = max_prob * i / (depth - 1)`` (``torch.linspace(0, max_prob, depth)``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


def shuffle_probabilities(depth: int, max_prob: float) -> list[float]:
    """The layer-wise schedule: ``depth`` probabilities rising linearly from 0 (first layer) to
    ``max_prob`` (last layer), computed as the official code does (float32 ``linspace``)."""
    if depth < 1 or not 0.0 <= max_prob <= 1.0:
        raise ValueError(f"need depth >= 1 and 0 <= max_prob <= 1, got depth={depth}, max_prob={max_prob}")
    return [p.item() for p in torch.linspace(0, max_prob, depth)]


def _permute(value: object, index: Tensor, length: int, batch: int) -> object:
    """``value[:, index]`` for tensors with leading dims ``[batch, length]``; anything else unchanged."""
    if isinstance(value, Tensor) and value.dim() >= 2 and value.shape[:2] == (batch, length):
        return value.index_select(1, index)
    if isinstance(value, tuple):
        return tuple(_permute(v, index, length, batch) for v in value)
    return value


class StochasticLayerShuffle(nn.Module):
    """Wraps a sequence layer ``[B, L, ...] -> [B, L, ...]`` with the stochastic layer-wise shuffle.

    :param layer: the wrapped module; it is called with the same arguments. Every positional tensor
        argument shaped ``[B, L, ...]`` (e.g. a separate residual stream) is permuted alike, and every
        output tensor (or tuple element) shaped ``[B, L, ...]`` is restored to the original order.
    :param prob: probability of shuffling in one training forward pass (one draw per pass).
    :param seed: ``None`` draws from torch's global generator (as the official code); an integer gives the
        wrapper its own generator, seeded once (the draw stream is then independent of other layers).
    """

    def __init__(self, layer: nn.Module, prob: float = 0.1, seed: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        self.layer, self.prob, self.seed = layer, float(prob), seed
        self._generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self.last_permutation: Tensor | None = None  # the permutation of the latest pass (None: not shuffled)

    def extra_repr(self) -> str:
        return f"prob={self.prob}"

    def _draw(self, length: int, device: torch.device) -> Tensor | None:
        """The official order of draws: one uniform number, then (if below ``prob``) a permutation."""
        g = self._generator
        if torch.rand(1, generator=g).item() >= self.prob:
            return None
        if g is None:
            return torch.randperm(length, device=device)
        return torch.randperm(length, generator=g).to(device)

    def forward(self, hidden_states: Tensor, *args: object, **kwargs: object) -> object:
        self.last_permutation = None
        if not self.training:
            return self.layer(hidden_states, *args, **kwargs)
        batch, length = hidden_states.shape[:2]
        perm = self._draw(length, hidden_states.device)
        if perm is None:
            return self.layer(hidden_states, *args, **kwargs)
        self.last_permutation = perm
        inverse = torch.argsort(perm)
        moved = [_permute(a, perm, length, batch) for a in (hidden_states, *args)]
        out = self.layer(*moved, **kwargs)
        return _permute(out, inverse, length, batch)


def apply_layer_shuffle(layers: Iterable[nn.Module], max_prob: float) -> nn.ModuleList:
    """A ``ModuleList`` of ``layers`` each wrapped in :class:`StochasticLayerShuffle` with the paper's
    schedule ``shuffle_probabilities(len(layers), max_prob)``."""
    layers = list(layers)
    probs = shuffle_probabilities(len(layers), max_prob)
    return nn.ModuleList(StochasticLayerShuffle(layer, p) for layer, p in zip(layers, probs))
