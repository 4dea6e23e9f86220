"""The block every tinylm model is made of: an attention sublayer and an ffn sublayer (and, in the decoder
of the encoder-decoder, a cross-attention sublayer between them), with norms placed ``pre``, ``post``,
``peri`` or ``sandwich``.

* ``pre``:      ``x + f(norm(x))``
* ``post``:     ``norm(x + f(x))``
* ``peri``:     ``x + out_norm(f(norm(x)))`` (pre plus an output norm on each sublayer)
* ``sandwich``: the same form as ``peri`` (its earlier name); kept apart so a config says which it follows

Hooks (relative to ``blocks.<i>``): ``resid_pre``, ``resid_mid`` (after the attention sublayer's
residual), ``resid_cross`` (cross-attention blocks: after the cross-attention sublayer), ``resid_post``,
plus the sublayers' (``attn.*``, ``cross_attn.*``, ``mlp.*``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from paperzoo_tinylm.attention import Attention, AttentionMask, build_kernel
from paperzoo_tinylm.config import TinyLMConfig
from paperzoo_tinylm.ffn import build_ffn
from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.moe import RoutingContext
from paperzoo_tinylm.norms import build_norm

Rotary = tuple[torch.Tensor, torch.Tensor] | None


def make_norm(config: TinyLMConfig, name: str | None = None) -> nn.Module:
    """A norm of the config's width (``name`` or the config's ``norm``)."""
    return build_norm(name or config.norm, config.d_model, config.norm_eps, config.bias, config.norm_params)


def make_attention(config: TinyLMConfig) -> Attention:
    """An attention sublayer of the config."""
    c = config
    return Attention(c.d_model, c.n_heads, c.kv_heads, c.dim_head, build_kernel(c), c.bias)


def stack_blocks(config: TinyLMConfig, cls: type[Block] | None = None) -> nn.ModuleList:
    """The ``n_layers`` blocks of ``config`` (of ``cls``, default :class:`Block`), one per placement, sharing
    one MoE :class:`~paperzoo_tinylm.moe.RoutingContext` in which each knows its index."""
    context = RoutingContext(config.n_layers)
    cls = cls or Block
    return nn.ModuleList(cls(config, p, (context, i)) for i, p in enumerate(config.placements()))


class Block(nn.Module):
    """One transformer block of ``config`` with the given norm placement; ``routing``: the MoE stack's
    context and this block's index in it (see :func:`stack_routing`)."""

    def __init__(
        self, config: TinyLMConfig, placement: str, routing: tuple[RoutingContext, int] | None = None
    ) -> None:
        super().__init__()
        self.placement = placement
        self.attn_norm = make_norm(config)
        self.attn = make_attention(config)
        self.ffn_norm = make_norm(config)
        self.mlp = build_ffn(config, routing)
        if self.has_out_norms:
            self.attn_out_norm = make_norm(config, config.output_norm)
            self.ffn_out_norm = make_norm(config, config.output_norm)
        self.dropout = nn.Dropout(config.dropout)
        self.resid_pre, self.resid_mid, self.resid_post = HookPoint(), HookPoint(), HookPoint()

    @property
    def has_out_norms(self) -> bool:
        return self.placement in ("peri", "sandwich")

    def _sublayer(
        self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], in_norm: nn.Module, out_norm
    ) -> torch.Tensor:
        if self.placement == "post":
            return in_norm(x + self.dropout(fn(x)))
        y = fn(in_norm(x))
        if out_norm is not None:
            y = out_norm(y)
        return x + self.dropout(y)

    def _attend(self, x, mask, rotary, cache, layer) -> torch.Tensor:
        x = self.resid_pre(x)
        x = self._sublayer(
            x,
            lambda h: self.attn(h, mask, rotary, cache, layer),
            self.attn_norm,
            getattr(self, "attn_out_norm", None),
        )
        return self.resid_mid(x)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._sublayer(x, self.mlp, self.ffn_norm, getattr(self, "ffn_out_norm", None))
        return self.resid_post(x)

    def forward(
        self, x: torch.Tensor, mask: AttentionMask, rotary: Rotary = None, cache=None, layer: int = 0
    ) -> torch.Tensor:
        return self._feed_forward(self._attend(x, mask, rotary, cache, layer))


class CrossBlock(Block):
    """A decoder block of the encoder-decoder: causal self-attention, cross-attention to the encoder's
    output, ffn (as T5's decoder)."""

    def __init__(
        self, config: TinyLMConfig, placement: str, routing: tuple[RoutingContext, int] | None = None
    ) -> None:
        super().__init__(config, placement, routing)
        self.cross_norm = make_norm(config)
        self.cross_attn = make_attention(config)
        if self.has_out_norms:
            self.cross_out_norm = make_norm(config, config.output_norm)
        self.resid_cross = HookPoint()

    def forward(
        self,
        x: torch.Tensor,
        mask: AttentionMask,
        rotary: Rotary = None,
        cache=None,
        layer: int = 0,
        memory: torch.Tensor | None = None,
        memory_mask: AttentionMask | None = None,
    ) -> torch.Tensor:
        x = self._attend(x, mask, rotary, cache, layer)
        x = self._sublayer(
            x,
            lambda h: self.cross_attn(h, memory_mask, memory=memory),
            self.cross_norm,
            getattr(self, "cross_out_norm", None),
        )
        return self._feed_forward(self.resid_cross(x))
