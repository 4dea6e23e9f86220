"""Power Normalization (PN), Algorithm 1 of Shen et al., "PowerNorm: Rethinking Batch Normalization in
Transformers", ICML 2020, arXiv:2003.07845, with the details of the authors' released implementation.

Notation of the paper, per feature (channel) and iteration ``t``, over the ``B`` tokens of a batch:

* batch quadratic mean        ``sigma_B^2 = 1/B sum_i x_i^2``                       (no mean subtraction)
* normalisation               ``x_hat_t = x_t / psi_{t-1}``                          (running statistic)
* affine output               ``y_t = gamma * x_hat_t + beta``
* running quadratic mean      ``psi_t^2 = a_f psi_{t-1}^2 + (1 - a_f) sigma_B^2``
* intermediate gradient       ``x_tilde_t = dL/dx_hat_t - nu_{t-1} x_hat_t``
* gradient correction         ``nu_t = nu_{t-1} (1 - (1 - a_b) Gamma_t) + (1 - a_b) Lambda_t``
  with ``Gamma_t = 1/B sum_i x_hat_i^2`` and ``Lambda_t = 1/B sum_i dL/dx_hat_i x_hat_i``
* inference                   ``y = gamma * x / psi + beta``

Buffers, named as in the released code: ``running_phi`` holds ``psi^2``; ``ema_gz`` holds
``nu / (1 - a_b)``, updated as ``ema_gz += 1/B sum_i x_tilde_i x_hat_i`` (the same recursion for
``nu``); ``iters`` counts training-mode forward passes. For the first ``warmup_iters`` iterations the
forward pass divides by the batch statistic ``sqrt(sigma_B^2 + eps)`` instead of ``psi_{t-1}``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from paperzoo_powernorm.fused import Config, PowerNormFunction, group_rsqrt


def group_scale(x: Tensor, group_num: int, eps: float) -> Tensor:
    """The released code's GroupScaling pre-step: per token, split the features into ``group_num``
    groups of consecutive features and divide each group by its root mean square,
    ``x_g / sqrt(1/|g| sum_{j in g} x_j^2 + eps)``. ``group_num=1`` divides by the token's RMS.
    (Plain autograd; the layer itself runs this step inside its fused function.)"""
    groups = x.unflatten(-1, (group_num, -1))
    return (groups * group_rsqrt(groups, eps)).flatten(-2)


class PowerNorm(nn.Module):
    """Power normalization over the last dimension of ``(..., features)`` inputs, with statistics over
    every other dimension (batch and tokens).

    Build it from the module it replaces, ``PowerNorm(layer_norm, **params)`` (the feature count, and
    ``weight``/``bias`` when present, carry over), or from a feature count, ``PowerNorm(512)``.

    :param base: a ``LayerNorm`` (any module with a one-dimensional ``normalized_shape``) or the
        number of features.
    :param eps: added to the quadratic means before the square root (also used by the group scaling).
    :param alpha_fwd: ``a_f``, decay of the running quadratic mean ``psi^2``.
    :param alpha_bkw: ``a_b``, decay of the backward correction ``nu``; ``1`` switches the correction off.
    :param warmup_iters: training iterations that normalise with batch statistics before ``psi`` is used.
    :param affine: learn the per-feature scale ``gamma`` and shift ``beta``.
    :param group_num: groups of the released code's GroupScaling pre-step (the authors used the number of
        attention heads); ``None`` skips it, leaving Algorithm 1 alone.
    :param nu_over_padding: with a ``pad_mask``, average the update of the backward correction ``nu``
        over every token, padding included, as the released code does; by default it averages over the
        non-padding tokens, like ``sigma_B^2``.
    """

    def __init__(
        self,
        base: nn.Module | int,
        eps: float = 1e-5,
        alpha_fwd: float = 0.9,
        alpha_bkw: float = 0.9,
        warmup_iters: int = 10000,
        affine: bool = True,
        group_num: int | None = 1,
        nu_over_padding: bool = False,
    ):
        super().__init__()
        num_features, like = _features_of(base)
        if not 0.0 <= alpha_fwd <= 1.0 or not 0.0 <= alpha_bkw <= 1.0:
            raise ValueError(f"alpha_fwd and alpha_bkw must lie in [0, 1], got {alpha_fwd}, {alpha_bkw}")
        if warmup_iters < 0 or eps < 0:
            raise ValueError("warmup_iters and eps must be non-negative")
        if group_num is not None and (group_num < 1 or num_features % group_num):
            raise ValueError(f"group_num={group_num} must be positive and divide {num_features} features")
        self.num_features, self.eps, self.affine, self.group_num = num_features, eps, affine, group_num
        self.alpha_fwd, self.alpha_bkw, self.warmup_iters = alpha_fwd, alpha_bkw, warmup_iters
        self.nu_over_padding = bool(nu_over_padding)
        device, dtype = like.device, like.dtype if like.is_floating_point() else torch.float32
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, device=device, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(num_features, device=device, dtype=dtype))
            with torch.no_grad():
                if getattr(base, "weight", None) is not None:
                    self.weight.copy_(base.weight.reshape(-1))
                if getattr(base, "bias", None) is not None:
                    self.bias.copy_(base.bias.reshape(-1))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_phi", torch.ones(num_features, device=device))
        self.register_buffer("ema_gz", torch.zeros(num_features, device=device))
        self.register_buffer("iters", torch.zeros((), dtype=torch.long, device=device))

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, alpha_fwd={self.alpha_fwd}, alpha_bkw={self.alpha_bkw}, "
            f"warmup_iters={self.warmup_iters}, affine={self.affine}, group_num={self.group_num}"
            + (", nu_over_padding=True" if self.nu_over_padding else "")
        )

    def forward(self, x: Tensor, pad_mask: Tensor | None = None) -> Tensor:
        """Normalise ``x`` of shape ``(..., num_features)``.

        :param pad_mask: optional boolean tensor of shape ``x.shape[:-1]``, ``True`` at padding tokens,
            which are then left out of the batch statistics (they are still normalised).
        """
        if x.shape[-1] != self.num_features:
            raise ValueError(
                f"expected {self.num_features} features in the last dimension, got {tuple(x.shape)}"
            )
        h = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        flat = h.reshape(-1, self.num_features).contiguous()
        keep = None
        if self.training and pad_mask is not None:
            if pad_mask.shape != x.shape[:-1]:
                raise ValueError(f"pad_mask of shape {tuple(pad_mask.shape)} does not match {tuple(x.shape)}")
            keep = (~pad_mask.bool()).reshape(-1).to(flat.dtype)
        cfg = Config(
            self.group_num,
            self.eps,
            self.alpha_fwd,
            self.alpha_bkw,
            self.warmup_iters,
            self.running_phi,
            self.ema_gz,
            self.iters,
            self.nu_over_padding,
        )
        y = PowerNormFunction.apply(flat, self.weight, self.bias, cfg, keep, self.training)
        return y.view(x.shape).to(x.dtype)


def _features_of(base: nn.Module | int) -> tuple[int, Tensor]:
    """The feature count of ``base`` and a tensor whose device and dtype the new parameters take."""
    if isinstance(base, bool) or not isinstance(base, (int, nn.Module)):
        raise TypeError(f"PowerNorm takes a LayerNorm or a feature count, got {type(base).__name__}")
    if isinstance(base, int):
        if base < 1:
            raise ValueError(f"num_features must be positive, got {base}")
        return base, torch.empty(0)
    shape = getattr(base, "normalized_shape", None)
    if shape is None or len(tuple(shape)) != 1:
        raise ValueError(
            f"can replace a norm over one trailing dimension, got {type(base).__name__} "
            f"with normalized_shape={shape}"
        )
    like = next(iter(base.parameters()), None)
    return int(tuple(shape)[0]), like if like is not None else torch.empty(0)
