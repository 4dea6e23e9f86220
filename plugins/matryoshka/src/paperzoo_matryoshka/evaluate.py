"""``nested_dim_accuracy``: classification accuracy at each truncation dim of the embedding."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from paperzoo.data import DataBundle, batches
from paperzoo_nested.loss import check_dims
from paperzoo_nested.views import prefix_linear

from .capture import embed, find_head
from .head import MatryoshkaHead


class NestedDimAccuracy:
    """Accuracy of the classifier at each dim ``m`` of ``dims``: for a :class:`MatryoshkaHead` its
    ``W_m z[:m]``; for a model without one, its last ``nn.Linear`` restricted to its first ``m``
    inputs (equal to the full classifier on ``z`` zero-padded after ``m``).

    :param dims: the truncation dims (strictly increasing; each at most the embedding size).
    :param split: ``val`` or ``train``.
    :param batch_size: examples per forward pass.
    """

    def __init__(self, dims: Sequence[int] = (8, 16, 32, 64), split: str = "val", batch_size: int = 512):
        self.dims = check_dims(dims, max(int(m) for m in dims) if dims else 0)
        if split not in ("train", "val"):
            raise ValueError("split must be 'train' or 'val'")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.split, self.batch_size = split, batch_size
        self.keys = tuple(f"accuracy_d{m}" for m in self.dims)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        head = find_head(model, linear_fallback=True)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        correct, total = dict.fromkeys(self.dims, 0), 0
        try:
            for x, y in batches(getattr(data, self.split), self.batch_size):
                x, y = x.to(device), y.to(device)
                z = embed(model, head, x)
                if z.shape[-1] < self.dims[-1]:
                    raise ValueError(f"dims go up to {self.dims[-1]} but the embedding has {z.shape[-1]}")
                for m in self.dims:
                    if isinstance(head, MatryoshkaHead):
                        logits = head.logits_at(z, m)
                    else:
                        logits = prefix_linear(z, head, m)
                    correct[m] += int((logits.argmax(-1) == y).sum())
                total += len(y)
        finally:
            model.train(was_training)
        return {f"accuracy_d{m}": correct[m] / max(total, 1) for m in self.dims}
