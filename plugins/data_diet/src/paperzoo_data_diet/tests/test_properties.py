"""Exact properties of the EL2N and GraNd scores and of the selection rule."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

from paperzoo_data_diet.evaluators import EL2N, GraNd
from paperzoo_data_diet.scores import el2n_from_logits, el2n_scores, grand_scores
from paperzoo_data_diet.trainer import select_kept, subset


def _classification(n=40, d=6, k=4, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, d, generator=g, dtype=dtype), torch.randint(k, (n,), generator=g))


def _max_rel_err(got, expected):
    return float(((got.double() - expected) / expected).abs().max())


def _loop_grad_norms(model, dataset):
    """One autograd backward pass per example: ||concat of every trainable parameter's gradient||_2."""
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    out = []
    for i in range(len(dataset)):
        x, y = dataset[i]
        loss = nn.functional.cross_entropy(model(x.unsqueeze(0)).float(), y.unsqueeze(0))
        grads = torch.autograd.grad(loss, params)
        out.append(torch.cat([g.reshape(-1) for g in grads]).double().norm())
    return torch.stack(out)


# -- EL2N ------------------------------------------------------------------------------------------
def test_el2n_equals_hand_formula():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(50, 7, generator=g, dtype=torch.float64)
    y = torch.randint(7, (50,), generator=g)
    expected = []
    for row, label in zip(logits.tolist(), y.tolist(), strict=True):
        m = max(row)
        e = [math.exp(v - m) for v in row]
        p = [v / sum(e) for v in e]
        expected.append(math.sqrt(sum((pk - (k == label)) ** 2 for k, pk in enumerate(p))))
    torch.testing.assert_close(
        el2n_from_logits(logits, y), torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12
    )


def test_el2n_closed_forms():
    k = 5
    uniform = el2n_from_logits(torch.zeros(3, k, dtype=torch.float64), torch.tensor([0, 2, 4]))
    # p = 1/K everywhere: (1 - 1/K)^2 + (K - 1)/K^2 = (K - 1)/K.
    torch.testing.assert_close(uniform, torch.full((3,), math.sqrt((k - 1) / k), dtype=torch.float64))
    y = torch.tensor([1, 3])
    confident_right = el2n_from_logits(100.0 * nn.functional.one_hot(y, k).double(), y)
    confident_wrong = el2n_from_logits(100.0 * nn.functional.one_hot(y, k).double(), torch.tensor([0, 0]))
    torch.testing.assert_close(confident_right, torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(confident_wrong, torch.full((2,), math.sqrt(2), dtype=torch.float64))


def test_el2n_scores_use_eval_mode_and_restore_it():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4)).train()
    ds = _classification()
    x, y = ds.tensors
    scores = el2n_scores(model, ds, batch_size=7)
    assert model.training
    model.eval()
    with torch.no_grad():
        expected = el2n_from_logits(model(x), y)
    torch.testing.assert_close(scores, expected, rtol=0, atol=0)


# -- GraNd -----------------------------------------------------------------------------------------
def test_grand_equals_per_example_loop_mlp(record_property):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    ds = _classification()
    # float32: batched and per-example matmuls sum in different orders (measured max rel. error ~1e-7).
    got, expected = grand_scores(model, ds, batch_size=16), _loop_grad_norms(model, ds)
    torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-7)
    record_property("max_rel_err_float32", _max_rel_err(got, expected))
    model.double()
    ds64 = _classification(dtype=torch.float64)
    # float64 (the loss itself is float32 in both paths, identically): measured ~2e-16.
    got, expected = grand_scores(model, ds64, batch_size=16), _loop_grad_norms(model, ds64)
    torch.testing.assert_close(got.double(), expected, rtol=1e-10, atol=0)
    record_property("max_rel_err_float64", _max_rel_err(got, expected))


