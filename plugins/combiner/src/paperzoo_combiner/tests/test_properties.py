"""Exact properties of Combiner attention: a distribution over the full support, its factorisation,
the reductions to full softmax attention, causality, and the cost count."""

import math

import pytest
import torch
import torch.nn.functional as F
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder

from paperzoo_combiner.attention import CombinerAttention, attention_flops, combiner_attention, induced_matrix

SETTINGS = [
    {"partition": "fixed"},
    {"partition": "fixed", "key_pool": "mean", "summary": "mean"},
    {"partition": "fixed", "query_pool": "mean"},
    {"partition": "axial"},
    {"partition": "axial", "axial_key": "wsum"},
]


def qkv(t: int, seed: int = 0, b: int = 2, h: int = 3, d: int = 4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, t, d, generator=g, dtype=torch.float64) for _ in range(3)]


@pytest.mark.parametrize("kw", SETTINGS)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("t,s", [(12, 3), (13, 4), (9, 9)])
def test_joint_weights_and_induced_matrix(kw, causal, t, s):
    q, k, v = qkv(t)
    z, parts = combiner_attention(q, k, v, causal=causal, region_size=s, **kw)
    total = parts.direct.sum(-1) + parts.abstract.sum(-1)  # joint weights: direct keys and regions
    real = torch.arange(parts.direct.shape[2] * s).view(-1, s) < t  # padded query rows excluded
    assert torch.allclose(total[:, :, real], torch.ones(()).double(), atol=1e-14)
    within = parts.within.sum(-1)  # q(j | region) sums to one over each non-empty region
    assert torch.allclose(within, torch.ones_like(within), atol=1e-14)
    a = induced_matrix(parts)
    assert (a >= 0).all() and torch.allclose(a.sum(-1), torch.ones(()).double(), atol=1e-14)
    support = torch.ones(t, t, dtype=torch.bool)
    support = support.tril() if causal else support  # full attention support: every allowed key reached
    assert torch.equal(a > 0, support.expand_as(a))
    assert (a @ v - z).abs().max() < 1e-14


@pytest.mark.parametrize("kw", SETTINGS)
@pytest.mark.parametrize("causal", [True, False])
def test_region_one_and_one_region_are_full_softmax(kw, causal):
    q, k, v = qkv(10, seed=1)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    for s in (1, 10):  # every token its own region / one region holding everything
        z, _ = combiner_attention(q, k, v, causal=causal, region_size=s, **kw)
        assert (z - ref).abs().max() < 1e-14


@pytest.mark.parametrize("kw", SETTINGS)
def test_causal_no_gradient_from_the_future(kw):
    q, k, v = (x.requires_grad_() for x in qkv(11, seed=2))
    z, _ = combiner_attention(q, k, v, causal=True, region_size=3, **kw)
    for i in (0, 4, 7):
        gq, gk, gv = torch.autograd.grad(z[:, :, i].sum(), (q, k, v), retain_graph=True)
        for g in (gq, gk, gv):
            assert (g[:, :, i + 1 :] == 0).all()
        assert (gv[:, :, : i + 1].abs().sum(-1) > 0).all()  # while every earlier value matters


def test_local_only_is_block_diagonal_softmax():
    q, k, v = qkv(12, seed=3)
    z, _ = combiner_attention(q, k, v, causal=True, region_size=4, local_only=True)
    blocks = torch.arange(12) // 4
    ok = (blocks[:, None] == blocks[None, :]) & torch.ones(12, 12, dtype=torch.bool).tril()
    assert (z - F.scaled_dot_product_attention(q, k, v, attn_mask=ok)).abs().max() < 1e-14


def test_key_padding_masks_padded_keys():
    q, k, v = qkv(12, seed=4)
    pad = torch.ones(2, 12, dtype=torch.bool)
    pad[0, 5] = pad[1, :3] = False
    for partition in ("fixed", "axial"):
        z, parts = combiner_attention(
            q, k, v, causal=False, region_size=3, partition=partition, key_padding=pad
        )
        a = induced_matrix(parts)
        assert torch.allclose(a.sum(-1), torch.ones(()).double(), atol=1e-14)
        others = torch.arange(12) != 5
        assert (a[0, :, others, 5] == 0).all() and (a[0, :, 5, 5] > 0).all()  # a query still sees itself
        assert (a[1, :, 3:, :3] == 0).all() and (a[1, :, 3:, 3:] > 0).all()
        assert (a @ v - z).abs().max() < 1e-14


