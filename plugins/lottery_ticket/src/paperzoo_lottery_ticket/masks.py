"""Pruning masks: which weights are prunable, magnitude pruning of the survivors, and applying masks.

Notation of Frankle & Carbin (2019): a network ``f(x; theta)``, a binary mask ``m`` with the shape of
the prunable weights, and the pruned network ``f(x; m ⊙ theta)``. One round of iterative magnitude
pruning (Section 2, step 3) removes the ``p%`` surviving weights of smallest magnitude::

    m'_i = 0   if m_i = 0  or  |theta_i| is among the round(p * sum_j m_j) smallest |theta_j| with m_j = 1
    m'_i = m_i otherwise

where the sum runs over one layer (layer-wise pruning, the paper's LeNet and Conv-2/4/6) or over a
pool of layers (global pruning, the paper's VGG-19 and ResNet-18).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd


@dataclass(frozen=True)
class Prunable:
    """One prunable weight tensor: the ``weight`` of a Linear or convolution module.

    :param name: the parameter's name in ``model.named_parameters()``.
    :param module: the owning module's name.
    :param kind: ``linear``, ``conv`` or ``output``.
    """

    name: str
    module: str
    kind: str
    param: nn.Parameter


def prunable_weights(model: nn.Module, output_layer: str | None = None) -> list[Prunable]:
    """The weights of every trainable Linear / Conv module, in module order (biases and normalisation
    parameters are never pruned). The output layer is the module named ``output_layer``, by default
    the last prunable module."""
    found: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()
    for name, module in model.named_modules():
        if (
            isinstance(module, (nn.Linear, _ConvNd))
            and module.weight.requires_grad
            and id(module.weight) not in seen
        ):
            seen.add(id(module.weight))
            found.append((name, module))
    if not found:
        raise ValueError("the model has no trainable Linear or convolution weight to prune")
    names = [n for n, _ in found]
    if output_layer is None:
        output_layer = names[-1]
    elif output_layer not in names:
        raise ValueError(f"output_layer {output_layer!r} is not a prunable module; prunable: {names}")
    out = []
    for name, module in found:
        kind = "output" if name == output_layer else ("conv" if isinstance(module, _ConvNd) else "linear")
        out.append(Prunable(f"{name}.weight" if name else "weight", name, kind, module.weight))
    return out


def magnitude_prune(
    weights: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    groups: Sequence[int],
    rates: Sequence[float],
) -> list[torch.Tensor]:
    """One round of magnitude pruning over pools of tensors, in a single sort.

    Tensor ``i`` belongs to pool ``groups[i]``; pool ``g`` loses the ``round(rates[g] * n_g)`` surviving
    entries of smallest ``|w|`` (``n_g`` = its surviving entries; round half to even, as Python's and
    ``torch.nn.utils.prune``'s). Already-pruned entries stay pruned.

    :param weights: the trained weights.
    :param masks: boolean masks of the same shapes (True: survives).
    :param groups: the pool of each tensor, ``0 .. len(rates) - 1``.
    :param rates: the fraction of survivors each pool prunes.
    :returns: the new boolean masks.
    """
    device = weights[0].device
    sizes = [w.numel() for w in weights]
    flat_mask = torch.cat([m.reshape(-1) for m in masks])
    # score_i = |w_i| for survivors, +inf for pruned entries, so survivors sort first within a pool
    scores = torch.cat([w.detach().reshape(-1).abs().float() for w in weights]).masked_fill(
        ~flat_mask, float("inf")
    )
    pool_of_tensor = torch.as_tensor(list(groups), device=device, dtype=torch.long)
    pool = torch.repeat_interleave(pool_of_tensor, torch.as_tensor(sizes, device=device))
    n_pools = len(rates)
    survivors = torch.zeros(n_pools, dtype=torch.long, device=device).index_add_(0, pool, flat_mask.long())
    pool_sizes = torch.zeros(n_pools, dtype=torch.long, device=device).index_add_(
        0, pool, torch.ones_like(pool)
    )
    n_prune = torch.round(torch.as_tensor(list(rates), dtype=torch.float64, device=device) * survivors).long()
    # sort by (pool, score): a stable sort by score, then a stable sort by pool
    order = torch.argsort(scores, stable=True)
    order = order[torch.argsort(pool[order], stable=True)]
    sorted_pool = pool[order]
    starts = torch.cumsum(pool_sizes, 0) - pool_sizes
    rank = torch.arange(len(order), device=device) - starts[sorted_pool]
    new_mask = flat_mask.clone()
    new_mask[order[rank < n_prune[sorted_pool]]] = False
    return [m.view_as(w) for m, w in zip(new_mask.split(sizes), weights)]


def pools(
    kinds: Sequence[str], strategy: str, rate: float, output_rate: float, conv_rate: float | None
) -> tuple[list[int], list[float]]:
    """Pool ids and per-pool rates for ``magnitude_prune``.

    ``layerwise``: every tensor is its own pool, at ``output_rate`` for the output layer, ``conv_rate``
    for convolutions (default ``rate``) and ``rate`` otherwise. ``global``: one pool per rate class.
    """
    conv = rate if conv_rate is None else conv_rate
    rate_of = {"linear": rate, "conv": conv, "output": output_rate}
    if strategy == "layerwise":
        return list(range(len(kinds))), [rate_of[k] for k in kinds]
    if strategy != "global":
        raise ValueError(f"strategy must be 'layerwise' or 'global', got {strategy!r}")
    classes = {k: ("linear" if k == "conv" and conv_rate is None else k) for k in kinds}
    ids: dict[str, int] = {}
    for k in kinds:
        ids.setdefault(classes[k], len(ids))
    return [ids[classes[k]] for k in kinds], [rate_of[c] for c in ids]


@torch.no_grad()
def apply_masks(tensors: Sequence[torch.Tensor | None], masks: Sequence[torch.Tensor]) -> None:
    """``t <- m ⊙ t`` in place for every tensor that exists (weights, or their gradients); ``masks``
    hold 0/1 in the tensors' dtype."""
    pairs = [(t, m) for t, m in zip(tensors, masks) if t is not None]
    if pairs:
        torch._foreach_mul_([t for t, _ in pairs], [m for _, m in pairs])


def density(masks: Sequence[torch.Tensor]) -> float:
    """Surviving fraction ``sum(m) / |m|`` of all prunable weights."""
    kept = torch.stack([m.sum() for m in masks]).sum()
    return float(kept) / sum(m.numel() for m in masks)
