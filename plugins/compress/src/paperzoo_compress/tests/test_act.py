"""Activation fake quantisation: closed forms, error bounds, the straight-through gradient and the
round-to-nearest W-A baseline."""

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_compress.act import ActQuantLinear, fake_quantize_activations, quantize_model_wa, ste_round
from paperzoo_compress.linear import FakeQuantLinear, block_linears
from paperzoo_compress.quant import fake_quantize


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def test_asymmetric_closed_form():
    x = torch.tensor([[-1.0, 0.0, 0.5, 2.0], [0.2, 0.4, 0.6, 3.2]], dtype=torch.float64)
    # row 0: scale 3/3 = 1, zero 1, grid {-1, 0, 1, 2}; row 1: scale 1, zero round(-0.2) = 0, grid {0, 1, 2, 3}
    want = torch.tensor([[-1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 1.0, 3.0]], dtype=torch.float64)
    assert torch.equal(fake_quantize_activations(x, 2, "token"), want)


def test_symmetric_closed_form_and_clipping():
    x = torch.tensor([[-4.0, -1.0, 0.4, 3.0]], dtype=torch.float64)
    # 3 bits: scale 4 / 3, codes round(x / scale) clamped to [-4, 3]
    s = 4.0 / 3
    want = torch.tensor([[-3 * s, -1 * s, 0.0, 2 * s]], dtype=torch.float64)
    assert torch.allclose(fake_quantize_activations(x, 3, "token", symmetric=True), want, atol=1e-15)
    clipped = fake_quantize_activations(x, 3, "token", symmetric=True, clip_ratio=0.5)
    # scale 2 / 3: x / scale = [-6, -1.5, 0.6, 4.5] rounds (half to even) to [-6, -2, 1, 4], clamps to [-4, -2, 1, 3]
    s = 2.0 / 3
    assert torch.allclose(
        clipped, torch.tensor([[-4 * s, -2 * s, s, 3 * s]], dtype=torch.float64), atol=1e-15
    )


@pytest.mark.parametrize("bits", [3, 4, 8])
def test_per_token_error_within_half_a_step_and_at_most_2_to_the_b_values(bits):
    x = _x(4, 6, 32) * torch.linspace(0.1, 10, 32, dtype=torch.float64)  # outlier channels
    xq = fake_quantize_activations(x, bits, "token")
    rows, rows_q = x.reshape(-1, 32), xq.reshape(-1, 32)
    step = (rows.amax(1, keepdim=True) - rows.amin(1, keepdim=True)) / (2**bits - 1)
    assert ((rows_q - rows).abs() <= step / 2 + 1e-12).all()
    assert all(r.unique().numel() <= 2**bits for r in rows_q)


def test_per_tensor_is_one_token_of_everything_and_matches_the_weight_quantiser():
    x = _x(3, 5, 8)
    flat = fake_quantize_activations(x.reshape(1, -1), 4, "token")
    assert torch.equal(fake_quantize_activations(x, 4, "tensor"), flat.reshape(x.shape))
    # per-token asymmetric = the weight quantiser's per-row grid when no zero point is clamped
    x0 = x.reshape(-1, 8) - x.reshape(-1, 8).mean(1, keepdim=True)  # every row straddles 0
    assert torch.allclose(fake_quantize_activations(x0, 4, "token"), fake_quantize(x0, 4, -1), atol=1e-15)


def test_ste_forward_equals_plain_and_rounding_passes_gradients():
    x = _x(2, 16).requires_grad_()
    assert torch.equal(fake_quantize_activations(x, 4, ste=True), fake_quantize_activations(x, 4))
    u = torch.linspace(-2, 2, 9, dtype=torch.float64, requires_grad=True)
    ste_round(u).sum().backward()
    assert torch.equal(u.grad, torch.ones_like(u))
    fake_quantize_activations(x, 4, ste=True).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert (x.grad != 0).all()  # every entry gets a gradient through the straight-through rounding
    y = _x(2, 16).requires_grad_()
    fake_quantize_activations(y, 4).sum().backward()  # plain rounding: only through the range (min, max)
    assert ((y.grad != 0).sum(1) <= 2).all()


def test_sixteen_bits_nearly_exact():
    x = _x(8, 32)
    assert (fake_quantize_activations(x, 16) - x).abs().max() < 1e-3


def test_act_quant_linear_is_linear_of_the_quantised_input():
    lin = nn.Linear(16, 4).double()
    with torch.no_grad():
        lin.weight.copy_(_x(4, 16))
    x = _x(3, 16)
    layer = ActQuantLinear(FakeQuantLinear(lin, 4, -1), a_bits=4)
    want = fake_quantize_activations(x, 4) @ fake_quantize(lin.weight, 4, -1).T + lin.bias
    assert torch.equal(layer(x), want)


def test_wa_baseline_wraps_every_block_linear_and_16_bits_keep_the_function():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, d_ff=64, vocab_size=50).double().eval()
    names = list(block_linears(model))
    wa = quantize_model_wa(model, 4, 4, inplace=False)
    assert block_linears(wa) == {} and all(isinstance(wa.get_submodule(n), ActQuantLinear) for n in names)
    assert len(block_linears(model)) == len(names)  # the original is untouched
    ids = torch.randint(0, 50, (2, 12), generator=torch.Generator().manual_seed(1))
    near = quantize_model_wa(model, 16, 16, inplace=False)
    assert (near(ids).logits - model(ids).logits).abs().max() < 1e-2
    assert (wa(ids).logits - model(ids).logits).abs().max() > (
        near(ids).logits - model(ids).logits
    ).abs().max()


@pytest.mark.parametrize(
    "kw",
    [{"bits": 1}, {"bits": 4.0}, {"granularity": "channel"}, {"clip_ratio": 0.0}, {"clip_ratio": 1.5}],
)
def test_bad_settings_name_the_parameter(kw):
    with pytest.raises(ParamError):
        fake_quantize_activations(_x(2, 4), **kw)
