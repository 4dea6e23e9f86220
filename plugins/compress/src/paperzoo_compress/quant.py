"""Round-to-nearest fake quantisation of weights: per tensor, per output channel or per group of input
channels, symmetric or asymmetric, any bit width.

``fake_quantize(w, bits, group_size, symmetric)`` returns ``dequant(quant(w))`` in ``w``'s dtype:

* asymmetric (zero point): per group, ``scale = max(max - min, 1e-5) / (2^b - 1)``,
  ``zero = clamp(-round(min / scale), 0, 2^b - 1)``, ``q = clamp(round(w / scale) + zero, 0, 2^b - 1)``,
  ``w_hat = (q - zero) * scale`` (the form of AWQ's and GPTQ's weight quantisers);
* symmetric: ``scale = max(absmax, 1e-5) / (2^(b-1) - 1)``, ``q = clamp(round(w / scale), -2^(b-1),
  2^(b-1) - 1)``, ``w_hat = q * scale``.

``group_size``: ``-1`` one group per output row (per channel), ``0`` the whole tensor, ``g > 0`` groups
of ``g`` consecutive input channels of each row (``in_features`` must be a multiple of ``g``).
"""

from __future__ import annotations

import torch
from paperzoo.errors import ParamError

SCALE_FLOOR = 1e-5


def check_quant_args(bits: int, group_size: int) -> None:
    """Raise :class:`~paperzoo.errors.ParamError` (a ``ValueError``) for an unsupported bit width or group
    size."""
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 16:
        raise ParamError("bits", f"{bits!r}; accepted: an integer in [2, 16]")
    if not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < -1:
        raise ParamError("group_size", f"{group_size!r}; accepted: -1 (per channel), 0 (per tensor) or > 0")


def _grouped(w: torch.Tensor, group_size: int) -> torch.Tensor:
    if w.dim() != 2:
        raise ValueError(f"weight of shape {tuple(w.shape)}; accepted: a 2-D [out, in] tensor")
    if group_size == 0:
        return w.reshape(1, -1)
    if group_size == -1:
        return w
    if w.shape[1] % group_size:
        raise ValueError(
            f"group_size: {group_size} does not divide in_features {w.shape[1]}; "
            "accepted: a divisor of in_features, -1 or 0"
        )
    return w.reshape(-1, group_size)


def quant_params(
    w: torch.Tensor, bits: int = 4, group_size: int = -1, symmetric: bool = False, clip_ratio: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group ``(scale, zero)``, each ``[n_groups, 1]`` (``zero`` is all zeros when symmetric). With
    ``clip_ratio < 1`` each group's range (``min``, ``max`` or ``absmax``) is scaled by it first: values
    outside the shrunk grid clip (the clipping searches of AWQ and Q-VLM)."""
    check_quant_args(bits, group_size)
    if not 0.0 < clip_ratio <= 1.0:
        raise ParamError("clip_ratio", f"{clip_ratio!r}; accepted: a number in (0, 1]")
    g = _grouped(w, group_size)
    if symmetric:
        absmax = g.abs().amax(dim=1, keepdim=True) * clip_ratio
        scale = absmax.clamp(min=SCALE_FLOOR) / (2 ** (bits - 1) - 1)
        return scale, torch.zeros_like(scale)
    hi, lo = g.amax(dim=1, keepdim=True) * clip_ratio, g.amin(dim=1, keepdim=True) * clip_ratio
    q_max = 2**bits - 1
    scale = (hi - lo).clamp(min=SCALE_FLOOR) / q_max
    zero = (-torch.round(lo / scale)).clamp(0, q_max)
    return scale, zero


def quantize(
    w: torch.Tensor, bits: int = 4, group_size: int = -1, symmetric: bool = False, clip_ratio: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer codes ``q`` (``w``'s shape, in ``w``'s dtype, integral values), ``scale`` and ``zero``."""
    scale, zero = quant_params(w, bits, group_size, symmetric, clip_ratio)
    g = _grouped(w, group_size)
    if symmetric:
        q = torch.clamp(torch.round(g / scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    else:
        q = torch.clamp(torch.round(g / scale) + zero, 0, 2**bits - 1)
    return q.reshape(w.shape), scale, zero


def dequantize(
    q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, group_size: int = -1
) -> torch.Tensor:
    """``(q - zero) * scale`` per group, in ``q``'s shape."""
    g = _grouped(q, group_size)
    return ((g - zero) * scale).reshape(q.shape)


def fake_quantize(
    w: torch.Tensor, bits: int = 4, group_size: int = -1, symmetric: bool = False, clip_ratio: float = 1.0
) -> torch.Tensor:
    """``dequantize(quantize(w))``: the weight the quantised layer computes with."""
    q, scale, zero = quantize(w, bits, group_size, symmetric, clip_ratio)
    return dequantize(q, scale, zero, group_size)
