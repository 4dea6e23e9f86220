"""The FIT encoder: FIT blocks given by a layer pattern, learned initial latents, and (optionally) token
embeddings with learned positions and a per-token head, so a config can train it on token data."""

from __future__ import annotations

import re

import torch
from paperzoo_tinylm.blocks import make_norm
from torch import nn

from paperzoo_fit.block import FITBlock, sublayer_config


def parse_pattern(pattern: str) -> list[tuple[int, int]]:
    """``"LLGLLG"`` -> ``[(2, 1), (2, 1)]``: each block is a run of ``L`` (local layers) followed by a run
    of ``G`` (global layers); spaces are ignored (``"LLG LLG"``)."""
    text = pattern.replace(" ", "").upper()
    if not text or not re.fullmatch(r"[LG]+", text):
        raise ValueError(
            f"pattern: got {pattern!r}; accepted: a non-empty string of L (local) and G (global)"
        )
    return [(len(m.group(1)), len(m.group(2))) for m in re.finditer(r"(L*)(G*)", text) if m.group(0)]


class FITEncoder(nn.Module):
    """FIT: data tokens in groups of ``group_size``, ``latents_per_group`` latents per group, blocks from
    ``pattern``.

    ``forward(x)``: ``x`` ``[B, T, d_model]`` floats, or token ids ``[B, T]`` when ``vocab_size`` is set
    (then learned positions are added and per-token logits ``[B, T, vocab_size]`` returned); ``T`` must be
    a multiple of ``group_size``. ``return_latents=True`` also returns the final latents ``[B, G * L, d]``.
    The initial latents are one learned ``[L, d]`` table shared by every group (no group positions), so
    without token positions the encoder is equivariant to permutations of the groups.

    :param d_model: width of data tokens and latents.
    :param n_heads: attention heads of every layer.
    :param group_size: data tokens per group ``S``.
    :param latents_per_group: latents per group ``L`` (0: local only, no global layers or cross-attention).
    :param pattern: ``L`` local, ``G`` global layers (:func:`parse_pattern`).
    :param causal: the autoregressive variant (see :mod:`paperzoo_fit.block`).
    :param d_ff: ffn width (``None``: tinylm's rule for the ffn).
    :param norm: norm of every sublayer (tinylm's ``norm`` slot).
    :param ffn: ffn of every layer (tinylm's ``ffn`` slot).
    :param activation: ffn activation (tinylm's ``activation`` slot).
    :param attn_impl: ``sdpa`` or ``eager`` (tinylm's ``attn_impl``).
    :param bias: biases in linear layers and LayerNorms.
    :param dropout: dropout on each sublayer's output (training only).
    :param final_norm: a norm on the output (before the head).
    :param vocab_size: token embedding, learned positions and head (``None``: features in, features out).
    :param max_seq_len: rows of learned positions (with ``vocab_size``).
    :param init_std: normal initialisation of linear and embedding weights and the initial latents.
    """

    def __init__(
        self,
        d_model: int = 64,
        n_heads: int = 4,
        group_size: int = 16,
        latents_per_group: int = 2,
        pattern: str = "LLGLLG",
        causal: bool = False,
        d_ff: int | None = None,
        norm: str = "rms_norm",
        ffn: str = "gated",
        activation: str = "silu",
        attn_impl: str = "sdpa",
        bias: bool = False,
        dropout: float = 0.0,
        final_norm: bool = True,
        vocab_size: int | None = None,
        max_seq_len: int = 1024,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        if latents_per_group < 0:
            raise ValueError(f"latents_per_group: got {latents_per_group!r}; accepted: an integer >= 0")
        self.group_size, self.latents_per_group, self.causal = group_size, latents_per_group, causal
        self.layout = parse_pattern(pattern)
        slots = {"d_ff": d_ff, "norm": norm, "ffn": ffn, "activation": activation}
        slots.update(attn_impl=attn_impl, bias=bias, dropout=dropout)
        self.blocks = nn.ModuleList(
            FITBlock(d_model, n_heads, group_size, n_l, n_g if latents_per_group else 0, 0, causal, **slots)
            for n_l, n_g in self.layout
        )
        self.latents = nn.Parameter(torch.zeros(latents_per_group, d_model))
        config = sublayer_config(d_model, n_heads, d_ff, norm, ffn, activation, attn_impl, bias, dropout)
        self.norm = make_norm(config) if final_norm else nn.Identity()
        self.vocab_size = vocab_size
        if vocab_size is not None:
            self.embed = nn.Embedding(vocab_size, d_model)
            self.positions = nn.Embedding(max_seq_len, d_model)
            self.head = nn.Linear(d_model, vocab_size, bias=bias)
        self.init_std = init_std
        self.apply(self._init)
        nn.init.normal_(self.latents, std=init_std)

    def _init(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=self.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def initial_latents(self, batch: int, n_groups: int) -> torch.Tensor:
        """``[B, G * L, d]``: the learned latents repeated for every group."""
        return self.latents.repeat(n_groups, 1).unsqueeze(0).expand(batch, -1, -1)

    def forward(self, x: torch.Tensor, return_latents: bool = False):
        if self.vocab_size is not None:
            pos = torch.arange(x.shape[1], device=x.device)
            x = self.embed(x) + self.positions(pos)
        if x.shape[1] % self.group_size:
            raise ValueError(
                f"sequence length: got {x.shape[1]}; accepted: a multiple of group_size={self.group_size}"
            )
        latents = self.initial_latents(x.shape[0], x.shape[1] // self.group_size)
        for block in self.blocks:
            x, latents = block(x, latents)
        out = self.norm(x)
        if self.vocab_size is not None:
            out = self.head(out)
        return (out, latents) if return_latents else out
