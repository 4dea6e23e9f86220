"""RepBN and progressive re-parameterized BatchNorm (PRepBN), SLAB Sec. 3.1.

``RepBN(x) = BN(x) + eta * x`` over the last (feature) dimension, statistics over every other
dimension. ``PRepBN(x) = gamma * LN(x) + (1 - gamma) * RepBN(x)`` during training, where ``gamma``
stays 1 for ``warmup`` training forwards and then decays linearly from ``r0`` to 0 over
``total_steps`` training forwards (one decrement per training-mode forward, as the official code
counts). In eval mode only RepBN is used, and since an eval-mode RepBN is a per-feature affine it folds
into the Linear that reads it (:meth:`PRepBN.fold_into`).
"""

from __future__ import annotations

import torch
from torch import nn


class RepBN(nn.Module):
    """``BN(x) + eta * x``, BatchNorm over the last dimension of ``(..., C)`` inputs.

    :param features: ``C``.
    :param eta_init: initial value of the learnable scalar ``eta`` (the paper's 1).
    :param eps: BatchNorm epsilon.
    :param momentum: BatchNorm running-statistics momentum.
    """

    def __init__(self, features: int, eta_init: float = 1.0, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eta = nn.Parameter(torch.full((1,), float(eta_init)))
        self.bn = nn.BatchNorm1d(features, eps=eps, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        return (self.bn(flat) + self.eta * flat).reshape(x.shape)

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The eval-mode map as ``(scale, shift)``: ``RepBN(x) = scale * x + shift`` per feature."""
        from paperzoo_tinylm.fold import norm_affine

        scale, shift = norm_affine(self.bn)
        return scale + self.eta.detach(), shift


class PRepBN(nn.Module):
    """A LayerNorm replacement that hands over progressively from LayerNorm to RepBN.

    :param norm: the replaced LayerNorm (kept and used as the ``LN`` branch; its last normalised
        dimension sizes RepBN).
    :param total_steps: training forwards over which ``gamma`` decays from ``r0`` to 0 (the official
        DeiT recipe: 60000; about the whole training run).
    :param warmup: training forwards of pure LayerNorm before the decay starts (official: 0).
    :param r0: ``gamma`` at the start of the decay (official: 1).
    :param eta_init: RepBN's initial ``eta``.
    """

    def __init__(
        self,
        norm: nn.Module,
        total_steps: int = 60000,
        warmup: int = 0,
        r0: float = 1.0,
        eta_init: float = 1.0,
    ):
        super().__init__()
        shape = getattr(norm, "normalized_shape", None)
        if not shape:
            raise ValueError(f"PRepBN replaces a LayerNorm; got {type(norm).__name__}")
        if int(total_steps) < 1 or int(warmup) < 0:
            raise ValueError(f"total_steps must be >= 1 and warmup >= 0; got {total_steps}, {warmup}")
        self.ln = norm
        self.repbn = RepBN(int(shape[-1]), eta_init=eta_init)
        self.r0 = float(r0)
        self.register_buffer("warm", torch.tensor(int(warmup)))
        self.register_buffer("remaining", torch.tensor(int(total_steps)))
        self.register_buffer("total_steps", torch.tensor(int(total_steps)))

    @property
    def gamma(self) -> float:
        """The LayerNorm weight the next training forward uses (1 during warm-up)."""
        if int(self.warm) > 0:
            return 1.0
        return self.r0 * int(self.remaining) / int(self.total_steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.repbn(x)
        if int(self.warm) > 0:
            self.warm.sub_(1)
            return self.ln(x)
        gamma = self.gamma
        if int(self.remaining) > 0:
            self.remaining.sub_(1)
        if gamma == 0.0:
            return self.repbn(x)
        return gamma * self.ln(x) + (1.0 - gamma) * self.repbn(x)

    @torch.no_grad()
    def fold_into(self, *linears: nn.Linear, add_bias: bool = True) -> nn.Module:
        """Fold the eval-mode RepBN into every Linear that reads this norm's output, in place; returns
        the ``nn.Identity`` that replaces this module (exact in eval mode)."""
        from paperzoo_tinylm.fold import fold_affine_into_linear

        scale, shift = self.repbn.affine()
        for linear in linears:
            fold_affine_into_linear(linear, scale.clone(), shift.clone(), add_bias=add_bias)
        return nn.Identity()
