"""Exact properties of the tinylm blocks, cache and hooks."""

from __future__ import annotations

import pytest
import torch

from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.ffn import GatedFFN, MoE
from paperzoo_tinylm.hooks import capture, hook_names, patch
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMEncoder
from paperzoo_tinylm.norms import RMSNorm
from paperzoo_tinylm.tests.helpers import TINY, jitter, tiny, tokens

# every attention slot and position kind the kit ships, in the configurations that change masking
ATTENTION_SLOTS = [
    {"attn_impl": "sdpa"},
    {"attn_impl": "eager"},
    {"attn_impl": "sdpa", "n_kv_heads": 1},
    {"attn_impl": "eager", "position": "learned"},
    {"attn_impl": "sdpa", "position": "none", "norm_placement": ["post", "peri"]},
    {"attn_impl": "sdpa", "ffn": "moe", "n_experts": 3, "moe_top_k": 2},
]


def test_peri_with_identity_output_norm_equals_pre():
    pre = tiny(norm_placement="pre")
    peri = TinyLMDecoder(**TINY, norm_placement="peri", output_norm="identity").double().eval()
    peri.load_state_dict(pre.state_dict())  # identity norms have no parameters: same keys
    ids = tokens(2, 12)
    assert torch.equal(pre(ids).logits, peri(ids).logits)


def test_peri_output_norm_is_applied():
    pre, peri = tiny(norm_placement="pre"), tiny(norm_placement="peri")
    assert any("out_norm" in n for n, _ in peri.named_parameters())
    ids = tokens(2, 12)
    assert not torch.allclose(pre(ids).logits, peri(ids).logits)


def test_post_placement_has_no_final_norm_by_default():
    model = tiny(norm_placement="post")
    assert not hasattr(model, "final_norm")
    x = torch.randn(2, 5, 32, dtype=torch.float64)
    block = model.blocks[0]
    with capture(model, "blocks.0.attn.out") as got:
        from paperzoo_tinylm.attention import AttentionMask

        y = block(x, AttentionMask(True), model.rotary(torch.arange(5), x.dtype))
    # post-LN: the block output is the ffn norm of (its input + the ffn output)
    mid = block.attn_norm(x + got["blocks.0.attn.out"])
    assert torch.allclose(y, block.ffn_norm(mid + block.mlp(mid)), atol=1e-14, rtol=0)


@pytest.mark.parametrize("slot", ATTENTION_SLOTS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_no_position_sees_the_future(slot):
    """Changing token t leaves every captured tensor at positions before t unchanged: bitwise, except
    with experts, whose matrix products run over the tokens routed to them (a different row count,
    so a different summation blocking): there within 1e-13 in float64."""
    model = tiny(**slot)
    same = torch.equal if slot.get("ffn") != "moe" else lambda a, b: torch.allclose(a, b, atol=1e-13, rtol=0)
    ids = tokens(2, 10)
    for t in (0, 4, 9):
        changed = ids.clone()
        changed[:, t] = (changed[:, t] + 7) % 64
        with capture(model, "*") as a:
            la = model(ids).logits
        with capture(model, "*") as b:
            lb = model(changed).logits
        assert same(la[:, :t], lb[:, :t])
        assert not torch.equal(la[:, t:], lb[:, t:])
        for name, tensor in a.items():
            if name.endswith(("attn.q", "attn.k", "attn.v", "attn.z", "attn.pattern")):
                before = tensor[:, :, :t]  # [B, H, T, ...]
                other = b[name][:, :, :t]
            elif name.endswith("router_logits") or tensor.dim() == 3:
                before, other = tensor[:, :t], b[name][:, :t]
            else:  # an expert's rows: tokens in routing order; covered by the expert's output
                continue
            assert same(before, other), name


def test_cached_decoding_sees_no_future_either():
    model = tiny()
    ids = tokens(1, 8)
    prefix = model(ids[:, :5], use_cache=True).past_key_values
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 64
    a = model(ids[:, 5:], past_key_values=KVCache(prefix.keys, prefix.values)).logits
    b = model(changed[:, 5:], past_key_values=KVCache(prefix.keys, prefix.values)).logits
    assert torch.equal(a[:, :2], b[:, :2]) and not torch.equal(a[:, 2], b[:, 2])


def test_encoder_is_bidirectional():
    torch.manual_seed(0)
    enc = jitter(TinyLMEncoder(**TINY).double().eval())
    ids = tokens(1, 8)
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 64
    assert not torch.equal(enc(ids).logits[:, :6], enc(changed).logits[:, :6])


def test_encoder_ignores_padded_keys():
    torch.manual_seed(0)
    enc = jitter(TinyLMEncoder(**TINY).double().eval())
    ids = tokens(1, 8)
    mask = torch.tensor([[1] * 5 + [0] * 3])
    changed = ids.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 64
    a, b = enc(ids, attention_mask=mask).logits, enc(changed, attention_mask=mask).logits
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-13, rtol=0)


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_capture_and_identity_patch_change_nothing_bitwise(impl):
    model = tiny(attn_impl=impl, ffn="moe", n_experts=2, moe_top_k=1)
    ids = tokens(2, 9)
    expected = model(ids).logits
    with capture(model, "*") as got:
        assert torch.equal(model(ids).logits, expected)
    assert set(got) == set(hook_names(model))
    for name in hook_names(model):
        with patch(model, name, lambda x: x.clone()):
            out = model(ids).logits
        if impl == "sdpa" and name.endswith("attn.pattern"):
            # patching the pattern needs it explicitly: the eager path (rounding of the fused kernel differs)
            assert torch.allclose(out, expected, atol=1e-13, rtol=0), name
        else:
            assert torch.equal(out, expected), name
    assert not any(p.active for p in dict(model.named_modules()).values() if hasattr(p, "active"))


