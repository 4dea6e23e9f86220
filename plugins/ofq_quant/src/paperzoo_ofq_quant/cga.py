"""Confidence-guided annealing (CGA): late in training only the weights whose StatsQ pre-round value
lies within ``boundary_range`` of a rounding boundary (low confidence: they may still flip) keep
training; every other (confident) weight is frozen: its gradient is zeroed and its value restored after
the optimizer step (so momentum and weight decay cannot move it either), as in the official loop."""

from __future__ import annotations

import torch
from torch import nn

from paperzoo_ofq_quant.quant import statsq_pre_round


@torch.no_grad()
def cga_freeze_mask(w: torch.Tensor, bits: int, boundary_range: float = 0.005) -> torch.Tensor:
    """1.0 where a weight is frozen (its pre-round value ``x`` has ``|x - i - 1/2| > boundary_range``
    for every boundary ``i + 1/2`` between the lowest and highest level in use), 0.0 where it trains."""
    x = statsq_pre_round(w, bits)
    levels = torch.round(x)
    trains = torch.zeros_like(w)
    for i in range(int(levels.min()), int(levels.max())):
        trains += ((x - i <= 0.5 + boundary_range) & (x - i >= 0.5 - boundary_range)).to(w.dtype)
    return 1.0 - trains


class CGA:
    """Applies CGA to a set of Linear modules around one optimizer step: call :meth:`after_backward`
    between ``backward`` and ``step``, and :meth:`after_step` after ``step``."""

    def __init__(self, modules: dict[str, nn.Linear], bits: int, boundary_range: float = 0.005):
        self.modules, self.bits, self.boundary_range = modules, bits, boundary_range
        self.saved: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.frozen_fraction = 0.0

    @torch.no_grad()
    def after_backward(self) -> None:
        frozen = total = 0
        self.saved = {}
        for name, m in self.modules.items():
            mask = cga_freeze_mask(m.weight, self.bits, self.boundary_range)
            if m.weight.grad is not None:
                m.weight.grad.mul_(1 - mask)
            self.saved[name] = (mask, m.weight.detach().clone())
            frozen, total = frozen + int(mask.sum()), total + mask.numel()
        self.frozen_fraction = frozen / max(total, 1)

    @torch.no_grad()
    def after_step(self) -> None:
        for name, (mask, before) in self.saved.items():
            w = self.modules[name].weight
            w.copy_(w * (1 - mask) + before * mask)
        self.saved = {}
