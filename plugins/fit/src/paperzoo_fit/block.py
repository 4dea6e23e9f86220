"""One FIT block: local layers inside each group of data tokens, then (when it has global layers) the
latents read their group, global layers run over every group's latents, and the data tokens read their
group's latents back.

Shapes: data tokens ``x`` ``[B, T, d]`` with ``T = G * S`` (``G`` groups of ``S = group_size`` tokens),
latents ``[B, G * L, d]`` (``L`` per group, group-major). Local layers run on ``x`` viewed as
``[B * G, S, d]``; the cross-attentions pair ``[B * G, L, d]`` with ``[B * G, S, d]``; global layers run
on ``[B, G * L, d]``. Every layer reuses tinylm's ``Block`` (pre-norm self-attention + ffn) and
``Attention`` (cross-attention through ``memory=``).

Causal (autoregressive FIT, the paper's FITAR): local layers are causal within a group, global layers
are causal over groups (a group's latents see their own and earlier groups' latents), and the data
tokens of group ``g`` read the latents of group ``g - 1`` (group 0 reads all-zero latents), because the
latents of group ``g`` have read every token of group ``g``, later ones included.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.blocks import Block, make_attention, make_norm
from paperzoo_tinylm.config import TinyLMConfig
from torch import nn

BIDIRECTIONAL = AttentionMask(causal=False)
CROSS = AttentionMask(causal=False, cross=True)
CAUSAL = AttentionMask(causal=True)


@dataclass
class GroupCausalMask(AttentionMask):
    """Block-causal: query ``i`` may see key ``j`` when ``j // chunk <= i // chunk`` (whole chunks)."""

    chunk: int = 1

    def allowed(self, tq: int, tk: int, device: torch.device) -> torch.Tensor:
        q = torch.arange(tq, device=device)[:, None] // self.chunk
        k = torch.arange(tk, device=device)[None, :] // self.chunk
        return (k <= q)[None, None]

    def is_plain_causal(self, tq: int, tk: int) -> bool:
        return False


def sublayer_config(
    d_model: int,
    n_heads: int,
    d_ff: int | None = None,
    norm: str = "rms_norm",
    ffn: str = "gated",
    activation: str = "silu",
    attn_impl: str = "sdpa",
    bias: bool = False,
    dropout: float = 0.0,
) -> TinyLMConfig:
    """The tinylm config every FIT layer is built from (no positions inside the layers)."""
    return TinyLMConfig(
        d_model=d_model,
        n_layers=1,
        n_heads=n_heads,
        d_ff=d_ff,
        norm=norm,
        ffn=ffn,
        activation=activation,
        attn_impl=attn_impl,
        bias=bias,
        dropout=dropout,
        position="none",
    )


