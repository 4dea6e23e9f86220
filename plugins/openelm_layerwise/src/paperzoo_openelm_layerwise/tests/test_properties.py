"""Exact properties of the layer-wise scaled decoder.

* The per-layer sizes follow the linear schedule, recomputed here independently of the implementation
  (numpy's ``linspace``, ``round``, and the rounding to a multiple written as ``floor(v / d + 1/2) d``)
  for several configs, and the built modules have those sizes.
* The parameter count equals the closed form.
* Equal minimum and maximum multipliers reduce it to a uniform tinylm decoder: the same parameter count,
  and (without the q/k norm, which tinylm lacks) the same logits bitwise after copying the weights.
* Causality and cached decoding, through tinylm's cache with a different head count in every layer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_openelm_layerwise.model import HeadNormProjection, LayerwiseScaledTransformer
from paperzoo_openelm_layerwise.sizing import layerwise_sizes

CONFIGS = [  # (n_layers, d_model, head_dim, qkv, ffn, gqa groups, ffn divisor)
    (16, 1280, 64, (0.5, 1.0), (0.5, 4.0), 4, 256),
    (20, 1536, 64, (0.5, 1.0), (0.5, 4.0), 4, 256),
    (36, 3072, 128, (0.5, 1.0), (0.5, 4.0), 4, 256),
    (7, 96, 8, (0.25, 1.5), (1.0, 3.0), 2, 8),
    (5, 64, 16, (1.0, 0.5), (4.0, 0.5), 1, 16),
    (12, 200, 8, (0.3, 0.9), (0.6, 2.7), 3, 24),
]


def _nearest_multiple(v: float, d: int) -> int:
    """Independent form of corenet's make_divisible: nearest multiple (halves up), at least d, plus d
    when that lost more than 10%."""
    m = max(d, math.floor(v / d + 0.5) * d)
    return m + d if m < 0.9 * v else m


@pytest.mark.parametrize("cfg", CONFIGS)
def test_sizes_follow_the_linear_schedule(cfg):
    n, d, dh, qkv, ffn, g, div = cfg
    alphas = [round(float(a), 2) for a in np.linspace(*qkv, num=n)]
    betas = [round(float(b), 2) for b in np.linspace(*ffn, num=n)]
    heads = [_nearest_multiple(a * d, dh * g) // dh for a in alphas]
    sizes = layerwise_sizes(n, d, dh, qkv, ffn, g, div)
    assert sizes.qkv_multipliers == alphas and sizes.ffn_multipliers == betas
    assert sizes.n_heads == heads
    assert sizes.n_kv_heads == [h // g for h in heads] and all(h % g == 0 for h in heads)
    assert sizes.ffn_dims == [_nearest_multiple(b * d, div) for b in betas]
    order = 1 if qkv[1] >= qkv[0] else -1  # monotone along the schedule
    assert all(order * (b - a) >= 0 for a, b in zip(sizes.n_heads, sizes.n_heads[1:]))


def test_openelm_270m_first_and_last_layer_by_hand():
    # alpha 0.5: 640 -> multiple of 64*4=256 nearest: 768 -> 12 heads, 3 kv; beta 0.5: 640 -> 768 (256s)
    # alpha 1.0: 1280 -> 20 heads, 5 kv; beta 4.0: 5120
    s = layerwise_sizes(16, 1280, 64, (0.5, 1.0), (0.5, 4.0), 4, 256)
    assert (s.n_heads[0], s.n_kv_heads[0], s.ffn_dims[0]) == (12, 3, 768)
    assert (s.n_heads[-1], s.n_kv_heads[-1], s.ffn_dims[-1]) == (20, 5, 5120)


SMALL = [
    dict(d_model=32, n_layers=4, head_dim=8, num_gqa_groups=2, ffn_dim_divisor=8, vocab_size=40),
    dict(
        d_model=48,
        n_layers=3,
        head_dim=4,
        num_gqa_groups=1,
        ffn_dim_divisor=16,
        vocab_size=40,
        normalize_qk=False,
        tie_embeddings=False,
        qkv_multipliers=(0.25, 2.0),
        ffn_multipliers=(1.0, 2.0),
    ),
]


@pytest.mark.parametrize("kw", SMALL)
def test_modules_have_the_scheduled_sizes_and_closed_form_count(kw):
    torch.manual_seed(0)
    model = LayerwiseScaledTransformer(**kw)
    d, dh, s = kw["d_model"], kw["head_dim"], model.sizes
    for block, h, kv, f in zip(model.blocks, s.n_heads, s.n_kv_heads, s.ffn_dims):
        assert block.attn.o_proj.weight.shape == (d, h * dh)
        assert block.attn.v_proj.weight.shape == (kv * dh, d)
        assert block.mlp.gate_proj.weight.shape == block.mlp.up_proj.weight.shape == (f, d)
        assert block.mlp.down_proj.weight.shape == (d, f)
        assert isinstance(block.attn.q_proj, HeadNormProjection) == kw.get("normalize_qk", True)
    n_heads, n_kv, ffn = sum(s.n_heads), sum(s.n_kv_heads), sum(s.ffn_dims)
    tied = kw.get("tie_embeddings", True)
    qk = 2 * dh * kw["n_layers"] if kw.get("normalize_qk", True) else 0
    expect = (1 if tied else 2) * 40 * d + d + 2 * d * kw["n_layers"] + qk
    expect += d * dh * (2 * n_heads + 2 * n_kv) + 3 * d * ffn
    assert model.num_parameters() == model.closed_form_num_parameters() == expect


@pytest.mark.parametrize("alpha,beta", [(0.5, 2.0), (1.0, 4.0)])
def test_equal_multipliers_reduce_to_a_uniform_tinylm_decoder(alpha, beta):
    kw = dict(d_model=32, n_layers=3, head_dim=8, vocab_size=40, num_gqa_groups=2, ffn_dim_divisor=8)
    torch.manual_seed(0)
    ours = LayerwiseScaledTransformer(qkv_multipliers=(alpha, alpha), ffn_multipliers=(beta, beta), **kw)
    same = LayerwiseScaledTransformer(qkv_multipliers=alpha, ffn_multipliers=beta, **kw)
    assert ours.sizes.n_heads == same.sizes.n_heads and ours.sizes.ffn_dims == same.sizes.ffn_dims
    h, kv, f = ours.sizes.n_heads[0], ours.sizes.n_kv_heads[0], ours.sizes.ffn_dims[0]
    assert len(set(ours.sizes.n_heads)) == len(set(ours.sizes.ffn_dims)) == 1
    uniform = dict(
        d_model=32,
        n_layers=3,
        n_heads=h,
        n_kv_heads=kv,
        head_dim=8,
        d_ff=f,
        vocab_size=40,
        tie_embeddings=True,
    )
    tiny = TinyLMDecoder(**uniform)
    # the q/k norms (2 head_dim gains per layer) are all that tinylm's uniform decoder lacks
    assert ours.num_parameters() == tiny.num_parameters() + 2 * 8 * 3
    plain = LayerwiseScaledTransformer(
        qkv_multipliers=(alpha, alpha), ffn_multipliers=(beta, beta), normalize_qk=False, **kw
    ).double()
    tiny = TinyLMDecoder(**uniform).double()
    assert plain.num_parameters() == tiny.num_parameters()
    tiny.load_state_dict(plain.state_dict(), strict=True)
    ids = torch.randint(40, (2, 11), generator=torch.Generator().manual_seed(1))
    assert torch.equal(plain(ids).logits, tiny(ids).logits)


def test_qk_norm_gain_one_normalises_each_head():
    proj = HeadNormProjection(16, 3, 4, eps=0.0).double()  # without eps: unit mean square per head
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    y = proj(x).unflatten(-1, (3, 4))
    torch.testing.assert_close(
        y.pow(2).mean(-1), torch.ones(2, 5, 3, dtype=torch.float64), atol=1e-12, rtol=0
    )
    # each head's direction is the projection's
    z = proj.linear(x).unflatten(-1, (3, 4))
    torch.testing.assert_close(y * z.norm(dim=-1, keepdim=True) / 2, z, atol=1e-12, rtol=0)


def _model() -> LayerwiseScaledTransformer:
    torch.manual_seed(0)
    return (
        LayerwiseScaledTransformer(
            d_model=32,
            n_layers=4,
            head_dim=8,
            num_gqa_groups=2,
            ffn_dim_divisor=8,
            vocab_size=40,
            qkv_multipliers=(0.25, 1.0),
        )
        .double()
        .eval()
    )


def test_causal_and_cached_decoding_equals_the_full_forward():
    model = _model()
    assert len(set(model.sizes.n_heads)) > 1
    ids = torch.randint(40, (2, 12), generator=torch.Generator().manual_seed(2))
    full = model(ids).logits
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 40
    assert torch.equal(model(changed).logits[:, :7], full[:, :7])
    out = model(ids[:, :5], use_cache=True)
    steps = [out.logits]
    for t in range(5, 12):
        out = model(ids[:, t : t + 1], past_key_values=out.past_key_values, use_cache=True)
        steps.append(out.logits)
    assert (torch.cat(steps, 1) - full).abs().max().item() < 1e-12


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"qkv_multipliers": (0.5, 1.0, 2.0)}, "qkv_multipliers"),
        ({"ffn_multipliers": (0.0, 1.0)}, "ffn_multipliers"),
        ({"ffn_multipliers": -1.0}, "ffn_multipliers"),
        ({"num_gqa_groups": 0}, "num_gqa_groups"),
        ({"init": "xavier"}, "init"),
    ],
)
def test_bad_settings_name_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        LayerwiseScaledTransformer(d_model=32, n_layers=2, head_dim=8, vocab_size=40, **kw)
