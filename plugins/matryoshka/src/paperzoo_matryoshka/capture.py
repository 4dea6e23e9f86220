"""Find the layer that reads the embedding in a model, and capture the embedding during a forward."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from .head import MatryoshkaHead


def find_head(model: nn.Module, *, linear_fallback: bool = False) -> nn.Module:
    """The model's only :class:`MatryoshkaHead`; with ``linear_fallback``, else its last ``nn.Linear``
    (a standard classifier, truncated by restricting it to its first inputs)."""
    heads = [m for m in model.modules() if isinstance(m, MatryoshkaHead)]
    if len(heads) > 1:
        raise ValueError(f"the model has {len(heads)} matryoshka_head modules; exactly one is accepted")
    if heads:
        return heads[0]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linear_fallback and linears:
        return linears[-1]
    raise ValueError("the model has no matryoshka_head (use it as the model, or as its classifier)")


@contextlib.contextmanager
def capture_embedding(head: nn.Module) -> Iterator[dict[str, Any]]:
    """Within the block, ``box["z"]`` is the embedding of the last forward: the output of a
    :class:`MatryoshkaHead`'s encoder, or the input of a plain linear layer."""
    box: dict[str, Any] = {}
    if isinstance(head, MatryoshkaHead):

        def keep_output(_module, _inputs, output):
            box["z"] = output

        handle = head.encoder.register_forward_hook(keep_output)
    else:

        def keep_input(_module, inputs):
            box["z"] = inputs[0]

        handle = head.register_forward_pre_hook(keep_input)
    try:
        yield box
    finally:
        handle.remove()


def embed(model: nn.Module, head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``model(x)`` and return the embedding ``head`` reads."""
    with capture_embedding(head) as box:
        model(x)
    if "z" not in box:
        raise ValueError("the model's forward did not run its head")
    return box["z"]
