"""The paper's claims at small scale: an MLP (64-256-256-10, ReLU) on scikit-learn's digits, 3 seeds.

1. GG initialisation (beta = 1, Kaiming's variance) converges at least as fast as Kaiming normal: same
   data order, optimizer (SGD, momentum 0.9, lr 0.01, batch 64) and 300 steps; compared by the mean
   training loss of the first 100 steps (speed) and the test accuracy at the end.
2. DeepShape then magnitude pruning loses less accuracy than pruning alone: the Kaiming model is
   fine-tuned for 150 more steps with (strength 30) and without (compute-matched baseline) the DeepShape
   prior, then each weight tensor is pruned to 70 / 80 / 90 % sparsity by magnitude; accuracy lost is
   measured from the dense model before fine-tuning.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from paperzoo_gg_prior.deepshape import deepshape_penalty, fit_priors, shaped_weights
from paperzoo_gg_prior.init import gg_init_model_

SEEDS = (0, 1, 2)
SPARSITIES = (0.7, 0.8, 0.9)
STRENGTH = 30.0  # chosen from {1, 30, 300}: 1 changes nothing, 300 collapses the model to chance


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = torch.tensor(data.data, dtype=torch.float32), torch.tensor(data.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(123))
    train, test = perm[:1300], perm[1300:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-3
    return (x[train] - mean) / std, y[train], (x[test] - mean) / std, y[test]


def mlp(init: str, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if init == "kaiming":
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    else:
        gg_init_model_(model, beta=1.0, xi=2.0)
    return model


def train(model, data, steps: int, seed: int, strength: float = 0.0) -> list[float]:
    x, y = data[0], data[1]
    priors = fit_priors(shaped_weights(model)) if strength else []
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        losses.append(loss.item())
        if strength:
            loss = loss + strength * deepshape_penalty(shaped_weights(model), priors)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


@torch.no_grad()
def accuracy(model, data) -> float:
    return (model(data[2]).argmax(1) == data[3]).float().mean().item()


@torch.no_grad()
def pruned_accuracy(model, data, sparsity: float) -> float:
    pruned = copy.deepcopy(model)
    for w in shaped_weights(pruned):
        threshold = w.abs().reshape(-1).kthvalue(int(sparsity * w.numel())).values
        w.mul_(w.abs() > threshold)
    return accuracy(pruned, data)


@pytest.mark.claim
def test_gg_init_and_deepshape_pruning(record_property):
    data = digits()
    early = {"kaiming": [], "gg": []}
    final = {"kaiming": [], "gg": []}
    lost = {(kind, s): [] for kind in ("prune_only", "deepshape") for s in SPARSITIES}
    for seed in SEEDS:
        for init in ("kaiming", "gg"):
            model = mlp(init, seed)
            losses = train(model, data, 300, seed)
            early[init].append(sum(losses[:100]) / 100)
            final[init].append(accuracy(model, data))
            if init == "kaiming":
                dense = model
        dense_acc = final["kaiming"][-1]
        for kind, strength in (("prune_only", 0.0), ("deepshape", STRENGTH)):
            tuned = copy.deepcopy(dense)
            train(tuned, data, 150, seed + 100, strength)
            for s in SPARSITIES:
                lost[kind, s].append(dense_acc - pruned_accuracy(tuned, data, s))

    def mean(v):
        return sum(v) / len(v)

    record_property("early_loss_kaiming", round(mean(early["kaiming"]), 4))
    record_property("early_loss_gg", round(mean(early["gg"]), 4))
    record_property("acc_kaiming", round(mean(final["kaiming"]), 4))
    record_property("acc_gg", round(mean(final["gg"]), 4))
    for s in SPARSITIES:
        record_property(f"acc_lost_prune_only_{int(s * 100)}", round(mean(lost["prune_only", s]), 4))
        record_property(f"acc_lost_deepshape_{int(s * 100)}", round(mean(lost["deepshape", s]), 4))
    # 1. at least as fast (the mean early loss no higher, within 3 %) and as accurate (within 1 point)
    assert mean(early["gg"]) <= 1.03 * mean(early["kaiming"])
    assert mean(final["gg"]) >= mean(final["kaiming"]) - 0.01
    # 2. DeepShape loses less accuracy at every sparsity, on average and on every seed at 80 and 90 %
    for s in SPARSITIES:
        assert mean(lost["deepshape", s]) < mean(lost["prune_only", s])
    for s in (0.8, 0.9):
        assert all(d < p for d, p in zip(lost["deepshape", s], lost["prune_only", s], strict=True))
