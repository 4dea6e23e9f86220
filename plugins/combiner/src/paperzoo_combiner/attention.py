"""Combiner attention: full attention as a factorised conditional expectation (Ren et al., 2021).

For query ``i`` the support (every key it may see) is split into a direct set ``Omega_i^0`` (its own
region) and abstract regions ``Omega_i^r``. The attention distribution factorises as

``p(j | i) = exp(q_i k_j) / Z_i``                         for ``j`` in ``Omega_i^0``,
``p(j | i) = exp(q_i k_{Omega_r}) / Z_i * q(j | Omega_r)`` for ``j`` in ``Omega_i^r``,

with one normaliser ``Z_i`` over the direct logits and the region logits (one softmax), so the joint
weights over direct positions and abstract regions sum to one, and ``q(j | Omega_r)`` (the within-region
distribution, shared by every query that reaches the region) sums to one over the region. The output is
``z_i = sum_{j in Omega^0} p(j|i) v_j + sum_r p(Omega_r|i) vbar_r`` with ``vbar_r = sum_j q(j|Omega_r) v_j``.

Partitions (``partition``):

- ``fixed`` (Combiner-Fixed): contiguous regions of ``s`` tokens. Direct: the query's own region
  (causal: the keys up to it); abstract: every other region (causal: the earlier ones). The region key
  ``k_{Omega_r}`` is the max or mean pool of its keys (``key_pool``); ``q(j | Omega_r)`` is
  ``softmax_j(qbar_r k_j)`` with ``qbar_r`` the max or mean pool of the region's queries
  (``summary="attention"``, the official code's form) or uniform (``summary="mean"``: mean-pooled values).
- ``axial`` (Combiner-Axial, row-major): the sequence is a grid of rows of ``s`` tokens. Direct: the
  query's own row (causal: up to it); abstract: every other row (causal: the earlier ones), reached
  through the token of the query's column in that row: region key ``k_{(row, col)}`` (``axial_key="self"``)
  or the row-attention-weighted key (``"wsum"``), and ``q(j | row)`` that token's attention over the
  whole row.

With ``s = sqrt(L)`` both cost ``O(L sqrt(L))``; ``local_only=True`` drops the abstract regions
(block-diagonal attention: the ablation without summaries). Everything is vectorised over regions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from paperzoo_tinylm.attention import AttentionMask, repeat_kv
from torch import nn

PARTITIONS = ("fixed", "axial")
POOLS = ("max", "mean")
SUMMARIES = ("attention", "mean")
AXIAL_KEYS = ("self", "wsum")


class CombinerParts(NamedTuple):
    """The factors of one forward pass (sequence padded to ``n * s``).

    ``direct`` ``[B, H, n, s, s]``: joint weights of each query's direct keys (its region/row);
    ``abstract`` ``[B, H, n, s, n]``: joint weights of the regions; ``within``: ``q(j | Omega)``,
    ``[B, H, n, s]`` (``fixed``: per region) or ``[B, H, n, s, s]`` (``axial``: per row and column).
    """

    partition: str
    direct: torch.Tensor
    abstract: torch.Tensor | None
    within: torch.Tensor | None
    length: int


def default_region(length: int) -> int:
    """``ceil(sqrt(length))``: the region size that makes Combiner ``O(L sqrt(L))``."""
    return max(1, math.ceil(math.sqrt(length)))


def _pool(x: torch.Tensor, ok: torch.Tensor, how: str) -> torch.Tensor:
    """Pool ``x`` ``[B, H, n, s, D]`` over ``s`` where ``ok`` ``[B|1, 1, n, s]``; empty regions give 0."""
    m = ok[..., None]
    if how == "max":
        out = x.masked_fill(~m, float("-inf")).amax(3)
        return out.masked_fill(~m.any(3), 0.0)
    return (x * m).sum(3) / m.sum(3).clamp_min(1)


def _masked_softmax(logits: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis where ``ok``; an all-masked row gives zeros (no NaN)."""
    probs = logits.masked_fill(~ok, torch.finfo(logits.dtype).min).softmax(-1)
    return probs * ok


