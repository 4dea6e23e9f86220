"""Elastic slicing views: prefixes of a weight that share the parent's storage (no copies), so that
gradients through a view reach the parent parameter."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def prefix_view(linear: nn.Linear | torch.Tensor, m: int, *, axis: int = 1) -> torch.Tensor:
    """The first ``m`` columns (``axis=1``: ``W[:, :m]``, input features) or rows (``axis=0``:
    ``W[:m]``, output features) of a linear layer's weight (or of a 2-D tensor), as a view."""
    weight = linear.weight if isinstance(linear, nn.Module) else linear
    if weight.dim() != 2 or axis not in (0, 1):
        raise ValueError(f"need a 2-D weight and axis 0 or 1, got shape {tuple(weight.shape)}, axis {axis}")
    if not 1 <= m <= weight.shape[axis]:
        raise ValueError(f"prefix m={m} outside [1, {weight.shape[axis]}] of axis {axis}")
    return weight.narrow(axis, 0, m)


def prefix_linear(x: torch.Tensor, linear: nn.Linear, m_in: int | None = None, m_out: int | None = None):
    """``linear`` restricted to its first ``m_in`` inputs and first ``m_out`` outputs:
    ``x[..., :m_in] @ W[:m_out, :m_in]^T + b[:m_out]``, through views of ``W`` and ``b``.

    ``m_in`` defaults to ``x``'s last size when that is a prefix width, ``m_out`` to all outputs.
    """
    out_features, in_features = linear.weight.shape
    m_in = min(x.shape[-1], in_features) if m_in is None else m_in
    m_out = out_features if m_out is None else m_out
    weight = prefix_view(prefix_view(linear, m_in, axis=1), m_out, axis=0)
    bias = None if linear.bias is None else linear.bias[:m_out]
    return F.linear(x[..., :m_in], weight, bias)


class PrefixLinear(nn.Linear):
    """An ``nn.Linear`` that accepts any input prefix width ``m <= in_features`` (it uses ``W[:, :m]``)
    and produces the first ``out_width`` outputs (``W[:out_width]``, ``b[:out_width]``).

    :param out_width: active output width (default all ``out_features``); settable at any time.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, out_width: int | None = None):
        super().__init__(in_features, out_features, bias=bias)
        self.out_width = out_features if out_width is None else int(out_width)
        if not 1 <= self.out_width <= out_features:
            raise ValueError(f"out_width must be in [1, {out_features}], got {out_width}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > self.in_features:
            raise ValueError(f"input width {x.shape[-1]} exceeds in_features {self.in_features}")
        return prefix_linear(x, self, x.shape[-1], self.out_width)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, out_width={self.out_width}"
