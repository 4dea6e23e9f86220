"""Embeddings of a dataset under a model: its inputs, its outputs, or its penultimate features (the
input of its last ``nn.Linear``, captured with a forward pre-hook)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from paperzoo.data import batches
from paperzoo.losses import logits_of

Layer = Literal["penultimate", "output", "input"]


def last_linear(model: torch.nn.Module) -> torch.nn.Linear:
    """The last ``nn.Linear`` submodule in registration order (the classifier head of most models)."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("the model has no nn.Linear whose input could serve as the embedding")
    return linears[-1]


LAYERS: tuple[str, ...] = ("penultimate", "output", "input")


def embed(
    model: torch.nn.Module, dataset: Any, layer: Layer = "penultimate", batch_size: int = 256
) -> torch.Tensor:
    """``(N, D)`` float embeddings of the inputs of ``dataset`` (``(input, target)`` pairs), in order.

    :param layer: ``penultimate`` (the input of the model's last ``nn.Linear``), ``output`` (the
        model's output) or ``input`` (the flattened inputs; no model involved).
    The model runs in evaluation mode, which is restored afterwards.
    """
    return embed_with_targets(model, dataset, layer, batch_size)[0]


@torch.no_grad()
def embed_with_targets(
    model: torch.nn.Module, dataset: Any, layer: Layer = "penultimate", batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`embed` and the ``(N,)`` targets of ``dataset``, collected in the same single pass."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be 'penultimate', 'output' or 'input', got {layer!r}")
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    captured: list[torch.Tensor] = []
    handle = None
    if layer == "penultimate":
        handle = last_linear(model).register_forward_pre_hook(lambda m, args: captured.append(args[0]))
    was_training = model.training
    model.eval()
    out, targets = [], []
    try:
        for x, t in batches(dataset, batch_size):
            targets.append(t)
            if layer == "input":
                out.append(x.flatten(1).float())
                continue
            y = logits_of(model(x.to(device)))
            feats = captured.pop() if layer == "penultimate" else y
            captured.clear()
            out.append(feats.flatten(1).float().cpu())
    finally:
        model.train(was_training)
        if handle is not None:
            handle.remove()
    return torch.cat(out), torch.cat(targets)
