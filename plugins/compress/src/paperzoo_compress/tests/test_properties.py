"""Exact properties of the kit: quantiser grids, function-preserving folding and outlier planting,
calibration capture against forward hooks, and the trainer's resume."""

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_compress.calib import block_context, block_inputs, linear_inputs
from paperzoo_compress.fixture import plant_outliers
from paperzoo_compress.fold import scale_linear_into_linear, scale_norm_into_linears
from paperzoo_compress.linear import FakeQuantLinear, quantize_model
from paperzoo_compress.quant import check_quant_args, fake_quantize, quantize


def _model(**kw):
    torch.manual_seed(0)
    return TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, d_ff=64, vocab_size=50, **kw).double().eval()


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [False, True])
def test_each_group_has_at_most_2_to_the_b_values(bits, symmetric):
    w = torch.randn(16, 64, dtype=torch.float64)
    wq = fake_quantize(w, bits, 16, symmetric)
    for row in wq.reshape(-1, 16):
        assert row.unique().numel() <= 2**bits
    q, scale, zero = quantize(w, bits, 16, symmetric)
    assert torch.equal(q, q.round()) and q.min() >= (-(2 ** (bits - 1)) if symmetric else 0)


def test_asymmetric_closed_form_and_extremes():
    w = torch.tensor([[-1.0, 0.0, 0.5, 2.0]], dtype=torch.float64)
    wq = fake_quantize(w, 2, -1)  # scale = 3/3 = 1, zero = 1: grid {-1, 0, 1, 2}
    assert torch.equal(wq, torch.tensor([[-1.0, 0.0, 0.0, 2.0]], dtype=torch.float64))  # 0.5 rounds to even
    assert torch.equal(fake_quantize(torch.tensor([[3.0, -3.0]]), 3, -1, True), torch.tensor([[3.0, -3.0]]))


def test_error_bounded_by_half_a_step_and_16_bits_nearly_exact():
    w = torch.randn(8, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for gs in (-1, 0, 8):
        g = w.reshape(1, -1) if gs == 0 else (w if gs == -1 else w.reshape(-1, gs))
        lo, hi = g.amin(1, keepdim=True), g.amax(1, keepdim=True)
        step = (hi - lo) / 15
        err = (fake_quantize(w, 4, gs).reshape(g.shape) - g).abs()
        straddles = ((lo <= 0) & (hi >= 0)).squeeze(1)  # the grid holds 0 and spans [lo, hi] to step / 2
        assert straddles.any() and (err[straddles] <= step[straddles] / 2 + 1e-12).all()
    assert (fake_quantize(w, 16, 8) - w).abs().max() < 1e-3


def test_one_signed_group_clamps_zero_point_like_awq():
    """AWQ's ``zeros = (-round(min / scales)).clamp(0, 2^b - 1)``: a group of positive weights gets zero
    point 0, so its grid is ``{0, s, ..., 15 s}`` and values above ``15 s`` clip to it."""
    w = torch.tensor([[1.0, 2.0, 4.0, 16.0]], dtype=torch.float64)
    s = 15.0 / 15
    want = torch.tensor([[1.0, 2.0, 4.0, 15.0]], dtype=torch.float64) * s
    assert torch.equal(fake_quantize(w, 4, -1), want)


def test_fake_quant_linear_matches_functional():
    torch.manual_seed(0)
    lin = nn.Linear(16, 8).double()
    layer = FakeQuantLinear(lin, 4, 8)
    x = torch.randn(3, 16, dtype=torch.float64)
    want = x @ fake_quantize(lin.weight, 4, 8).T + lin.bias
    assert torch.equal(layer(x), want)
    q, s, z = layer.codes()
    q0, s0, z0 = quantize(lin.weight, 4, 8)
    assert torch.equal(q, q0) and torch.equal(s, s0) and torch.equal(z, z0)
    assert torch.equal(((q.reshape(-1, 8) - z) * s).reshape(8, 16), layer.weight)


def test_codes_of_one_signed_groups_keep_their_scale():
    """Re-quantising the stored weight would shrink a one-signed group's range; the stored scale keeps it."""
    lin = nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0, 4.0, 16.0]]))
    q, s, z = FakeQuantLinear(lin, 4, -1).codes()
    assert torch.equal(q, torch.tensor([[1.0, 2.0, 4.0, 15.0]], dtype=torch.float64))
    assert torch.equal(s, torch.tensor([[1.0]], dtype=torch.float64)) and torch.equal(
        z, torch.zeros(1, 1).double()
    )


