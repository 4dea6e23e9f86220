"""The univariate basis functions of S-KAN's activation spaces, vectorised over a batch of inputs.

Each function maps ``x`` of shape ``(..., in)`` to ``(..., in, P)``: the ``P`` basis functions of one
space evaluated at every input coordinate. An edge function of a KAN is a learned linear combination of
them (see :mod:`paperzoo_selectable_kan.spaces`).
"""

from __future__ import annotations

import torch


def uniform_grid(grid_size: int, spline_order: int, grid_range: tuple[float, float]) -> torch.Tensor:
    """The ``grid_size + 2 * spline_order + 1`` knots of a uniform grid of ``grid_size`` intervals on
    ``grid_range``, extended by ``spline_order`` knots of the same spacing on each side (as in KAN)."""
    lo, hi = grid_range
    h = (hi - lo) / grid_size
    steps = torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.float64)
    return (lo + h * steps).to(torch.get_default_dtype())


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, spline_order: int) -> torch.Tensor:
    """The ``len(grid) - 1 - spline_order`` B-splines of order ``spline_order`` on the knots ``grid``
    (Cox-de Boor recursion); on ``[grid[k], grid[-k-1])`` they sum to one (partition of unity)."""
    x = x.unsqueeze(-1)
    t = grid.to(x.dtype)
    basis = ((x >= t[:-1]) & (x < t[1:])).to(x.dtype)
    for p in range(1, spline_order + 1):
        left = (x - t[: -(p + 1)]) / (t[p:-1] - t[: -(p + 1)]) * basis[..., :-1]
        right = (t[p + 1 :] - x) / (t[p + 1 :] - t[1:-p]) * basis[..., 1:]
        basis = left + right
    return basis


def rbf_basis(x: torch.Tensor, centers: torch.Tensor, width: float) -> torch.Tensor:
    """Gaussian radial basis functions ``exp(-((x - c) / width) ** 2)`` at each center ``c`` (FastKAN)."""
    return torch.exp(-(((x.unsqueeze(-1) - centers.to(x.dtype)) / width) ** 2))


def chebyshev_basis(x: torch.Tensor, degree: int) -> torch.Tensor:
    """Chebyshev polynomials ``T_0 .. T_degree`` of ``x`` (the three-term recursion, so the gradient stays
    finite at ``|x| = 1``); callers squash ``x`` into ``[-1, 1]`` first (ChebyKAN uses ``tanh``)."""
    terms = [torch.ones_like(x), x]
    for _ in range(2, degree + 1):
        terms.append(2 * x * terms[-1] - terms[-2])
    return torch.stack(terms[: degree + 1], dim=-1)


def fourier_basis(x: torch.Tensor, num_frequencies: int) -> torch.Tensor:
    """``cos(k x)`` for ``k = 1 .. F`` followed by ``sin(k x)`` for ``k = 1 .. F`` (FourierKAN)."""
    k = torch.arange(1, num_frequencies + 1, dtype=x.dtype, device=x.device)
    kx = x.unsqueeze(-1) * k
    return torch.cat([torch.cos(kx), torch.sin(kx)], dim=-1)
