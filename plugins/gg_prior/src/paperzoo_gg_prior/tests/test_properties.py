"""Exact properties of GG init, the GG helpers, RF8 and the DeepShape penalty (float64 where it matters)."""

from __future__ import annotations

import math

import paperzoo
import pytest
import torch
from paperzoo.errors import ParamError

from paperzoo_gg_prior.deepshape import Prior, deepshape_penalty, fit_priors
from paperzoo_gg_prior.gg import gg_scale, gg_variance, moment_ratio, sample_gg
from paperzoo_gg_prior.init import gg_init
from paperzoo_gg_prior.rf8 import RF8FakeQuantLinear, rf8_quantize

F64 = torch.float64


@pytest.mark.parametrize("beta", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_scale_gives_the_requested_variance(beta):
    assert gg_variance(beta, gg_scale(beta, 0.3)) == pytest.approx(0.09, rel=1e-13)


def test_scale_of_the_gaussian_and_laplace_cases():
    # beta = 2: alpha = sqrt(2) sigma (exp(-w^2 / (2 sigma^2))); beta = 1: Laplace, variance 2 b^2
    assert gg_scale(2.0, 0.7) == pytest.approx(math.sqrt(2) * 0.7, rel=1e-14)
    assert gg_scale(1.0, 0.7) == pytest.approx(0.7 / math.sqrt(2), rel=1e-14)


def test_moment_ratio_closed_forms():
    assert moment_ratio(2.0).item() == pytest.approx(math.pi / 2, rel=1e-13)  # Gaussian
    assert moment_ratio(1.0).item() == pytest.approx(2.0, rel=1e-13)  # Laplace: 2 b^2 / b^2


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_gg_init_matches_kaiming_variance(beta):
    torch.manual_seed(0)
    layer = gg_init(torch.nn.Linear(400, 500, dtype=F64), beta=beta, xi=2.0)
    # 200k draws: the sample variance's relative standard error is sqrt(Var(w^2)) / (sigma^2 sqrt(n)),
    # at most ~0.7 % for the Laplace (kurtosis 6); 4 % is > 5 standard errors
    assert layer.weight.var().item() == pytest.approx(2.0 / 400, rel=0.04)
    assert torch.count_nonzero(layer.bias) == 0


def test_gg_init_fan_out_mode_uses_the_output_dimension():
    torch.manual_seed(0)
    layer = gg_init(torch.nn.Linear(50, 800, dtype=F64), beta=1.5, xi=1.0, mode="fan_out")
    assert layer.weight.var().item() == pytest.approx(1.0 / 800, rel=0.04)


def test_gg_init_through_the_registry_rejects_a_bad_shape():
    with pytest.raises(ParamError):
        paperzoo.create("gg_init", torch.nn.Linear(4, 4), beta=-1.0)


def test_sampler_is_symmetric_and_seeded():
    torch.manual_seed(3)
    a = sample_gg((1000,), 1.0, 1.0, dtype=F64)
    torch.manual_seed(3)
    b = sample_gg((1000,), 1.0, 1.0, dtype=F64)
    assert torch.equal(a, b)
    assert 400 < int((a > 0).sum()) < 600


def test_rf8_keeps_sums_of_two_close_powers_of_two_exactly():
    w = torch.tensor([0.0, 1.0, -0.5, 1.5, -0.75, 1.0625, 2.0**-20 * 1.25], dtype=F64)
    # 1.0625 = 1 + 2^-4 (gap 4: kept); 1 + 2^-5 has gap 5: dropped to 1
    assert torch.equal(rf8_quantize(w), w)
    assert rf8_quantize(torch.tensor([1.0 + 2**-5], dtype=F64)).item() == 1.0


def test_rf8_commutes_with_powers_of_two_and_sign():
    torch.manual_seed(0)
    w = torch.randn(1000, dtype=F64)
    q = rf8_quantize(w)
    assert torch.equal(rf8_quantize(w * 2.0**5), q * 2.0**5)
    assert torch.equal(rf8_quantize(-w), -q)


def test_rf8_relative_error_bound():
    # residual exponent rounding: |r - q2| <= (sqrt 2 - 1) |r|, and |r| <= (sqrt 2 - 1) 2^e1; when the
    # residual is dropped, |r| < 2^(e1 - max_gap - 0.5): so |w - q| / |w| < max(3 - 2 sqrt 2, 2^-4.5) * sqrt 2
    torch.manual_seed(0)
    w = torch.randn(100_000, dtype=F64)
    rel = ((rf8_quantize(w) - w).abs() / w.abs()).max().item()
    assert rel <= max(3 - 2 * math.sqrt(2), 2**-4.5) * math.sqrt(2)
    assert rf8_quantize(w).unique().numel() < 256  # at most 8 bits' worth of codes over the range of w


def test_rf8_linear_forward_and_straight_through_gradient():
    torch.manual_seed(0)
    base = torch.nn.Linear(8, 4, dtype=F64)
    layer = paperzoo.create("rf8_fake_quant", base, max_gap=4)
    x = torch.randn(3, 8, dtype=F64)
    expected = x @ rf8_quantize(base.weight).T + rf8_quantize(base.bias)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-15)
    layer(x).sum().backward()
    torch.testing.assert_close(base.weight.grad, x.sum(0).expand(4, 8), rtol=0, atol=1e-12)
    assert isinstance(layer, RF8FakeQuantLinear)


