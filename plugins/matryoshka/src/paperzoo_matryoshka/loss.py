"""The Matryoshka cross-entropy ``sum_{m in M} c_m CE(W_m z[:m], y)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from paperzoo_nested.loss import nested_prefix_loss

from .head import MatryoshkaHead


def matryoshka_ce_loss(
    head: MatryoshkaHead,
    z: torch.Tensor,
    target: torch.Tensor,
    dims: Sequence[int] | None = None,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """``sum_m c_m * CE(head.logits_at(z, m), target)`` over ``dims`` (default the head's).

    :param z: ``(N, d)`` embeddings of any encoder.
    :param target: ``(N,)`` class indices.
    :param weights: the relative importances ``c_m`` (default all 1, as in the paper).
    """
    dims = head.dims if dims is None else dims

    def ce(prefix: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(head.logits_at(prefix, prefix.shape[-1]).float(), target)

    return nested_prefix_loss(ce, z, dims, weights)
