"""``FakeQuantLinear``: an ``nn.Linear`` whose weight is stored fake-quantised (weight-only, W-int-b),
and helpers that quantise every Linear of a model by round-to-nearest."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from paperzoo_compress.quant import check_quant_args, dequantize, quantize


class FakeQuantLinear(nn.Module):
    """A Linear computing ``x @ Q(W)^T + b`` with ``Q`` round-to-nearest (see :mod:`paperzoo_compress.quant`).

    Built from an existing ``linear`` (its weight is quantised once, at construction; the bias stays in
    full precision): ``FakeQuantLinear(linear, bits=4, group_size=128)``. The quantised weight is a
    buffer, not a parameter (post-training quantisation: nothing trains it); ``codes()`` gives the
    integer codes, scales and zero points.
    """

    def __init__(
        self, linear: nn.Linear, bits: int = 4, group_size: int = 128, symmetric: bool = False
    ) -> None:
        super().__init__()
        check_quant_args(bits, group_size)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bits, self.group_size, self.symmetric = bits, group_size, bool(symmetric)
        self.requantize_(linear.weight.detach())
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)

    @torch.no_grad()
    def requantize_(self, weight: torch.Tensor) -> None:
        """Quantise ``weight`` (float, ``[out, in]``) and store its codes' scale, zero point and the
        dequantised weight ``(q - zero) * scale`` the layer computes with."""
        q, scale, zero = quantize(weight, self.bits, self.group_size, self.symmetric)
        self.register_buffer("weight", dequantize(q, scale, zero, self.group_size))  # re-registering replaces
        self.register_buffer("scale", scale)
        self.register_buffer("zero", zero)

    def codes(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(q, scale, zero)``: the integer codes of the stored weight (``weight / scale + zero``, rounded:
        exact, the weight lies on the grid) with the scale and zero point it was quantised with."""
        g = self.weight.reshape(self.scale.shape[0], -1)
        q = torch.round(g / self.scale) + self.zero
        return q.reshape(self.weight.shape), self.scale, self.zero

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, "
            f"group_size={self.group_size}, symmetric={self.symmetric}, bias={self.bias is not None}"
        )


def block_linears(model: nn.Module, skip: Callable[[str], bool] | None = None) -> dict[str, nn.Linear]:
    """The ``nn.Linear`` modules of a tinylm model's blocks by name (``blocks.<i>...``): what weight-only
    quantisation replaces (embeddings and the head stay in full precision, as in AWQ/GPTQ)."""
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name.startswith("blocks.") and not (skip and skip(name))
    }


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule at dotted ``name``."""
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


@torch.no_grad()
def quantize_model(
    model: nn.Module, bits: int = 4, group_size: int = 128, symmetric: bool = False, inplace: bool = True
) -> nn.Module:
    """Round-to-nearest: replace every block Linear by a :class:`FakeQuantLinear` (the RTN baseline).
    ``inplace=False`` works on a deep copy."""
    import copy

    if not inplace:
        model = copy.deepcopy(model)
    for name, linear in block_linears(model).items():
        set_module(model, name, FakeQuantLinear(linear, bits, group_size, symmetric))
    return model