def test_scale_folding_is_function_preserving():
    model = _model()
    ids = torch.randint(50, (2, 12))
    before = model(ids).logits
    g = torch.Generator().manual_seed(0)
    for block in model.blocks:
        scale_norm_into_linears(
            block.attn_norm,
            [block.attn.q_proj, block.attn.k_proj, block.attn.v_proj],
            torch.rand(32, generator=g, dtype=torch.float64) + 0.5,
        )
        scale_linear_into_linear(
            block.attn.v_proj, block.attn.o_proj, torch.rand(32, generator=g).double() + 0.5
        )
        scale_norm_into_linears(
            block.ffn_norm,
            [block.mlp.gate_proj, block.mlp.up_proj],
            torch.rand(32, generator=g, dtype=torch.float64) + 0.5,
        )
        scale_linear_into_linear(
            block.mlp.up_proj, block.mlp.down_proj, torch.rand(64, generator=g).double() + 0.5
        )
    assert (model(ids).logits - before).abs().max() < 1e-12


def test_planted_outliers_preserve_function_and_create_outliers():
    model = _model()
    ids = torch.randint(50, (2, 12))
    before = model(ids).logits
    x0 = linear_inputs(model.blocks[0], block_inputs(model, ids)[0])["attn.q_proj"].abs().mean((0, 1))
    plant_outliers(model, n_outliers=3, magnitude=25.0, seed=1)
    assert (model(ids).logits - before).abs().max() < 1e-12
    x1 = linear_inputs(model.blocks[0], block_inputs(model, ids)[0])["attn.q_proj"].abs().mean((0, 1))
    ratio = x1 / x0
    assert torch.allclose(ratio.sort().values, torch.tensor([1.0] * 29 + [25.0] * 3, dtype=torch.float64))


def test_linear_inputs_equal_forward_hooks():
    model = _model()
    ids = torch.randint(50, (3, 10))
    seen = {}
    hooks = [
        m.register_forward_hook(lambda m, a, o, n=n: seen.__setitem__(n, a[0]))
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and n.startswith("blocks.")
    ]
    points = block_inputs(model, ids)
    for h in hooks:
        h.remove()
    for i, block in enumerate(model.blocks):
        for name, x in linear_inputs(block, points[i]).items():
            assert torch.equal(x, seen[f"blocks.{i}.{name}"]), name


def test_quantize_model_replaces_block_linears_only():
    model = quantize_model(_model(), 4, 8, inplace=False)
    kinds = {n: type(m).__name__ for n, m in model.named_modules()}
    assert kinds["blocks.0.attn.q_proj"] == "FakeQuantLinear" and kinds["lm_head"] == "Linear"


def test_unsupported_models_refused():
    with pytest.raises(ValueError, match="norm_placement"):
        block_inputs(_model(norm_placement="post"), torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="group_size"):
        FakeQuantLinear(nn.Linear(12, 4), 4, 8)


def test_block_context_builds_positions_on_the_models_device():
    model = _model()
    ids = torch.randint(50, (1, 6))
    seen = {}
    hook = model.blocks[0].register_forward_pre_hook(lambda m, a: seen.update(rotary=a[2]))
    model(ids)
    hook.remove()
    _, rotary = block_context(model, 6, torch.float64)
    assert all(torch.equal(a, b) for a, b in zip(rotary, seen["rotary"]))
    meta = _model().to("meta")  # a model off the CPU: the caller passes no device
    _, (cos, sin) = block_context(meta, 6, torch.float32)
    assert cos.device == sin.device == meta.tok_embed.weight.device and cos.dtype == torch.float32


def test_bad_quant_args_name_the_param():
    with pytest.raises(ParamError) as err:
        check_quant_args(1, 8)
    assert err.value.param == "bits"
    with pytest.raises(ParamError) as err:
        check_quant_args(4, -2)
    assert err.value.param == "group_size"


def test_clip_ratio_shrinks_the_range_and_one_changes_nothing():
    w = torch.randn(12, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for gs in (-1, 8, 0):
        for sym in (False, True):
            assert torch.equal(fake_quantize(w, 4, gs, sym, clip_ratio=1.0), fake_quantize(w, 4, gs, sym))
    x = torch.tensor([[-1.0, 0.0, 1.0, 2.0]], dtype=torch.float64)
    # ratio 0.5: range [-0.5, 1.0], 2 bits: scale 0.5, zero 1, grid {-0.5, 0, 0.5, 1}; 2.0 clips to 1.0
    want = torch.tensor([[-0.5, 0.0, 1.0, 1.0]], dtype=torch.float64)
    assert torch.equal(fake_quantize(x, 2, -1, clip_ratio=0.5), want)
    with pytest.raises(ParamError, match="clip_ratio"):
        fake_quantize(x, 2, -1, clip_ratio=0.0)
