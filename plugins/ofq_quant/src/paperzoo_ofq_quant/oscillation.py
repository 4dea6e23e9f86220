"""The oscillation counter of OFQ (the official ``TrackOscillation`` without its freezing part): a
weight *oscillates* at a step when its integer level moves opposite to the direction of its previous
move (e.g. 0 -> 1 -> 0)."""

from __future__ import annotations

import torch


class OscillationTracker:
    """Counts oscillations of an integer-level tensor over successive steps.

    :param momentum: EMA momentum of the per-weight oscillation frequency (official 0.01).
    """

    def __init__(self, momentum: float = 0.01):
        self.momentum = momentum
        self.prev_int: torch.Tensor | None = None
        self.prev_dir: torch.Tensor | None = None
        self.ema: torch.Tensor | None = None
        self.total: torch.Tensor | None = None
        self.steps = 0  # updates after the first (the first only initialises)

    @torch.no_grad()
    def update(self, x_int: torch.Tensor) -> torch.Tensor:
        """Record the levels of one step; returns this step's boolean oscillation mask."""
        if self.prev_int is None:
            self.prev_int = x_int.clone()
            self.prev_dir = torch.zeros_like(x_int)
            self.ema = torch.zeros_like(x_int)
            self.total = torch.zeros_like(x_int)
        delta = torch.round(self.prev_int - x_int)
        direction = torch.sign(delta)
        switched = delta != 0
        oscillated = (self.prev_dir * direction) == -1
        self.ema = self.momentum * oscillated + (1 - self.momentum) * self.ema
        self.prev_dir[switched] = direction[switched]
        self.prev_int = x_int.clone()
        self.total += oscillated
        self.steps += 1
        return oscillated

    def frequency(self) -> float:
        """Mean oscillations per weight per step so far."""
        if self.total is None or self.steps == 0:
            return 0.0
        return float(self.total.sum()) / (self.total.numel() * self.steps)

    def reset_counts(self) -> None:
        """Zero the counts (keeps the last levels and directions, so counting continues seamlessly)."""
        if self.total is not None:
            self.total.zero_()
        self.steps = 0
