"""Parity: the vectorised FIT (groups as a batch dimension, latents as one sequence) against a dense
reference over the full sequence with explicit block-diagonal / block-causal masks (no package
implements FIT)."""

from __future__ import annotations

import pytest
import torch

from paperzoo_fit.encoder import FITEncoder
from paperzoo_fit.tests.reference import attend, dense_fit

CASES = [
    ("LLGLG", 3, False, "sdpa"),
    ("LGGL", 2, False, "eager"),
    ("LLGLG", 3, True, "sdpa"),
    ("GLLG", 1, True, "eager"),
]


@pytest.mark.parametrize(("pattern", "latents", "causal", "impl"), CASES)
def test_encoder_equals_dense_masked_reference(pattern, latents, causal, impl, record_property):
    torch.manual_seed(0)
    enc = FITEncoder(
        d_model=16,
        n_heads=2,
        group_size=5,
        latents_per_group=latents,
        pattern=pattern,
        causal=causal,
        attn_impl=impl,
        init_std=0.3,
    ).double()
    x = torch.randn(3, 20, 16, dtype=torch.float64)
    got, got_z = enc(x, return_latents=True)
    want, want_z = dense_fit(enc, x, return_latents=True)
    err = max((got - want).abs().max().item(), (got_z - want_z).abs().max().item())
    record_property(f"max_abs_diff_float64_{pattern}_{'causal' if causal else 'bidir'}", err)
    assert got.abs().max() > 0.1  # a meaningful output, not a vanishing one
    assert err < 1e-12


def test_local_layer_equals_block_diagonal_full_attention(record_property):
    """One local attention sublayer through the vectorised path equals full-sequence attention with a
    block-diagonal mask (and differs from unmasked attention: the mask matters)."""
    torch.manual_seed(1)
    enc = FITEncoder(
        d_model=16, n_heads=4, group_size=4, latents_per_group=0, pattern="L", init_std=0.3
    ).double()
    attn = enc.blocks[0].local_layers[0].attn
    x = torch.randn(2, 24, 16, dtype=torch.float64)
    from paperzoo_fit.block import BIDIRECTIONAL, from_groups, to_groups

    got = from_groups(attn(to_groups(x, 6), BIDIRECTIONAL), 6)
    group = torch.arange(24) // 4
    want = attend(attn, x, x, group[:, None] == group[None, :])
    full = attend(attn, x, x, torch.ones(24, 24, dtype=torch.bool))
    err = (got - want).abs().max().item()
    record_property("local_vs_block_diagonal_float64", err)
    assert err < 1e-13
    assert (got - full).abs().max() > 1e-3
