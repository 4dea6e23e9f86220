"""JLCM on a tinylm decoder: every block Linear quantised with its own grouped codebooks, fitted to that
Linear's calibration inputs; and the function-preserving row reorder that makes the groups contiguous."""

from __future__ import annotations

import torch
from paperzoo_compress.calib import block_inputs, linear_inputs
from paperzoo_compress.linear import block_linears
from torch import nn

from paperzoo_jlcm.jlcm import Codebooks, jlcm_quantize_weight


@torch.no_grad()
def calib_hessians(model: nn.Module, ids: torch.Tensor, batch_size: int = 8) -> dict[str, torch.Tensor]:
    """``H = X^T X / N`` (float64) of every block Linear's input over the calibration tokens ``ids``,
    captured from the (float) model."""
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for chunk in ids.split(batch_size):
        for i, points in enumerate(block_inputs(model, chunk)):
            for name, x in linear_inputs(model.blocks[i], points).items():
                x = x.reshape(-1, x.shape[-1]).double()
                key = f"blocks.{i}.{name}"
                sums[key] = sums.get(key, 0) + x.T @ x
        count += chunk.numel()
    return {k: v / count for k, v in sums.items()}


@torch.no_grad()
def jlcm_quantize_(
    model: nn.Module,
    calib_ids: torch.Tensor | None,
    bits: int,
    n_groups: int,
    steps: int = 100,
    lr: float = 1e-2,
) -> dict[str, Codebooks]:
    """In place: every block Linear's weight replaced by its JLCM quantisation (``n_groups`` codebooks of
    ``2^bits`` values, learned on the calibration inputs of ``calib_ids``, or on the weights alone when
    None). Returns the codebooks per Linear."""
    hessians = calib_hessians(model, calib_ids) if calib_ids is not None else {}
    out = {}
    for name, linear in block_linears(model).items():
        n = min(n_groups, linear.out_features)
        with torch.enable_grad():
            books = jlcm_quantize_weight(linear.weight, bits, n, hessians.get(name), steps, lr)
        linear.weight.copy_(books.weight().to(linear.weight.dtype))
        out[name] = books
    return out


@torch.no_grad()
def reorder_hidden_(first: list[nn.Linear], second: nn.Linear, perm: torch.Tensor) -> None:
    """In place: permute the hidden units between ``first`` (the Linears producing them, e.g. ``gate_proj``
    and ``up_proj``: rows and biases) and ``second`` (the Linear reading them: columns). An elementwise
    function between them commutes with the permutation, so the block computes the same function."""
    for linear in first:
        linear.weight.copy_(linear.weight[perm])
        if linear.bias is not None:
            linear.bias.copy_(linear.bias[perm])
    second.weight.copy_(second.weight[:, perm])
