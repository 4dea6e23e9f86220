"""Top-k thresholding of the MLP activation map (Li et al., 2023, Section 4, "Top-k Transformers").

The paper's Top-k Transformer computes its MLP as ``V Top_k(sigma(K^T x))`` with ``sigma`` the ReLU:
the operator keeps the ``k`` largest entries of each token's activation map, after the ReLU, and sets
the rest to zero. This module is that ``Top_k(relu(z))`` over the last dimension of ``z``:

* the ``k`` largest entries of each row are kept (a row with fewer than ``k`` positive entries keeps
  all of them: the ReLU has already zeroed the others), so a row has at most ``k`` nonzeros;
* ties at the ``k``-th largest value are broken deterministically: the lower index is kept;
* the gradient flows through the kept entries exactly as through a ReLU (the selection mask is a
  constant of the backward pass), and, like ``torch.relu``, only the output is saved for it;
  ``k >= width`` gives the ReLU itself, bitwise. (No double backward below ``k = width``.)

Selecting on ``z`` before the ReLU or on ``relu(z)`` after it picks the same positive entries (the
ReLU is monotone), so the output is the same either way; the module selects on ``z``.
"""

from __future__ import annotations

import torch
from torch import nn


def topk_mask(z: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the ``k`` largest entries of each row of ``z`` (last dimension), ties at the
    ``k``-th value broken toward the lower index, so exactly ``min(k, width)`` entries per row."""
    width = z.shape[-1]
    if k >= width:
        return torch.ones_like(z, dtype=torch.bool)
    kth = z.topk(k, dim=-1, sorted=False).values.amin(dim=-1, keepdim=True)  # values are unique
    above = z > kth
    tied = z == kth
    room = k - above.sum(dim=-1, keepdim=True)  # how many of the tied entries still fit (at least 1)
    if bool((tied.sum(dim=-1, keepdim=True) > room).any()):  # more ties than room: lowest indices first
        tied &= tied.cumsum(dim=-1) <= room
    return above.logical_or_(tied)


class _TopKReLU(torch.autograd.Function):
    """``relu(z)`` zeroed off the Top-k mask; saves only its output, as ``torch.relu`` does: the
    gradient ``g * mask * (z > 0)`` is ``g * (y > 0)``, since ``y > 0`` exactly where both hold."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, k: int) -> torch.Tensor:
        y = torch.relu(z).masked_fill_(~topk_mask(z, k), 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (y,) = ctx.saved_tensors
        return grad.masked_fill(y <= 0, 0), None


def topk_relu(z: torch.Tensor, k: int) -> torch.Tensor:
    """``Top_k(relu(z))`` over the last dimension (see the module docstring)."""
    if k >= z.shape[-1]:
        return torch.relu(z)
    return _TopKReLU.apply(z, k)


class LazyNeuronTopK(nn.Module):
    """The Top-k activation: ReLU, then keep the ``k`` largest activations of each token.

    :param base: the activation it replaces, when built by a config ``patches`` entry (an ``nn.ReLU``;
        ``None`` when built on its own, e.g. by tinylm's ``activation`` slot).
    :param k: activations kept per token, at least 1 (``k`` at or above the width: the plain ReLU).
    """

    def __init__(self, base: nn.Module | None = None, k: int = 16) -> None:
        super().__init__()
        if base is not None and not isinstance(base, nn.ReLU):
            raise TypeError(f"replaces an nn.ReLU, got {type(base).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k: got {k!r}; accepted: an integer >= 1")
        self.k = k

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return topk_relu(z, self.k)

    def extra_repr(self) -> str:
        return f"k={self.k}"
