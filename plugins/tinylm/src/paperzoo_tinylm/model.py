"""tinylm models: the causal decoder (``tinylm_decoder``) and the bidirectional encoder with an MLM head
(``tinylm_encoder``), built from one :class:`~paperzoo_tinylm.config.TinyLMConfig`.

The decoder follows the causal-LM protocol::

    out = model(input_ids, past_key_values=None, use_cache=False, output_hidden_states=False)

``out.logits`` ``[B, T, V]``; ``out.hidden_states`` (when asked): the embedding output, then each
block's output, the last one after the final norm (as transformers gives them);
``out.past_key_values`` (when ``use_cache``): a :class:`~paperzoo_tinylm.cache.KVCache`. With a cache
given, ``input_ids`` holds only the new tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.blocks import stack_blocks
from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.config import TinyLMConfig, make_config, with_config_signature
from paperzoo_tinylm.ffn import MoE
from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.norms import build_norm
from paperzoo_tinylm.positions import Rotary


@dataclass
class TinyLMOutput:
    """What a tinylm model returns.

    :param logits: ``[B, T, V]``.
    :param hidden_states: ``n_layers + 1`` tensors ``[B, T, d_model]`` when asked, else ``None``.
    :param past_key_values: the cache after these tokens when ``use_cache``, else ``None``.
    :param aux_loss: the summed MoE load-balance loss of the MoE blocks, else ``None``.
    :param router_traces: per MoE block, ``[B, T, E]`` routing weights (rows sum to one), else ``None``.
    :param encoder_last_hidden_state: the encoder-decoder's encoder output ``[B, S, d_model]``, else ``None``.
    """

    logits: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    past_key_values: KVCache | None = None
    aux_loss: torch.Tensor | None = None
    router_traces: tuple[torch.Tensor, ...] | None = None
    encoder_last_hidden_state: torch.Tensor | None = None


class _TinyLM(nn.Module):
    causal = True

    def __init__(self, config: TinyLMConfig | None = None, **params: Any) -> None:
        super().__init__()
        self.config = config = make_config(config, params)
        d = config.d_model
        self.tok_embed = nn.Embedding(config.vocab_size, d)
        if config.position == "learned":
            self.pos_embed = nn.Embedding(config.max_seq_len, d)
        if config.position == "rope":
            self.rotary = Rotary(config.dim_head, config.rope_theta, config.rope_inv_freq)
        if config.embed_norm:
            self.embed_norm = build_norm(config.norm, d, config.norm_eps, config.bias, config.norm_params)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = stack_blocks(config)
        if config.has_final_norm:
            self.final_norm = build_norm(config.norm, d, config.norm_eps, config.bias, config.norm_params)
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        self.embed, self.final = HookPoint(), HookPoint()
        self.apply(self._init)
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_embed.weight

    def _init(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=self.config.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        output_hidden_states: bool = False,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> TinyLMOutput:
        """``attention_mask`` ``[B, T_past + T]`` (1: token, 0: padding) masks padded keys;
        ``position_ids`` ``[B, T]`` overrides positions (default: continuing the cache)."""
        cfg = self.config
        if not self.causal and (use_cache or past_key_values is not None):
            raise ValueError("a bidirectional encoder has no key/value cache; call it with use_cache=False")
        cache = past_key_values if past_key_values is not None else (KVCache() if use_cache else None)
        start = cache.get_seq_length() if cache is not None else 0
        t = input_ids.shape[1]
        if position_ids is None:
            position_ids = torch.arange(start, start + t, device=input_ids.device)[None]
        x = self.tok_embed(input_ids)
        if cfg.position == "learned":
            x = x + self.pos_embed(position_ids)
        rotary = self.rotary(position_ids, x.dtype) if cfg.position == "rope" else None
        if cfg.embed_norm:
            x = self.embed_norm(x)
        x = self.embed(self.drop(x))
        mask = AttentionMask(self.causal, start, attention_mask)
        hidden = [x] if output_hidden_states else None
        for i, block in enumerate(self.blocks):
            x = block(x, mask, rotary, cache, i)
            if hidden is not None:
                hidden.append(x)
        if cfg.has_final_norm:
            x = self.final_norm(x)
        x = self.final(x)
        if hidden is not None:
            hidden[-1] = x
        moe = [b.mlp for b in self.blocks if isinstance(b.mlp, MoE)]
        return TinyLMOutput(
            logits=self.lm_head(x),
            hidden_states=tuple(hidden) if hidden is not None else None,
            past_key_values=cache if use_cache else None,
            aux_loss=sum(m.aux_loss for m in moe) if moe else None,
            router_traces=tuple(m.trace for m in moe) if moe else None,
        )

    def num_parameters(self) -> int:
        """Distinct parameters (a tied head counted once)."""
        return sum(p.numel() for p in self.parameters())


@with_config_signature
class TinyLMDecoder(_TinyLM):
    """Causal transformer language model (``tinylm_decoder``); takes a config or its fields as keywords."""

    causal = True


@with_config_signature
class TinyLMEncoder(_TinyLM):
    """Bidirectional transformer with a masked-language-model head (``tinylm_encoder``): logits for every
    position, no cache; ``attention_mask`` masks padding."""

    causal = False
