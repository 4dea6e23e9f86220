"""The DPRoPE rotary embedding as a layer, and a tinylm decoder that switches to it at evaluation.

``RopeDistributionalScaling`` (``rope_distributional_scaling``) holds the DPRoPE inverse frequencies of
:func:`paperzoo_dprope.scaling.dprope_inv_freq` (computed once, at construction) and rotates
``[B, H, T, head_dim]`` queries or keys with them (tinylm's half-split RoPE, positions ``0..T-1``).

``DPRoPEDecoder`` (``dprope_decoder``) is ``tinylm_decoder`` trained with the default frequencies (at
``train_len``) and evaluated, without fine-tuning, with the extended ones (``strategy``: ``dprope``,
``interpolation`` or ``extrapolation``): ``model.eval()`` swaps the RoPE buffer, ``model.train()`` swaps
it back. It is how one run config trains at one length and tests at a longer one.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo_tinylm.config import TinyLMConfig, with_config_signature
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.positions import apply_rotary, default_inv_freq
from torch import nn

from paperzoo_dprope.scaling import DPRoPEInvFreq, dprope_scaling_factors


class RopeDistributionalScaling(nn.Module):
    """RoPE with the DPRoPE frequencies for a model pre-trained at ``train_len``, run at ``target_len``.

    :param head_dim: the rotated width (even).
    :param train_len: the pre-training context length ``L_train``.
    :param target_len: the extended context length ``L_target`` (``>= train_len``).
    :param theta: the RoPE base.
    :param intervals: histogram bins on ``[0, 2 pi)`` (the paper: 360).

    Buffers ``inv_freq`` (``head_dim / 2``, float32) and ``scaling_factors`` (1: extrapolation,
    ``target_len / train_len``: interpolation). ``forward(x)`` rotates ``x`` ``[..., T, head_dim]``.
    """

    def __init__(
        self, head_dim: int, train_len: int, target_len: int, theta: float = 10000.0, intervals: int = 360
    ) -> None:
        super().__init__()
        if head_dim < 2 or head_dim % 2:
            raise ValueError(f"head_dim={head_dim}: accepted: an even width of at least 2")
        base = default_inv_freq(head_dim, theta)
        factors = dprope_scaling_factors(base, train_len, target_len, intervals)
        self.register_buffer("scaling_factors", factors, persistent=False)
        self.register_buffer("inv_freq", base / factors, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        freqs = torch.arange(x.shape[-2], device=x.device).float()[:, None] * self.inv_freq.float()
        emb = torch.cat((freqs, freqs), dim=-1)
        return apply_rotary(x, emb.cos().to(x.dtype), emb.sin().to(x.dtype))


@with_config_signature(exclude=("rope_inv_freq",))
class DPRoPEDecoder(TinyLMDecoder):
    """``tinylm_decoder`` with default RoPE in training mode and extended RoPE in evaluation mode.

    :param train_len: the training context length ``L_train``.
    :param target_len: the evaluation context length ``L_target``.
    :param strategy: ``dprope`` (per-dimension choice), ``interpolation`` (position interpolation for
        every dimension) or ``extrapolation`` (the default frequencies throughout).
    :param intervals: histogram bins of the DPRoPE choice.
    """

    def __init__(
        self,
        train_len: int = 64,
        target_len: int = 256,
        strategy: str = "dprope",
        intervals: int = 360,
        config: TinyLMConfig | None = None,
        **params: Any,
    ) -> None:
        super().__init__(config, **params)
        if self.config.position != "rope":
            raise ValueError(f"position: got {self.config.position!r}; accepted: 'rope'")
        cfg = self.config
        extended = DPRoPEInvFreq(train_len, target_len, intervals, strategy)(cfg.dim_head, cfg.rope_theta)
        self.strategy = strategy
        self.register_buffer("train_inv_freq", self.rotary.inv_freq.clone(), persistent=False)
        self.register_buffer("extended_inv_freq", extended, persistent=False)

    def train(self, mode: bool = True) -> DPRoPEDecoder:
        super().train(mode)
        source = self.train_inv_freq if mode else self.extended_inv_freq
        self.rotary.inv_freq = source.clone()
        return self
