"""Exact properties of PowerNorm: closed forms, the running-statistic recursion, invariances, masks."""

import copy

import paperzoo
import pytest
import torch

from paperzoo_powernorm.power_norm import PowerNorm

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _norm(features=6, **params):
    norm = PowerNorm(features, **params).double()
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, features))
        norm.bias.copy_(torch.linspace(-1.0, 1.0, features))
    return norm


def test_eval_output_is_the_closed_form():
    norm = _norm(group_num=None).eval()
    psi2 = _randn(6, seed=1).abs() + 0.1
    norm.running_phi.copy_(psi2)
    x = _randn(4, 3, 6)
    want = norm.weight * x / torch.sqrt(psi2 + norm.eps) + norm.bias  # y = gamma x / psi + beta
    with torch.no_grad():
        torch.testing.assert_close(norm(x), want, **TOL)


def test_eval_output_with_group_scaling_is_the_closed_form():
    norm = _norm(group_num=2).eval()
    psi2 = _randn(6, seed=1).abs() + 0.1
    norm.running_phi.copy_(psi2)
    x = _randn(4, 3, 6)
    # each half of the features divided by its own root mean square, per token
    rms = torch.linalg.vector_norm(x.view(4, 3, 2, 3), dim=-1, keepdim=True) / 3**0.5
    scaled = (x.view(4, 3, 2, 3) / torch.sqrt(rms**2 + norm.eps)).view(4, 3, 6)
    want = norm.weight * scaled / torch.sqrt(psi2 + norm.eps) + norm.bias
    state = copy.deepcopy(norm.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(norm(x), want, **TOL)
    assert all(torch.equal(v, norm.state_dict()[k]) for k, v in state.items()), "eval changed a buffer"


def test_running_statistic_follows_the_released_recursion():
    # while t < T_w: psi^2 <- psi^2 (t-1)/t + sigma_B^2 / t; then always psi^2 <- a psi^2 + (1-a) sigma_B^2.
    # The forward divides by sigma_B for t <= T_w and by psi_{t-1} afterwards.
    a, warmup = 0.8, 3
    norm = _norm(group_num=None, alpha_fwd=a, warmup_iters=warmup).train()
    psi2 = torch.ones(6, dtype=torch.float64)
    for t in range(1, 8):
        x = _randn(5, 4, 6, seed=t) * t
        sigma2 = x.pow(2).mean(dim=(0, 1))
        divisor = sigma2 if t <= warmup else psi2
        with torch.no_grad():
            y = norm(x)
        torch.testing.assert_close(y, norm.weight * x / torch.sqrt(divisor + norm.eps) + norm.bias, **TOL)
        if t < warmup:
            psi2 = psi2 * (t - 1) / t + sigma2 / t
        psi2 = a * psi2 + (1 - a) * sigma2
        torch.testing.assert_close(norm.running_phi, psi2, **TOL)
        assert int(norm.iters) == t


def test_no_mean_subtraction_output_is_a_positive_rescaling():
    # PN divides each feature by a positive number and subtracts nothing (BN would centre it)
    norm = PowerNorm(6, group_num=None, warmup_iters=5).double().train()
    x = _randn(8, 5, 6) + 3.0
    with torch.no_grad():
        y = norm(x)
    ratio = (y / x).reshape(-1, 6)
    assert (ratio > 0).all()
    torch.testing.assert_close(ratio, ratio[:1].expand_as(ratio), **TOL)
    assert (y.mean(dim=(0, 1)) > 0.9).all()  # the mean is kept


def test_warmup_output_is_invariant_to_per_feature_scaling():
    x = _randn(4, 5, 6)
    scale = torch.linspace(0.1, 10.0, 6, dtype=torch.float64)
    first, second = (_norm(group_num=None, eps=0.0).train() for _ in range(2))
    with torch.no_grad():
        torch.testing.assert_close(first(x * scale), second(x), **TOL)


def test_group_scaling_makes_output_invariant_to_per_token_scaling():
    x = _randn(4, 5, 6)
    scale = _randn(4, 5, 1, seed=3).abs() + 0.1
    norm = _norm(group_num=1, eps=0.0).eval()
    norm.running_phi.copy_(_randn(6, seed=2).abs() + 0.1)
    with torch.no_grad():
        torch.testing.assert_close(norm(x * scale), norm(x), **TOL)


def test_statistics_are_over_batch_and_tokens_whatever_the_layout():
    x, up = _randn(3, 4, 6), _randn(3, 4, 6, seed=1)
    batch_first, time_first = _norm(warmup_iters=1).train(), _norm(warmup_iters=1).train()
    xa, xb = x.clone().requires_grad_(), x.transpose(0, 1).clone().requires_grad_()
    for _ in range(2):
        ya, yb = batch_first(xa), time_first(xb)
        torch.testing.assert_close(ya, yb.transpose(0, 1), **TOL)
        (ga,) = torch.autograd.grad(ya, xa, up)
        (gb,) = torch.autograd.grad(yb, xb, up.transpose(0, 1))
        torch.testing.assert_close(ga, gb.transpose(0, 1), **TOL)
    for name in ("running_phi", "ema_gz"):
        torch.testing.assert_close(getattr(batch_first, name), getattr(time_first, name), **TOL)


def test_padding_tokens_are_left_out_of_the_statistics():
    x, up = _randn(2, 5, 6) * 3, _randn(2, 5, 6, seed=1)
    pad = torch.tensor([[False, False, False, True, True], [False, False, False, False, True]])
    masked, compact = _norm(warmup_iters=1).train(), _norm(warmup_iters=1).train()
    xm, xc = x.clone().requires_grad_(), x[~pad].clone().requires_grad_()
    for _ in range(2):  # a warm-up pass, then one with the running statistic and the correction
        ym, yc = masked(xm, pad_mask=pad), compact(xc)
        torch.testing.assert_close(ym[~pad], yc, **TOL)
        upm = up * (~pad).unsqueeze(-1)  # padding receives no gradient from a loss
        (gm,) = torch.autograd.grad(ym, xm, upm)
        (gc,) = torch.autograd.grad(yc, xc, up[~pad])
        torch.testing.assert_close(gm[~pad], gc, **TOL)
    for name in ("running_phi", "ema_gz"):
        torch.testing.assert_close(getattr(masked, name), getattr(compact, name), **TOL)


def test_replacing_a_layernorm_copies_its_affine_parameters():
    ln = torch.nn.LayerNorm(8)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-1, 1)
    norm = paperzoo.create("power_norm", ln, warmup_iters=4)
    assert isinstance(norm, PowerNorm) and norm.num_features == 8 and norm.warmup_iters == 4
    assert torch.equal(norm.weight, ln.weight) and torch.equal(norm.bias, ln.bias)
    assert norm.weight is not ln.weight
    rms = torch.nn.RMSNorm(8)  # a norm without bias: the shift starts at zero
    norm = PowerNorm(rms)
    assert torch.equal(norm.weight, rms.weight) and torch.equal(norm.bias, torch.zeros(8))
    plain = PowerNorm(torch.nn.LayerNorm(8, elementwise_affine=False), affine=False)
    assert plain.weight is None and list(plain.parameters()) == []


