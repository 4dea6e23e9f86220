"""Exact and statistical properties: the mixture density, the density step on analytic 1-D and 2-D
Gaussian mixtures (outputs follow p, acceptance 1 - TV, q = p accepts all), and the model-level loop
(gamma = 0 is plain sampling, a draft equal to the target is always accepted, the first token follows
the target's mixture). All draws are seeded, so every statistical test is deterministic."""

import math

import pytest
import torch
from paperzoo_tinylm.speculative import density_acceptance, density_residual_sample

from paperzoo_continuous_spec_decoding.decoding import SpecStats, autoregressive_sample, speculative_sample
from paperzoo_continuous_spec_decoding.evaluators import ContinuousSpeculativeSampler, perturbed_copy
from paperzoo_continuous_spec_decoding.mixture import GaussianMixture, total_variation_grid
from paperzoo_continuous_spec_decoding.model import MixtureAR
from paperzoo_continuous_spec_decoding.tests.helpers import ks, ks_critical, mixture, projected_cdf

P1 = mixture([0.6, 0.4], [[-1.0], [1.5]], [[0.6], [0.8]])
Q1 = mixture([0.3, 0.7], [[-0.5], [1.0]], [[1.0], [0.7]])
P2 = mixture([0.5, 0.3, 0.2], [[0.0, 0.0], [2.0, 1.0], [-1.5, 2.0]], [[0.5, 1.0], [0.7, 0.4], [0.6, 0.6]])
Q2 = mixture([0.4, 0.6], [[0.3, 0.2], [1.5, 1.2]], [[0.8, 1.2], [1.0, 0.8]])
DIRECTIONS = [torch.tensor(d, dtype=torch.float64) for d in ([1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, -0.6])]


def test_mixture_log_prob_matches_torch_distributions():
    d = torch.distributions
    ref = d.MixtureSameFamily(
        d.Categorical(logits=P2.logits), d.Independent(d.Normal(P2.means, P2.log_std.exp()), 1)
    )
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    torch.testing.assert_close(P2.log_prob(x), ref.log_prob(x), rtol=1e-12, atol=1e-12)
    assert abs(total_variation_grid(P2, P2, -8, 8, 401)) == 0.0
    # the density integrates to 1 on the grid (trapezoidal rule error only)
    far = mixture([1.0], [[40.0, 40.0]], [[1.0, 1.0]])
    assert abs(2 * total_variation_grid(P2, far, -8, 8, 401) - 1) < 1e-6
    with pytest.raises(ValueError, match="K"):
        GaussianMixture(torch.zeros(2), torch.zeros(3, 1), torch.zeros(3, 1))