def test_patch_changes_the_output_and_capture_matches_hidden_states():
    model = tiny()
    ids = tokens(2, 9)
    out = model(ids, output_hidden_states=True)
    with capture(model, ["blocks.*.resid_post", "embed"]) as got:
        model(ids)
    assert torch.equal(got["embed"], out.hidden_states[0])
    assert torch.equal(got["blocks.0.resid_post"], out.hidden_states[1])
    with patch(model, "blocks.0.attn.out", torch.zeros_like):
        ablated = model(ids).logits
    assert not torch.allclose(ablated, out.logits)
    with pytest.raises(KeyError, match="no hook name"):
        with capture(model, "blocks.0.nonexistent"):
            pass


def test_attention_pattern_is_a_causal_distribution():
    model = tiny()
    with capture(model, "blocks.*.attn.pattern") as got:
        model(tokens(2, 6))
    p = got["blocks.1.attn.pattern"]
    assert p.shape == (2, 4, 6, 6)
    assert torch.allclose(p.sum(-1), torch.ones(2, 4, 6, dtype=p.dtype), atol=1e-14, rtol=0)
    assert torch.equal(p.triu(1), torch.zeros_like(p))


@pytest.mark.parametrize("overrides", [{}, {"position": "learned", "n_kv_heads": 2}, {"ffn": "moe"}])
def test_kv_cache_decoding_equals_full_forward(overrides):
    model = tiny(**overrides)
    ids = tokens(2, 12)
    full = model(ids).logits
    past, pieces = None, []
    for a, b in ((0, 5), (5, 6), (6, 9), (9, 12)):
        out = model(ids[:, a:b], past_key_values=past, use_cache=True)
        past = out.past_key_values
        pieces.append(out.logits)
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-12, rtol=0)
    assert (
        past.get_seq_length() == 12
        and len(past) == 2
        and past.keys[0].shape == (2, model.config.kv_heads, 12, 8)
    )


def test_cache_select_repeat_crop():
    k = [torch.arange(2 * 1 * 3 * 2.0).view(2, 1, 3, 2)]
    cache = KVCache(k, [x + 100 for x in k])
    rep = cache.repeat_interleave(2)
    assert torch.equal(rep.keys[0], k[0][[0, 0, 1, 1]]) and cache.keys[0].shape[0] == 2
    sel = rep.select(torch.tensor([3, 0]))
    assert torch.equal(sel.values[0], k[0][[1, 0]] + 100)
    sel.crop(2)
    assert sel.get_seq_length() == 2 and torch.equal(sel.keys[0], k[0][[1, 0], :, :2])
    cache.batch_repeat_interleave(3)
    assert cache.keys[0].shape[0] == 6


def test_grouped_query_equals_multi_head_with_shared_kv():
    """A GQA model equals a multi-head model whose key/value heads repeat the shared ones."""
    gqa = tiny(n_kv_heads=2)
    mha = TinyLMDecoder(**TINY).double().eval()
    state = gqa.state_dict()
    for i in range(2):
        for p in ("k_proj", "v_proj"):
            w = state[f"blocks.{i}.attn.{p}.weight"].view(2, 8, 32)
            state[f"blocks.{i}.attn.{p}.weight"] = w.repeat_interleave(2, dim=0).reshape(32, 32)
    mha.load_state_dict(state)
    ids = tokens(2, 9)
    assert torch.allclose(gqa(ids).logits, mha(ids).logits, atol=1e-13, rtol=0)


