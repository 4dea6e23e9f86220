"""Matmul FLOPs of the Linear layers, dense against sparse.

A Linear with ``in`` inputs and ``out`` outputs applied to ``rows`` input vectors costs ``2 rows in out``
FLOPs forward (one multiply and one add per weight and row); a training step costs three times that
(forward, gradient of the input, gradient of the weight: two matmuls of the same size backward). With a
static mask every one of the three products can skip the masked weights (their gradient is never
needed), so a sparse layer costs ``2 rows nnz(mask)`` forward: ``(1 - s)`` of dense at sparsity ``s``.
Attention's score and value products, embeddings and norms are not counted (they are not sparsified).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from paperzoo_compress.sparsity import MaskedLinear
from torch import nn

TRAIN_FACTOR = 3  # forward + backward (input gradient and weight gradient)


@dataclass
class Flops:
    """Matmul FLOPs of a model's Linears: as dense layers, and with each mask's zeros skipped."""

    dense: int = 0
    sparse: int = 0

    @property
    def ratio(self) -> float:
        """``sparse / dense`` (1.0 for a model without masks)."""
        return self.sparse / self.dense if self.dense else 1.0

    def __add__(self, other: Flops) -> Flops:
        return Flops(self.dense + other.dense, self.sparse + other.sparse)


def _linears(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, MaskedLinear)):
            yield name, mod


def _kept(mod: nn.Module) -> int:
    return int(mod.mask.sum()) if isinstance(mod, MaskedLinear) else mod.weight.numel()


def linear_flops(model: nn.Module, rows: int, training: bool = True) -> Flops:
    """Closed form: the FLOPs of every Linear and ``MaskedLinear`` of ``model`` applied to ``rows``
    vectors each (tokens, for a language model's block and head Linears), a training step
    (x3) or a forward pass."""
    factor = TRAIN_FACTOR if training else 1
    total = Flops()
    for _, mod in _linears(model):
        total += Flops(2 * rows * mod.weight.numel() * factor, 2 * rows * _kept(mod) * factor)
    return total


@contextlib.contextmanager
def count_flops(model: nn.Module, training: bool = True) -> Iterator[Flops]:
    """Count, during the ``with`` block, the FLOPs of every call of the model's Linears (rows read from
    each call's input: ``numel / in_features``); training steps (x3) by default. The masks are read at
    each call, so a count across the switch to dense fine-tuning is exact."""
    factor = TRAIN_FACTOR if training else 1
    total = Flops()

    def hook(mod: nn.Module, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        rows = args[0].numel() // mod.weight.shape[1]
        total.dense += 2 * rows * mod.weight.numel() * factor
        total.sparse += 2 * rows * _kept(mod) * factor

    handles = [mod.register_forward_hook(hook) for _, mod in _linears(model)]
    try:
        yield total
    finally:
        for handle in handles:
            handle.remove()
