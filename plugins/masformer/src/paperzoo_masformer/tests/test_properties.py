"""Exact properties: the band's width, the three kernel forms against a naive loop, a span covering the
sequence against full attention, the attention cost against the masks' nonzeros, cached decoding against
the full forward, and no information from future tokens."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.hooks import capture, patch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_masformer.attention import (
    MixedSpanAttention,
    band_mask,
    sliding_window_attention,
    sliding_window_blocked,
)
from paperzoo_masformer.model import MASFormer, attention_cost

SIZES = dict(d_model=32, n_layers=4, n_heads=4, n_kv_heads=2, vocab_size=64, max_seq_len=64)


def naive_window(q, k, v, window, q_offset=0):
    """Loop over queries: softmax over keys ``max(0, p - w + 1) .. p`` of query position ``p``."""
    out = torch.empty_like(q)
    for i in range(q.shape[2]):
        p = q_offset + i
        lo = max(0, p - window + 1)
        s = (q[:, :, i : i + 1] @ k[:, :, lo : p + 1].transpose(-1, -2)) * q.shape[-1] ** -0.5
        out[:, :, i] = (s.softmax(-1) @ v[:, :, lo : p + 1])[:, :, 0]
    return out


def test_band_mask_bandwidth():
    m = band_mask(9, 9, 3)
    for i in range(9):
        assert m[i].nonzero().flatten().tolist() == list(range(max(0, i - 2), i + 1))
    off = band_mask(2, 7, 3, q_offset=5)  # queries at positions 5 and 6
    assert off[0].nonzero().flatten().tolist() == [3, 4, 5]
    assert off[1].nonzero().flatten().tolist() == [4, 5, 6]
    assert torch.equal(band_mask(6, 6, None), torch.ones(6, 6, dtype=torch.bool).tril())


@pytest.mark.parametrize("form", ["sdpa", "eager", "blocked"])
@pytest.mark.parametrize(
    ("t", "w", "block", "offset"), [(13, 4, None, 0), (13, 5, 3, 0), (6, 3, 4, 9), (1, 4, None, 20)]
)
def test_forms_equal_naive_loop(form, t, w, block, offset):
    g = torch.Generator().manual_seed(t * w)
    q = torch.randn(2, 3, t, 8, generator=g, dtype=torch.float64)
    k, v = (torch.randn(2, 3, offset + t, 8, generator=g, dtype=torch.float64) for _ in range(2))
    kernel = MixedSpanAttention(w, form=form, block_size=block)
    got = kernel(q, k, v, AttentionMask(causal=True, q_offset=offset))
    torch.testing.assert_close(got, naive_window(q, k, v, w, offset), rtol=0, atol=1e-12)


def test_blocked_with_key_padding_equals_masked_form():
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 2, 11, 8, generator=g, dtype=torch.float64) for _ in range(3))
    pad = torch.ones(2, 11, dtype=torch.bool)
    pad[0, :4] = False  # left padding of row 0
    mask = AttentionMask(causal=True, key_padding=pad)
    want = MixedSpanAttention(3, form="eager")(q, k, v, mask)
    got = sliding_window_blocked(q, k, v, 3, 0, 2, pad)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_blocked_scores_grow_as_t_times_w():
    """The blocked form's largest tensor is the scores ``[B, H, T / b, b, b + w - 1]``: linear in T."""
    sizes = []
    for t in (64, 128, 256):
        q = torch.randn(1, 1, t, 4, dtype=torch.float64, requires_grad=True)
        saved: list[int] = []

        def keep(x: torch.Tensor, saved: list[int] = saved) -> torch.Tensor:
            saved.append(x.numel())
            return x

        with torch.autograd.graph.saved_tensors_hooks(keep, lambda x: x):
            sliding_window_blocked(q, q, q, 8)
        sizes.append(max(saved))
    assert sizes == [64 * 15, 128 * 15, 256 * 15]


def test_span_covering_sequence_is_full_attention_bitwise():
    torch.manual_seed(0)
    ids = torch.randint(64, (2, 20))
    full = TinyLMDecoder(**SIZES)
    mas = MASFormer(window=20, n_full=1, **SIZES)
    mas.load_state_dict(full.state_dict())
    assert torch.equal(mas(ids).logits, full(ids).logits)