def test_rope_inv_freq_override():
    default = tiny()
    same = tiny(rope_inv_freq=default.rotary.inv_freq.tolist())
    ids = tokens(1, 7)
    assert torch.equal(default(ids).logits, same(ids).logits)
    slower = tiny(rope_inv_freq=lambda dim, theta: 0.5 * (1.0 / theta ** (torch.arange(0, dim, 2) / dim)))
    assert torch.equal(slower.rotary.inv_freq, 0.5 * default.rotary.inv_freq)
    assert not torch.allclose(default(ids).logits, slower(ids).logits)


def test_rms_norm_closed_form():
    norm = RMSNorm(4, eps=0.0).double()
    x = torch.tensor([[3.0, -4.0, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(norm(x), x / 2.5, atol=1e-15, rtol=0)


def test_routing_traces_sum_to_one_and_pick_top_k():
    model = tiny(ffn="moe", n_experts=4, moe_top_k=2)
    out = model(tokens(2, 9))
    assert len(out.router_traces) == 2
    for trace in out.router_traces:
        assert torch.allclose(trace.sum(-1), torch.ones(2, 9, dtype=trace.dtype), atol=1e-14, rtol=0)
        assert torch.equal((trace > 0).sum(-1), torch.full((2, 9), 2))
    assert out.aux_loss.item() >= 0


def test_single_expert_moe_equals_its_gated_ffn():
    torch.manual_seed(0)
    moe = MoE(8, 16, n_experts=1, top_k=1, expert="gated", activation="silu", bias=False).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    expert: GatedFFN = moe.experts[0]
    assert torch.allclose(moe(x), expert(x), atol=1e-15, rtol=0)
    # one expert takes every token with probability one: the balance loss is exactly 1
    assert moe.aux_loss.item() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    "field, value", [("norm_placement", "middle"), ("n_heads", 5), ("position", "alibi"), ("n_kv_heads", 3)]
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TinyLMDecoder(**{**TINY, field: value})


def test_norm_slot_with_params_is_built_through_the_registry():
    default = tiny()
    via_registry = tiny(
        norm_params={"eps": 1e-6}
    )  # params route the slot through create("rms_norm", d, eps=...)
    assert type(via_registry.blocks[0].attn_norm) is RMSNorm
    ids = tokens(2, 6)
    assert torch.equal(default(ids).logits, via_registry(ids).logits)


class _PlainKernel(torch.nn.Module):
    """A kernel written against the documented interface only: mask builder and pattern hook."""

    def forward(self, q, k, v, mask, pattern):
        k, v = (
            k.repeat_interleave(q.shape[1] // k.shape[1], 1),
            v.repeat_interleave(q.shape[1] // v.shape[1], 1),
        )
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        bias = mask.bias(q.shape[-2], k.shape[-2], q.dtype, q.device)
        return pattern((scores if bias is None else scores + bias).softmax(-1)) @ v


def test_a_kernel_following_the_interface_drops_in():
    eager = tiny(attn_impl="eager", n_kv_heads=2)
    custom = tiny(attn_impl="eager", n_kv_heads=2)
    for block in custom.blocks:
        block.attn.kernel = _PlainKernel()
    ids = tokens(2, 9)
    assert torch.allclose(custom(ids).logits, eager(ids).logits, atol=1e-13, rtol=0)
    past = custom(ids[:, :5], use_cache=True).past_key_values  # with the cache, q_offset shifts the mask
    step = custom(ids[:, 5:], past_key_values=past).logits
    assert torch.allclose(step, eager(ids).logits[:, 5:], atol=1e-12, rtol=0)
    with capture(custom, "blocks.0.attn.pattern") as got:
        custom(ids)
    assert got["blocks.0.attn.pattern"].shape == (2, 4, 9, 9)


def test_lm_loss_is_next_token_cross_entropy_and_lm_step_releases_gradients():
    from paperzoo_tinylm.training import lm_loss, lm_step

    torch.manual_seed(0)
    model = torch.nn.Module()
    table = torch.nn.Parameter(torch.randn(11, 11))
    model.table = table
    model.forward = lambda ids: type("Out", (), {"logits": table[ids]})()
    ids = torch.tensor([[1, 4, 2, 7], [3, 3, 0, 9]])
    expected = (
        sum(-torch.log_softmax(table[ids[b, t]], -1)[ids[b, t + 1]] for b in range(2) for t in range(3)) / 6
    )
    torch.testing.assert_close(lm_loss(model, ids), expected)
    lm_step(model, ids)
    assert table.grad is None
