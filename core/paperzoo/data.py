"""What a dataset component returns, and fast batching over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TASKS = ("classification", "regression", "language_modeling")


@dataclass
class DataBundle:
    """Train and validation splits of one dataset, and what a model needs to know about them.

    :param train: a ``torch.utils.data.Dataset`` of ``(input, target)`` pairs.
    :param val: the validation split, same form.
    :param task: ``classification``, ``regression`` or ``language_modeling``; picks the default loss.
    :param num_classes: classes, for classification.
    :param input_shape: shape of one input, e.g. ``(1, 8, 8)``.
    :param vocab_size: for language modelling.
    """

    train: Any
    val: Any
    task: str
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = None
    vocab_size: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")


def fetch(dataset: Any, indices: Any) -> tuple:
    """The batch of ``dataset`` at ``indices`` (a LongTensor).

    A ``TensorDataset`` (or a ``Subset`` of one) is indexed in one tensor op per field instead
    of collating item by item.
    """
    import torch
    from torch.utils.data import Subset, TensorDataset, default_collate

    if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset):
        base = torch.as_tensor(dataset.indices)
        return tuple(t[base[indices]] for t in dataset.dataset.tensors)
    if isinstance(dataset, TensorDataset):
        return tuple(t[indices] for t in dataset.tensors)
    return tuple(default_collate([dataset[int(i)] for i in indices]))


def spread_indices(n_total: int, n: int) -> Any:
    """``min(n, n_total)`` distinct indices spread evenly over ``range(n_total)``, first and last
    included (``n = 1``: the first only), as a LongTensor.

    Index ``i`` is ``i * (n_total - 1) / (k - 1)`` for ``k = min(n, n_total)``, rounded half to even in
    exact integer arithmetic (no float error for any size); the spacing is at least 1, so no index repeats.
    """
    import torch

    if n < 1 or n_total < 1:
        raise ValueError(f"need n >= 1 indices of n_total >= 1 items, got n={n}, n_total={n_total}")
    k = min(n, n_total)
    if k == 1:
        return torch.zeros(1, dtype=torch.long)
    num = torch.arange(k, dtype=torch.long) * (n_total - 1)
    q, r = num // (k - 1), num % (k - 1)
    up = (2 * r > k - 1) | ((2 * r == k - 1) & (q % 2 == 1))
    return q + up.long()


def batches(dataset: Any, batch_size: int):
    """Consecutive batches of ``dataset``, in order (evaluation)."""
    import torch

    n = len(dataset)
    for start in range(0, n, batch_size):
        yield fetch(dataset, torch.arange(start, min(start + batch_size, n)))


def split(n: int, val_fraction: float, seed: int) -> tuple[Any, Any]:
    """A deterministic shuffled train/validation split of ``range(n)``."""
    import torch

    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(n * val_fraction)))
    return perm[n_val:], perm[:n_val]
