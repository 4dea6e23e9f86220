"""The adding problem (Hochreiter and Schmidhuber, 1997; in the form of Le, Jaitly and Hinton, 2015):
a long-range memory task for recurrent networks.

Each input is a sequence of ``seq_len`` steps of two features: a value drawn uniformly from [0, 1],
and a marker that is 1 at exactly two steps (one in the first half, one in the second) and 0
elsewhere. The target is the sum of the two marked values, shape ``(1,)``. Predicting the mean, 1,
gives a mean squared error of 1/6.
"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle, split
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset


def adding_examples(n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` inputs ``(n, seq_len, 2)`` and their targets ``(n, 1)``."""
    half = seq_len // 2
    values = torch.rand(n, seq_len, generator=generator)
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, seq_len, (n,), generator=generator)
    markers = torch.zeros(n, seq_len)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values * markers).sum(dim=1, keepdim=True)
    return torch.stack([values, markers], dim=2), targets


def adding_problem(
    seq_len: int = 50, n_samples: int = 10000, val_fraction: float = 0.1, seed: int = 0
) -> DataBundle:
    """The adding problem as a regression dataset (see the module docstring); deterministic per seed.

    :param seq_len: steps per sequence (at least 2).
    :param n_samples: sequences in both splits together.
    :param val_fraction: fraction held out for validation.
    :param seed: seed of the generator and of the split.
    """
    if seq_len < 2:
        raise ParamError("seq_len", f"got {seq_len}; accepted: at least 2 (two marked steps)")
    if n_samples < 2:
        raise ParamError("n_samples", f"got {n_samples}; accepted: at least 2 (one per split)")
    if not 0.0 < val_fraction < 1.0:
        raise ParamError("val_fraction", f"got {val_fraction}; accepted: strictly between 0 and 1")
    if max(1, round(n_samples * val_fraction)) >= n_samples:
        raise ParamError("val_fraction", f"{val_fraction} of {n_samples} samples leaves no training split")
    x, y = adding_examples(n_samples, seq_len, torch.Generator().manual_seed(seed))
    train_idx, val_idx = split(n_samples, val_fraction, seed)
    return DataBundle(
        TensorDataset(x[train_idx], y[train_idx]),
        TensorDataset(x[val_idx], y[val_idx]),
        task="regression",
        input_shape=(seq_len, 2),
        name="adding_problem",
    )
