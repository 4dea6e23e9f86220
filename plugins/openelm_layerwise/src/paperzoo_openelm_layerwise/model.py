"""OpenELM's layer-wise scaled decoder, built from tinylm's blocks.

tinylm's config has one head count and one FFN width for every block, so :class:`LayerwiseScaledTransformer`
builds a :class:`~paperzoo_tinylm.model.TinyLMDecoder` (RMSNorm, Pre-LN, RoPE, SwiGLU, grouped-query
attention, final norm, tied head) and then replaces each block's ``attn`` by tinylm's own
:class:`~paperzoo_tinylm.attention.Attention` and its ``mlp`` by tinylm's
:class:`~paperzoo_tinylm.ffn.GatedFFN` at that layer's sizes (:func:`~paperzoo_openelm_layerwise.sizing.layerwise_sizes`).
Everything else (forward pass, KV cache, hook names, generation protocol) is tinylm's.

OpenELM normalises queries and keys per head (corenet's ``normalize_qk_projections``: an RMSNorm over the
head dimension, after the projection and before RoPE). tinylm's ``Attention`` reshapes ``q_proj(x)`` into
heads and then applies RoPE, so the norm rides in the projection: ``q_proj`` and ``k_proj`` are
:class:`HeadNormProjection` (a Linear, then an RMSNorm on each head's slice), which gives exactly that order.
"""

from __future__ import annotations

import inspect

import torch
from paperzoo_tinylm.attention import Attention, build_kernel
from paperzoo_tinylm.ffn import GatedFFN, build_activation
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.norms import RMSNorm
from paperzoo_tinylm.tokenizer import VOCAB_SIZE
from torch import nn

from paperzoo_openelm_layerwise.sizing import (
    FFN_DIM_DIVISOR,
    FFN_MULTIPLIERS,
    NUM_GQA_GROUPS,
    QKV_MULTIPLIERS,
    LayerSizes,
    layerwise_num_parameters,
    layerwise_sizes,
)

INITS = ("corenet", "tinylm")


class HeadNormProjection(nn.Module):
    """``Linear(d_model, n_heads * head_dim)`` followed by an RMSNorm over each head's ``head_dim``
    features (one gain vector shared by the heads, as corenet's ``q_norm``/``k_norm``)."""

    def __init__(self, d_model: int, n_heads: int, head_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, n_heads * head_dim, bias=False)
        self.norm = RMSNorm(head_dim, eps)
        self.head_dim = head_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return self.norm(y.unflatten(-1, (-1, self.head_dim))).flatten(-2)


