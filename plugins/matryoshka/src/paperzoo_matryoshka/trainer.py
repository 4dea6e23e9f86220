"""``matryoshka_loss``: the core supervised loop with the Matryoshka cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from paperzoo.trainer import Supervised
from paperzoo_nested.loss import check_weights

from .capture import embed, find_head
from .loss import matryoshka_ce_loss


class MatryoshkaTrainer(Supervised):
    """:class:`~paperzoo.trainer.Supervised` whose loss is ``sum_m c_m CE(W_m z[:m], y)`` over the dims
    of the model's :class:`~paperzoo_matryoshka.head.MatryoshkaHead` (the model itself, or its
    classifier behind any encoder whose output is the embedding ``z``).

    :param dims: the nested dims ``M`` (default the head's; for an MRL head a subset of its dims).
    :param weights: the relative importances ``c_m`` (default all 1).
    Every other parameter is the supervised loop's.
    """

    def __init__(
        self, dims: Sequence[int] | None = None, weights: Sequence[float] | None = None, **loop: Any
    ):
        super().__init__(**loop)
        self.dims = None if dims is None else [int(m) for m in dims]
        n = len(self.dims) if self.dims is not None else None
        if weights is not None and n is not None:
            check_weights(weights, n)
        self.weights = None if weights is None else [float(c) for c in weights]

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        if task != "classification":
            raise ValueError(f"the Matryoshka loss is a classification loss; the data's task is {task!r}")
        x, y = batch
        head = find_head(model)
        return matryoshka_ce_loss(head, embed(model, head, x), y, self.dims, self.weights)