def _step(p: GaussianMixture, q: GaussianMixture, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` independent one-token steps: x ~ q, kept with min(1, p/q), else the residual of p and q."""
    p, q = p.expand(n), q.expand(n)
    g = torch.Generator().manual_seed(seed)
    x = q.sample(g)
    keep = torch.rand(n, generator=g, dtype=torch.float64) < density_acceptance(p.log_prob(x), q.log_prob(x))
    out = x.clone()
    rejected = int((~keep).sum())
    if rejected:
        out[~keep], _ = density_residual_sample(p[:rejected], q[:rejected], g)
    return out, keep


@pytest.mark.parametrize(("p", "q", "lo", "hi", "grid"), [(P1, Q1, -10, 10, 20001), (P2, Q2, -9, 11, 801)])
def test_step_outputs_follow_p_and_accept_one_minus_tv(p, q, lo, hi, grid):
    """KS against p along several directions (the draft fails the same test: the test has power), and
    the empirical acceptance within 4 binomial standard deviations of 1 - TV(p, q)."""
    n = 20000
    out, keep = _step(p, q, n, seed=0)
    raw = q.expand(n).sample(torch.Generator().manual_seed(1))
    dims = DIRECTIONS if p.means.shape[-1] == 2 else [torch.ones(1, dtype=torch.float64)]
    for d in dims:
        assert ks(out @ d, projected_cdf(p, d)) < ks_critical(n)
    assert max(ks(raw @ d, projected_cdf(p, d)) for d in dims) > ks_critical(n)
    tv = total_variation_grid(p, q, lo, hi, grid)
    rate = float(keep.double().mean())
    assert abs(rate - (1 - tv)) < 4 * math.sqrt(tv * (1 - tv) / n), (rate, 1 - tv)


def test_q_equal_p_accepts_every_draft():
    _, keep = _step(P2, P2, 5000, seed=3)
    assert bool(keep.all())
    torch.manual_seed(0)
    target = MixtureAR(window=2).double()
    stats = SpecStats()
    prompt = torch.zeros(1, 2, dtype=torch.float64)
    speculative_sample(target, target, prompt, 13, 3, torch.Generator().manual_seed(0), stats)
    assert stats.acceptance_rate == 1.0 and stats.target_calls == 4  # passes of 4, 4, 4 and 1 tokens
    assert stats.residual_tries == 0


def test_gamma_zero_is_plain_sampling():
    torch.manual_seed(1)
    target, draft = MixtureAR().double(), MixtureAR(hidden=8).double()
    prompt = torch.randn(3, 2, dtype=torch.float64)
    a = autoregressive_sample(target, prompt, 12, torch.Generator().manual_seed(5))
    b = speculative_sample(target, draft, prompt, 12, 0, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and torch.equal(a[:3], prompt)


def test_model_first_token_follows_the_target():
    """Through the whole loop (draft model far from the target: many rejections), the first generated
    token after a fixed prompt is distributed as the target's mixture there (KS along 4 directions) and
    the first draft token is accepted at the rate 1 - TV(p_0, q_0)."""
    torch.manual_seed(2)
    target = MixtureAR(window=1, hidden=16).double()
    draft = perturbed_copy(target, 0.5, seed=7)
    prompt = torch.zeros(1, 2, dtype=torch.float64)
    g, stats, n = torch.Generator().manual_seed(0), SpecStats(), 1000
    first = torch.stack([speculative_sample(target, draft, prompt, 2, 1, g, stats)[1] for _ in range(n)])
    with torch.no_grad():
        p0, q0 = target(prompt[None])[0, 0], draft(prompt[None])[0, 0]
    accept = 1 - total_variation_grid(p0, q0, -15, 15, 601)
    assert 0.2 < accept < 0.8  # both branches (accept and residual) exercised
    assert abs(stats.acceptance_rate - accept) < 4 * math.sqrt(accept * (1 - accept) / n)
    for d in DIRECTIONS:
        assert ks(first @ d, projected_cdf(p0, d)) < ks_critical(n)


def test_model_is_causal_with_a_window():
    torch.manual_seed(3)
    model = MixtureAR(window=2).double()
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    y = x.clone()
    y[:, 4] += 1.0
    a, b = model(x), model(y)
    assert torch.equal(a.means[:, :4], b.means[:, :4])  # positions before 4 never see x_4
    assert not torch.equal(a.means[:, 4:6], b.means[:, 4:6])
    # one position's mixture equals the same position in a full pass (what verification reads)
    torch.testing.assert_close(model(x, 3, 4).means[:, 0], a.means[:, 3], rtol=1e-12, atol=1e-12)


def test_bad_arguments_raise():
    model = MixtureAR().double()
    with pytest.raises(ValueError, match="prompt"):
        speculative_sample(model, model, torch.zeros(0, 2, dtype=torch.float64), 3)
    with pytest.raises(ValueError, match="gamma"):
        speculative_sample(model, model, torch.zeros(1, 2, dtype=torch.float64), 3, gamma=-1)
    with pytest.raises(ValueError, match="gamma"):
        ContinuousSpeculativeSampler(gamma=-1)