class CrossAttention(nn.Module):
    """``x + attn(norm(x), memory=memory_norm(memory))``: tinylm's attention sublayer reading another set
    of tokens (pre-norm on both sides, no ffn, as the paper's cross-attention layers)."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.norm = make_norm(config)
        self.memory_norm = make_norm(config)
        self.attn = make_attention(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.attn(self.norm(x), CROSS, memory=self.memory_norm(memory)))


def to_groups(x: torch.Tensor, n_groups: int) -> torch.Tensor:
    """``[B, G * n, d]`` -> ``[B * G, n, d]``."""
    b, t, d = x.shape
    return x.reshape(b * n_groups, t // n_groups, d)


def from_groups(x: torch.Tensor, n_groups: int) -> torch.Tensor:
    """``[B * G, n, d]`` -> ``[B, G * n, d]``."""
    bg, n, d = x.shape
    return x.reshape(bg // n_groups, n_groups * n, d)


def shift_groups(latents: torch.Tensor, n_groups: int) -> torch.Tensor:
    """``[B, G * L, d]`` with each group's latents moved to the next group; group 0 gets zeros."""
    b, gl, d = latents.shape
    per = latents.reshape(b, n_groups, gl // n_groups, d)
    return torch.cat([torch.zeros_like(per[:, :1]), per[:, :-1]], 1).reshape(b, gl, d)


class FITBlock(nn.Module):
    """A FIT block: ``n_local`` local layers, then, when ``n_global > 0``, latents <- group data,
    ``n_global`` global layers over all latents, data <- group latents.

    ``forward(x, latents=None) -> (x, latents)``: ``x`` ``[B, T, d]`` with ``T`` a multiple of
    ``group_size``; ``latents`` ``[B, G * L, d]`` (``None``: ``latents_per_group`` zero latents per
    group). A block without global layers (or with ``L = 0``) only runs its local layers.

    :param d_model: width of data tokens and latents.
    :param n_heads: attention heads of every layer.
    :param group_size: data tokens per group ``S``.
    :param n_local: local layers (self-attention within each group, ffn).
    :param n_global: global layers (self-attention over every group's latents, ffn).
    :param latents_per_group: ``L`` of the zero latents used when ``forward`` gets none.
    :param causal: the autoregressive variant (module docstring).
    :param d_ff: ffn width (``None``: tinylm's rule for the ffn).
    :param norm: norm of every sublayer (tinylm's ``norm`` slot).
    :param ffn: ffn of every layer (tinylm's ``ffn`` slot).
    :param activation: ffn activation (tinylm's ``activation`` slot).
    :param attn_impl: ``sdpa`` or ``eager`` (tinylm's ``attn_impl``).
    :param bias: biases in linear layers and LayerNorms.
    :param dropout: dropout on each sublayer's output (training only).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        group_size: int,
        n_local: int = 2,
        n_global: int = 1,
        latents_per_group: int = 1,
        causal: bool = False,
        d_ff: int | None = None,
        norm: str = "rms_norm",
        ffn: str = "gated",
        activation: str = "silu",
        attn_impl: str = "sdpa",
        bias: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("group_size", group_size, 1),
            ("n_local", n_local, 0),
            ("n_global", n_global, 0),
        ):
            if value < low:
                raise ValueError(f"{name}: got {value!r}; accepted: an integer >= {low}")
        if latents_per_group < 0:
            raise ValueError(f"latents_per_group: got {latents_per_group!r}; accepted: an integer >= 0")
        config = sublayer_config(d_model, n_heads, d_ff, norm, ffn, activation, attn_impl, bias, dropout)
        self.group_size, self.latents_per_group, self.causal = group_size, latents_per_group, causal
        self.local_layers = nn.ModuleList(Block(config, "pre") for _ in range(n_local))
        self.global_layers = nn.ModuleList(Block(config, "pre") for _ in range(n_global))
        if n_global:
            self.read = CrossAttention(config)  # latents <- their group's data tokens
            self.write = CrossAttention(config)  # data tokens <- their group's latents

    def n_groups(self, x: torch.Tensor) -> int:
        t = x.shape[1]
        if t % self.group_size:
            raise ValueError(
                f"sequence length: got {t}; accepted: a multiple of group_size={self.group_size}"
            )
        return t // self.group_size

    def forward(
        self, x: torch.Tensor, latents: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        g = self.n_groups(x)
        if latents is None and self.global_layers and self.latents_per_group:
            latents = x.new_zeros(x.shape[0], g * self.latents_per_group, x.shape[2])
        h = to_groups(x, g)
        for layer in self.local_layers:
            h = layer(h, CAUSAL if self.causal else BIDIRECTIONAL)
        if not self.global_layers or latents is None or latents.shape[1] == 0:
            return from_groups(h, g), latents
        if latents.shape[1] % g:
            raise ValueError(f"latents: got {latents.shape[1]}; accepted: a multiple of the {g} groups")
        per_group = latents.shape[1] // g
        z = from_groups(self.read(to_groups(latents, g), h), g)
        mask = GroupCausalMask(causal=True, chunk=per_group) if self.causal else BIDIRECTIONAL
        for layer in self.global_layers:
            z = layer(z, mask)
        source = shift_groups(z, g) if self.causal else z
        h = self.write(h, to_groups(source, g))
        return from_groups(h, g), z
