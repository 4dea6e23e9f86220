"""Exact properties of FIT: shapes, no cross-group influence without global layers, group-permutation
equivariance, causality of the autoregressive variant, reductions (one group; a zeroed write-back), and
the attention FLOP count."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.attention import AttentionMask

from paperzoo_fit.block import FITBlock
from paperzoo_fit.encoder import FITEncoder, parse_pattern
from paperzoo_fit.flops import dense_attention_flops, fit_attention_flops, fit_attention_pairs

D = 16


def encoder(**kw) -> FITEncoder:
    torch.manual_seed(0)
    base = {
        "d_model": D,
        "n_heads": 2,
        "group_size": 4,
        "latents_per_group": 2,
        "pattern": "LGLG",
        "init_std": 0.3,
    }
    return FITEncoder(**{**base, **kw}).double()


def test_shapes():
    enc = encoder()
    out, z = enc(torch.randn(3, 20, D, dtype=torch.float64), return_latents=True)
    assert out.shape == (3, 20, D) and z.shape == (3, 5 * 2, D)
    lm = FITEncoder(
        d_model=D, n_heads=2, group_size=4, pattern="LGL", vocab_size=11, max_seq_len=16, causal=True
    )
    assert lm(torch.randint(11, (2, 16))).shape == (2, 16, 11)
    block = FITBlock(D, 2, group_size=3, n_local=1, n_global=2, latents_per_group=4)
    x, z = block(torch.randn(2, 12, D))
    assert x.shape == (2, 12, D) and z.shape == (2, 4 * 4, D)
    assert parse_pattern("LLG LLG") == [(2, 1), (2, 1)] and parse_pattern("GLLGGL") == [
        (0, 1),
        (2, 2),
        (1, 0),
    ]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="multiple of group_size=4"):
        encoder()(torch.randn(1, 10, D, dtype=torch.float64))
    with pytest.raises(ValueError, match="pattern"):
        parse_pattern("LXG")
    with pytest.raises(ValueError, match="latents_per_group"):
        FITEncoder(latents_per_group=-1)


def cross_group_jacobian(enc: FITEncoder, t: int) -> torch.Tensor:
    """``[G_out, G_in]``: the largest |gradient| on the tokens of group ``b`` of a random projection of
    the outputs of group ``a`` (one backward pass per output group)."""
    g, s = t // enc.group_size, enc.group_size
    x = torch.randn(1, t, D, dtype=torch.float64, requires_grad=True)
    out = enc(x)
    rows = []
    for a in range(g):
        weight = torch.randn(s, D, dtype=torch.float64)
        (grad,) = torch.autograd.grad((out[0, a * s : (a + 1) * s] * weight).sum(), x, retain_graph=True)
        rows.append(grad[0].abs().reshape(g, s * D).amax(1))
    return torch.stack(rows)


@pytest.mark.parametrize("kw", [{"latents_per_group": 0}, {"pattern": "LLL"}])
def test_without_global_layers_no_influence_across_groups(kw):
    influence = cross_group_jacobian(encoder(**kw), 16)
    off = influence[~torch.eye(4, dtype=torch.bool)]
    assert torch.all(off == 0)  # exactly zero, not small
    assert torch.all(influence.diagonal() > 1e-3)
    with_global = cross_group_jacobian(encoder(), 16)  # the same check fails with global layers
    assert torch.all(with_global[~torch.eye(4, dtype=torch.bool)] > 1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_group_permutation_equivariance(causal):
    enc = encoder(pattern="LLGLG", latents_per_group=3)
    x = torch.randn(2, 24, D, dtype=torch.float64)
    perm = torch.tensor([4, 0, 5, 2, 1, 3])
    tokens = (perm[:, None] * 4 + torch.arange(4)).flatten()
    latents = (perm[:, None] * 3 + torch.arange(3)).flatten()
    out, z = enc(x, return_latents=True)
    out_p, z_p = enc(x[:, tokens], return_latents=True)
    if causal:  # the causal variant orders its groups: permuting them must change the output
        enc_c = encoder(pattern="LLGLG", latents_per_group=3, causal=True)
        assert (enc_c(x[:, tokens]) - enc_c(x)[:, tokens]).abs().max() > 1e-6
        return
    assert (out_p - out[:, tokens]).abs().max() < 1e-12
    assert (z_p - z[:, latents]).abs().max() < 1e-12


def test_causal_variant_never_reads_the_future():
    enc = encoder(pattern="LGLGG", causal=True)
    x = torch.randn(2, 20, D, dtype=torch.float64)
    out = enc(x)
    for t in (0, 3, 4, 9, 13, 19):  # group starts, ends and middles
        y = x.clone()
        y[:, t] += torch.randn(2, D, dtype=torch.float64)
        changed = enc(y)
        assert torch.equal(changed[:, :t], out[:, :t]), t
        assert (changed[:, t] - out[:, t]).abs().max() > 1e-6
    bidirectional = encoder(pattern="LGLGG")
    y = x.clone()
    y[:, 19] += 1.0
    assert (bidirectional(y)[:, :4] - bidirectional(x)[:, :4]).abs().max() > 1e-6


def test_one_group_local_layers_are_a_plain_transformer():
    """One group (``group_size = T``) and no global layers: FIT is tinylm's blocks on the whole sequence."""
    enc = encoder(group_size=12, pattern="LLL")
    x = torch.randn(2, 12, D, dtype=torch.float64)
    want = x
    for lay in enc.blocks[0].local_layers:
        want = lay(want, AttentionMask(causal=False))
    assert torch.equal(enc(x), enc.norm(want))


