"""The nested-prefix loss ``sum_m c_m * loss(z[..., :m])`` over a set of prefix dims ``M``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Embeddings = torch.Tensor | Sequence[torch.Tensor]


def nested_dims(d: int, start: int = 8) -> list[int]:
    """The doubling prefix dims ``[start, 2 start, 4 start, ...]`` below ``d``, then ``d`` itself.

    ``nested_dims(64) == [8, 16, 32, 64]``; ``nested_dims(48) == [8, 16, 32, 48]``.
    """
    if start < 1 or d < start:
        raise ValueError(f"need 1 <= start <= d, got start={start}, d={d}")
    dims, m = [], start
    while m < d:
        dims.append(m)
        m *= 2
    return [*dims, d]


def check_dims(dims: Sequence[int], d: int) -> list[int]:
    """``dims`` as a list of ints, strictly increasing, in ``[1, d]``; a ``ValueError`` otherwise."""
    out = [int(m) for m in dims]
    if not out or any(m < 1 or m > d for m in out) or any(a >= b for a, b in zip(out, out[1:])):
        raise ValueError(f"dims must be strictly increasing ints in [1, {d}], got {list(dims)}")
    return out


def check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """One non-negative weight per dim (all 1 when ``None``); a ``ValueError`` otherwise."""
    if weights is None:
        return [1.0] * n
    out = [float(c) for c in weights]
    if len(out) != n or any(not c >= 0 for c in out):
        raise ValueError(f"weights must be {n} non-negative numbers (one per dim), got {list(weights)}")
    return out


def truncate(z: torch.Tensor, m: int, *, normalize: bool = False) -> torch.Tensor:
    """The first ``m`` features ``z[..., :m]`` (a view), L2-normalised when ``normalize``."""
    prefix = z[..., :m]
    return F.normalize(prefix, p=2, dim=-1) if normalize else prefix


def nested_prefix_loss(
    loss_fn: Callable[..., torch.Tensor],
    embeddings: Embeddings,
    dims: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    normalize: bool = False,
) -> torch.Tensor:
    """``sum_{m in dims} c_m * loss_fn(*prefixes_m)``, summed in the order of ``dims``.

    :param loss_fn: any per-prefix loss; called with the truncated tensors ``z[..., :m]`` (one per
        tensor of ``embeddings``, in order); it reads ``m`` as their last size when it needs it.
    :param embeddings: one tensor ``(..., d)`` or a sequence of them (e.g. anchors and positives).
    :param dims: strictly increasing prefix dims in ``[1, d]``.
    :param weights: the ``c_m`` (default all 1).
    :param normalize: L2-normalise each prefix before the loss (as sentence-transformers does).
    """
    zs = [embeddings] if isinstance(embeddings, torch.Tensor) else list(embeddings)
    d = min(z.shape[-1] for z in zs)
    dims = check_dims(dims, d)
    weights = check_weights(weights, len(dims))
    total: torch.Tensor | None = None
    for m, c in zip(dims, weights):
        term = c * loss_fn(*(truncate(z, m, normalize=normalize) for z in zs))
        total = term if total is None else total + term
    assert total is not None
    return total
