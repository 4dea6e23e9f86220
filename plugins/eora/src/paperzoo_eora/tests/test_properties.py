"""Exact properties of EoRA's closed form, the compensated layer and the model-level pass, in float64."""

from __future__ import annotations

import copy

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_compress.fixture import plant_outliers
from paperzoo_compress.ptq import rtn_quantize_
from paperzoo_compress.quant import fake_quantize
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_eora.compensate import eora_compensate_
from paperzoo_eora.eigen import eigen_scaling, eora_factors, gram, optimal_error, svd_factors, weighted_error
from paperzoo_eora.layer import EoRALinear
from paperzoo_eora.trainer import EoRACompensation

F64 = torch.float64


def _problem(out_f: int = 12, in_f: int = 16, tokens: int = 64, seed: int = 0):
    """A 3-bit error ``dW`` and inputs ``x`` ``[tokens, in]`` with unequal channel scales."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(out_f, in_f, generator=g, dtype=F64)
    scales = torch.exp(2 * torch.randn(in_f, generator=g, dtype=F64))
    x = torch.randn(tokens, in_f, generator=g, dtype=F64) * scales
    return w - fake_quantize(w, 3, -1), x


@pytest.mark.parametrize("shape", [(12, 16), (16, 12)])
def test_full_rank_recovers_the_error(shape):
    delta, x = _problem(*shape)
    b, a = eora_factors(delta, gram(x), min(shape))
    torch.testing.assert_close(b @ a, delta, rtol=0, atol=1e-12)  # |dW| < 1: float64 rounding
    assert weighted_error(delta - b @ a, gram(x)) < 1e-10 * weighted_error(delta, gram(x))


@pytest.mark.parametrize("rank", [1, 4, 8])
def test_rank_r_error_is_the_closed_form_optimum_and_beats_svd(rank):
    delta, x = _problem()
    h = gram(x)
    b, a = eora_factors(delta, h, rank)
    got = weighted_error(delta - b @ a, h)
    direct = float(torch.linalg.matrix_norm((delta - b @ a) @ x.T))  # ||(dW - BA) X||_F from the tokens
    assert got == pytest.approx(optimal_error(delta, h, rank), rel=1e-10)
    assert got == pytest.approx(direct, rel=1e-10)
    sb, sa = svd_factors(delta, rank)
    assert got < weighted_error(delta - sb @ sa, h)
    g = torch.Generator().manual_seed(1)  # no nearby rank-r factorisation does better
    for _ in range(5):
        pb = b + 1e-3 * torch.randn(b.shape, generator=g, dtype=F64)
        pa = a + 1e-3 * torch.randn(a.shape, generator=g, dtype=F64)
        assert weighted_error(delta - pb @ pa, h) > got


def test_identity_gram_is_plain_svd():
    delta, _ = _problem()
    b, a = eora_factors(delta, torch.eye(16, dtype=F64), 5)
    sb, sa = svd_factors(delta, 5)
    torch.testing.assert_close(b @ a, sb @ sa, rtol=0, atol=1e-12)


def test_invariant_to_the_scale_of_the_inputs():
    delta, x = _problem()
    b, a = eora_factors(delta, gram(x), 4)
    b2, a2 = eora_factors(delta, gram(1e3 * x), 4)
    torch.testing.assert_close(b2 @ a2, b @ a, rtol=0, atol=1e-11)


def test_rank_deficient_inputs_are_guarded():
    delta, x = _problem(tokens=6)  # X X^T has rank 6 of 16: zero and negative round-off eigenvalues
    h = gram(x)
    b, a = eora_factors(delta, h, 4)
    assert torch.isfinite(b).all() and torch.isfinite(a).all()
    sb, sa = svd_factors(delta, 4)
    assert weighted_error(delta - b @ a, h) < weighted_error(delta - sb @ sa, h)
    with pytest.raises(ValueError, match="rank"):
        eora_factors(delta, h, 13)


def test_layer_is_base_at_init_and_base_plus_low_rank_after():
    torch.manual_seed(0)
    base = torch.nn.Linear(16, 12, dtype=F64)
    layer = EoRALinear(base, rank=4)
    x = torch.randn(5, 16, dtype=F64)
    assert torch.equal(layer(x), base(x))
    delta, xs = _problem()
    layer.compensate_(delta, gram(xs))
    b, a = eora_factors(delta, gram(xs), 4)
    expected = x @ (base.weight + b @ a).T + base.bias
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-12)
    with torch.no_grad():  # the in-place inference path
        torch.testing.assert_close(layer(x[None]), expected[None], rtol=0, atol=1e-12)


def _model():
    torch.manual_seed(0)
    m = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, d_ff=64, vocab_size=50).double().eval()
    return plant_outliers(m, 2, 20.0, seed=0)


def test_no_compensation_is_rtn_and_merge_matches_the_two_path_layers():
    model, ids = _model(), torch.randint(50, (4, 24), generator=torch.Generator().manual_seed(0))
    rtn, none = copy.deepcopy(model), copy.deepcopy(model)
    rtn_quantize_(rtn, 3, 16)
    eora_compensate_(none, ids, bits=3, group_size=16, method="none", merge=True)
    assert all(torch.equal(p, q) for p, q in zip(rtn.parameters(), none.parameters()))
    merged, layers = copy.deepcopy(model), copy.deepcopy(model)
    r1 = eora_compensate_(merged, ids, rank=4, bits=3, group_size=16, compression="prune+quant", merge=True)
    r2 = eora_compensate_(layers, ids, rank=4, bits=3, group_size=16, compression="prune+quant")
    assert isinstance(layers.blocks[1].mlp.down_proj, EoRALinear)
    torch.testing.assert_close(merged(ids).logits, layers(ids).logits, rtol=0, atol=1e-10)
    assert r1.errors.keys() == r2.errors.keys()
    flat = [(v, r2.errors[k][i]) for k, e in r1.errors.items() for i, v in enumerate(e)]
    assert all(a == pytest.approx(b, rel=1e-9) for a, b in flat)
    assert all(after < before for before, after in r2.errors.values())
    base = layers.blocks[0].mlp.up_proj.base  # 2:4 pattern survives quantisation (zero is on the grid)
    assert ((base.weight != 0).reshape(64, -1, 4).sum(-1) <= 2).all()


def test_eora_beats_svd_on_calibration_inputs_of_every_linear():
    model, ids = _model(), torch.randint(50, (4, 24), generator=torch.Generator().manual_seed(0))
    eig = eora_compensate_(copy.deepcopy(model), ids, rank=4, bits=3, method="eigen")
    svd = eora_compensate_(copy.deepcopy(model), ids, rank=4, bits=3, method="svd")
    assert eig.relative_error() < svd.relative_error() < 1.0
    # block 0 sees identical inputs under both, so its Linears compare one by one
    for name, (before, after) in eig.errors.items():
        if name.startswith("blocks.0."):
            assert before == pytest.approx(svd.errors[name][0], rel=1e-12)
            assert after <= svd.errors[name][1] * (1 + 1e-12)


@pytest.mark.parametrize(
    "kw", [{"rank": 0}, {"compression": "2:8"}, {"method": "lora"}, {"eig_floor": -1.0}, {"bits": 1}]
)
def test_trainer_rejects_bad_params(kw):
    with pytest.raises(ParamError):
        EoRACompensation(**kw)


def test_floor_zero_is_the_official_guard():
    """Non-positive eigenvalues take the smallest positive one: ``Q' Q'^T = Q diag(2, 2, 5) Q^T``."""
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=F64))
    h = q @ torch.diag(torch.tensor([-1e-3, 2.0, 5.0], dtype=F64)) @ q.T
    q_scale, q_inv = eigen_scaling(h, floor=0.0)
    expected = q @ torch.diag(torch.tensor([2.0, 2.0, 5.0], dtype=F64)) @ q.T
    torch.testing.assert_close(q_scale @ q_scale.T, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(q_inv @ q_scale, torch.eye(3, dtype=F64), rtol=0, atol=1e-12)


def test_rank_above_min_features_recovers_the_float_model():
    model, ids = _model(), torch.randint(50, (4, 24), generator=torch.Generator().manual_seed(0))
    full = copy.deepcopy(model)
    report = eora_compensate_(full, ids, rank=1000, bits=3, group_size=16, merge=True)
    assert report.relative_error() < 1e-9
    torch.testing.assert_close(full(ids).logits, model(ids).logits, rtol=0, atol=1e-8)
