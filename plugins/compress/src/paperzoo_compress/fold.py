"""Function-preserving per-channel scale folding: ``y = W x`` equals ``(W diag(s)) (x / s)``; the
division moves into the op that produced ``x``.

* ``scale_norm_into_linears(norm, linears, s)``: a norm's gain (and bias) divided by ``s``, the reading
  Linears' columns multiplied by ``s`` (exact for RMSNorm/LayerNorm: the gain is the last op);
* ``scale_linear_into_linear(prev, nxt, s)``: the last ``len(s)`` output rows (and bias) of ``prev``
  divided by ``s``, ``nxt``'s columns multiplied (exact when only a linear or a product with ``prev``'s
  output lies between them: ``v_proj -> o_proj`` through attention, ``up_proj -> down_proj`` through
  ``act(gate) * up``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from paperzoo_tinylm.fold import fold_affine_into_linear
from torch import nn


@torch.no_grad()
def scale_norm_into_linears(norm: nn.Module, linears: Sequence[nn.Linear], s: torch.Tensor) -> None:
    """In place: ``norm.weight /= s`` (and ``norm.bias``), ``linear.weight *= s`` by column."""
    if getattr(norm, "weight", None) is None:
        raise ValueError("norm: it has no gain to absorb the scales; accepted: an affine RMSNorm/LayerNorm")
    s = s.to(norm.weight)
    norm.weight.div_(s)
    if getattr(norm, "bias", None) is not None:
        norm.bias.div_(s)
    for linear in linears:
        fold_affine_into_linear(linear, s.to(linear.weight))


@torch.no_grad()
def scale_linear_into_linear(prev: nn.Linear, nxt: nn.Linear, s: torch.Tensor) -> None:
    """In place: ``prev``'s last ``len(s)`` rows (and bias) ``/= s``, ``nxt.weight *= s`` by column."""
    if nxt.in_features != s.numel():
        raise ValueError(f"scales: {s.numel()} values for {nxt.in_features} input features")
    s = s.to(prev.weight)
    prev.weight[-s.numel() :].div_(s.view(-1, 1))
    if prev.bias is not None:
        prev.bias[-s.numel() :].div_(s)
    fold_affine_into_linear(nxt, s.to(nxt.weight))
