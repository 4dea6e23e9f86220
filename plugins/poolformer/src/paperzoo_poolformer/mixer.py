"""The pooling token mixer of PoolFormer (Yu et al., 2022, Eq. 4).

For a feature map ``T`` of shape ``(B, C, H, W)`` and an odd pool size ``K``::

    T'[:, i, j] = 1 / |N(i, j)| * sum_{(p, q) in N(i, j)} T[:, p, q]  -  T[:, i, j]

where ``N(i, j)`` is the ``K x K`` window centred on ``(i, j)`` clipped to the image, so a border
position averages only the positions that exist (``count_include_pad=False``). The subtraction of the
input is there because the block around the mixer already adds its input back (the residual
connection). The operator has no parameters, is applied to every channel separately, and maps a
constant map to zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Pooling(nn.Module):
    """``AvgPool(K, stride 1, pad K // 2, count_include_pad=False)(x) - x`` on ``(B, C, H, W)`` inputs.

    :param pool_size: the window side ``K`` (odd, so that the output keeps the input's size).
    """

    def __init__(self, pool_size: int = 3):
        super().__init__()
        if pool_size < 1 or pool_size % 2 == 0:
            raise ValueError(f"pool_size must be a positive odd integer, got {pool_size}")
        self.pool_size = pool_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.pool_size
        # Eq. 4: mean over the window that lies inside the image, minus the centre value.
        return F.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False) - x

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}"
