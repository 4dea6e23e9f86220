"""DPRoPE: choose, per RoPE frequency, the context-extension strategy whose rotary-angle distribution is
closest to the pre-training one (Wu et al., 2024, Sec. 3).

For the RoPE dimension pair ``i`` with inverse frequency ``theta_i``, the rotary angles at positions
``m < L`` are ``phi_{i,m} = (m * theta_i) mod 2 pi``. Their distribution is estimated by a histogram of
``intervals`` equal bins on ``[0, 2 pi)`` (bin ``floor(intervals / (2 pi) * phi)``), every bin starting at
``eps`` (float16's smallest normal number, so that an empty bin has a finite logarithm), divided by the
number of positions:

    P_i(k) = (eps + #{m < L : bin(phi_{i,m}) = k}) / L

``P_i`` is taken over the pre-training positions ``m < L_train`` with ``theta_i``; each candidate
strategy ``s`` gives ``P^s_i`` over the extended positions ``m < L_target``: extrapolation keeps
``theta_i``, interpolation uses ``theta_i / s`` with ``s = L_target / L_train``. Per dimension the
strategy with the smallest ``D_KL(P_i || P^s_i) = sum_k P_i(k) log(P_i(k) / P^s_i(k))`` wins (ties go to
extrapolation, the first candidate), and the new inverse frequency is ``theta_i / factor_i``, with
``factor_i`` 1 (extrapolation) or ``s`` (interpolation).

The binning, the ``eps`` start, the division by the number of positions (the histogram is not
renormalised) and the direction of the divergence follow the authors' code; the angles are computed in
float32, as the RoPE module computes them. Everything is vectorised over dimensions and positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

EPS = float(torch.finfo(torch.float16).tiny)  # 2 ** -14: the starting count of every bin
STRATEGIES = ("extrapolation", "interpolation")


def rotary_angles(inv_freq: torch.Tensor, n_positions: int) -> torch.Tensor:
    """``(m * inv_freq_i) mod 2 pi`` for ``m < n_positions``: ``[len(inv_freq), n_positions]``, in the
    dtype of ``inv_freq`` (float32 for RoPE)."""
    positions = torch.arange(n_positions, device=inv_freq.device)
    return (inv_freq[:, None] * positions[None, :]) % (2 * math.pi)


def angle_histogram(
    inv_freq: torch.Tensor, n_positions: int, intervals: int = 360, eps: float = EPS
) -> torch.Tensor:
    """The rotary-angle distribution of each dimension: ``[len(inv_freq), intervals]`` float64,
    ``(eps + count) / n_positions`` (counts are exact integers; not renormalised)."""
    if n_positions < 1 or intervals < 1:
        raise ValueError(f"n_positions={n_positions}, intervals={intervals}: accepted: both at least 1")
    angles = rotary_angles(inv_freq, n_positions)
    bins = torch.floor((intervals / (2 * math.pi)) * angles).long()
    # an angle rounded up to 2 pi would fall one past the last bin: it belongs to the last bin
    bins = bins.clamp_(0, intervals - 1)
    counts = torch.zeros(inv_freq.shape[0], intervals, dtype=torch.float64, device=inv_freq.device)
    counts.scatter_add_(1, bins, torch.ones_like(bins, dtype=torch.float64))
    return (counts + eps) / n_positions


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``sum_k p_k log(p_k / q_k)`` over the last dimension (``p``, ``q`` positive; not renormalised)."""
    return (p * (p.log() - q.log())).sum(-1)


def candidate_factors(train_len: int, target_len: int) -> torch.Tensor:
    """The per-strategy frequency divisors, in :data:`STRATEGIES` order: ``[1, L_target / L_train]``."""
    return torch.tensor([1.0, target_len / train_len], dtype=torch.float32)


def strategy_divergences(
    inv_freq: torch.Tensor, train_len: int, target_len: int, intervals: int = 360, eps: float = EPS
) -> torch.Tensor:
    """``D_KL(P_i || P^s_i)`` for every strategy ``s`` and dimension ``i``: ``[len(STRATEGIES), d/2]``."""
    inv_freq = torch.as_tensor(inv_freq, dtype=torch.float32)
    origin = angle_histogram(inv_freq, train_len, intervals, eps)
    factors = candidate_factors(train_len, target_len)
    scaled = torch.stack([inv_freq / f for f in factors])  # [S, d/2]
    hist = angle_histogram(scaled.flatten(), target_len, intervals, eps).view(len(factors), -1, intervals)
    return kl_divergence(origin[None], hist)


def dprope_scaling_factors(
    inv_freq: torch.Tensor, train_len: int, target_len: int, intervals: int = 360, eps: float = EPS
) -> torch.Tensor:
    """Per dimension, the divisor of the strategy with the smallest divergence (float32, ``d/2``)."""
    _check_lengths(train_len, target_len)
    choice = strategy_divergences(inv_freq, train_len, target_len, intervals, eps).argmin(0)
    return candidate_factors(train_len, target_len)[choice]


def dprope_inv_freq(
    inv_freq: torch.Tensor, train_len: int, target_len: int, intervals: int = 360, eps: float = EPS
) -> torch.Tensor:
    """The DPRoPE inverse frequencies: ``inv_freq / factor`` per dimension (float32)."""
    inv_freq = torch.as_tensor(inv_freq, dtype=torch.float32)
    return inv_freq / dprope_scaling_factors(inv_freq, train_len, target_len, intervals, eps)


def _check_lengths(train_len: int, target_len: int) -> None:
    if train_len < 1 or target_len < train_len:
        raise ValueError(
            f"train_len={train_len}, target_len={target_len}: accepted: 1 <= train_len <= target_len"
        )


class DPRoPEInvFreq:
    """A ``rope_inv_freq`` function for tinylm: ``(head_dim, theta) -> tensor`` of the DPRoPE
    frequencies for a model pre-trained at ``train_len`` and extended to ``target_len``.

    ``strategy`` forces one strategy for every dimension instead (``"extrapolation"``: the default
    frequencies; ``"interpolation"``: position interpolation), for comparisons.
    """

    def __init__(
        self, train_len: int, target_len: int, intervals: int = 360, strategy: str = "dprope"
    ) -> None:
        _check_lengths(train_len, target_len)
        if strategy not in ("dprope", *STRATEGIES):
            raise ValueError(f"strategy={strategy!r}: accepted: 'dprope', {', '.join(map(repr, STRATEGIES))}")
        self.train_len, self.target_len, self.intervals, self.strategy = (
            train_len,
            target_len,
            intervals,
            strategy,
        )

    def __call__(self, head_dim: int, theta: float) -> torch.Tensor:
        from paperzoo_tinylm.positions import default_inv_freq

        base = default_inv_freq(head_dim, theta)
        if self.strategy == "dprope":
            return dprope_inv_freq(base, self.train_len, self.target_len, self.intervals)
        return base / candidate_factors(self.train_len, self.target_len)[STRATEGIES.index(self.strategy)]

    def __repr__(self) -> str:
        return (
            f"DPRoPEInvFreq(train_len={self.train_len}, target_len={self.target_len}, "
            f"intervals={self.intervals}, strategy={self.strategy!r})"
        )


def choices(factors: Sequence[float] | torch.Tensor) -> list[str]:
    """Names of the chosen strategies from :func:`dprope_scaling_factors`' output."""
    return ["extrapolation" if float(f) == 1.0 else "interpolation" for f in factors]