def test_grand_equals_per_example_loop_conv_batchnorm_frozen(record_property):
    """Buffers (batch-norm running statistics, in eval mode) enter as constants, frozen parameters
    are left out of the norm, dropout is off."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    )
    with torch.no_grad():  # non-trivial running statistics
        model[1].running_mean.normal_()
        model[1].running_var.uniform_(0.5, 2.0)
    model[0].bias.requires_grad_(False)
    model.double().train()
    g = torch.Generator().manual_seed(1)
    ds = TensorDataset(
        torch.randn(24, 1, 8, 8, generator=g, dtype=torch.float64), torch.randint(10, (24,), generator=g)
    )
    got = grand_scores(model, ds, batch_size=10)
    assert model.training
    # float64 (measured ~2e-16); the loss is float32 in both paths, identically.
    expected = _loop_grad_norms(model, ds)
    torch.testing.assert_close(got.double(), expected, rtol=1e-10, atol=0)
    record_property("max_rel_err_float64", _max_rel_err(got, expected))
    with_frozen = _loop_grad_norms(model.requires_grad_(True), ds)
    assert (with_frozen - got).abs().max() > 1e-6  # the frozen bias really is left out


def test_grand_of_a_linear_softmax_model_closed_form():
    """For logits = W x + b, grad_W = (p - y) x^T and grad_b = p - y, so
    GraNd = ||p - y|| * sqrt(||x||^2 + 1) = EL2N * sqrt(||x||^2 + 1); with b frozen, EL2N * ||x||."""
    torch.manual_seed(0)
    model = nn.Linear(6, 4).double()
    ds = _classification(dtype=torch.float64)
    x, _ = ds.tensors
    el2n = el2n_scores(model, ds)
    # GraNd goes through the core's task loss, which is float32; EL2N here is float64 (measured 6e-8).
    torch.testing.assert_close(
        grand_scores(model, ds, batch_size=9).double(),
        el2n * (x.pow(2).sum(1) + 1).sqrt(),
        rtol=1e-6,
        atol=1e-7,
    )
    model.bias.requires_grad_(False)
    torch.testing.assert_close(grand_scores(model, ds).double(), el2n * x.norm(dim=1), rtol=1e-6, atol=1e-7)


def test_evaluators_summarise_the_per_example_scores():
    from paperzoo.data import DataBundle

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    data = DataBundle(_classification(), _classification(n=10, seed=1), "classification", num_classes=4)
    for evaluator, fn in ((EL2N(split="train"), el2n_scores), (GraNd(batch_size=5), grand_scores)):
        s = evaluator.scores(model, data)
        torch.testing.assert_close(s, fn(model, data.train))
        out = evaluator(model, data)
        assert out["mean"] == pytest.approx(float(s.double().mean()), rel=1e-12)
        assert out["std"] == pytest.approx(float(s.double().std()), rel=1e-12)
        assert out["max"] == pytest.approx(float(s.max()), rel=1e-6)
    assert len(EL2N(split="val").scores(model, data)) == 10


def test_el2n_rejects_regression():
    from paperzoo.data import DataBundle

    ds = TensorDataset(torch.randn(4, 3), torch.randn(4, 1))
    with pytest.raises(ValueError, match="classification"):
        EL2N().scores(nn.Linear(3, 1), DataBundle(ds, ds, "regression"))


# -- selection ---------------------------------------------------------------------------------------
def test_select_kept_keeps_the_highest_scores():
    scores = torch.tensor([0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0])
    assert select_kept(scores, 0.7).tolist() == [2, 4, 6]  # 0.9, 0.8, 0.7
    assert select_kept(scores, 0.0).tolist() == list(range(10))
    # offset 0.2 skips 0.9 and 0.8, then keeps the next three: 0.7, 0.6, 0.5
    assert select_kept(scores, 0.7, offset_fraction=0.2).tolist() == [0, 4, 8]
    with pytest.raises(ValueError):
        select_kept(scores, 0.5, offset_fraction=0.6)


def test_subset_of_a_subset_is_flattened():
    base = TensorDataset(torch.arange(10.0), torch.arange(10))
    inner = Subset(base, [9, 7, 5, 3, 1])
    outer = subset(inner, torch.tensor([0, 2, 4]))
    assert outer.dataset is base and list(outer.indices) == [9, 5, 1]
