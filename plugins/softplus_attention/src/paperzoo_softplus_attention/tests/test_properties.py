"""Exact properties of LSSA and the re-weighting, in float64 unless said otherwise."""

from __future__ import annotations

import math

import paperzoo
import pytest
import torch
import torch.nn.functional as F
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.hooks import capture, patch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_softplus_attention.kernel import (
    AttentionReweighting,
    SoftplusAttention,
    reweight,
    set_reweighting,
    visible_keys,
)

F64 = torch.float64
CAUSAL = AttentionMask(causal=True)


def qkv(b=2, h=4, t=10, d=16, scale=1.0, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, t, d, generator=g, dtype=dtype) * scale for _ in range(3)]


@pytest.mark.parametrize("p", [None, 3.0, 15.0])
@pytest.mark.parametrize("normalizer", ["softplus", "softmax"])
def test_weights_are_causal_distributions(p, normalizer):
    q, k, _ = qkv()
    ones = torch.ones(q.shape[:-1], dtype=F64)
    w = SoftplusAttention(normalizer=normalizer, p=p, eps=0.0).weights(q, k, CAUSAL)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), ones, rtol=0, atol=1e-14)
    assert (w.triu(1) == 0).all()  # no weight on a future key, exactly
    # with the default eps = 1e-8 (as the reference), a row sums to S / (S + eps), S its unnormalised mass:
    # below 1, and far below when a sharpened row's mass sum ReLU(A N - 1)^p is tiny (a weak peak)
    s = SoftplusAttention(normalizer=normalizer, p=p).weights(q, k, CAUSAL).sum(-1)
    assert (s <= 1 + 1e-15).all() and (s > 0).all()
    if p is None:  # 1 - S / (S + eps) <= eps / S with S >= N softplus(-log d log N) >= 0.017 here
        torch.testing.assert_close(s, ones, rtol=0, atol=1e-6)


def test_lssa_weights_match_the_closed_form_per_row():
    q, k, _ = qkv(b=1, h=1, t=6, d=8)
    w = SoftplusAttention().weights(q, k, CAUSAL)[0, 0]
    qn, kn = q[0, 0] / q[0, 0].norm(dim=-1, keepdim=True), k[0, 0] / k[0, 0].norm(dim=-1, keepdim=True)
    for i in range(6):
        a = torch.log1p(torch.exp(math.log(8) * math.log(i + 1) * (kn[: i + 1] @ qn[i])))
        torch.testing.assert_close(w[i, : i + 1], a / (a.sum() + 1e-8), rtol=1e-14, atol=0)


def test_no_gradient_from_future_tokens():
    q, k, v = (x.requires_grad_() for x in qkv(t=8))
    for p in (None, 15.0):
        z = SoftplusAttention(p=p)(q, k, v, CAUSAL)
        gk, gv = torch.autograd.grad(z[:, :, 3].sum(), (k, v))
        assert (gk[:, :, 4:] == 0).all() and (gv[:, :, 4:] == 0).all()
        assert gk[:, :, :4].abs().sum() > 0  # the past does contribute


def test_visible_keys_count_cached_positions():
    mask = AttentionMask(causal=True, q_offset=5)
    _, n = visible_keys(mask, 3, 8, torch.device("cpu"))
    assert n.flatten().tolist() == [6.0, 7.0, 8.0]


def test_power_one_without_offset_is_a_no_op():
    q, k, _ = qkv()
    w = SoftplusAttention(eps=0.0).weights(q, k, CAUSAL)
    _, n = visible_keys(CAUSAL, w.shape[-2], w.shape[-1], w.device)
    # exact up to rounding without eps; with eps = 1e-8 the rescaled eps shifts each row by <= 1e-8 / N
    torch.testing.assert_close(reweight(w, n, p=1.0, offset=0.0, eps=0.0), w, rtol=1e-15, atol=1e-16)
    torch.testing.assert_close(reweight(w, n, p=1.0, offset=0.0), w, rtol=1e-8, atol=0)
    assert not torch.allclose(reweight(w, n, p=1.0), w)  # the paper's shift O = 1 alone already sharpens


