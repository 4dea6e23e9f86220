"""The EL2N and GraNd scores of Paul, Ganguli and Dziugaite (2021).

For a training example ``(x, y)`` with one-hot label ``y``, network output ``f(w, x)`` in ``R^K`` and
loss ``l(w; x, y) = CE(softmax(f(w, x)), y)``, the scores at weights ``w_t`` (``t`` steps into
training) are

    GraNd:  chi_t(x, y) = E_{w_t} || grad_{w_t} l(w_t; x, y) ||_2
    EL2N:   chi_t(x, y) = E_{w_t} || softmax(f(w_t, x)) - y ||_2

where the expectation is over independent initialisations (and data orders). The functions here
compute one sample of that expectation, for one model; :class:`~paperzoo_data_diet.trainer.DataDiet`
averages them over ``n_seeds`` models. Both are computed with the network in evaluation mode
(batch-norm running statistics, no dropout), and GraNd differentiates with respect to every
trainable parameter, as in the official implementation (``jacrev`` of the per-example
cross-entropy over the whole ``params`` pytree, flattened, then the L2 norm).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from paperzoo.data import batches
from paperzoo.losses import logits_of, task_loss
from torch.func import functional_call, grad, vmap


def el2n_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``|| softmax(logits) - onehot(y) ||_2`` for each row: the EL2N score of one model.

    :param logits: ``(N, K)`` network outputs.
    :param targets: ``(N,)`` class indices.
    :returns: ``(N,)`` scores in ``[0, sqrt(2))``.
    """
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    probs = logits.softmax(dim=-1)
    error = probs - F.one_hot(targets.long(), probs.shape[-1]).to(probs.dtype)
    return torch.linalg.vector_norm(error, dim=-1)


def _device(model: torch.nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _eval_batches(
    model: torch.nn.Module, dataset: Any, batch_size: int
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches of ``dataset`` moved to the model's device, in order."""
    device = _device(model)
    for x, y in batches(dataset, batch_size):
        yield x.to(device), y.to(device)


class _EvalMode:
    """Put a model in evaluation mode for the duration of a block, then restore its mode."""

    def __init__(self, model: torch.nn.Module):
        self.model, self.was_training = model, model.training

    def __enter__(self) -> torch.nn.Module:
        self.model.eval()
        return self.model

    def __exit__(self, *exc: Any) -> None:
        self.model.train(self.was_training)


@torch.no_grad()
def el2n_scores(
    model: torch.nn.Module, dataset: Any, batch_size: int = 256, task: str = "classification"
) -> torch.Tensor:
    """EL2N of every example of ``dataset`` (a dataset of ``(input, class)`` pairs) under ``model``.

    :param task: must be ``classification`` (the score compares a softmax with a one-hot label).
    :returns: ``(len(dataset),)`` float tensor on the CPU, in dataset order.
    """
    if task != "classification":
        raise ValueError(f"EL2N is defined for classification, not {task!r}")
    with _EvalMode(model):
        out = [
            el2n_from_logits(logits_of(model(x)), y).cpu()
            for x, y in _eval_batches(model, dataset, batch_size)
        ]
    return torch.cat(out)


def per_example_grad_norm_fn(model: torch.nn.Module, task: str = "classification"):
    """A function ``(x, y) -> (B,)`` of per-example gradient norms ``||grad_theta l(theta; x_i, y_i)||_2``.

    ``theta`` is every parameter with ``requires_grad``; frozen parameters and buffers enter as
    constants. The per-example gradients come from ``torch.func.vmap(torch.func.grad(loss))`` over
    the batch dimension with ``functional_call``: one vectorised pass, no loop over examples.
    The model is used as it is (call it in evaluation mode for the paper's score).
    """
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    constants = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    constants.update(dict(model.named_buffers()))

    def loss_one(theta: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = logits_of(functional_call(model, (theta, constants), (x.unsqueeze(0),)))
        return task_loss(logits, y.unsqueeze(0), task)

    def norm_one(theta: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        g = grad(loss_one)(theta, x, y)
        # ||concat_k vec(g_k)||_2 = || (||g_1||, ..., ||g_K||) ||_2, without materialising the concat.
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in g.values()]))

    batched = vmap(norm_one, in_dims=(None, 0, 0))
    return lambda x, y: batched(params, x, y)


def grand_scores(
    model: torch.nn.Module, dataset: Any, batch_size: int = 256, task: str = "classification"
) -> torch.Tensor:
    """GraNd of every example of ``dataset`` under ``model`` (evaluation mode), in dataset order.

    :param batch_size: examples whose per-example gradients are held in memory at once.
    :returns: ``(len(dataset),)`` float tensor on the CPU.
    """
    with _EvalMode(model):
        norms = per_example_grad_norm_fn(model, task)
        out = [norms(x, y).detach().cpu() for x, y in _eval_batches(model, dataset, batch_size)]
    return torch.cat(out)
