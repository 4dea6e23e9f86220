"""Weight sparsity pieces: magnitude N:M masks, unstructured magnitude masks, a masked Linear and
density helpers, shared by the sparse-training and pruning plugins.

Conventions: a weight is ``[out, in]`` (an ``nn.Linear``'s); an N:M mask keeps the ``n`` largest
magnitudes of every group of ``m`` consecutive input channels of a row (the layout sparse tensor cores
accelerate); masks are boolean; ties are broken deterministically, towards the lower index.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from paperzoo.errors import ParamError
from torch import nn


def check_nm(n: int, m: int, in_features: int | None = None) -> None:
    """Raise :class:`~paperzoo.errors.ParamError` (a ``ValueError``) naming ``n`` or ``m`` unless
    ``1 <= n <= m`` (integers) and ``m`` divides ``in_features`` (when given)."""
    for name, value in (("n", n), ("m", m)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ParamError(name, f"{value!r}; accepted: an integer >= 1")
    if n > m:
        raise ParamError("n", f"{n}; accepted: an integer <= m ({m})")
    if in_features is not None and in_features % m:
        raise ParamError("m", f"{m}; accepted: a divisor of in_features ({in_features})")


def _keep_largest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the ``k`` largest entries of each row of ``scores`` ``[rows, width]``; among equal
    scores the lower index is kept (a stable sort of the negated scores)."""
    order = torch.argsort(-scores, dim=-1, stable=True)[:, :k]
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, order, True)


@torch.no_grad()
def nm_mask(weight: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """The magnitude N:M mask of ``weight`` ``[..., in]``: in every group of ``m`` consecutive entries
    along the last (input-channel) dimension, exactly the ``n`` of largest ``|w|`` are kept (ties: the
    lower index). Returns a boolean tensor of ``weight``'s shape."""
    check_nm(n, m, weight.shape[-1])
    groups = weight.detach().abs().reshape(-1, m)
    return _keep_largest(groups, n).reshape(weight.shape)


@torch.no_grad()
def magnitude_mask(weight: torch.Tensor, density: float) -> torch.Tensor:
    """Unstructured magnitude mask keeping ``round(density * numel)`` entries of largest ``|w|`` over the
    whole tensor (ties: the lower flat index). ``density`` in ``[0, 1]``."""
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    k = round(density * weight.numel())
    return _keep_largest(weight.detach().abs().reshape(1, -1), k).reshape(weight.shape)


def density(tensor: torch.Tensor) -> float:
    """Fraction of nonzero entries (a boolean mask: fraction of ``True``)."""
    return float(torch.count_nonzero(tensor)) / max(tensor.numel(), 1)


def is_nm_sparse(weight: torch.Tensor, n: int, m: int) -> bool:
    """Whether every group of ``m`` consecutive input channels holds at most ``n`` nonzeros."""
    check_nm(n, m, weight.shape[-1])
    return bool((weight.reshape(-1, m) != 0).sum(-1).max() <= n)


class MaskedLinear(nn.Module):
    """An ``nn.Linear`` computing with ``weight * mask``: ``y = x (W ⊙ M)^T + b``.

    Built from a ``linear`` (it shares the Linear's parameters, so an optimizer built on the model
    before the swap keeps training them) and a boolean ``mask`` of the weight's shape; the masked
    entries of the weight are zeroed in place. Their gradient is zero, so Adam's moments for them stay
    zero and decoupled weight decay (``w -= lr * wd * w``) keeps them at exactly zero: the weight itself
    stays sparse, not only the product.
    """

    def __init__(self, linear: nn.Linear, mask: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"wraps an nn.Linear, got {type(linear).__name__}")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight, self.bias = linear.weight, linear.bias
        self.register_buffer("mask", torch.ones_like(linear.weight, dtype=torch.bool))
        self.set_mask_(mask)

    @torch.no_grad()
    def set_mask_(self, mask: torch.Tensor) -> None:
        """Replace the mask and zero the weight where it is ``False``."""
        if mask.shape != self.weight.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} != weight shape {tuple(self.weight.shape)}")
        self.mask.copy_(mask.to(torch.bool))
        self.weight.mul_(self.mask)

    def masked_weight(self) -> torch.Tensor:
        """``W ⊙ M``, the weight the layer computes with."""
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.masked_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"density={density(self.mask):.4f}, bias={self.bias is not None}"
        )


def sparsify_model(
    model: nn.Module,
    mask_fn: Callable[[torch.Tensor], torch.Tensor],
    select: Callable[[str, nn.Linear], bool] | None = None,
) -> dict[str, MaskedLinear]:
    """Replace every ``nn.Linear`` of ``model`` (those ``select(name, linear)`` accepts) in place by a
    :class:`MaskedLinear` with mask ``mask_fn(linear.weight)`` (e.g. ``lambda w: nm_mask(w, 2, 4)``);
    returns the new modules by name."""
    found = {
        name: mod
        for name, mod in model.named_modules()
        if type(mod) is nn.Linear and (select is None or select(name, mod))
    }
    out = {}
    for name, linear in found.items():
        parent, _, leaf = name.rpartition(".")
        out[name] = MaskedLinear(linear, mask_fn(linear.weight))
        setattr(model.get_submodule(parent) if parent else model, leaf, out[name])
    return out


def model_density(model: nn.Module) -> float:
    """Fraction of nonzero weights over the ``nn.Linear`` and :class:`MaskedLinear` modules of ``model``
    (counting what each computes with: ``W ⊙ M`` for a masked one)."""
    nonzero, total = 0, 0
    for mod in model.modules():
        if isinstance(mod, MaskedLinear):
            w = mod.masked_weight()
        elif isinstance(mod, nn.Linear):
            w = mod.weight
        else:
            continue
        nonzero, total = nonzero + int(torch.count_nonzero(w)), total + w.numel()
    return nonzero / max(total, 1)
