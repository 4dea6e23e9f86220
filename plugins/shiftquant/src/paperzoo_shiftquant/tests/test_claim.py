"""The paper's headline claim at small scale: 4-bit integer training (ShiftQuant weights, activations
and gradients) ends close to FP32, and ShiftQuant estimates gradients better than one per-tensor
scale. An MLP (64-128-128-128-10) on scikit-learn's digits, SGD with momentum, 30 epochs, 3 seeds; the
two 4-bit runs differ only in the gradient quantiser (same forward quantisation, same steps)."""

from __future__ import annotations

import functools

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from paperzoo_shiftquant.convert import convert
from paperzoo_shiftquant.quant import per_tensor_quantize, shiftquant

SEEDS = (0, 1, 2)
EPOCHS, BATCH, LR = 30, 128, 0.1
MODES = ("fp32", "shiftquant", "per_tensor")


def digits() -> tuple[torch.Tensor, ...]:
    d = load_digits()
    x, y = torch.tensor(d.data, dtype=torch.float32) / 16, torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]


def mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )  # fmt: skip


def train(seed: int, mode: str) -> float:
    """Test accuracy after training; ``mode`` is fp32 or the gradient quantiser of a 4-bit run."""
    xtr, ytr, xte, yte = digits()
    torch.manual_seed(seed)
    model = mlp()
    if mode != "fp32":
        convert(model, bits=4, num_groups=8, grad_quant=mode, grad_rounding="stochastic")
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(xtr)).split(BATCH):
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return (model(xte).argmax(1) == yte).float().mean().item()


@functools.cache
def results() -> dict[str, float]:
    """Mean test accuracy (percent) over the seeds, per mode (computed once for the tests below)."""
    return {mode: 100 * sum(train(s, mode) for s in SEEDS) / len(SEEDS) for mode in MODES}


@pytest.mark.claim
def test_4bit_shiftquant_training_is_within_two_points_of_fp32(record_property):
    acc = results()
    for mode, value in acc.items():
        record_property(f"acc_{mode}", round(value, 2))
    assert acc["shiftquant"] >= acc["fp32"] - 2.0


@pytest.mark.claim
def test_shiftquant_gradients_are_more_accurate_than_per_tensor(record_property):
    """Relative squared error of the 4-bit quantised (stochastic rounding) output gradients of every
    Linear of a briefly FP32-trained model on one training batch, summed over 20 draws per layer."""
    xtr, ytr, _, _ = digits()
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    for _ in range(5):
        for idx in torch.randperm(len(xtr)).split(BATCH):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    grads: list[torch.Tensor] = []
    hooks = [
        m.register_full_backward_hook(lambda m, gi, go: grads.append(go[0]))
        for m in model
        if isinstance(m, nn.Linear)
    ]
    nn.functional.cross_entropy(model(xtr[:BATCH].requires_grad_()), ytr[:BATCH]).backward()
    for h in hooks:
        h.remove()
    err = {"shiftquant": 0.0, "per_tensor": 0.0}
    for g in grads:
        for _ in range(20):
            err["shiftquant"] += (
                (shiftquant(g, 4, 8, rounding="stochastic") - g).square().sum() / g.square().sum()
            ).item()
            err["per_tensor"] += (
                (per_tensor_quantize(g, 4, rounding="stochastic") - g).square().sum() / g.square().sum()
            ).item()
    ratio = err["shiftquant"] / err["per_tensor"]
    record_property("grad_rel_error_ratio_shiftquant_over_per_tensor", round(ratio, 4))
    assert ratio < 0.75  # measured 0.50: a clear reduction, with room for platform differences


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: naive per-tensor 4-bit gradients (stochastic rounding is "
    "unbiased) reach the same digits accuracy as ShiftQuant (96.6% vs 96.7%, 3 seeds); the paper's "
    "gap shows on ResNets/Transformers on ImageNet-scale data",
)
def test_per_tensor_gradients_degrade_training_more(record_property):
    acc = results()
    record_property("acc_gap_shiftquant_minus_per_tensor", round(acc["shiftquant"] - acc["per_tensor"], 2))
    assert acc["per_tensor"] <= acc["shiftquant"] - 0.5
