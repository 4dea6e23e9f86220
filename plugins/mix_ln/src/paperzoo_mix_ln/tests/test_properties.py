"""Exact properties: the layer selection, the reductions alpha=0 -> Pre-LN and alpha=1 -> Post-LN (the same
weights give bitwise the same logits), and the block forms written out by hand."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.hooks import capture
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_mix_ln.model import MixLNTransformer, mix_ln_placements, post_ln_count

SIZES = {"d_model": 16, "n_layers": 6, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32}


@pytest.mark.parametrize(
    "n_layers, alpha, expected",
    [
        (12, 0.25, 3),
        (24, 0.25, 6),
        (32, 0.25, 8),
        (10, 0.25, 2),
        (10, 0.3, 3),
        (7, 0.5, 3),
        (4, 0.0, 0),
        (4, 1.0, 4),
        (3, 0.34, 1),
    ],
)
def test_post_ln_count_is_floor_of_alpha_times_layers(n_layers, alpha, expected):
    assert post_ln_count(n_layers, alpha) == expected


def test_placements_put_post_ln_first():
    assert mix_ln_placements(8, 0.25) == ["post"] * 2 + ["pre"] * 6
    assert mix_ln_placements(8, n_post=5) == ["post"] * 5 + ["pre"] * 3  # n_post overrides alpha


def _ids() -> torch.Tensor:
    return torch.randint(64, (2, 8), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("alpha, placement", [(0.0, "pre"), (1.0, "post")])
def test_alpha_0_and_1_equal_pure_stacks_with_the_same_weights(alpha, placement):
    torch.manual_seed(0)
    mix = MixLNTransformer(alpha=alpha, **SIZES).eval()
    pure = TinyLMDecoder(**SIZES, norm_placement=placement).eval()
    pure.load_state_dict(mix.state_dict())  # strict: same names, and a final norm exactly when Pre-LN
    with torch.no_grad():
        assert torch.equal(mix(_ids()).logits, pure(_ids()).logits)


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def test_blocks_follow_the_post_then_pre_forms():
    """Read through tinylm's hook names: Post-LN blocks give ``norm(x + f(x))``, Pre-LN blocks
    ``x + f(...)`` with an unnormalised residual, and the head sees the final norm of the last block."""
    torch.manual_seed(1)
    model = MixLNTransformer(alpha=0.5, **SIZES).double().eval()
    with torch.no_grad():
        for p in model.parameters():  # non-trivial norm gains
            p.add_(0.1 * torch.randn_like(p))
        with capture(model, ["blocks.*", "final"]) as got:
            model(_ids())
    for i, block in enumerate(model.blocks):
        x, mid, out = (got[f"blocks.{i}.{n}"] for n in ("resid_pre", "resid_mid", "resid_post"))
        a, f = got[f"blocks.{i}.attn.out"], got[f"blocks.{i}.mlp.out"]
        if i < 3:  # floor(0.5 * 6) Post-LN blocks
            want_mid, want_out = _rms(x + a, block.attn_norm.weight), _rms(mid + f, block.ffn_norm.weight)
        else:
            want_mid, want_out = x + a, mid + f
        torch.testing.assert_close(mid, want_mid, rtol=0, atol=1e-13)
        torch.testing.assert_close(out, want_out, rtol=0, atol=1e-13)
    want_final = _rms(got["blocks.5.resid_post"], model.final_norm.weight)
    torch.testing.assert_close(got["final"], want_final, rtol=0, atol=1e-13)


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="alpha"):
        MixLNTransformer(alpha=1.5, **SIZES)
    with pytest.raises(ValueError, match="n_post"):
        MixLNTransformer(n_post=7, **SIZES)
    with pytest.raises(ValueError, match="norm_placement"):
        MixLNTransformer(norm_placement="pre", **SIZES)
