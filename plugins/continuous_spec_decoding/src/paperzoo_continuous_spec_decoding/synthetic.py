"""A synthetic source of continuous-token sequences and maximum-likelihood training of
:class:`~.model.MixtureAR` on it (the claim's target and draft models)."""

from __future__ import annotations

import math

import torch

from .model import MixtureAR


def mixture_process(n: int, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(n, length, 2)`` sequences from a first-order process with a 3-component Gaussian-mixture
    transition: a rotation-contraction with drift (weight 0.5, std 0.15), a reflection towards
    ``(1, -1)`` (0.3, std 0.3) and a broad reset around 0 (0.2, std 1); the first token is 0."""
    c, s = math.cos(0.5), math.sin(0.5)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64) * 0.9
    x = torch.zeros(n, length, 2, dtype=torch.float64)
    shift = torch.tensor([1.0, -1.0], dtype=torch.float64)
    std = torch.tensor([0.15, 0.3, 1.0], dtype=torch.float64)
    weights = torch.tensor([0.5, 0.3, 0.2]).expand(n, 3)
    rows = torch.arange(n)
    for t in range(1, length):
        prev = x[:, t - 1]
        means = torch.stack(
            [prev @ rot.T + 0.2, -0.5 * prev + shift, 0 * prev],
            dim=1,
        )
        k = torch.multinomial(weights, 1, generator=generator)[:, 0]
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        x[:, t] = means[rows, k] + std[k, None] * noise
    return x


def fit(
    model: MixtureAR, data: torch.Tensor, steps: int, batch: int = 128, lr: float = 3e-3, seed: int = 0
) -> float:
    """Adam on the next-token negative log-likelihood of random ``batch``-row minibatches of ``data``;
    returns the final NLL on all of ``data``."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(data.shape[0], (batch,), generator=g)
        loss = model.nll(data[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(model.nll(data))
