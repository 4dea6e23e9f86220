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
    """``params`` split by ``key`` (device, dtype, ...), keeping their order within each part."""
    parts: dict[Hashable, list[Tensor]] = {}
    for p in params:
        parts.setdefault(key(p), []).append(p)
    return list(parts.values())


def projectable(p: Tensor) -> bool:
    """Only weights with at least two dimensions are tested (biases and norm gains never are)."""
    return p.dim() > 1 and p.numel() > 0


def project_updates(
    params: Sequence[Tensor], updates: list[Tensor], delta: float, eps: float
) -> tuple[list[Tensor], list[int], list[Tensor]]:
    """Replace the updates of projectable params by their projections (Eq. 12 where the test holds).

    :returns: all updates (projected ones substituted), the indices of the projectable params, and
        one 0-dim boolean tensor per projectable param (True where it was projected).
    """
    idx = [i for i, p in enumerate(params) if projectable(p)]
    if not idx:
        return updates, idx, []
    new, flags = project(
        [params[i] for i in idx], [params[i].grad for i in idx], [updates[i] for i in idx], delta, eps
    )
    updates = list(updates)
    for i, u in zip(idx, new):
        updates[i] = u
    return updates, idx, flags


def decay_weights(
    params: Sequence[Tensor], idx: list[int], flags: list[Tensor], plain: float, projected: float
) -> None:
    """Decoupled weight decay ``w <- f w``: ``f = projected`` for params found scale-invariant,
    ``f = plain`` for all others (the factors already include ``wd_ratio``)."""
    chosen = set(idx)
    others = [p for i, p in enumerate(params) if i not in chosen]
    if others:
        torch._foreach_mul_(others, plain)
    if idx:
        device, dtype = params[idx[0]].device, params[idx[0]].dtype
        table = torch.tensor([plain, projected], device=device, dtype=dtype)
        factors = table[torch.stack(flags).long()].unbind()
        torch._foreach_mul_([params[i] for i in idx], list(factors))
