"""The PST layer: a frozen Linear with a low-rank weight update and a low-rank plus structured importance.

``PSTLinear`` (Li et al., IJCAI 2022, the official ``SparseLinear`` of ``pst/sparse.py``) computes

    W' = W + beta U V                                        (frozen W, trainable U [out, r_w], V [r_w, in])
    S  = |W'| + alpha1 A B + alpha2 (R 1^T + 1 C^T)           (A [out, r_m], B [r_m, in], R [out], C [in])
    M  = 0 at the int(s * numel) lowest entries of S, 1 elsewhere (one threshold per matrix)
    y  = x (M ⊙ W')^T + b

The mask passes its gradient straight through to ``S`` (the official binariser), so ``A, B, R, C`` learn
from the loss, and ``U, V`` learn through both ``W'`` and ``|W'|``. Initialisation as the official code:
``U, A ~ N(0, 1)``, ``V = B = 0``, ``R = C = 0`` (so ``W' = W`` and ``S = |W|`` at the start).
"""

from __future__ import annotations

import torch
from paperzoo_compress.sparsity import MaskedLinear
from torch import nn


class TopKBinarizer(torch.autograd.Function):
    """Mask of ``scores``: 0 at the ``int(numel * sparsity)`` lowest scores of the whole tensor, 1
    elsewhere; the backward pass returns the incoming gradient unchanged (straight-through)."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, sparsity: float) -> torch.Tensor:  # type: ignore[override]
        return prune_mask(scores, sparsity).to(scores.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad, None


@torch.no_grad()
def prune_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Boolean mask, ``False`` at the ``int(numel * sparsity)`` lowest entries of ``scores`` (ties: the lower
    flat index is pruned first; the official code's unstable ``argsort`` leaves ties unspecified)."""
    pruned = int(scores.numel() * sparsity)
    order = torch.argsort(scores.reshape(-1), stable=True)[:pruned]
    mask = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    mask[order] = False
    return mask.reshape(scores.shape)


class PSTLinear(nn.Module):
    """Parameter-efficient sparse Linear (PST) built from a ``linear`` whose weight and bias it shares and
    freezes (``requires_grad = False``).

    :param linear: the ``nn.Linear`` to sparsify.
    :param weight_rank: rank ``r_w`` of the weight update ``U V`` (official default 8; 0: no update).
    :param mask_rank: rank ``r_m`` of the data-driven importance ``A B`` (official default 8).
    :param weight_beta: ``beta``, the scale of ``U V``.
    :param mask_alpha1: ``alpha1``, the scale of ``A B``.
    :param mask_alpha2: ``alpha2``, the scale of ``R 1^T + 1 C^T``.
    :param structured: train ``R, C`` (PST); ``False`` together with ``mask_rank=0`` gives magnitude
        pruning of ``W + beta U V``.
    """

    def __init__(
        self,
        linear: nn.Linear,
        weight_rank: int = 8,
        mask_rank: int = 8,
        weight_beta: float = 1.0,
        mask_alpha1: float = 1.0,
        mask_alpha2: float = 1.0,
        structured: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"wraps an nn.Linear, got {type(linear).__name__}")
        out_f, in_f = linear.out_features, linear.in_features
        self.in_features, self.out_features = in_f, out_f
        self.weight, self.bias = linear.weight, linear.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.weight_rank, self.mask_rank, self.structured = weight_rank, mask_rank, structured
        self.weight_beta, self.mask_alpha1, self.mask_alpha2 = weight_beta, mask_alpha1, mask_alpha2
        kw = {"device": linear.weight.device, "dtype": linear.weight.dtype}
        self.weight_U = nn.Parameter(torch.randn(out_f, weight_rank, **kw))
        self.weight_V = nn.Parameter(torch.zeros(weight_rank, in_f, **kw))
        self.mask_scores_A = nn.Parameter(torch.randn(out_f, mask_rank, **kw))
        self.mask_scores_B = nn.Parameter(torch.zeros(mask_rank, in_f, **kw))
        if structured:
            self.mask_scores_R = nn.Parameter(torch.zeros(out_f, **kw))
            self.mask_scores_C = nn.Parameter(torch.zeros(in_f, **kw))
        self.sparsity = 0.0

    def trainable(self) -> list[nn.Parameter]:
        """The parameters PST trains (``U, V, A, B`` and ``R, C`` when structured)."""
        names = ["weight_U", "weight_V", "mask_scores_A", "mask_scores_B"]
        names += ["mask_scores_R", "mask_scores_C"] if self.structured else []
        return [getattr(self, name) for name in names]

    def updated_weight(self) -> torch.Tensor:
        """``W + beta U V``."""
        return self.weight + self.weight_beta * self.weight_U @ self.weight_V

    def importance(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``S = |W'| + alpha1 A B + alpha2 (R 1^T + 1 C^T)`` (``weight``: ``W'`` if already computed)."""
        w = self.updated_weight() if weight is None else weight
        scores = w.abs() + self.mask_alpha1 * self.mask_scores_A @ self.mask_scores_B
        if self.structured:
            scores = scores + self.mask_alpha2 * (
                self.mask_scores_R.unsqueeze(1) + self.mask_scores_C.unsqueeze(0)
            )
        return scores

    def mask(self) -> torch.Tensor:
        """The boolean mask the layer computes with at its current ``sparsity``."""
        with torch.no_grad():
            return prune_mask(self.importance(), self.sparsity)

    def masked_weight(self) -> torch.Tensor:
        """``M ⊙ W'``, with the straight-through mask (differentiable in every trainable parameter)."""
        w = self.updated_weight()
        return TopKBinarizer.apply(self.importance(w), self.sparsity) * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.masked_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"weight_rank={self.weight_rank}, mask_rank={self.mask_rank}, structured={self.structured}, "
            f"sparsity={self.sparsity:.4f}"
        )


def trainable_count(
    out_features: int, in_features: int, weight_rank: int, mask_rank: int, structured: bool
) -> int:
    """PST's trainable parameters for one ``[out, in]`` matrix: ``(r_w + r_m + [structured]) (out + in)``."""
    return (weight_rank + mask_rank + int(structured)) * (out_features + in_features)


@torch.no_grad()
def to_masked_linear(layer: PSTLinear) -> MaskedLinear:
    """The deployable layer: a new ``nn.Linear`` holding ``W + beta U V`` (and the bias), wrapped in the
    kit's :class:`MaskedLinear` with the layer's current mask (the official ``convert``); ``layer`` is
    left unchanged."""
    linear = nn.Linear(
        layer.in_features,
        layer.out_features,
        bias=layer.bias is not None,
        device=layer.weight.device,
        dtype=layer.weight.dtype,
    )
    linear.weight.copy_(layer.updated_weight())
    if layer.bias is not None:
        linear.bias.copy_(layer.bias)
    return MaskedLinear(linear, layer.mask())
