"""The TransNormerLLM block and a small language model built from it.

Token mixer (gated linear attention, the official ``NormLinearAttention``)::

    q, k, v, u = split(W_qkvu x)                     # each [B, T, hidden]
    q, k = silu(q), silu(k)                           # per head [B, H, T, D]
    q, k = lrpe(q, n), lrpe(k, n)                     # [.., 2D]; absolute positions n (LRPE-d)
    o = lightning_attention(q, k, v, lambda_l)        # causal, decayed, unnormalised
    y = W_o (u * srmsnorm(o))                         # norm over all heads, then the output gate

Block (pre-norm): ``x = x + mixer(srmsnorm(x))``, ``x = x + sglu(srmsnorm(x))``. The model: token
embedding, blocks, a final SimpleRMSNorm and a linear head. Decoding keeps one ``kv`` state ``[B, H, 2D,
D]`` per layer (:class:`TransNormerCache`): its size does not grow with the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from paperzoo_tinylm.linear_attention import LinearAttentionState
from paperzoo_tinylm.model import TinyLMOutput
from paperzoo_tinylm.tokenizer import VOCAB_SIZE
from torch import nn

from paperzoo_transnormer_llm.layers import (
    FORMS,
    LightningAttention,
    LrpeDecay,
    SimpleGatedLinearUnit,
    SimpleRMSNorm,
)


@dataclass
class TransNormerCache:
    """The decoding state: per layer a :class:`LinearAttentionState` (``kv`` ``[B, H, 2D, D]``) and the
    number of tokens seen (the next token's position, for LRPE)."""

    states: list[LinearAttentionState | None] = field(default_factory=list)
    seen: int = 0

    def get_seq_length(self) -> int:
        return self.seen

    def nbytes(self) -> int:
        """Bytes held by the states (constant in the sequence length)."""
        return sum(s.kv.numel() * s.kv.element_size() for s in self.states if s is not None)


class NormLinearAttention(nn.Module):
    """The gated linear-attention token mixer (see the module docstring).

    :param d_model: residual width.
    :param n_heads: heads.
    :param hidden_dim: width of ``q, k, v, u`` (``None``: ``d_model``); head width ``hidden_dim / n_heads``.
    :param layer_idx: this layer's index (sets the decay).
    :param n_layers: layers of the model.
    :param use_lrpe: apply LRPE to ``q`` and ``k``.
    :param block_size: block size of lightning attention.
    :param form: ``chunked``, ``recurrent`` or ``parallel`` (same result).
    :param bias: biases in the projections.
    :param eps: SimpleRMSNorm's epsilon.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        hidden_dim: int | None = None,
        layer_idx: int = 0,
        n_layers: int = 1,
        use_lrpe: bool = True,
        block_size: int = 64,
        form: str = "chunked",
        bias: bool = False,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        hidden_dim = d_model if hidden_dim is None else hidden_dim
        if hidden_dim % n_heads:
            raise ValueError(
                f"hidden_dim: got {hidden_dim} with {n_heads} heads; accepted: a multiple of n_heads"
            )
        if form not in FORMS:
            raise ValueError(f"form: got {form!r}; accepted: one of {FORMS}")
        self.n_heads, self.head_dim = n_heads, hidden_dim // n_heads
        self.qkvu_proj = nn.Linear(d_model, 4 * hidden_dim, bias=bias)
        self.lrpe = LrpeDecay(n_heads, self.head_dim, layer_idx, n_layers, use_lrpe)
        self.attn = LightningAttention(decay=self.lrpe.decay.tolist(), block_size=block_size, form=form)
        self.norm = SimpleRMSNorm(hidden_dim, eps)
        self.out_proj = nn.Linear(hidden_dim, d_model, bias=bias)

    def qkvu(self, x: torch.Tensor, offset: int = 0):
        """``q, k`` ``[B, H, T, 2D]`` (after silu and LRPE), ``v`` ``[B, H, T, D]``, ``u`` ``[B, T, hidden]``."""
        b, t, _ = x.shape
        q, k, v, u = self.qkvu_proj(x).chunk(4, -1)
        q, k, v = (z.view(b, t, self.n_heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        return self.lrpe(F.silu(q), offset), self.lrpe(F.silu(k), offset), v, u

    def forward(
        self, x: torch.Tensor, state: LinearAttentionState | None = None, offset: int = 0
    ) -> tuple[torch.Tensor, LinearAttentionState]:
        q, k, v, u = self.qkvu(x, offset)
        o, state = self.attn.attend(q, k, v, state, decay=self.lrpe.decay)
        o = o.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.out_proj(u * self.norm(o)), state


class TransNormerLLMBlock(nn.Module):
    """One TransNormerLLM block: ``x + mixer(srmsnorm(x))`` then ``x + sglu(srmsnorm(x))``.

    ``block(x)`` returns the output ``[B, T, d_model]``; ``block(x, state, offset, return_state=True)``
    also returns the attention state after the tokens (decoding).

    :param d_model: residual width.
    :param n_heads: heads.
    :param d_ff: SGLU inner width (``None``: ``2 d_model``).
    :param hidden_dim, layer_idx, n_layers, use_lrpe, block_size, form, bias, eps: the token mixer's
        (:class:`NormLinearAttention`).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int | None = None,
        hidden_dim: int | None = None,
        layer_idx: int = 0,
        n_layers: int = 1,
        use_lrpe: bool = True,
        block_size: int = 64,
        form: str = "chunked",
        bias: bool = False,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.token_norm = SimpleRMSNorm(d_model, eps)
        self.token_mixer = NormLinearAttention(
            d_model, n_heads, hidden_dim, layer_idx, n_layers, use_lrpe, block_size, form, bias, eps
        )
        self.channel_norm = SimpleRMSNorm(d_model, eps)
        self.channel_mixer = SimpleGatedLinearUnit(d_model, d_ff, bias)

    def forward(
        self,
        x: torch.Tensor,
        state: LinearAttentionState | None = None,
        offset: int = 0,
        return_state: bool = False,
    ):
        y, state = self.token_mixer(self.token_norm(x), state, offset)
        x = x + y
        x = x + self.channel_mixer(self.channel_norm(x))
        return (x, state) if return_state else x


class TransNormerLLM(nn.Module):
    """A causal TransNormerLLM language model (``transnormer_llm``), called with tinylm's causal-LM
    protocol subset: ``model(input_ids, past_key_values=None, use_cache=False, output_hidden_states=False)``
    returns a ``TinyLMOutput`` (``logits``, ``hidden_states``, ``past_key_values``: a
    :class:`TransNormerCache`).

    :param vocab_size: tokens (default: tinylm's byte tokenizer).
    :param d_model, n_layers, n_heads: sizes.
    :param d_ff: SGLU inner width (``None``: ``2 d_model``).
    :param hidden_dim: width of ``q, k, v, u`` (``None``: ``d_model``).
    :param use_lrpe: ``True``/``False`` for every layer, or one flag per layer.
    :param block_size: lightning attention's block size.
    :param form: ``chunked`` (block-wise), ``recurrent`` or ``parallel``.
    :param tie_embeddings: the head shares the token embedding (as nanoTransNormer).
    :param bias: biases in every linear layer.
    :param eps: SimpleRMSNorm's epsilon.
    :param init_std: normal init of linear and embedding weights.
    """

    def __init__(
        self,
        vocab_size: int = VOCAB_SIZE,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int | None = None,
        hidden_dim: int | None = None,
        use_lrpe: bool | list[bool] = True,
        block_size: int = 64,
        form: str = "chunked",
        tie_embeddings: bool = False,
        bias: bool = False,
        eps: float = 1e-6,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        flags = [bool(use_lrpe)] * n_layers if isinstance(use_lrpe, bool) else [bool(f) for f in use_lrpe]
        if len(flags) != n_layers:
            raise ValueError(
                f"use_lrpe: got {len(flags)} flags; accepted: a bool or one per layer ({n_layers})"
            )
        self.embed = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList(
            TransNormerLLMBlock(
                d_model, n_heads, d_ff, hidden_dim, i, n_layers, flags[i], block_size, form, bias, eps
            )
            for i in range(n_layers)
        )
        self.final_norm = SimpleRMSNorm(d_model, eps)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=init_std)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        if tie_embeddings:
            self.lm_head.weight = self.embed.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        past_key_values: TransNormerCache | None = None,
        use_cache: bool = False,
        output_hidden_states: bool = False,
    ) -> TinyLMOutput:
        cache = past_key_values
        offset = 0 if cache is None else cache.seen
        x = self.embed(input_ids)
        hidden = [x] if output_hidden_states else None
        states = []
        for i, block in enumerate(self.blocks):
            prev = None if cache is None or not cache.states else cache.states[i]
            x, state = block(x, prev, offset, return_state=True)
            states.append(state)
            if hidden is not None and i < len(self.blocks) - 1:
                hidden.append(x)
        x = self.final_norm(x)
        if hidden is not None:
            hidden.append(x)
        new_cache = TransNormerCache(states, offset + input_ids.shape[1]) if use_cache else None
        return TinyLMOutput(
            logits=self.lm_head(x),
            hidden_states=None if hidden is None else tuple(hidden),
            past_key_values=new_cache,
        )
