"""Built-in evaluators. An evaluator is called as ``evaluator(model, data)`` and returns a dict
of floats under the keys it declares in ``keys``."""

from __future__ import annotations

import math

import torch

from ..data import DataBundle, batches
from ..losses import logits_of, task_loss


class _SplitEvaluator:
    keys: tuple[str, ...] = ()

    def __init__(self, batch_size: int = 256, split: str = "val"):
        """:param batch_size: examples per forward pass.
        :param split: ``val`` or ``train``."""
        if split not in ("val", "train"):
            raise ValueError("split must be 'val' or 'train'")
        self.batch_size, self.split = batch_size, split

    @torch.no_grad()
    def _sums(self, model: torch.nn.Module, data: DataBundle) -> tuple[float, float, int, int]:
        """Summed loss, correct predictions, examples and loss terms over the split."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        loss_sum = correct = 0.0
        examples = terms = 0
        for x, y in batches(getattr(data, self.split), self.batch_size):
            x, y = x.to(device), y.to(device)
            logits = logits_of(model(x))
            loss_sum += float(task_loss(logits, y, data.task, reduction="sum"))
            if data.task != "regression":
                correct += float((logits.argmax(-1) == y).sum())
            examples += len(y)
            terms += y.numel() if data.task == "language_modeling" else len(y)
        model.train(was_training)
        return loss_sum, correct, examples, terms


class Accuracy(_SplitEvaluator):
    """Fraction of correctly classified examples (tokens, for language modelling)."""

    keys = ("accuracy",)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        _, correct, examples, terms = self._sums(model, data)
        denominator = terms if data.task == "language_modeling" else examples
        return {"accuracy": correct / denominator}


class Loss(_SplitEvaluator):
    """Mean task loss (cross-entropy or mean squared error)."""

    keys = ("loss",)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        loss_sum, _, _, terms = self._sums(model, data)
        return {"loss": loss_sum / terms}


class Perplexity(_SplitEvaluator):
    """``exp(-1/N sum log p(x_t | x_<t))`` over every target token, and bits per token."""

    keys = ("perplexity", "bits_per_token")

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        loss_sum, _, _, terms = self._sums(model, data)
        nll = loss_sum / terms
        return {"perplexity": math.exp(nll), "bits_per_token": nll / math.log(2)}
