"""The zero-mean generalised Gaussian (GG) distribution of the paper, in torch.

Density (shape ``beta > 0``, scale ``alpha > 0``)::

    p(w) = beta / (2 alpha Gamma(1/beta)) * exp(-|w / alpha|^beta)

``beta = 2`` is a Gaussian of standard deviation ``alpha / sqrt(2)``, ``beta = 1`` a Laplace of scale
``alpha``. Its variance is ``alpha^2 Gamma(3/beta) / Gamma(1/beta)``, so the scale that gives the
variance ``sigma^2`` is ``alpha = sigma * sqrt(Gamma(1/beta) / Gamma(3/beta))`` (what GG init uses with
Kaiming's ``sigma^2 = xi / fan``). ``scipy.stats.gennorm(beta, scale=alpha)`` is the same distribution.
"""

from __future__ import annotations

import math

import torch


def gg_scale(beta: float, std: float) -> float:
    """The scale ``alpha`` of the GG of shape ``beta`` whose standard deviation is ``std``."""
    return std * math.exp(0.5 * (math.lgamma(1.0 / beta) - math.lgamma(3.0 / beta)))


def gg_variance(beta: float, alpha: float) -> float:
    """The variance ``alpha^2 Gamma(3/beta) / Gamma(1/beta)`` of the GG of shape ``beta``, scale ``alpha``."""
    return alpha**2 * math.exp(math.lgamma(3.0 / beta) - math.lgamma(1.0 / beta))


def gg_log_prob(w: torch.Tensor, beta: float, alpha: float) -> torch.Tensor:
    """Elementwise log-density ``log p(w)``."""
    log_norm = math.log(beta) - math.log(2.0 * alpha) - math.lgamma(1.0 / beta)
    return log_norm - (w.abs() / alpha).pow(beta)


def sample_gg(
    shape: tuple[int, ...] | torch.Size,
    beta: float,
    alpha: float,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw GG samples with torch's global generator.

    ``|w / alpha|^beta`` of a GG variable is Gamma(1/beta, 1) distributed, so ``w = s * alpha * G^(1/beta)``
    with ``G ~ Gamma(1/beta, 1)`` and an independent random sign ``s``. Drawn in float64 for a float64
    ``dtype``, else in float32.
    """
    work = torch.float64 if dtype == torch.float64 else torch.float32
    concentration = torch.full(tuple(shape), 1.0 / beta, dtype=work, device=device)
    magnitude = torch._standard_gamma(concentration).pow_(1.0 / beta).mul_(alpha)
    sign = torch.randint(0, 2, tuple(shape), device=device, dtype=work).mul_(2).sub_(1)
    return magnitude.mul_(sign).to(dtype)


def moment_ratio(beta: torch.Tensor | float) -> torch.Tensor:
    """``E[w^2] / E[|w|]^2 = Gamma(1/beta) Gamma(3/beta) / Gamma(2/beta)^2`` of a zero-mean GG (decreasing
    in ``beta``: 3 for Laplace, pi/2 for Gaussian)."""
    b = torch.as_tensor(beta, dtype=torch.float64)
    return torch.exp(torch.lgamma(1 / b) + torch.lgamma(3 / b) - 2 * torch.lgamma(2 / b))


def fit_gg(
    w: torch.Tensor, method: str = "mle", low: float = 0.1, high: float = 10.0, iters: int = 200
) -> tuple[float, float]:
    """Fit ``(beta, alpha)`` of a zero-mean GG to the values of ``w``.

    ``method="mle"``: maximum likelihood (``scipy.stats.gennorm.fit(w, floc=0)`` solves the same
    problem). For a fixed ``beta`` the best scale is ``alpha^beta = beta * mean(|w|^beta)``; the profile
    log-likelihood in ``beta`` is unimodal and is maximised by golden-section search on
    ``log beta`` in ``[low, high]``.

    ``method="moments"``: the moment-ratio estimator of the authors' code (BackSlash/DeepShape): solve
    ``moment_ratio(beta) = mean(w^2) / mean(|w|)^2`` (by bisection, not a table), then match the variance.
    """
    x = w.detach().reshape(-1).to(torch.float64)
    a = x.abs()
    if method == "moments":
        target = (x.square().mean() / a.mean().square()).item()
        lo, hi = math.log(low), math.log(high)
        for _ in range(iters):  # moment_ratio decreases in beta
            mid = 0.5 * (lo + hi)
            if moment_ratio(math.exp(mid)).item() > target:
                lo = mid
            else:
                hi = mid
        beta = math.exp(0.5 * (lo + hi))
        return beta, gg_scale(beta, x.square().mean().sqrt().item())
    if method != "mle":
        raise ValueError(f"method {method!r}; accepted: 'mle' or 'moments'")
    log_a = torch.log(a[a > 0])
    n_zero = a.numel() - log_a.numel()
    if n_zero:
        raise ValueError("the MLE of a GG is undefined for values exactly 0; use method='moments'")

    def profile(log_beta: float) -> float:  # log-likelihood per sample at the best alpha for this beta
        beta = math.exp(log_beta)
        log_mean = torch.logsumexp(beta * log_a, 0).item() - math.log(log_a.numel())
        log_alpha = (math.log(beta) + log_mean) / beta
        return math.log(beta) - math.log(2.0) - log_alpha - math.lgamma(1.0 / beta) - 1.0 / beta

    g = (math.sqrt(5.0) - 1.0) / 2.0
    lo, hi = math.log(low), math.log(high)
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = profile(c), profile(d)
    for _ in range(iters):
        if fc > fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = profile(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = profile(d)
    beta = math.exp(0.5 * (lo + hi))
    log_mean = torch.logsumexp(beta * log_a, 0).item() - math.log(log_a.numel())
    return beta, math.exp((math.log(beta) + log_mean) / beta)
