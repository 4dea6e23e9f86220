"""The paper's two analyses of a kNN-LM, as plain tensor functions.

(i) Per-token split of the log-likelihood change from interpolation: ``delta_t = log p_kNN-LM(y_t) -
log p_LM(y_t)``; tokens with ``delta_t > 0`` improved, ``delta_t < 0`` worsened. The two partial sums add
up to the total change (the perplexity ratio is ``exp(-total / n)``).

(ii) Entropy of the retrieval distribution ``p_kNN`` (aggregated over the vocabulary) and of the base
LM's ``p_LM`` at every generated position, to see whether retrieval degrades faster than the LM as the
model reads more of its own output (exposure bias).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from paperzoo_knn_lm.knn import gather_targets


@dataclass(frozen=True)
class DeltaSplit:
    """Sums of ``delta_t`` over improved / worsened tokens and the counts of each (``n`` in all)."""

    improved: float
    worsened: float
    total: float
    n_improved: int
    n_worsened: int
    n: int
    gain_concentration: float

    def as_dict(self) -> dict[str, float]:
        """Per-token averages and shares (``delta_*`` are sums divided by ``n``)."""
        n = max(self.n, 1)
        return {
            "frac_improved": self.n_improved / n,
            "frac_worsened": self.n_worsened / n,
            "delta_improved": self.improved / n,
            "delta_worsened": self.worsened / n,
            "delta_total": self.total / n,
            "gain_concentration": self.gain_concentration,
        }


def token_deltas(
    lm_log_probs: torch.Tensor, mixed_log_probs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """``delta_t`` (float64) of every scored position: ``[..., V]`` log-probabilities, ``[...]`` targets;
    negative (ignored) targets are dropped, so the result is flat ``[n]``."""
    return gather_targets(mixed_log_probs, targets) - gather_targets(lm_log_probs, targets)


def split_deltas(deltas: torch.Tensor) -> DeltaSplit:
    """Split ``deltas`` ``[n]`` into improved (``> 0``) and worsened (``< 0``) tokens.

    Sums use ``math.fsum`` (correctly rounded), so ``improved + worsened`` equals ``total`` up to the one
    rounding of that final addition. ``gain_concentration`` is the smallest share of tokens, taken from
    the largest improvement down, whose improvements alone reach the net gain ``total`` (``nan`` when
    ``total <= 0``): a small value means a minority of tokens carries the perplexity gain.
    """
    d = deltas.double().flatten().tolist()
    pos = [v for v in d if v > 0]
    neg = [v for v in d if v < 0]
    total = math.fsum(d)
    conc = float("nan")
    if total > 0:
        run = 0.0
        for i, v in enumerate(sorted(pos, reverse=True), start=1):
            run += v
            if run >= total:
                conc = i / len(d)
                break
    return DeltaSplit(math.fsum(pos), math.fsum(neg), total, len(pos), len(neg), len(d), conc)


def entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats over the last axis of log-probabilities; ``-inf`` entries (zero
    probability) contribute nothing."""
    lp = log_probs.double()
    p = lp.exp()
    return -torch.where(p > 0, p * lp, torch.zeros_like(lp)).sum(-1)


def least_squares_slope(y: torch.Tensor) -> float:
    """Slope of the least-squares line through ``(t, y_t)``, ``t = 0 .. len(y) - 1``."""
    t = torch.arange(y.numel(), dtype=torch.float64)
    yc = y.double().flatten()
    tc = t - t.mean()
    return float((tc * (yc - yc.mean())).sum() / (tc * tc).sum())
