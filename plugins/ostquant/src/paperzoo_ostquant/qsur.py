"""OSTQuant's Quantization Space Utilization Rate (QSUR): how much of the quantisation hypercube a
Gaussian model of the data fills.

For ``X ~ N(mu, Sigma)`` in ``d`` dimensions, the data ellipsoid ``(x - mu)^T Sigma^{-1} (x - mu) <= r^2``
has volume ``V_X = pi^{d/2} / Gamma(d/2 + 1) * r^d * prod_i sqrt(lambda_i)`` (``lambda_i`` the eigenvalues
of ``Sigma``). A per-token quantiser spreads one grid over every channel of a token, so the space it must
cover is the hypercube ``[lo, hi]^d`` with ``lo = min_j (mu_j - r sigma_j)``, ``hi = max_j (mu_j + r
sigma_j)`` (``sigma_j^2 = Sigma_jj``; the ellipsoid's extent along axis ``j`` is ``mu_j ± r sigma_j``):
``V_S = (hi - lo)^d``. ``QSUR = V_X / V_S``.

Consequences the tests check: for ``mu = 0`` the radius cancels and ``QSUR = c_d sqrt(det Sigma) /
max_j Sigma_jj^{d/2}`` with ``c_d = pi^{d/2} / (Gamma(d/2 + 1) 2^d)`` (the ball-to-cube ratio), which
is largest (``c_d``) for an isotropic Gaussian (Hadamard's inequality); a rotation keeps ``det Sigma`` and
changes only the largest diagonal entry, which a Hadamard rotation of a diagonal ``Sigma`` makes the mean
eigenvalue; a scaling ``diag(s)^{-1}`` after the rotation can then equalise the spectrum.

QSUR is an exponentially small number in ``d`` (``c_128 ~ 1e-94``): :func:`log_qsur` returns its natural
logarithm and :func:`qsur_per_dim` the ``d``-th root, comparable across widths (``c_d^{1/d} -> 0`` slowly).
"""

from __future__ import annotations

import math

import torch

EIG_FLOOR = 1e-12  # eigenvalues below EIG_FLOOR * mean eigenvalue are raised to it (a singular sample cov)


def log_qsur(mean: torch.Tensor, cov: torch.Tensor, radius: float | None = None) -> float:
    """``log QSUR`` of ``N(mean, cov)`` (module docstring); ``radius`` ``r`` in Mahalanobis units, default
    ``sqrt(d)`` (the typical norm of a standard Gaussian vector); irrelevant when ``mean`` is zero."""
    mean, cov = mean.double(), cov.double()
    d = mean.shape[-1]
    if cov.shape != (d, d):
        raise ValueError(f"cov of shape {tuple(cov.shape)}; accepted: ({d}, {d}) for a mean of {d} features")
    r = math.sqrt(d) if radius is None else float(radius)
    if r <= 0:
        raise ValueError(f"radius: {radius!r}; accepted: a number > 0")
    eig = torch.linalg.eigvalsh(0.5 * (cov + cov.T))
    eig = eig.clamp(min=EIG_FLOOR * float(eig.clamp(min=0).mean().clamp(min=1e-300)))
    log_ellipsoid = (d / 2) * math.log(math.pi) - math.lgamma(d / 2 + 1) + d * math.log(r)
    log_ellipsoid += 0.5 * float(eig.log().sum())
    sigma = torch.diagonal(cov).clamp(min=0).sqrt()
    edge = float((mean + r * sigma).max() - (mean - r * sigma).min())
    return log_ellipsoid - d * math.log(edge)


def qsur(mean: torch.Tensor, cov: torch.Tensor, radius: float | None = None) -> float:
    """``QSUR`` itself (may underflow to 0 for large ``d``: prefer :func:`log_qsur`)."""
    return math.exp(log_qsur(mean, cov, radius))


def qsur_per_dim(mean: torch.Tensor, cov: torch.Tensor, radius: float | None = None) -> float:
    """``QSUR^{1/d}``."""
    return math.exp(log_qsur(mean, cov, radius) / mean.shape[-1])


def gaussian_fit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean and (unbiased) covariance of ``x`` ``[..., d]`` over every leading position, in float64."""
    x = x.reshape(-1, x.shape[-1]).double()
    if x.shape[0] < 2:
        raise ValueError("x: fewer than 2 samples; accepted: at least 2 rows to estimate a covariance")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def sample_log_qsur(x: torch.Tensor, radius: float | None = None) -> float:
    """``log QSUR`` of the Gaussian fitted to the samples ``x`` ``[..., d]``."""
    return log_qsur(*gaussian_fit(x), radius=radius)
