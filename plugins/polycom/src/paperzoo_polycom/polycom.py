"""Polynomial composition activations (PolyCom): PolyReLU and PolyNorm.

For an order ``r`` and learnable coefficients ``a_0 .. a_r``:

* ``PolyReLU(x) = sum_{i=0..r} a_i ReLU(x)^i``
* ``PolyNorm(x) = sum_{i=0..r} a_i N(x^i)``, ``N(y) = y / sqrt(mean(y^2) + eps)`` over the last
  dimension (an RMS normalisation without a gain); ``a_0`` is added as is (the official code's ``bias``).

The parameters follow the official code's layout, so its checkpoints load unchanged: ``weight`` holds
``a_r, ..., a_1`` (highest power first) and ``bias`` holds ``[a_0]``; :attr:`coefficients` gives
``a_0 .. a_r`` in the paper's order. The default initialisation is the official one: ``a_i = 1/r`` for
``i >= 1`` and ``a_0 = 0``. Terms are summed highest power first, as the official code does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from paperzoo.errors import ParamError
from torch import nn
from torch.utils.checkpoint import checkpoint as _checkpoint


def rms_normalize(y: torch.Tensor, eps: float) -> torch.Tensor:
    """``y / sqrt(mean(y^2, -1) + eps)``: the official ``norm`` (``y * rsqrt(...)``), op for op."""
    return y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + eps)


def scaled_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z, s)``: ``s = max(max|x|, 1)`` over the last dimension (detached) and ``z = x / s``, so that
    ``|z| <= 1`` and no power of ``z`` overflows."""
    s = x.detach().abs().amax(-1, keepdim=True).clamp(min=1.0)
    return x / s, s


def normalized_power(z: torch.Tensor, s: torch.Tensor, power: int, eps: float) -> torch.Tensor:
    """``N(x^power)`` from ``(z, s) = scaled_rows(x)``, without overflow: ``N`` is scale invariant, so
    ``N(x^p) = z^p / sqrt(mean(z^2p) + eps / s^2p)`` (an identity: ``s`` carries no gradient). Rows with
    ``max|x| <= 1`` (``s = 1``) are computed exactly as :func:`rms_normalize` does."""
    y = z if power == 1 else z.pow(power)
    return y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + eps * s.pow(-2 * power))


def _polynorm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float, stable: bool):
    order = weight.shape[0]
    if stable:
        z, s = scaled_rows(x)
    out = None
    for j in range(order):
        power = order - j
        if stable:
            term = normalized_power(z, s, power, eps)
        else:
            term = rms_normalize(x if power == 1 else x.pow(power), eps)
        out = weight[j] * term if out is None else out + weight[j] * term
    return out + bias


def _polyrelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    r = F.relu(x)
    order = weight.shape[0]
    out = None
    for j in range(order):
        power = order - j
        term = weight[j] * (r if power == 1 else r.pow(power))
        out = term if out is None else out + term
    return out + bias


class _PolyCom(nn.Module):
    """Shared parameters of the two activations: ``weight`` (``a_r .. a_1``) and ``bias`` (``[a_0]``)."""

    def __init__(self, order: int = 3, coefficients: Sequence[float] | None = None, checkpoint: bool = False):
        super().__init__()
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ParamError("order", f"got {order!r}; accepted: a positive integer (the paper: 3)")
        if coefficients is None:
            weight, bias = torch.full((order,), 1.0 / order), torch.zeros(1)
        else:
            coefficients = [float(c) for c in coefficients]
            if len(coefficients) != order + 1:
                raise ParamError(
                    "coefficients",
                    f"got {len(coefficients)} values; accepted: order + 1 = {order + 1} values a_0 .. a_r",
                )
            weight, bias = torch.tensor(coefficients[:0:-1]), torch.tensor(coefficients[:1])
        self.order = order
        self.checkpoint = checkpoint
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    @property
    def coefficients(self) -> torch.Tensor:
        """``a_0 .. a_r`` (the paper's order), detached."""
        return torch.cat([self.bias.detach(), self.weight.detach().flip(0)])

    def _run(self, fn: Callable[..., torch.Tensor], x: torch.Tensor, *extra) -> torch.Tensor:
        if self.checkpoint and torch.is_grad_enabled():
            # recompute the powers in the backward pass instead of storing them (the official code's
            # choice): the same values, less activation memory
            return _checkpoint(fn, x, self.weight, self.bias, *extra, use_reentrant=False)
        return fn(x, self.weight, self.bias, *extra)

    def extra_repr(self) -> str:
        return f"order={self.order}, checkpoint={self.checkpoint}"


class PolyReLU(_PolyCom):
    """``sum_{i=0..r} a_i ReLU(x)^i`` with learnable ``a_i`` (Zhuo et al., 2025).

    :param order: the highest power ``r`` (the paper: 3).
    :param coefficients: initial ``a_0 .. a_r`` (default: the official ``a_0 = 0``, ``a_i = 1/r``);
        ``(0, 1, 0, 0)`` is ReLU.
    :param checkpoint: recompute the powers in the backward pass (activation memory of ``x`` only).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(_polyrelu, x)


class PolyNorm(_PolyCom):
    """``sum_{i=0..r} a_i N(x^i)``, ``N`` the RMS normalisation over the last dimension (Zhuo et al.,
    2025).

    With ``stable`` (the default) each row whose largest magnitude ``s`` exceeds 1 is divided by ``s``
    before the powers are taken; ``N`` is scale invariant, so the value is the same function, but
    ``x^(2r)`` cannot overflow. The official code (``stable=False``) overflows in float32 once ``|x|``
    passes about 2.6e6 for ``r = 3`` (the cubic term drops to 0, or turns NaN past 7e12).

    :param order: the highest power ``r`` (the paper: 3).
    :param eps: added to the mean square inside ``N`` (official: 1e-6).
    :param coefficients: initial ``a_0 .. a_r`` (default: the official ``a_0 = 0``, ``a_i = 1/r``).
    :param stable: take powers of ``x / max|x|`` (rows past 1) so that ``x^(2r)`` cannot overflow; same function.
    :param checkpoint: recompute the powers in the backward pass (activation memory of ``x`` only).
    """

    def __init__(
        self,
        order: int = 3,
        eps: float = 1e-6,
        coefficients: Sequence[float] | None = None,
        stable: bool = True,
        checkpoint: bool = False,
    ):
        super().__init__(order, coefficients, checkpoint)
        self.eps = float(eps)
        self.stable = bool(stable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(_polynorm, x, self.eps, self.stable)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eps={self.eps}, stable={self.stable}"
