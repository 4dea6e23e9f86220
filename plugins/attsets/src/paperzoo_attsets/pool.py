"""AttSets: feature-wise attentional aggregation of a set of feature vectors (Yang et al., 2019).

For a set ``X = {x_1, ..., x_N}`` of ``D``-dimensional features (Section 4.2 of the paper; the
``attsets_fc`` unit of the official code, with its default "option 1", i.e. no activation):

    c_i = g(x_i) = W x_i + b                       (a shared fully connected layer, D -> D)
    s_i^d = exp(c_i^d) / sum_j exp(c_j^d)          (softmax over the set, per feature dimension d)
    o^d = sum_i s_i^d x_i^d

The output does not depend on the order of the elements, and a set of one element is returned
unchanged (its scores are 1). Padded positions (``mask`` False) get no weight.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class AttSetsPool(nn.Module):
    """Permutation-invariant attentional pooling ``(B, N, D) -> (B, D)``.

    :param in_features: ``D``, the feature width (the output has the same width).
    :param bias: whether the score layer ``g`` has a bias (the official code's has one, initialised
        at zero; it cancels in the softmax over the set, so it changes nothing but is kept for parity).
    """

    def __init__(self, in_features: int, bias: bool = True):
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be at least 1, got {in_features}")
        self.score = nn.Linear(in_features, in_features, bias=bias)
        nn.init.xavier_uniform_(self.score.weight)  # the official code's Xavier initialiser
        if bias:
            nn.init.zeros_(self.score.bias)

    def attention(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The weights ``s`` ``(B, N, D)``: a softmax over the set dimension, per feature; zero at
        padded positions (a set with no valid element gets uniform weights on zeroed inputs)."""
        scores = self.score(x)
        if mask is not None:
            scores = scores.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pool ``x`` ``(B, N, D)`` (``mask`` ``(B, N)``, True for real elements) to ``(B, D)``."""
        weights = self.attention(x, mask)
        if mask is not None:  # padding may hold anything, even inf: it must not reach the sum
            x = x.masked_fill(~mask.bool().unsqueeze(-1), 0.0)
        return (weights * x).sum(dim=1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean pooling over the set dimension, ignoring padded positions."""
    if mask is None:
        return x.mean(dim=1)
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x.masked_fill(m == 0, 0.0)).sum(1) / m.sum(1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Max pooling over the set dimension, ignoring padded positions (0 for an empty set)."""
    if mask is None:
        return x.amax(dim=1)
    out = x.masked_fill(~mask.bool().unsqueeze(-1), float("-inf")).amax(dim=1)
    return torch.where(torch.isinf(out) & (out < 0), torch.zeros_like(out), out)


class AttSetsSetNet(nn.Module):
    """A set network: a shared element encoder, a pooling, and a decoder (the paper's
    encoder-AttSets-decoder, on feature vectors instead of images and voxels).

    Input ``(B, N, F + 1)`` when ``mask_channel`` (the last channel is 1 for real elements, 0 for
    padding: how a padded batch of sets of different sizes travels through a plain tensor dataset),
    else ``(B, N, F)``. Output ``(B, out_features)``.

    :param in_features: ``F``, features per element (without the mask channel).
    :param hidden: width of the encoder, the pooled feature and the decoder.
    :param out_features: outputs per set.
    :param pooling: ``attsets`` (the paper), or the ``mean`` / ``max`` baselines.
    :param depth: hidden layers of the encoder and of the decoder.
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 64,
        out_features: int = 1,
        pooling: Literal["attsets", "mean", "max"] = "attsets",
        depth: int = 2,
        mask_channel: bool = True,
    ):
        super().__init__()
        if pooling not in ("attsets", "mean", "max"):
            raise ValueError(f"pooling must be 'attsets', 'mean' or 'max', got {pooling!r}")
        self.pooling, self.mask_channel = pooling, mask_channel
        self.encoder = _mlp(in_features, hidden, hidden, depth, last_activation=True)
        self.pool = AttSetsPool(hidden) if pooling == "attsets" else None
        self.decoder = _mlp(hidden, hidden, out_features, depth, last_activation=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.mask_channel:
            x, mask = x[..., :-1], x[..., -1] > 0.5
        h = self.encoder(x)
        if self.pool is not None:
            pooled = self.pool(h, mask)
        elif self.pooling == "mean":
            pooled = masked_mean(h, mask)
        else:
            pooled = masked_max(h, mask)
        return self.decoder(pooled)


def _mlp(d_in: int, d_hidden: int, d_out: int, depth: int, last_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = d_in
    for _ in range(depth):
        layers += [nn.Linear(width, d_hidden), nn.ReLU()]
        width = d_hidden
    layers.append(nn.Linear(width, d_out))
    if last_activation:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)