def test_penalty_is_the_mean_gg_negative_log_likelihood_up_to_constants():
    torch.manual_seed(0)
    w1, w2 = torch.randn(6, 5, dtype=F64), torch.randn(3, 4, dtype=F64)
    priors = [Prior(beta=0.8, alpha=0.5), Prior(beta=1.5, alpha=2.0)]
    expected = ((w1.abs() / 0.5) ** 0.8).sum() + ((w2.abs() / 2.0) ** 1.5).sum()
    got = deepshape_penalty([w1, w2], priors, eps=1e-300)
    torch.testing.assert_close(got, expected / 42, rtol=1e-14, atol=0)


def test_priors_are_narrower_and_more_peaked_than_the_fit():
    torch.manual_seed(0)
    w = torch.randn(200, 200, dtype=F64) * 0.1
    (prior,) = fit_priors([w], shape_scale=0.8, alpha_scale=0.6)
    # a Gaussian tensor: fitted beta ~ 2, alpha ~ sqrt(2) * 0.1
    assert prior.beta == pytest.approx(0.8 * 2.0, rel=0.03)
    assert prior.alpha == pytest.approx(0.6 * math.sqrt(2) * 0.1, rel=0.03)


def _fit(trainer_cls, **params):
    from paperzoo.data import DataBundle
    from paperzoo.trainer import Run
    from torch.utils.data import TensorDataset

    torch.manual_seed(0)
    x, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
    data = DataBundle(TensorDataset(x, y), TensorDataset(x[:32], y[:32]), "classification", num_classes=3)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    for layer in (model[0], model[2]):  # bell-shaped weights, as in a trained model
        torch.nn.init.kaiming_normal_(layer.weight)
    trainer = trainer_cls(max_steps=40, batch_size=32, progress=False, device="cpu", **params)
    run = Run(model=model, data=data, make_optimizer=lambda p: (torch.optim.SGD(p, lr=0.05), None), seed=0)
    run.optimizer, run.scheduler = run.make_optimizer(model.parameters())
    return trainer, trainer.fit(run), model


def test_zero_strength_reduces_to_the_supervised_loop():
    from paperzoo.trainer import Supervised

    from paperzoo_gg_prior.deepshape import DeepShapeRegularizer

    _, _, plain = _fit(Supervised)
    _, _, shaped = _fit(DeepShapeRegularizer, strength=0.0)
    for a, b in zip(plain.parameters(), shaped.parameters(), strict=True):
        assert torch.equal(a, b)


def test_deepshape_raises_the_prior_likelihood_and_the_near_zero_fraction():
    from paperzoo.trainer import Supervised

    from paperzoo_gg_prior.deepshape import DeepShapeRegularizer, near_zero_fraction, shaped_weights

    _, _, plain = _fit(Supervised)
    trainer, summary, shaped = _fit(DeepShapeRegularizer, strength=5.0)
    with torch.no_grad():
        nll_plain = deepshape_penalty(shaped_weights(plain), trainer.priors)
        nll_shaped = deepshape_penalty(shaped_weights(shaped), trainer.priors)
    assert nll_shaped < nll_plain
    assert summary["near_zero_after"] > 2 * near_zero_fraction(shaped_weights(plain), trainer.thresholds)
    assert summary["near_zero_after"] > 2 * summary["near_zero_before"]
    assert all(1.2 < b < 2.0 for b in summary["prior_betas"])  # 0.8 x a fitted shape near 2


def test_prior_shape_is_capped_for_a_uniform_tensor():
    torch.manual_seed(0)
    (prior,) = fit_priors([torch.rand(100, 100, dtype=F64) - 0.5], max_beta=2.0)
    assert prior.beta == 2.0


def test_resuming_restores_the_priors_fitted_at_the_start():
    from paperzoo_gg_prior.deepshape import DeepShapeRegularizer

    trainer = DeepShapeRegularizer(strength=2.0)
    trainer.priors = [Prior(beta=0.9, alpha=0.25), Prior(beta=1.4, alpha=0.5)]
    trainer.near_zero_before = 0.125
    restored = DeepShapeRegularizer()
    restored.load_extra_state(trainer.extra_state())
    assert restored.priors == trainer.priors
    assert restored.thresholds == [0.025, 0.05]
    assert restored.near_zero_before == 0.125
