"""MaskLLM on a whole model: wrap its Linears in :class:`LearnableNMMaskLinear`, the official loss
(language-model loss minus the annealed weight regulariser), a plain mask-learning loop, and the final
hard masks as :class:`paperzoo_compress.sparsity.MaskedLinear` modules.

The official loss (``pretrain_maskllm.loss_func``) is ``loss - weight_reg * (1 - t / T) * sum_l
||W_l ⊙ mask_l||^2``: it rewards masks that keep large weights, and fades out linearly over training.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo_compress.sparsity import MaskedLinear
from torch import nn

from paperzoo_maskllm.layer import LearnableNMMaskLinear


def chosen_linears(model: nn.Module, layers: str | None) -> list[tuple[str, nn.Linear]]:
    """The ``nn.Linear`` modules whose name matches the regular expression ``layers``; by default every
    Linear but the model's last (its output layer, which the official code never sparsifies)."""
    linears = [(name, mod) for name, mod in model.named_modules() if type(mod) is nn.Linear]
    if layers is None:
        return linears[:-1]
    return [(name, mod) for name, mod in linears if re.search(layers, name)]


def apply_maskllm(
    model: nn.Module, layers: str | None = None, **params: Any
) -> dict[str, LearnableNMMaskLinear]:
    """Freeze ``model`` and replace, in place, the chosen Linears (see :func:`chosen_linears`) by
    :class:`LearnableNMMaskLinear` (``params``: its keywords); existing ones are kept and returned too.
    Afterwards only the mask logits require gradients."""
    chosen = chosen_linears(model, layers)
    model.requires_grad_(False)
    out = {name: mod for name, mod in model.named_modules() if isinstance(mod, LearnableNMMaskLinear)}
    for name, linear in chosen:
        parent, _, leaf = name.rpartition(".")
        out[name] = LearnableNMMaskLinear(linear, **params)
        setattr(model.get_submodule(parent) if parent else model, leaf, out[name])
    if not out:
        raise ParamError("layers", f"{layers!r} matches no nn.Linear of the model")
    for layer in out.values():
        layer.gate.requires_grad_(True)
    return out


def set_progress(layers: dict[str, LearnableNMMaskLinear], progress: float) -> None:
    """Set every layer's schedule position (step / total steps)."""
    for layer in layers.values():
        layer.set_progress(progress)


def weight_regulariser(layers: dict[str, LearnableNMMaskLinear]) -> torch.Tensor:
    """``sum_l ||W_l ⊙ mask_l||^2`` of the masks of the layers' last forward."""
    return torch.stack([layer.sparse_weight_norm for layer in layers.values()]).sum()


def maskllm_loss(
    loss: torch.Tensor, layers: dict[str, LearnableNMMaskLinear], weight_reg: float, progress: float
) -> torch.Tensor:
    """The official objective: ``loss - weight_reg * (1 - progress) * weight_regulariser(layers)``."""
    if weight_reg == 0:
        return loss
    return loss - weight_reg * (1 - progress) * weight_regulariser(layers)


@torch.no_grad()
def finalize(model: nn.Module) -> dict[str, MaskedLinear]:
    """Replace, in place, every :class:`LearnableNMMaskLinear` by a kit ``MaskedLinear`` holding its hard
    (argmax) mask: the deployed N:M sparse model (the weights are zeroed where masked)."""
    found = {name: mod for name, mod in model.named_modules() if isinstance(mod, LearnableNMMaskLinear)}
    out = {}
    for name, layer in found.items():
        linear = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        linear.weight, linear.bias = layer.weight, layer.bias
        parent, _, leaf = name.rpartition(".")
        out[name] = MaskedLinear(linear, layer.hard_mask())
        setattr(model.get_submodule(parent) if parent else model, leaf, out[name])
    return out


def learn_masks(
    model: nn.Module,
    ids: torch.Tensor,
    steps: int,
    batch: int = 8,
    lr: float = 1e-3,
    weight_reg: float = 1e-5,
    seed: int = 0,
    layers: str | None = None,
    **params: Any,
) -> dict[str, LearnableNMMaskLinear]:
    """Learn N:M masks of a frozen causal language model on token blocks ``ids`` ``[N, T]``: wrap its
    Linears (:func:`apply_maskllm`), then ``steps`` AdamW steps (no weight decay, constant ``lr``) on the
    mask logits of the next-token loss plus the regulariser, each on ``batch`` rows drawn with a
    generator seeded by ``seed``. Returns the layers; the model is left in eval mode (hard masks)."""
    torch.manual_seed(seed)
    found = apply_maskllm(model, layers, **params)
    opt = torch.optim.AdamW([layer.gate for layer in found.values()], lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        set_progress(found, step / steps)
        x = ids[torch.randint(len(ids), (batch,), generator=g)]
        logits = model(x).logits[:, :-1]
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        maskllm_loss(loss, found, weight_reg, step / steps).backward()
        opt.step()
    set_progress(found, 1.0)
    model.eval()
    return found
