"""Prefix linear attention (JRT-RNN, Arora et al., 2024) as a tinylm attention kernel.

The official layer (``PrefixLinearAttention`` of HazyResearch/prefix-linear-attention) computes, for
every query ``t`` (feature map ``phi``, prefix of ``M`` tokens, separate prefix keys ``k^e`` and values
``v^e`` from their own projections):

    y_t = phi(q_t) (S^e + sum_{s <= t} phi(k_s)^T v_s) / (phi(q_t) . (z^e + sum_{s <= t} phi(k_s)) + eps)

with ``S^e = sum_{s < M} phi(k^e_s)^T v^e_s`` and ``z^e = sum_{s < M} phi(k^e_s)``: the prefix is read
non-causally (every query, in the prefix or after it, sees the whole prefix state), the causal state runs
over every token, and one normaliser divides both. That is causal linear attention started from the
prefix state, so this kernel builds the prefix state with
:func:`paperzoo_tinylm.linear_attention.linear_attention_state` and runs one of tinylm's forms
(``chunked``, ``recurrent``, or ``parallel``: the prefix keys placed before the sequence's keys) from it.

A tinylm kernel sees the heads' keys and values, not the block input, so the separate prefix projections
are learned maps of them: ``k^e = k W_ke^T``, ``v^e = v W_ve^T`` across all key/value heads
(``[kv_dim, kv_dim]``, ``kv_dim = n_kv_heads * head_dim``). When ``kv_dim = d_model`` and the key
projection is invertible this expresses any separate projection ``W^e_k = W_ke W_k`` (the parity test
copies the official weights this way).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from paperzoo_tinylm.attention import AttentionMask, repeat_kv
from paperzoo_tinylm.linear_attention import (
    LinearAttentionState,
    causal_offset,
    linear_attention_chunked,
    linear_attention_parallel,
    linear_attention_recurrent,
    linear_attention_state,
    resolve_feature_map,
)
from torch import nn

FORMS = ("chunked", "recurrent", "parallel")


class TaylorExp(nn.Module):
    """Based's feature map: the second-order Taylor expansion of ``exp(q . k / sqrt(d))``,
    ``phi(x) = [1, x / d^(1/4), vec(x x^T) / (sqrt(2) d^(1/2))]`` (``1 + d + d^2`` features), so that
    ``phi(q) . phi(k) = 1 + q.k / sqrt(d) + (q.k)^2 / (2 d)``. ``scale_dim`` replaces ``d`` in the scales."""

    def __init__(self, scale_dim: int | None = None) -> None:
        super().__init__()
        self.scale_dim = scale_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1] if self.scale_dim is None else self.scale_dim
        rd = math.sqrt(d)
        x2 = (x[..., :, None] * x[..., None, :]).flatten(-2) / math.sqrt(2)
        return torch.cat([torch.ones_like(x[..., :1]), x / math.sqrt(rd), x2 / rd], -1)


def _feature_map(name: str | Callable, params: dict) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "taylor_exp":
        return TaylorExp(**params)
    return resolve_feature_map(name, **params)


def _add(a: LinearAttentionState | None, b: LinearAttentionState | None) -> LinearAttentionState | None:
    if a is None or b is None:
        return b if a is None else a
    return LinearAttentionState(a.kv + b.kv, a.z + b.z)


class PrefixLinearAttention(nn.Module):
    """JRT-RNN's prefix linear attention as a tinylm kernel (``attention: prefix_linear_attention``),
    called ``kernel(q, k, v, mask, pattern) -> z`` (``k = v = q`` when only ``q`` is given; no mask: the
    whole sequence non-causal, plus the prefix state).

    The prefix is the first ``min(prefix_len, Tk)`` keys of the sequence (absolute positions; with a KV
    cache the cached keys come first, so cached decoding equals the full forward once the prompt covers
    the prefix). Grouped-query heads share their key/value head (the prefix maps act on the
    ``n_kv_heads * head_dim`` keys and values). Padded keys (``mask.key_padding``) contribute to neither
    state. ``attn.pattern`` is not formed (the kernel has no ``[Tq, Tk]`` probabilities: the prefix adds
    keys of its own); patching it is refused.

    :param prefix_len: tokens read non-causally (the official ``enc_length``); 0: causal linear attention.
    :param kv_dim: ``n_kv_heads * head_dim`` of the model (the width of the prefix maps).
    :param feature_map: ``taylor_exp`` (Based's, the official one), or any tinylm feature map
        (``elu1``, ``relu``, ``identity``, a registered name or layer).
    :param feature_map_params: keywords of the feature map (``taylor_exp``: ``scale_dim``).
    :param form: ``chunked``, ``recurrent`` or ``parallel`` (same result).
    :param chunk_size: tokens per chunk of the chunked form.
    :param eps: added to the normaliser (the official 1e-12).
    :param separate_prefix_kv: learn the prefix maps (the paper); ``False``: the prefix reuses the
        causal keys and values (no extra parameters).
    """

    def __init__(
        self,
        prefix_len: int,
        kv_dim: int,
        feature_map: str = "taylor_exp",
        feature_map_params: dict | None = None,
        form: str = "chunked",
        chunk_size: int = 64,
        eps: float = 1e-12,
        separate_prefix_kv: bool = True,
    ) -> None:
        super().__init__()
        if prefix_len < 0:
            raise ValueError(f"prefix_len: got {prefix_len}; accepted: an integer >= 0")
        if kv_dim < 1:
            raise ValueError(f"kv_dim: got {kv_dim}; accepted: n_kv_heads * head_dim of the model (>= 1)")
        if form not in FORMS:
            raise ValueError(f"form: got {form!r}; accepted: one of {FORMS}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size: got {chunk_size}; accepted: at least 1")
        phi = _feature_map(feature_map, feature_map_params or {})
        self.phi: nn.Module | None = phi if isinstance(phi, nn.Module) else None
        self._fn = None if isinstance(phi, nn.Module) else phi
        self.prefix_len, self.kv_dim, self.feature_map = prefix_len, kv_dim, feature_map
        self.form, self.chunk_size, self.eps = form, chunk_size, eps
        self.prefix_k: nn.Linear | None = None
        self.prefix_v: nn.Linear | None = None
        if separate_prefix_kv:
            # orthogonal maps: k W^T has the distribution of an independently initialised projection
            self.prefix_k = nn.Linear(kv_dim, kv_dim, bias=False)
            self.prefix_v = nn.Linear(kv_dim, kv_dim, bias=False)
            nn.init.orthogonal_(self.prefix_k.weight)
            nn.init.orthogonal_(self.prefix_v.weight)

    def extra_repr(self) -> str:
        return (
            f"prefix_len={self.prefix_len}, kv_dim={self.kv_dim}, feature_map={self.feature_map!r}, "
            f"form={self.form!r}, chunk_size={self.chunk_size}, eps={self.eps}"
        )

    def _map(self, lin: nn.Linear | None, x: torch.Tensor) -> torch.Tensor:
        """A prefix map across the key/value heads of ``x`` ``[B, H_kv, T, Dh]``."""
        if lin is None:
            return x
        b, h, t, d = x.shape
        if h * d != self.kv_dim:
            raise ValueError(
                f"kv_dim: got {self.kv_dim} but the keys have {h} heads of width {d}; accepted: kv_dim={h * d}"
            )
        return lin(x.transpose(1, 2).reshape(b, t, h * d)).view(b, t, h, d).transpose(1, 2)

    def prefix_features(
        self, k: torch.Tensor, v: torch.Tensor, key_padding: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``phi(k^e)``, ``v^e`` of the prefix ``[B, H_kv, M, *]`` (``M = min(prefix_len, Tk)``)."""
        m = min(self.prefix_len, k.shape[2])
        phi = self.phi if self.phi is not None else self._fn
        fk = phi(self._map(self.prefix_k, k[:, :, :m]))
        if key_padding is not None:
            fk = fk * key_padding[:, None, :m, None].to(fk.dtype)
        return fk, self._map(self.prefix_v, v[:, :, :m])

    def forward(self, q, k=None, v=None, mask: AttentionMask | None = None, pattern=None) -> torch.Tensor:
        k = q if k is None else k
        v = k if v is None else v
        if pattern is not None and getattr(pattern, "patching", False):
            raise ValueError("attn.pattern: prefix linear attention forms no pattern; accepted: capture only")
        causal, offset = causal_offset(mask, q.shape[2], k.shape[2])
        padding = None if mask is None else mask.key_padding
        phi = self.phi if self.phi is not None else self._fn
        fq, fk = phi(q), phi(k)
        if padding is not None:
            fk = fk * padding[:, None, :, None].to(fk.dtype)
        groups = q.shape[1] // k.shape[1]
        fe, ve = (None, None)
        if self.prefix_len > 0 and k.shape[2] > 0:
            fe, ve = (repeat_kv(x, groups) for x in self.prefix_features(k, v, padding))
        fk, v = repeat_kv(fk, groups), repeat_kv(v, groups)
        opts = dict(normalize=True, eps=self.eps)
        if self.form == "parallel":
            if fe is not None:  # the prefix keys go before the sequence's: every query sees them all
                fk, v, offset = torch.cat([fe, fk], 2), torch.cat([ve, v], 2), offset + fe.shape[2]
            if not causal:
                return linear_attention_parallel(fq, fk, v, causal=False, **opts)
            return linear_attention_parallel(fq, fk, v, causal=True, q_offset=offset, **opts)
        state = None if fe is None else linear_attention_state(fe, ve, normalize=True)
        if offset:  # the cached tokens' causal state
            cached = linear_attention_state(fk[:, :, :offset], v[:, :, :offset], normalize=True)
            state = _add(state, cached)
            fk, v = fk[:, :, offset:], v[:, :, offset:]
        if self.form == "recurrent":
            return linear_attention_recurrent(fq, fk, v, causal=causal, state=state, **opts)[0]
        return linear_attention_chunked(
            fq, fk, v, causal=causal, chunk_size=self.chunk_size, state=state, **opts
        )[0]
