"""The approximate backward against autograd and against Algorithm 1 written out independently.

No package ships PowerNorm, so the references are (a) autograd of the batch-statistics formula in the
two settings where the approximate backward is exact, and (b) the closed-form update equations of the
paper's Algorithm 1 in float64. Tolerances are 1e-12 (float64 round-off of a few reductions).
"""

import torch

from paperzoo_powernorm.power_norm import PowerNorm

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _setup(group_num=None, alpha_bkw=0.9, warmup_iters=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    norm = PowerNorm(6, alpha_bkw=alpha_bkw, warmup_iters=warmup_iters, group_num=group_num).double()
    with torch.no_grad():
        norm.weight.copy_(torch.rand(6, generator=g, dtype=torch.float64) + 0.5)
        norm.bias.copy_(torch.randn(6, generator=g, dtype=torch.float64))
    x = (torch.randn(3, 5, 6, generator=g, dtype=torch.float64) * torch.linspace(0.5, 3, 6)).requires_grad_()
    upstream = torch.randn(3, 5, 6, generator=g, dtype=torch.float64)
    return norm, x, upstream


def _rms_group_scale(x, groups, eps):
    """Independent GroupScaling: each group of consecutive features divided by its RMS."""
    parts = x.chunk(groups, dim=-1)
    return torch.cat([p / torch.sqrt(p.pow(2).mean(-1, keepdim=True) + eps) for p in parts], dim=-1)


def _batch_rms_norm(x, weight, bias, eps, detach_stat):
    """``gamma * x / sqrt(1/B sum_i x_i^2 + eps) + beta`` with statistics over every token."""
    second = x.pow(2).reshape(-1, x.shape[-1]).mean(0)
    if detach_stat:
        second = second.detach()
    return weight * x / torch.sqrt(second + eps) + bias


def _grads(out, upstream, *tensors):
    return torch.autograd.grad(out, tensors, upstream)


def _max_abs_diff(got, want) -> float:
    """The largest absolute difference over pairs of tensors (the figure each test records)."""
    return max(float((a - b).abs().max()) for a, b in zip(got, want))


def test_warmup_without_correction_equals_autograd_with_stopped_statistic(record_property):
    # alpha_bkw = 1 removes the correction: dL/dx = gamma dL/dy / sqrt(sigma_B^2 + eps), i.e. autograd
    # with the batch statistic treated as a constant.
    norm, x, upstream = _setup(alpha_bkw=1.0)
    norm.train()
    with torch.no_grad():
        norm.ema_gz.normal_()  # no effect when alpha_bkw = 1
    got = _grads(norm(x), upstream, x, norm.weight, norm.bias)
    ref = _batch_rms_norm(x, norm.weight, norm.bias, norm.eps, detach_stat=True)
    want = _grads(ref, upstream, x, norm.weight, norm.bias)
    record_property("max_abs_diff_float64", _max_abs_diff(got, want))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **TOL)


def _exact_correction(norm, x, upstream, scaled):
    """ema_gz such that nu_{t-1} = (1 - a_b) ema_gz equals this batch's Lambda_t = 1/B sum dL/dx_hat x_hat."""
    with torch.no_grad():
        flat = scaled.reshape(-1, 6)
        x_hat = flat / torch.sqrt(flat.pow(2).mean(0) + norm.eps)
        lam = (upstream.reshape(-1, 6) * norm.weight * x_hat).mean(0)
        norm.ema_gz.copy_(lam / (1 - norm.alpha_bkw))


def test_warmup_backward_is_exact_when_nu_equals_lambda(record_property):
    # dL/dx of x / sqrt(sigma_B^2 + eps) is (dL/dx_hat - Lambda x_hat) / sqrt(sigma_B^2 + eps): PN's
    # backward is the exact gradient through the batch statistic when nu_{t-1} = Lambda_t.
    norm, x, upstream = _setup()
    norm.train()
    _exact_correction(norm, x, upstream, x)
    got = _grads(norm(x), upstream, x, norm.weight, norm.bias)
    ref = _batch_rms_norm(x, norm.weight, norm.bias, norm.eps, detach_stat=False)
    want = _grads(ref, upstream, x, norm.weight, norm.bias)
    record_property("max_abs_diff_float64", _max_abs_diff(got, want))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **TOL)


