"""Peri-LN and the other norm placements as stand-alone transformer blocks: thin wrappers over tinylm's
block (``paperzoo_tinylm.blocks.Block``), so a block's weights load into a tinylm model's ``blocks.<i>``.

* ``pre``:  ``x + F(Norm_in(x))``
* ``post``: ``Norm(x + F(x))``
* ``peri``: ``x + Norm_out(F(Norm_in(x)))`` for the attention and the ffn sublayer (Kim et al., 2025)

A block takes ``x`` ``[B, T, d_model]`` alone (causal self-attention over its tokens, RoPE positions
``0..T-1`` unless ``position: none``), or tinylm's full block call ``(x, mask, rotary, cache, layer)``.
Its hook names are tinylm's, relative to the block: ``resid_pre``, ``attn.out``, ``resid_mid``,
``mlp.out``, ``resid_post`` ...
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.blocks import Block
from paperzoo_tinylm.config import PLACEMENTS, TinyLMConfig, with_config_signature
from paperzoo_tinylm.positions import Rotary

# Model-level fields a single block has no use for; its placement is its own argument.
_BLOCK_FIXED = (
    "n_layers",
    "norm_placement",
    "vocab_size",
    "max_seq_len",
    "final_norm",
    "embed_norm",
    "tie_embeddings",
)


@with_config_signature(exclude=_BLOCK_FIXED)
class NormPlacementBlock(Block):
    """One tinylm transformer block whose norm placement is chosen by ``placement``.

    :param d_model: width of the residual stream.
    :param n_heads: attention heads.
    :param placement: ``pre``, ``post``, ``peri`` or ``sandwich`` (``peri``'s earlier name).
    :param norm: the input norm (and the post norm): ``rms_norm``, ``layer_norm``, ``identity`` or a
        registered norm layer, with a learnable gain.
    :param output_norm: the sublayer-output norm of ``peri`` (``None``: ``norm``; ``identity`` reduces
        ``peri`` to ``pre``).
    :param causal: causal self-attention when called on ``x`` alone.
    :param config: any other :class:`~paperzoo_tinylm.config.TinyLMConfig` field (``d_ff``, ``ffn``,
        ``activation``, ``norm_eps``, ``position``, ``bias``, ``attn_impl``, ...).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        placement: str = "pre",
        norm: str = "rms_norm",
        output_norm: str | None = None,
        causal: bool = True,
        **config: Any,
    ) -> None:
        if placement not in PLACEMENTS:
            raise ValueError(f"placement: got {placement!r}; accepted: one of {PLACEMENTS}")
        cfg = TinyLMConfig(
            d_model=d_model,
            n_heads=n_heads,
            n_layers=1,
            norm=norm,
            output_norm=output_norm,
            norm_placement=placement,
            **config,
        )
        super().__init__(cfg, placement)
        self.config, self.causal = cfg, causal
        if cfg.position == "rope":
            self.rotary = Rotary(cfg.dim_head, cfg.rope_theta, cfg.rope_inv_freq)  # a buffer, no weights

    def forward(
        self,
        x: torch.Tensor,
        mask: AttentionMask | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache=None,
        layer: int = 0,
    ) -> torch.Tensor:
        """``x`` ``[B, T, d_model]`` -> ``[B, T, d_model]``; ``mask``/``rotary`` default to a causal (or
        bidirectional) mask and RoPE over positions ``0..T-1``."""
        if mask is None:
            mask = AttentionMask(self.causal)
        if rotary is None and self.config.position == "rope":
            rotary = self.rotary(torch.arange(x.shape[1], device=x.device), x.dtype)
        return super().forward(x, mask, rotary, cache, layer)


@with_config_signature(exclude=_BLOCK_FIXED)
class PeriLNBlock(NormPlacementBlock):
    """The Peri-LN block: ``h = x + Norm_out(Attn(Norm_in(x)))``, ``y = h + Norm_out(FFN(Norm_in(h)))``,
    each norm with its own learnable gain (``NormPlacementBlock`` with ``placement="peri"``)."""

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        norm: str = "rms_norm",
        output_norm: str | None = None,
        causal: bool = True,
        **config: Any,
    ) -> None:
        super().__init__(d_model, n_heads, "peri", norm, output_norm, causal, **config)
