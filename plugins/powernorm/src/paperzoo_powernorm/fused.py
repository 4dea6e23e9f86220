"""PowerNorm's forward and backward as one autograd function on ``(tokens, features)`` inputs.

The layer (GroupScaling, PN, the affine map) is a handful of reductions and elementwise products. Done
as separate autograd ops it makes a dozen passes over the activations and keeps several of them for
the backward; here each pass that the arithmetic needs is one call, the per-feature arithmetic is on
``(features,)`` vectors, the running statistics are updated in place, and only ``h`` (the
GroupScaling output; ``x`` itself without GroupScaling) and a per-token-group scale are kept for the
backward. Per feature, with ``s = sigma_B^2`` during warm-up and ``psi_{t-1}^2`` after it (``psi^2``
in eval mode), ``inv = 1 / sqrt(s + eps)``, ``rb = 1 / sqrt(sigma_B^2 + eps)``:

* forward: ``h = GroupScaling(x)``, ``x_hat = inv h``, ``y = gamma x_hat + beta``;
* backward (training): ``x_tilde = gamma dL/dy - nu_{t-1} x_hat`` and ``dL/dh = rb x_tilde`` (the
  released code's scale), computed as ``dL/dy (gamma rb) - h (nu_{t-1} inv rb)``; the correction
  ``ema_gz += mean(x_tilde x_hat)`` as ``ema_gz (1 - (1 - a_b) Gamma) + gamma inv mean(dL/dy h)`` with
  ``Gamma = mean(x_hat^2) = sigma_B^2 inv^2`` (no extra pass: ``sigma_B^2`` is known from the forward;
  with ``nu_over_padding`` these means run over every token, padding included, as in the released code);
* backward (eval): ``dL/dh = dL/dy gamma inv``;
* GroupScaling's backward, RMSNorm's: ``dL/dx = r (dL/dh - h mean_g(dL/dh h))``, ``r = 1 / sqrt(mean_g(x^2) + eps)``.

Sums over tokens and over each token's group use BatchNorm's eval-mode backward kernel (``_dot_sums``):
one vectorised pass for ``sum a b`` and ``sum a`` together, without a temporary.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class Config(NamedTuple):
    """The layer's hyperparameters and state buffers, handed to the fused function."""

    group_num: int | None
    eps: float
    alpha_fwd: float
    alpha_bkw: float
    warmup_iters: int
    running_phi: Tensor
    ema_gz: Tensor
    iters: Tensor
    nu_over_padding: bool = False


def group_rsqrt(groups: Tensor, eps: float) -> Tensor:
    """``1 / sqrt(1/|g| sum_{j in g} x_j^2 + eps)`` of ``(tokens, groups, size)``, shape ``(tokens, groups, 1)``;
    one pass over the input, no temporary of its size."""
    norm = torch.linalg.vector_norm(groups, dim=-1, keepdim=True)
    return norm.square_().div_(groups.shape[-1]).add_(eps).rsqrt_()


