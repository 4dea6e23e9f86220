"""Unified Normalization (UN), Yang et al., "Unified Normalization for Accelerating and Stabilizing
Transformers", ACM MM 2022, arXiv:2208.01313, with the details of the authors' released layer.

Per channel ``c`` and training iteration ``t`` (counted from 1), over the ``M`` rows (batch x tokens):

* batch statistic          ``s_t = 1/M sum_i x_i^2``  (a quadratic mean: no mean is subtracted)
* window                   the last ``W_f`` statistics ``s_{t-W_f+1..t}`` (a ring buffer)
* fluctuation smoothing    ``sigma^2_t = GM(window) = exp(mean(log(window)))`` once ``t > W_f`` and
  ``t >= warmup_iters``; the batch statistic ``s_t`` before
* outlier filtration       (optional) with ``v`` the variance of the square roots of every entry of
  the window before ``s_t`` enters it: if in any channel ``AM(window) - GM(window) > W_f * v`` the
  batch is an outlier: ``s_t`` is normalised with its own statistic (no smoothing), and the running
  statistic takes its place in the window
* normalisation            ``z = x / sqrt(sigma^2_t + eps)``,  ``y = gamma z + beta``
* running statistic        ``r_t = m r_{t-1} + (1 - m) sigma^2_t``  (normalises in eval mode)
* backward                 ``g = dL/dy * gamma * rho``, per channel ``G_t = 1/M sum_i g_i z_i`` (into a
  window of ``W_b``), smoothed as ``mu_t = m mu_{t-1} + (1 - m) AM(window_b)``;
  ``dL/dx = (g - mu_t z) / sqrt(sigma^2_t + eps)``. ``rho = clamp(sqrt((sigma^2_t + eps) / (r_{t-1} +
  eps)), 1/rho_max, rho_max)`` is the gradient compensation, 1 up to ``max(ratio_warmup,
  warmup_iters)`` iterations and for outliers. In an outlier iteration (and always with ``W_f = 1``) ``mu``
  still advances but the gradient subtracts ``G_t z`` and the backward window stores ``mu_{t-1}``.
* parameter gradients      ``dL/dgamma = sum_i dL/dy_i rho z_i``, ``dL/dbeta = sum_i dL/dy_i``

Eval mode is the per-channel affine ``y = gamma x / sqrt(r + eps) + beta`` (:meth:`UnifiedNorm.eval_affine`),
which folds into the next Linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class _Step:
    """What the forward hands the backward of one training iteration."""

    iteration: int
    skip: bool  # an outlier, or a window of one: no smoothing this iteration
    var: Tensor
    rho: Tensor


def _geometric_mean(window: Tensor) -> Tensor:
    return torch.exp(torch.log(window).mean(dim=0))


class _UNFunction(torch.autograd.Function):
    """The training-mode pass of :class:`UnifiedNorm` on ``(M, C)`` rows; updates the layer's buffers."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, layer: UnifiedNorm) -> Tensor:
        step = layer._forward_statistics(x)
        z = x * torch.rsqrt(step.var + layer.eps)
        ctx.layer, ctx.step = layer, step
        ctx.save_for_backward(z, step.var, weight)
        return z * weight + bias

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        z, var, weight = ctx.saved_tensors
        layer, step = ctx.layer, ctx.step
        g = grad_out * weight * step.rho
        mu = layer._backward_statistics(g, z, step)
        grad_x = (g - mu * z) * torch.rsqrt(var + layer.eps)
        return grad_x, (grad_out * step.rho * z).sum(0), grad_out.sum(0), None


