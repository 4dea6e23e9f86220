"""What AdamP and SGDP share: partitioning a param group, the projection step and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch
from torch import Tensor

from .projection import project


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


# Elements per unit of work. The per-step temporaries (the update, Adam's denominator, the (R, 3, C)
# projection workspace) are sized by it, so they stay small enough for the allocator to recycle
# them from step to step (no fresh pages to fault in) and mostly cache-resident between passes.
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


def radial_projection(
    weights: list[Tensor],
    fill: Callable[[Sequence[int], list[Tensor]], None],
    delta: float,
    eps: float,
    targets: list[Tensor] | None = None,
) -> tuple[list[Tensor], list[Tensor]]:
    """Fill in the updates of ``weights`` and remove their radial components where the test holds.

    :param fill: ``fill(indices, dst)`` writes the updates of ``weights[i] for i in indices``.
    :param targets: tensors to project in place instead of the filled-in updates (SGDP without
        Nesterov projects its momentum buffers, whose copies were filled in).
    :returns: the projected tensors (the filled-in updates, or ``targets``) and one 0-dim boolean
        tensor per weight, True where it was found scale-invariant.
    """
    if not weights:
        return [], []
    updates, coefs, flags = project(weights, [w.grad for w in weights], fill, delta, eps)
    out = updates if targets is None else targets
    torch._foreach_addcmul_(out, coefs, weights, value=-1)  # p <- p - c w
    return out, flags


def decay_weights(
    tested: list[Tensor], flags: list[Tensor], others: list[Tensor], plain: float, projected: float
) -> None:
    """Decoupled weight decay ``w <- f w``: ``f = projected`` for weights found scale-invariant,
    ``f = plain`` for all others (the factors already include ``wd_ratio``)."""
    if others:
        torch._foreach_mul_(others, plain)
    if tested:
        table = torch.tensor([plain, projected], device=tested[0].device, dtype=tested[0].dtype)
        factors = table[torch.stack(flags).long()].unbind()
        torch._foreach_mul_(tested, list(factors))
