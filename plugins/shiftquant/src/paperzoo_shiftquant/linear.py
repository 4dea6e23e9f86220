"""``ShiftQuantLinear``: a Linear layer trained with sub-8-bit integer arithmetic, simulated.

Forward: the weight (channels = output rows) and the input (channels = input features) are fake
quantised with ShiftQuant and rounding to nearest; the straight-through estimator passes their
gradients unchanged (nothing is clipped, so the STE needs no mask). Backward: the gradient of the
output, the one tensor that feeds both backward products (``dX = G W_q`` and ``dW = G^T X_q``), is
quantised with ShiftQuant (channels = output features) and stochastic rounding, or, for comparison,
with one per-tensor scale (``grad_quant="per_tensor"``) or not at all (``"none"``).
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_choice, check_int
from paperzoo.errors import ParamError
from torch import nn
from torch.nn import functional as F

from paperzoo_shiftquant.quant import per_tensor_quantize, shiftquant

GRAD_QUANTS = ("shiftquant", "per_tensor", "none")
ROUNDINGS = ("stochastic", "nearest")


def check_quant_params(bits: int, num_groups: int, grad_quant: str, grad_rounding: str) -> None:
    """Range errors name the parameter and what is accepted."""
    check_int("bits", bits, 2)
    if bits > 16:
        raise ParamError("bits", f"{bits!r}; accepted: an integer from 2 to 16")
    check_int("num_groups", num_groups, 1)
    check_choice("grad_quant", grad_quant, GRAD_QUANTS)
    check_choice("grad_rounding", grad_rounding, ROUNDINGS)


class _QuantizeGradient(torch.autograd.Function):
    """Identity forward; the backward quantises the incoming gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, config: tuple) -> torch.Tensor:
        ctx.config = config
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        mode, bits, num_groups, rounding = ctx.config
        if mode == "shiftquant":
            grad = shiftquant(grad, bits, num_groups, dim=-1, rounding=rounding)
        elif mode == "per_tensor":
            grad = per_tensor_quantize(grad, bits, rounding=rounding)
        return grad, None


def quantize_gradient(x: torch.Tensor, mode: str, bits: int, num_groups: int, rounding: str) -> torch.Tensor:
    """``x`` unchanged; the gradient flowing back through it is quantised as ``mode`` says."""
    if mode == "none":
        return x
    return _QuantizeGradient.apply(x, (mode, bits, num_groups, rounding))


def ste(x: torch.Tensor, quantised: torch.Tensor) -> torch.Tensor:
    """``quantised`` in the forward pass, the identity's gradient in the backward pass."""
    return x + (quantised - x).detach()


class ShiftQuantLinear(nn.Module):
    """Wraps an ``nn.Linear`` (its parameters are reused, so an optimizer built on them still works).

    :param base: the ``nn.Linear`` it wraps.
    :param bits: bit width of weights, activations and gradients (the paper: 4 to 8).
    :param num_groups: power-of-two groups of ShiftQuant.
    :param grad_quant: ``shiftquant`` (the method), ``per_tensor`` (naive baseline) or ``none``.
    :param grad_rounding: ``stochastic`` (the method) or ``nearest``.
    :param quantize_forward: fake-quantise weight and input in the forward pass.
    """

    def __init__(
        self,
        base: nn.Linear,
        bits: int = 4,
        num_groups: int = 8,
        grad_quant: str = "shiftquant",
        grad_rounding: str = "stochastic",
        quantize_forward: bool = True,
    ):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"wraps an nn.Linear, got {type(base).__name__}")
        check_quant_params(bits, num_groups, grad_quant, grad_rounding)
        self.base = base
        self.bits, self.num_groups = bits, num_groups
        self.grad_quant, self.grad_rounding = grad_quant, grad_rounding
        self.quantize_forward = bool(quantize_forward)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.base.weight
        if self.quantize_forward:
            w = ste(w, shiftquant(w, self.bits, self.num_groups, dim=0))
            x = ste(x, shiftquant(x, self.bits, self.num_groups, dim=-1))
        y = F.linear(x, w, self.base.bias)
        return quantize_gradient(y, self.grad_quant, self.bits, self.num_groups, self.grad_rounding)

    def extra_repr(self) -> str:
        return (
            f"bits={self.bits}, num_groups={self.num_groups}, grad_quant={self.grad_quant}, "
            f"grad_rounding={self.grad_rounding}, quantize_forward={self.quantize_forward}"
        )
