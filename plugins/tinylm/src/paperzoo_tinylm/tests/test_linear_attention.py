"""Linear attention: the parallel, recurrent and chunked forms against a naive loop over (t, s) pairs
(float64, 1e-12: a few dozen products and sums of numbers near one, so rounding stays near 1e-15), the
state API, and the kernel inside the decoder (cached decoding, grouped-query heads, padding, hooks)."""

from __future__ import annotations

import dataclasses
import inspect
import random

import paperzoo
import pytest
import torch

from paperzoo_tinylm import linear_attention as la
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.hooks import capture, patch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tests.helpers import tiny, tokens

TOL = 1e-12


def naive(q, k, v, decay=None, normalize=False, causal=True, eps=1e-6):
    """``o_t = sum_s (q_t . k_s) g^(t-s) v_s [/ (sum_s (q_t . k_s) g^(t-s) + eps)]`` by explicit loops."""
    b, h, t, _ = q.shape
    out = torch.zeros(b, h, t, v.shape[-1], dtype=q.dtype)
    for bi in range(b):
        for hi in range(h):
            g = 1.0 if decay is None else (decay[hi] if isinstance(decay, list) else decay)
            for i in range(t):
                num, den = torch.zeros(v.shape[-1], dtype=q.dtype), 0.0
                for s in range(t if not causal else i + 1):
                    w = float(q[bi, hi, i] @ k[bi, hi, s]) * g ** (i - s)
                    num += w * v[bi, hi, s]
                    den += w
                out[bi, hi, i] = num / (den + eps) if normalize else num
    return out


def rand(*shape, seed=0, positive=False):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.nn.functional.elu(x) + 1 if positive else x


CASES = [  # (B, H, T, Dk, Dv, chunk, decay, normalize)
    (2, 2, 13, 4, 3, 4, None, False),
    (1, 3, 17, 5, 2, 5, 0.9, False),
    (2, 2, 16, 3, 4, 4, [0.5, 1.0], True),
    (1, 2, 9, 4, 4, 16, [0.97, 0.8], True),  # one chunk longer than the sequence
    (1, 1, 7, 2, 3, 1, 0.7, True),  # chunks of one token
    (2, 1, 1, 3, 3, 4, None, True),  # a single token
]


@pytest.mark.parametrize("case", CASES)
def test_three_forms_equal_the_naive_loop(case):
    b, h, t, dk, dv, chunk, decay, normalize = case
    q, k = rand(b, h, t, dk, seed=1, positive=normalize), rand(b, h, t, dk, seed=2, positive=normalize)
    v = rand(b, h, t, dv, seed=3)
    ref = naive(q, k, v, decay, normalize)
    opts = dict(decay=decay, normalize=normalize)
    par = la.linear_attention_parallel(q, k, v, **opts)
    rec, rec_state = la.linear_attention_recurrent(q, k, v, **opts)
    chk, chk_state = la.linear_attention_chunked(q, k, v, chunk_size=chunk, **opts)
    for got in (par, rec, chk):
        assert (got - ref).abs().max() < TOL
    # the state after the last token, summed term by term: kv = sum_s g^(T-1-s) k_s^T v_s, z = sum_s g^(T-1-s) k_s
    g = torch.tensor(
        [1.0] * h if decay is None else decay if isinstance(decay, list) else [decay] * h, dtype=torch.float64
    )
    w = g[:, None] ** torch.arange(t - 1, -1, -1, dtype=torch.float64)  # [H, T]
    kv_ref = sum(w[None, :, s, None, None] * k[:, :, s, :, None] * v[:, :, s, None, :] for s in range(t))
    z_ref = sum(w[None, :, s, None] * k[:, :, s] for s in range(t))
    for st in (rec_state, chk_state, la.linear_attention_state(k, v, **opts)):
        assert (st.kv - kv_ref).abs().max() < TOL
        assert (st.z is None) == (not normalize)
        if normalize:
            assert (st.z - z_ref).abs().max() < TOL


