"""The default loss of each task, shared by the trainer and the evaluators."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def logits_of(output: Any) -> torch.Tensor:
    """A model's prediction tensor: the output itself, or ``output.logits`` (transformers)."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"cannot find logits in a model output of type {type(output).__name__}")


def task_loss(logits: torch.Tensor, target: torch.Tensor, task: str, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy for classification and language modelling (over every token), MSE for regression."""
    if task == "regression":
        return F.mse_loss(logits.float(), target.float(), reduction=reduction)
    if task == "language_modeling":
        return F.cross_entropy(logits.float().flatten(0, -2), target.flatten(), reduction=reduction)
    return F.cross_entropy(logits.float(), target, reduction=reduction)
