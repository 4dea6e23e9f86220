"""``fake_quant_linear_wint``: a weight-only INT-b fake-quantised Linear with AWQ's activation-aware
per-input-channel scale: ``y = (x / s) @ Q(W diag(s))^T + b``.

Built from a Linear with ``s = 1`` (plain round-to-nearest); ``calibrate(x)`` searches ``s = s_x^alpha``
on calibration inputs ``x`` ``[..., in]`` for this one Linear (and, with ``clip``, the clipping
thresholds) and re-quantises. Folded into the preceding op (as :func:`paperzoo_awq.search.awq_quantize_`
does for a whole model), ``x / s`` costs nothing at inference; here it is kept explicit, so the stored
``weight`` is exactly on the b-bit grid of each group.
"""

from __future__ import annotations

import torch
from paperzoo_compress.calib import mean_abs
from paperzoo_compress.linear import FakeQuantLinear
from paperzoo_compress.quant import fake_quantize
from torch import nn

from paperzoo_awq.search import apply_clip_, search_clip, search_scale


class FakeQuantLinearWInt(FakeQuantLinear):
    """AWQ's scaled, fake-quantised Linear (asymmetric, groups of ``group_size`` input channels): a
    :class:`~paperzoo_compress.linear.FakeQuantLinear` that keeps the float weight and divides its input
    by ``input_scale``."""

    def __init__(self, linear: nn.Linear, bits: int = 4, group_size: int = 128, n_grid: int = 20) -> None:
        super().__init__(linear, bits, group_size, symmetric=False)
        self.n_grid = n_grid
        w = linear.weight.detach().clone()
        self.register_buffer("float_weight", w, persistent=False)
        self.register_buffer("input_scale", torch.ones(w.shape[1], dtype=w.dtype, device=w.device))
        self.alpha = 0.0

    def quantizer(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quantize(w, self.bits, self.group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x / self.input_scale, self.weight, self.bias)

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, clip: bool = True) -> float:
        """Search the scale (and clipping) on inputs ``x``, re-quantise; returns the chosen ``alpha``."""
        probe = nn.Linear(self.in_features, self.out_features, bias=False).to(self.float_weight)
        probe.weight.copy_(self.float_weight)
        alpha, s, _ = search_scale(probe, [probe], x.to(probe.weight), self.quantizer, self.n_grid)
        probe.weight.mul_(s.view(1, -1))
        if clip:
            apply_clip_(probe, search_clip(probe.weight, x / s, self.quantizer, self.group_size, self.n_grid))
        self.input_scale.copy_(s)
        self.requantize_(probe.weight)
        self.alpha = alpha
        return alpha


def awq_linear_error(linear: nn.Linear, x: torch.Tensor, bits: int, group_size: int) -> dict[str, float]:
    """Mean squared output error on ``x`` of round-to-nearest and of the calibrated layer (a probe)."""
    ref = linear(x)
    rtn = nn.functional.linear(x, fake_quantize(linear.weight, bits, group_size), linear.bias)
    layer = FakeQuantLinearWInt(linear, bits, group_size)
    layer.calibrate(x)
    err = {"rtn": (rtn - ref).pow(2).mean().item(), "awq": (layer(x) - ref).pow(2).mean().item()}
    return {**err, "alpha": layer.alpha, "x_mean_max": float(mean_abs(x).max())}
