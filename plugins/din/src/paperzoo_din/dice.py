"""Dice, the data-adaptive activation of DIN: ``f(s) = p(s) s + (1 - p(s)) alpha s`` with
``p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps))``."""

from __future__ import annotations

import torch
from torch import nn


class DinDice(nn.Module):
    """Dice over the last dimension (``num_features`` channels).

    Training mode normalises with the batch mean and (biased) variance of each channel over every other
    dimension, restricted to the rows where ``mask`` is true when one is given (so padded behaviours neither
    feed nor move the statistics), and updates running estimates like batch norm (momentum, unbiased
    variance). Eval mode, and a training batch without any counted row (all padding), use the running
    estimates. ``alpha`` (one per channel) starts at 0, as in the official code, where Dice starts as a
    smooth step ``p(s) s``.

    :param num_features: channels (size of the last dimension).
    :param eps: added to the variance.
    :param momentum: running-statistics update rate.
    """

    def __init__(self, num_features: int, eps: float = 1e-8, momentum: float = 0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.alpha = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """:param x: ``(..., num_features)``.
        :param mask: optional boolean ``x.shape[:-1]``: rows that count in the batch statistics."""
        if x.shape[-1] != self.num_features:
            raise ValueError(f"expected last dimension {self.num_features}, got {tuple(x.shape)}")
        rows = x.reshape(-1, self.num_features)
        if self.training and mask is not None:
            rows = rows[mask.reshape(-1)]
        n = rows.shape[0]
        if self.training and n > 0:
            mean = rows.mean(0)
            var = ((rows - mean) ** 2).mean(0)
            with torch.no_grad():
                unbiased = var * n / max(n - 1, 1)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(unbiased.detach().to(self.running_var.dtype), self.momentum)
        else:  # eval mode, or a training batch with no row to count (all padding)
            mean, var = self.running_mean, self.running_var
        p = torch.sigmoid((x - mean) / torch.sqrt(var + self.eps))
        return p * x + (1 - p) * self.alpha * x

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
