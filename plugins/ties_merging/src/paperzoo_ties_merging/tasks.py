"""Class-subset tasks: how the trainer builds several fine-tuning tasks from one classification
dataset, fine-tunes on one of them, and scores a model per task.

A task is a subset ``C_t`` of the classes. Fine-tuning on task ``t`` uses only examples with labels in
``C_t`` and the cross-entropy over the logits of ``C_t`` alone, so the output rows of the other
classes receive no gradient: the shared output layer acts as one classification head per task, as
in the paper's vision experiments (a shared encoder, one head per task). A task is scored by the
accuracy of ``argmax`` over its own classes on the examples of its classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from paperzoo.data import batches
from paperzoo.losses import logits_of
from paperzoo.trainer import Supervised
from torch.utils.data import Subset


def targets_of(dataset: Any) -> torch.Tensor:
    """All targets of a dataset of ``(input, target)`` pairs, in order."""
    base, indices = _unwrap(dataset)
    if hasattr(base, "tensors"):
        y = base.tensors[1]
        return y if indices is None else y[indices]
    return torch.cat([y for _, y in batches(dataset, 1024)])


def _unwrap(dataset: Any) -> tuple[Any, torch.Tensor | None]:
    """``(underlying dataset, indices into it)``, flattening nested ``Subset``s."""
    indices = None
    while isinstance(dataset, Subset):
        idx = torch.as_tensor(dataset.indices)
        indices = idx if indices is None else idx[indices]
        dataset = dataset.dataset
    return dataset, indices


def subset(dataset: Any, indices: torch.Tensor) -> Subset:
    """``Subset`` of ``dataset`` at ``indices``, one level deep (so batching stays a tensor op)."""
    base, outer = _unwrap(dataset)
    return Subset(base, (indices if outer is None else outer[indices]).tolist())


def default_tasks(num_classes: int, num_tasks: int) -> list[list[int]]:
    """``num_tasks`` disjoint groups of consecutive classes, as equal in size as possible."""
    if not 1 <= num_tasks <= num_classes:
        raise ValueError(f"num_tasks must be between 1 and the number of classes ({num_classes})")
    return [chunk.tolist() for chunk in torch.arange(num_classes).tensor_split(num_tasks)]


def examples_of(targets: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """Positions of the examples whose label is in ``classes``."""
    return torch.isin(targets, torch.as_tensor(list(classes), device=targets.device)).nonzero().flatten()


class TaskFinetune(Supervised):
    """The core's supervised loop with the loss restricted to one task's classes:
    ``CE(z[C_t], index of y in C_t)``."""

    def __init__(self, classes: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.classes = torch.as_tensor(list(classes))
        self.position = torch.full((int(self.classes.max()) + 1,), -1, dtype=torch.long)
        self.position[self.classes] = torch.arange(len(self.classes))

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        logits = logits_of(model(x)).float()
        classes, position = self.classes.to(logits.device), self.position.to(y.device)
        return F.cross_entropy(logits.index_select(-1, classes), position[y])


@torch.no_grad()
def task_accuracies(
    model: torch.nn.Module, dataset: Any, tasks: Sequence[Sequence[int]], batch_size: int = 512
) -> list[float]:
    """Per task: accuracy of ``argmax`` over the task's class logits, on the task's examples."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, targets = [], []
    for x, y in batches(dataset, batch_size):
        logits.append(logits_of(model(x.to(device))).float())
        targets.append(y.to(device))
    model.train(was_training)
    z, y = torch.cat(logits), torch.cat(targets)
    out = []
    for classes in tasks:
        cls = torch.as_tensor(list(classes), device=device)
        rows = torch.isin(y, cls)
        predicted = cls[z[rows].index_select(-1, cls).argmax(-1)]
        out.append(float((predicted == y[rows]).float().mean()) if rows.any() else float("nan"))
    return out
