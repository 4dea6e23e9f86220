"""The encoder-decoder (``tinylm_encoder_decoder``, T5-style, for span corruption): a bidirectional
encoder and a causal decoder with cross-attention, sharing the token embedding and the output head's
vocabulary, built from the same block and slots as the other models.

    out = model(input_ids, decoder_input_ids, attention_mask=None, past_key_values=None, use_cache=False,
                output_hidden_states=False, encoder_outputs=None)

``out.logits`` ``[B, T_dec, V]``; ``out.encoder_last_hidden_state`` the encoder output (pass it back as
``encoder_outputs`` to decode without re-encoding); ``out.past_key_values`` caches the decoder's
self-attention (cross-attention keys are recomputed from the encoder output). Without
``decoder_input_ids`` the decoder reads ``input_ids`` shifted right behind ``PAD`` (the decoder start
token, as T5). Hook names: ``encoder.<name>`` and ``decoder.<name>`` for the decoder-only names, plus
``decoder.blocks.<i>.cross_attn.*`` and ``decoder.blocks.<i>.resid_cross``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.blocks import Block, CrossBlock, make_norm, stack_blocks
from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.config import TinyLMConfig, make_config, with_config_signature
from paperzoo_tinylm.hooks import HookPoint
from paperzoo_tinylm.model import TinyLMOutput
from paperzoo_tinylm.positions import Rotary


class Stack(nn.Module):
    """Blocks with their embedding hook, optional embedding norm and final norm."""

    def __init__(self, config: TinyLMConfig, cross: bool) -> None:
        super().__init__()
        cls = CrossBlock if cross else Block
        if config.embed_norm:
            self.embed_norm = make_norm(config)
        self.blocks = stack_blocks(config, cls)
        if config.has_final_norm:
            self.final_norm = make_norm(config)
        self.embed, self.final = HookPoint(), HookPoint()

    def forward(self, x: torch.Tensor, mask: AttentionMask, rotary, cache=None, **cross: Any):
        if hasattr(self, "embed_norm"):
            x = self.embed_norm(x)
        x = self.embed(x)
        hidden = [x]
        for i, block in enumerate(self.blocks):
            x = block(x, mask, rotary, cache, i, **cross)
            hidden.append(x)
        if hasattr(self, "final_norm"):
            x = self.final_norm(x)
        hidden[-1] = self.final(x)
        return hidden


def shift_right(ids: torch.Tensor, start: int) -> torch.Tensor:
    """``[start, ids[:, :-1]]``: teacher-forcing decoder input."""
    return torch.cat([torch.full_like(ids[:, :1], start), ids[:, :-1]], dim=1)


@with_config_signature
class TinyLMEncoderDecoder(nn.Module):
    """T5-style encoder-decoder; takes a config or its fields as keywords."""

    def __init__(self, config: TinyLMConfig | None = None, **params: Any) -> None:
        super().__init__()
        self.config = config = make_config(config, params)
        d = config.d_model
        self.tok_embed = nn.Embedding(config.vocab_size, d)
        if config.position == "learned":
            self.pos_embed = nn.Embedding(config.max_seq_len, d)
        if config.position == "rope":
            self.rotary = Rotary(config.dim_head, config.rope_theta, config.rope_inv_freq)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = Stack(config, cross=False)
        self.decoder = Stack(config, cross=True)
        self.lm_head = nn.Linear(d, config.vocab_size, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=config.init_std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_embed.weight

    def _inputs(self, ids: torch.Tensor, start: int):
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)[None]
        x = self.tok_embed(ids)
        if self.config.position == "learned":
            x = x + self.pos_embed(positions)
        rotary = self.rotary(positions, x.dtype) if self.config.position == "rope" else None
        return self.drop(x), rotary

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder output ``[B, S, d_model]``."""
        x, rotary = self._inputs(input_ids, 0)
        return self.encoder(x, AttentionMask(False, 0, attention_mask), rotary)[-1]

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        output_hidden_states: bool = False,
        encoder_outputs: torch.Tensor | None = None,
    ) -> TinyLMOutput:
        """``attention_mask`` ``[B, S]`` masks padded encoder tokens (for the encoder and the
        cross-attention)."""
        if encoder_outputs is None:
            if input_ids is None:
                raise ValueError("give input_ids or encoder_outputs")
            encoder_outputs = self.encode(input_ids, attention_mask)
        if decoder_input_ids is None:
            if input_ids is None:
                raise ValueError("give decoder_input_ids (the decoder's tokens) with encoder_outputs")
            start_id = tokenizer.PAD if self.config.vocab_size > tokenizer.PAD else 0
            decoder_input_ids = shift_right(input_ids, start_id)
        cache = past_key_values if past_key_values is not None else (KVCache() if use_cache else None)
        start = cache.get_seq_length() if cache is not None else 0
        y, rotary = self._inputs(decoder_input_ids, start)
        hidden = self.decoder(
            y,
            AttentionMask(True, start),
            rotary,
            cache,
            memory=encoder_outputs,
            memory_mask=AttentionMask(False, 0, attention_mask, cross=True),
        )
        return TinyLMOutput(
            logits=self.lm_head(hidden[-1]),
            hidden_states=tuple(hidden) if output_hidden_states else None,
            past_key_values=cache if use_cache else None,
            encoder_last_hidden_state=encoder_outputs,
        )
