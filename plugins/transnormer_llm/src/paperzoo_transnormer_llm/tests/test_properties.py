"""Exact properties: the three forms of lightning attention against a naive loop, the lambda = 1
reduction, LRPE's relative form, the decay schedule, SimpleRMSNorm and SGLU closed forms, constant-size
decoding state, cached decoding and causality of the language model (float64 unless said)."""

import math

import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_transnormer_llm.layers import (
    LightningAttention,
    LrpeDecay,
    SimpleGatedLinearUnit,
    SimpleRMSNorm,
    layer_slope_scale,
    lightning_attention,
    transnormer_slopes,
)
from paperzoo_transnormer_llm.model import TransNormerLLM, TransNormerLLMBlock

D64 = torch.float64


def _qkv(b=2, h=3, t=23, dk=6, dv=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(b, h, t, d, generator=g, dtype=D64) for d in (dk, dk, dv))


def _naive(q, k, v, slopes):
    """The official formula, a loop over (t, s): sum_{s <= t} exp(-slope (t - s)) (q_t . k_s) v_s."""
    o = torch.zeros(*q.shape[:3], v.shape[-1], dtype=q.dtype)
    for t in range(q.shape[2]):
        for s in range(t + 1):
            w = torch.exp(-slopes * (t - s))[None, :, None] * (q[:, :, t] * k[:, :, s]).sum(-1, keepdim=True)
            o[:, :, t] += w * v[:, :, s]
    return o


@pytest.mark.parametrize("block_size", [1, 3, 7, 16, 64])
def test_blockwise_equals_naive_and_recurrent(block_size):
    q, k, v = _qkv()
    slopes = torch.tensor([0.5, 0.05, 0.001], dtype=D64)
    want = _naive(q, k, v, slopes)
    for form in ("chunked", "recurrent", "parallel"):
        got, state = lightning_attention(q, k, v, decay=torch.exp(-slopes), block_size=block_size, form=form)
        assert (got - want).abs().max() < 1e-12, form
        # the state after T tokens: sum_s lambda^(T-1-s) k_s^T v_s
        w = torch.exp(-slopes[:, None] * torch.arange(22, -1, -1, dtype=D64))[None, :, :, None]
        assert (state.kv - (k * w).transpose(-1, -2) @ v).abs().max() < 1e-12, form


def test_kernel_interface_equals_blockwise_and_splits_over_a_state():
    q, k, v = _qkv(t=20)
    decay = [0.9, 0.7, 0.99]
    kernel = LightningAttention(decay=decay, block_size=6)
    full = kernel(q, k, v)
    assert (full - _naive(q, k, v, -torch.log(torch.tensor(decay, dtype=D64)))).abs().max() < 1e-12
    first, state = kernel.attend(q[:, :, :13], k[:, :, :13], v[:, :, :13])
    rest, _ = kernel.attend(q[:, :, 13:], k[:, :, 13:], v[:, :, 13:], state)
    assert (torch.cat([first, rest], 2) - full).abs().max() < 1e-12
    with pytest.raises(ValueError, match="causal only"):
        kernel(q, k, v, AttentionMask(causal=False))


def test_lambda_one_is_plain_causal_linear_attention():
    q, k, v = _qkv()
    plain = torch.tril(q @ k.transpose(-1, -2)) @ v
    for decay in (None, [1.0, 1.0, 1.0]):
        got, _ = lightning_attention(q, k, v, decay=decay, block_size=5)
        assert (got - plain).abs().max() < 1e-12


def test_lrpe_is_relative():
    lrpe = LrpeDecay(n_heads=2, head_dim=4).double()
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 2, 1, 4, generator=g, dtype=D64), torch.randn(1, 2, 1, 4, generator=g, dtype=D64)
    scores = [(lrpe(q, n) * lrpe(k, m)).sum(-1) for n, m in [(7, 3), (104, 100), (4, 0)]]
    assert (scores[0] - scores[1]).abs().max() < 1e-12 and (scores[0] - scores[2]).abs().max() < 1e-12
    theta = lrpe.theta.detach()  # q_n . k_m = sum_j q_j k_j cos(theta_j (n - m))
    want = (q * k * torch.cos(theta * 4)).sum(-1)
    assert (scores[0] - want).abs().max() < 1e-12
    assert LrpeDecay(2, 4, use_lrpe=False)(q) is q