def test_buffers_and_parameters_are_in_the_state_dict():
    norm = PowerNorm(8)
    assert set(norm.state_dict()) == {"weight", "bias", "running_phi", "ema_gz", "iters"}


def test_half_precision_inputs_are_normalised_in_float32():
    x = _randn(4, 5, 8).float()
    ref, half = PowerNorm(8, warmup_iters=1).train(), PowerNorm(8, warmup_iters=1).train()
    for _ in range(2):
        want = ref(x)
        got = half(x.bfloat16())
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)  # bf16 input rounding
    torch.testing.assert_close(half.running_phi, ref.running_phi, rtol=2e-2, atol=0)


@pytest.mark.parametrize(
    "args,params",
    [((6,), {"group_num": 4}), ((torch.nn.LayerNorm([2, 3]),), {}), ((0,), {}), ((6,), {"alpha_fwd": 1.5})],
)
def test_invalid_settings_are_rejected(args, params):
    with pytest.raises(ValueError):
        PowerNorm(*args, **params)


def test_wrong_feature_count_and_mask_shape_are_rejected():
    norm = PowerNorm(6).train()
    with pytest.raises(ValueError):
        norm(torch.randn(2, 3, 5))
    with pytest.raises(ValueError):
        norm(torch.randn(2, 3, 6), pad_mask=torch.zeros(3, 2, dtype=torch.bool))
