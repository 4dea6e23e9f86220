"""Activation fake quantisation for weight-and-activation (W-A) quantisation, and the round-to-nearest
W-A baseline every W4A4 claim compares against.

Dynamic, round-to-nearest, per token (each row of the last dimension) or per tensor, computed on the
fly from the activation's own range (the form of QuaRot's, OmniQuant's and OSTQuant's activation
quantisers):

* asymmetric: ``scale = max(c (max - min), 1e-5) / (2^b - 1)``, ``zero = -round(c min / scale)``,
  ``x_hat = (clamp(round(x / scale) + zero, 0, 2^b - 1) - zero) scale``;
* symmetric: ``scale = max(c absmax, 1e-5) / (2^(b-1) - 1)``,
  ``x_hat = clamp(round(x / scale), -2^(b-1), 2^(b-1) - 1) scale``;

``c`` is the clipping ratio (1: the full range). With ``ste=True`` the rounding passes gradients
straight through (``d round(u) / du = 1``), and gradients also reach ``scale`` and ``zero`` through the
range (OmniQuant's ``round_ste`` form), so methods that learn transforms before the quantiser can train
through it; with ``ste=False`` the result is the plain forward value.
"""

from __future__ import annotations

import copy

import torch
from paperzoo.errors import ParamError
from torch import nn

from paperzoo_compress.linear import FakeQuantLinear, block_linears, set_module
from paperzoo_compress.quant import SCALE_FLOOR

GRANULARITIES = ("token", "tensor")


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` in the forward pass, the identity's gradient in the backward pass."""
    return x + (torch.round(x) - x).detach()


def check_act_args(bits: int, granularity: str, clip_ratio: float) -> None:
    """Raise :class:`~paperzoo.errors.ParamError` for an unsupported activation quantiser setting."""
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 16:
        raise ParamError("a_bits", f"{bits!r}; accepted: an integer in [2, 16]")
    if granularity not in GRANULARITIES:
        raise ParamError("a_granularity", f"{granularity!r}; accepted: one of {', '.join(GRANULARITIES)}")
    if not 0.0 < clip_ratio <= 1.0:
        raise ParamError("a_clip_ratio", f"{clip_ratio!r}; accepted: a number in (0, 1]")


def fake_quantize_activations(
    x: torch.Tensor,
    bits: int = 8,
    granularity: str = "token",
    symmetric: bool = False,
    clip_ratio: float = 1.0,
    ste: bool = False,
) -> torch.Tensor:
    """``x`` (``[..., features]``) fake-quantised per token or per tensor; see the module docstring."""
    check_act_args(bits, granularity, clip_ratio)
    rnd = ste_round if ste else torch.round
    g = x.reshape(-1, x.shape[-1]) if granularity == "token" else x.reshape(1, -1)
    if symmetric:
        q_max = 2 ** (bits - 1) - 1
        scale = (g.abs().amax(1, keepdim=True) * clip_ratio).clamp(min=SCALE_FLOOR) / q_max
        q = torch.clamp(rnd(g / scale), -(q_max + 1), q_max)
        return (q * scale).reshape(x.shape)
    q_max = 2**bits - 1
    hi, lo = g.amax(1, keepdim=True) * clip_ratio, g.amin(1, keepdim=True) * clip_ratio
    scale = (hi - lo).clamp(min=SCALE_FLOOR) / q_max
    zero = -rnd(lo / scale)
    q = torch.clamp(rnd(g / scale) + zero, 0, q_max)
    return ((q - zero) * scale).reshape(x.shape)


class ActQuantLinear(nn.Module):
    """``linear(Q_a(x))``: fake-quantise the input activations, then apply ``linear`` (an ``nn.Linear``,
    a :class:`~paperzoo_compress.linear.FakeQuantLinear` for W-A quantisation, or any module acting on the
    last dimension)."""

    def __init__(
        self,
        linear: nn.Module,
        a_bits: int = 8,
        granularity: str = "token",
        symmetric: bool = False,
        clip_ratio: float = 1.0,
        ste: bool = False,
    ) -> None:
        super().__init__()
        check_act_args(a_bits, granularity, clip_ratio)
        self.linear = linear
        self.a_bits, self.granularity, self.symmetric = a_bits, granularity, bool(symmetric)
        self.clip_ratio, self.ste = float(clip_ratio), bool(ste)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xq = fake_quantize_activations(
            x, self.a_bits, self.granularity, self.symmetric, self.clip_ratio, self.ste
        )
        return self.linear(xq)

    def extra_repr(self) -> str:
        return (
            f"a_bits={self.a_bits}, granularity={self.granularity}, symmetric={self.symmetric}, "
            f"clip_ratio={self.clip_ratio}"
        )


@torch.no_grad()
def quantize_model_wa(
    model: nn.Module,
    w_bits: int = 4,
    a_bits: int = 4,
    group_size: int = -1,
    w_symmetric: bool = False,
    a_granularity: str = "token",
    a_symmetric: bool = False,
    inplace: bool = True,
) -> nn.Module:
    """Round-to-nearest W-A quantisation (the W4A4 baseline): every block Linear becomes
    ``ActQuantLinear(FakeQuantLinear(linear))``, inputs quantised per token, weights per channel (``group_size``
    -1) by default. ``inplace=False`` works on a deep copy."""
    if not inplace:
        model = copy.deepcopy(model)
    for name, linear in block_linears(model).items():
        wq = FakeQuantLinear(linear, w_bits, group_size, w_symmetric)
        set_module(model, name, ActQuantLinear(wq, a_bits, a_granularity, a_symmetric))
    return model
