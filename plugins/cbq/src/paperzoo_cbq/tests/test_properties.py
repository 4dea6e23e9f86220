"""Exact properties: offsets in [0, 1] and hardened weights on the grid; LoRA-Rounding at initialisation
is round-to-nearest; window 1 is a per-block reconstruction loop (bitwise); CFP's activation scaling
preserves the function; the window layout; parameter errors."""

import copy

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_compress.calib import block_context, block_inputs
from paperzoo_compress.quant import fake_quantize, quant_params
from torch import nn

from paperzoo_cbq.cfp import cfp_
from paperzoo_cbq.reconstruct import (
    CBQConfig,
    block_seed,
    cbq_quantize_,
    reconstruct_window,
    run_blocks,
    set_hard_,
    unwrap_block_,
    window_seed,
    window_starts,
    wrap_block_,
)
from paperzoo_cbq.rounding import LoRARoundingLinear, rounding_regularizer
from paperzoo_cbq.tests.helpers import tiny_decoder, tiny_ids
from paperzoo_cbq.trainer import CBQQuantize


def _linear(out=12, inp=16, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Linear(inp, out).to(dtype)


@pytest.mark.parametrize("bits,group", [(2, 8), (3, -1), (4, 0)])
def test_offsets_in_unit_interval_and_hard_weights_on_grid(bits, group):
    m = LoRARoundingLinear(_linear(), bits, group, rank=3)
    with torch.no_grad():  # far from the initialisation: offsets saturate at both ends
        m.lora_a.normal_(0, 3.0)
        m.lora_b.normal_(0, 3.0)
    h = m.offsets()
    assert h.min() >= 0 and h.max() <= 1 and (h == 0).any() and (h == 1).any()
    q = m.codes(hard=True)
    assert torch.equal(q, torch.round(q)) and q.min() >= 0 and q.max() <= 2**bits - 1
    w = m.quantized_weight(hard=True)
    scale, zero = quant_params(m.weight, bits, group)
    g = w.reshape(scale.shape[0], -1)
    assert torch.allclose(g / scale + zero, torch.round(g / scale + zero), atol=1e-9, rtol=0)
    assert all(len(torch.unique(row)) <= 2**bits for row in g)


@pytest.mark.parametrize("bits,group", [(2, 8), (3, -1), (4, 4)])
def test_initial_hard_rounding_is_round_to_nearest(bits, group):
    linear = _linear(seed=1)
    m = LoRARoundingLinear(linear, bits, group, rank=4, generator=torch.Generator().manual_seed(0))
    scale, _ = quant_params(linear.weight, bits, group)
    frac = torch.frac(linear.weight.detach().reshape(scale.shape[0], -1) / scale).abs()
    assert not torch.isclose(frac, torch.full_like(frac, 0.5)).any()  # no exact ties in this weight
    assert torch.equal(m.quantized_weight(hard=True), fake_quantize(linear.weight.detach(), bits, group))
    x = torch.randn(5, 16, dtype=torch.float64)
    m.soft = False
    assert torch.equal(
        m(x), nn.functional.linear(x, fake_quantize(linear.weight.detach(), bits, group), linear.bias)
    )


def test_initial_soft_weight_is_the_float_weight_inside_the_grid():
    linear = _linear(seed=2)
    m = LoRARoundingLinear(linear, 4, -1)
    soft = m.quantized_weight(hard=False)
    codes = m.codes(hard=False)
    inside = (codes > 0) & (codes < 15)
    assert inside.float().mean() > 0.9
    assert torch.allclose(soft[inside], linear.weight.detach()[inside], atol=1e-12, rtol=0)


def test_regularizer_vanishes_exactly_on_binary_offsets():
    assert rounding_regularizer(torch.tensor([0.0, 1.0, 1.0, 0.0]), 2.0) == 0
    assert rounding_regularizer(torch.tensor([0.5]), 2.0) == 1
    assert torch.isclose(rounding_regularizer(torch.tensor([0.75]), 2.0), torch.tensor(0.75))


def test_window_layout():
    assert window_starts(4, 1, 0) == [0, 1, 2, 3]
    assert window_starts(4, 2, 1) == [0, 1, 2]
    assert window_starts(4, 2, 0) == [0, 2]
    assert window_starts(5, 3, 1) == [0, 2]
    assert window_starts(4, 3, 0) == [0, 1]
    with pytest.raises(ValueError):
        window_starts(4, 2, 2)


def _per_block_loop(model, ids, cfg):
    """Block-wise reconstruction written out: quantise block i on the outputs of the quantised blocks
    before it, against the float block output, then harden it."""
    points = block_inputs(copy.deepcopy(model), ids)
    mask, rotary = block_context(model, ids.shape[1], torch.float32)
    float_blocks = copy.deepcopy(model.blocks)
    x = points[0]["resid_pre"]
    for i, block in enumerate(model.blocks):
        for p in block.parameters():
            p.requires_grad_(False)
        wrap_block_(block, cfg, block_seed(cfg.seed, i))
        with torch.no_grad():
            homologous = run_blocks([float_blocks[i]], x, mask, rotary)
        reconstruct_window(
            [block], x, points[i]["resid_post"], homologous, mask, rotary, cfg, window_seed(cfg.seed, i)
        )
        set_hard_(block)
        with torch.no_grad():
            x = block(x, mask, rotary)
        unwrap_block_(block)
    return model


def test_window_one_is_blockwise_reconstruction_bitwise():
    cfg = CBQConfig(bits=3, group_size=8, window=1, overlap=0, steps=6, lr=5e-2, rank=2, cfp=False)
    model, ids = tiny_decoder(), tiny_ids()
    ours = copy.deepcopy(model)
    cbq_quantize_(ours, ids, cfg)
    loop = _per_block_loop(copy.deepcopy(model), ids, cfg)
    for (name, a), (_, b) in zip(ours.named_parameters(), loop.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    rtn = copy.deepcopy(model)
    moved = [
        not torch.equal(a, fake_quantize(b, 3, 8))
        for a, b in zip(ours.blocks.parameters(), rtn.blocks.parameters())
        if a.dim() == 2
    ]
    assert any(moved)  # the reconstruction changed some rounding away from round-to-nearest


def test_cbq_output_weights_have_at_most_2_pow_b_levels_per_group():
    model = tiny_decoder(n_layers=2)
    cbq_quantize_(model, tiny_ids(), CBQConfig(bits=2, group_size=8, window=2, overlap=1, steps=4, rank=2))
    for name, p in model.blocks.named_parameters():
        if p.dim() == 2:
            assert all(len(torch.unique(g)) <= 4 for g in p.detach().reshape(-1, 8)), name


def test_cfp_activation_scaling_preserves_the_function():
    model = tiny_decoder(dtype=torch.float64)
    with torch.no_grad():  # plant an outlier channel in every norm's output
        for block in model.blocks:
            block.attn_norm.weight[3] *= 40
            block.ffn_norm.weight[5] *= 40
    ids = tiny_ids()
    before = model(ids).logits
    report = cfp_(model, ids, weights=False)
    assert (
        report.scaled_channels["blocks.0.attn_norm"] >= 1 and report.scaled_channels["blocks.0.ffn_norm"] >= 1
    )
    assert torch.allclose(model(ids).logits, before, atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    "kw,path",
    [({"window": 2, "overlap": 2}, "overlap"), ({"symmetric": True}, "symmetric"), ({"window": 0}, "window")],
)
def test_bad_params_name_their_path(kw, path):
    with pytest.raises(ParamError) as e:
        CBQQuantize(**kw)
    assert path in str(e.value)
