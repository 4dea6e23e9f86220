"""Exact properties: the reduction to softmax attention, permutation equivariance, causality, the KV
cache, and the adapter's identity at initialisation and frozen base."""

import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask, SoftmaxAttention
from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder

from paperzoo_gin_attention.adapter import SparseGINAdapter, sparse_graph
from paperzoo_gin_attention.kernel import GINAttention

PNA = {"aggregators": ["sum", "mean", "max", "std"], "scalers": ["identity", "amplification", "attenuation"]}
SMALL = {"vocab_size": 40, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 32}


def qkv(heads=4, kv_heads=2, t=7, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, heads, t, d, generator=g, dtype=torch.float64)
    k = torch.randn(2, kv_heads, t, d, generator=g, dtype=torch.float64)
    v = torch.randn(2, kv_heads, t, d, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_identity_mlp_and_eps_minus_one_is_softmax_attention(causal, impl):
    q, k, v = qkv()
    padding = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    for mask in (AttentionMask(causal), AttentionMask(causal, key_padding=padding)):
        gin = GINAttention(4, 8, mlp="identity", eps_init=-1.0, learn_eps=False).double()
        ours = gin(q, k, v, mask, HookPoint())
        ref = SoftmaxAttention(impl=impl)(q, k, v, mask, HookPoint())
        assert (ours - ref).abs().max() < 1e-13  # float64: the two softmax orders round differently


def test_reduction_holds_for_a_whole_model_with_the_same_weights():
    torch.manual_seed(0)
    params = {"n_heads": 4, "head_dim": 8, "mlp": "identity", "eps_init": -1.0}
    ours = TinyLMDecoder(**SMALL, attention="gin_attention", attention_params=params).double()
    ref = TinyLMDecoder(**SMALL).double()
    missing = ref.load_state_dict(ours.state_dict(), strict=False)
    assert all(".kernel.eps" in key for key in missing.unexpected_keys) and not missing.missing_keys
    ids = torch.randint(40, (2, 12))
    assert (ours(ids).logits - ref(ids).logits).abs().max() < 1e-12


def test_eps_and_mlp_change_the_output():
    """Guards the reduction test against a kernel that ignores eps or its MLP."""
    q, k, v = qkv(kv_heads=4)
    mask = AttentionMask(True)
    plain = GINAttention(4, 8, mlp="identity", eps_init=-1.0).double()(q, k, v, mask)
    self_term = GINAttention(4, 8, mlp="identity", eps_init=0.0).double()(q, k, v, mask)
    assert torch.allclose(self_term - plain, v, atol=1e-13)  # (1 + eps) V with eps = 0 adds V exactly
    torch.manual_seed(0)
    gin = GINAttention(4, 8).double()
    h = self_term
    assert torch.allclose(gin(q, k, v, mask), gin.mlp(h), atol=1e-13)
    assert (gin(q, k, v, mask) - h).abs().max() > 1e-2


@pytest.mark.parametrize("options", [{}, {"mlp": "shared"}, PNA], ids=["per_head", "shared", "pna"])
def test_permutation_equivariance_without_positions(options):
    torch.manual_seed(0)
    params = {"n_heads": 4, "head_dim": 8, **options}
    model = TinyLMEncoder(**SMALL, position="none", attention="gin_attention", attention_params=params)
    model = model.double().eval()
    ids = torch.randint(40, (2, 10))
    perm = torch.randperm(10)
    out = model(ids).logits
    assert (model(ids[:, perm]).logits - out[:, perm]).abs().max() < 1e-12
    assert (out[:, perm] - out).abs().max() > 1e-3  # the tokens differ: the check is not vacuous


@pytest.mark.parametrize("options", [{}, PNA], ids=["gin", "pna"])
def test_causal_variant_leaks_nothing_from_the_future(options):
    torch.manual_seed(0)
    params = {"n_heads": 4, "head_dim": 8, **options}
    model = TinyLMDecoder(**SMALL, attention="gin_attention", attention_params=params).double().eval()
    ids = torch.randint(40, (2, 12))
    changed = ids.clone()
    changed[:, 7:] = torch.randint(40, (2, 5))
    a, b = model(ids).logits, model(changed).logits
    assert torch.equal(a[:, :7], b[:, :7])
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-3
    # gradient form: no output position depends on a later input embedding
    x = torch.randn(1, 4, 9, 8, dtype=torch.float64, requires_grad=True)
    z = GINAttention(4, 8, **options).double()(x, x, x, AttentionMask(True))
    (grad,) = torch.autograd.grad(z[:, :, 4].sum(), x)
    assert torch.equal(grad[:, :, 5:], torch.zeros_like(grad[:, :, 5:]))
    assert grad[:, :, :5].abs().max() > 0


def test_kv_cache_decoding_matches_the_full_forward():
    torch.manual_seed(0)
    params = {"n_heads": 4, "head_dim": 8, **PNA}
    model = TinyLMDecoder(**SMALL, attention="gin_attention", attention_params=params).double().eval()
    ids = torch.randint(40, (2, 9))
    full = model(ids).logits
    out = model(ids[:, :5], use_cache=True)
    steps = [out.logits]
    for t in range(5, 9):
        out = model(ids[:, t : t + 1], past_key_values=out.past_key_values, use_cache=True)
        steps.append(out.logits)
    assert (torch.cat(steps, 1) - full).abs().max() < 1e-12


def test_pattern_hook_sees_the_adjacency():
    from paperzoo_tinylm.hooks import capture

    torch.manual_seed(0)
    model = TinyLMDecoder(**SMALL, attention="gin_attention", attention_params={"n_heads": 4, "head_dim": 8})
    with capture(model, "blocks.0.attn.pattern") as got:
        model(torch.randint(40, (2, 6)))
    a = got["blocks.0.attn.pattern"]
    assert torch.allclose(a.sum(-1), torch.ones(2, 4, 6)) and torch.equal(a, a.tril())


def test_bad_options_are_refused():
    for bad in ({"mlp": "deep"}, {"aggregators": ["median"]}, {"scalers": []}, {"delta": 0.0}):
        with pytest.raises(ValueError):
            GINAttention(4, 8, **bad)
    with pytest.raises(ValueError, match="cross"):
        q, k, v = qkv(kv_heads=4)
        GINAttention(4, 8).double()(q, k, v, AttentionMask(False, cross=True))


# -- the Sparse-GIN adapter ------------------------------------------------------------------------
def adapter(**kw):
    torch.manual_seed(0)
    return SparseGINAdapter(base=dict(SMALL), hidden_dim=16, **kw)


def test_adapter_with_zero_output_scale_is_the_frozen_model_bitwise():
    model = adapter()
    ids = torch.randint(40, (3, 16))
    with torch.no_grad():
        assert torch.equal(model(ids).logits, model.base(ids).logits)
        for gin in model.gins.values():  # the GIN branch itself is not zero: only its scale is
            gin.scale.fill_(0.5)
        assert (model(ids).logits - model.base(ids).logits).abs().max() > 1e-4


def test_training_moves_only_the_adapter_and_frozen_weights_stay_bitwise():
    model = adapter()
    frozen = {n: p.detach().clone() for n, p in model.base.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.gins.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)  # every parameter offered
    ids = torch.randint(40, (4, 16))
    losses = []
    for _ in range(5):
        logits = model(ids[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 40), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.equal(p, frozen[n]) for n, p in model.base.named_parameters())
    assert all(not p.requires_grad for p in model.base.parameters())
    moved = [n for n, p in model.gins.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) == len(before)
    assert losses[-1] < losses[0]


def test_sparse_graph_is_causal_and_thresholded():
    model = adapter(edge_threshold=0.6)
    graphs = model.graphs(torch.randint(40, (2, 12)))
    assert sorted(graphs) == [0, 1]
    for a in graphs.values():
        assert torch.equal(a, a.tril())
        kept = a[a != 0]
        assert kept.numel() > 0 and bool((kept > 0.6).all()) and bool((kept <= 1).all())
    # closed form on a hand-made pattern: head sum clamped at 1, sigmoid(10 (A - 0.1)), cut at 0.6
    p = torch.tensor([[[[1.0, 0.0], [0.05, 0.95]], [[1.0, 0.0], [0.0, 1.0]]]])  # [1, 2, 2, 2]
    a = sparse_graph(p, alpha=10.0, threshold=0.1, edge_threshold=0.6)
    s = torch.sigmoid(torch.tensor(10 * 0.9))
    assert torch.allclose(a, torch.tensor([[[s, 0.0], [0.0, s]]]))  # 0.05 -> sigmoid(-0.5) < 0.6: cut


def test_adapter_refuses_a_cache_and_bad_layers():
    with pytest.raises(ValueError, match="layers"):
        adapter(layers=[5])
    with pytest.raises(ValueError, match="cache"):
        adapter()(torch.randint(40, (1, 4)), use_cache=True)