def test_random_shapes_and_chunk_sizes():
    rng = random.Random(0)
    for trial in range(6):
        b, h, t = rng.randint(1, 2), rng.randint(1, 3), rng.randint(2, 23)
        dk, dv, chunk = rng.randint(1, 5), rng.randint(1, 5), rng.randint(2, 8)
        decay = rng.choice([None, rng.uniform(0.3, 1.0), [rng.uniform(0.3, 1.0) for _ in range(h)]])
        normalize = rng.random() < 0.5
        q, k = (rand(b, h, t, dk, seed=10 * trial + i, positive=normalize) for i in (1, 2))
        v = rand(b, h, t, dv, seed=10 * trial + 3)
        ref = naive(q, k, v, decay, normalize)
        chk, _ = la.linear_attention_chunked(q, k, v, decay=decay, normalize=normalize, chunk_size=chunk)
        assert (chk - ref).abs().max() < TOL, (b, h, t, dk, dv, chunk, decay, normalize)


def test_non_causal_forms_equal_the_naive_loop():
    q, k, v = (
        rand(2, 2, 11, 3, seed=1, positive=True),
        rand(2, 2, 11, 3, seed=2, positive=True),
        rand(2, 2, 11, 4),
    )
    for normalize in (False, True):
        ref = naive(q, k, v, normalize=normalize, causal=False)
        for form in la.FORMS:
            got = la.linear_attention(q, k, v, form=form, normalize=normalize, causal=False, chunk_size=4)
            assert (got - ref).abs().max() < TOL, (form, normalize)


def test_state_carries_over_and_steps_decode():
    q, k, v = (
        rand(2, 2, 19, 4, seed=1, positive=True),
        rand(2, 2, 19, 4, seed=2, positive=True),
        rand(2, 2, 19, 3),
    )
    opts = dict(decay=[0.9, 0.6], normalize=True)
    full, _ = la.linear_attention_chunked(q, k, v, chunk_size=4, **opts)
    head, state = la.linear_attention_chunked(q[:, :, :10], k[:, :, :10], v[:, :, :10], chunk_size=4, **opts)
    tail, _ = la.linear_attention_chunked(
        q[:, :, 10:], k[:, :, 10:], v[:, :, 10:], chunk_size=3, state=state, **opts
    )
    assert (torch.cat([head, tail], 2) - full).abs().max() < TOL
    rec_tail, _ = la.linear_attention_recurrent(q[:, :, 10:], k[:, :, 10:], v[:, :, 10:], state=state, **opts)
    assert (rec_tail - full[:, :, 10:]).abs().max() < TOL
    state = la.linear_attention_state(k[:, :, :10], v[:, :, :10], **opts)
    for t in range(10, 19):
        o, state = la.linear_attention_step(q[:, :, t], k[:, :, t], v[:, :, t], state, **opts)
        assert o.shape == (2, 2, 3) and (o - full[:, :, t]).abs().max() < TOL
    # the parallel form with an offset reads the same prefix
    par = la.linear_attention_parallel(q[:, :, 10:], k, v, q_offset=10, **opts)
    assert (par - full[:, :, 10:]).abs().max() < TOL


def test_decay_changes_the_output_and_one_is_no_decay():
    q, k, v = rand(1, 2, 8, 3, seed=1), rand(1, 2, 8, 3, seed=2), rand(1, 2, 8, 3, seed=3)
    plain = la.linear_attention_parallel(q, k, v)
    assert torch.equal(la.linear_attention_parallel(q, k, v, decay=1.0), plain)
    assert (la.linear_attention_parallel(q, k, v, decay=0.5) - plain).abs().max() > 1e-2
    # g^(t-s) with a tiny g: only the diagonal survives (o_t = (q_t . k_t) v_t)
    diag = (q * k).sum(-1, keepdim=True) * v
    assert (la.linear_attention_chunked(q, k, v, decay=1e-200, chunk_size=3)[0] - diag).abs().max() < TOL


