"""The paper's claim at small scale: at an equal bit budget, keeping the top-k layers of the augmented
ranking (Hessian + inter-layer dependency) at 8 bits and the rest at 2 bits gives a lower validation loss
than keeping the top-k of the Hessian-only ranking. A 6-layer ReLU MLP on scikit-learn's digits, head
kept in float (every quantised layer is 48x48 or 64x48, so equal k is an equal bit budget up to the
first layer's 64 inputs), mean validation loss over k = 1..4, 3 seeds."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from paperzoo_hessian_interlayer_mpq.sensitivity import layer_sensitivity, mean_loss, quant_layers, quantized

LOW, HIGH, WIDTH, STEPS = 2, 8, 48, 400


def _trained(seed: int):
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    tr, va = perm[:1300], perm[1300:]
    torch.manual_seed(seed)
    mods: list[torch.nn.Module] = [torch.nn.Linear(64, WIDTH), torch.nn.ReLU()]
    for _ in range(4):
        mods += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods, torch.nn.Linear(WIDTH, 10))
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(STEPS):
        idx = tr[torch.randint(0, len(tr), (64,), generator=g)]
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), [(x[tr[:512]], y[tr[:512]])], [(x[va], y[va])]


def _frontier(model, calib, val, seed):
    head = str(len(model) - 1)
    s = layer_sensitivity(model, calib, "classification", LOW, 32, [head], "pairwise", seed)
    layers = quant_layers(model, [head])
    out = {}
    for kind in ("hessian", "augmented"):
        order = s.ranking(kind)
        losses = []
        for k in range(1, len(order)):
            with quantized(layers, {n: (HIGH if i < k else LOW) for i, n in enumerate(order)}):
                losses.append(mean_loss(model, val, "classification"))
        out[kind] = sum(losses) / len(losses)
    return out


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: mean W2/W8 validation loss over k=1..4, augmented vs Hessian-only "
    "ranking, seeds 0/1/2: 0.2527 vs 0.2563, 0.4476 vs 0.4265, 0.3598 vs 0.3783 (better on 2 seeds, worse on 1)",
)
def test_augmented_ranking_beats_hessian_only_at_equal_budget(record_property):
    wins = []
    for seed in range(3):
        res = _frontier(*_trained(seed), seed)
        record_property(f"val_loss_hessian_seed{seed}", round(res["hessian"], 4))
        record_property(f"val_loss_augmented_seed{seed}", round(res["augmented"], 4))
        wins.append(res["augmented"] < res["hessian"])
    assert all(wins)
