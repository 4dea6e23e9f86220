"""Exact properties of the Peri-LN block: reduction to Pre-LN, the bound on each residual increment, its
invariance to the scale of a sublayer's output, and equality with a tinylm model's block."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.hooks import capture
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_peri_ln.layer import NormPlacementBlock, PeriLNBlock

D, HEADS = 16, 2


def _x(scale: float = 1.0, dtype=torch.float64) -> torch.Tensor:
    return scale * torch.randn(3, 7, D, generator=torch.Generator().manual_seed(0), dtype=dtype)


def _random_gains(block: torch.nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for name, p in block.named_parameters():
        if "norm" in name:
            p.data = torch.randn(p.shape, generator=g, dtype=p.dtype) * 2.0


def test_identity_output_norm_is_pre_ln_exactly():
    torch.manual_seed(0)
    pre = NormPlacementBlock(D, HEADS, placement="pre")
    peri = PeriLNBlock(D, HEADS, output_norm="identity")
    _random_gains(pre)
    peri.load_state_dict(pre.state_dict(), strict=True)  # the identity output norms have no weights
    x = _x(dtype=torch.float32)
    assert torch.equal(peri(x), pre(x))
    torch.manual_seed(0)
    assert not torch.equal(PeriLNBlock(D, HEADS)(x), pre(x))  # the output norms do change it


def test_peri_block_is_the_placement_block_with_peri():
    torch.manual_seed(0)
    a = PeriLNBlock(D, HEADS)
    torch.manual_seed(0)
    b = NormPlacementBlock(D, HEADS, placement="peri")
    x = _x(dtype=torch.float32)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("placement", ["pre", "post", "peri"])
def test_block_equals_a_tinylm_models_block(placement):
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=D, n_layers=2, n_heads=HEADS, vocab_size=32, norm_placement=placement)
    block = NormPlacementBlock(D, HEADS, placement=placement)
    block.load_state_dict({k[9:]: v for k, v in model.state_dict().items() if k.startswith("blocks.1.")})
    ids = torch.randint(32, (2, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad(), capture(model, ["blocks.1.resid_pre", "blocks.1.resid_post"]) as got:
        model(ids)
        out = block(got["blocks.1.resid_pre"])
    assert torch.equal(out, got["blocks.1.resid_post"])


@pytest.mark.parametrize("norm", ["rms_norm", "layer_norm"])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_residual_increment_is_bounded_by_the_output_gain(norm, scale):
    """``rms(Norm_out(y)) <= max|gain|`` per token, whatever the stream's scale (RMSNorm and bias-free
    LayerNorm both give a unit-RMS vector before the gain)."""
    torch.manual_seed(0)
    block = PeriLNBlock(D, HEADS, norm=norm).double()
    _random_gains(block)
    with torch.no_grad():
        block.mlp.down_proj.weight.mul_(100.0)  # large sublayer outputs: the output norm removes their scale
    with torch.no_grad(), capture(block, ["resid_pre", "resid_mid", "resid_post"]) as got:
        block(_x(scale))
    pairs = [("resid_pre", "resid_mid", block.attn_out_norm), ("resid_mid", "resid_post", block.ffn_out_norm)]
    for before, after, out_norm in pairs:
        inc = got[after] - got[before]
        rms = inc.pow(2).mean(-1).sqrt()
        bound = float(out_norm.weight.detach().abs().max())
        assert float(rms.max()) <= bound * (1 + 1e-9) + 1e-12 * scale  # the subtraction's rounding
        assert float(rms.max()) > 0.3 * bound  # not vacuous


def test_unit_gain_makes_every_increment_unit_rms():
    torch.manual_seed(0)
    block = PeriLNBlock(D, HEADS, norm_eps=0.0).double()
    with torch.no_grad(), capture(block, ["attn.out", "resid_pre", "resid_mid"]) as got:
        block(_x(50.0))
    inc = got["resid_mid"] - got["resid_pre"]
    assert torch.allclose(inc.pow(2).mean(-1).sqrt(), torch.ones(3, 7, dtype=torch.float64), atol=1e-10)
    assert float(got["attn.out"].pow(2).mean(-1).sqrt().max()) < 0.5  # the raw sublayer output was not


def test_peri_is_invariant_to_the_scale_of_sublayer_outputs_pre_is_not():
    x = _x()
    outs = {}
    for placement in ("peri", "pre"):
        torch.manual_seed(0)
        block = NormPlacementBlock(D, HEADS, placement=placement, norm_eps=0.0).double()
        before = block(x).detach()
        with torch.no_grad():
            block.attn.o_proj.weight.mul_(1000.0)
            block.mlp.down_proj.weight.mul_(1000.0)
        outs[placement] = (before, block(x).detach())
    assert torch.allclose(*outs["peri"], rtol=1e-12, atol=1e-12)
    assert float((outs["pre"][1] - outs["pre"][0]).abs().max()) > 1.0


def test_post_ln_output_has_unit_rms():
    torch.manual_seed(0)
    block = NormPlacementBlock(D, HEADS, placement="post", norm_eps=0.0).double()
    y = block(_x(7.0))
    assert torch.allclose(y.pow(2).mean(-1).sqrt(), torch.ones(3, 7, dtype=torch.float64), atol=1e-12)


def test_bidirectional_block_sees_later_tokens_causal_does_not():
    x = _x(dtype=torch.float32)
    x2 = x.clone()
    x2[:, -1] += 1.0
    for causal in (True, False):
        torch.manual_seed(0)
        block = PeriLNBlock(D, HEADS, causal=causal)
        changed = not torch.equal(block(x)[:, :-1], block(x2)[:, :-1])
        assert changed is (not causal)


def test_rejects_an_unknown_placement():
    with pytest.raises(ValueError, match="placement"):
        NormPlacementBlock(D, HEADS, placement="middle")