def test_feature_maps():
    x = rand(1, 1, 5, 3)
    # elu(x) + 1 = exp(x) below zero (elu uses expm1, hence rounding differences)
    assert (la.FEATURE_MAPS["elu1"](x) - torch.where(x > 0, x + 1, torch.exp(x))).abs().max() < 1e-15
    assert torch.equal(la.FEATURE_MAPS["relu"](x), x.clamp(min=0))
    q, k, v = rand(1, 2, 6, 3, seed=1), rand(1, 2, 6, 3, seed=2), rand(1, 2, 6, 3, seed=3)
    got = la.linear_attention(q, k, v, feature_map="relu", normalize=True, form="parallel")
    assert (got - naive(q.relu(), k.relu(), v, normalize=True)).abs().max() < TOL
    la.register_feature_map("test_square", torch.square)
    kernel = la.LinearAttention(feature_map="test_square", normalize=False, form="recurrent")
    assert (kernel(q, k, v, AttentionMask(causal=True)) - naive(q**2, k**2, v)).abs().max() < TOL
    with pytest.raises(ValueError, match="already registered"):
        la.register_feature_map("relu", torch.square)
    # a registered layer (here the kit's RMSNorm) is a submodule whose parameters train
    kernel = la.LinearAttention(feature_map="rms_norm", feature_map_params={"dim": 3}).double()
    assert [n for n, _ in kernel.named_parameters()] == ["phi.weight"]
    out = kernel(q, k, v, AttentionMask(causal=True))
    ref = naive(kernel.phi(q).detach(), kernel.phi(k).detach(), v, normalize=True)
    assert (out - ref).abs().max() < TOL
    out.sum().backward()
    assert kernel.phi.weight.grad.abs().sum() > 0


def test_bad_arguments():
    q = rand(1, 2, 4, 3)
    with pytest.raises(ValueError, match="decay: only causal"):
        la.linear_attention_parallel(q, q, q, decay=0.5, causal=False)
    with pytest.raises(ValueError, match=r"decay: .*\(0, 1\]"):
        la.linear_attention_chunked(q, q, q, decay=[0.5, 1.5])
    with pytest.raises(ValueError, match="one value per head"):
        la.linear_attention_recurrent(q, q, q, decay=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="form"):
        la.LinearAttention(form="fast")
    with pytest.raises(ValueError, match="feature_map"):
        la.LinearAttention(feature_map="no_such_map")
    with pytest.raises(ValueError, match="decay"):
        la.LinearAttention(decay=0.0)
    with pytest.raises(ValueError, match="decay: the decayed kernel is causal only"):
        la.LinearAttention(decay=0.9)(q, q, q, AttentionMask(causal=False))


# -- the kernel in the decoder -------------------------------------------------------------------------
def _linear(form: str, **kw):
    params = {"form": form, "chunk_size": 4, "decay": [0.95, 0.8, 0.9, 1.0], "normalize": True, **kw}
    return tiny(attention="tinylm_linear_attention", attention_params=params, n_kv_heads=2)


@pytest.mark.parametrize("form", la.FORMS)
def test_cached_decoding_equals_full_forward(form):
    model = _linear(form)
    ids = tokens(2, 11)
    full = model(ids).logits
    out = model(ids[:, :5], use_cache=True)
    got = [out.logits]
    for lo, hi in ((5, 6), (6, 9), (9, 10), (10, 11)):
        out = model(ids[:, lo:hi], past_key_values=out.past_key_values, use_cache=True)
        got.append(out.logits)
    assert (torch.cat(got, 1) - full).abs().max() < TOL


def test_forms_agree_in_the_decoder_and_are_causal():
    ids = tokens(2, 13)
    logits = [_linear(form)(ids).logits for form in la.FORMS]
    assert all((x - logits[0]).abs().max() < TOL for x in logits[1:])
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 64
    after = _linear("chunked")(changed).logits
    assert (
        torch.equal(after[:, :7], logits[2][:, :7]) and (after[:, 7:] - logits[2][:, 7:]).abs().max() > 1e-6
    )


def test_key_padding_left_padded_rows_match_unpadded():
    model = _linear("chunked", decay=None)
    ids = tokens(1, 7)
    ref = model(ids).logits
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], 1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 7, dtype=torch.long)], 1)
    pos = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.arange(7)[None]], 1)
    got = model(padded, attention_mask=mask, position_ids=pos).logits[:, 3:]
    assert (got - ref).abs().max() < TOL


