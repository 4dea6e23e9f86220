"""Infinite-width kernel recursion of a deep MLP at initialisation and its criticality conditions, in the
notation of Roberts, Yaida and Hanin, *The Principles of Deep Learning Theory* (2021).

An MLP of widths ``n_0, n_1, ..., n_L`` with preactivations

    z^{(1)}_i = b^{(1)}_i + sum_j W^{(1)}_{ij} x_j,
    z^{(l+1)}_i = b^{(l+1)}_i + sum_j W^{(l+1)}_{ij} sigma(z^{(l)}_j),

biases ``b ~ N(0, C_b)`` and weights ``W ~ N(0, C_W / n_l)`` has, at infinite width, Gaussian
preactivations whose single-input kernel ``K^{(l)} = E[z^{(l)}_i z^{(l)}_i]`` obeys (book, Section 4.1
for the first layer and Sections 5.1-5.2 for the recursion; equation numbers differ between the arXiv and
print editions, so sections are cited)

    K^{(1)}   = C_b + C_W (1/n_0) sum_j x_j^2,
    K^{(l+1)} = C_b + C_W g(K^{(l)}),         g(K) = <sigma(z) sigma(z)>_K,

where ``<f(z)>_K`` is the expectation under ``z ~ N(0, K)``. Perturbations of the fixed point
``K* = C_b + C_W g(K*)`` grow or shrink by the parallel and perpendicular susceptibilities (Section 5.2)

    chi_par(K)  = C_W g'(K) = C_W / (2 K^2) <sigma(z)^2 (z^2 - K)>_K,
    chi_perp(K) = C_W <sigma'(z)^2>_K,

and an initialisation is critical when ``chi_par(K*) = chi_perp(K*) = 1`` (Section 5.3): for ReLU
``(C_b, C_W) = (0, 2)`` (every K is a fixed point), for tanh ``(0, 1)`` with ``K* = 0``.

The Gaussian expectations use Gauss-Legendre quadrature on each half-line ``[-L, 0]`` and ``[0, L]`` of
the standardised variable ``s = z / sqrt(K)`` (``L = 12`` standard deviations: the cut-off tail weighs
below 1e-32), so that a kink at ``z = 0`` (ReLU, leaky ReLU) costs no accuracy; every function is
vectorised over any shape of ``K`` (and of ``C_b``, ``C_W`` by broadcasting).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]

ACTIVATIONS: dict[str, Activation] = {
    "linear": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.1),
    "tanh": torch.tanh,
    "sin": torch.sin,
    "gelu": F.gelu,
    "silu": F.silu,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
}

CUTOFF = 12.0  # standard deviations covered on each side
NODES = 96  # Gauss-Legendre nodes per half-line


def activation(name: str) -> Activation:
    """The activation called ``name`` (a key of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: got {name!r}; accepted: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _resolve(sigma: str | Activation) -> Activation:
    return activation(sigma) if isinstance(sigma, str) else sigma


@lru_cache(maxsize=8)
def gauss_nodes(nodes: int = NODES, cutoff: float = CUTOFF) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised nodes ``s`` and weights ``w`` (float64) with ``E_{s~N(0,1)}[f(s)] ~ sum w f(s)``: Gauss-
    Legendre on ``[-cutoff, 0]`` and ``[0, cutoff]``, the standard normal density folded into ``w``."""
    x, wx = np.polynomial.legendre.leggauss(nodes)
    half = (x + 1) * cutoff / 2
    s = np.concatenate([-half[::-1], half])
    w = np.concatenate([wx[::-1], wx]) * cutoff / 2 * np.exp(-(s**2) / 2) / math.sqrt(2 * math.pi)
    return torch.from_numpy(s), torch.from_numpy(w)


def gaussian_expectation(
    f: Callable[[torch.Tensor], torch.Tensor], K: torch.Tensor | float, nodes: int = NODES
) -> torch.Tensor:
    """``<f(z)>_K = E_{z~N(0,K)}[f(z)]`` for every entry of ``K`` (``K >= 0``; float64)."""
    K = torch.as_tensor(K, dtype=torch.float64)
    s, w = gauss_nodes(nodes)
    z = K.clamp_min(0).sqrt().unsqueeze(-1) * s
    return (f(z) * w).sum(-1)


def g(sigma: str | Activation, K: torch.Tensor | float) -> torch.Tensor:
    """``g(K) = <sigma(z)^2>_K``."""
    act = _resolve(sigma)
    return gaussian_expectation(lambda z: act(z) ** 2, K)


def kernel_step(
    sigma: str | Activation, K: torch.Tensor | float, c_b: torch.Tensor | float, c_w: torch.Tensor | float
) -> torch.Tensor:
    """One layer of the recursion: ``K^{(l+1)} = C_b + C_W g(K^{(l)})`` (broadcast over all arguments)."""
    return torch.as_tensor(c_b, dtype=torch.float64) + torch.as_tensor(c_w, dtype=torch.float64) * g(sigma, K)


def first_layer_kernel(x: torch.Tensor, c_b: float, c_w: float) -> torch.Tensor:
    """``K^{(1)} = C_b + C_W (1/n_0) sum_j x_j^2`` for each row of ``x`` (``[..., n_0]``)."""
    x = x.to(torch.float64)
    return c_b + c_w * x.square().mean(-1)


def kernel_recursion(
    sigma: str | Activation,
    K1: torch.Tensor | float,
    c_b: torch.Tensor | float,
    c_w: torch.Tensor | float,
    depth: int,
) -> torch.Tensor:
    """``K^{(1)}, ..., K^{(depth)}`` stacked on a new last axis (the shape of ``K1``, ``c_b``, ``c_w``
    broadcast together, then ``depth``)."""
    K = torch.as_tensor(K1, dtype=torch.float64)
    K = K + 0 * torch.as_tensor(c_b, dtype=torch.float64) + 0 * torch.as_tensor(c_w, dtype=torch.float64)
    out = [K]
    for _ in range(depth - 1):
        K = kernel_step(sigma, K, c_b, c_w)
        out.append(K)
    return torch.stack(out, -1)


def _derivative(act: Activation) -> Activation:
    def d(z: torch.Tensor) -> torch.Tensor:
        z = z.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(act(z).sum(), z)
        return grad.detach()

    return d


def chi_parallel(sigma: str | Activation, K: torch.Tensor | float, c_w: torch.Tensor | float) -> torch.Tensor:
    """``chi_par(K) = C_W dg/dK = C_W / (2K) <sigma(sqrt(K) s)^2 (s^2 - 1)>_{s~N(0,1)}`` (``K > 0``)."""
    act = _resolve(sigma)
    K = torch.as_tensor(K, dtype=torch.float64)
    s, w = gauss_nodes()
    z = K.sqrt().unsqueeze(-1) * s
    dg = (act(z) ** 2 * (s**2 - 1) * w).sum(-1) / (2 * K)
    return torch.as_tensor(c_w, dtype=torch.float64) * dg


def chi_perp(sigma: str | Activation, K: torch.Tensor | float, c_w: torch.Tensor | float) -> torch.Tensor:
    """``chi_perp(K) = C_W <sigma'(z)^2>_K`` (``sigma'`` by autograd at the quadrature nodes)."""
    d = _derivative(_resolve(sigma))
    return torch.as_tensor(c_w, dtype=torch.float64) * gaussian_expectation(lambda z: d(z) ** 2, K)


@dataclass(frozen=True)
class Critical:
    """A critical initialisation: ``chi_par(K*) = chi_perp(K*) = 1`` at the fixed point ``K*``.

    ``kind``: ``"scale_invariant"`` (``chi_par = chi_perp`` at every K: a line of fixed points, ``K*`` is
    None), ``"k_star_zero"`` (the fixed point ``K* = 0`` of an activation with ``sigma(0) = 0``) or
    ``"nonzero_k_star"`` (an isolated ``K* > 0``)."""

    c_b: float
    c_w: float
    k_star: float | None
    kind: str


def critical_initialization(
    sigma: str | Activation, k_min: float = 1e-6, k_max: float = 1e3, points: int = 600, tol: float = 1e-9
) -> Critical:
    """Locate ``(C_b, C_W)`` with ``chi_par(K*) = chi_perp(K*) = 1``.

    Both susceptibilities are proportional to ``C_W``, so their equality does not depend on ``C_W``:
    ``chi_par / C_W - chi_perp / C_W = g'(K) - <sigma'^2>_K`` must vanish at ``K*``. Then
    ``C_W = 1 / <sigma'^2>_{K*}`` makes both 1 and ``C_b = K* - C_W g(K*)`` makes ``K*`` a fixed point
    (a critical point needs ``C_b >= 0``). The difference is scanned on a log grid of ``K`` in
    ``[k_min, k_max]``; a sign change is refined by bisection. If it vanishes on the whole grid, the
    activation is scale-invariant (``C_b = 0``). With no root but ``sigma(0) = 0``, ``sigma'(0) != 0``, the
    critical point is ``K* = 0`` with ``C_b = 0``, ``C_W = 1 / sigma'(0)^2`` (Section 5.3's K* = 0 class).
    Otherwise there is none (e.g. sigmoid) and ``ValueError`` is raised."""
    act = _resolve(sigma)
    d = _derivative(act)

    def mismatch(K: torch.Tensor) -> torch.Tensor:
        return chi_parallel(act, K, 1.0) - chi_perp(act, K, 1.0)

    Ks = torch.logspace(math.log10(k_min), math.log10(k_max), points, dtype=torch.float64)
    m = mismatch(Ks)
    scale = chi_perp(act, Ks, 1.0).abs().clamp_min(1e-300)
    if bool(((m / scale).abs() < tol).all()):
        return Critical(0.0, float(1 / chi_perp(act, 1.0, 1.0)), None, "scale_invariant")
    roots = []
    for i in torch.nonzero(torch.sign(m[:-1]) * torch.sign(m[1:]) < 0).flatten().tolist():
        lo, hi = float(Ks[i]), float(Ks[i + 1])
        f_lo = float(m[i])
        for _ in range(80):
            mid = math.sqrt(lo * hi)
            f_mid = float(mismatch(torch.tensor(mid, dtype=torch.float64)))
            if (f_mid < 0) == (f_lo < 0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        k = math.sqrt(lo * hi)
        c_w = float(1 / chi_perp(act, k, 1.0))
        c_b = k - c_w * float(g(act, k))
        if c_b >= -1e-9 * max(k, 1.0):
            roots.append(Critical(max(c_b, 0.0), c_w, k, "nonzero_k_star"))
    if roots:
        return roots[0]
    zero = torch.zeros(1, dtype=torch.float64)
    s0, d0 = float(act(zero)), float(d(zero))
    if abs(s0) < 1e-12 and abs(d0) > 1e-12:
        return Critical(0.0, 1 / d0**2, 0.0, "k_star_zero")
    raise ValueError("activation: no critical initialisation (chi_par = chi_perp = 1 with C_b >= 0) found")
