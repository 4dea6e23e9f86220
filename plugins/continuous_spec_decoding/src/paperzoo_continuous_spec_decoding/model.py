"""A small autoregressive model of continuous tokens with a Gaussian-mixture output head.

The next-token distribution at position ``t`` is a mixture read by an MLP from the last ``window``
tokens ``x_{t-window+1..t}`` (zero-padded on the left): a causal model whose every position is computed
independently, so a verification pass over ``k + 1`` positions is one batched call.
"""

from __future__ import annotations

import torch
from torch import nn

from .mixture import GaussianMixture


class MixtureAR(nn.Module):
    """Causal window-MLP with a ``K``-component diagonal Gaussian-mixture head.

    :param dim: token dimension ``D``.
    :param n_components: mixture components ``K``.
    :param hidden: MLP width.
    :param window: tokens the next-token distribution depends on.
    :param depth: hidden layers.
    """

    def __init__(
        self, dim: int = 2, n_components: int = 4, hidden: int = 32, window: int = 2, depth: int = 2
    ):
        super().__init__()
        if min(dim, n_components, hidden, window, depth) < 1:
            raise ValueError("dim, n_components, hidden, window and depth must be >= 1")
        self.dim, self.n_components, self.window = dim, n_components, window
        layers: list[nn.Module] = []
        width = window * dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        layers.append(nn.Linear(width, n_components * (1 + 2 * dim)))
        self.net = nn.Sequential(*layers)

    def windows(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """``(B, stop - start, window * D)`` inputs of positions ``start .. stop - 1`` of ``x`` ``(B, T, D)``."""
        pad = x.new_zeros(x.shape[0], self.window - 1, x.shape[-1])
        padded = torch.cat([pad, x[:, :stop]], dim=1)
        idx = torch.arange(start, stop, device=x.device)[:, None] + torch.arange(self.window, device=x.device)
        return padded[:, idx].flatten(-2)

    def forward(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> GaussianMixture:
        """Next-token mixtures after positions ``start .. stop - 1`` (default: all) of ``x`` ``(B, T, D)``:
        batch shape ``(B, stop - start)``; position ``t``'s mixture is the distribution of ``x_{t+1}``."""
        stop = x.shape[1] if stop is None else stop
        out = self.net(self.windows(x, start, stop))
        k, d = self.n_components, self.dim
        logits, rest = out[..., :k], out[..., k:].unflatten(-1, (k, 2 * d))
        return GaussianMixture(logits, rest[..., :d], rest[..., d:].clamp(-7.0, 5.0))

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per token of ``x[:, 1:]`` given its prefix."""
        return -self(x, 0, x.shape[1] - 1).log_prob(x[:, 1:]).mean()
