"""``el2n`` and ``grand`` evaluators: the per-example scores of one model on a split, summarised.

The per-example tensor is available from Python through ``Evaluator.scores(model, data)``; the
config-level call returns its mean, standard deviation and maximum.
"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle

from .scores import el2n_scores, grand_scores


class _ScoreEvaluator:
    keys: tuple[str, ...] = ("mean", "std", "max")

    def __init__(self, batch_size: int = 256, split: str = "train"):
        """:param batch_size: examples scored at once (for GraNd: per-example gradients in memory).
        :param split: ``train`` (the paper scores the training set) or ``val``."""
        if split not in ("train", "val"):
            raise ValueError("split must be 'train' or 'val'")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.batch_size, self.split = batch_size, split

    def scores(self, model: torch.nn.Module, data: DataBundle) -> torch.Tensor:
        """The ``(N,)`` score of every example of the split, in dataset order."""
        raise NotImplementedError

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        s = self.scores(model, data).double()
        std = float(s.std()) if len(s) > 1 else 0.0
        return {"mean": float(s.mean()), "std": std, "max": float(s.max())}


class EL2N(_ScoreEvaluator):
    """Error L2-norm ``||softmax(f(x)) - onehot(y)||_2`` of every example (one model's sample of EL2N)."""

    def scores(self, model: torch.nn.Module, data: DataBundle) -> torch.Tensor:
        return el2n_scores(model, getattr(data, self.split), self.batch_size, data.task)


class GraNd(_ScoreEvaluator):
    """Per-example gradient norm ``||grad_theta l(theta; x, y)||_2`` over all trainable parameters."""

    def scores(self, model: torch.nn.Module, data: DataBundle) -> torch.Tensor:
        return grand_scores(model, getattr(data, self.split), self.batch_size, data.task)
