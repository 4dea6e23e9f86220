"""The decay schedules of progressive gradient flow (Bambhaniya et al., 2024), as the official code
(``timm/sparse_pruning/sparse_functions.py``) computes them.

MDGF (mask decay): the mask value of a pruned weight decays from 1 to 0 with the sparse-phase step ``s``:
``linear``: ``beta = max(1 - coef * s, 0)``; ``exp``: ``beta = exp(-coef * s)``; ``step``: ``beta = 0``
(a binary mask from the start: plain STE).

SDGF (structure decay): the sparse phase (after ``dense`` steps, before the last ``fine_tune`` steps) is
cut into equal frames with successively sparser patterns. ``sparsify`` (target ``n:m``): ``log2(m/n) + 1``
frames of ``(m-1):m``, then ``m/2^i : m`` (1:16 -> 15:16, 8:16, 4:16, 2:16, 1:16); ``densify``: four
frames ``n : m 2^(3-i)``; ``fine``: four frames ``n 2^(3-i) : m 2^(3-i)``. A frame starts at step
``dense + int(i * frame)`` with ``frame = (total - dense - fine_tune) / frames``.
"""

from __future__ import annotations

import math

DECAYS = ("linear", "exp", "step")
STRUCTURES = ("sparsify", "densify", "fine")


def mask_decay(step: int, kind: str, coef: float) -> float:
    """``beta``, the forward value of a pruned weight's mask after ``step`` sparse-phase steps."""
    if kind == "linear":
        return max(1.0 - coef * step, 0.0)
    if kind == "exp":
        return math.exp(-1 * coef * step)
    if kind == "step":
        return 0.0
    raise ValueError(f"decay must be one of {DECAYS}, got {kind!r}")


def structure_schedule(
    n: int, m: int, total: int, dense: int, fine_tune: int, kind: str
) -> dict[int, tuple[int, int]]:
    """``{first step: (n_i, m_i)}`` of each frame of structure decay towards ``n:m`` (official
    ``get_decay_config``, with its epochs read as steps)."""
    span = total - dense - fine_tune
    if kind == "sparsify":
        frames = int(math.log2(m / n)) + 1
        pattern = [(m - 1 if i == 0 else int(m / math.pow(2, i)), m) for i in range(frames)]
    elif kind == "densify":
        frames = 4
        pattern = [(n, int(m * math.pow(2, frames - i - 1))) for i in range(frames)]
    elif kind == "fine":
        frames = 4
        pattern = [
            (int(n * math.pow(2, frames - i - 1)), int(m * math.pow(2, frames - i - 1)))
            for i in range(frames)
        ]
    else:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {kind!r}")
    size = span / frames
    return {int(dense) + int(i * size): pattern[i] for i in range(frames)}


def pattern_at(schedule: dict[int, tuple[int, int]], step: int) -> tuple[int, int]:
    """The ``n:m`` pattern in force at ``step``: that of the last frame started (the first before any)."""
    started = [k for k in sorted(schedule) if k <= step]
    return schedule[started[-1] if started else min(schedule)]
