"""The Gaussian expectations against closed forms and against an independent integrator
(``scipy.integrate.quad``). No package implements the book's recursion, so these are the reference;
the book's critical values for GELU (Section 5.3) are checked too."""

import math

import pytest
import torch
from scipy import integrate

from paperzoo_criticality.kernel import (
    activation,
    critical_initialization,
    gaussian_expectation,
    kernel_recursion,
)

KS = [1e-4, 0.05, 0.7, 1.0, 3.0, 25.0]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_quadrature_matches_closed_forms(record_property):
    K = torch.tensor(KS, dtype=torch.float64)
    closed = {
        "z^2": (lambda z: z**2, K),
        "z^4": (lambda z: z**4, 3 * K**2),
        "relu": (torch.relu, torch.sqrt(K / (2 * math.pi))),
        "relu^2": (lambda z: torch.relu(z) ** 2, K / 2),
        "|z|^3": (
            lambda z: z.abs() ** 3,
            2 * torch.sqrt(2 / torch.tensor(math.pi, dtype=torch.float64)) * K**1.5,
        ),
    }
    # <cos z>_K = exp(-K/2) is an oscillating integrand of size 1 whose mean is tiny at large K: compared
    # in absolute terms (rounding of terms of size 1 is ~1e-16 each)
    assert float((gaussian_expectation(torch.cos, K) - torch.exp(-K / 2)).abs().max()) < 1e-13
    worst = 0.0
    for name, (f, expect) in closed.items():
        err = float(((gaussian_expectation(f, K) - expect).abs() / expect.abs()).max())
        assert err < 1e-12, name
        worst = max(worst, err)
    record_property("max_rel_diff_closed_forms", f"{worst:.1e}")


@pytest.mark.parametrize("name", ["tanh", "gelu", "silu", "softplus"])
def test_quadrature_matches_scipy_quad(name, record_property):
    act = activation(name)
    worst = 0.0
    for K in KS:

        def integrand(z, K=K):
            value = float(act(torch.tensor(z, dtype=torch.float64)) ** 2)
            return value * math.exp(-z * z / (2 * K)) / math.sqrt(2 * math.pi * K)

        sd = math.sqrt(K)
        ref = sum(
            integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
            for a, b in ((-14 * sd, 0.0), (0.0, 14 * sd))
        )
        ours = float(gaussian_expectation(lambda z: act(z) ** 2, K))
        worst = max(worst, _rel(ours, ref))
    # quad's own tolerance is 1e-13 relative; the sum of two halves adds rounding
    assert worst < 1e-11
    record_property(f"max_rel_diff_quad_{name}", f"{worst:.1e}")


def test_gelu_critical_point_matches_the_book(record_property):
    crit = critical_initialization("gelu")
    record_property("gelu_critical", f"C_b={crit.c_b:.5f} C_W={crit.c_w:.5f} K*={crit.k_star:.4f}")
    assert crit.kind == "nonzero_k_star"
    assert crit.c_b == pytest.approx(0.173, abs=5e-4)
    assert crit.c_w == pytest.approx(1.983, abs=5e-4)
    # the point is a fixed point of the recursion
    Ks = kernel_recursion("gelu", crit.k_star, crit.c_b, crit.c_w, 3)
    assert torch.allclose(Ks, torch.full_like(Ks, crit.k_star), rtol=1e-10)
