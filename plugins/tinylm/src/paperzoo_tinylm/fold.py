"""Fold an eval-mode affine (an eval-mode BatchNorm, the gain and bias of a LayerNorm or RMSNorm) into the
Linear layers that read its output.

A norm followed by a Linear computes ``W (s * n(x) + t) + b``; folding rewrites it as
``(W diag(s)) n(x) + (W t + b)``, so the norm keeps only its normalisation (``n``) and the Linear absorbs
the affine. An eval-mode BatchNorm is affine as a whole (``s = gamma / sqrt(var + eps)``,
``t = beta - mean * s``), so it folds away entirely and is replaced by ``nn.Identity``.
"""

from __future__ import annotations

import torch
from torch import nn


def norm_affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The per-feature ``(scale, shift)`` that :func:`fold_norm` moves out of ``norm``.

    LayerNorm and any norm with a ``weight`` (and optional ``bias``) over the last dimension (RMSNorm):
    its gain and bias (``None`` without a bias). Eval-mode BatchNorm: its whole affine map.
    """
    if isinstance(norm, nn.modules.batchnorm._BatchNorm):
        if norm.training and norm.track_running_stats:
            raise ValueError(f"{type(norm).__name__} is in training mode: call .eval() before folding")
        if norm.running_mean is None or norm.running_var is None:
            raise ValueError(f"{type(norm).__name__} has no running statistics to fold")
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        shift = -norm.running_mean * scale
        if norm.bias is not None:
            shift = shift + norm.bias
        return scale.detach(), shift.detach()
    weight = getattr(norm, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 1:
        raise ValueError(f"{type(norm).__name__} has no per-feature gain to fold")
    bias = getattr(norm, "bias", None)
    return weight.detach(), bias.detach() if isinstance(bias, torch.Tensor) else None


@torch.no_grad()
def fold_affine_into_linear(
    linear: nn.Linear, scale: torch.Tensor, shift: torch.Tensor | None = None, add_bias: bool = False
) -> nn.Linear:
    """Rewrite ``linear`` in place so that ``linear(x)`` equals the old ``linear(scale * x + shift)``.

    :param add_bias: give a bias-free ``linear`` a bias when ``shift`` is non-zero (otherwise that is a
        ``ValueError``, since the Linear could not express it).
    """
    if scale.shape != (linear.in_features,):
        raise ValueError(f"scale has shape {tuple(scale.shape)}; expected ({linear.in_features},)")
    if shift is not None and bool(shift.ne(0).any()):
        moved = linear.weight @ shift.to(linear.weight.dtype)
        if linear.bias is None:
            if not add_bias:
                raise ValueError("the Linear has no bias to absorb the shift; pass add_bias=True")
            linear.bias = nn.Parameter(torch.zeros_like(moved))
        linear.bias.add_(moved)
    linear.weight.mul_(scale.to(linear.weight.dtype))
    return linear


@torch.no_grad()
def fold_norm(norm: nn.Module, *linears: nn.Linear, add_bias: bool = False) -> nn.Module:
    """Fold ``norm``'s affine (:func:`norm_affine`) into every Linear that reads its output, in place.

    Returns the module that replaces ``norm``: ``nn.Identity()`` for an eval-mode BatchNorm, else
    ``norm`` itself with its gain reset to ones and its bias to zeros.
    """
    scale, shift = norm_affine(norm)
    scale, shift = scale.clone(), None if shift is None else shift.clone()
    for linear in linears:
        fold_affine_into_linear(linear, scale, shift, add_bias)
    if isinstance(norm, nn.modules.batchnorm._BatchNorm):
        return nn.Identity()
    norm.weight.fill_(1.0)
    if isinstance(getattr(norm, "bias", None), torch.Tensor):
        norm.bias.zero_()
    return norm
