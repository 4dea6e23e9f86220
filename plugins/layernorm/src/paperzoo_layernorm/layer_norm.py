"""Layer normalization (Ba, Kiros and Hinton, 2016), Sec. 3, Eq. (3)-(4).

For the ``H`` summed inputs ``a`` of one example (here: the trailing ``normalized_shape`` dims),

    mu = 1/H sum_i a_i,    sigma^2 = 1/H sum_i (a_i - mu)^2,
    y  = gamma * (a - mu) / sqrt(sigma^2 + eps) + beta.

The statistics come from one example alone, so training and evaluation compute the same function and
the result does not depend on the other examples of the batch. ``eps`` (inside the square root, as in
``torch.nn.LayerNorm``) is not in the paper's equations; it guards constant inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo.errors import ParamError
from torch import nn


def layer_norm(
    x: torch.Tensor,
    dims: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalise ``x`` over its last ``dims`` dimensions, then apply the gain ``weight`` and ``bias``:
    Eq. (3)-(4) above, ``y = gamma * (a - mu) / sqrt(sigma^2 + eps) + beta``.

    torch's fused ``layer_norm`` kernel computes exactly this function (mean and biased variance over
    the normalised dimensions, ``eps`` inside the square root); the tests check it against the
    equations written out in float64. One kernel each way, saving only the per-example statistics."""
    return F.layer_norm(x, x.shape[x.dim() - dims :], weight, bias, eps)


class BaLayerNorm(nn.Module):
    """Layer normalization over the trailing ``normalized_shape`` dimensions of each example.

    :param normalized_shape: size(s) of the trailing dimension(s) normalised together (the hidden units).
    :param eps: added to the variance before the square root.
    :param elementwise_affine: learn the per-unit gain ``gamma`` (ones at initialisation).
    :param bias: learn the per-unit bias ``beta`` (zeros at initialisation; with ``elementwise_affine``).
    """

    def __init__(
        self,
        normalized_shape: int | list[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(int(s) < 1 for s in shape):
            raise ParamError(
                "normalized_shape", f"got {normalized_shape!r}; accepted: a positive int or list of them"
            )
        if not eps > 0:
            raise ParamError("eps", f"got {eps}; accepted: a positive float")
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(self.normalized_shape)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(self.normalized_shape)) if elementwise_affine and bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-len(self.normalized_shape) :]) != self.normalized_shape:
            raise ValueError(
                f"expected an input ending in {list(self.normalized_shape)}, got shape {list(x.shape)}"
            )
        return layer_norm(x, len(self.normalized_shape), self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