def test_pattern_hook_is_the_parallel_matrix():
    model = _linear("chunked")
    ids = tokens(2, 9)
    ref = model(ids).logits
    with capture(model, ["blocks.0.attn.pattern", "blocks.0.attn.v", "blocks.0.attn.z"]) as got:
        assert torch.equal(model(ids).logits, ref)  # observing never changes a result
    p, v, z = got["blocks.0.attn.pattern"], got["blocks.0.attn.v"], got["blocks.0.attn.z"]
    assert p.shape == (2, 4, 9, 9) and torch.equal(p.triu(1), torch.zeros_like(p))
    assert (p @ v.repeat_interleave(2, dim=1) - z).abs().max() < TOL
    with patch(model, "blocks.0.attn.pattern", lambda x: x):
        assert (model(ids).logits - ref).abs().max() < TOL


def test_decoder_trains_with_linear_attention():
    torch.manual_seed(0)
    model = TinyLMDecoder(
        d_model=32, n_layers=1, n_heads=4, n_kv_heads=2, vocab_size=64, max_seq_len=32,
        attention="tinylm_linear_attention", attention_params={"chunk_size": 8, "decay": 0.9},
    )  # fmt: skip
    ids = tokens(4, 16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        logits = model(ids[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 64), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


# -- frozen API ----------------------------------------------------------------------------------------
def test_linear_attention_api_is_frozen():
    sig = {name: str(inspect.signature(getattr(la, name))) for name in (
        "linear_attention", "linear_attention_parallel", "linear_attention_recurrent", "linear_attention_chunked",
        "linear_attention_step", "linear_attention_state", "linear_attention_weights", "register_feature_map",
    )}  # fmt: skip
    opts = "decay: 'Decay' = None, normalize: 'bool' = False"
    assert sig["linear_attention_parallel"] == (
        f"(q: 'torch.Tensor', k: 'torch.Tensor', v: 'torch.Tensor', *, {opts}, causal: 'bool' = True, "
        "q_offset: 'int' = 0, eps: 'float' = 1e-06) -> 'torch.Tensor'"
    )
    assert sig["linear_attention_chunked"] == (
        f"(q: 'torch.Tensor', k: 'torch.Tensor', v: 'torch.Tensor', *, {opts}, causal: 'bool' = True, "
        "eps: 'float' = 1e-06, chunk_size: 'int' = 64, state: 'LinearAttentionState | None' = None) "
        "-> 'tuple[torch.Tensor, LinearAttentionState]'"
    )
    assert sig["linear_attention_recurrent"] == (
        f"(q: 'torch.Tensor', k: 'torch.Tensor', v: 'torch.Tensor', *, {opts}, causal: 'bool' = True, "
        "eps: 'float' = 1e-06, state: 'LinearAttentionState | None' = None) "
        "-> 'tuple[torch.Tensor, LinearAttentionState]'"
    )
    assert sig["linear_attention_step"] == (
        "(q: 'torch.Tensor', k: 'torch.Tensor', v: 'torch.Tensor', state: 'LinearAttentionState | None', "
        f"*, {opts}, eps: 'float' = 1e-06) -> 'tuple[torch.Tensor, LinearAttentionState]'"
    )
    assert sig["linear_attention_state"] == (
        f"(k: 'torch.Tensor', v: 'torch.Tensor', *, {opts}) -> 'LinearAttentionState'"
    )
    assert list(inspect.signature(la.linear_attention).parameters) == [
        "q", "k", "v", "feature_map", "form", "decay", "normalize", "causal", "eps", "chunk_size",
    ]  # fmt: skip
    assert list(inspect.signature(la.LinearAttention).parameters) == [
        "feature_map", "feature_map_params", "normalize", "decay", "form", "chunk_size", "eps",
    ]  # fmt: skip
    assert la.FORMS == ("parallel", "recurrent", "chunked")
    assert {"identity", "elu1", "relu"} <= set(la.FEATURE_MAPS)
    assert [f.name for f in dataclasses.fields(la.LinearAttentionState)] == ["kv", "z"]
    assert (
        paperzoo.get("tinylm_linear_attention", "layer").target
        == "paperzoo_tinylm.linear_attention:LinearAttention"
    )
