"""Attention FLOPs of FIT and of dense attention (counting function).

Counts the two attention products of every attention layer, ``q k^T`` and ``p v``, at 2 FLOPs per
multiply-add (torch's ``FlopCounterMode`` convention), over all heads (``d_attn = n_heads * head_dim``):
``4 * d_attn`` FLOPs per (query, key) pair. Projections and ffns are per token (linear in ``T`` for both
models) and not counted. A causal layer is counted in full (the masked products are computed).
"""

from __future__ import annotations

from paperzoo_fit.encoder import parse_pattern


def fit_attention_pairs(
    seq_len: int, group_size: int, latents_per_group: int, pattern: str
) -> dict[str, int]:
    """(query, key) pairs per sequence, by kind: ``local`` (``T * S`` per local layer), ``global``
    (``(G L)^2`` per global layer) and ``cross`` (``G L S`` read plus ``T L`` write-back per block with
    global layers)."""
    if seq_len % group_size:
        raise ValueError(f"seq_len: got {seq_len}; accepted: a multiple of group_size={group_size}")
    g = seq_len // group_size
    pairs = {"local": 0, "global": 0, "cross": 0}
    for n_local, n_global in parse_pattern(pattern):
        pairs["local"] += n_local * seq_len * group_size
        if n_global and latents_per_group:
            pairs["global"] += n_global * (g * latents_per_group) ** 2
            pairs["cross"] += 2 * seq_len * latents_per_group
    return pairs


def fit_attention_flops(
    seq_len: int, group_size: int, latents_per_group: int, pattern: str, d_attn: int, batch: int = 1
) -> int:
    """Attention FLOPs of one FIT forward pass."""
    return (
        4
        * d_attn
        * batch
        * sum(fit_attention_pairs(seq_len, group_size, latents_per_group, pattern).values())
    )


def dense_attention_flops(seq_len: int, n_layers: int, d_attn: int, batch: int = 1) -> int:
    """Attention FLOPs of ``n_layers`` full self-attention layers: ``4 d_attn T^2`` each."""
    return 4 * d_attn * batch * n_layers * seq_len**2
