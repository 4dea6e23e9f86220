"""The book's claims at small scale, three seeds: the preactivation variance of random width-512 MLPs
tracks the infinite-width recursion over 20 layers at criticality (ReLU at (0, 2), tanh at (0, 1)); off
criticality it vanishes or explodes as the recursion predicts; one network's kernel fluctuates more when
depth / width is larger (the 1/n effects of Section 5.4 and Chapter 4)."""

import math

import pytest
import torch

from paperzoo_criticality.kernel import first_layer_kernel, kernel_recursion
from paperzoo_criticality.mlp import empirical_kernels

SEEDS = (0, 1, 2)
WIDTH, DEPTH, NETWORKS = 512, 20, 12


def _inputs(seed: int) -> torch.Tensor:
    return torch.randn(8, 32, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _compare(sigma, c_b, c_w, seed, networks=NETWORKS):
    x = _inputs(seed)
    theory = kernel_recursion(sigma, first_layer_kernel(x, c_b, c_w), c_b, c_w, DEPTH).mean(0)
    runs = [empirical_kernels(x, sigma, c_b, c_w, WIDTH, DEPTH, 1000 * seed + m) for m in range(networks)]
    per_network = torch.stack(runs).mean(2)  # [networks, depth]
    return theory, per_network.mean(0), per_network.std(0) / math.sqrt(networks)


@pytest.mark.claim
@pytest.mark.parametrize("sigma, c_b, c_w", [("relu", 0.0, 2.0), ("tanh", 0.0, 1.0)])
def test_empirical_variance_tracks_the_recursion_at_criticality(sigma, c_b, c_w, record_property):
    errors = []
    for seed in SEEDS:
        theory, empirical, sem = _compare(sigma, c_b, c_w, seed)
        errors.append(float((empirical / theory - 1).abs().max()))
        z = float(((empirical - theory) / sem).abs().max())
        print(
            f"{sigma} seed {seed}: K1 {float(theory[0]):.4f} K20 theory {float(theory[-1]):.4f} "
            f"empirical {float(empirical[-1]):.4f}; max rel error over layers {errors[-1]:.4f}, "
            f"max |error| / standard error {z:.2f}"
        )
        if sigma == "relu":
            # E[relu(z)^2] = E[z^2]/2 for any symmetric z, so the recursion is the ensemble mean at every
            # width: the 12 networks' mean lies within its sampling error at every layer. tanh has a 1/n
            # correction (the empirical kernel is ~3% low at L/n = 20/512), so only the error bound holds.
            assert z < 4
    record_property(f"max_rel_error_{sigma}_critical", round(sum(errors) / len(errors), 4))
    # one ReLU network of width 512 has K(20) with relative std ~ 0.6 (heavy-tailed): 12 networks ~ 0.17
    assert sum(errors) / len(errors) < (0.2 if sigma == "relu" else 0.05)


@pytest.mark.claim
@pytest.mark.parametrize(
    "sigma, c_b, c_w, direction",
    [("relu", 0.0, 1.5, "vanish"), ("relu", 0.0, 2.5, "explode"), ("tanh", 0.0, 0.5, "vanish")],
)
def test_off_critical_initialisations_vanish_or_explode(sigma, c_b, c_w, direction, record_property):
    for seed in SEEDS:
        theory, empirical, _ = _compare(sigma, c_b, c_w, seed, networks=3)
        growth_theory = math.log(float(theory[-1] / theory[0]))
        growth = math.log(float(empirical[-1] / empirical[0]))
        print(
            f"{sigma} ({c_b}, {c_w}) seed {seed}: log K20/K1 theory {growth_theory:.3f} empirical {growth:.3f}"
        )
        assert (growth < -3) if direction == "vanish" else (growth > 3)
        assert abs(growth - growth_theory) < 0.5  # within a factor e^0.5 of the prediction over 20 layers
    record_property(f"log_growth_{sigma}_{c_w}", round(growth_theory, 3))


@pytest.mark.claim
def test_fluctuations_grow_with_depth_to_width_ratio(record_property):
    x = _inputs(0)[:4]

    def rel_var(width, depth, seed):
        ks = torch.stack(
            [
                empirical_kernels(x, "relu", 0, 2, width, depth, 10_000 * seed + s)[-1].mean()
                for s in range(48)
            ]
        )
        return float(ks.var() / ks.mean() ** 2)

    for seed in SEEDS:
        v = {(n, L): rel_var(n, L, seed) for n, L in [(128, 4), (128, 16), (32, 16)]}
        print(
            f"seed {seed}: relative variance of one network's K(L): "
            + ", ".join(f"L/n={L}/{n}: {val:.3f}" for (n, L), val in v.items())
        )
        assert v[(128, 4)] < v[(128, 16)] < v[(32, 16)]
    record_property("rel_var_L16_n32", round(v[(32, 16)], 3))
    record_property("rel_var_L4_n128", round(v[(128, 4)], 3))