@pytest.mark.parametrize("partition", ["fixed", "axial"])
def test_flops_count_matches_tensor_sizes_and_grows_as_l_sqrt_l(partition):
    d = 4
    for t, s in ((12, 3), (13, 4), (64, 8)):
        q, k, v = qkv(t, b=1, h=1, d=d)
        _, parts = combiner_attention(q, k, v, causal=True, region_size=s, partition=partition)
        n = parts.direct.shape[2]
        scores = parts.direct.numel() + parts.abstract.numel()  # direct + region scores, each a D-dot
        scores += parts.within.numel()  # within-region scores (fixed: one query per region; axial: per token)
        assert attention_flops(t, d, partition, s) == 2 * d * scores, (t, s, n)
    for t in (256, 1024, 4096):  # s = sqrt(L): exactly c * D * L^1.5
        c = {"fixed": 2, "axial": 3}[partition]
        flops = attention_flops(t, d, partition)
        assert flops == 2 * c * d * t * math.isqrt(t) + (2 * d * t if partition == "fixed" else 0)
    growth = math.log(attention_flops(4096, d, partition) / attention_flops(256, d, partition), 16)
    assert (
        1.49 < growth < 1.51 and attention_flops(4096, d, "full") / attention_flops(4096, d, partition) > 10
    )


def test_kernel_in_tinylm_decoder_and_encoder():
    torch.manual_seed(0)
    ids = torch.randint(64, (2, 10))
    for partition in ("fixed", "axial"):
        params = {"partition": partition, "region_size": 3}
        dec = TinyLMDecoder(
            d_model=16,
            n_layers=2,
            n_heads=4,
            n_kv_heads=2,
            vocab_size=64,
            attention="combiner_attention",
            attention_params=params,
        )
        logits = dec(ids).logits
        changed = ids.clone()
        changed[:, 6] = (changed[:, 6] + 1) % 64
        assert torch.equal(dec(changed).logits[:, :6], logits[:, :6])  # causal through the whole model
        enc = TinyLMEncoder(
            d_model=16,
            n_layers=1,
            n_heads=2,
            vocab_size=64,
            attention="combiner_attention",
            attention_params=params,
        )
        out = enc(ids, attention_mask=torch.ones_like(ids)).logits
        assert not torch.equal(enc(changed).logits[:, :6], out[:, :6])  # bidirectional: the future matters


def test_pattern_hook_receives_the_induced_matrix():
    from paperzoo_tinylm.hooks import capture, patch

    torch.manual_seed(0)
    dec = TinyLMDecoder(
        d_model=16,
        n_layers=1,
        n_heads=2,
        vocab_size=64,
        attention="combiner_attention",
        attention_params={"region_size": 3},
    )
    ids = torch.randint(64, (1, 9))
    with capture(dec, ["blocks.0.attn.pattern", "blocks.0.attn.z"]) as got:
        plain = dec(ids).logits
    pattern = got["blocks.0.attn.pattern"]
    assert pattern.shape == (1, 2, 9, 9) and torch.allclose(pattern.sum(-1), torch.ones(()), atol=1e-6)
    with patch(dec, "blocks.0.attn.pattern", lambda p: p):
        assert torch.allclose(dec(ids).logits, plain, atol=1e-5)


def test_bad_arguments_and_cache_are_refused():
    with pytest.raises(ValueError, match="partition"):
        CombinerAttention(partition="logsparse")
    with pytest.raises(ValueError, match="region_size"):
        CombinerAttention(region_size=0)
    q, k, v = qkv(6)
    with pytest.raises(ValueError, match="use_cache=False"):
        CombinerAttention()(q[:, :, -1:], k, v, AttentionMask(causal=True, q_offset=5))
