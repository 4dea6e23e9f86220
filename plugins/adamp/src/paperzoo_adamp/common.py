"""What AdamP and SGDP share: partitioning a param group, the projection step and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch
from torch import Tensor

from .projection import project_, scale_invariance


def check_range(name: str, value: float, low: float = 0.0, high: float | None = None) -> None:
    """Raise ``ValueError`` unless ``low <= value`` (and ``value < high`` when given)."""
    if not low <= value or (high is not None and not value < high):
        bound = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"invalid {name}: {value} (expected {bound})")


def params_with_grad(group: dict) -> list[Tensor]:
    """The parameters of ``group`` that received a gradient (dense, real) this step."""
    out = [p for p in group["params"] if p.grad is not None]
    for p in out:
        if p.grad.is_sparse:
            raise RuntimeError("AdamP/SGDP do not support sparse gradients")
        if torch.is_complex(p):
            raise RuntimeError("AdamP/SGDP do not support complex parameters")
    return out


def partition(params: Sequence[Tensor], key: Callable[[Tensor], Hashable]) -> list[list[Tensor]]:
    """``params`` split by ``key`` (device, dtype, ...), keeping their order, then into ``chunks``."""
    parts: dict[Hashable, list[Tensor]] = {}
    for p in params:
        parts.setdefault(key(p), []).append(p)
    return [chunk for part in parts.values() for chunk in chunks(part)]


# Elements per unit of work. The per-step temporaries (Adam's denominator, overwritten by the update,
# and the products of the inner products) are sized by it, so they stay small enough for the
# allocator to recycle them from step to step (no fresh pages to fault in) and mostly cache-resident
# between passes.
CHUNK_ELEMENTS = 1 << 20


def chunks(params: Sequence[Tensor], limit: int | None = None) -> list[list[Tensor]]:
    """Consecutive runs of ``params`` holding at most ``limit`` (default ``CHUNK_ELEMENTS``)
    elements; a larger tensor forms a run of its own."""
    limit = CHUNK_ELEMENTS if limit is None else limit
    out: list[list[Tensor]] = []
    size = 0
    for p in params:
        if not out or size + p.numel() > limit:
            out.append([])
            size = 0
        out[-1].append(p)
        size += p.numel()
    return out


def projectable(p: Tensor) -> bool:
    """Only weights with at least two dimensions are tested (biases and norm gains never are)."""
    return p.dim() > 1 and p.numel() > 0


def split_projectable(params: Sequence[Tensor]) -> tuple[list[int], list[int]]:
    """Indices of the params that take the cosine test, and of the others."""
    tested = [i for i, p in enumerate(params) if projectable(p)]
    chosen = set(tested)
    return tested, [i for i in range(len(params)) if i not in chosen]


def take(items: Sequence[Tensor], idx: Sequence[int]) -> list[Tensor]:
    return [items[i] for i in idx]


def radial_projection(weights: list[Tensor], updates: list[Tensor], delta: float, eps: float) -> list[bool]:
    """Remove the radial components of ``updates`` (in place) where the test finds ``weights``
    scale-invariant (the test uses the weights' gradients).

    :returns: per weight, True where it was found scale-invariant (and its update projected).
    """
    if not weights:
        return []
    views, w_norm = scale_invariance(weights, [w.grad for w in weights], delta, eps)
    project_(updates, weights, views, w_norm, eps)
    return [v is not None for v in views]


def decay_weights(
    tested: list[Tensor], flags: list[bool], others: list[Tensor], plain: float, projected: float
) -> None:
    """Decoupled weight decay ``w <- f w``: ``f = projected`` for weights found scale-invariant,
    ``f = plain`` for all others (the factors already include ``wd_ratio``)."""
    scaled = [w for w, f in zip(tested, flags) if f]
    unscaled = others + [w for w, f in zip(tested, flags) if not f]
    if unscaled:
        torch._foreach_mul_(unscaled, plain)
    if scaled:
        torch._foreach_mul_(scaled, projected)
