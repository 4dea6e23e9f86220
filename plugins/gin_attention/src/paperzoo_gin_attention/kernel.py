"""GIN-Attention (Buehler 2025, arXiv:2501.02393): each head's attention matrix is a weighted adjacency.

Standard attention returns ``A V`` with ``A = softmax(q k^T / sqrt(d) + mask)``. GIN-Attention reads
``A`` as the weighted adjacency of a graph over the tokens and returns a Graph Isomorphism Network
update per head ``h``:

    ``z_h = MLP_h((1 + eps_h) V_h + AGG(A_h, V_h))``,

with ``AGG = A V`` (sum aggregation, the paper's GIN) and a learnable ``eps_h`` per head. The MLP is
per head (the paper and its code: one GIN layer per head, ``Linear(d, m d) -> RMSNorm -> SiLU ->
Linear(m d, d)``), shared over heads, or the identity; with the identity and ``eps = -1`` the kernel
is standard softmax attention.

PNA-style aggregation (optional): ``aggregators`` from ``sum`` (``A V``), ``mean`` (``A V`` over the
weighted degree ``sum_j A_ij``), ``max`` (``max_j A_ij V_j`` over the visible keys) and ``std``
(the ``A``-weighted standard deviation of ``V`` about the weighted mean); ``scalers`` from
``identity``, ``amplification`` (``log(n + 1) / delta``) and ``attenuation`` (``delta / log(n + 1)``)
with ``n`` the number of visible keys and ``delta`` a constant (PNA: the training set's mean
``log(n + 1)``). Beyond plain ``sum``/``identity`` the concatenated aggregates are mixed back to
``Dh`` features by a per-head linear map before the GIN update.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

AGGREGATORS = ("sum", "mean", "max", "std")
SCALERS = ("identity", "amplification", "attenuation")
MLPS = ("per_head", "shared", "identity")


def attention_adjacency(
    q: torch.Tensor, k: torch.Tensor, mask=None, scale: float | None = None
) -> torch.Tensor:
    """``softmax(q k^T * scale + mask)`` ``[B, H, Tq, Tk]`` (``k`` already repeated to ``H`` heads):
    the weighted adjacency, row ``i`` over the keys token ``i`` may see."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-1, -2)) * scale
    bias = None if mask is None else mask.bias(q.shape[-2], k.shape[-2], scores.dtype, q.device)
    return (scores if bias is None else scores + bias).softmax(-1)


def visible(mask, tq: int, tk: int, device: torch.device) -> torch.Tensor | None:
    """Boolean ``[B|1, 1, Tq, Tk]`` of the keys each query may see (``None``: every key)."""
    return None if mask is None else mask.allowed(tq, tk, device)