def _dot_sums(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``(sum a b, sum a)`` per channel (dimension 1) of ``(rows, channels[, size])`` tensors, summed
    over every other dimension, in one pass and without a temporary: BatchNorm's backward in eval mode
    with zero mean and unit variance (``invstd = 1 / sqrt(0 + 1)``) returns exactly these as its weight
    and bias gradients."""
    zeros = a.new_zeros(a.shape[1])
    _, dot, total = torch.ops.aten.native_batch_norm_backward(
        a, b, None, zeros, zeros, None, None, False, 1.0, [False, True, True]
    )
    return dot, total


def _cast(grad: Tensor | None, dtype: torch.dtype | None) -> Tensor | None:
    """A parameter's gradient in the parameter's dtype."""
    return grad if grad is None or dtype is None else grad.to(dtype)


def advance_running_phi(cfg: Config, batch_sq: Tensor, host_count: bool) -> tuple[Tensor, bool]:
    """Advance ``iters`` and ``psi^2`` in place by one training iteration; return ``1 / sqrt(s + eps)``
    for this iteration's forward pass (``s = sigma_B^2`` while ``t <= warmup_iters``, else
    ``psi_{t-1}^2``) and whether ``s`` is known to be ``sigma_B^2``.

    The released code first keeps a cumulative average of ``sigma_B^2`` while ``t < warmup_iters``,
    then always applies ``psi_t^2 = a_f psi_{t-1}^2 + (1 - a_f) sigma_B^2``. With ``host_count`` the
    iteration is read to the host (cheap on a CPU); else the branches are tensor ops (no device sync).
    """
    phi, a_f, warmup = cfg.running_phi, cfg.alpha_fwd, cfg.warmup_iters
    stat = batch_sq.to(phi.dtype)
    cfg.iters.add_(1)
    if host_count:
        t = int(cfg.iters)
        inv = torch.add(batch_sq if t <= warmup else phi.to(batch_sq.dtype), cfg.eps).rsqrt_()
        if t < warmup:
            phi.mul_((t - 1) / t).add_(stat, alpha=1.0 / t)
        phi.mul_(a_f).add_(stat, alpha=1.0 - a_f)
        return inv, t <= warmup
    t = cfg.iters
    inv = torch.where(t <= warmup, stat, phi).to(batch_sq.dtype).add_(cfg.eps).rsqrt_()
    tf = t.to(phi.dtype)
    averaged = torch.where(t < warmup, phi * (tf - 1) / tf + stat / tf, phi)
    phi.copy_(a_f * averaged + (1.0 - a_f) * stat)
    return inv, False


class PowerNormFunction(torch.autograd.Function):
    """``y = gamma * PN(GroupScaling(x)) + beta`` on ``(tokens, features)`` with PN's approximate
    backward (see the module docstring); ``training`` selects batch statistics and their updates."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        cfg: Config,
        keep: Tensor | None,
        training: bool,
    ) -> Tensor:
        tokens, features = x.shape
        r = None
        if cfg.group_num is not None:
            groups = x.view(tokens, cfg.group_num, -1)
            r = group_rsqrt(groups, cfg.eps)
            h = (groups * r).view(tokens, features)
        else:
            h = x
        batch_sq = nu_sq = rb = count = None
        if training:
            if keep is None:
                count = float(tokens)
                batch_sq = _dot_sums(h, h)[0].div_(count)  # sigma_B^2
            else:
                count = keep.sum().clamp_min(1.0)
                batch_sq = (keep @ (h * h)).div_(count)
            inv, is_batch = advance_running_phi(cfg, batch_sq, host_count=h.device.type == "cpu")
            rb = inv if is_batch else None
            nu_sq = batch_sq  # the tokens' quadratic mean in Gamma of the nu update
            if keep is not None and cfg.nu_over_padding:  # the released code's nu update: every token
                keep, count = None, float(tokens)
                nu_sq = _dot_sums(h, h)[0].div_(count)
        else:
            inv = torch.add(cfg.running_phi.to(h.dtype), cfg.eps).rsqrt_()
        w = weight.to(h.dtype) if weight is not None else None
        scale = inv if w is None else w * inv  # gamma inv
        y = h * scale if bias is None else torch.addcmul(bias.to(h.dtype), h, scale)
        ctx.save_for_backward(h, r, w, inv, scale, batch_sq, nu_sq, rb, keep)
        ctx.cfg, ctx.training, ctx.count = cfg, training, count
        ctx.param_dtype = weight.dtype if weight is not None else None
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        h, r, w, inv, scale, batch_sq, nu_sq, rb, keep = ctx.saved_tensors
        cfg: Config = ctx.cfg
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_y = grad_y.contiguous()
        grad_w = grad_b = dot = None
        if need_w or need_b or (ctx.training and keep is None):
            dot, total = _dot_sums(grad_y, h)  # sum dL/dy h, sum dL/dy
            grad_w = dot * inv if need_w else None  # sum dL/dy x_hat
            grad_b = total if need_b else None
        coef, correction = scale, None  # dL/dh = dL/dy coef - h correction
        if ctx.training:
            if rb is None:
                rb = torch.add(batch_sq, cfg.eps).rsqrt_()
            coef = rb if w is None else w * rb
            ema_gz = cfg.ema_gz
            if cfg.alpha_bkw != 1.0:
                correction = (ema_gz * (1.0 - cfg.alpha_bkw)).mul_(inv).mul_(rb)  # nu_{t-1} inv rb
            lam = dot if keep is None else keep @ (grad_y * h)  # sum keep dL/dy h
            with torch.no_grad():  # ema_gz += mean(x_tilde x_hat)
                decay = (nu_sq * inv).mul_(inv).mul_(cfg.alpha_bkw - 1.0).add_(1.0)  # 1 - (1-a_b) Gamma
                ema_gz.mul_(decay).addcmul_(scale, lam.div_(ctx.count))
        grad_w, grad_b = _cast(grad_w, ctx.param_dtype), _cast(grad_b, ctx.param_dtype)
        if not need_x:
            return None, grad_w, grad_b, None, None, None
        grad = grad_y * coef
        if correction is not None:
            grad.addcmul_(h, correction, value=-1.0)
        if r is not None:  # GroupScaling: dL/dx = r (dL/dh - h mean_g(dL/dh h))
            tokens, features = h.shape
            size = features // cfg.group_num
            dots = _dot_sums(grad.view(1, -1, size), h.view(1, -1, size))[0]
            grouped = grad.view(tokens, cfg.group_num, size)
            grouped.addcmul_(h.view_as(grouped), dots.view(tokens, -1, 1), value=-1.0 / size).mul_(r)
        return grad, grad_w, grad_b, None, None, None
