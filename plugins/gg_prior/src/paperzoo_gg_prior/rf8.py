"""RF8, the paper's 8-bit "residual floating-point" format, as a fake quantiser.

A value is kept as the sum of its first two signed powers of two (as in the authors' ``rf8.py``)::

    e1 = round(log2 |w|),       q1 = sign(w) 2^e1           (the nearest power of two in log scale)
    e2 = round(log2 |w - q1|),  q2 = sign(w - q1) 2^e2      (the same, on the residual)
    rf8(w) = q1 + [e1 - e2 <= n] q2

Because ``|w - q1| <= (sqrt 2 - 1) 2^e1``, the gap ``e1 - e2`` is at least 1; with ``n = 4`` it takes 4
values (2 bits), so a code is a sign, an exponent, the residual's sign and the gap (the residual is
dropped when the gap exceeds ``n``). Like the authors' code, the exponent is not clamped to a range
(the simulation assumes it fits the bits left for it), and 0 stays 0. Multiplying by a power of two
commutes with it: ``rf8(2^k w) = 2^k rf8(w)``.
"""

from __future__ import annotations

import torch
from paperzoo.checks import check_int
from torch import nn
from torch.nn import functional as F


def _nearest_power_of_two(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    exponent = torch.round(torch.log2(x.abs()))
    return torch.sign(x) * torch.pow(2.0, exponent), exponent


def rf8_quantize(w: torch.Tensor, max_gap: int = 4) -> torch.Tensor:
    """The RF8 value of every element of ``w`` (no gradient; see :func:`rf8_fake_quant` for the STE)."""
    with torch.no_grad():
        q1, e1 = _nearest_power_of_two(w)
        q2, e2 = _nearest_power_of_two(w - q1)
        keep = (e1 - e2) <= max_gap  # False for w = 0 or a power of two (nan or inf gaps): q2 = 0 there
        return torch.where(keep, q1 + q2, q1)


def rf8_fake_quant_tensor(w: torch.Tensor, max_gap: int = 4) -> torch.Tensor:
    """RF8 in the forward pass, identity in the backward pass (straight-through estimator)."""
    return w + (rf8_quantize(w, max_gap) - w).detach()


class RF8FakeQuantLinear(nn.Module):
    """An ``nn.Linear`` whose weight (and bias) are RF8-quantised in the forward pass.

    The paper quantises the parameters only (not the activations) before inference; here the full
    precision weight is kept and trained through a straight-through estimator, so the layer also serves
    quantisation-aware fine-tuning. :meth:`quantized_weight` gives what would be stored.

    :param base: the ``nn.Linear`` it wraps (its parameters are shared, not copied).
    :param max_gap: the largest exponent gap ``e1 - e2`` whose residual is kept (authors' ``n = 4``).
    :param quantize_bias: quantise the bias too (the authors' code quantises every parameter).
    """

    def __init__(self, base: nn.Linear, max_gap: int = 4, quantize_bias: bool = True):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"wraps an nn.Linear, got {type(base).__name__}")
        check_int("max_gap", max_gap, 1)
        self.base, self.max_gap, self.quantize_bias = base, max_gap, quantize_bias

    def quantized_weight(self) -> torch.Tensor:
        return rf8_quantize(self.base.weight, self.max_gap)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = rf8_fake_quant_tensor(self.base.weight, self.max_gap)
        bias = self.base.bias
        if bias is not None and self.quantize_bias:
            bias = rf8_fake_quant_tensor(bias, self.max_gap)
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return f"max_gap={self.max_gap}, quantize_bias={self.quantize_bias}"
