"""A toy set regression whose target depends on a few informative elements.

Each element has ``features`` channels: a flag (1: informative, 0: distractor), a value ``v`` and
``features - 2`` noise channels; then the mask channel (1: a real element, 0: padding). A set holds
``n`` elements (drawn from ``sizes``), of which ``k`` (1 to ``min(3, n)``) are informative. The target is
the mean value of the informative elements. Distractor values come from a wider range, so a pooling
that does not single out the informative elements must divide by the fraction of them, a quantity that
shrinks outside the trained range as sets grow.
"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle
from torch.utils.data import TensorDataset


def make_sets(
    count: int, sizes: tuple[int, ...], features: int = 4, max_size: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` padded sets ``(count, max_size, features + 1)`` and targets ``(count, 1)``."""
    if features < 2:
        raise ValueError(f"features must be at least 2 (flag and value), got {features}")
    g = torch.Generator().manual_seed(seed)
    width = max_size or max(sizes)
    n = torch.tensor(sizes)[torch.randint(len(sizes), (count,), generator=g)]
    k = 1 + (torch.rand(count, generator=g) * n.clamp(max=3)).long()
    pos = torch.arange(width)
    valid = pos[None] < n[:, None]
    flag = pos[None] < k[:, None]
    value = torch.where(
        flag, torch.rand(count, width, generator=g) * 2 - 1, torch.rand(count, width, generator=g) * 6 - 3
    )
    noise = torch.randn(count, width, features - 2, generator=g)
    x = torch.cat([flag.float()[..., None], value[..., None], noise, valid.float()[..., None]], -1)
    x = x * valid.float()[..., None]
    # shuffle the real elements among themselves (padding stays last; the models are order-invariant)
    order = torch.argsort(torch.where(valid, torch.rand(count, width, generator=g), 2.0), dim=1)
    x = torch.gather(x, 1, order[..., None].expand_as(x))
    y = (value * flag).sum(1, keepdim=True) / k[:, None].float()
    return x, y


def attsets_informative_mean(
    n_train: int = 4096,
    n_val: int = 1024,
    min_size: int = 1,
    max_size: int = 8,
    val_size: int | None = None,
    features: int = 4,
    seed: int = 0,
) -> DataBundle:
    """Train on set sizes ``min_size..max_size``; validate on the same sizes, or on sets of exactly
    ``val_size`` elements (a size outside the trained range tests robustness to the set size)."""
    if not 1 <= min_size <= max_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    sizes = tuple(range(min_size, max_size + 1))
    width = max(max_size, val_size or 0)
    train = make_sets(n_train, sizes, features, width, seed)
    val = make_sets(n_val, (val_size,) if val_size else sizes, features, width, seed + 10_000)
    return DataBundle(train=TensorDataset(*train), val=TensorDataset(*val), task="regression")
