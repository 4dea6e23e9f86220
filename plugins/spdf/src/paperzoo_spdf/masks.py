"""Static random unstructured masks for sparse pre-training, and the switch to dense fine-tuning.

A sparse matrix keeps exactly ``numel - round(sparsity * numel)`` of its entries, chosen uniformly at
random (a random permutation drawn from a seeded generator), and computes through the compress kit's
:class:`~paperzoo_compress.sparsity.MaskedLinear`: masked weights are zeroed, receive zero gradient and
stay exactly zero under AdamW's decoupled weight decay. Densifying opens the masks: the formerly masked
weights start at exactly zero (so the function is unchanged, bit for bit) and learn from then on.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from paperzoo_compress.sparsity import MaskedLinear, sparsify_model
from torch import nn


def random_mask(weight: torch.Tensor, sparsity: float, generator: torch.Generator) -> torch.Tensor:
    """Boolean mask of ``weight``'s shape with exactly ``round(sparsity * numel)`` ``False`` entries,
    their positions uniform over all such subsets (the first entries of a random permutation)."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    n = weight.numel()
    drop = torch.randperm(n, generator=generator)[: round(sparsity * n)]
    mask = torch.ones(n, dtype=torch.bool)
    mask[drop] = False
    return mask.reshape(weight.shape).to(weight.device)


def layer_selector(layers: str | None, model: nn.Module) -> Callable[[str, nn.Linear], bool]:
    """Which ``nn.Linear`` modules are sparsified: those whose name matches the regular expression
    ``layers``; by default (``None``) the transformer blocks' Linears (names starting ``blocks.``: the
    attention and MLP matrices of a tinylm model, its embeddings and head staying dense) when the model
    has any, else every Linear but the model's last (its output layer)."""
    if layers is not None:
        pattern = re.compile(layers)
        return lambda name, _: pattern.search(name) is not None
    names = [name for name, mod in model.named_modules() if type(mod) is nn.Linear]
    if any(name.startswith("blocks.") for name in names):
        return lambda name, _: name.startswith("blocks.")
    keep = set(names[:-1])
    return lambda name, _: name in keep


def sparsify_random(
    model: nn.Module, sparsity: float, seed: int = 0, layers: str | None = None
) -> dict[str, MaskedLinear]:
    """Replace, in place, the selected ``nn.Linear`` modules (see :func:`layer_selector`) by
    ``MaskedLinear`` modules with static random masks of the given ``sparsity`` (module by module in
    ``named_modules`` order, from one generator seeded with ``seed``); returns them by name. The
    parameters are shared, so an optimizer built before the swap keeps training them."""
    generator = torch.Generator().manual_seed(seed)
    return sparsify_model(model, lambda w: random_mask(w, sparsity, generator), layer_selector(layers, model))


@torch.no_grad()
def open_masks_(model: nn.Module) -> int:
    """Dense fine-tuning, keeping the modules: every ``MaskedLinear`` mask set to all ones. The weights
    are untouched (masked ones are exactly zero), so the function is unchanged bit for bit; returns the
    number of weights unmasked."""
    opened = 0
    for mod in model.modules():
        if isinstance(mod, MaskedLinear):
            opened += int((~mod.mask).sum())
            mod.set_mask_(torch.ones_like(mod.mask))
    return opened


def densify_(model: nn.Module) -> dict[str, nn.Linear]:
    """Dense fine-tuning, as plain layers: every ``MaskedLinear`` replaced in place by an ``nn.Linear``
    holding the same weight and bias ``Parameter`` objects (an existing optimizer keeps training them;
    the formerly masked weights are exactly zero and now receive gradients). Returns the new Linears."""
    found = {name: mod for name, mod in model.named_modules() if isinstance(mod, MaskedLinear)}
    out = {}
    for name, masked in found.items():
        linear = nn.Linear(masked.in_features, masked.out_features, bias=masked.bias is not None)
        linear.weight, linear.bias = masked.weight, masked.bias
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, linear)
        out[name] = linear
    return out
