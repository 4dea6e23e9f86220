"""Exact properties of PolyReLU and PolyNorm: reductions to ReLU and to RMS normalisation, closed forms
written out independently, finiteness and scale invariance of PolyNorm, gradients, and the tinylm slot.

Coefficients are dyadic fractions, so that building a module in float32 and casting it to float64 keeps
them exact."""

from __future__ import annotations

import paperzoo
import pytest
import torch
import torch.nn.functional as F

from paperzoo_polycom.polycom import PolyNorm, PolyReLU

F64 = torch.float64


def _x(*shape, scale=2.0, dtype=F64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * scale


def test_polyrelu_with_coefficients_0100_is_relu_bitwise():
    act = PolyReLU(coefficients=(0, 1, 0, 0))
    x = _x(4, 7, 33, dtype=torch.float32)
    assert torch.equal(act(x), F.relu(x))


@pytest.mark.parametrize("power", [1, 2, 3])
def test_polyrelu_single_power_is_relu_to_that_power(power):
    coefficients = [0.0] * 4
    coefficients[power] = 1.0
    x = _x(3, 11)
    torch.testing.assert_close(
        PolyReLU(coefficients=coefficients).double()(x), F.relu(x) ** power, rtol=0, atol=0
    )


def test_polyrelu_closed_form_and_negative_inputs_give_a0():
    a = (0.375, -1.25, 0.5, 0.25)
    act = PolyReLU(coefficients=a).double()
    x = _x(5, 9)
    r = x.clamp(min=0)
    want = a[0] + a[1] * r + a[2] * r * r + a[3] * r * r * r
    torch.testing.assert_close(act(x), want, rtol=1e-15, atol=1e-15)  # float64 rounding of 4 terms
    assert torch.equal(act(-x.abs() - 0.1), torch.full_like(x, a[0]))


def test_default_initialisation_is_the_official_one():
    for act in (PolyReLU(), PolyNorm()):
        assert torch.equal(act.coefficients, torch.tensor([0.0, 1 / 3, 1 / 3, 1 / 3]))
        assert torch.equal(act.weight.detach(), torch.full((3,), 1 / 3)) and act.bias.item() == 0.0


def test_coefficients_layout_and_order():
    act = PolyNorm(order=4, coefficients=(0.5, 1, 2, 3, 4))
    assert torch.equal(act.weight.detach(), torch.tensor([4.0, 3, 2, 1])) and act.bias.item() == 0.5
    assert torch.equal(act.coefficients, torch.tensor([0.5, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="order \\+ 1"):
        PolyReLU(coefficients=(0, 1))
    with pytest.raises(ValueError, match="positive integer"):
        PolyNorm(order=0)


def _rms(y, eps):
    return y / torch.sqrt((y * y).mean(-1, keepdim=True) + eps)


def test_polynorm_closed_form():
    a = (0.25, 0.875, -0.625, 0.375)
    x = _x(3, 4, 16)
    want = a[0] + a[1] * _rms(x, 1e-6) + a[2] * _rms(x * x, 1e-6) + a[3] * _rms(x * x * x, 1e-6)
    for stable in (True, False):
        got = PolyNorm(coefficients=a, stable=stable).double()(x)
        torch.testing.assert_close(got, want, rtol=1e-14, atol=1e-14)  # float64, a few reductions


def test_polynorm_coefficients_0100_is_rms_normalisation():
    x = _x(6, 32)
    got = PolyNorm(coefficients=(0, 1, 0, 0)).double()(x)
    torch.testing.assert_close(got, _rms(x, 1e-6), rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(got.pow(2).mean(-1), torch.ones(6, dtype=F64), rtol=1e-6, atol=0)  # eps


def test_polynorm_stays_finite_and_exact_for_large_inputs():
    # x^6 overflows float32 past |x| ~ 2.6e6: the formula as written (stable=False) loses the cubic
    # term there (0 * ...) or turns NaN; the stable form keeps the float64 value.
    a = (0.125, 0.75, -0.5, 1.25)
    x32 = _x(4, 16, scale=1.0, dtype=torch.float32) * torch.tensor([1.0, 1e4, 1e7, 1e30])[:, None]
    want = PolyNorm(coefficients=a, stable=False).double()(x32.double())
    got = PolyNorm(coefficients=a)(x32)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-6)  # a few float32 roundings
    naive = PolyNorm(coefficients=a, stable=False)(x32)
    assert not torch.isfinite(naive[3]).all()  # x^3 overflows: NaN
    assert (naive[2] - want[2].float()).abs().max() > 0.1  # x^6 overflows: the cubic term is lost


def test_polynorm_is_scale_invariant_up_to_eps():
    act = PolyNorm(coefficients=(0.125, 0.75, -0.5, 1.25), eps=0.0).double()
    x = _x(3, 16)
    for c in (1e-3, 7.0, 1e8):
        torch.testing.assert_close(act(c * x), act(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [PolyReLU, PolyNorm])
def test_gradients_match_finite_differences(cls):
    act = cls(coefficients=(0.25, 0.875, -0.625, 0.375)).double()
    x = _x(2, 6).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w, b: _call(act, x, w, b), (x, act.weight, act.bias))


def _call(act, x, w, b):
    act.weight.data, act.bias.data = w.data, b.data
    return act(x)


@pytest.mark.parametrize("cls", [PolyReLU, PolyNorm])
def test_checkpointing_changes_nothing_bitwise(cls):
    x = _x(3, 5, 24, dtype=torch.float32)
    grads = []
    for checkpoint in (False, True):
        act = cls(coefficients=(0.25, 0.875, -0.625, 0.375), checkpoint=checkpoint)
        xi = x.clone().requires_grad_()
        y = act(xi)
        y.sum().backward()
        grads.append((y.detach(), xi.grad, act.weight.grad, act.bias.grad))
    for a, b in zip(*grads):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["polyrelu", "polynorm"])
@pytest.mark.parametrize("ffn", ["mlp", "gated"])
def test_is_the_tinylm_activation_slot(name, ffn):
    from paperzoo_tinylm.model import TinyLMDecoder

    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=2, n_heads=2, ffn=ffn, activation=name)
    acts = [block.mlp.act for block in model.blocks]
    kind = {"polyrelu": PolyReLU, "polynorm": PolyNorm}[name]
    assert all(isinstance(a, kind) for a in acts), acts
    ids = torch.randint(256, (2, 9))
    out = model(ids).logits
    out.square().mean().backward()
    assert all(a.weight.grad is not None and a.weight.grad.abs().sum() > 0 for a in acts)
    # the same activation through the registry
    assert type(paperzoo.create(name)) is kind
