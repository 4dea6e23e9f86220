"""Pruning scores and one-shot pruning of a tinylm decoder: the baselines every pruning plugin compares to.

- magnitude: score ``|W_ij|``; compared over the whole layer (every weight of the matrix competes).
- Wanda (Sun, Liu, Bair, Kolter 2023, arXiv:2306.11695): score ``|W_ij| * ||X_j||_2``, the weight times
  the l2 norm of input channel ``j`` over every calibration token; compared within each output row.

A score is ``[out, in]`` (an ``nn.Linear``'s weight layout); a mask is boolean, ``True`` = kept. Pruning
``sparsity`` of a comparison group of ``n`` entries removes exactly ``int(n * sparsity)`` entries, those of
lowest score (a stable ascending sort, as in Wanda's code: among equal scores the lower index is pruned).

One-shot pruning is sequential over blocks, as in Wanda's code: the calibration inputs of block ``i`` are
those of the model whose blocks ``< i`` are already pruned, and every Linear of block ``i`` is scored on
the inputs of the dense block ``i``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from paperzoo_compress.calib import block_inputs, linear_inputs

#: ``score_fn(name, weight, input_norms) -> scores`` (``name`` e.g. ``blocks.0.attn.q_proj``).
ScoreFn = Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]


def check_sparsity(sparsity: float) -> None:
    """Raise ``ValueError`` unless ``0 <= sparsity < 1`` (a real number)."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")


def prune_count(n: int, sparsity: float) -> int:
    """Entries pruned from a comparison group of ``n``: ``int(n * sparsity)`` (floor, as Wanda's code)."""
    check_sparsity(sparsity)
    return int(n * sparsity)


def magnitude_scores(weight: torch.Tensor) -> torch.Tensor:
    """``|W|``."""
    return weight.detach().abs()


def input_norms(x: torch.Tensor) -> torch.Tensor:
    """Per input channel l2 norm ``||X_j||_2`` over every token of ``x`` ``[..., in]`` (at least float32)."""
    x = x.detach().reshape(-1, x.shape[-1])
    return x.to(torch.promote_types(x.dtype, torch.float32)).square().sum(0).sqrt()


def wanda_scores(weight: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """Wanda's ``|W_ij| * ||X_j||_2`` for ``weight`` ``[out, in]`` and ``norms`` ``[in]``."""
    if norms.shape != weight.shape[-1:]:
        raise ValueError(f"norms shape {tuple(norms.shape)} != ({weight.shape[-1]},)")
    return weight.detach().abs() * norms


def _prune_lowest(scores: torch.Tensor, k: int) -> torch.Tensor:
    order = torch.sort(scores, dim=-1, stable=True).indices[:, :k]
    return torch.ones_like(scores, dtype=torch.bool).scatter_(-1, order, False)


@torch.no_grad()
def row_prune_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep mask pruning exactly ``int(in * sparsity)`` entries of lowest score in every output row."""
    return _prune_lowest(
        scores.reshape(-1, scores.shape[-1]), prune_count(scores.shape[-1], sparsity)
    ).reshape(scores.shape)


@torch.no_grad()
def layer_prune_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep mask pruning exactly ``int(numel * sparsity)`` entries of lowest score over the whole tensor."""
    k = prune_count(scores.numel(), sparsity)
    return _prune_lowest(scores.reshape(1, -1), k).reshape(scores.shape)


def _block_linears(block: nn.Module, prefix: str) -> dict[str, nn.Linear]:
    return {f"{prefix}.{n}": m for n, m in block.named_modules() if isinstance(m, nn.Linear)}


@torch.no_grad()
def block_input_norms(
    model: nn.Module, ids: torch.Tensor, index: int, batch_size: int = 16
) -> dict[str, torch.Tensor]:
    """``||X_j||_2`` of the input of every Linear of block ``index`` (names ``blocks.<i>.<linear>``) over
    every token of ``ids`` ``[N, T]``, the model run as it is now, in chunks of ``batch_size`` rows."""
    sums: dict[str, torch.Tensor] = {}
    block = model.blocks[index]
    for chunk in ids.split(batch_size):
        points = block_inputs(model, chunk)[index]
        for name, x in linear_inputs(block, points).items():
            sq = input_norms(x).square()
            key = f"blocks.{index}.{name}"
            sums[key] = sums[key] + sq if key in sums else sq
    return {k: v.sqrt() for k, v in sums.items()}


@torch.no_grad()
def calib_input_norms(model: nn.Module, ids: torch.Tensor, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """``||X_j||_2`` of the input of every block Linear of the model as it is (no pruning in between)."""
    out: dict[str, torch.Tensor] = {}
    for i in range(len(model.blocks)):
        out.update(block_input_norms(model, ids, i, batch_size))
    return out


@torch.no_grad()
def prune_sequential_(
    model: nn.Module,
    ids: torch.Tensor,
    score_fn: ScoreFn,
    sparsity: float,
    per: str = "row",
    batch_size: int = 16,
) -> dict[str, torch.Tensor]:
    """In place, block by block: score every Linear of block ``i`` with ``score_fn(name, weight, norms)``
    (``norms``: its input's ``||X_j||_2`` over ``ids``, blocks ``< i`` already pruned), zero the pruned
    weights (``per`` ``row``: ``row_prune_mask``; ``layer``: ``layer_prune_mask``). Returns the keep
    masks by name."""
    check_sparsity(sparsity)
    if per not in ("row", "layer"):
        raise ValueError(f"per must be 'row' or 'layer', got {per!r}")
    mask_fn = row_prune_mask if per == "row" else layer_prune_mask
    masks: dict[str, torch.Tensor] = {}
    for i, block in enumerate(model.blocks):
        norms = block_input_norms(model, ids, i, batch_size)
        for name, linear in _block_linears(block, f"blocks.{i}").items():
            masks[name] = mask_fn(score_fn(name, linear.weight, norms[name]), sparsity)
            linear.weight.mul_(masks[name])
    return masks


def wanda_prune_(
    model: nn.Module, ids: torch.Tensor, sparsity: float, batch_size: int = 16
) -> dict[str, torch.Tensor]:
    """Wanda, in place: per-row pruning of ``|W| * ||X||_2`` with sequential calibration over ``ids``."""
    return prune_sequential_(model, ids, lambda _n, w, x: wanda_scores(w, x), sparsity, "row", batch_size)


@torch.no_grad()
def magnitude_prune_(model: nn.Module, sparsity: float, per: str = "layer") -> dict[str, torch.Tensor]:
    """Magnitude pruning of every block Linear, in place (``per`` ``layer``, the usual baseline, or ``row``)."""
    check_sparsity(sparsity)
    if per not in ("row", "layer"):
        raise ValueError(f"per must be 'row' or 'layer', got {per!r}")
    mask_fn = row_prune_mask if per == "row" else layer_prune_mask
    masks = {}
    for i, block in enumerate(model.blocks):
        for name, linear in _block_linears(block, f"blocks.{i}").items():
            masks[name] = mask_fn(magnitude_scores(linear.weight), sparsity)
            linear.weight.mul_(masks[name])
    return masks