class UnifiedNorm(nn.Module):
    """Unified Normalization over the last dimension of ``(..., features)`` inputs, statistics over every
    other dimension (batch and tokens).

    Build it from the module it replaces, ``UnifiedNorm(layer_norm, **params)`` (the feature count, and
    ``weight``/``bias`` when present, carry over), or from a feature count, ``UnifiedNorm(512)``.

    :param base: a ``LayerNorm`` (one-dimensional ``normalized_shape``) or the number of features.
    :param window: ``W_f`` and ``W_b``, statistics kept for the forward and the backward smoothing (one
        int for both, or a pair).
    :param warmup_iters: iterations that normalise with the batch statistic alone (no smoothing, no
        outlier test). The released code's default is 4000.
    :param outlier_filtration: test each batch for an outlier (the authors enable it for vision, not for
        language).
    :param eps: added to the statistics before the square root.
    :param momentum: ``m`` of the running statistic and of the backward smoothing ``mu``.
    :param ratio_warmup: iterations (at least ``warmup_iters``) before the gradient compensation ``rho``
        acts; 1000 in the released code.
    :param ratio_max: ``rho`` is clamped to ``[1/ratio_max, ratio_max]``.
    """

    def __init__(
        self,
        base: nn.Module | int,
        window: int | tuple[int, int] | list[int] = 4,
        warmup_iters: int = 4000,
        outlier_filtration: bool = False,
        eps: float = 1e-5,
        momentum: float = 0.9,
        ratio_warmup: int = 1000,
        ratio_max: float = 5.0,
    ):
        super().__init__()
        features, weight, bias = _features_of(base)
        fwd, bwd = (window, window) if isinstance(window, int) else tuple(window)
        if fwd < 1 or bwd < 1:
            raise ValueError(f"window must be positive, got {window}")
        if not 0.0 <= momentum <= 1.0 or eps < 0 or warmup_iters < 0 or ratio_max < 1:
            raise ValueError("need 0 <= momentum <= 1, eps >= 0, warmup_iters >= 0, ratio_max >= 1")
        self.num_features, self.window_fwd, self.window_bwd = features, int(fwd), int(bwd)
        self.warmup_iters, self.outlier_filtration, self.eps = warmup_iters, outlier_filtration, eps
        self.momentum, self.ratio_warmup, self.ratio_max = momentum, ratio_warmup, ratio_max
        like = weight if weight is not None else torch.empty(0)
        kw = {"device": like.device, "dtype": like.dtype}
        self.weight = nn.Parameter(torch.ones(features, **kw) if weight is None else weight.detach().clone())
        self.bias = nn.Parameter(torch.zeros(features, **kw) if bias is None else bias.detach().clone())
        self.register_buffer("running_var", torch.ones(features, **kw))
        self.register_buffer("grad_stat", torch.zeros(features, **kw))  # mu
        self.register_buffer("window_x2", torch.zeros(self.window_fwd, features, **kw))
        self.register_buffer("window_gz", torch.zeros(self.window_bwd, features, **kw))
        self.register_buffer("iters", torch.zeros((), dtype=torch.long, device=like.device))
        self.register_buffer("outliers", torch.zeros((), dtype=torch.long, device=like.device))

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, window=({self.window_fwd}, {self.window_bwd}), warmup_iters="
            f"{self.warmup_iters}, outlier_filtration={self.outlier_filtration}, eps={self.eps}, "
            f"momentum={self.momentum}"
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.num_features:
            raise ValueError(f"expected {self.num_features} features in the last dimension, got {x.shape}")
        if not self.training:
            scale, shift = self.eval_affine()
            return x * scale + shift
        rows = x.reshape(-1, self.num_features)
        return _UNFunction.apply(rows, self.weight, self.bias, self).reshape(x.shape)

    def eval_affine(self) -> tuple[Tensor, Tensor]:
        """The eval-mode layer as ``(scale, shift)``: ``y = scale * x + shift``, per feature."""
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        return scale, self.bias

    @torch.no_grad()
    def _forward_statistics(self, x: Tensor) -> _Step:
        """Advance the iteration count, smooth the batch statistic, filter outliers, update the running
        statistic. A window of one never smooths (in the backward too), as in the released code."""
        self.iters += 1
        t = int(self.iters)
        x2 = x.detach().square().mean(0)
        spread = torch.sqrt(self.window_x2).var()  # over every entry, before this batch enters
        slot = t % self.window_fwd
        self.window_x2[slot] = x2
        skip = self.window_fwd == 1
        if self.outlier_filtration and t >= self.warmup_iters:
            gap = self.window_x2.mean(0) - _geometric_mean(self.window_x2)
            if bool((gap > spread * self.window_fwd).any()):
                self.window_x2[slot] = self.running_var
                self.outliers += 1
                skip = True
        smooth = t > self.window_fwd and t >= self.warmup_iters and not skip
        var = _geometric_mean(self.window_x2) if smooth else x2
        rho = torch.sqrt((var + self.eps) / (self.running_var + self.eps))
        if t <= max(self.ratio_warmup, self.warmup_iters) or skip:
            rho = torch.ones_like(rho)
        else:
            rho = rho.clamp(1.0 / self.ratio_max, self.ratio_max)
        self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var)
        return _Step(iteration=t, skip=skip, var=var, rho=rho)

    @torch.no_grad()
    def _backward_statistics(self, g: Tensor, z: Tensor, step: _Step) -> Tensor:
        """Smooth the gradient statistic ``G_t``; returns the per-channel coefficient subtracted from ``g``."""
        gz = (g * z).mean(0)
        slot = step.iteration % self.window_bwd
        self.window_gz[slot] = self.grad_stat if step.skip else gz
        smooth = step.iteration > self.window_bwd and step.iteration >= self.warmup_iters and not step.skip
        mean_gz = self.window_gz.mean(0) if smooth else gz
        self.grad_stat.mul_(self.momentum).add_((1 - self.momentum) * mean_gz)
        return mean_gz if step.skip else self.grad_stat.clone()


def _features_of(base: nn.Module | int) -> tuple[int, Tensor | None, Tensor | None]:
    """The feature count, weight and bias of the replaced module (or of a bare feature count)."""
    if isinstance(base, int):
        return base, None, None
    shape = getattr(base, "normalized_shape", None)
    if shape is None or len(shape) != 1:
        raise ValueError(f"{type(base).__name__}: expected a LayerNorm over one dimension or a feature count")
    weight = getattr(base, "weight", None)
    bias = getattr(base, "bias", None)
    return (
        int(shape[0]),
        weight if isinstance(weight, Tensor) else None,
        bias if isinstance(bias, Tensor) else None,
    )
