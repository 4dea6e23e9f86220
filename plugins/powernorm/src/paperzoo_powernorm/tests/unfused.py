"""An unfused PowerNorm written op by op (the layer's earlier implementation), as a test reference.

GroupScaling and the affine map are plain autograd; only PN's approximate backward is a custom
function, written as Algorithm 1 states it: ``x_tilde = g - nu x_hat``, ``ema_gz += mean(x_tilde x_hat)``
over the kept tokens, ``dL/dx = x_tilde / sqrt(sigma_B^2 + eps)``. The statistics and buffers are
those of a ``PowerNorm`` passed in, so that a fused layer and this reference can run side by side on
copies of one state.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def _token_mean(values: Tensor, keep: Tensor | None) -> Tensor:
    if keep is None:
        return values.mean(0)
    return (values * keep.unsqueeze(-1)).sum(0) / keep.sum().clamp_min(1.0)


class _ApproximateBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, scale_sq, batch_sq, ema_gz, alpha_bkw, eps, keep):
        x_hat = x * torch.rsqrt(scale_sq + eps)
        ctx.save_for_backward(x_hat, batch_sq, keep)
        ctx.ema_gz, ctx.alpha_bkw, ctx.eps = ema_gz, alpha_bkw, eps
        return x_hat

    @staticmethod
    def backward(ctx: Any, grad_x_hat):
        x_hat, batch_sq, keep = ctx.saved_tensors
        x_tilde = grad_x_hat - (1.0 - ctx.alpha_bkw) * ctx.ema_gz * x_hat
        with torch.no_grad():
            ctx.ema_gz.add_(_token_mean(x_tilde * x_hat, keep))
        return x_tilde * torch.rsqrt(batch_sq + ctx.eps), None, None, None, None, None, None


def unfused_forward(norm: Any, x: Tensor, pad_mask: Tensor | None = None) -> Tensor:
    """``norm``'s output for ``x``, computed op by op, advancing ``norm``'s buffers as the layer does."""
    h = x
    if norm.group_num is not None:
        groups = h.unflatten(-1, (norm.group_num, -1))
        h = (groups / torch.sqrt(groups.square().mean(-1, keepdim=True) + norm.eps)).flatten(-2)
    flat = h.reshape(-1, norm.num_features)
    if norm.training:
        keep = None if pad_mask is None else (~pad_mask).reshape(-1).to(flat.dtype)
        with torch.no_grad():
            norm.iters.add_(1)
            t = int(norm.iters)
            batch_sq = _token_mean(flat.square(), keep)
            scale_sq = batch_sq if t <= norm.warmup_iters else norm.running_phi.clone()
            phi = norm.running_phi
            if t < norm.warmup_iters:
                phi.copy_(phi * (t - 1) / t + batch_sq / t)
            phi.copy_(norm.alpha_fwd * phi + (1.0 - norm.alpha_fwd) * batch_sq)
        x_hat = _ApproximateBackward.apply(
            flat, scale_sq, batch_sq, norm.ema_gz, norm.alpha_bkw, norm.eps, keep
        )
    else:
        x_hat = flat / torch.sqrt(norm.running_phi + norm.eps)
    if norm.affine:
        x_hat = x_hat * norm.weight + norm.bias
    return x_hat.reshape(x.shape)
