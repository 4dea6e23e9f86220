"""LayerNorm Scaling as a tinylm decoder: each Pre-LN block ``l`` (1-indexed) scales its sublayer-input
norms by ``1 / sqrt(l)``::

    h = x + attn(norm_1(x) / sqrt(l));   y = h + ffn(norm_2(h) / sqrt(l))

as the official code does (``NORM_TYPE=LNS``: both norms of a block, ``1 / sqrt(layer_index + 1)`` with a
0-based index; the final norm before the head is not scaled). No parameters are added.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from paperzoo_tinylm.config import TinyLMConfig, make_config, with_config_signature
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn


def depth_scale(depth: int) -> float:
    """The factor ``1 / sqrt(depth)`` of block ``depth`` (1-indexed)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth: got {depth!r}; accepted: an integer >= 1 (the 1-indexed block)")
    return 1.0 / math.sqrt(depth)


class LayerNormScalingNorm(nn.Module):
    """A norm whose output is scaled by ``1 / sqrt(depth)`` (``layernorm_scaling_norm``).

    :param base: the norm it wraps (LayerNorm, RMSNorm, ...); its parameters are kept as they are.
    :param depth: the 1-indexed depth of the block the norm belongs to.
    """

    def __init__(self, base: nn.Module, depth: int = 1) -> None:
        super().__init__()
        self.scale = depth_scale(depth)
        self.depth = depth
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        return y if self.depth == 1 else y * self.scale

    def extra_repr(self) -> str:
        return f"depth={self.depth}, scale={self.scale:.6g}"


def apply_layernorm_scaling(model: TinyLMDecoder) -> TinyLMDecoder:
    """Wrap, in place, the two sublayer-input norms of every block of a Pre-LN tinylm decoder in
    :class:`LayerNormScalingNorm` with the block's 1-indexed depth; returns ``model``. The weights are
    kept, so a trained Pre-LN model becomes its LayerNorm-Scaling counterpart."""
    for i, block in enumerate(model.blocks):
        if block.placement != "pre":
            raise ValueError(
                f"norm_placement: block {i} is {block.placement!r}; LayerNorm Scaling accepts only 'pre'"
            )
        for name in ("attn_norm", "ffn_norm"):
            norm = getattr(block, name)
            if isinstance(norm, LayerNormScalingNorm):
                raise ValueError(f"blocks.{i}.{name}: already scaled")
            setattr(block, name, LayerNormScalingNorm(norm, i + 1))
    return model


@with_config_signature
class LayerNormScalingDecoder(TinyLMDecoder):
    """A Pre-LN tinylm decoder with LayerNorm Scaling (``layernorm_scaling_decoder``).

    :param config: any :class:`~paperzoo_tinylm.config.TinyLMConfig` field (``d_model``, ``n_layers``,
        ``norm``, ...); ``norm_placement`` must be ``pre`` (its default).
    """

    def __init__(self, config: TinyLMConfig | None = None, **params: Any) -> None:
        cfg = make_config(config, params)
        placements = cfg.placements()
        if any(p != "pre" for p in placements):
            raise ValueError(
                f"norm_placement: got {cfg.norm_placement!r}; layernorm_scaling_decoder accepts only 'pre'"
            )
        super().__init__(cfg)
        apply_layernorm_scaling(self)
