"""``NMSparseLinear``: a Linear trained dense-weight, computing with an N:M sparse weight recomputed by
magnitude at every forward, with the gradient paths of progressive gradient flow.

With ``M`` the magnitude N:M mask of the dense weight ``W`` (:func:`paperzoo_compress.sparsity.nm_mask`)
and ``beta`` in ``[0, 1]`` the decay value:

- ``decay_on="forward"`` (MDGF as the official code computes it): the layer computes with
  ``W_eff = W ⊙ (M + beta (1 - M))`` and the gradient reaching ``W`` is ``dL/dW_eff`` unchanged
  (straight-through). ``beta = 1``: the dense layer; ``beta = 0``: STE (Zhou et al., 2021).
- ``decay_on="gradient"`` (the abstract's "restrict the flow of gradients towards pruned elements"):
  the layer computes with ``W ⊙ M`` and the gradient reaching ``W`` is ``dL/dW_eff ⊙ (M + beta (1 - M))``.
  ``beta = 1``: STE; ``beta = 0``: the gradient of ``W ⊙ M`` (fixed-mask training).
- ``srste_lambda > 0`` adds SR-STE's term ``lambda (1 - M) ⊙ W`` to the gradient (Zhou et al., 2021).

The training schedule (``beta``, the pattern, a dense phase) is set from outside through
:meth:`NMSparseLinear.set_state`; the ``nm_progressive_gradient_flow`` trainer does it every step.
"""

from __future__ import annotations

from typing import Literal

import torch
from paperzoo.checks import check_choice, check_float
from paperzoo_compress.sparsity import check_nm, nm_mask
from torch import nn


class _GradientFlow(torch.autograd.Function):
    """``forward(W) = W * forward_scale``; ``backward(g) = g * grad_scale + decay_term`` (a ``None``
    scale passes ``g`` straight through, a ``None`` term adds nothing)."""

    @staticmethod
    def forward(ctx, weight, forward_scale, grad_scale, decay_term):  # noqa: D102
        ctx.grad_scale, ctx.decay_term = grad_scale, decay_term
        return weight * forward_scale

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        if ctx.grad_scale is not None:
            grad = grad * ctx.grad_scale
        if ctx.decay_term is not None:
            grad = grad + ctx.decay_term
        return grad, None, None, None


class NMSparseLinear(nn.Module):
    """An N:M sparse Linear with decayed gradient flow to its pruned weights.

    :param base: the ``nn.Linear`` it replaces (its parameters are shared, not copied).
    :param n: weights kept per group (target pattern).
    :param m: group size along input channels; must divide ``in_features``.
    :param beta: decay value of pruned weights (1: no pruning effect on that path, 0: binary).
    :param decay_on: ``forward`` (official MDGF: decayed mask value, straight-through gradient) or
        ``gradient`` (binary forward, gradient to pruned weights scaled by ``beta``).
    :param srste_lambda: SR-STE's regularisation ``lambda`` (paper and official code: 2e-4; 0: off).
    """

    def __init__(
        self,
        base: nn.Linear,
        n: int = 2,
        m: int = 4,
        beta: float = 0.0,
        decay_on: Literal["forward", "gradient"] = "forward",
        srste_lambda: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"wraps an nn.Linear, got {type(base).__name__}")
        check_nm(n, m, base.in_features)
        check_float("beta", beta, 0.0, 1.0)
        check_choice("decay_on", decay_on, ("forward", "gradient"))
        check_float("srste_lambda", srste_lambda, 0.0)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        self.n, self.m, self.decay_on, self.srste_lambda = n, m, decay_on, float(srste_lambda)
        self.set_state(beta=beta)

    def set_state(
        self, beta: float = 0.0, n: int | None = None, m: int | None = None, dense: bool = False
    ) -> None:
        """Set the schedule's state: decay value ``beta``, the pattern in force (default: the target
        ``n:m``), or ``dense`` (the dense phase: the plain Linear)."""
        self.beta, self.dense = float(beta), bool(dense)
        self.active = (self.n if n is None else n, self.m if m is None else m)

    def mask(self) -> torch.Tensor:
        """The boolean magnitude mask of the current weight under the active pattern."""
        return nm_mask(self.weight, *self.active)

    def effective_weight(self) -> torch.Tensor:
        """The weight the layer computes with (differentiable to ``weight`` through the chosen gradient path)."""
        if self.dense:
            return self.weight
        mask = self.mask().to(self.weight.dtype)
        decayed = mask + (1 - mask) * self.beta  # the official code's w_b + (1 - w_b) * beta
        forward_scale, grad_scale = (decayed, None) if self.decay_on == "forward" else (mask, decayed)
        term = None
        if self.srste_lambda > 0:
            term = self.srste_lambda * (1 - mask) * self.weight.detach()
        return _GradientFlow.apply(self.weight, forward_scale, grad_scale, term)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, n={self.n}, m={self.m}, "
            f"decay_on={self.decay_on}, srste_lambda={self.srste_lambda}, bias={self.bias is not None}"
        )
