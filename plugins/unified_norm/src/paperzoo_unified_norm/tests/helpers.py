"""The closed-form inputs of the golden fixture (data/un_golden.json describes them)."""

from __future__ import annotations

import torch

B, N, C = 3, 5, 6


def golden_inputs(t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and output gradient of iteration ``t`` (float64)."""
    i = torch.arange(B * N * C, dtype=torch.float64).reshape(B, N, C)
    channel = torch.arange(C, dtype=torch.float64)
    x = torch.sin(0.37 * i + 0.11 * t) * (1.0 + 0.5 * torch.cos(0.05 * t + 0.3 * channel))
    g = torch.cos(0.23 * i - 0.07 * t)
    return x, g
