"""GBLM-Pruner's score and one-shot pruning of a tinylm decoder.

Score of weight ``W_ij`` of a Linear (the official code's ``prune_gblm``):

    score_ij = |W_ij| * ||X_j||_2 / sqrt(N)  +  alpha * |W_ij| * G_ij,    G_ij = sqrt(sum_s g_s,ij^2)

computed here times ``sqrt(N)`` (the same order within every row): ``|W| ||X||_2 + alpha sqrt(N) |W| G``,
so that with ``alpha = 0`` it is Wanda's score bitwise.

``g_s`` is the gradient of the mean next-token cross-entropy of calibration sequence ``s`` alone (one of
``N``) with respect to the dense weight; ``G`` is its l2 norm over the samples ("properly normalised": the
paper's l2 accumulation, against a plain sum or an l1 accumulation). ``||X_j||_2`` is the l2 norm of
input channel ``j`` over every calibration token; the division by ``sqrt(N)`` is the official code's
(Wanda's ``scaler_row`` averages squared norms over the ``N`` sequences), and it sets the balance between
the two terms. ``alpha`` is the official gradient ``scale`` (100). Each output row keeps its
``in - int(in * sparsity)`` largest scores. The gradients are taken once, on the dense model; the
activation norms sequentially, block by block, on the model whose earlier blocks are already pruned.
With ``alpha = 0`` the masks are Wanda's.
"""

from __future__ import annotations

import math

import torch
from paperzoo_compress.calib import check_supported
from paperzoo_compress.linear import block_linears
from paperzoo_compress.prune_scores import check_sparsity, prune_sequential_, wanda_scores
from torch import nn


def check_alpha(alpha: float) -> None:
    """Raise ``ValueError`` unless ``alpha`` is a finite real number ``>= 0``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha < math.inf:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")


def gradient_l2(model: nn.Module, ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """``G = sqrt(sum_s g_s^2)`` per block Linear (by name): ``g_s`` the gradient of sequence ``s``'s mean
    next-token cross-entropy (``ids`` ``[N, T]``, one sequence per backward pass) at the current weights.
    Accumulated in at least float32; ``.grad`` is not written."""
    linears = block_linears(model)
    weights = [m.weight for m in linears.values()]
    acc = [torch.zeros_like(w, dtype=torch.promote_types(w.dtype, torch.float32)) for w in weights]
    for row in ids:
        with torch.enable_grad():
            logits = model(row[None]).logits[0, :-1]
            loss = nn.functional.cross_entropy(logits, row[1:])
            grads = torch.autograd.grad(loss, weights)
        for a, g in zip(acc, grads, strict=True):
            a.add_(g.to(a.dtype).square())
    return {name: a.sqrt() for name, a in zip(linears, acc, strict=True)}


def gblm_scores(
    weight: torch.Tensor, norms: torch.Tensor, grad: torch.Tensor, alpha: float, n_samples: int
) -> torch.Tensor:
    """``|W| * ||X||_2 + alpha * sqrt(n_samples) * |W| * G`` (the official score times ``sqrt(n_samples)``)
    for ``weight`` and ``grad`` ``[out, in]``, ``norms`` ``[in]`` (the input's l2 norm over every token of
    the ``n_samples`` sequences). ``alpha = 0`` returns :func:`wanda_scores` exactly."""
    if grad.shape != weight.shape:
        raise ValueError(f"grad shape {tuple(grad.shape)} != weight shape {tuple(weight.shape)}")
    act = wanda_scores(weight, norms)
    if alpha == 0:
        return act
    return act + (alpha * math.sqrt(n_samples)) * (weight.detach().abs() * grad)


def gblm_prune_(
    model: nn.Module,
    ids: torch.Tensor,
    sparsity: float = 0.5,
    alpha: float = 100.0,
    grads: dict[str, torch.Tensor] | None = None,
    batch_size: int = 16,
) -> dict[str, torch.Tensor]:
    """GBLM-Pruner, in place, on every block Linear of a tinylm decoder, calibrated on ``ids`` ``[N, T]``
    (``grads``: precomputed :func:`gradient_l2`, else taken here on the dense model). Returns the keep masks."""
    check_supported(model)
    check_sparsity(sparsity)
    check_alpha(alpha)
    if grads is None:
        grads = gradient_l2(model, ids) if alpha else {}
    n = ids.shape[0]

    def score(name: str, weight: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
        grad = grads[name] if alpha else torch.zeros_like(weight)
        return gblm_scores(weight, norms, grad, alpha, n)

    return prune_sequential_(model, ids, score, sparsity, "row", batch_size)
