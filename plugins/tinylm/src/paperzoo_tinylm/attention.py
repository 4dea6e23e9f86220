"""The attention slot: the sublayer (projections, positions, cache, hooks) and the kernel interface.

A kernel is any module called as ``kernel(q, k, v, mask, pattern) -> z`` with ``q`` ``[B, H, Tq, Dh]``,
``k, v`` ``[B, H_kv, Tk, Dh]`` (all cached keys, after RoPE), ``mask`` an :class:`AttentionMask` (the
mask/bias builder) and ``pattern`` the ``attn.pattern`` :class:`~paperzoo_tinylm.hooks.HookPoint`,
which a kernel that forms attention probabilities passes them through; it returns ``z``
``[B, H, Tq, Dh]``. Linear, kernelised, banded or softplus attention drop in as registered layers
that follow this interface (``attention: <name>``, built as ``create(name, **attention_params)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.positions import apply_rotary


@dataclass
class AttentionMask:
    """Which keys each query may see: causal (query ``i`` is position ``q_offset + i``) or not, and
    optional key padding ``[B, Tk]`` (True: a real token); ``cross``: keys are another sequence's
    (cross-attention)."""

    causal: bool
    q_offset: int = 0
    key_padding: torch.Tensor | None = None
    cross: bool = False

    def allowed(self, tq: int, tk: int, device: torch.device) -> torch.Tensor | None:
        """Boolean ``[B|1, 1, Tq, Tk]`` (True: may attend), or ``None`` when every key is allowed."""
        if not self.causal and self.key_padding is None:
            return None
        q_pos = torch.arange(tq, device=device)[:, None] + self.q_offset
        k_pos = torch.arange(tk, device=device)[None, :]
        ok = (k_pos <= q_pos) if self.causal else torch.ones(tq, tk, dtype=torch.bool, device=device)
        ok = ok[None, None]
        if self.key_padding is not None:
            ok = ok & self.key_padding[:, None, None, :].bool()
            if not self.cross:  # a query always sees itself, so a padding query's row is never empty
                ok = ok | (k_pos == q_pos)[None, None]
        return ok

    def bias(self, tq: int, tk: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
        """Additive ``[B|1, 1, Tq, Tk]``: 0 where allowed, ``-inf`` elsewhere (``None``: no mask)."""
        ok = self.allowed(tq, tk, device)
        if ok is None:
            return None
        return torch.zeros(ok.shape, dtype=dtype, device=device).masked_fill(~ok, float("-inf"))

    def is_plain_causal(self, tq: int, tk: int) -> bool:
        return self.causal and self.key_padding is None and self.q_offset == 0 and tq == tk


def repeat_kv(x: torch.Tensor, n: int) -> torch.Tensor:
    """``[B, H_kv, T, Dh]`` -> ``[B, H_kv * n, T, Dh]``, each head ``n`` times in a row."""
    return x if n == 1 else x.repeat_interleave(n, dim=1)


class SoftmaxAttention(nn.Module):
    """``softmax(q k^T * scale + mask) v`` with ``scaled_dot_product_attention`` (``impl="sdpa"``) or
    explicitly (``"eager"``). The pattern is formed explicitly when patched; when only observed, it is
    computed beside the fused kernel, whose output is kept (observing never changes a result).

    :param scale: score scale (``None``: ``1 / sqrt(Dh)``).
    :param impl: ``sdpa`` or ``eager``.
    """

    def __init__(self, scale: float | None = None, impl: str = "sdpa") -> None:
        super().__init__()
        self.scale, self.impl = scale, impl

    def probs(self, q: torch.Tensor, k: torch.Tensor, mask: AttentionMask, scale: float) -> torch.Tensor:
        scores = (q @ k.transpose(-1, -2)) * scale
        bias = mask.bias(q.shape[-2], k.shape[-2], scores.dtype, q.device)
        return (scores if bias is None else scores + bias).softmax(-1)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask, pattern: HookPoint
    ) -> torch.Tensor:
        groups = q.shape[1] // k.shape[1]
        k, v = repeat_kv(k, groups), repeat_kv(v, groups)
        scale = q.shape[-1] ** -0.5 if self.scale is None else self.scale
        if self.impl == "eager" or pattern.patching:
            return pattern(self.probs(q, k, mask, scale)) @ v
        tq, tk = q.shape[-2], k.shape[-2]
        if mask.is_plain_causal(tq, tk):
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        else:
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.allowed(tq, tk, q.device), scale=scale)
        if pattern.active:
            with torch.no_grad():
                pattern(self.probs(q, k, mask, scale))
        return z


class Attention(nn.Module):
    """Multi-head (grouped-query) attention sublayer.

    Hooks: ``q``, ``k``, ``v`` (``[B, H|H_kv, T_new, Dh]``, after RoPE), ``pattern``
    (``[B, H, Tq, Tk]``, softmax kernels), ``z`` (``[B, H, Tq, Dh]``, heads before the output
    projection), ``out`` (``[B, T, d_model]``).
    """

    def __init__(
        self, d_model: int, n_heads: int, n_kv_heads: int, head_dim: int, kernel: nn.Module, bias: bool
    ) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.q_proj = nn.Linear(d_model, n_heads * head_dim, bias=bias)
        self.k_proj = nn.Linear(d_model, n_kv_heads * head_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, n_kv_heads * head_dim, bias=bias)
        self.o_proj = nn.Linear(n_heads * head_dim, d_model, bias=bias)
        self.kernel = kernel
        self.q, self.k, self.v = HookPoint(), HookPoint(), HookPoint()
        self.pattern, self.z, self.out = HookPoint(), HookPoint(), HookPoint()

    def forward(
        self,
        x: torch.Tensor,
        mask: AttentionMask,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache=None,
        layer: int = 0,
        memory: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Self-attention over ``x``, or cross-attention from ``x`` to ``memory`` ``[B, S, d_model]``
        (keys and values from ``memory``; no positions, no cache)."""
        b, t, _ = x.shape
        src = x if memory is None else memory
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(src).view(b, src.shape[1], self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(src).view(b, src.shape[1], self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rotary is not None and memory is None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        q, k, v = self.q(q), self.k(k), self.v(v)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        z = self.z(self.kernel(q, k, v, mask, self.pattern))
        return self.out(self.o_proj(z.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim)))


def build_kernel(config) -> nn.Module:
    """The attention kernel of ``config``: ``softmax`` or a registered layer."""
    if config.attention == "softmax":
        return SoftmaxAttention(impl=config.attn_impl, **config.attention_params)
    import paperzoo

    return paperzoo.create(paperzoo.get(config.attention, "layer").qualified_name, **config.attention_params)
