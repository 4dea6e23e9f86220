"""Small models and data shared by the tests."""

from __future__ import annotations

import torch

F64 = torch.float64


def tiny_mlp(seed: int = 0, sizes: tuple[int, ...] = (5, 4, 3), dtype=F64) -> torch.nn.Sequential:
    """``Linear -> Tanh -> Linear ...`` (smooth, so its Hessian has off-diagonal terms)."""
    torch.manual_seed(seed)
    mods: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods)


def classification_batch(seed: int = 0, n: int = 32, d: int = 5, classes: int = 3, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, classes, (n,), generator=g)
