"""Sparsity schedules of gradual magnitude pruning and the average parameter count they imply.

Steps are counted as optimizer steps completed: the forward pass of step ``k`` (``k = 0 .. T-1``) runs
with the mask set after ``k`` steps. With ``t0 = round(start_fraction T)`` and ``t1 = round(end_fraction
T)``, the cubic schedule of Zhu & Gupta (2017) that the paper uses is

    s(t) = 0                                          t < t0
    s(t) = s_f (1 - (1 - (t - t0) / (t1 - t0))^3)     t0 <= t < t1
    s(t) = s_f                                        t >= t1

and masks are recomputed at ``t0, t0 + every, ...`` and at ``t1`` (``every = 1``: at every step), the
sparsity holding between updates. ``geometric`` is the schedule of the authors' released code: at each
of the ``n`` updates ``t0, t0 + every, ..., t1`` the kept fraction is multiplied by ``(1 - s_f)^(1/n)``,
so the first update already prunes and the last reaches ``s_f``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from paperzoo_compress.schedules import cubic_sparsity

Kind = Literal["cubic", "geometric"]
KINDS = ("cubic", "geometric")
__all__ = ["KINDS", "Kind", "SparsitySchedule", "cubic_sparsity", "kept_count"]


@dataclass(frozen=True)
class SparsitySchedule:
    """When and how far to prune over ``total_steps`` optimizer steps.

    :param final_sparsity: ``s_f``, the fraction of the pruned weights that is zero at the end, in [0, 1).
    :param total_steps: ``T``, the optimizer steps of the run.
    :param start_fraction: ``t0 / T`` (paper: 0.25).
    :param end_fraction: ``t1 / T`` (paper: 0.75).
    :param every: steps between mask updates inside ``[t0, t1]``.
    :param kind: ``cubic`` (the paper) or ``geometric`` (the released code).
    """

    final_sparsity: float
    total_steps: int
    start_fraction: float = 0.25
    end_fraction: float = 0.75
    every: int = 1
    kind: Kind = "cubic"

    def __post_init__(self) -> None:
        if not 0.0 <= self.final_sparsity < 1.0:
            raise ValueError(f"final_sparsity: got {self.final_sparsity}; accepted: a number in [0, 1)")
        if not isinstance(self.total_steps, int) or self.total_steps < 1:
            raise ValueError(f"total_steps: got {self.total_steps!r}; accepted: an integer >= 1")
        if not 0.0 <= self.start_fraction < self.end_fraction <= 1.0:
            raise ValueError(
                f"start_fraction, end_fraction: got {self.start_fraction}, {self.end_fraction}; "
                "accepted: 0 <= start_fraction < end_fraction <= 1"
            )
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"every: got {self.every!r}; accepted: an integer >= 1")
        if self.kind not in KINDS:
            raise ValueError(f"kind: got {self.kind!r}; accepted: one of {', '.join(KINDS)}")
        if self.t1 <= self.t0:
            raise ValueError(
                f"start_fraction, end_fraction: t0 = {self.t0} and t1 = {self.t1} coincide at "
                f"{self.total_steps} steps; accepted: more steps or a wider window"
            )

    @property
    def t0(self) -> int:
        """The first pruning step, ``round(start_fraction T)``."""
        return round(self.start_fraction * self.total_steps)

    @property
    def t1(self) -> int:
        """The step from which the sparsity is ``s_f``, ``round(end_fraction T)``."""
        return round(self.end_fraction * self.total_steps)

    def update_steps(self) -> list[int]:
        """The steps at which masks are recomputed: ``t0, t0 + every, ...`` and ``t1``."""
        steps = list(range(self.t0, self.t1, self.every))
        return steps + [self.t1]

    def is_update(self, step: int) -> bool:
        """Whether the mask is recomputed before the forward pass of ``step``."""
        return step == self.t1 or (self.t0 <= step < self.t1 and (step - self.t0) % self.every == 0)

    def target_density(self, step: int) -> float:
        """The kept fraction an update at ``step`` sets (meaningful at update steps). ``geometric``
        computes it as the released code does: ``p = 1 - (1 - s_f)^(1/n)``, kept ``(1 - p)^i`` after the
        ``i``-th update."""
        if self.kind == "cubic":
            return 1.0 - cubic_sparsity(step, self.t0, self.t1, self.final_sparsity)
        n = len(self.update_steps())
        done = 0 if step < self.t0 else n if step >= self.t1 else (step - self.t0) // self.every + 1
        per_update = 1.0 - (1.0 - self.final_sparsity) ** (1.0 / n)
        return (1.0 - per_update) ** done

    def target(self, step: int) -> float:
        """The sparsity an update at ``step`` sets: ``1 - target_density(step)``."""
        return 1.0 - self.target_density(step)

    def sparsity(self, step: int) -> float:
        """The sparsity in force during the forward pass of ``step``: the target of the last update at
        or before ``step`` (0 before the first)."""
        if step < self.t0:
            return 0.0
        last = self.t1 if step >= self.t1 else self.t0 + (step - self.t0) // self.every * self.every
        return self.target(last)

    def mean_sparsity(self) -> float:
        """The average over the run's steps ``0 .. T-1`` of the sparsity in force (what ``Nbar`` uses)."""
        return sum(self.sparsity(k) for k in range(self.total_steps)) / self.total_steps

    def closed_form_mean_sparsity(self) -> float:
        """``(1/T) * integral_0^T s(t) dt`` of the continuous cubic schedule:
        ``s_f (3/4 (t1 - t0) + (T - t1)) / T`` (the integral of ``1 - (1 - u)^3`` over [0, 1] is 3/4)."""
        if self.kind != "cubic":
            raise ValueError("the closed form is that of the cubic schedule")
        t0, t1, total = self.t0, self.t1, self.total_steps
        return self.final_sparsity * (0.75 * (t1 - t0) + (total - t1)) / total


def kept_count(density: float, total: int) -> int:
    """Weights kept at ``density`` of ``total``: ``int(density * total)`` (truncation, the released code's
    rule)."""
    return min(int(density * total), total)
