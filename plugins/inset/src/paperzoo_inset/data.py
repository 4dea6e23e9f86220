"""A toy subset regression whose target depends on the subset relative to its superset.

Each ground set ``V`` holds ``n`` elements with values ``v_i = mu + u_i`` (``mu ~ N(0, 1)`` per set,
``u_i ~ U(-1, 1)``) and ``features - 1`` noise channels; a random non-empty subset ``S`` is marked in
the last channel. The target is ``max(v_S) - mean(v_V)``: the subset's best value relative to the
background. A model that sees only ``S`` can estimate ``mean(v_V)`` only from ``S`` itself.
"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle
from torch.utils.data import TensorDataset


def make_subsets(
    count: int, n: int = 10, features: int = 2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` ground sets ``(count, n, features + 1)`` (last channel: in ``S``) and targets ``(count, 1)``."""
    if features < 1 or n < 1:
        raise ValueError(f"need features >= 1 and n >= 1, got {features}, {n}")
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(count, 1, generator=g)
    v = mu + torch.rand(count, n, generator=g) * 2 - 1
    noise = torch.randn(count, n, features - 1, generator=g)
    s = torch.rand(count, n, generator=g) < 0.3
    first = torch.randint(n, (count,), generator=g)
    s[torch.arange(count), first] = True  # never empty
    x = torch.cat([v[..., None], noise, s.float()[..., None]], -1)
    y = v.masked_fill(~s, float("-inf")).amax(1, keepdim=True) - v.mean(1, keepdim=True)
    return x, y


def inset_relative_max(
    n_train: int = 4096, n_val: int = 1024, n: int = 10, features: int = 2, seed: int = 0
) -> DataBundle:
    """Ground sets of ``n`` elements; target ``max(v_S) - mean(v_V)``."""
    train = make_subsets(n_train, n, features, seed)
    val = make_subsets(n_val, n, features, seed + 10_000)
    return DataBundle(train=TensorDataset(*train), val=TensorDataset(*val), task="regression")
