"""Exact properties of the pruning scores: Wanda and the input norms against hand computations, exact
per-row and per-layer sparsity, tie-breaking, sequential calibration, invariances, argument errors."""

from __future__ import annotations

import copy

import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_compress.calib import block_inputs, linear_inputs
from paperzoo_compress.fold import scale_norm_into_linears
from paperzoo_compress.prune_scores import (
    block_input_norms,
    calib_input_norms,
    check_sparsity,
    input_norms,
    layer_prune_mask,
    magnitude_prune_,
    magnitude_scores,
    prune_count,
    prune_sequential_,
    row_prune_mask,
    wanda_prune_,
    wanda_scores,
)


def _model(dtype=torch.float32) -> TinyLMDecoder:
    torch.manual_seed(0)
    return TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=16).to(dtype).eval()


def _ids(n=6) -> torch.Tensor:
    return torch.randint(0, 256, (n, 16), generator=torch.Generator().manual_seed(1))


def test_input_norms_and_wanda_by_hand():
    x = torch.tensor([[[3.0, 0.0, 1.0], [4.0, 1.0, 1.0]], [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])  # [2, 2, 3]
    norms = input_norms(x)
    assert torch.equal(norms, torch.tensor([5.0, 1.0, 2.0]))  # sqrt(9+16), sqrt(1), sqrt(4 * 1)
    w = torch.tensor([[1.0, -2.0, 0.5], [-3.0, 4.0, -1.0]])
    assert torch.equal(wanda_scores(w, norms), torch.tensor([[5.0, 2.0, 1.0], [15.0, 4.0, 2.0]]))
    assert torch.equal(magnitude_scores(w), w.abs())
    with pytest.raises(ValueError, match="norms shape"):
        wanda_scores(w, norms[:2])


def test_row_mask_by_hand_and_ties():
    scores = torch.tensor([[5.0, 2.0, 1.0, 4.0], [1.0, 1.0, 1.0, 3.0]])
    keep = row_prune_mask(scores, 0.5)
    # row 0 prunes its two lowest (1, 2); row 1 has three equal lowest: the lower indices go first
    assert keep.tolist() == [[True, False, False, True], [False, False, True, True]]
    assert row_prune_mask(scores, 0.3).tolist() == [[True, True, False, True], [False, True, True, True]]


def test_layer_mask_by_hand():
    scores = torch.tensor([[5.0, 2.0, 1.0, 4.0], [0.5, 6.0, 3.0, 7.0]])
    keep = layer_prune_mask(scores, 0.5)  # the four lowest of the tensor: 0.5, 1, 2, 3
    assert keep.tolist() == [[True, False, False, True], [False, True, False, True]]


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.7, 0.99])
def test_exact_counts_and_order(sparsity):
    scores = torch.rand(9, 40, generator=torch.Generator().manual_seed(2))
    keep = row_prune_mask(scores, sparsity)
    assert torch.equal((~keep).sum(-1), torch.full((9,), int(40 * sparsity)))
    if 0 < sparsity:  # within each row every kept score >= every pruned one
        assert (
            scores.masked_fill(~keep, 2.0).min(-1).values >= scores.masked_fill(keep, -1.0).max(-1).values
        ).all()
    keep = layer_prune_mask(scores, sparsity)
    assert int((~keep).sum()) == int(360 * sparsity) == prune_count(360, sparsity)


@pytest.mark.parametrize("bad", [1.0, -0.1, True, "0.5", None])
def test_bad_sparsity(bad):
    with pytest.raises(ValueError, match="sparsity"):
        check_sparsity(bad)


def test_input_norms_equal_hooked_linear_inputs():
    model, ids = _model(), _ids()
    norms = calib_input_norms(model, ids, batch_size=4)  # two chunks, accumulated
    got = {}

    def hook(name):
        def record(_module, inputs, _output):
            got[name] = inputs[0].detach()

        return record

    hooks = [
        m.register_forward_hook(hook(name))
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and name.startswith("blocks.")
    ]
    with torch.no_grad():
        model(ids)
    for h in hooks:
        h.remove()
    assert norms.keys() == got.keys()
    for name, x in got.items():
        want = x.reshape(-1, x.shape[-1]).double().square().sum(0).sqrt()
        assert torch.allclose(norms[name].double(), want, rtol=1e-5), name


def test_calibration_is_sequential():
    """Block 1 is scored on the inputs of the model whose block 0 is already pruned (Wanda's order)."""
    model, ids = _model(), _ids()
    dense_norms = block_input_norms(model, ids, 1)
    pruned = copy.deepcopy(model)
    seen = {}

    def score(name, weight, norms):
        seen[name] = norms
        return wanda_scores(weight, norms)

    prune_sequential_(pruned, ids, score, 0.5)
    block0_only = copy.deepcopy(model)
    for name, m in block0_only.blocks[0].named_modules():
        if isinstance(m, torch.nn.Linear):
            m.weight.detach().mul_(row_prune_mask(wanda_scores(m.weight, seen[f"blocks.0.{name}"]), 0.5))
    want = block_input_norms(block0_only, ids, 1)
    for name in want:
        assert torch.equal(seen[name], want[name]), name
    assert not torch.allclose(seen["blocks.1.attn.q_proj"], dense_norms["blocks.1.attn.q_proj"])
    # and the points come from the kit's calibration capture
    assert set(linear_inputs(model.blocks[1], block_inputs(model, ids[:1])[1])) == {
        n.removeprefix("blocks.1.") for n in want
    }


def test_wanda_invariant_to_input_channel_rescaling_magnitude_not():
    ids = _ids()
    plain, scaled = _model(torch.float64), _model(torch.float64)
    g = torch.Generator().manual_seed(0)
    for block in scaled.blocks:
        for norm, lins in ((block.attn_norm, [block.attn.q_proj, block.attn.k_proj, block.attn.v_proj]),):
            s = torch.ones(32, dtype=torch.float64)
            s[torch.randperm(32, generator=g)[:4]] = 30.0
            scale_norm_into_linears(norm, lins, 1 / s)
    assert torch.allclose(plain(ids).logits, scaled(ids).logits, rtol=0, atol=1e-12)
    a, b = wanda_prune_(copy.deepcopy(plain), ids, 0.5), wanda_prune_(copy.deepcopy(scaled), ids, 0.5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    a, b = magnitude_prune_(plain, 0.5), magnitude_prune_(scaled, 0.5)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_magnitude_prune_per_layer_and_per_row():
    model = _model()
    weights = {
        n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
    }
    masks = magnitude_prune_(model, 0.5)
    for name, keep in masks.items():
        w = weights[name]
        assert int((~keep).sum()) == w.numel() // 2
        assert w.abs()[keep].min() >= w.abs()[~keep].max()
    assert "lm_head" not in masks and torch.equal(model.lm_head.weight, weights["lm_head"])
    rows = magnitude_prune_(_model(), 0.25, per="row")
    assert all(torch.equal((~k).sum(-1), torch.full((k.shape[0],), k.shape[1] // 4)) for k in rows.values())
    with pytest.raises(ValueError, match="per"):
        magnitude_prune_(_model(), 0.5, per="column")
