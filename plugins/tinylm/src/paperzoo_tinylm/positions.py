"""Positions: rotary embeddings (RoPE, with an overridable ``inv_freq``) and learned absolute positions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def default_inv_freq(head_dim: int, theta: float) -> torch.Tensor:
    """``theta ** (-2i / head_dim)`` for ``i < head_dim / 2``, in float32 (as transformers computes it)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def make_inv_freq(head_dim: int, theta: float, override: Any = None) -> torch.Tensor:
    """The inverse frequencies: the default, or ``override`` (a tensor/list of ``head_dim / 2`` values,
    or a function ``(head_dim, theta) -> tensor``)."""
    if override is None:
        return default_inv_freq(head_dim, theta)
    value = override(head_dim, theta) if callable(override) else override
    inv = torch.as_tensor(value, dtype=torch.float32).flatten()
    if inv.numel() != head_dim // 2:
        raise ValueError(f"rope_inv_freq: got {inv.numel()} values; accepted: head_dim / 2 = {head_dim // 2}")
    return inv


class Rotary(nn.Module):
    """cos/sin tables for positions; angles in float32 then cast (as transformers' Llama does, so a
    converted model agrees with it in float64 too)."""

    def __init__(self, head_dim: int, theta: float = 10000.0, inv_freq: Any = None) -> None:
        super().__init__()
        self.register_buffer("inv_freq", make_inv_freq(head_dim, theta, inv_freq), persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """``positions`` ``[B, T]`` or ``[T]`` -> ``cos, sin`` ``[B|1, 1, T, head_dim]``."""
        if positions.dim() == 1:
            positions = positions[None]
        freqs = positions[..., None].float() * self.inv_freq.float()
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``[B, H, T, Dh]`` (the half-split convention of Llama)."""
    return x * cos + rotate_half(x) * sin


RotaryFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