def test_warmup_backward_with_group_scaling_is_exact_when_nu_equals_lambda(record_property):
    norm, x, upstream = _setup(group_num=3)
    norm.train()
    _exact_correction(norm, x, upstream, _rms_group_scale(x.detach(), 3, norm.eps))
    got = _grads(norm(x), upstream, x, norm.weight, norm.bias)
    ref = _batch_rms_norm(
        _rms_group_scale(x, 3, norm.eps), norm.weight, norm.bias, norm.eps, detach_stat=False
    )
    want = _grads(ref, upstream, x, norm.weight, norm.bias)
    record_property("max_abs_diff_float64", _max_abs_diff(got, want))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **TOL)


def test_backward_without_exact_correction_differs_from_autograd(record_property):
    # the approximation is not vacuous: with nu_{t-1} = 0 the gradient misses the -Lambda x_hat term
    norm, x, upstream = _setup()
    norm.train()
    (got,) = _grads(norm(x), upstream, x)
    (want,) = _grads(_batch_rms_norm(x, norm.weight, norm.bias, norm.eps, detach_stat=False), upstream, x)
    gap = float((got - want).abs().max())
    record_property("max_abs_diff_without_correction", gap)
    assert gap > 1e-3


def test_algorithm_1_after_warmup(record_property):
    # After warm-up: x_hat_t = x_t / psi_{t-1}; x_tilde = dL/dx_hat - nu_{t-1} x_hat;
    # nu_t = nu_{t-1} (1 - (1 - a_b) Gamma_t) + (1 - a_b) Lambda_t; dL/dx = x_tilde / sqrt(sigma_B^2 + eps).
    norm, x, upstream = _setup(warmup_iters=2, alpha_bkw=0.7)
    norm.train()
    for _ in range(3):  # two warm-up iterations and one with the running statistic
        gen = torch.Generator().manual_seed(int(norm.iters) + 10)
        step_x = torch.randn(3, 5, 6, generator=gen, dtype=torch.float64).requires_grad_()
        psi_prev, ema_prev = norm.running_phi.clone(), norm.ema_gz.clone()
        step_up = torch.randn(3, 5, 6, generator=gen, dtype=torch.float64)
        y = norm(step_x)
        (gx,) = _grads(y, step_up, step_x)
    assert int(norm.iters) == 3
    a_b, eps, gamma = 0.7, norm.eps, norm.weight.detach()
    xf, gy = step_x.detach().reshape(-1, 6), step_up.reshape(-1, 6)
    sigma2 = xf.pow(2).mean(0)
    x_hat = xf / torch.sqrt(psi_prev + eps)
    torch.testing.assert_close(y.detach().reshape(-1, 6), gamma * x_hat + norm.bias.detach(), **TOL)
    g_hat = gy * gamma
    nu_prev = (1 - a_b) * ema_prev
    x_tilde = g_hat - nu_prev * x_hat
    torch.testing.assert_close(gx.reshape(-1, 6), x_tilde / torch.sqrt(sigma2 + eps), **TOL)
    big_gamma, big_lambda = x_hat.pow(2).mean(0), (g_hat * x_hat).mean(0)
    nu = nu_prev * (1 - (1 - a_b) * big_gamma) + (1 - a_b) * big_lambda
    record_property(
        "max_abs_diff_float64",
        _max_abs_diff(
            [y.detach().reshape(-1, 6), gx.reshape(-1, 6), (1 - a_b) * norm.ema_gz],
            [gamma * x_hat + norm.bias.detach(), x_tilde / torch.sqrt(sigma2 + eps), nu],
        ),
    )
    torch.testing.assert_close((1 - a_b) * norm.ema_gz, nu, **TOL)
    assert nu_prev.abs().min() > 0  # the correction was active


def test_affine_gradients_match_autograd_after_warmup(record_property):
    norm, x, upstream = _setup(warmup_iters=0)
    norm.train()
    psi_prev = norm.running_phi.clone()
    got = _grads(norm(x), upstream, norm.weight, norm.bias)
    ref = norm.weight * x / torch.sqrt(psi_prev + norm.eps) + norm.bias
    want = _grads(ref, upstream, norm.weight, norm.bias)
    record_property("max_abs_diff_float64", _max_abs_diff(got, want))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **TOL)
