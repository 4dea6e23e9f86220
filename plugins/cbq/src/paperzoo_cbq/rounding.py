"""LoRA-Rounding (CBQ, section 3.4): adaptive rounding whose offset matrix is low rank.

A weight ``W`` ``[out, in]`` on the asymmetric grid of :mod:`paperzoo_compress.quant` (``scale``,
``zero`` per group, fixed from the float weight) is quantised as

    ``W_q = (clamp(floor(W / scale) + h(V) + zero, 0, 2^b - 1) - zero) * scale``

with ``h(V) = clamp(sigmoid(V) (zeta - gamma) + gamma, 0, 1)`` the rectified sigmoid of AdaRound
(``zeta = 1.1``, ``gamma = -0.1``): an offset in ``[0, 1]`` per weight. AdaRound learns ``V`` as a full
``[out, in]`` matrix; CBQ learns it as the product of two low-rank matrices ``A [out, r] @ B [r, in]``.
The regulariser ``sum 1 - |2 h(V) - 1|^beta`` drives each offset to 0 or 1; at the end the offset is
hardened to ``1[h(V) >= 1/2]`` and the weight lies on the grid exactly.

Initialisation (ours; the paper does not state it): ``V = V0 + A @ B`` with ``V0`` AdaRound's
initialisation, ``h(V0) = frac(W / scale)`` (fixed, not trained), ``A`` small Gaussian and ``B = 0``
(LoRA's init). At initialisation the soft weight equals ``W`` (up to the clamp of the grid's ends) and
the hardened weight is round-to-nearest (``frac >= 1/2`` rounds up; exact ties, which ``torch.round``
sends to the even integer, are the only difference).
"""

from __future__ import annotations

import torch
from paperzoo_compress.quant import quant_params
from torch import nn

ZETA, GAMMA = 1.1, -0.1


def rectified_sigmoid(v: torch.Tensor) -> torch.Tensor:
    """AdaRound's ``h(V) = clamp(sigmoid(V) (zeta - gamma) + gamma, 0, 1)``."""
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def inverse_rectified_sigmoid(h: torch.Tensor) -> torch.Tensor:
    """``V`` with ``h(V) = h`` for ``h`` in ``[0, 1)`` (the argument of the logit stays inside (0, 1))."""
    return torch.logit((h - GAMMA) / (ZETA - GAMMA))


def rounding_regularizer(h: torch.Tensor, beta: float) -> torch.Tensor:
    """``sum 1 - |2 h - 1|^beta``: zero exactly when every offset is 0 or 1."""
    return (1 - (2 * h - 1).abs().pow(beta)).sum()


def _groups(w: torch.Tensor, group_size: int) -> torch.Tensor:
    if group_size == 0:
        return w.reshape(1, -1)
    return w if group_size == -1 else w.reshape(-1, group_size)


class LoRARoundingLinear(nn.Module):
    """A Linear whose weight is quantised with a learned low-rank rounding (see the module docstring).

    ``weight`` (the float weight, ``[out, in]``) and the grid are frozen buffers; ``lora_a`` and
    ``lora_b`` are the only parameters. ``soft`` (default) computes with the soft-rounded weight, else
    with the hardened one. ``generator`` seeds ``lora_a``.
    """

    def __init__(
        self,
        linear: nn.Linear,
        bits: int = 4,
        group_size: int = -1,
        rank: int = 4,
        init_std: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        w = linear.weight.detach().clone()
        self.bits, self.group_size, self.rank = bits, group_size, rank
        self.in_features, self.out_features = linear.in_features, linear.out_features
        scale, zero = quant_params(w, bits, group_size)
        scaled = _groups(w, group_size) / scale
        floor = torch.floor(scaled)
        self.register_buffer("weight", w)
        self.register_buffer("scale", scale)
        self.register_buffer("zero", zero)
        self.register_buffer("floor", floor.reshape(w.shape))
        self.register_buffer("v0", inverse_rectified_sigmoid(scaled - floor).reshape(w.shape))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())
        a = torch.randn(w.shape[0], rank, generator=generator, dtype=w.dtype) * init_std
        self.lora_a = nn.Parameter(a.to(w.device))
        self.lora_b = nn.Parameter(torch.zeros(rank, w.shape[1], dtype=w.dtype, device=w.device))
        self.soft = True

    def offsets(self) -> torch.Tensor:
        """The soft rounding offsets ``h(V0 + A B)`` in ``[0, 1]``, ``[out, in]``."""
        return rectified_sigmoid(self.v0 + self.lora_a @ self.lora_b)

    def hard_offsets(self) -> torch.Tensor:
        """The hardened offsets ``1[h >= 1/2]`` (0 or 1)."""
        return (self.offsets() >= 0.5).to(self.weight.dtype)

    def codes(self, hard: bool = True) -> torch.Tensor:
        """Integer codes ``clamp(floor + offset + zero, 0, 2^b - 1)`` (soft offsets give real values)."""
        h = self.hard_offsets() if hard else self.offsets()
        g = _groups(self.floor + h, self.group_size) + self.zero
        return torch.clamp(g, 0, 2**self.bits - 1).reshape(self.weight.shape)

    def quantized_weight(self, hard: bool = True) -> torch.Tensor:
        """``(codes - zero) * scale``: the weight the layer computes with."""
        q = _groups(self.codes(hard), self.group_size)
        return ((q - self.zero) * self.scale).reshape(self.weight.shape)

    def regularizer(self, beta: float) -> torch.Tensor:
        return rounding_regularizer(self.offsets(), beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.quantized_weight(hard=not self.soft), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, "
            f"group_size={self.group_size}, rank={self.rank}, soft={self.soft}"
        )
