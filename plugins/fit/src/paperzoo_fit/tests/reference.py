"""A dense reference of FIT for the tests: the whole sequence at once, groups expressed only by explicit
boolean masks (block-diagonal for local layers and the cross-attentions, block-causal for causal global
layers), attention written out (projections, scaled scores, masked softmax). It shares the encoder's
weights, norms and ffns (per-token maps) but none of its grouping code (no reshapes, no shifting)."""

from __future__ import annotations

import math

import torch


def attend(attn, xq: torch.Tensor, xkv: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Multi-head attention of ``attn``'s weights; ``allowed`` ``[Tq, Tk]``; a query with no allowed key
    gets zero (it reads nothing)."""
    b, tq, _ = xq.shape
    tk, h, dh = xkv.shape[1], attn.n_heads, attn.head_dim
    q = (xq @ attn.q_proj.weight.T).view(b, tq, h, dh).transpose(1, 2)
    k = (xkv @ attn.k_proj.weight.T).view(b, tk, h, dh).transpose(1, 2)
    v = (xkv @ attn.v_proj.weight.T).view(b, tk, h, dh).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
    scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.nan_to_num(scores.softmax(-1), nan=0.0)  # an empty row: zero
    z = (probs @ v).transpose(1, 2).reshape(b, tq, h * dh)
    return z @ attn.o_proj.weight.T


def layer(block, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """A pre-norm transformer layer (tinylm ``Block``'s weights)."""
    n = block.attn_norm(x)
    x = x + attend(block.attn, n, n, allowed)
    return x + block.mlp(block.ffn_norm(x))


def cross(module, x: torch.Tensor, memory: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """``x + attention(norm(x), memory_norm(memory))`` with ``allowed`` ``[Tx, Tm]``."""
    return x + attend(module.attn, module.norm(x), module.memory_norm(memory), allowed)


def dense_fit(encoder, x: torch.Tensor, return_latents: bool = False):
    """FIT on features ``x`` ``[B, T, d]`` with the encoder's weights, over the full sequence."""
    b, t, _ = x.shape
    s, per, causal = encoder.group_size, encoder.latents_per_group, encoder.causal
    g = t // s
    tok = torch.arange(t) // s  # each data token's group
    lat = torch.arange(g * per) // max(per, 1)  # each latent's group
    local = tok[:, None] == tok[None, :]
    if causal:
        local = local & (torch.arange(t)[None, :] <= torch.arange(t)[:, None])
    read = lat[:, None] == tok[None, :]
    glob = (lat[None, :] <= lat[:, None]) if causal else torch.ones(g * per, g * per, dtype=torch.bool)
    write = (lat[None, :] == tok[:, None] - 1) if causal else (lat[None, :] == tok[:, None])
    z = encoder.latents.repeat(g, 1).expand(b, -1, -1)
    for block in encoder.blocks:
        for lay in block.local_layers:
            x = layer(lay, x, local)
        if len(block.global_layers) and per:
            z = cross(block.read, z, x, read)
            for lay in block.global_layers:
                z = layer(lay, z, glob)
            x = cross(block.write, x, z, write)
    out = encoder.norm(x)
    return (out, z) if return_latents else out
