"""Exact properties: block 1 is Pre-LN, the factor is exactly 1/sqrt(l), it folds into the norm gains,
no parameter is added, and only Pre-LN is accepted."""

import math

import pytest
import torch
from paperzoo_tinylm.hooks import capture
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_layernorm_scaling.model import (
    LayerNormScalingDecoder,
    LayerNormScalingNorm,
    apply_layernorm_scaling,
    depth_scale,
)

_CFG = {"d_model": 16, "n_layers": 5, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32}


def _pair(**extra):
    torch.manual_seed(0)
    pre = TinyLMDecoder(**_CFG, **extra).double().eval()
    with torch.no_grad():
        for name, p in pre.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.5 * torch.randn_like(p))
    scaled = apply_layernorm_scaling(TinyLMDecoder(**_CFG, **extra).double().eval())
    scaled.load_state_dict({_wrapped(k): v for k, v in pre.state_dict().items()})
    return pre, scaled


def _wrapped(key: str) -> str:
    for name in ("attn_norm", "ffn_norm"):
        key = key.replace(f".{name}.", f".{name}.base.")
    return key


def _ids():
    return torch.randint(64, (2, 9), generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("norm", ["rms_norm", "layer_norm"])
@torch.no_grad()
def test_block_one_is_pre_ln_bitwise(norm):
    pre, scaled = _pair(norm=norm)
    with capture(pre, ["blocks.0.resid_post"]) as a, capture(scaled, ["blocks.0.resid_post"]) as b:
        pre(_ids())
        scaled(_ids())
    assert torch.equal(a["blocks.0.resid_post"], b["blocks.0.resid_post"])
    out_pre, out_scaled = pre(_ids()).logits, scaled(_ids()).logits
    assert not torch.allclose(out_pre, out_scaled, atol=1e-6)  # deeper blocks do differ


@pytest.mark.parametrize("norm", ["rms_norm", "layer_norm"])
@torch.no_grad()
def test_equals_pre_ln_with_gains_divided_by_sqrt_depth(norm):
    """For an affine norm, norm(x) / sqrt(l) is the same norm with gain (and bias) divided by sqrt(l):
    a Pre-LN model so rescaled is the scaled model (float64, within rounding)."""
    pre, scaled = _pair(norm=norm, bias=norm == "layer_norm")
    with torch.no_grad():
        for i, block in enumerate(pre.blocks):
            for p in list(block.attn_norm.parameters()) + list(block.ffn_norm.parameters()):
                p.div_(math.sqrt(i + 1))
    a, b = pre(_ids(), output_hidden_states=True), scaled(_ids(), output_hidden_states=True)
    for x, y in zip(a.hidden_states, b.hidden_states, strict=True):
        assert (x - y).abs().max().item() < 1e-12
    assert (a.logits - b.logits).abs().max().item() < 1e-12


@torch.no_grad()
def test_sublayer_input_scaled_exactly():
    """The attention and ffn sublayers of block l see exactly the Pre-LN norm output times 1/sqrt(l)."""
    pre, scaled = _pair()
    seen = {}
    for i, block in enumerate(scaled.blocks):
        for sub in ("attn", "mlp"):
            getattr(block, sub).register_forward_pre_hook(
                lambda m, args, key=(i, sub): seen.__setitem__(key, args[0].clone())
            )
    # the Pre-LN model's norms (same weights) applied to the scaled model's own block inputs
    with capture(scaled, ["blocks.*.resid_pre", "blocks.*.resid_mid"]) as got:
        scaled(_ids())
    for i, block in enumerate(pre.blocks):
        factor = torch.tensor(1.0 / math.sqrt(i + 1), dtype=torch.float64)
        expect_attn = block.attn_norm(got[f"blocks.{i}.resid_pre"]) * factor
        expect_mlp = block.ffn_norm(got[f"blocks.{i}.resid_mid"]) * factor
        assert torch.equal(seen[(i, "attn")], expect_attn)
        assert torch.equal(seen[(i, "mlp")], expect_mlp)


def test_no_parameters_added():
    torch.manual_seed(0)
    pre, scaled = TinyLMDecoder(**_CFG), LayerNormScalingDecoder(**_CFG)
    assert sum(p.numel() for p in pre.parameters()) == sum(p.numel() for p in scaled.parameters())
    assert [n.replace(".base", "") for n, _ in scaled.named_parameters()] == [
        n for n, _ in pre.named_parameters()
    ]


def test_depths_and_final_norm():
    model = LayerNormScalingDecoder(**_CFG)
    assert [b.attn_norm.depth for b in model.blocks] == [1, 2, 3, 4, 5]
    # the official code's factor, 1 / math.sqrt(layer_index + 1) with a 0-based index
    assert [b.ffn_norm.scale for b in model.blocks] == [1 / math.sqrt(i + 1) for i in range(5)]
    assert not isinstance(model.final_norm, LayerNormScalingNorm)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_depth_rejected(bad):
    with pytest.raises(ValueError, match="depth"):
        depth_scale(bad)


@pytest.mark.parametrize("placement", ["post", "peri", ["pre", "post", "pre", "pre", "pre"]])
def test_only_pre_ln(placement):
    with pytest.raises(ValueError, match="norm_placement"):
        LayerNormScalingDecoder(**_CFG, norm_placement=placement)


def test_cached_decoding_matches_full_forward():
    torch.manual_seed(0)
    model = LayerNormScalingDecoder(**_CFG).double().eval()
    ids = _ids()
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :5], use_cache=True)
        step = model(ids[:, 5:], past_key_values=out.past_key_values, use_cache=True).logits
    assert (step - full[:, 5:]).abs().max().item() < 1e-12
