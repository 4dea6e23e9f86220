"""Exact properties of the kernel recursion, the susceptibilities, the critical point finder and the
random MLP, against closed forms derived by hand (not from the code under test)."""

import math

import pytest
import torch

from paperzoo_criticality.evaluate import KernelRecursionCriticality
from paperzoo_criticality.kernel import (
    chi_parallel,
    chi_perp,
    critical_initialization,
    g,
    kernel_recursion,
    kernel_step,
)
from paperzoo_criticality.mlp import DeepMLP, empirical_kernels, init_critical_

KS = torch.tensor([1e-3, 0.1, 1.0, 2.5, 40.0], dtype=torch.float64)


def test_relu_at_criticality_preserves_the_kernel_exactly():
    # E[relu(z)^2] = K/2 for z ~ N(0, K), so K -> 0 + 2 * K/2 = K at every layer
    Ks = kernel_recursion("relu", KS, 0.0, 2.0, 50)
    assert torch.allclose(Ks, KS[:, None].expand_as(Ks), rtol=1e-12, atol=0)


def test_relu_off_criticality_is_the_affine_closed_form():
    # K(l+1) = C_b + (C_W / 2) K(l): geometric growth (C_W > 2) or decay (C_W < 2)
    for c_b, c_w in [(0.0, 1.5), (0.0, 2.5), (0.3, 1.2)]:
        Ks = kernel_recursion("relu", 1.0, c_b, c_w, 20)
        expect = [1.0]
        for _ in range(19):
            expect.append(c_b + c_w / 2 * expect[-1])
        assert torch.allclose(Ks, torch.tensor(expect, dtype=torch.float64), rtol=1e-12)


def test_relu_and_linear_susceptibilities():
    # relu: chi_par = C_W g'(K) = C_W / 2 and chi_perp = C_W <theta(z)> = C_W / 2; linear: both C_W
    for c_w in (1.0, 2.0, 3.0):
        for sigma, factor in (("relu", 0.5), ("linear", 1.0)):
            for chi in (chi_parallel, chi_perp):
                assert torch.allclose(chi(sigma, KS, c_w), torch.full_like(KS, c_w * factor), rtol=1e-12)


def test_tanh_fixed_point_zero_is_critical_at_0_1():
    assert float(kernel_step("tanh", 0.0, 0.0, 1.0)) == 0.0  # K* = 0 is a fixed point at C_b = 0
    small = torch.tensor([1e-6, 1e-5], dtype=torch.float64)
    # tanh(z)^2 = z^2 - 2z^4/3 + ...: chi_par = 1 - 4K + ..., chi_perp = <(1 - z^2 + ...)^2> = 1 - 2K + ...
    assert torch.allclose(chi_parallel("tanh", small, 1.0), 1 - 4 * small, rtol=0, atol=1e-8)  # O(K^2) rest
    assert torch.allclose(chi_perp("tanh", small, 1.0), 1 - 2 * small, rtol=0, atol=1e-8)


def test_tanh_critical_kernel_decays_as_a_power_law():
    # g(K) = K - 2K^2 + O(K^3) gives K(l+1) = K(l) - 2K(l)^2, so l K(l) -> 1/2 (algebraic decay at
    # criticality); off criticality (C_W = 0.5) the decay is exponential, K(l+1)/K(l) -> 1/2
    Ks = kernel_recursion("tanh", 1.0, 0.0, 1.0, 4001)
    assert abs(4000 * float(Ks[-1]) - 0.5) < 1e-2  # the next correction is O(log l / l)
    off = kernel_recursion("tanh", 1.0, 0.0, 0.5, 60)
    assert abs(float(off[-1] / off[-2]) - 0.5) < 1e-9


def test_sin_kernel_closed_form():
    # <sin(z)^2>_K = (1 - exp(-2K)) / 2
    assert torch.allclose(g("sin", KS), (1 - torch.exp(-2 * KS)) / 2, rtol=1e-12)


def test_grid_is_the_same_as_a_loop():
    c_b = torch.tensor([0.0, 0.1, 0.5], dtype=torch.float64)[:, None]
    c_w = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)[None, :]
    grid = kernel_recursion("gelu", 1.0, c_b, c_w, 6)
    assert grid.shape == (3, 4, 6)
    for i in range(3):
        for j in range(4):
            one = kernel_recursion("gelu", 1.0, float(c_b[i, 0]), float(c_w[0, j]), 6)
            assert torch.allclose(grid[i, j], one, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "sigma, c_b, c_w, kind",
    [
        ("relu", 0.0, 2.0, "scale_invariant"),
        ("linear", 0.0, 1.0, "scale_invariant"),
        ("leaky_relu", 0.0, 2 / (1 + 0.1**2), "scale_invariant"),  # C_W = 2 / (a_+^2 + a_-^2)
        ("tanh", 0.0, 1.0, "k_star_zero"),
        ("sin", 0.0, 1.0, "k_star_zero"),
    ],
)
def test_critical_initialization_matches_the_book(sigma, c_b, c_w, kind):
    crit = critical_initialization(sigma)
    assert crit.kind == kind
    assert crit.c_b == pytest.approx(c_b, abs=1e-12)
    assert crit.c_w == pytest.approx(c_w, rel=1e-10)


def test_no_critical_point_for_sigmoid():
    with pytest.raises(ValueError, match="no critical"):
        critical_initialization("sigmoid")


def test_init_variances():
    mlp = DeepMLP(400, 400, 3, "relu")
    init_critical_(mlp, 0.25, 2.0, torch.Generator().manual_seed(0))
    w = torch.cat([m.weight.detach().flatten() for m in mlp.layers[1:]]).double()
    b = torch.cat([m.bias.detach() for m in mlp.layers]).double()
    # 320000 weights: the sample variance's relative std is sqrt(2/320000) ~ 0.0025; 1200 biases ~ 0.04
    assert float(w.var() * 400) == pytest.approx(2.0, rel=0.015)
    assert float(b.var()) == pytest.approx(0.25, rel=0.2)


def test_first_layer_of_the_ensemble_is_the_first_layer_kernel():
    # E[z_1^2] = C_b + C_W |x|^2 / n_0 at any width; 64 networks x 256 neurons: relative std ~ 0.011
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    emp = torch.stack([empirical_kernels(x, "tanh", 0.3, 1.5, 256, 1, seed=s)[0] for s in range(64)]).mean(0)
    assert torch.allclose(emp, 0.3 + 1.5 * x.square().mean(-1), rtol=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [{"activation": "swish"}, {"c_b": -1.0}, {"c_w": 0}, {"width": 0}, {"depth": 1.5}, {"split": "test"}],
)
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        KernelRecursionCriticality(**kwargs)


def test_finite_width_fluctuation_closed_form_direction():
    # one network's kernel fluctuates more when depth / width is larger (the book's 1/n effects, Section 5.4)
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def rel_var(width, depth):
        ks = torch.stack(
            [empirical_kernels(x, "relu", 0, 2, width, depth, seed=s)[-1].mean() for s in range(40)]
        )
        return float(ks.var() / ks.mean() ** 2)

    assert rel_var(16, 12) > 3 * rel_var(64, 3)
    assert math.isfinite(rel_var(16, 12))
