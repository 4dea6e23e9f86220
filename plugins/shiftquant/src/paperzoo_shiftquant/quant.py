"""ShiftQuant (Guo et al., 2024, Sec. 3): group quantisation with power-of-two group scales.

A tensor ``x`` is split into channels along ``dim``. With ``q = 2**(bits-1) - 1`` and the tensor's
largest magnitude ``M``, the top scale is the smallest power of two that covers ``M``:
``s_0 = 2**e_0``, ``e_0 = ceil(log2(M / q))``. Channel ``c`` with largest magnitude ``m_c`` gets the
smallest power of two covering it, ``e_c = ceil(log2(m_c / q))``, clamped to the ``num_groups``
exponents ``e_0, e_0 - 1, ..., e_0 - num_groups + 1``. Channels sharing an exponent form a group:
grouping by magnitude is a per-channel shift, so no channel is moved in memory, and an integer
product of two such tensors needs only bit shifts to reconcile the groups. Nothing is clipped
(``m_c <= q s_c``), so rounding to nearest errs by at most ``s_c / 2`` and stochastic rounding by less
than ``s_c``; stochastic rounding is unbiased.

The naive baseline, :func:`per_tensor_quantize`, uses one scale ``M / q`` for the whole tensor.
"""

from __future__ import annotations

from typing import Literal

import torch

Rounding = Literal["nearest", "stochastic"]


def qmax(bits: int) -> int:
    """Largest integer of a symmetric signed ``bits``-bit grid (``-qmax .. qmax``)."""
    return 2 ** (bits - 1) - 1


def round_values(x: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    """Round to the nearest integer (ties to even) or stochastically: ``floor(x) + Bernoulli(frac)``,
    whose expectation is ``x`` exactly."""
    if rounding == "nearest":
        return torch.round(x)
    if rounding == "stochastic":
        low = torch.floor(x)
        return low + (torch.rand_like(x) < (x - low)).to(x.dtype)
    raise ValueError(f"rounding {rounding!r}; accepted: 'nearest' or 'stochastic'")


def _covering_exponent(m: torch.Tensor, q: int) -> torch.Tensor:
    """Smallest integer ``e`` with ``m <= q * 2**e`` (computed in log2, then corrected exactly:
    multiplying by a power of two is exact in floating point)."""
    e = torch.ceil(torch.log2(m / q))
    e = e + (m > q * torch.exp2(e)).to(e.dtype)
    return e - (m <= q * torch.exp2(e - 1)).to(e.dtype)


def shift_scales(x: torch.Tensor, bits: int, num_groups: int, dim: int = -1) -> torch.Tensor:
    """Per-channel power-of-two scales of ShiftQuant, shaped to broadcast against ``x``.

    :param x: the tensor to quantise.
    :param bits: bit width (>= 2).
    :param num_groups: number of distinct scales (power-of-two steps below the top one).
    :param dim: the channel dimension; every other dimension is reduced for the channel maxima.
    """
    dim = dim % x.dim()
    others = [d for d in range(x.dim()) if d != dim]
    m = x.detach().abs().amax(dim=others, keepdim=True) if others else x.detach().abs()
    q = qmax(bits)
    top = m.max()
    if not torch.isfinite(top) or top == 0:
        return torch.ones_like(m)
    e0 = _covering_exponent(top, q)
    e = _covering_exponent(m.clamp_min(torch.finfo(m.dtype).tiny), q)
    return torch.exp2(e.clamp(min=e0 - (num_groups - 1), max=e0))


def shiftquant(
    x: torch.Tensor, bits: int = 4, num_groups: int = 8, dim: int = -1, rounding: Rounding = "nearest"
) -> torch.Tensor:
    """Quantise-dequantise ``x`` with ShiftQuant (values on the grid ``s_c * {-q..q}``)."""
    s = shift_scales(x, bits, num_groups, dim)
    q = qmax(bits)
    return round_values(x / s, rounding).clamp(-q, q) * s


def per_tensor_quantize(x: torch.Tensor, bits: int = 4, rounding: Rounding = "nearest") -> torch.Tensor:
    """Naive baseline: one scale ``max|x| / q`` for the whole tensor."""
    q = qmax(bits)
    top = x.detach().abs().max()
    if not torch.isfinite(top) or top == 0:
        return x.clone()
    s = top / q
    return round_values(x / s, rounding).clamp(-q, q) * s