@pytest.mark.parametrize("form", ["sdpa", "eager", "blocked"])
def test_band_of_full_width_equals_causal_attention(form):
    """The banded forms themselves (not the kernel's short cut to full attention) with ``w = T``."""
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 2, 12, 8, generator=g, dtype=torch.float64) for _ in range(3))
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    got = sliding_window_attention(q, k, v, 12, AttentionMask(causal=True), form=form)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_attention_cost_matches_mask_nonzeros():
    """Nonzeros of the attention patterns a MASFormer forms, per layer, against the closed forms."""
    n, w = 24, 5
    model = MASFormer(window=w, n_full=1, attn_impl="eager", **SIZES).double()
    with capture(model, ["blocks.*.attn.pattern"]) as got:
        model(torch.randint(64, (1, n)))
    counted = sum(int((got[f"blocks.{i}.attn.pattern"][0, 0] > 0).sum()) for i in range(4))
    assert (
        counted
        == model.attention_cost(n, causal=True)
        == 1 * n * (n + 1) // 2 + 3 * (n * w - w * (w - 1) // 2)
    )
    # the paper's count: every query of a full layer scores n keys, of a local layer w (no causal edge)
    assert model.attention_cost(n) == 1 * n * n + 3 * n * w
    assert (
        attention_cost(n, 4, 1, w) - attention_cost(n, 4, 1, w, causal=True)
        == n * (n - 1) // 2 + 3 * w * (w - 1) // 2
    )


@pytest.mark.parametrize("form", ["sdpa", "blocked"])
def test_cached_decoding_equals_full_forward(form):
    torch.manual_seed(0)
    model = MASFormer(window=4, n_full=1, form=form, **SIZES).double().eval()
    ids = torch.randint(64, (2, 15))
    full = model(ids).logits
    out = model(ids[:, :6], use_cache=True)
    steps = [out.logits]
    for a, b in [(6, 7), (7, 10), (10, 11), (11, 15)]:
        out = model(ids[:, a:b], past_key_values=out.past_key_values, use_cache=True)
        steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-12)


@pytest.mark.parametrize("form", ["sdpa", "eager", "blocked"])
def test_no_gradient_from_future_tokens(form):
    torch.manual_seed(0)
    model = MASFormer(window=3, n_full=2, form=form, **SIZES).double()
    x = model.tok_embed(torch.randint(64, (1, 12))).detach().requires_grad_(True)
    with patch(model, "embed", lambda e: x):
        logits = model(torch.zeros(1, 12, dtype=torch.long)).logits
    logits[0, 6].sum().backward()
    assert x.grad[0, 7:].abs().max() == 0
    assert x.grad[0, :7].abs().sum(-1).gt(0).all()  # full layers reach every earlier token


def test_local_layers_do_not_see_past_the_window():
    """An all-local model of L layers and span w: the output at i depends on tokens i - L (w - 1) .. i only."""
    torch.manual_seed(0)
    model = MASFormer(window=3, n_full=0, **SIZES).double()
    ids = torch.randint(64, (1, 20))
    base = model(ids).logits[0, 19]
    far, near = ids.clone(), ids.clone()
    far[0, 19 - 4 * 2 - 1] = (far[0, 19 - 4 * 2 - 1] + 1) % 64  # one beyond the receptive field
    near[0, 19 - 4 * 2] = (near[0, 19 - 4 * 2] + 1) % 64
    assert torch.equal(model(far).logits[0, 19], base)
    assert not torch.equal(model(near).logits[0, 19], base)


def test_kernels_replaced_and_weights_shared_with_tinylm():
    model = MASFormer(window=8, full_layers=[0, 2], **SIZES)
    assert model.spans == [None, 8, None, 8]
    assert set(model.state_dict()) == set(TinyLMDecoder(**SIZES).state_dict())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window": 0}, "window"),
        ({"n_full": 5}, "n_full"),
        ({"full_layers": [0, 0]}, "full_layers"),
        ({"form": "flash"}, "form"),
        ({"attention": "softmax"}, "attention"),
    ],
)
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        MASFormer(**{**SIZES, **params})