def combiner_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool,
    partition: str = "fixed",
    region_size: int | None = None,
    key_pool: str = "max",
    summary: str = "attention",
    query_pool: str = "max",
    axial_key: str = "self",
    local_only: bool = False,
    key_padding: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, CombinerParts]:
    """Combiner self-attention of ``q, k, v`` ``[B, H, T, D]`` (same ``H``); returns ``(z, parts)``.

    ``key_padding`` ``[B, T]`` (True: a real token) masks padded keys (a query still sees itself).
    The sequence is zero-padded to a multiple of ``region_size`` (default ``ceil(sqrt(T))``); padded
    positions are never keys.
    """
    b, h, t, d = q.shape
    s = default_region(t) if region_size is None else int(region_size)
    n = -(-t // s)
    tp = n * s
    scale = d**-0.5 if scale is None else scale
    valid = torch.arange(tp, device=q.device) < t
    valid = valid[None] if key_padding is None else valid[None] & _pad(key_padding.bool(), tp - t, dim=1)
    if tp != t:
        q, k, v = (_pad(x, tp - t, dim=2) for x in (q, k, v))
    qr, kr, vr = (x.reshape(b, h, n, s, d) for x in (q, k, v))
    key_ok = valid.view(valid.shape[0], 1, n, s)  # [B|1, 1, n, s]
    idx = torch.arange(s, device=q.device)
    direct_ok = key_ok[..., None, :]  # [B|1, 1, n, 1, s]
    if causal:
        direct_ok = direct_ok & (idx[None, :] <= idx[:, None])
    direct_ok = direct_ok | (idx[None, :] == idx[:, None])  # a query always sees itself
    direct = torch.einsum("bhrid,bhrjd->bhrij", qr, kr) * scale
    direct = direct.masked_fill(~direct_ok, float("-inf"))
    if local_only:
        probs = direct.softmax(-1)
        z = torch.einsum("bhrij,bhrjd->bhrid", probs, vr).reshape(b, h, tp, d)[:, :, :t]
        return z, CombinerParts(partition, probs, None, None, t)
    r = torch.arange(n, device=q.device)
    other = (r[None, :] < r[:, None]) if causal else (r[None, :] != r[:, None])  # [n (own), n (region)]
    region_ok = key_ok.any(-1)  # [B|1, 1, n]
    if partition == "fixed":
        region_key = _pool(kr, key_ok, key_pool)  # [B, H, n, D]
        abstract = torch.einsum("bhrid,bhkd->bhrik", qr, region_key) * scale
        abstract_ok = other[:, None, :] & region_ok[:, :, None, None, :]
        if summary == "mean":
            within = (key_ok / key_ok.sum(-1, keepdim=True).clamp_min(1)).to(q.dtype).expand(b, h, n, s)
        else:
            region_query = _pool(qr, key_ok, query_pool)  # [B, H, n, D]
            logits = torch.einsum("bhrd,bhrjd->bhrj", region_query, kr) * scale
            within = _masked_softmax(logits, key_ok)
        region_value = torch.einsum("bhrj,bhrjd->bhrd", within, vr)  # [B, H, n, D]
        abstract_value = "bhrik,bhkd->bhrid"
    elif partition == "axial":
        row_logits = torch.einsum("bhkld,bhkjd->bhklj", qr, kr) * scale  # each token over its whole row
        within = _masked_softmax(row_logits, key_ok[..., None, :])  # [B, H, n, s, s]
        region_value = within @ vr  # [B, H, n, s, D]: the value summary of row k seen from column l
        region_key = kr if axial_key == "self" else within @ kr
        abstract = torch.einsum("bhald,bhkld->bhalk", qr, region_key) * scale
        abstract_ok = other[:, None, :] & region_ok[:, :, None, None, :]
        abstract_value = "bhalk,bhkld->bhald"
    else:
        raise ValueError(f"partition: {partition!r}; accepted: {', '.join(PARTITIONS)}")
    abstract = abstract.masked_fill(~abstract_ok, float("-inf"))
    joint = torch.cat([direct, abstract], dim=-1).softmax(-1)
    p_direct, p_abstract = joint[..., :s], joint[..., s:]
    z = torch.einsum("bhrij,bhrjd->bhrid", p_direct, vr) + torch.einsum(
        abstract_value, p_abstract, region_value
    )
    return z.reshape(b, h, tp, d)[:, :, :t], CombinerParts(partition, p_direct, p_abstract, within, t)


def _pad(x: torch.Tensor, extra: int, dim: int) -> torch.Tensor:
    if extra == 0:
        return x
    shape = list(x.shape)
    shape[dim] = extra
    return torch.cat([x, x.new_zeros(shape)], dim=dim)


def induced_matrix(parts: CombinerParts) -> torch.Tensor:
    """The full attention matrix ``[B, H, T, T]`` the factorisation induces: ``A[i, j] = p(j | i)``, so
    that the kernel's output is ``A @ v``."""
    p_direct, p_abstract, within = parts.direct, parts.abstract, parts.within
    b, h, n, s, _ = p_direct.shape
    tp, t = n * s, parts.length
    eye = torch.eye(n, dtype=p_direct.dtype, device=p_direct.device)
    full = torch.einsum("bhrij,rk->bhrikj", p_direct, eye).reshape(b, h, tp, tp)
    if p_abstract is not None:
        expr = "bhrik,bhkj->bhrikj" if parts.partition == "fixed" else "bhalk,bhklj->bhalkj"
        full = full + torch.einsum(expr, p_abstract, within).reshape(b, h, tp, tp)
    return full[:, :, :t, :t]


def attention_flops(
    length: int, head_dim: int, partition: str = "fixed", region_size: int | None = None
) -> int:
    """Multiply-adds per head of the kernel as implemented (scores and weighted sums, masked entries
    included; pooling not counted); ``partition="full"``: dense softmax attention ``2 L^2 D``."""
    if partition == "full":
        return 2 * length * length * head_dim
    s = default_region(length) if region_size is None else region_size
    n = -(-length // s)
    tp = n * s
    if partition == "fixed":  # direct scores+sum, region scores+sum, within-region scores+sum
        return 2 * head_dim * (tp * s + tp * n + n * s)
    if partition == "axial":  # direct scores+sum, row attention scores+sum, row scores+sum
        return 2 * head_dim * (tp * s + tp * s + tp * n)
    if partition == "local":
        return 2 * head_dim * tp * s
    raise ValueError(f"partition: {partition!r}; accepted: fixed, axial, local, full")


class _Quiet:
    """A stand-in for the hook point when none is given."""

    active = False
    patching = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x


class CombinerAttention(nn.Module):
    """Combiner attention as a tinylm kernel: ``kernel(q, k, v, mask, pattern) -> z``.

    :param partition: ``fixed`` (Combiner-Fixed) or ``axial`` (Combiner-Axial, row-major).
    :param region_size: tokens per region (``axial``: per row); ``None``: ``ceil(sqrt(T))``.
    :param key_pool: ``max`` or ``mean``: the region key of ``fixed``.
    :param summary: ``attention`` (``softmax(qbar_r k_j)`` within a region) or ``mean`` (uniform), ``fixed``.
    :param query_pool: ``max`` or ``mean``: ``qbar_r`` of ``summary="attention"``.
    :param axial_key: ``self`` (the key of the column's token) or ``wsum`` (its row-attention-weighted key).
    :param local_only: drop the abstract regions (block-local attention, the ablation).
    :param scale: score scale (``None``: ``1 / sqrt(Dh)``).

    The summaries of earlier regions use those regions' queries, which a KV cache does not keep: cached
    decoding (``q_offset > 0`` or fewer queries than keys) and cross-attention are refused; decode with
    ``use_cache=False``. ``attn.pattern`` receives the induced full matrix (formed only when observed);
    patching it computes ``z = pattern @ v``.
    """

    def __init__(
        self,
        partition: str = "fixed",
        region_size: int | None = None,
        key_pool: str = "max",
        summary: str = "attention",
        query_pool: str = "max",
        axial_key: str = "self",
        local_only: bool = False,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        for name, value, accepted in (
            ("partition", partition, PARTITIONS),
            ("key_pool", key_pool, POOLS),
            ("summary", summary, SUMMARIES),
            ("query_pool", query_pool, POOLS),
            ("axial_key", axial_key, AXIAL_KEYS),
        ):
            if value not in accepted:
                raise ValueError(f"{name}: {value!r}; accepted: {', '.join(accepted)}")
        if region_size is not None and (isinstance(region_size, bool) or int(region_size) < 1):
            raise ValueError(f"region_size: {region_size!r}; accepted: a positive integer or None")
        self.partition, self.region_size, self.local_only, self.scale = (
            partition,
            region_size,
            local_only,
            scale,
        )
        self.key_pool, self.summary, self.query_pool, self.axial_key = (
            key_pool,
            summary,
            query_pool,
            axial_key,
        )

    def extra_repr(self) -> str:
        return f"partition={self.partition}, region_size={self.region_size}, local_only={self.local_only}"

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask
    ) -> tuple[torch.Tensor, CombinerParts]:
        """``(z, parts)`` for ``q`` ``[B, H, T, D]``, ``k, v`` ``[B, H_kv, T, D]``."""
        if mask.cross or mask.q_offset != 0 or q.shape[2] != k.shape[2]:
            raise ValueError(
                "mask: combiner attention is self-attention over the whole sequence (its summaries use "
                "earlier regions' queries, which a KV cache does not keep); accepted: no cache, no "
                "cross-attention (decode with use_cache=False)"
            )
        groups = q.shape[1] // k.shape[1]
        k, v = repeat_kv(k, groups), repeat_kv(v, groups)
        return combiner_attention(
            q,
            k,
            v,
            causal=mask.causal,
            partition=self.partition,
            region_size=self.region_size,
            key_pool=self.key_pool,
            summary=self.summary,
            query_pool=self.query_pool,
            axial_key=self.axial_key,
            local_only=self.local_only,
            key_padding=mask.key_padding,
            scale=self.scale,
        )

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor | None = None,
        v: torch.Tensor | None = None,
        mask: AttentionMask | None = None,
        pattern=None,
    ) -> torch.Tensor:
        """``z`` ``[B, H, T, Dh]``; ``k``, ``v`` default to ``q`` and ``mask`` to causal."""
        k = q if k is None else k
        v = k if v is None else v
        mask = AttentionMask(causal=True) if mask is None else mask
        pattern = _Quiet() if pattern is None else pattern
        z, parts = self.attend(q, k, v, mask)
        if pattern.patching:
            groups = q.shape[1] // v.shape[1]
            return pattern(induced_matrix(parts)) @ repeat_kv(v, groups)
        if pattern.active:
            with torch.no_grad():
                pattern(induced_matrix(parts))
        return z
