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
    """One round of magnitude pruning over pools of tensors.

    Tensor ``i`` belongs to pool ``groups[i]``; pool ``g`` loses the ``round(rates[g] * n_g)`` surviving
    entries of smallest ``|w|`` (``n_g`` = its surviving entries; round half to even, as Python's and
    ``torch.nn.utils.prune``'s). Already-pruned entries stay pruned.

    Magnitudes are ranked in the weights' own dtype (a pool of mixed dtypes is compared in their
    promoted dtype, which holds every value exactly), so float64 weights closer together than float32
    can resolve are still told apart. The ranking is ``torch.nn.utils.prune``'s: ``torch.topk`` of the
    survivors' ``|w|``, concatenated in tensor order, so equal magnitudes are resolved as torch resolves
    them and the masks equal those of ``l1_unstructured`` / ``global_unstructured`` applied round
    after round.

    :param weights: the trained weights.
    :param masks: boolean masks of the same shapes (True: survives).
    :param groups: the pool of each tensor, ``0 .. len(rates) - 1``.
    :param rates: the fraction of survivors each pool prunes.
    :returns: the new boolean masks.
    """
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    new_masks = [m.clone() for m in masks]
    for g, tensors in members.items():
        flat_mask = torch.cat([masks[i].reshape(-1) for i in tensors])
        positions = flat_mask.nonzero().squeeze(1)  # the survivors, in tensor order
        scores = torch.cat([weights[i].detach().reshape(-1) for i in tensors])[positions].abs()
        n_prune = round(rates[g] * scores.numel())
        if n_prune == 0:
            continue
        smallest = torch.topk(scores, n_prune, largest=False).indices
        flat_mask[positions[smallest]] = False
        for i, part in zip(tensors, flat_mask.split([masks[i].numel() for i in tensors])):
            new_masks[i] = part.view_as(masks[i])
    return new_masks


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