def test_decay_schedule():
    assert transnormer_slopes(8) == [2.0**-i for i in range(1, 9)]
    assert transnormer_slopes(2) == [2.0**-4, 2.0**-8]
    assert transnormer_slopes(6) == transnormer_slopes(4) + transnormer_slopes(8)[0::2][:2]
    assert layer_slope_scale(0, 4) == 1 + 1e-5 and math.isclose(layer_slope_scale(3, 4), 1e-5)
    first, last = LrpeDecay(8, 4, 0, 4), LrpeDecay(8, 4, 3, 4)
    assert torch.allclose(
        first.decay, torch.exp(-torch.tensor([2.0**-i for i in range(1, 9)]) * (1 + 1e-5)).double()
    )
    assert bool((last.decay > first.decay).all())  # deeper layers decay less
    with pytest.raises(ValueError, match="layer_idx"):
        LrpeDecay(2, 4, layer_idx=2, n_layers=2)


def test_simple_rmsnorm_closed_form():
    x = torch.randn(3, 5, 16, dtype=D64)
    want = x / torch.sqrt((x * x).sum(-1, keepdim=True) / 16 + 1e-6)
    assert (SimpleRMSNorm(16)(x) - want).abs().max() < 1e-14
    y = SimpleRMSNorm(16, eps=0.0)(x)
    assert (y.pow(2).mean(-1) - 1).abs().max() < 1e-14
    assert (SimpleRMSNorm(eps=0.0)(7.5 * x) - y).abs().max() < 1e-14
    assert not list(SimpleRMSNorm(16).parameters())  # no gain


def test_sglu_formula():
    glu = SimpleGatedLinearUnit(8, 12, bias=True).double()
    x = torch.randn(2, 5, 8, dtype=D64)
    w1, w2, w3 = (getattr(glu, n).weight for n in ("l1", "l2", "l3"))
    b1, b2, b3 = (getattr(glu, n).bias for n in ("l1", "l2", "l3"))
    want = ((x @ w1.T + b1) * (x @ w2.T + b2)) @ w3.T + b3
    assert (glu(x) - want).abs().max() < 1e-14
    assert SimpleGatedLinearUnit(8).l1.out_features == 16


@pytest.mark.parametrize("form,block_size", [("chunked", 3), ("chunked", 64), ("recurrent", 4)])
def test_cached_decoding_equals_full_forward(form, block_size):
    torch.manual_seed(0)
    model = TransNormerLLM(vocab_size=50, d_model=16, n_layers=3, n_heads=2, block_size=block_size, form=form)
    model = model.double().eval()
    ids = torch.randint(50, (2, 19))
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :5], use_cache=True)
        steps, cache = [out.logits], out.past_key_values
        for t in range(5, 19, 2):  # chunks of two tokens then of one
            out = model(ids[:, t : t + 2], past_key_values=cache, use_cache=True)
            steps.append(out.logits)
            cache = out.past_key_values
    assert (torch.cat(steps, 1) - full).abs().max() < 1e-12


def test_decoding_state_is_constant_in_length():
    torch.manual_seed(0)
    model = TransNormerLLM(vocab_size=50, d_model=16, n_layers=2, n_heads=2).eval()
    sizes = []
    with torch.no_grad():
        for t in (4, 64, 300):
            cache = model(torch.randint(50, (1, t)), use_cache=True).past_key_values
            sizes.append(cache.nbytes())
            assert [tuple(s.kv.shape) for s in cache.states] == [(1, 2, 16, 8)] * 2  # [B, H, 2 D, D]
            for _ in range(3):
                cache = model(
                    torch.randint(50, (1, 1)), past_key_values=cache, use_cache=True
                ).past_key_values
            sizes.append(cache.nbytes())
    assert len(set(sizes)) == 1


def test_language_model_is_causal():
    torch.manual_seed(0)
    model = TransNormerLLM(vocab_size=50, d_model=16, n_layers=2, n_heads=2, block_size=4).double()
    ids = torch.randint(50, (1, 13))
    changed = ids.clone()
    changed[0, 9] = (ids[0, 9] + 1) % 50
    a, b = model(ids).logits, model(changed).logits
    assert torch.equal(a[:, :9], b[:, :9]) and not torch.allclose(a[:, 9], b[:, 9])


def test_block_output_and_state():
    torch.manual_seed(0)
    block = TransNormerLLMBlock(16, 2, block_size=4, layer_idx=1, n_layers=2).double()
    x = torch.randn(2, 10, 16, dtype=D64)
    y, state = block(x, return_state=True)
    assert torch.equal(y, block(x)) and state.kv.shape == (2, 2, 16, 8)


def test_as_a_tinylm_attention_kernel():
    torch.manual_seed(0)
    model = TinyLMDecoder(
        d_model=16,
        n_layers=2,
        n_heads=2,
        vocab_size=40,
        attention="lightning_attention",
        attention_params={"decay": [0.9, 0.5], "block_size": 4},
    ).double()
    ids = torch.randint(40, (2, 11))
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :6], use_cache=True)
        nxt = model(ids[:, 6:], past_key_values=out.past_key_values).logits
    assert (torch.cat([out.logits, nxt], 1) - full).abs().max() < 1e-12
