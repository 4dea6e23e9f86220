"""Exact properties of the kit: closed forms against scikit-learn, the mask, set/independence
invariances of the transformer, and the bar distribution's normalisation."""

import math

import pytest
import torch

from paperzoo_synthtasks.bars import BarDistribution, BarDistributionHead, borders_from_samples
from paperzoo_synthtasks.priors import sample_gp1d, sample_linreg, synthtasks_gp1d
from paperzoo_synthtasks.reference import (
    bayes_linreg_predictive,
    gaussian_nll,
    gp_posterior,
    gp_posterior_sklearn,
    ridge_predictive,
)
from paperzoo_synthtasks.xy_transformer import XYTransformer, pfn_attention_mask


def test_gp_closed_form_matches_sklearn(record_property):
    x, y = sample_gp1d(5, 25, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    err = 0.0
    for xi, yi in zip(x, y):
        m1, v1 = gp_posterior(xi[:15], yi[:15], xi[15:])
        m2, v2 = gp_posterior_sklearn(xi[:15], yi[:15], xi[15:])
        err = max(err, (m1 - m2).abs().max().item(), (v1 - v2).abs().max().item())
    record_property("gp_max_abs_diff_vs_sklearn_float64", err)
    assert err < 1e-9  # two Cholesky solves of a kernel with condition number ~1e4


def test_gp_sampler_covariance_is_the_kernel():
    x, y = sample_gp1d(
        20000, 2, lengthscale=0.3, outputscale=2.0, noise=0.1, generator=torch.Generator().manual_seed(0)
    )
    d2 = (x[:, 0, 0] - x[:, 1, 0]).double() ** 2
    # E[y0 y1 | x] = k(x0, x1); so E[y0 y1 / exp(-d2 / 2l^2)] = outputscale; E[y0^2] = outputscale + noise
    ratio = (y[:, 0].double() * y[:, 1].double() / torch.exp(-d2 / (2 * 0.3**2))).mean().item()
    assert abs(y[:, 0].double().pow(2).mean().item() - 2.1) < 0.1
    assert abs(ratio - 2.0) < 0.2


def test_bayes_linreg_equals_gp_with_linear_kernel():
    x, y = sample_linreg(
        1, 12, n_features=3, prior_var=0.7, noise=0.2, generator=torch.Generator().manual_seed(2)
    )
    xt, yt, xq = x[0, :8].double(), y[0, :8].double(), x[0, 8:].double()
    m, v = bayes_linreg_predictive(xt, yt, xq, prior_var=0.7, noise=0.2)
    k = 0.7 * xt @ xt.T + 0.2 * torch.eye(8, dtype=torch.float64)
    kq = 0.7 * xq @ xt.T
    m_gp = kq @ torch.linalg.solve(k, yt)
    v_gp = 0.7 * (xq * xq).sum(-1) + 0.2 - (kq * torch.linalg.solve(k, kq.T).T).sum(-1)
    assert torch.allclose(m, m_gp, atol=1e-12) and torch.allclose(v, v_gp, atol=1e-12)


def test_exact_posterior_beats_ridge_on_its_prior():
    x, y = sample_gp1d(40, 30, generator=torch.Generator().manual_seed(3))
    exact = torch.cat(
        [gaussian_nll(*gp_posterior(a[:20], b[:20], a[20:]), b[20:].double()) for a, b in zip(x, y)]
    )
    ridge = torch.cat(
        [gaussian_nll(*ridge_predictive(a[:20], b[:20], a[20:]), b[20:].double()) for a, b in zip(x, y)]
    )
    assert exact.mean() < ridge.mean() - 0.5


def test_dataset_hides_query_targets():
    data = synthtasks_gp1d(num_tasks=3, val_tasks=2, seq_len=10, n_train=6)
    inputs, targets = data.train.tensors
    assert inputs.shape == (3, 10, 2) and targets.shape == (3, 10)
    assert (inputs[:, 6:, 1] == 0).all() and torch.equal(inputs[:, :6, 1], targets[:, :6])


def test_mask_structure():
    m = pfn_attention_mask(5, 2)
    expected = torch.tensor(
        [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 0, 1, 0], [1, 1, 0, 0, 1]],
        dtype=torch.bool,
    )
    assert torch.equal(m, expected)


