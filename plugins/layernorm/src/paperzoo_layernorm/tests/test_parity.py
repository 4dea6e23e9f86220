"""Parity with PyTorch: ``ba_layer_norm`` against ``torch.nn.LayerNorm`` (outputs and gradients), and
the plain path of the LN-LSTM (``layer_norm=False``) against ``torch.nn.LSTMCell`` and
``torch.nn.LSTM`` loaded with the same weights. Float32 tolerances are 1e-6 (a few ulps at the
outputs' magnitude: the reductions are ordered differently); float64 ones are rounding only."""

from __future__ import annotations

import paperzoo
import pytest
import torch

from paperzoo_layernorm.tests.helpers import perturb

F64 = torch.float64


def pair(shape, dtype, **kwargs):
    torch.manual_seed(0)
    ours = paperzoo.create("ba_layer_norm", normalized_shape=list(shape), **kwargs).to(dtype)
    perturb(ours)
    ref = torch.nn.LayerNorm(shape, **kwargs).to(dtype)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (F64, 1e-13)])
def test_layer_norm_matches_torch(dtype, tol, record_property):
    ours, ref = pair((64,), dtype)
    x = (3.0 * torch.randn(32, 10, 64) + 1.5).to(dtype)
    err = (ours(x) - ref(x)).abs().max().item()
    record_property(f"max_abs_diff_{str(dtype).removeprefix('torch.')}", err)
    assert err <= tol


@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False}])
def test_layer_norm_gradients_match_torch(kwargs):
    ours, ref = pair((4, 8), F64, **kwargs)
    x = torch.randn(5, 4, 8, dtype=F64)
    w = torch.randn(5, 4, 8, dtype=F64)
    xo, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
    (ours(xo) * w).sum().backward()
    (ref(xr) * w).sum().backward()
    torch.testing.assert_close(xo.grad, xr.grad, rtol=0, atol=1e-13)
    for (name, po), pr in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(po.grad, pr.grad, rtol=0, atol=1e-13, msg=name)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (F64, 1e-14)])
def test_plain_cell_matches_torch_lstm_cell(dtype, tol, record_property):
    torch.manual_seed(0)
    ref = torch.nn.LSTMCell(5, 7).to(dtype)
    ours = paperzoo.create("ln_lstm_cell", input_size=5, hidden_size=7, layer_norm=False).to(dtype)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 5, dtype=dtype)
    hx = (torch.randn(4, 7, dtype=dtype), torch.randn(4, 7, dtype=dtype))
    (h, c), (h_ref, c_ref) = ours(x, hx), ref(x, hx)
    err = max((h - h_ref).abs().max().item(), (c - c_ref).abs().max().item())
    record_property(f"lstm_cell_max_abs_diff_{str(dtype).removeprefix('torch.')}", err)
    assert err <= tol


def test_plain_sequence_model_matches_torch_lstm_with_gradients():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 6, batch_first=True).to(F64)
    ours = paperzoo.create("ln_lstm", input_size=3, hidden_size=6, layer_norm=False).to(F64)
    ours.cell.load_state_dict({k.removesuffix("_l0"): v for k, v in ref.state_dict().items()})
    x = torch.randn(4, 20, 3, dtype=F64)
    out, out_ref = ours(x), ref(x)[0]
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-14)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    (out_ref * w).sum().backward()
    for name, p in ours.cell.named_parameters():
        torch.testing.assert_close(p.grad, getattr(ref, f"{name}_l0").grad, rtol=0, atol=1e-13, msg=name)
