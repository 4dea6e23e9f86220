"""The language-model loss of a tinylm model and one training step of it (for benchmarks and tests)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lm_loss(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of ``model`` on ``ids`` ``[B, T]``: the logits of positions ``0..T-2``
    (computed in float32) against the tokens ``1..T-1``, averaged."""
    logits = model(ids).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten())


def lm_step(model: torch.nn.Module, ids: torch.Tensor) -> None:
    """One forward and backward pass of :func:`lm_loss`; the gradients are released afterwards."""
    lm_loss(model, ids).backward()
    model.zero_grad(set_to_none=True)
