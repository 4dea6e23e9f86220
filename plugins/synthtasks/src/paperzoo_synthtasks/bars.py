"""The Riemann ("bar") distribution: a histogram density over fixed bucket borders, predicted as logits,
with optional half-normal tails on the outer buckets so that every real ``y`` has positive density.

Borders come from quantiles of ``y`` values sampled from the prior (:func:`borders_from_samples`). The
outer tails follow the paper's code: the first bucket's mass is spread as a half-normal extending left
from ``borders[1]`` (and the last's right from ``borders[-2]``) whose scale puts half its mass within the
bucket's width.
"""

from __future__ import annotations

import math

import torch
from paperzoo.errors import ParamError
from torch import nn

_HALF_NORMAL_MEDIAN = math.sqrt(2.0) * 0.4769362762044699  # icdf(0.5) of a unit half-normal


def borders_from_samples(ys: torch.Tensor, num_bars: int) -> torch.Tensor:
    """``num_bars + 1`` sorted borders: the samples' min and max, and between them the midpoints of
    consecutive order statistics that split the (sorted, trimmed to a multiple of ``num_bars``) samples
    into ``num_bars`` equal-count groups."""
    ys = ys.flatten()
    if num_bars < 2 or len(ys) < num_bars:
        raise ParamError(
            "num_bars", f"got {num_bars} for {len(ys)} samples; accepted: 2 <= num_bars <= samples"
        )
    lo, hi = ys.min(), ys.max()
    if len(ys) % num_bars:
        ys = ys[: -(len(ys) % num_bars)]
    per = len(ys) // num_bars
    s = ys.sort().values
    inner = (s[per - 1 :: per][:-1] + s[per::per]) / 2
    return torch.cat([lo.reshape(1), inner, hi.reshape(1)])


class BarDistribution(nn.Module):
    """Density over bucket ``borders`` (sorted, ``num_bars + 1`` values) given logits ``(..., num_bars)``.

    :param borders: the bucket borders.
    :param full_support: put half-normal tails on the outer buckets (every ``y`` in R has a density);
        otherwise the support is ``[borders[0], borders[-1]]``.
    """

    def __init__(self, borders: torch.Tensor | list[float], full_support: bool = True):
        super().__init__()
        borders = torch.as_tensor(borders).clone()
        if not borders.is_floating_point():
            borders = borders.to(torch.get_default_dtype())
        if borders.ndim != 1 or len(borders) < 3 or not bool((borders[1:] > borders[:-1]).all()):
            raise ParamError("borders", "accepted: at least 3 strictly increasing values")
        self.register_buffer("borders", borders)
        self.full_support = full_support

    @property
    def num_bars(self) -> int:
        return len(self.borders) - 1

    @property
    def widths(self) -> torch.Tensor:
        return self.borders[1:] - self.borders[:-1]

    def bucket(self, y: torch.Tensor) -> torch.Tensor:
        """The bucket index of each ``y`` (a border belongs to the bucket on its left, the lowest border
        to bucket 0), clamped to ``[0, num_bars - 1]``."""
        borders = self.borders.to(y.dtype)
        idx = torch.searchsorted(borders, y.contiguous()) - 1
        idx = torch.where(y == borders[0], torch.zeros_like(idx), idx)
        return idx.clamp(0, self.num_bars - 1)

    def tail_scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scales of the left and right half-normal tails."""
        w = self.widths
        return w[0] / _HALF_NORMAL_MEDIAN, w[-1] / _HALF_NORMAL_MEDIAN

    def log_density(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``log p(y)`` for logits ``(..., num_bars)`` and ``y`` of shape ``(...)``."""
        borders, widths = self.borders.to(logits.dtype), self.widths.to(logits.dtype)
        idx = self.bucket(y.to(logits.dtype))
        logp = torch.log_softmax(logits, -1).gather(-1, idx.unsqueeze(-1)).squeeze(-1)
        out = logp - torch.log(widths[idx])
        if not self.full_support:
            return out
        s_left, s_right = (s.to(logits.dtype) for s in self.tail_scales())
        left = _half_normal_log_prob((borders[1] - y).clamp(min=1e-8), s_left)
        right = _half_normal_log_prob((y - borders[-2]).clamp(min=0), s_right)
        out = torch.where(idx == 0, logp + left, out)
        return torch.where(idx == self.num_bars - 1, logp + right, out)

    def nll(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``-log p(y)``, elementwise (the training loss)."""
        return -self.log_density(logits, y)

    def bucket_moments(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Each bucket's mean and second moment (uniform inside; half-normal on full-support tails)."""
        b = self.borders.to(dtype)
        lo, hi = b[:-1], b[1:]
        mean, second = (lo + hi) / 2, (lo**2 + lo * hi + hi**2) / 3
        if self.full_support:
            s_left, s_right = (s.to(dtype) for s in self.tail_scales())
            c = math.sqrt(2 / math.pi)
            mean, second = mean.clone(), second.clone()
            mean[0], second[0] = b[1] - s_left * c, b[1] ** 2 - 2 * b[1] * s_left * c + s_left**2
            mean[-1], second[-1] = b[-2] + s_right * c, b[-2] ** 2 + 2 * b[-2] * s_right * c + s_right**2
        return mean, second

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The predictive mean."""
        m, _ = self.bucket_moments(logits.dtype)
        return torch.softmax(logits, -1) @ m

    def variance(self, logits: torch.Tensor) -> torch.Tensor:
        """The predictive variance."""
        m, s = self.bucket_moments(logits.dtype)
        p = torch.softmax(logits, -1)
        return (p @ s - (p @ m) ** 2).clamp(min=0)


def _half_normal_log_prob(z: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return 0.5 * math.log(2 / math.pi) - torch.log(scale) - 0.5 * (z / scale) ** 2


class BarDistributionHead(nn.Module):
    """A decoder from hidden states to bar logits (``Linear -> GELU -> Linear``, the paper's decoder),
    carrying the :class:`BarDistribution` that turns the logits into densities.

    :param d_model: width of the hidden states.
    :param borders: the bucket borders (see :func:`borders_from_samples`); or ``None`` with ``num_bars``
        for equal-width buckets over ``y_range``.
    :param num_bars: buckets when ``borders`` is not given.
    :param y_range: the range the equal-width buckets cover.
    :param hidden: the decoder's hidden width (default ``2 * d_model``).
    :param full_support: half-normal tails on the outer buckets.
    """

    def __init__(
        self,
        d_model: int,
        borders: list[float] | torch.Tensor | None = None,
        num_bars: int = 100,
        y_range: tuple[float, float] = (-3.0, 3.0),
        hidden: int | None = None,
        full_support: bool = True,
    ):
        super().__init__()
        if borders is None:
            if num_bars < 2:
                raise ParamError("num_bars", f"got {num_bars}; accepted: at least 2")
            lo, hi = y_range
            if not hi > lo:
                raise ParamError("y_range", f"got {list(y_range)}; accepted: [low, high] with low < high")
            borders = torch.linspace(float(lo), float(hi), num_bars + 1)
        self.dist = BarDistribution(borders, full_support=full_support)
        hidden = hidden or 2 * d_model
        self.decoder = nn.Sequential(
            nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, self.dist.num_bars)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Bar logits ``(..., num_bars)`` for hidden states ``(..., d_model)``."""
        return self.decoder(h)