def _model(seed: int = 0) -> XYTransformer:
    torch.manual_seed(seed)
    head = BarDistributionHead(16, num_bars=10)
    return XYTransformer(1, 6, d_model=16, n_layers=2, n_heads=2, head=head).double().eval()


def test_train_permutation_invariance_and_query_equivariance():
    model = _model()
    x, y = sample_gp1d(3, 10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    inputs = torch.cat([x, y.unsqueeze(-1)], -1)
    out = model(inputs)
    perm = torch.cat([torch.randperm(6), 6 + torch.randperm(4)])
    out_perm = model(inputs[:, perm])
    assert torch.allclose(out_perm, out[:, perm[6:] - 6], atol=1e-12, rtol=0)


def test_queries_are_independent_and_their_y_unread():
    model = _model(1)
    x, y = sample_gp1d(2, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    inputs = torch.cat([x, y.unsqueeze(-1)], -1)
    out = model(inputs)
    changed = inputs.clone()
    changed[:, 7:, 0] = torch.rand(2, 3, dtype=torch.float64)  # other queries' x
    changed[:, 6:, 1] = 100.0  # every query's y
    again = model(changed)
    assert torch.allclose(again[:, 0], out[:, 0], atol=1e-12, rtol=0)
    single = model(inputs[:, :7])  # the first query alone
    assert torch.allclose(single[:, 0], out[:, 0], atol=1e-12, rtol=0)
    assert not torch.allclose(again[:, 1:], out[:, 1:])  # the others did change


@pytest.mark.parametrize("full_support", [True, False])
def test_bars_integrate_to_one(full_support):
    torch.manual_seed(0)
    borders = borders_from_samples(torch.randn(1000, dtype=torch.float64), 8)
    dist = BarDistribution(borders, full_support=full_support)
    logits = torch.randn(3, 8, dtype=torch.float64)
    lo, hi = (-40.0, 40.0) if full_support else (borders[0].item(), borders[-1].item())
    edges = torch.cat(
        [torch.tensor([lo], dtype=torch.float64), borders[1:-1], torch.tensor([hi], dtype=torch.float64)]
    )
    # midpoint rule inside each bucket, where the density is smooth (constant, or a half-normal tail)
    t = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000
    grid = (edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * t).flatten()
    step = ((edges[1:] - edges[:-1])[:, None] / 4000).expand(-1, 4000).flatten()
    dens = dist.log_density(logits.unsqueeze(1).expand(3, len(grid), 8), grid.expand(3, -1)).exp()
    mass = (dens * step).sum(-1)
    assert torch.allclose(mass, torch.ones(3, dtype=torch.float64), atol=1e-6)
    mean = (dens * grid * step).sum(-1)
    var = (dens * grid**2 * step).sum(-1) - mean**2
    assert torch.allclose(dist.mean(logits), mean, atol=1e-6)
    assert torch.allclose(dist.variance(logits), var, atol=1e-5)


def test_borders_split_samples_into_equal_counts():
    ys = torch.randn(1200, dtype=torch.float64)
    b = borders_from_samples(ys, 12)
    counts = torch.bincount(BarDistribution(b).bucket(ys), minlength=12)
    assert b[0] == ys.min() and b[-1] == ys.max() and counts.tolist() == [100] * 12


def test_bar_nll_of_uniform_logits_is_log_width():
    dist = BarDistribution(torch.tensor([0.0, 1.0, 3.0, 4.0]), full_support=False)
    nll = dist.nll(torch.zeros(2, 3), torch.tensor([2.0, 0.5]))
    assert torch.allclose(nll, torch.tensor([math.log(3 * 2.0), math.log(3 * 1.0)]))
