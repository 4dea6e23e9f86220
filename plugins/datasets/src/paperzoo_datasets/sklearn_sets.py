"""scikit-learn's bundled datasets (files inside the package)."""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle, split
from torch.utils.data import TensorDataset


def _bundle(
    x: torch.Tensor, y: torch.Tensor, name: str, val_fraction: float, seed: int, standardise: bool
) -> DataBundle:
    train_idx, val_idx = split(len(x), val_fraction, seed)
    if standardise:  # statistics of the training split only
        mean, std = x[train_idx].mean(0), x[train_idx].std(0).clamp_min(1e-8)
        x = (x - mean) / std
    return DataBundle(
        TensorDataset(x[train_idx], y[train_idx]),
        TensorDataset(x[val_idx], y[val_idx]),
        task="classification",
        num_classes=int(y.max()) + 1,
        input_shape=tuple(x.shape[1:]),
        name=name,
    )


def digits(val_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    """8x8 grey images with values 0..16, scaled to [0, 1] and shaped (1, 8, 8)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    return _bundle(x, torch.tensor(d.target), "digits", val_fraction, seed, standardise=False)


def _tabular(loader, name: str, val_fraction: float, seed: int) -> DataBundle:
    d = loader()
    x = torch.tensor(d.data, dtype=torch.float32)
    return _bundle(x, torch.tensor(d.target), name, val_fraction, seed, standardise=True)


def iris(val_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    from sklearn.datasets import load_iris

    return _tabular(load_iris, "iris", val_fraction, seed)


def wine(val_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    from sklearn.datasets import load_wine

    return _tabular(load_wine, "wine", val_fraction, seed)


def breast_cancer(val_fraction: float = 0.2, seed: int = 0) -> DataBundle:
    from sklearn.datasets import load_breast_cancer

    return _tabular(load_breast_cancer, "breast_cancer", val_fraction, seed)
