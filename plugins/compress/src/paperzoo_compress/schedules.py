"""Sparsity schedules shared by gradual-pruning plugins.

The cubic schedule of gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune",
arXiv:1710.01878): the sparsity rises from 0 at step ``t0`` to ``s_f`` at ``t1``, fast at first and
slowly near the end,

    s(t) = 0                                          t < t0
    s(t) = s_f (1 - (1 - (t - t0) / (t1 - t0))^3)     t0 <= t < t1
    s(t) = s_f                                        t >= t1
"""

from __future__ import annotations


def cubic_sparsity(t: float, t0: float, t1: float, final_sparsity: float) -> float:
    """The cubic schedule ``s(t)`` at a (possibly fractional) step ``t``: 0 before ``t0``, ``s_f`` from
    ``t1`` on, ``s_f (1 - (1 - (t - t0)/(t1 - t0))^3)`` between (``t1 > t0``)."""
    if t1 <= t0:
        raise ValueError(f"t1 must be greater than t0, got t0={t0}, t1={t1}")
    if t < t0:
        return 0.0
    if t >= t1:
        return float(final_sparsity)
    u = (t - t0) / (t1 - t0)
    return float(final_sparsity) * (1.0 - (1.0 - u) ** 3)
