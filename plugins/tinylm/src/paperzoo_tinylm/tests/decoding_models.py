"""Small seeded models for the decoding tests: one per kind of cache the protocol supports.

* ``tinylm``: the kit's decoder (a :class:`~paperzoo_tinylm.cache.KVCache`);
* ``gpt2``: transformers' ``GPT2LMHeadModel`` (a ``DynamicCache``), also the parity reference;
* ``tuple``: a plain torch model returning ``(logits, hidden_states, (keys, values))``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

KINDS = ("tinylm", "gpt2", "tuple")
VOCAB = 48


class TupleCacheLM(nn.Module):
    """One attention layer with learned positions; its cache is the tuple ``(keys, values)``."""

    def __init__(self, vocab: int = VOCAB, dim: int = 16, max_len: int = 96):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(max_len, dim)
        self.qkv, self.norm = nn.Linear(dim, 3 * dim), nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, input_ids, past_key_values=None, use_cache=False, output_hidden_states=False):
        start = 0 if past_key_values is None else past_key_values[0].shape[1]
        length = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos(torch.arange(start, start + length))
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if past_key_values is not None:
            k, v = torch.cat([past_key_values[0], k], dim=1), torch.cat([past_key_values[1], v], dim=1)
        future = torch.arange(k.shape[1])[None, :] > (start + torch.arange(length))[:, None]
        scores = (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])).masked_fill(future, float("-inf"))
        h = self.norm(x + scores.softmax(-1) @ v)
        return self.head(h) * 3.0, (x, h), ((k, v) if use_cache else None)


def gpt2(seed: int = 0, vocab: int = VOCAB, n_layer: int = 2) -> nn.Module:
    """A randomly initialised tiny GPT-2 in eval mode."""
    from paperzoo.compat import import_transformers

    transformers = import_transformers()
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=96,
        n_embd=32,
        n_layer=n_layer,
        n_head=2,
        bos_token_id=None,
        eos_token_id=None,
    )
    return transformers.GPT2LMHeadModel(config).eval()


def make(kind: str, seed: int = 0) -> nn.Module:
    """A seeded eval-mode model of ``kind`` (one of :data:`KINDS`) over :data:`VOCAB` tokens."""
    if kind == "gpt2":
        return gpt2(seed)
    torch.manual_seed(seed)
    if kind == "tuple":
        return TupleCacheLM().eval()
    from paperzoo_tinylm.model import TinyLMDecoder

    model = TinyLMDecoder(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, max_seq_len=96).eval()
    with torch.no_grad():  # a sharper next-token distribution than the small default init gives
        model.lm_head.weight.mul_(20.0)
    return model


def prompts(batch: int = 3, length: int = 5, seed: int = 0, vocab: int = VOCAB) -> torch.Tensor:
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def next_logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """``(B, V)`` logits after ``ids``, from a plain uncached call."""
    out = model(ids, use_cache=False)
    return (out[0] if isinstance(out, tuple) else out.logits)[:, -1].float()
