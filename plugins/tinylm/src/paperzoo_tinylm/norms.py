"""The norm slot: RMSNorm (registered as ``rms_norm``), LayerNorm, identity, or any registered norm layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last dimension, in the input's dtype.

    :param dim: size of the normalised (last) dimension.
    :param eps: added to the mean square.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def build_norm(
    name: str, dim: int, eps: float, bias: bool, params: dict[str, Any] | None = None
) -> nn.Module:
    """A norm of ``dim`` features: ``rms_norm``, ``layer_norm`` (with a bias when ``bias``), ``identity``,
    or a registered layer: one that wraps a module (its spec has ``example_base``) wraps
    ``nn.LayerNorm(dim, eps)``, any other is built as ``create(name, dim, **params)``."""
    params = dict(params or {})
    if name == "rms_norm" and not params:
        return RMSNorm(dim, eps)
    if name == "layer_norm" and not params:
        return nn.LayerNorm(dim, eps=eps, bias=bias)
    if name == "identity":
        return nn.Identity()
    import paperzoo

    spec = paperzoo.get(name, "layer")
    if spec.example_base:
        return paperzoo.create(spec.qualified_name, nn.LayerNorm(dim, eps=eps, bias=bias), **params)
    return paperzoo.create(spec.qualified_name, dim, **params)