class LayerwiseScaledTransformer(TinyLMDecoder):
    """OpenELM causal LM (``layerwise_scaled_transformer``): a tinylm decoder whose layer ``i`` has
    ``n_heads_i`` query heads, ``n_heads_i / num_gqa_groups`` key/value heads and a SwiGLU FFN of width
    ``ffn_dim_i``, from multipliers interpolated linearly over depth (corenet's rounding).

    :param vocab_size: embedding rows and output classes.
    :param d_model: width of the residual stream.
    :param n_layers: number of blocks.
    :param head_dim: width of every head (the same in all layers).
    :param qkv_multipliers: ``(alpha_min, alpha_max)``, or one number for every layer: query width
        ``alpha_i * d_model`` before rounding.
    :param ffn_multipliers: ``(beta_min, beta_max)``, or one number: FFN width ``beta_i * d_model``
        before rounding.
    :param num_gqa_groups: query heads per key/value head (corenet's name and meaning).
    :param ffn_dim_divisor: FFN widths are multiples of this (corenet: 256).
    :param normalize_qk: RMSNorm on each query and key head before RoPE (OpenELM: on).
    :param tie_embeddings: the head shares the token embedding (OpenELM: on).
    :param max_seq_len: longest sequence (RoPE has no limit; kept for tinylm's config).
    :param norm_eps: epsilon of every RMSNorm.
    :param rope_theta: RoPE base (corenet's ``rope_freq_constant``).
    :param attn_impl: ``sdpa`` or ``eager`` (tinylm's softmax kernel).
    :param dropout: dropout on the embedding and each sublayer output.
    :param init: ``corenet`` (normal with std ``fan_in ** -0.5``, output projections
        ``d_model ** -0.5 * (2 n_layers) ** -0.5``, embedding ``d_model ** -0.5``) or ``tinylm`` (std 0.02).
    """

    def __init__(
        self,
        *,
        vocab_size: int = VOCAB_SIZE,
        d_model: int = 128,
        n_layers: int = 4,
        head_dim: int = 32,
        qkv_multipliers: float | tuple[float, float] = QKV_MULTIPLIERS,
        ffn_multipliers: float | tuple[float, float] = FFN_MULTIPLIERS,
        num_gqa_groups: int = NUM_GQA_GROUPS,
        ffn_dim_divisor: int = FFN_DIM_DIVISOR,
        normalize_qk: bool = True,
        tie_embeddings: bool = True,
        max_seq_len: int = 1024,
        norm_eps: float = 1e-6,
        rope_theta: float = 10000.0,
        attn_impl: str = "sdpa",
        dropout: float = 0.0,
        init: str = "corenet",
    ) -> None:
        if init not in INITS:
            raise ValueError(f"init: got {init!r}; accepted: one of {INITS}")
        sizes = layerwise_sizes(
            n_layers, d_model, head_dim, qkv_multipliers, ffn_multipliers, num_gqa_groups, ffn_dim_divisor
        )
        # the shell: one head and a width-1 FFN per block, replaced below at each layer's sizes
        super().__init__(
            vocab_size=vocab_size,
            d_model=d_model,
            n_layers=n_layers,
            n_heads=1,
            head_dim=head_dim,
            d_ff=1,
            max_seq_len=max_seq_len,
            norm="rms_norm",
            norm_eps=norm_eps,
            norm_placement="pre",
            position="rope",
            rope_theta=rope_theta,
            ffn="gated",
            activation="silu",
            attn_impl=attn_impl,
            tie_embeddings=tie_embeddings,
            dropout=dropout,
        )
        self.sizes: LayerSizes = sizes
        self.head_dim, self.normalize_qk, self.init = head_dim, normalize_qk, init
        for block, h, kv, f in zip(self.blocks, sizes.n_heads, sizes.n_kv_heads, sizes.ffn_dims):
            block.attn = Attention(d_model, h, kv, head_dim, build_kernel(self.config), bias=False)
            if normalize_qk:
                block.attn.q_proj = HeadNormProjection(d_model, h, head_dim, norm_eps)
                block.attn.k_proj = HeadNormProjection(d_model, kv, head_dim, norm_eps)
            block.mlp = GatedFFN(d_model, f, build_activation("silu"), bias=False)
        if init == "corenet":
            corenet_init_(self)
        else:
            self.apply(self._init)

    def closed_form_num_parameters(self) -> int:
        """The parameter count from the sizes alone (:func:`~paperzoo_openelm_layerwise.sizing.layerwise_num_parameters`)."""
        c = self.config
        return layerwise_num_parameters(
            self.sizes, c.d_model, self.head_dim, c.vocab_size, self.normalize_qk, c.tie_embeddings
        )


def corenet_init_(model: LayerwiseScaledTransformer) -> None:
    """corenet's ``reset_parameters``: Linear weights ``N(0, fan_in^-1)``, embeddings ``N(0, 1/d)``, norms
    ones, then the attention output and FFN down projections ``N(0, 1 / (2 d n_layers))``."""
    d, n = model.config.d_model, model.config.n_layers
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and module is not model.lm_head:
                nn.init.normal_(module.weight, std=module.in_features**-0.5)
            elif isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)
        if not model.config.tie_embeddings:
            nn.init.normal_(model.lm_head.weight, std=d**-0.5)
        nn.init.normal_(model.tok_embed.weight, std=d**-0.5)
        std = d**-0.5 * (2 * n) ** -0.5
        for block in model.blocks:
            nn.init.normal_(block.attn.o_proj.weight, std=std)
            nn.init.normal_(block.mlp.down_proj.weight, std=std)


# TinyLMDecoder carries tinylm's whole-config signature; this class takes its own keywords
LayerwiseScaledTransformer.__signature__ = inspect.Signature(
    list(inspect.signature(LayerwiseScaledTransformer.__init__).parameters.values())[1:]
)
