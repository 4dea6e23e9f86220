"""Weight quantisers of OFQ: StatsQ (scale from weight statistics, the method) and LSQ (learned scale,
the baseline the paper finds oscillation-prone), plus the Linear that applies either to its weight.

StatsQ (per output row): ``s = 2 mean|w|``, ``c = clip(w / s, -1, 1 - 1e-6)``,
``k = round(c n - 1/2)`` with ``n = 2^(b-1)`` and ``Q(w) = s (k + 1/2) / n``: the ``2^b`` symmetric
levels ``s (k + 1/2) / n``, ``k = -n .. n-1`` (no zero level). The scale is detached and the gradient
to ``w`` is the identity (straight-through), as in the official code.
"""

from __future__ import annotations

import torch
from paperzoo.checks import check_int
from paperzoo.errors import ParamError
from torch import nn

CLIP = 1.0 - 1e-6  # the official clip: c in [-clip_val/2, clip_val/2 - 1e-6] with clip_val = 2


def check_bits(bits: int, name: str = "bits") -> int:
    """``bits`` must be an integer from 2 to 8; returns it. (At 1 bit the official rounding maps
    ``c = -1`` to a third level, ``round(-1.5) = -2``, so 1 bit is refused.)"""
    check_int(name, bits, 2)
    if bits > 8:
        raise ParamError(name, f"{bits!r}; accepted: an integer from 2 to 8")
    return bits


def statsq_scale(w: torch.Tensor) -> torch.Tensor:
    """StatsQ's scale ``2 mean|w|`` per row of a 2-D weight (shape ``(rows, 1)``), detached."""
    return (2 * w.detach().abs().mean(dim=1, keepdim=True)).clamp_min(1e-12)


def statsq_pre_round(w: torch.Tensor, bits: int) -> torch.Tensor:
    """``c n - 1/2``: the value StatsQ rounds (the official ``b4_round``)."""
    n = float(2 ** (bits - 1))
    return torch.clamp(w / statsq_scale(w), -1.0, CLIP) * n - 0.5


def statsq_int(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The integer level ``k`` in ``[-2^(b-1), 2^(b-1) - 1]`` of every weight."""
    return torch.round(statsq_pre_round(w.detach(), bits))


def statsq_quantize(w: torch.Tensor, bits: int) -> torch.Tensor:
    """StatsQ fake quantisation of a 2-D weight with the identity straight-through gradient."""
    n = float(2 ** (bits - 1))
    q = statsq_scale(w) * ((statsq_int(w, bits) + 0.5) / n)
    return q.detach() - w.detach() + w


class StatsQuantizer(nn.Module):
    """``statsq_quantizer``: fake-quantises a weight tensor (last dim = input features; leading dims
    are flattened into rows) with StatsQ's per-row statistical scale. No parameters.

    :param bits: weight bit width (2 to 8).
    """

    def __init__(self, bits: int = 2):
        super().__init__()
        self.bits = check_bits(bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        rows = w.reshape(-1, w.shape[-1])
        return statsq_quantize(rows, self.bits).reshape(w.shape)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


def lsq_bounds(bits: int) -> tuple[int, int]:
    """Signed LSQ integer range ``[-2^(b-1), 2^(b-1) - 1]``."""
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    return (x - x * scale).detach() + x * scale


def lsq_quantize(w: torch.Tensor, s: torch.Tensor, bits: int) -> torch.Tensor:
    """LSQ fake quantisation with per-row learnable scale ``s`` (shape ``(rows,)``), gradient scale
    ``1 / sqrt(Qp * in_features)`` and the clipped straight-through round, as the official baseline."""
    lo, hi = lsq_bounds(bits)
    g = 1.0 / (max(hi, 1) * w.shape[-1]) ** 0.5
    s_min = torch.full_like(s, 1e-5)
    s = torch.where(s > 1e-5, s, s_min).detach() - s.detach() + s  # clip value, keep the gradient
    scale = _grad_scale(s, g).unsqueeze(-1)
    x = torch.clamp(w / scale, lo, hi)
    return ((x.round() - x).detach() + x) * scale


def lsq_init(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The official LSQ initial scale ``2 mean|w| / sqrt(Qp)`` per row."""
    return 2 * w.detach().abs().mean(dim=-1) / max(lsq_bounds(bits)[1], 1) ** 0.5


class QuantLinear(nn.Linear):
    """An ``nn.Linear`` whose weight is fake-quantised by StatsQ (``quantizer="statsq"``) or LSQ
    (``"lsq"``, with a learnable per-row scale ``s``). Built in place from a Linear by
    :func:`quantize_linears`, so the weight and bias stay the same Parameter objects."""

    bits: int
    quantizer: str

    def quantized_weight(self) -> torch.Tensor:
        if self.quantizer == "lsq":
            return lsq_quantize(self.weight, self.s, self.bits)
        return statsq_quantize(self.weight, self.bits)

    def weight_int(self) -> torch.Tensor:
        """The integer level of every weight (what the oscillation counter tracks)."""
        if self.quantizer == "lsq":
            lo, hi = lsq_bounds(self.bits)
            return torch.round(torch.clamp(self.weight.detach() / self.s.detach().unsqueeze(-1), lo, hi))
        return statsq_int(self.weight, self.bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bits={self.bits}, quantizer={self.quantizer}"


def quantize_linears(
    model: nn.Module, bits: int, quantizer: str = "statsq", skip: tuple[str, ...] = ()
) -> list[str]:
    """Turn every ``nn.Linear`` of ``model`` (except modules named in ``skip``) into a
    :class:`QuantLinear` in place; returns the names converted."""
    names = []
    for name, module in model.named_modules():
        if type(module) is not nn.Linear or name in skip:
            continue
        module.__class__ = QuantLinear
        module.bits, module.quantizer = bits, quantizer
        if quantizer == "lsq":
            module.s = nn.Parameter(lsq_init(module.weight, bits))
        names.append(name)
    return names


def quant_linears(model: nn.Module) -> dict[str, QuantLinear]:
    """The :class:`QuantLinear` modules of ``model`` by name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, QuantLinear)}
