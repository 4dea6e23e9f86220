"""Two disjoint synthetic tasks for one tiny ReLU MLP: the same Gaussian features ``x`` (16 dims) with a
task indicator (2 one-hot dims); task A's label is ``x0 * x1 > 0``, task B's ``x2 + x3 > 0`` (both in
{0, 1}, the same two logits). The MLP (18 -> 64 -> 64 -> 2, ReLU) is trained on the mixture with AdamW."""

from __future__ import annotations

import torch
from torch import nn

FEATURES, WIDTH = 16, 64


def task_data(task: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, FEATURES, generator=generator)
    onehot = torch.zeros(n, 2)
    onehot[:, task] = 1.0
    y = (x[:, 0] * x[:, 1] > 0) if task == 0 else (x[:, 2] + x[:, 3] > 0)
    return torch.cat([onehot, x], 1), y.long()


def make_model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(FEATURES + 2, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 2)
    )


def train(model: nn.Sequential, seed: int, steps: int = 600, batch: int = 128) -> float:
    """Train on both tasks (half a batch each); returns the final mean accuracy on fresh data."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        xa, ya = task_data(0, batch // 2, g)
        xb, yb = task_data(1, batch // 2, g)
        loss = nn.functional.cross_entropy(model(torch.cat([xa, xb])), torch.cat([ya, yb]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accs = [(model(x).argmax(-1) == y).float().mean() for x, y in (task_data(t, 2000, g) for t in (0, 1))]
    return float(sum(accs) / 2)
