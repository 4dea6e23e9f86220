"""Compress every block Linear of a tinylm decoder (round-to-nearest and/or 2:4 magnitude pruning), then
compensate it with EoRA (or plain SVD, the ablation), block by block as the official
``llama_sequential_eigen``: the calibration inputs of block ``i`` come from a forward pass through blocks
``0..i-1`` already compressed and compensated, and block ``i``'s float weights (all its Linears read their
inputs in one pass before any of them is replaced).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from paperzoo_compress.calib import block_inputs, check_supported, linear_inputs
from paperzoo_compress.linear import FakeQuantLinear, set_module
from paperzoo_compress.sparsity import nm_mask
from torch import nn

from paperzoo_eora.eigen import gram, weighted_error
from paperzoo_eora.layer import EoRALinear

COMPRESSIONS = ("quant", "prune", "prune+quant")
METHODS = ("eigen", "svd", "none")


def compressed_layer(
    linear: nn.Linear, compression: str, bits: int, group_size: int, symmetric: bool = False
) -> nn.Module:
    """The compressed copy of ``linear``: its weight 2:4-pruned (``prune``), then round-to-nearest
    quantised (a ``FakeQuantLinear``, ``quant``); the bias is kept."""
    layer = copy.deepcopy(linear)
    if "prune" in compression:
        with torch.no_grad():
            layer.weight.mul_(nm_mask(layer.weight, 2, 4))
    if "quant" in compression:
        layer = FakeQuantLinear(layer, bits, group_size, symmetric)
    return layer


@dataclass
class CompensationReport:
    """Per compensated Linear: ``||dW X||_F`` before and ``||(dW - B A) X||_F`` after, on its calibration
    inputs."""

    errors: dict[str, tuple[float, float]] = field(default_factory=dict)

    def relative_error(self) -> float:
        """``sqrt(sum after^2 / sum before^2)`` over every Linear (1: nothing recovered)."""
        before = sum(b * b for b, _ in self.errors.values())
        after = sum(a * a for _, a in self.errors.values())
        return float((after / before) ** 0.5) if before > 0 else 0.0


@torch.no_grad()
def eora_compensate_(
    model: nn.Module,
    calib_ids: torch.Tensor,
    rank: int = 8,
    bits: int = 3,
    group_size: int = -1,
    symmetric: bool = False,
    compression: str = "quant",
    method: str = "eigen",
    floor: float = 1e-12,
    merge: bool = False,
) -> CompensationReport:
    """In place: compress and compensate every block Linear of ``model`` using ``calib_ids`` ``[N, T]``.

    ``method``: ``eigen`` (EoRA), ``svd`` (plain SVD of ``dW``) or ``none`` (compression only).
    ``rank`` above a Linear's ``min(in, out)`` is clamped to it (the full error is recovered).
    ``merge=False`` swaps each Linear for an :class:`~paperzoo_eora.layer.EoRALinear` around the
    compressed layer (``none``: the compressed layer alone); ``merge=True`` keeps the ``nn.Linear`` and
    stores ``W' + B A`` in its weight (the official code's evaluation form; state-dict keys unchanged).
    """
    check_supported(model)
    if compression not in COMPRESSIONS or method not in METHODS:
        raise ValueError(
            f"compression {compression!r}, method {method!r}; accepted: {COMPRESSIONS}, {METHODS}"
        )
    report = CompensationReport()
    for i, block in enumerate(model.blocks):
        inputs = linear_inputs(block, block_inputs(model, calib_ids)[i])
        for name, x in inputs.items():
            linear = block.get_submodule(name)
            base = compressed_layer(linear, compression, bits, group_size, symmetric)
            delta = linear.weight.detach() - base.weight
            h = gram(x)
            full = f"blocks.{i}.{name}"
            if method == "none":
                report.errors[full] = (weighted_error(delta, h),) * 2
                new: nn.Module = base
            else:
                r = min(rank, *delta.shape)  # a larger rank is full recovery
                new = EoRALinear(base, r).compensate_(delta, h if method == "eigen" else None, floor)
                residual = delta - new.lora_B @ new.lora_A
                report.errors[full] = (weighted_error(delta, h), weighted_error(residual, h))
            if merge:
                extra = new.lora_B @ new.lora_A if isinstance(new, EoRALinear) else 0.0
                linear.weight.copy_(base.weight + extra)
            else:
                set_module(block, name, new)
    return report
