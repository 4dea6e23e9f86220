"""Exact properties: StatsQ's levels and closed form, LSQ's levels, the oscillation counter on a crafted
trajectory, CGA's freezing, QK reparameterisation's equivalence, parameter errors."""

from __future__ import annotations

import pytest
import torch
from paperzoo.errors import ParamError
from torch import nn

from paperzoo_ofq_quant.cga import CGA, cga_freeze_mask
from paperzoo_ofq_quant.oscillation import OscillationTracker
from paperzoo_ofq_quant.qk_reparam import QKReparamAttention
from paperzoo_ofq_quant.quant import StatsQuantizer, quant_linears, quantize_linears, statsq_pre_round
from paperzoo_ofq_quant.vit import timm_attention


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_statsq_at_most_2_to_the_b_levels_per_row(bits):
    w = 3 * torch.randn(5, 3000, generator=torch.Generator().manual_seed(bits), dtype=torch.float64)
    q = StatsQuantizer(bits)(w)
    n, s = 2 ** (bits - 1), 2 * w.abs().mean(dim=1, keepdim=True)
    k = q / s * n - 0.5  # the integer level, up to the straight-through form's rounding error
    assert torch.allclose(k, k.round(), atol=1e-9, rtol=0)
    assert k.round().min() >= -n and k.round().max() <= n - 1
    assert all(row.unique().numel() <= 2**bits for row in k.round())
    assert k.round().unique().numel() == 2**bits  # wide weights use every level


def test_statsq_closed_form():
    w = torch.tensor([[0.1, -0.3, 0.5, -0.9]], dtype=torch.float64)
    s = 2 * w.abs().mean()  # 0.9
    c = (w / s).clamp(-1, 1 - 1e-6)
    expected = s * ((torch.floor(c * 2) + 0.5) / 2)  # 2 bits: levels s * {-3/4, -1/4, 1/4, 3/4}
    assert torch.allclose(StatsQuantizer(2)(w), expected, atol=1e-15, rtol=0)
    assert set(torch.round(StatsQuantizer(2)(w) / s * 4).tolist()[0]) <= {-3.0, -1.0, 1.0, 3.0}


def test_statsq_scale_follows_the_weights_and_gradient_is_identity():
    w = torch.randn(3, 8, requires_grad=True)
    q = StatsQuantizer(2)(w)
    assert torch.allclose(StatsQuantizer(2)(3 * w.detach()), 3 * q.detach(), atol=1e-6)  # scale-equivariant
    (q * torch.arange(24.0).reshape(3, 8)).sum().backward()
    assert torch.equal(w.grad, torch.arange(24.0).reshape(3, 8))


def test_lsq_levels_and_scale_gradient():
    lin = nn.Linear(64, 4)
    quantize_linears(lin_wrap := nn.Sequential(lin), 2, "lsq")
    q = lin.quantized_weight()
    assert all(row.unique().numel() <= 4 for row in q)
    q.sum().backward()
    assert lin.s.grad is not None and lin.s.grad.abs().sum() > 0
    assert list(quant_linears(lin_wrap)) == ["0"]


def test_oscillation_counter_on_crafted_trajectory():
    # weight 0: 0 1 0 1 1 0 -> oscillates at steps 2, 3, 5; weight 1: 0 1 2 3 2 2 -> at step 4;
    # weight 2: constant -> never
    traj = torch.tensor([[0, 0, 0], [1, 1, 0], [0, 2, 0], [1, 3, 0], [1, 2, 0], [0, 2, 0]], dtype=torch.float)
    t = OscillationTracker(momentum=0.5)
    flags = [t.update(step).tolist() for step in traj]
    assert [f[0] for f in flags] == [False, False, True, True, False, True]
    assert [f[1] for f in flags] == [False, False, False, False, True, False]
    assert t.total.tolist() == [3.0, 1.0, 0.0]
    assert t.frequency() == pytest.approx(4 / (3 * 6))


def test_cga_mask_frees_only_weights_near_a_boundary():
    # 2 bits: pre-round x = 2 c - 0.5; boundaries at x = -1.5, -0.5, 0.5 (c = -0.5, 0, 0.5)
    w = torch.tensor([[1.0, -1.0, 1e-4, 0.9, -0.7, 0.301]])  # s = 2 mean|w|
    x = statsq_pre_round(w, 2)
    near = ((x - x.floor() - 0.5).abs() <= 0.01) & (x > -2) & (x < 1)
    mask = cga_freeze_mask(w, 2, 0.01)
    assert torch.equal(mask == 0, near)
    assert near.any() and (~near).any()


def test_cga_freezes_confident_weights_through_adamw():
    torch.manual_seed(0)
    lin = nn.Linear(16, 8)
    quantize_linears(seq := nn.Sequential(lin), 2)
    opt = torch.optim.AdamW(lin.parameters(), lr=0.1, weight_decay=0.1)
    cga = CGA(quant_linears(seq), 2, boundary_range=0.1)
    before = lin.weight.detach().clone()
    lin(torch.randn(4, 16)).square().sum().backward()
    cga.after_backward()
    mask = cga.saved["0"][0].bool()
    opt.step()
    cga.after_step()
    assert mask.any() and (~mask).any()
    assert torch.equal(lin.weight[mask], before[mask])
    assert not torch.equal(lin.weight[~mask], before[~mask])
    assert cga.frozen_fraction == pytest.approx(mask.float().mean().item())


@pytest.mark.parametrize("bias", [True, False])
def test_qk_reparam_is_function_preserving_in_float(bias):
    torch.manual_seed(0)
    attn = timm_attention(12, num_heads=3, qkv_bias=bias).double()
    if bias:
        with torch.no_grad():
            attn.qkv.bias.normal_()  # make q's and k's biases matter
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    reparam = QKReparamAttention.from_attention(attn)
    err = (reparam(x) - attn(x)).abs().max().item()
    assert err < 1e-12


def test_qk_reparam_quantises_the_product_with_at_most_2_to_the_b_levels():
    torch.manual_seed(0)
    attn = QKReparamAttention(8, num_heads=2, bits=2).double()
    wqk = attn.qk_weight().reshape(-1, 8).detach()
    s = 2 * wqk.abs().mean(dim=1, keepdim=True)  # StatsQ's scale is unchanged by quantisation
    assert all(row.unique().numel() <= 4 for row in (wqk / s * 2 - 0.5).round())
    float_attn = QKReparamAttention(8, num_heads=2).double()
    float_attn.load_state_dict(attn.state_dict())
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    assert not torch.allclose(attn(x), float_attn(x))


@pytest.mark.parametrize(
    "build",
    [
        lambda: StatsQuantizer(1),
        lambda: StatsQuantizer(9),
        lambda: QKReparamAttention(10, num_heads=3),
    ],
)
def test_bad_params_raise_param_error(build):
    with pytest.raises(ParamError):
        build()
