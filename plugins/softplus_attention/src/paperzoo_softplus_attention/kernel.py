"""Length-scaled softplus attention (LSSA) and its re-weighting (LSSAR), Gao et al. 2025, arXiv:2501.13428.

Stage 1 (normalisation): with ``q``, ``k`` rows divided by their L2 norms and ``N`` the number of keys
a query may see (``i + 1`` for the ``i``-th query of a causal sequence, counting cached keys),

    ``A = softplus(log(d) * log(N) * q k^T) * M``,  ``A_i <- A_i / (||A_i||_1 + eps)``

(``M``: the 0/1 mask). Stage 2 (sharpening, "re-weighting"): ``A <- ReLU(A * N - O)^p``, then
``A_i <- A_i / (||A_i||_1 + eps)``, where ``O`` is 1 (0 for rows with fewer than ``min_keys`` visible
keys, which a shift by the row mean would empty). The power is taken of ``ReLU(...) / rowmax`` with
``eps`` rescaled to match (the same value; it keeps ``p = 15`` finite in float32 at any length).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NORMALIZERS = ("softplus", "softmax")


def visible_keys(mask, tq: int, tk: int, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(allowed, n)``: the boolean ``[B|1, 1, Tq, Tk]`` mask (``None``: all keys) and the number of
    visible keys per query ``[B|1, 1, Tq, 1]`` (float)."""
    allowed = None if mask is None else mask.allowed(tq, tk, device)
    if allowed is None:
        return None, torch.full((1, 1, tq, 1), float(tk), device=device)
    return allowed, allowed.sum(-1, keepdim=True).float()


def softplus_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    allowed: torch.Tensor | None,
    n: torch.Tensor,
    qk_norm: bool = True,
    eps: float = 1e-8,
) -> torch.Tensor:
    """LSSA weights ``[B, H, Tq, Tk]``: rows non-negative, summing to one over the visible keys.

    ``qk_norm=True`` (the paper): ``softplus(log(d) log(N) cos(q, k))``; ``False``: ``softplus(log(N)
    q.k / sqrt(d))`` (the unnormalised form: no bound on the scores)."""
    d = q.shape[-1]
    if qk_norm:
        scores = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-1, -2)
        scale = math.log(d) * torch.log(n.to(q.dtype))
    else:
        scores = (q @ k.transpose(-1, -2)) * d**-0.5
        scale = torch.log(n.to(q.dtype))
    a = F.softplus(scores * scale)
    if allowed is not None:
        a = torch.where(allowed, a, torch.zeros((), dtype=a.dtype, device=a.device))
    return a / (a.sum(-1, keepdim=True) + eps)


