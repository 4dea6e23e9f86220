"""Mini-batch aware L2 regularisation of DIN: only the embedding rows of ids present in the mini-batch are
penalised, each scaled by the inverse of its frequency in the training data:
``L2 = sum_{j in batch} ||w_j||^2 / n_j`` (eq. 4 of the paper, one mini-batch)."""

from __future__ import annotations

import torch


def id_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Occurrences ``n_j`` of each id ``0..vocab_size`` in the training ids (padding ``0`` included)."""
    return torch.bincount(ids.flatten(), minlength=vocab_size + 1).to(torch.float64)


def mini_batch_aware_l2(weight: torch.Tensor, batch_ids: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``sum_{j in unique(batch_ids), j != 0} ||weight[j]||^2 / counts[j]``; rows absent from the batch get no
    gradient. ``counts[j] = 0`` for a present id is treated as 1."""
    present = torch.unique(batch_ids.flatten())
    present = present[present != 0]
    n = counts.to(weight.device)[present].clamp_min(1).to(weight.dtype)
    return (weight[present].pow(2).sum(-1) / n).sum()
