"""Function fitting for the claim test: a [2, width, 1] KAN on f(x, y) = exp(sin(pi x) + y^2)."""

from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo_selectable_kan.layer import SKANLinear

SINGLE = ("bspline", "rbf", "chebyshev", "fourier")


def target(xy: torch.Tensor) -> torch.Tensor:
    """``exp(sin(pi x) + y^2)`` of ``(N, 2)`` points, as ``(N, 1)``."""
    return torch.exp(torch.sin(math.pi * xy[:, :1]) + xy[:, 1:] ** 2)


def make_data(seed: int, n_train: int = 500, n_test: int = 500) -> tuple[torch.Tensor, ...]:
    """Uniform points on ``[-1, 1]^2`` and their targets (train, then test)."""
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(n_train + n_test, 2, generator=g) * 2 - 1
    ys = target(xs)
    return xs[:n_train], ys[:n_train], xs[n_train:], ys[n_train:]


def make_model(spaces: tuple[str, ...], width: int) -> nn.Sequential:
    """A two-layer KAN ``[2, width, 1]`` over the pool ``spaces`` (one name: a single-basis KAN)."""
    return nn.Sequential(SKANLinear(2, width, spaces=spaces), SKANLinear(width, 1, spaces=spaces))


def n_params(model: nn.Module) -> int:
    """Trainable parameters (an S-KAN's selection logits included)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def mse_on_test(model: nn.Module, data: tuple[torch.Tensor, ...]) -> float:
    """Mean squared error on the test split."""
    with torch.no_grad():
        return float(torch.mean((model(data[2]) - data[3]) ** 2))


def fit(
    model: nn.Sequential, data: tuple[torch.Tensor, ...], steps: int, select_at: int | None = None
) -> tuple[float, float]:
    """Full-batch Adam on MSE for ``steps`` steps; at step ``select_at`` every S-KAN layer keeps each
    node's highest-weight space (the paper's selection stage). Returns the test MSE just before the
    selection (the trained mixture; nan without selection) and at the end."""
    x, y = data[0], data[1]
    before = float("nan")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for step in range(steps):
        if step == select_at:
            before = mse_on_test(model, data)
            for layer in model:
                layer.select_(1)
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
        sched.step()
    return before, mse_on_test(model, data)
