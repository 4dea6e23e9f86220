"""GG initialisation: the weights of a layer drawn from a generalised Gaussian whose variance is Kaiming's.

Kaiming (He et al., 2015) gives a layer of fan ``n`` the weight variance ``sigma^2 = xi / n`` (``xi = 2``
for ReLU, ``1`` for no activation or sigmoid, ``2 / (1 + k^2)`` for LeakyReLU of slope ``k``). GG init
keeps that variance and changes only the shape: ``w ~ GG(beta, alpha)`` with
``alpha = sqrt(xi / n * Gamma(1/beta) / Gamma(3/beta))`` (``beta = 2``: Kaiming normal).
"""

from __future__ import annotations

import math

import torch
from paperzoo.checks import check_choice, check_float
from torch import nn

from paperzoo_gg_prior.gg import gg_scale, sample_gg


def fan(weight: torch.Tensor, mode: str) -> int:
    """``fan_in`` (inputs per output unit, Kaiming's default) or ``fan_out`` of a Linear/Conv weight."""
    receptive = math.prod(weight.shape[2:])
    return (weight.shape[1] if mode == "fan_in" else weight.shape[0]) * receptive


@torch.no_grad()
def gg_init_(weight: torch.Tensor, beta: float = 2.0, xi: float = 2.0, mode: str = "fan_in") -> torch.Tensor:
    """Fill ``weight`` (at least 2-D) in place with GG samples of Kaiming's variance; returns it."""
    if weight.dim() < 2:
        raise ValueError(f"GG init needs a weight of at least 2 dimensions, got shape {tuple(weight.shape)}")
    alpha = gg_scale(beta, math.sqrt(xi / fan(weight, mode)))
    weight.copy_(sample_gg(weight.shape, beta, alpha, dtype=weight.dtype, device=weight.device))
    return weight


def gg_init(
    base: nn.Module, beta: float = 2.0, xi: float = 2.0, mode: str = "fan_in", zero_bias: bool = True
) -> nn.Module:
    """Re-initialise ``base`` (an ``nn.Linear`` or ``nn.Conv*d``) with GG weights and return it.

    :param base: the layer (config ``patches`` pass the module they replace); changed in place.
    :param beta: the GG shape (2: Gaussian, 1: Laplace; the paper fits it to trained models).
    :param xi: Kaiming's gain factor (variance ``xi / fan``): 2 for ReLU, 1 for linear/sigmoid.
    :param mode: ``fan_in`` (Kaiming's default) or ``fan_out`` (the authors' code uses ``weight.shape[0]``,
        which for ``nn.Linear`` is the fan-out).
    :param zero_bias: set the bias to 0, as the authors' code does.
    """
    check_float("beta", beta, 0.0, open_low=True)
    check_float("xi", xi, 0.0, open_low=True)
    check_choice("mode", mode, ("fan_in", "fan_out"))
    weight = getattr(base, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        raise TypeError(f"gg_init re-initialises a Linear or Conv layer, got {type(base).__name__}")
    gg_init_(weight, beta, xi, mode)
    bias = getattr(base, "bias", None)
    if zero_bias and isinstance(bias, torch.Tensor):
        with torch.no_grad():
            bias.zero_()
    return base


def gg_init_model_(
    model: nn.Module, beta: float = 2.0, xi: float = 2.0, mode: str = "fan_in", zero_bias: bool = True
) -> nn.Module:
    """Apply :func:`gg_init` to every ``nn.Linear`` of ``model`` (what the authors' code does); returns it."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            gg_init(module, beta, xi, mode, zero_bias)
    return model
