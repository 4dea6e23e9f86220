"""Exact properties of ShiftQuant, the quantised linear, L1Norm and the model conversion."""

from __future__ import annotations

import math

import paperzoo
import pytest
import torch
from torch import nn

from paperzoo_shiftquant.convert import convert
from paperzoo_shiftquant.linear import ShiftQuantLinear, quantize_gradient
from paperzoo_shiftquant.norm import L1Norm, l1_normalize
from paperzoo_shiftquant.quant import per_tensor_quantize, qmax, round_values, shift_scales, shiftquant

F64 = torch.float64


def heterogeneous(rows: int = 64, cols: int = 32, seed: int = 0) -> torch.Tensor:
    """Columns whose magnitudes span about 2**12 (what gradient channels look like)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=g, dtype=F64) * torch.logspace(0, -12, cols, base=2, dtype=F64)


def test_stochastic_rounding_is_unbiased():
    torch.manual_seed(0)
    x = torch.tensor([-2.75, -0.5, 0.1, 0.3, 1.9, 3.0], dtype=F64)
    n = 40000
    draws = round_values(x.expand(n, -1).contiguous(), "stochastic")
    frac = x - x.floor()
    # each draw is floor(x) + Bernoulli(frac): the mean's standard error is sqrt(frac (1 - frac) / n)
    bound = 5 * torch.sqrt(frac * (1 - frac) / n) + 1e-12
    assert ((draws.mean(0) - x).abs() <= bound).all()
    assert set(draws.unique().tolist()) <= {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}


def test_stochastic_shiftquant_is_unbiased():
    torch.manual_seed(1)
    x = heterogeneous(4, 8)
    s = shift_scales(x, 4, 16)
    n = 20000
    # n copies share every channel's maximum, hence its scale: one call draws them all
    mean = shiftquant(x.expand(n, -1, -1).contiguous(), 4, 16, rounding="stochastic").mean(0)
    frac = x / s - torch.floor(x / s)
    bound = 5 * s * torch.sqrt(frac * (1 - frac) / n) + 1e-15
    assert ((mean - x).abs() <= bound).all()


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("num_groups", [1, 3, 8])
def test_scales_are_exact_powers_of_two_with_at_most_num_groups_values(bits, num_groups):
    x = heterogeneous()
    s = shift_scales(x, bits, num_groups)
    mantissa, _ = torch.frexp(s)
    assert (mantissa == 0.5).all()
    assert s.unique().numel() <= num_groups
    top = s.max()  # the smallest power of two covering the tensor's largest magnitude
    m = x.abs().max()
    assert m <= qmax(bits) * top and m > qmax(bits) * top / 2


@pytest.mark.parametrize("num_groups", [1, 4, 16])
def test_nearest_error_is_at_most_half_a_step_and_stochastic_below_one(num_groups):
    torch.manual_seed(2)
    x = heterogeneous()
    s = shift_scales(x, 4, num_groups)
    assert ((shiftquant(x, 4, num_groups) - x).abs() <= s / 2).all()
    assert ((shiftquant(x, 4, num_groups, rounding="stochastic") - x).abs() < s).all()
    q = shiftquant(x, 4, num_groups) / s  # integers on the 4-bit grid
    assert torch.equal(q, q.round()) and q.abs().max() <= qmax(4)


def relative_error(q: torch.Tensor, x: torch.Tensor) -> float:
    """Mean over channels (columns) of ||q - x||^2 / ||x||^2."""
    return ((q - x).square().sum(0) / x.square().sum(0)).mean().item()


def test_more_groups_never_increase_the_error_and_beat_per_tensor():
    x = heterogeneous()
    errors = [relative_error(shiftquant(x, 4, g), x) for g in (1, 2, 4, 8, 16)]
    assert all(a >= b for a, b in zip(errors, errors[1:]))
    # per-tensor rounds the small channels to zero (relative error ~1); 16 groups cover them all
    assert errors[-1] < 0.05 * relative_error(per_tensor_quantize(x, 4), x)


def test_one_group_is_a_per_tensor_power_of_two_scale():
    x = heterogeneous()
    s = 2.0 ** math.ceil(math.log2(x.abs().max().item() / 7))
    expected = torch.round(x / s).clamp(-7, 7) * s
    assert torch.equal(shiftquant(x, 4, 1), expected)


def test_grid_values_are_fixed_points():
    x = heterogeneous()
    q = shiftquant(x, 4, 8)
    assert torch.equal(shiftquant(q, 4, 8), q)


def test_zero_tensor_and_zero_channels():
    x = torch.zeros(3, 4, dtype=F64)
    assert torch.equal(shiftquant(x, 4, 8), x)
    x[:, 0] = torch.tensor([1.0, -0.5, 0.25], dtype=F64)
    assert torch.equal(shiftquant(x, 4, 8)[:, 1:], x[:, 1:])


def make_linear(**params) -> ShiftQuantLinear:
    torch.manual_seed(0)
    return paperzoo.create("shiftquant_linear", nn.Linear(8, 16, dtype=F64), **params)


def test_linear_without_quantisation_is_the_wrapped_linear():
    layer = make_linear(grad_quant="none", quantize_forward=False)
    x = torch.randn(4, 8, dtype=F64, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_()
    layer(x).pow(2).sum().backward()
    y = layer.base(ref_x)
    assert torch.equal(layer(x), y)
    grads = [p.grad.clone() for p in layer.base.parameters()]
    layer.base.zero_grad()
    y.pow(2).sum().backward()
    assert torch.equal(x.grad, ref_x.grad)
    assert all(torch.equal(a, p.grad) for a, p in zip(grads, layer.base.parameters()))


def test_linear_forward_uses_quantised_weight_and_input():
    layer = make_linear()
    x = torch.randn(4, 8, dtype=F64)
    w = shiftquant(layer.base.weight, 4, 8, dim=0)
    expected = shiftquant(x, 4, 8, dim=-1) @ w.T + layer.base.bias
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-12)  # float64 rounding only


def test_linear_backward_uses_the_quantised_output_gradient():
    layer = make_linear(grad_rounding="nearest")
    x = torch.randn(4, 8, dtype=F64, requires_grad=True)
    upstream = torch.randn(4, 16, dtype=F64) * torch.logspace(0, -8, 16, base=2, dtype=F64)
    layer(x).backward(upstream)
    g = shiftquant(upstream, 4, 8, dim=-1)
    xq = shiftquant(x.detach(), 4, 8, dim=-1)
    wq = shiftquant(layer.base.weight.detach(), 4, 8, dim=0)
    torch.testing.assert_close(x.grad, g @ wq, rtol=0, atol=1e-12)  # STE: the input's fake-quant passes
    torch.testing.assert_close(layer.base.weight.grad, g.T @ xq, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.base.bias.grad, g.sum(0), rtol=0, atol=1e-12)


def test_per_tensor_gradient_mode_quantises_with_one_scale():
    y = torch.randn(5, 6, dtype=F64, requires_grad=True)
    upstream = torch.randn(5, 6, dtype=F64)
    quantize_gradient(y, "per_tensor", 4, 8, "nearest").backward(upstream)
    assert torch.equal(y.grad, per_tensor_quantize(upstream, 4))
    assert y.grad.div(upstream.abs().max() / 7).round().unique().numel() <= 15


@pytest.mark.parametrize("params", [{"bits": 1}, {"bits": 17}, {"num_groups": 0}, {"grad_quant": "x"}])
def test_linear_rejects_bad_params(params):
    with pytest.raises(Exception, match="accepted"):
        ShiftQuantLinear(nn.Linear(2, 2), **params)


def test_l1norm_equals_layernorm_times_a_constant_on_two_point_rows():
    # rows of +a and -a: mu = 0, mean|x - mu| = a = std, so L1Norm = LayerNorm * sqrt(2/pi)
    x = torch.tensor([[1.0, -1.0, 1.0, -1.0], [3.0, 3.0, -3.0, -3.0]], dtype=F64)
    y = l1_normalize(x, eps=0.0)
    torch.testing.assert_close(y, x.sign() * math.sqrt(2 / math.pi), rtol=0, atol=1e-15)


def test_l1norm_is_close_to_layernorm_on_gaussian_inputs():
    torch.manual_seed(3)
    x = torch.randn(64, 512, dtype=F64) * 3 + 1
    norm = nn.LayerNorm(512, dtype=F64)
    l1, l2 = L1Norm(norm)(x).detach(), norm(x).detach()
    corr = torch.corrcoef(torch.stack([l1.flatten(), l2.flatten()]))[0, 1]
    assert corr > 0.99
    ratio = l1.abs().mean() / l2.abs().mean()  # sqrt(pi/2) mean|.| estimates sigma: ratio ~ 1
    assert abs(ratio - 1) < 0.02


def naive_l1norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    c = x - x.mean(-1, keepdim=True)
    return c / (math.sqrt(math.pi / 2) * c.abs().mean(-1, keepdim=True) + eps)


def test_l1norm_backward_matches_autograd_of_the_formula():
    torch.manual_seed(4)
    x = torch.randn(6, 5, 12, dtype=F64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    upstream = torch.randn(6, 5, 12, dtype=F64)
    l1_normalize(x, eps=1e-5).backward(upstream)
    naive_l1norm(x2, 1e-5).backward(upstream)
    torch.testing.assert_close(x.grad, x2.grad, rtol=0, atol=1e-12)  # float64 rounding only
    assert torch.autograd.gradcheck(
        lambda t: l1_normalize(t, 2, 1e-3), (x[:2, :3, :4].detach().requires_grad_(),)
    )


def test_l1norm_reuses_the_layernorm_parameters_and_is_shift_and_scale_invariant():
    norm = nn.LayerNorm(8, dtype=F64)
    layer = paperzoo.create("l1_norm", norm)
    assert layer.weight is norm.weight and layer.bias is norm.bias
    x = torch.randn(3, 8, dtype=F64)
    torch.testing.assert_close(layer(5 * x + 2), layer(x), rtol=0, atol=1e-5 * 10)  # eps breaks exactness


def test_convert_wraps_every_linear_and_layernorm_keeping_parameters():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Sequential(nn.ReLU(), nn.Linear(8, 2)))
    params = list(model.parameters())
    convert(model, bits=6)
    assert isinstance(model[0], ShiftQuantLinear) and isinstance(model[2][1], ShiftQuantLinear)
    assert isinstance(model[1], L1Norm) and model[0].bits == 6
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