def test_reweighting_sharpens_and_keeps_the_argmax():
    q, k, _ = qkv(t=12)
    kernel = SoftplusAttention()
    w = kernel.weights(q, k, CAUSAL)
    _, n = visible_keys(CAUSAL, 12, 12, w.device)
    r = reweight(w, n, p=15.0)
    assert (r.amax(-1) >= w.amax(-1) - 1e-15).all()
    assert torch.equal(r.argmax(-1), w.argmax(-1))
    # weights below the row mean (1 / N) vanish where the shift applies (N >= 4)
    below = (w * n < 1) & (n >= 4)
    assert (r[below.expand_as(r)] == 0).all()


def test_reweighting_matches_the_unscaled_formula():
    w = torch.rand(3, 5, 7, dtype=F64)
    w = w / w.sum(-1, keepdim=True)
    n = torch.full((3, 5, 1), 7.0, dtype=F64)
    r = F.relu(w * 7 - 1).pow(3.0)
    torch.testing.assert_close(AttentionReweighting(p=3.0)(w, n), r / (r.sum(-1, keepdim=True) + 1e-8))


def test_no_nan_with_huge_logits_or_long_rows_in_float32():
    q, k, v = qkv(t=64, scale=1e4, dtype=torch.float32)
    for qk_norm in (True, False):
        for p in (None, 15.0):
            z = SoftplusAttention(qk_norm=qk_norm, p=p)(q, k, v, CAUSAL)
            assert torch.isfinite(z).all()
    # p = 15 at N = 4096: (N - 1)^15 overflows float32; the row-max rescaling keeps it finite
    w = torch.zeros(1, 4096, dtype=torch.float32)
    w[0, 0] = 1.0
    assert torch.isfinite(AttentionReweighting(p=15.0)(w)).all()


def test_cached_decoding_equals_the_full_forward():
    torch.manual_seed(0)
    model = TinyLMDecoder(
        d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, attention="softplus_attention"
    ).double()
    set_reweighting(model, 15.0)
    ids = torch.randint(256, (2, 12))
    full = model(ids).logits
    out = model(ids[:, :7], use_cache=True)
    steps = [out.logits]
    cache = out.past_key_values
    for t in range(7, 12):
        out = model(ids[:, t : t + 1], past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-12)


def test_pattern_hook_gives_the_weights_and_patching_it_changes_z():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=32, n_layers=1, n_heads=2, attention="softplus_attention").double()
    ids = torch.randint(256, (1, 9))
    with capture(
        model, ["blocks.0.attn.pattern", "blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v"]
    ) as got:
        base = model(ids).logits
    kernel = model.blocks[0].attn.kernel
    expected = kernel.weights(got["blocks.0.attn.q"], got["blocks.0.attn.k"], CAUSAL)
    assert torch.equal(got["blocks.0.attn.pattern"], expected)
    with patch(model, "blocks.0.attn.pattern", lambda w: w):
        assert torch.equal(model(ids).logits, base)
    with patch(model, "blocks.0.attn.pattern", torch.zeros_like):
        assert not torch.allclose(model(ids).logits, base)


def test_set_reweighting_switches_every_kernel_and_back():
    model = TinyLMDecoder(d_model=32, n_layers=3, n_heads=2, attention="softplus_attention")
    assert set_reweighting(model, 3.0) == 3
    assert all(b.attn.kernel.reweighting.p == 3.0 for b in model.blocks)
    set_reweighting(model, None)
    assert all(b.attn.kernel.reweighting is None for b in model.blocks)


def test_softmax_normalizer_equals_sdpa():
    q, k, v = qkv()
    z = SoftplusAttention(normalizer="softmax")(q, k, v, CAUSAL)
    torch.testing.assert_close(z, F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=0, atol=1e-14)


def test_registered_and_rejects_bad_parameters():
    assert isinstance(paperzoo.create("softplus_attention", p=3.0), SoftplusAttention)
    with pytest.raises(ValueError, match="normalizer"):
        SoftplusAttention(normalizer="relu")
    with pytest.raises(ValueError, match="p:"):
        AttentionReweighting(p=0.0)
