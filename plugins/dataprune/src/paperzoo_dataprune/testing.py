"""Small fixtures for tests of score-prune-retrain trainers (the kit's and the plugins' built on it):
a seeded three-class dataset and a run of a tiny MLP with a resettable SGD optimizer."""

from __future__ import annotations

import torch
from paperzoo.builtins.layers import MLP
from paperzoo.data import DataBundle
from paperzoo.trainer import Run
from torch.utils.data import TensorDataset


def tiny_bundle(n: int = 60, seed: int = 0) -> DataBundle:
    """``n`` examples of 5 Gaussian features with random labels of 3 classes; the first 12 also validate."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 5, generator=g), torch.randint(3, (n,), generator=g)
    return DataBundle(TensorDataset(x, y), TensorDataset(x[:12], y[:12]), "classification", num_classes=3)


def tiny_run(data: DataBundle, seed: int = 0) -> Run:
    """A 5-8-3 MLP seeded by ``seed``, SGD at 0.1, and ``make_optimizer`` for the retraining stage."""
    torch.manual_seed(seed)
    model = MLP(5, 3, [8])

    def make(params):
        return torch.optim.SGD(params, lr=0.1), None

    return Run(model=model, data=data, optimizer=make(model.parameters())[0], seed=seed, make_optimizer=make)
