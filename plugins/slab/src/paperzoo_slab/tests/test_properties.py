"""Exact properties of PRepBN and SLA, in float64."""

from __future__ import annotations

import paperzoo
import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask
from torch import nn

from paperzoo_slab.prepbn import PRepBN, RepBN
from paperzoo_slab.sla import SimplifiedLinearAttention

F64 = torch.float64


def test_gamma_schedule_is_linear_after_warmup():
    m = PRepBN(nn.LayerNorm(4), total_steps=8, warmup=3, r0=1.0).train()
    seen = []
    for _ in range(14):
        seen.append(m.gamma)
        m(torch.randn(5, 4))
    expected = [1.0] * 3 + [1.0 - t / 8 for t in range(9)] + [0.0, 0.0]
    assert seen == pytest.approx(expected, abs=1e-12)


def test_training_output_is_the_gamma_mixture():
    torch.manual_seed(0)
    ln = nn.LayerNorm(4, dtype=F64)
    m = PRepBN(ln, total_steps=4).to(F64).train()
    m(torch.randn(6, 4, dtype=F64))  # gamma 1 -> 0.75
    x = torch.randn(6, 4, dtype=F64)
    ref_bn = nn.BatchNorm1d(4, dtype=F64).train()
    expected = 0.75 * ln(x) + 0.25 * (ref_bn(x) + x)
    assert torch.allclose(m(x), expected, atol=1e-12)


def test_eval_after_gamma_zero_folds_into_next_linear(record_property):
    torch.manual_seed(0)
    m = PRepBN(nn.LayerNorm(8), total_steps=3).train()
    lin = nn.Linear(8, 5)
    with torch.no_grad():
        m.repbn.eta.fill_(0.6)
        m.repbn.bn.weight.uniform_(0.5, 1.5)
        m.repbn.bn.bias.normal_()
    for _ in range(6):
        m(torch.randn(4, 7, 8) * 3 + 1)
    assert m.gamma == 0.0
    m.eval()
    x = torch.randn(4, 7, 8) * 3 + 1
    with torch.no_grad():
        before = lin(m(x))
        folded = nn.Sequential(m.fold_into(lin), lin)
        after = folded(x)
    err = (before - after).abs().max().item()
    record_property("fold_max_abs_diff_float32", err)
    assert isinstance(folded[0], nn.Identity) and err < 1e-5


def test_repbn_eval_is_bn_plus_eta_x():
    torch.manual_seed(0)
    r = RepBN(3, eta_init=0.5).to(F64).train()
    r(torch.randn(10, 3, dtype=F64) * 2)
    r.eval()
    x = torch.randn(4, 3, dtype=F64)
    assert torch.allclose(r(x), r.bn(x) + 0.5 * x, atol=1e-14)


def test_linear_form_equals_quadratic_form():
    torch.manual_seed(0)
    kern = SimplifiedLinearAttention(8).to(F64)
    nn.init.zeros_(kern.dwc.weight), nn.init.zeros_(kern.dwc.bias)
    q, k, v = (torch.randn(2, 3, 10, 8, dtype=F64) for _ in range(3))
    pq, pk = q.relu(), k.relu()
    for causal in (False, True):
        s = pq @ pk.transpose(-1, -2)
        if causal:
            s = s.tril()
        expected = (s @ v) / (s.sum(-1, keepdim=True) + 1e-6)
        got = kern(q, k, v, AttentionMask(causal=causal))
        assert torch.allclose(got, expected, atol=1e-12), causal


def test_causal_kernel_is_causal_and_cache_consistent():
    torch.manual_seed(0)
    kern = SimplifiedLinearAttention(8).to(F64)
    q, k, v = (torch.randn(1, 2, 9, 8, dtype=F64) for _ in range(3))
    full = kern(q, k, v, AttentionMask(causal=True))
    v2 = v.clone()
    v2[:, :, 6:] += 1.0
    k2 = k.clone()
    k2[:, :, 6:] += 1.0
    assert torch.allclose(kern(q, k2, v2, AttentionMask(causal=True))[:, :, :6], full[:, :, :6], atol=1e-14)
    step = kern(q[:, :, 6:], k, v, AttentionMask(causal=True, q_offset=6))
    assert torch.allclose(step, full[:, :, 6:], atol=1e-12)


def test_as_tinylm_attention_and_norm():
    torch.manual_seed(0)
    model = paperzoo.create(
        "tinylm_decoder",
        d_model=32,
        n_layers=2,
        n_heads=2,
        vocab_size=50,
        norm="slab_prep_bn",
        norm_params={"total_steps": 5},
        attention="slab_linear_attention",
        attention_params={"head_dim": 16},
    )
    ids = torch.randint(0, 50, (2, 12))
    model.train()
    out = model(ids)
    assert torch.isfinite(out.logits).all()
    model.eval()
    a = model(ids).logits
    ids2 = ids.clone()
    ids2[:, 8:] = (ids2[:, 8:] + 1) % 50
    assert torch.allclose(model(ids2).logits[:, :8], a[:, :8], atol=1e-5)  # causal end to end
