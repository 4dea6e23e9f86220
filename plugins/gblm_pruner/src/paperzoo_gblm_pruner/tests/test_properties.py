"""Exact properties of GBLM-Pruner: the score against a hand computation, alpha = 0 is Wanda bitwise,
exact per-row sparsity, the l2 accumulation of per-sequence gradients, invariance to a function-preserving
rescaling of input channels, and parameter errors."""

import copy
import math

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_compress.fold import scale_norm_into_linears
from paperzoo_compress.linear import block_linears
from paperzoo_compress.prune_scores import magnitude_prune_, wanda_prune_, wanda_scores
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_gblm_pruner.gblm import check_alpha, gblm_prune_, gblm_scores, gradient_l2
from paperzoo_gblm_pruner.trainer import GBLMPrune


def _model(dtype=torch.float32, seed=0) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=16).to(dtype).eval()


def _ids(n=6, seed=1) -> torch.Tensor:
    return torch.randint(0, 256, (n, 16), generator=torch.Generator().manual_seed(seed))


def test_score_by_hand():
    w = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    norms = torch.tensor([2.0, 1.0])
    grad = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    # |W| ||X|| = [[2, 2], [6, 0.5]];  alpha sqrt(N) |W| G = 10 * 2 * [[0.1, 0.4], [0.9, 0.2]]
    want = torch.tensor([[4.0, 10.0], [24.0, 4.5]])
    assert torch.allclose(gblm_scores(w, norms, grad, alpha=10.0, n_samples=4), want, rtol=1e-6)


def test_alpha_zero_is_wanda_bitwise():
    w, norms, grad = torch.randn(5, 7), torch.rand(7), torch.rand(5, 7)
    assert torch.equal(gblm_scores(w, norms, grad, 0.0, 9), wanda_scores(w, norms))
    ids = _model(), _ids()
    a, b = _model(), _model()
    masks_gblm = gblm_prune_(a, ids[1], 0.5, alpha=0.0)
    masks_wanda = wanda_prune_(b, ids[1], 0.5)
    assert all(torch.equal(masks_gblm[k], masks_wanda[k]) for k in masks_wanda)
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("sparsity", [0.5, 0.3, 0.0])
def test_per_row_sparsity_is_exact(sparsity):
    model = _model()
    gblm_prune_(model, _ids(), sparsity, alpha=100.0)
    for name, linear in block_linears(model).items():
        zeros = (linear.weight == 0).sum(-1)
        assert (zeros == int(linear.in_features * sparsity)).all(), name


def test_gradient_l2_is_the_l2_norm_of_per_sequence_gradients():
    model, ids = _model(torch.float64), _ids(3)
    got = gradient_l2(model, ids)
    total = {k: torch.zeros_like(v) for k, v in got.items()}
    for row in ids:  # one ordinary backward per sequence
        model.zero_grad()
        logits = model(row[None]).logits[0, :-1]
        nn.functional.cross_entropy(logits, row[1:]).backward()
        for k, m in block_linears(model).items():
            total[k] += m.weight.grad.square()
    assert all(torch.allclose(got[k], total[k].sqrt(), rtol=1e-12, atol=0) for k in got)
    # n copies of one sequence: sqrt(n) times its gradient's magnitude (not n times, as a plain sum)
    one, four = gradient_l2(model, ids[:1]), gradient_l2(model, ids[:1].repeat(4, 1))
    assert all(torch.allclose(four[k], 2 * one[k], rtol=1e-12, atol=0) for k in one)


def _scale_norm_channels(model: TinyLMDecoder) -> None:
    """Function-preserving: each norm's gain times 30 on 4 channels, the reading Linears' columns / 30."""
    g = torch.Generator().manual_seed(0)
    for block in model.blocks:
        for norm, linears in (
            (block.attn_norm, [block.attn.q_proj, block.attn.k_proj, block.attn.v_proj]),
            (block.ffn_norm, [block.mlp.gate_proj, block.mlp.up_proj]),
        ):
            s = torch.ones(norm.weight.shape[0], dtype=norm.weight.dtype)
            s[torch.randperm(s.shape[0], generator=g)[:4]] = 30.0
            scale_norm_into_linears(norm, linears, 1 / s)


def test_masks_invariant_to_function_preserving_input_channel_rescaling():
    """Scaling input channels up and the weight columns that read them down leaves |W| ||X|| and |W| G
    unchanged (a column's gradient scales with its input): GBLM's masks do not move; magnitude's do.
    (Rescaling output rows is different: |W| ||X|| scales with the row, |W| G does not, so the balance of
    the two terms, and GBLM's mask, moves; Wanda's does not.)"""
    ids = _ids()
    plain, scaled = _model(torch.float64), _model(torch.float64)
    _scale_norm_channels(scaled)
    assert torch.allclose(plain(ids).logits, scaled(ids).logits, rtol=0, atol=1e-12)
    a, b = gblm_prune_(plain, ids, 0.5), gblm_prune_(scaled, ids, 0.5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain, scaled = _model(torch.float64), _model(torch.float64)
    _scale_norm_channels(scaled)
    a, b = magnitude_prune_(plain, 0.5), magnitude_prune_(scaled, 0.5)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_pruning_changes_only_pruned_weights():
    model = _model()
    before = copy.deepcopy(model)
    masks = gblm_prune_(model, _ids(), 0.5)
    for name, linear in block_linears(model).items():
        assert torch.equal(linear.weight, block_linears(before)[name].weight * masks[name])
    assert torch.equal(model.tok_embed.weight, before.tok_embed.weight)


@pytest.mark.parametrize("alpha", [-1.0, math.inf, math.nan, True, "1"])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        check_alpha(alpha)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": -0.1}, "sparsity"),
        ({"alpha": -1}, "alpha"),
        ({"alpha": math.inf}, "alpha"),
        ({"calib_batches": 0}, "calib_batches"),
        ({"eval_batches": 1.5}, "eval_batches"),
    ],
)
def test_trainer_parameter_errors(kw, name):
    with pytest.raises(ParamError, match=name):
        GBLMPrune(**kw)