def aggregate(
    a: torch.Tensor,
    v: torch.Tensor,
    allowed: torch.Tensor | None,
    aggregators: tuple[str, ...],
    scalers: tuple[str, ...],
    delta: float,
) -> torch.Tensor:
    """The aggregates of ``v`` ``[B, H, Tk, Dh]`` over the graph ``a`` ``[B, H, Tq, Tk]``, each scaled,
    concatenated on the last axis: ``[B, H, Tq, len(aggregators) * len(scalers) * Dh]``."""
    tq, tk = a.shape[-2:]
    summed = a @ v
    degree = a.sum(-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    feats = []
    for name in aggregators:
        if name == "sum":
            feats.append(summed)
        elif name == "mean":
            feats.append(summed / degree)
        elif name == "max":
            msg = a.unsqueeze(-1) * v.unsqueeze(-3)  # [B, H, Tq, Tk, Dh]: A_ij V_j
            if allowed is not None:
                msg = msg.masked_fill(~allowed.unsqueeze(-1), float("-inf"))
            feats.append(msg.amax(-2))
        else:  # std
            mean = summed / degree
            second = (a @ (v * v)) / degree
            feats.append(torch.sqrt(F.relu(second - mean * mean) + 1e-5))
    n = torch.full((1, 1, tq, 1), float(tk), dtype=a.dtype, device=a.device)
    if allowed is not None:
        n = allowed.sum(-1, keepdim=True).to(a.dtype)
    log_n = torch.log(n + 1.0)
    out = []
    for scaler in scalers:
        factor = (
            1.0 if scaler == "identity" else (log_n / delta if scaler == "amplification" else delta / log_n)
        )
        out.extend(f * factor for f in feats)
    return torch.cat(out, dim=-1)


class HeadMLP(nn.Module):
    """``Linear(Dh, hidden) -> RMSNorm -> SiLU -> Linear(hidden, Dh)`` applied per head: ``heads``
    independent weight sets (``heads = 1``: one MLP shared by every head). Input ``[B, H, T, Dh]``."""

    def __init__(self, heads: int, dim: int, hidden: int, norm: bool = True, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(heads, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(heads, 1, hidden))
        self.w2 = nn.Parameter(torch.empty(heads, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(heads, 1, dim))
        self.gain = nn.Parameter(torch.ones(hidden)) if norm else None
        self.norm_eps = norm_eps
        for w, fan_in in ((self.w1, dim), (self.w2, hidden)):  # nn.Linear's default uniform bound
            nn.init.uniform_(w, -(fan_in**-0.5), fan_in**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x @ self.w1 + self.b1  # [B, H, T, hidden] (a shared MLP broadcasts over the heads)
        if self.gain is not None:
            h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.norm_eps) * self.gain
        return F.silu(h) @ self.w2 + self.b2


class GINAttention(nn.Module):
    """A tinylm attention kernel ``(q, k, v, mask, pattern) -> z``: GIN update over the softmax graph.

    :param n_heads: query heads (sizes the per-head ``eps`` and MLPs).
    :param head_dim: features per head.
    :param mlp: ``per_head`` (the paper), ``shared``, or ``identity``.
    :param mlp_multiplier: hidden width of the MLP in units of ``head_dim`` (paper code: 2).
    :param mlp_norm: RMSNorm inside the MLP (paper code: yes).
    :param eps_init: initial ``eps`` (``-1``: no self term; the GIN default is 0).
    :param learn_eps: ``eps`` is a trainable parameter (else a fixed buffer).
    :param aggregators, scalers: the PNA-style options (default: GIN's sum, unscaled).
    :param delta: the PNA degree constant of the scalers.
    :param scale: score scale (``None``: ``1 / sqrt(head_dim)``).
    """

    def __init__(
        self,
        n_heads: int,
        head_dim: int,
        mlp: str = "per_head",
        mlp_multiplier: float = 2.0,
        mlp_norm: bool = True,
        eps_init: float = 0.0,
        learn_eps: bool = True,
        aggregators: list[str] | tuple[str, ...] = ("sum",),
        scalers: list[str] | tuple[str, ...] = ("identity",),
        delta: float = 1.0,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if mlp not in MLPS:
            raise ValueError(f"mlp: got {mlp!r}; accepted: one of {list(MLPS)}")
        bad = [a for a in aggregators if a not in AGGREGATORS] + [s for s in scalers if s not in SCALERS]
        if bad or not aggregators or not scalers:
            raise ValueError(
                f"aggregators/scalers: got {list(aggregators)}/{list(scalers)}; accepted: non-empty lists "
                f"from {list(AGGREGATORS)} and {list(SCALERS)}"
            )
        if delta <= 0:
            raise ValueError(f"delta: got {delta}; accepted: a positive number")
        self.n_heads, self.head_dim, self.mlp_kind = int(n_heads), int(head_dim), mlp
        self.aggregators, self.scalers = tuple(aggregators), tuple(scalers)
        self.delta, self.scale = float(delta), scale
        eps = torch.full((self.n_heads, 1, 1), float(eps_init))
        if learn_eps:
            self.eps = nn.Parameter(eps)
        else:
            self.register_buffer("eps", eps)
        width = len(self.aggregators) * len(self.scalers)
        self.mix = None
        if width > 1 or self.aggregators != ("sum",):
            self.mix = nn.Parameter(torch.empty(self.n_heads, width * self.head_dim, self.head_dim))
            nn.init.uniform_(self.mix, -((width * self.head_dim) ** -0.5), (width * self.head_dim) ** -0.5)
        self.mlp = None
        if mlp != "identity":
            heads = self.n_heads if mlp == "per_head" else 1
            hidden = max(1, int(round(mlp_multiplier * self.head_dim)))
            self.mlp = HeadMLP(heads, self.head_dim, hidden, norm=mlp_norm)

    def forward(self, q, k=None, v=None, mask=None, pattern=None) -> torch.Tensor:
        if mask is not None and getattr(mask, "cross", False):
            raise ValueError("mask: cross-attention has no self term; GIN-Attention is self-attention only")
        k = q if k is None else k
        v = k if v is None else v
        groups = q.shape[1] // k.shape[1]
        if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        if q.shape[1] != self.n_heads or q.shape[-1] != self.head_dim:
            raise ValueError(
                f"q: got {q.shape[1]} heads of {q.shape[-1]} features; this kernel was built for "
                f"n_heads={self.n_heads}, head_dim={self.head_dim}"
            )
        a = attention_adjacency(q, k, mask, self.scale)
        if pattern is not None:
            a = pattern(a)
        if self.mix is None:
            agg = a @ v
        else:
            allowed = visible(mask, q.shape[-2], k.shape[-2], q.device)
            agg = aggregate(a, v, allowed, self.aggregators, self.scalers, self.delta) @ self.mix
        tq, tk = q.shape[-2], k.shape[-2]
        # the self term: query i is token (tk - tq + i), whose own value is v[..., tk - tq + i, :]
        h = (1.0 + self.eps) * v[..., tk - tq :, :] + agg
        return h if self.mlp is None else self.mlp(h)

    def extra_repr(self) -> str:
        return (
            f"n_heads={self.n_heads}, head_dim={self.head_dim}, mlp={self.mlp_kind}, "
            f"aggregators={list(self.aggregators)}, scalers={list(self.scalers)}"
        )


def degree_delta(n_keys: torch.Tensor | float) -> float:
    """PNA's ``delta``: the mean ``log(n + 1)`` of the visible-key counts ``n`` (e.g. ``arange(1, T + 1)``
    for a causal sequence of length ``T``)."""
    n = torch.as_tensor(n_keys, dtype=torch.float64)
    return float(torch.log(n + 1.0).mean()) if n.numel() else math.log(2.0)
