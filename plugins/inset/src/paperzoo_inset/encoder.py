"""INSET: a subset's representation fused with an invariant statistic of its superset (Xie et al., 2024).

A subset-valued set function ``F(S; V)`` with ``S`` a subset of the ground set ``V``. DeepSets
(and EquiVSet-style models built on it) encode ``S`` alone: ``F(S) = rho(sum_{x in S} phi(x))``. The
paper shows that a model of ``P(Y | S, V)`` must also take an invariant sufficient statistic of ``V``,
so that the same ``S`` drawn from different supersets can be told apart. INSET computes

    h_S = sum_{x in S} phi_S(x),      h_V = sum_{x in V} phi_V(x)       (two DeepSets encoders)
    F(S; V) = rho(fuse(h_S, h_V)),    fuse = concat [h_S; h_V]  or  product h_S * h_V

which is invariant to permuting the elements of ``S`` and of ``V``. With ``superset=False`` it is the
subset-only DeepSets ``rho(h_S)`` (the baseline).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class InsetSubsetEncoder(nn.Module):
    """``F(S; V)``: ground set ``x`` ``(B, N, F)``, subset given as a mask over its elements.

    :param in_features: ``F``, features per element (not counting the subset channel).
    :param hidden: width of both encoders and of ``rho``.
    :param out_features: outputs per (subset, superset) pair.
    :param depth: hidden layers of each encoder and of ``rho``.
    :param fusion: ``concat`` (default) or ``product`` (element-wise) of ``h_S`` and ``h_V``.
    :param superset: false: drop the superset branch (the subset-only DeepSets baseline).
    :param pool: set pooling of both encoders: ``sum`` (DeepSets), ``mean`` or ``max``.
    :param subset_channel: when ``forward`` gets no ``subset``, the input's last channel is the subset
        indicator (1: the element is in ``S``), as a plain tensor dataset carries it.
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 64,
        out_features: int = 1,
        depth: int = 2,
        fusion: Literal["concat", "product"] = "concat",
        superset: bool = True,
        pool: Literal["sum", "mean", "max"] = "sum",
        subset_channel: bool = True,
    ):
        super().__init__()
        if fusion not in ("concat", "product"):
            raise ValueError(f"fusion must be 'concat' or 'product', got {fusion!r}")
        if pool not in ("sum", "mean", "max"):
            raise ValueError(f"pool must be 'sum', 'mean' or 'max', got {pool!r}")
        self.fusion, self.superset, self.pool, self.subset_channel = fusion, superset, pool, subset_channel
        self.phi_s = _mlp(in_features, hidden, hidden, depth)
        self.phi_v = _mlp(in_features, hidden, hidden, depth) if superset else None
        rho_in = 2 * hidden if superset and fusion == "concat" else hidden
        self.rho = _mlp(rho_in, hidden, out_features, depth)

    def pool_set(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool ``h`` ``(B, N, H)`` over the elements where ``mask`` ``(B, N)`` is True."""
        keep = mask.unsqueeze(-1)
        if self.pool == "max":
            out = h.masked_fill(~keep, float("-inf")).amax(1)
            return torch.where(torch.isneginf(out), torch.zeros_like(out), out)
        total = h.masked_fill(~keep, 0.0).sum(1)
        if self.pool == "mean":
            return total / keep.sum(1).clamp_min(1).to(h.dtype)
        return total

    def forward(
        self, x: torch.Tensor, subset: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` ``(B, N, F)`` the ground set (``(B, N, F + 1)`` with the subset channel), ``subset``
        ``(B, N)`` True for the elements of ``S``, ``mask`` ``(B, N)`` True for real elements of ``V``
        (default: all). Returns ``(B, out_features)``."""
        if subset is None:
            if not self.subset_channel:
                raise ValueError("no subset given and subset_channel is off")
            x, subset = x[..., :-1], x[..., -1] > 0.5
        subset = subset.bool()
        valid = torch.ones_like(subset) if mask is None else mask.bool()
        h_s = self.pool_set(self.phi_s(x), subset & valid)
        if self.phi_v is None:
            return self.rho(h_s)
        h_v = self.pool_set(self.phi_v(x), valid)
        fused = torch.cat([h_s, h_v], -1) if self.fusion == "concat" else h_s * h_v
        return self.rho(fused)


def _mlp(d_in: int, d_hidden: int, d_out: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = d_in
    for _ in range(depth):
        layers += [nn.Linear(width, d_hidden), nn.ReLU()]
        width = d_hidden
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)