def softmax_weights(q: torch.Tensor, k: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """Standard ``softmax(q k^T / sqrt(d))`` over the visible keys (the baseline normaliser)."""
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    return scores.softmax(-1)


def reweight(
    weights: torch.Tensor,
    n: torch.Tensor,
    p: float = 15.0,
    offset: float = 1.0,
    min_keys: int = 4,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Sharpen row-normalised ``weights`` ``[..., Tq, Tk]``: ``ReLU(A N - O)^p`` renormalised, with
    ``n`` the visible keys per row (``[..., Tq, 1]``) and ``O = offset`` where ``n >= min_keys`` (else 0).
    Masked keys (weight 0) stay 0 when ``offset >= 0``."""
    n = n.to(weights.dtype)
    o = torch.where(n >= min_keys, torch.full_like(n, offset), torch.zeros_like(n))
    r = F.relu(weights * n - o)
    top = r.amax(-1, keepdim=True)
    top = torch.where(top > 0, top, torch.ones_like(top))
    r = (r / top).pow(p)
    # r^p / (sum r^p + eps) computed as (r/top)^p / (sum (r/top)^p + eps / top^p): the same value, finite
    # in float32 for any length; the exponent is capped where the row's mass is negligible against eps
    eps_scaled = torch.exp(torch.clamp(math.log(eps) - p * torch.log(top), max=60.0)) if eps > 0 else 0.0
    return r / (r.sum(-1, keepdim=True) + eps_scaled)


class AttentionReweighting(nn.Module):
    """The inference-time re-weighting ``(weights, n=None) -> weights`` (no parameters).

    :param p: power (paper: 15 for long contexts, 3 at the training length).
    :param offset: ``O``, subtracted after scaling the weights by ``N`` (paper: 1, the row mean).
    :param min_keys: rows with fewer visible keys are not shifted (else a uniform row would be emptied).
    :param eps: added to the renormalising sum.
    """

    def __init__(self, p: float = 15.0, offset: float = 1.0, min_keys: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        if p <= 0:
            raise ValueError(f"p: got {p}; accepted: a positive power (1: no sharpening)")
        self.p, self.offset, self.min_keys, self.eps = float(p), float(offset), int(min_keys), float(eps)

    def forward(self, weights: torch.Tensor, n: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` ``[..., Tq, 1]`` visible keys per row (default: every key, ``Tk``)."""
        if n is None:
            n = torch.full((*weights.shape[:-1], 1), float(weights.shape[-1]), device=weights.device)
        return reweight(weights, n, self.p, self.offset, self.min_keys, self.eps)

    def extra_repr(self) -> str:
        return f"p={self.p}, offset={self.offset}, min_keys={self.min_keys}"


class SoftplusAttention(nn.Module):
    """A tinylm attention kernel ``(q, k, v, mask, pattern) -> z``: LSSA, optionally re-weighted (LSSAR).

    :param normalizer: ``softplus`` (LSSA) or ``softmax`` (the baseline, to re-weight softmax attention).
    :param qk_norm: L2-normalise queries and keys and scale by ``log d`` (the paper); ``False``: ``q.k /
        sqrt(d)`` scaled by ``log N`` only.
    :param p: re-weighting power; ``None``: no re-weighting (set it after training with
        :func:`set_reweighting`: the paper's fine-tuning-free use).
    :param offset, min_keys: see :class:`AttentionReweighting`.
    :param eps: added to both renormalising sums.
    """

    def __init__(
        self,
        normalizer: str = "softplus",
        qk_norm: bool = True,
        p: float | None = None,
        offset: float = 1.0,
        min_keys: int = 4,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        if normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer: got {normalizer!r}; accepted: one of {list(NORMALIZERS)}")
        self.normalizer, self.qk_norm, self.eps = normalizer, bool(qk_norm), float(eps)
        self.reweighting = None if p is None else AttentionReweighting(p, offset, min_keys, eps)

    def weights(self, q: torch.Tensor, k: torch.Tensor, mask=None) -> torch.Tensor:
        """The attention weights ``[B, H, Tq, Tk]`` (``k`` already repeated to ``H`` heads)."""
        allowed, n = visible_keys(mask, q.shape[-2], k.shape[-2], q.device)
        if self.normalizer == "softplus":
            w = softplus_weights(q, k, allowed, n, self.qk_norm, self.eps)
        else:
            w = softmax_weights(q, k, allowed)
        return w if self.reweighting is None else self.reweighting(w, n)

    def forward(self, q, k=None, v=None, mask=None, pattern=None) -> torch.Tensor:
        k = q if k is None else k
        v = k if v is None else v
        groups = q.shape[1] // k.shape[1]
        if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        w = self.weights(q, k, mask)
        if pattern is not None:
            w = pattern(w)
        return w @ v

    def extra_repr(self) -> str:
        return f"normalizer={self.normalizer}, qk_norm={self.qk_norm}"


def set_reweighting(model: nn.Module, p: float | None, offset: float = 1.0, min_keys: int = 4) -> int:
    """Switch the re-weighting of every :class:`SoftplusAttention` kernel in ``model`` (``p=None``: off),
    without touching any weight; returns how many kernels were set."""
    count = 0
    for module in model.modules():
        if isinstance(module, SoftplusAttention):
            module.reweighting = None if p is None else AttentionReweighting(p, offset, min_keys, module.eps)
            count += 1
    return count
