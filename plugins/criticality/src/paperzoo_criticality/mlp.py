"""A real MLP initialised as in the book (``W ~ N(0, C_W / n_in)``, ``b ~ N(0, C_b)``) and the empirical
layer-by-layer kernel of its preactivations, to compare with the infinite-width recursion."""

from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo_criticality.kernel import Activation, activation


def init_critical_(
    model: nn.Module, c_b: float, c_w: float, generator: torch.Generator | None = None
) -> None:
    """Initialise every ``nn.Linear`` of ``model`` in place: weights ``N(0, C_W / n_in)``, biases
    ``N(0, C_b)`` (the book's initialisation distribution, Section 2.3)."""
    if c_b < 0 or c_w < 0:
        raise ValueError(f"c_b, c_w: got ({c_b}, {c_w}); accepted: variances >= 0")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, math.sqrt(c_w / m.in_features), generator=generator)
                if m.bias is not None:
                    m.bias.normal_(0.0, math.sqrt(c_b), generator=generator)


class DeepMLP(nn.Module):
    """``depth`` linear layers (``n_0 -> width -> ... -> width``) with ``sigma`` between them; the forward
    pass returns every layer's preactivations ``z^{(1)}, ..., z^{(depth)}``."""

    def __init__(self, n_in: int, width: int, depth: int, sigma: str | Activation = "relu"):
        super().__init__()
        if depth < 1 or width < 1 or n_in < 1:
            raise ValueError(f"n_in, width, depth: got ({n_in}, {width}, {depth}); accepted: integers >= 1")
        self.sigma = activation(sigma) if isinstance(sigma, str) else sigma
        self.layers = nn.ModuleList(nn.Linear(n_in if i == 0 else width, width) for i in range(depth))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        zs = [self.layers[0](x)]
        for layer in self.layers[1:]:
            zs.append(layer(self.sigma(zs[-1])))
        return zs


@torch.no_grad()
def empirical_kernels(
    x: torch.Tensor,
    sigma: str | Activation,
    c_b: float,
    c_w: float,
    width: int,
    depth: int,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``[depth, N]``: the empirical kernel ``(1/n) sum_i z^{(l)}_i(x_a)^2`` of each input row ``x_a`` at
    each layer of one random MLP (seeded ``seed``) initialised with ``(C_b, C_W)``."""
    x = x.reshape(len(x), -1).to(dtype)
    model = DeepMLP(x.shape[1], width, depth, sigma).to(dtype)
    init_critical_(model, c_b, c_w, torch.Generator().manual_seed(seed))
    return torch.stack([z.square().mean(-1) for z in model(x)])
