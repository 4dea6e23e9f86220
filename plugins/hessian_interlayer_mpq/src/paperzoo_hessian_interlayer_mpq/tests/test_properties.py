"""Exact properties: Hutchinson on a diagonal Hessian, zero dependency for independent layers, the
bisection's minimality, weight restoration, and the trainer's configuration."""

from __future__ import annotations

import math

import pytest
import torch
from paperzoo.losses import task_loss

from paperzoo_hessian_interlayer_mpq.evaluator import kendall_tau
from paperzoo_hessian_interlayer_mpq.ptq import MixedPrecisionPTQ
from paperzoo_hessian_interlayer_mpq.search import bisect_min_k
from paperzoo_hessian_interlayer_mpq.sensitivity import (
    hutchinson_samples,
    layer_sensitivity,
    quant_layers,
    quantize_weight,
    quantized,
)
from paperzoo_hessian_interlayer_mpq.tests.helpers import F64, classification_batch, tiny_mlp


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    a = torch.tensor([[0.5, -2.0, 3.0], [1.0, 4.0, -0.25]], dtype=F64)
    b = torch.tensor([7.0, -1.5], dtype=F64)
    w = torch.randn(2, 3, dtype=F64, requires_grad=True)
    u = torch.randn(2, dtype=F64, requires_grad=True)

    def loss():  # Hessians diag(2a) and diag(2b)
        return (a * w**2).sum() + (b * u**2).sum() + (w.sum() * 3.0)

    samples = hutchinson_samples(loss, [w, u], 5, torch.Generator().manual_seed(0))
    expected = torch.tensor([2 * a.sum(), 2 * b.sum()], dtype=F64)
    assert torch.allclose(samples, expected.expand(5, 2), rtol=0, atol=1e-12)  # v_j^2 = 1: each draw exact


def test_dependency_is_zero_for_layers_that_do_not_interact():
    torch.manual_seed(0)

    class TwoBranches(torch.nn.Module):  # output = [f1(x1), f2(x2)]: the MSE splits into two sums
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(3, 2, dtype=F64), torch.nn.Linear(3, 2, dtype=F64)

        def forward(self, x):
            return torch.cat([self.a(x[:, :3]), self.b(x[:, 3:])], dim=1)

    x, y = torch.randn(16, 6, dtype=F64), torch.randn(16, 4, dtype=F64)
    s = layer_sensitivity(TwoBranches(), [(x, y)], "regression", low_bits=2, n_samples=2)
    assert max(abs(d) for d in s.dependency) < 1e-12
    assert min(abs(v) for v in s.single) > 1e-4  # each layer's quantisation does change the loss
    ctx = layer_sensitivity(
        TwoBranches(), [(x, y)], "regression", low_bits=2, n_samples=2, dependency="context"
    )
    assert max(abs(d) for d in ctx.dependency) < 1e-12


def test_dependency_is_the_pair_interaction_for_two_layers():
    model = tiny_mlp(1)
    x, y = classification_batch(1)
    s = layer_sensitivity(model, [(x, y)], "classification", low_bits=2, n_samples=2)
    layers = quant_layers(model)
    base = task_loss(model(x), y, "classification").item()
    with quantized(layers, {"0": 2, "2": 2}):
        both = task_loss(model(x), y, "classification").item() - base
    inter = both - s.single[0] - s.single[1]
    assert abs(inter) > 1e-6
    assert s.dependency == pytest.approx([inter / 2, inter / 2], abs=1e-12)


@pytest.mark.parametrize("n", range(0, 9))
def test_bisection_returns_the_least_passing_k_with_few_evaluations(n):
    for threshold in range(0, n + 2):  # ok(k) = k >= threshold; threshold n + 1: never met
        seen: list[int] = []

        def ok(k: int, threshold: int = threshold, seen: list[int] = seen) -> bool:
            seen.append(k)
            return k >= threshold

        k, met, tried = bisect_min_k(ok, n)
        brute = next((j for j in range(n + 1) if j >= threshold), None)
        assert met == (brute is not None)
        assert k == (brute if met else n)
        assert seen == tried and len(tried) <= math.ceil(math.log2(n + 1)) + 1


def test_quantized_restores_the_weights_bitwise():
    model = tiny_mlp(2)
    layers = quant_layers(model)
    before = {n: m.weight.clone() for n, m in layers.items()}
    with quantized(layers, {"0": 2, "2": 3}):
        assert not torch.equal(layers["0"].weight, before["0"])
        assert layers["0"].weight.unique().numel() <= 4 * layers["0"].weight.shape[0]
    assert all(torch.equal(layers[n].weight, before[n]) for n in layers)
    assert torch.equal(quantize_weight(before["0"], 16), before["0"])


def test_conv_weights_quantise_per_output_channel():
    w = torch.randn(4, 3, 3, 3, dtype=F64)
    q = quantize_weight(w, 2)
    assert q.shape == w.shape
    assert all(q[i].unique().numel() <= 4 for i in range(4))


def test_kendall_tau_closed_forms():
    assert kendall_tau(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert kendall_tau(["a", "b", "c"], ["c", "b", "a"]) == -1.0
    assert kendall_tau(["a", "b", "c"], ["b", "a", "c"]) == pytest.approx(1 / 3)


def _trainer(**kw):
    return MixedPrecisionPTQ(n_samples=2, progress=False, **kw)


def test_trainer_with_a_loose_tolerance_quantises_every_layer_low():
    model = tiny_mlp(3, (5, 8, 8, 3))
    calib = [classification_batch(3)]
    report = _trainer(tolerance=1.0, metric="loss", low_bits=2).quantize(model, calib, "classification")
    assert report["high_precision_layers"] == 0 and report["tolerance_met"]
    assert report["avg_weight_bits"] == 2
    assert all(m.weight.unique().numel() <= 4 * m.weight.shape[0] for m in quant_layers(model).values())


def test_trainer_with_zero_tolerance_and_float_high_keeps_a_passing_prefix():
    model = tiny_mlp(4, (5, 8, 8, 3))
    calib = [classification_batch(4)]
    ref = task_loss(model(calib[0][0]), calib[0][1], "classification").item()
    report = _trainer(tolerance=0.0, metric="loss", low_bits=2, high_bits=16).quantize(
        model, calib, "classification"
    )
    assert report["tolerance_met"]
    after = task_loss(model(calib[0][0]), calib[0][1], "classification").item()
    assert after <= ref + 1e-12


@pytest.mark.parametrize(
    "params",
    [
        {"low_bits": 8, "high_bits": 4},
        {"low_bits": 1},
        {"dependency": "all"},
        {"tolerance": -0.1},
        {"exclude": "x"},
    ],
)
def test_bad_parameters_are_refused(params):
    with pytest.raises(ValueError):
        _trainer(**params)
