"""CRMSNorm: RMSNorm of a zero-mean vector stored compressed to its first ``d - 1`` coordinates."""

from __future__ import annotations

import torch
from torch import nn


def compress(x: torch.Tensor) -> torch.Tensor:
    """The first ``d - 1`` coordinates of a zero-mean ``x`` (the last one is minus their sum)."""
    return x[..., :-1]


def decompress(c: torch.Tensor) -> torch.Tensor:
    """The zero-mean vector whose compression is ``c``: ``c`` with ``-sum(c)`` appended."""
    return torch.cat([c, -c.sum(-1, keepdim=True)], dim=-1)


class CRMSNorm(nn.Module):
    """``c / sqrt((sum(c^2) + sum(c)^2) / (n + 1) + eps) * weight`` over the last dimension (``n``).

    For a zero-mean ``x`` of ``d = n + 1`` features, ``CRMSNorm(compress(x)) == compress(RMSNorm(x))``.

    :param dim: the compressed width ``n`` (the model width minus one).
    :param eps: added to the mean square, as RMSNorm.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        square = c.pow(2).sum(-1, keepdim=True) + c.sum(-1, keepdim=True).pow(2)
        return self.weight * (c * torch.rsqrt(square / (c.shape[-1] + 1) + self.eps))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"