def test_one_group_is_a_transformer_with_latent_cross_attention():
    """One group: ``LG`` is a transformer layer on x, L latents cross-attending to every token,
    self-attention among the L latents, every token cross-attending to every latent (Perceiver-style)."""
    enc = encoder(group_size=12, pattern="LG", latents_per_group=3)
    blk = enc.blocks[0]
    x = torch.randn(2, 12, D, dtype=torch.float64)
    full = AttentionMask(causal=False)
    h = blk.local_layers[0](x, full)
    z = enc.latents.expand(2, -1, -1)
    z = z + blk.read.attn(blk.read.norm(z), full, memory=blk.read.memory_norm(h))
    z = blk.global_layers[0](z, full)
    h = h + blk.write.attn(blk.write.norm(h), full, memory=blk.write.memory_norm(z))
    assert (enc(x) - enc.norm(h)).abs().max() < 1e-13


def test_zeroed_write_back_reduces_to_local_only():
    """With the write-back's output projection zeroed, FIT equals the local-only model with the same
    local weights (the latents then influence nothing)."""
    fit = encoder(pattern="LLGLG")
    local = encoder(pattern="LLGLG", latents_per_group=0)
    local.load_state_dict({k: v for k, v in fit.state_dict().items() if k != "latents"}, strict=False)
    x = torch.randn(2, 16, D, dtype=torch.float64)
    assert (fit(x) - local(x)).abs().max() > 1e-3
    with torch.no_grad():
        for block in fit.blocks:
            if len(block.global_layers):
                block.write.attn.o_proj.weight.zero_()
    assert torch.equal(fit(x), local(x))


def measured_attention_flops(enc: FITEncoder, x: torch.Tensor) -> int:
    """FLOPs of the attention products actually run: every kernel call's ``q`` ``[B, H, Tq, Dh]`` and
    ``k`` ``[B, H, Tk, Dh]`` give ``2 * 2 * B H Tq Tk Dh`` (``q k^T`` and ``p v``), read by forward hooks."""
    total = []

    def hook(module, args, out):
        q, k = args[0], args[1]
        total.append(4 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * q.shape[3])

    handles = [m.kernel.register_forward_hook(hook) for m in enc.modules() if hasattr(m, "kernel")]
    enc(x)
    for h in handles:
        h.remove()
    return sum(total)


@pytest.mark.parametrize(
    ("pattern", "latents", "causal"), [("LLGLG", 2, False), ("GLGG", 3, True), ("LL", 1, False)]
)
def test_flop_count_matches_the_attention_calls(pattern, latents, causal):
    enc = FITEncoder(
        d_model=D, n_heads=2, group_size=4, latents_per_group=latents, pattern=pattern, causal=causal
    )
    x = torch.randn(3, 32, D)
    assert measured_attention_flops(enc, x) == fit_attention_flops(32, 4, latents, pattern, d_attn=D, batch=3)


def test_attention_cost_grows_with_group_size_not_length():
    local = [fit_attention_pairs(t, 64, 2, "LLGLLG")["local"] for t in (1024, 2048, 4096)]
    assert local[1] == 2 * local[0] and local[2] == 2 * local[1]  # linear in T at fixed group size
    per_token = [fit_attention_pairs(4096, s, 2, "LLL")["local"] / 4096 for s in (32, 64)]
    assert per_token == [3 * 32, 3 * 64]  # per token: proportional to the group size
    dense = [dense_attention_flops(t, 6, 64) for t in (1024, 2048)]
    assert dense[1] == 4 * dense[0]
    fit, full = fit_attention_flops(4096, 64, 2, "LLGLLG", 64), dense_attention_flops(4096, 6, 64)
    assert fit * 40 < full  # at 4k tokens, groups of 64 with 2 latents: over 40x fewer attention FLOPs
