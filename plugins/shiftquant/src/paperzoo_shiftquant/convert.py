"""Turn a model into its integer-training form in place: every ``nn.Linear`` becomes a
``ShiftQuantLinear`` and (optionally) every ``nn.LayerNorm`` an ``L1Norm``; parameters are reused."""

from __future__ import annotations

from torch import nn

from paperzoo_shiftquant.linear import ShiftQuantLinear
from paperzoo_shiftquant.norm import L1Norm


def convert(model: nn.Module, l1_norm: bool = True, **linear_params) -> nn.Module:
    """Replace the model's Linear (and LayerNorm) modules; returns ``model``.

    :param l1_norm: replace LayerNorm modules with L1Norm.
    :param linear_params: ``ShiftQuantLinear`` params (bits, num_groups, grad_quant, ...).
    """
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, ShiftQuantLinear(child, **linear_params))
        elif l1_norm and isinstance(child, nn.LayerNorm):
            setattr(model, name, L1Norm(child))
        elif not isinstance(child, (ShiftQuantLinear, L1Norm)):
            convert(child, l1_norm=l1_norm, **linear_params)
    if isinstance(model, nn.Linear):
        raise TypeError("convert the module that holds the Linear, not the Linear itself")
    return model
