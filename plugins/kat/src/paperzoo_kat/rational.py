"""Group-wise safe rational activation (KAT's GR-KAN activation), pure PyTorch.

``F(x) = P(x) / Q(x)`` with ``P(x) = a_0 + a_1 x + ... + a_m x^m`` and a denominator that never
falls below 1. Two safe denominators exist in the paper's code:

* ``"abs_sum"`` (the paper's equation and its coefficient-fitting script):
  ``Q(x) = 1 + |b_1 x + b_2 x^2 + ... + b_n x^n|``;
* ``"abs_terms"`` (what the official CUDA and Triton kernels compute):
  ``Q(x) = 1 + |b_1| |x| + |b_2| |x|^2 + ... + |b_n| |x|^n``.

The channels are split into ``num_groups`` contiguous groups; every channel of a group shares that
group's ``m + 1 + n`` coefficients.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Coefficients fitted by the KAT authors to GELU on [-3, 3] with the "abs_sum" denominator
# (rational_kat_cu, kat_rational/init.json, entry "gelu"): a_0..a_5, then b_1..b_4.
GELU_NUMERATOR = (-0.00153969, 0.51692871, 0.44075827, 0.0972553, -0.00884418, -0.00378675)
GELU_DENOMINATOR = (-0.14171056, -0.06481231, -0.0444695, 0.01283776)

DENOMINATORS = ("abs_sum", "abs_terms")
INITS = ("gelu", "identity")


def rational(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, form: str) -> torch.Tensor:
    """``P(x) / Q(x)`` group-wise over the last dimension of ``x``.

    ``numerator`` is ``(groups, m + 1)`` (``a_0`` first), ``denominator`` ``(groups, n)`` (``b_1``
    first); the last dimension of ``x`` is split into ``groups`` contiguous blocks.
    """
    groups = numerator.shape[0]
    shape = x.shape
    z = x.reshape(*shape[:-1], groups, shape[-1] // groups)
    p = numerator[:, -1:].to(z.dtype)
    for i in range(numerator.shape[1] - 2, -1, -1):  # Horner
        p = p * z + numerator[:, i : i + 1]
    if form == "abs_sum":
        s = denominator[:, -1:].to(z.dtype)
        for i in range(denominator.shape[1] - 2, -1, -1):
            s = s * z + denominator[:, i : i + 1]
        q = 1 + (s * z).abs()
    elif form == "abs_terms":
        b, az = denominator.abs(), z.abs()
        s = b[:, -1:].to(z.dtype)
        for i in range(denominator.shape[1] - 2, -1, -1):
            s = s * az + b[:, i : i + 1]
        q = 1 + s * az
    else:
        raise ValueError(f"denominator: got {form!r}; accepted: one of {list(DENOMINATORS)}")
    return (p / q).reshape(shape)


def initial_coefficients(init: str, m: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a, b)`` of one group for ``init`` ("gelu": the authors' GELU fit, needs m=5, n=4;
    "identity": ``F(x) = x``, any m >= 1)."""
    if init == "gelu":
        if (m, n) != (5, 4):
            raise ValueError(f"init: 'gelu' coefficients exist for m=5, n=4; got m={m}, n={n}")
        return torch.tensor(GELU_NUMERATOR), torch.tensor(GELU_DENOMINATOR)
    if init == "identity":
        a = torch.zeros(m + 1)
        a[1] = 1.0
        return a, torch.zeros(n)
    raise ValueError(f"init: got {init!r}; accepted: one of {list(INITS)}")


class GroupRational(nn.Module):
    """KAT's group-rational activation on ``(..., dim)`` inputs.

    Args:
        dim: number of channels (last dimension); divisible by ``num_groups``.
        num_groups: channel groups; each has its own coefficients (``num_groups * (m + n + 1)``
            parameters; with ``share_numerator`` ``(m + 1) + num_groups * n``, the official
            module's layout).
        m, n: degrees of the numerator and denominator (paper: 5 and 4).
        init: ``"gelu"`` or ``"identity"``.
        denominator: ``"abs_sum"`` (the paper) or ``"abs_terms"`` (the official kernels).
        share_numerator: one numerator for all groups, as the official ``KAT_Group`` does.
    """

    def __init__(
        self,
        dim: int,
        num_groups: int = 8,
        m: int = 5,
        n: int = 4,
        init: str = "gelu",
        denominator: str = "abs_sum",
        share_numerator: bool = False,
    ) -> None:
        super().__init__()
        if num_groups < 1 or dim % num_groups:
            raise ValueError(f"num_groups: got {num_groups}; accepted: a positive divisor of dim={dim}")
        if m < 1 or n < 1:
            raise ValueError(f"m, n: got m={m}, n={n}; accepted: degrees >= 1")
        if denominator not in DENOMINATORS:
            raise ValueError(f"denominator: got {denominator!r}; accepted: one of {list(DENOMINATORS)}")
        a, b = initial_coefficients(init, m, n)
        self.dim, self.num_groups, self.m, self.n = dim, num_groups, m, n
        self.init, self.denominator = init, denominator
        self.share_numerator = share_numerator
        self.numerator = nn.Parameter(a.repeat(1 if share_numerator else num_groups, 1))
        self.denominator_coefficients = nn.Parameter(b.repeat(num_groups, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"input: last dimension {x.shape[-1]}; accepted: {self.dim}")
        a = self.numerator.expand(self.num_groups, -1)
        return rational(x, a, self.denominator_coefficients, self.denominator)

    def second_moment(self, points: int = 8001) -> float:
        """``E[F(x)^2]`` for ``x ~ N(0, 1)``, averaged over groups (quadrature on [-8, 8], float64):
        the variance gain the next linear layer compensates."""
        x = torch.linspace(-8.0, 8.0, points, dtype=torch.float64)
        pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        with torch.no_grad():
            a = self.numerator.detach().double().expand(self.num_groups, -1)
            b = self.denominator_coefficients.detach().double()
            f = rational(x.expand(self.num_groups, -1).T.contiguous(), a, b, self.denominator)
        return float(torch.trapezoid(f.pow(2) * pdf[:, None], x, dim=0).mean())

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_groups={self.num_groups}, order=({self.m}, {self.n}), init={self.init}, "
            f"denominator={self.denominator}, share_numerator={self.share_numerator}"
        )
