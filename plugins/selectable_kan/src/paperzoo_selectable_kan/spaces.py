"""One single-basis KAN layer per activation space: ``y_j = sum_i phi_ij(x_i)`` with every edge function
``phi_ij`` drawn from one function space.

* ``bspline`` (KAN, Liu et al. 2024): ``phi(x) = w_b silu(x) + w_s sum_p c_p B_p(x)``, cubic B-splines on a
  uniform grid extended by the spline order (pykan's ``KANLayer`` without grid updates);
* ``rbf`` (FastKAN): ``phi(x) = w_b silu(x) + sum_p c_p exp(-((x - mu_p) / h) ** 2)``;
* ``chebyshev`` (ChebyKAN): ``phi(x) = sum_n c_n T_n(tanh x)``;
* ``fourier`` (FourierKAN): ``phi(x) = sum_k a_k cos(k x) + b_k sin(k x)``, plus one bias per output.

Every space computes ``silu(x) @ base_weight.T + einsum(basis(x), coef) (+ bias)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_selectable_kan.bases import (
    bspline_basis,
    chebyshev_basis,
    fourier_basis,
    rbf_basis,
    uniform_grid,
)

SPACES = ("bspline", "rbf", "chebyshev", "fourier")


class KANSpace(nn.Module):
    """A KAN layer ``(..., in) -> (..., out)`` of one activation space (subclasses set the basis)."""

    def __init__(self, in_features: int, out_features: int, num_basis: int, base: bool, bias: bool) -> None:
        super().__init__()
        self.in_features, self.out_features, self.num_basis = in_features, out_features, num_basis
        self.coef = nn.Parameter(torch.empty(out_features, in_features, num_basis))
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features)) if base else None
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in) -> (N, in, num_basis)``."""
        raise NotImplementedError

    def coefficients(self) -> torch.Tensor:
        """The effective ``(out, in, num_basis)`` coefficients of the edge functions."""
        return self.coef

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in) -> (N, out)``: the sum over inputs of every edge function."""
        y = torch.einsum("nip,oip->no", self.basis(x), self.coefficients())
        if self.base_weight is not None:
            y = F.silu(x) @ self.base_weight.t() + y
        if self.bias is not None:
            y = y + self.bias
        return y


class BSplineSpace(KANSpace):
    """B-spline edge functions with a SiLU residual and a per-edge spline scale (pykan's parameterisation:
    ``coef`` (out, in, G + k), ``base_weight`` = pykan's ``scale_base``, ``spline_scale`` = ``scale_sp``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__(in_features, out_features, grid_size + spline_order, base=True, bias=False)
        self.spline_order = spline_order
        self.register_buffer("grid", uniform_grid(grid_size, spline_order, tuple(grid_range)))
        self.spline_scale = nn.Parameter(torch.full((out_features, in_features), 1 / math.sqrt(in_features)))
        nn.init.uniform_(self.coef, -0.05 / grid_size, 0.05 / grid_size)
        nn.init.uniform_(self.base_weight, -1 / math.sqrt(in_features), 1 / math.sqrt(in_features))

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        return bspline_basis(x, self.grid, self.spline_order)

    def coefficients(self) -> torch.Tensor:
        return self.coef * self.spline_scale.unsqueeze(-1)


class RBFSpace(KANSpace):
    """Gaussian RBF edge functions with a SiLU residual (FastKAN, without its input LayerNorm)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_centers: int = 8,
        center_range: tuple[float, float] = (-2.0, 2.0),
    ) -> None:
        super().__init__(in_features, out_features, num_centers, base=True, bias=False)
        lo, hi = center_range
        self.register_buffer("centers", torch.linspace(lo, hi, num_centers))
        self.width = (hi - lo) / (num_centers - 1)
        nn.init.trunc_normal_(self.coef, std=0.1 / math.sqrt(in_features))
        nn.init.uniform_(self.base_weight, -1 / math.sqrt(in_features), 1 / math.sqrt(in_features))

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        return rbf_basis(x, self.centers, self.width)


class ChebyshevSpace(KANSpace):
    """Chebyshev-polynomial edge functions of ``tanh(x)`` (ChebyKAN)."""

    def __init__(self, in_features: int, out_features: int, degree: int = 7) -> None:
        super().__init__(in_features, out_features, degree + 1, base=False, bias=False)
        self.degree = degree
        nn.init.normal_(self.coef, std=1 / (in_features * (degree + 1)))

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        return chebyshev_basis(torch.tanh(x), self.degree)


class FourierSpace(KANSpace):
    """Truncated Fourier-series edge functions (FourierKAN), with one bias per output."""

    def __init__(self, in_features: int, out_features: int, num_frequencies: int = 4) -> None:
        super().__init__(in_features, out_features, 2 * num_frequencies, base=False, bias=True)
        self.num_frequencies = num_frequencies
        nn.init.normal_(self.coef, std=1 / math.sqrt(in_features * num_frequencies))

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        return fourier_basis(x, self.num_frequencies)


def make_space(name: str, in_features: int, out_features: int, options: dict) -> KANSpace:
    """The space ``name`` (one of :data:`SPACES`) with its options from ``options``."""
    if name == "bspline":
        return BSplineSpace(
            in_features,
            out_features,
            options["grid_size"],
            options["spline_order"],
            options["grid_range"],
        )
    if name == "rbf":
        return RBFSpace(in_features, out_features, options["rbf_centers"], options["rbf_range"])
    if name == "chebyshev":
        return ChebyshevSpace(in_features, out_features, options["chebyshev_degree"])
    if name == "fourier":
        return FourierSpace(in_features, out_features, options["fourier_frequencies"])
    raise ValueError(f"spaces: got {name!r}; accepted: any of {list(SPACES)}")
