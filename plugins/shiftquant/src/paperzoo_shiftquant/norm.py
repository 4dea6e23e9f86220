"""L1 normalisation (Guo et al., 2024, Sec. 4): LayerNorm with the mean absolute deviation.

``y = (x - mu) / (sqrt(pi/2) * mean|x - mu| + eps) * weight + bias`` over the normalised dimensions.
For Gaussian ``x``, ``E|x - mu| = sigma sqrt(2/pi)``, so the denominator estimates the standard
deviation without squares or a square root (integer friendly). The backward pass is written out:
with ``c = x - mu``, ``s = k mean|c| + eps``, ``k = sqrt(pi/2)``, ``h = c / s`` and ``g`` the gradient
of ``h``: ``dL/dc = (g - k mean(g h) sign(c)) / s`` and ``dL/dx = dL/dc - mean(dL/dc)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from paperzoo.checks import check_float
from torch import nn

K = math.sqrt(math.pi / 2)


class _L1NormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
        c = x - x.mean(dim=dims, keepdim=True)
        s = K * c.abs().mean(dim=dims, keepdim=True) + eps
        h = c / s
        ctx.save_for_backward(c, s, h)
        ctx.dims = dims
        return h

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        c, s, h = ctx.saved_tensors
        dims = ctx.dims
        dc = (g - K * (g * h).mean(dim=dims, keepdim=True) * torch.sign(c)) / s
        return dc - dc.mean(dim=dims, keepdim=True), None, None


def l1_normalize(x: torch.Tensor, ndim: int = 1, eps: float = 1e-5) -> torch.Tensor:
    """``(x - mu) / (sqrt(pi/2) mean|x - mu| + eps)`` over the last ``ndim`` dimensions."""
    return _L1NormFunction.apply(x, tuple(range(-ndim, 0)), eps)


class L1Norm(nn.Module):
    """Replaces an ``nn.LayerNorm``, reusing its affine parameters (so an optimizer built on them
    still works) and its normalised shape.

    :param norm: the ``nn.LayerNorm`` it replaces.
    :param eps: added to the denominator (default: the LayerNorm's ``eps``).
    """

    def __init__(self, norm: nn.LayerNorm, eps: float | None = None):
        super().__init__()
        if not isinstance(norm, nn.LayerNorm):
            raise TypeError(f"replaces an nn.LayerNorm, got {type(norm).__name__}")
        if eps is not None:
            check_float("eps", eps, 0.0)
        self.normalized_shape = tuple(norm.normalized_shape)
        self.eps = float(norm.eps if eps is None else eps)
        self.weight = norm.weight
        self.bias = norm.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = l1_normalize(x, len(self.normalized_shape), self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
