"""Shared pieces of the tests: analytic Gaussian mixtures, their CDFs along a direction, and KS."""

from __future__ import annotations

import math

import torch

from paperzoo_continuous_spec_decoding.mixture import GaussianMixture


def mixture(weights: list[float], means: list[list[float]], stds: list[list[float]]) -> GaussianMixture:
    """A single float64 mixture from plain lists (``K`` weights, ``K x D`` means and stds)."""
    w = torch.tensor(weights, dtype=torch.float64)
    return GaussianMixture(
        w.log(), torch.tensor(means, dtype=torch.float64), torch.tensor(stds, dtype=torch.float64).log()
    )


def projected_cdf(m: GaussianMixture, direction: torch.Tensor):
    """The CDF of ``<direction, x>`` for ``x`` from the single mixture ``m`` (a 1-D Gaussian mixture)."""
    w = torch.softmax(m.logits, -1)
    mu = m.means @ direction
    sd = ((m.log_std.exp() ** 2) @ direction**2).sqrt()

    def cdf(t: torch.Tensor) -> torch.Tensor:
        return (w * torch.special.ndtr((t[:, None] - mu) / sd)).sum(-1)

    return cdf


def ks(samples: torch.Tensor, cdf) -> float:
    """One-sample Kolmogorov-Smirnov statistic of 1-D samples against a CDF."""
    x = samples.sort().values
    n = x.numel()
    f = cdf(x)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(torch.maximum(i / n - f, f - (i - 1) / n).max())


def ks_critical(n: int) -> float:
    """The 1% critical value of the one-sample KS statistic for ``n`` samples (asymptotic)."""
    return 1.628 / math.sqrt(n)
