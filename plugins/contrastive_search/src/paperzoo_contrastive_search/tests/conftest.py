"""Fixtures: a plain torch causal LM that follows the decoding protocol, and a tiny random GPT-2."""

import math
import os

import pytest
import torch
from torch import nn

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The models here are tiny: one thread avoids oversubscribing shared CPUs (many times faster there).
torch.set_num_threads(1)


class TinyCausalLM(nn.Module):
    """One pre-norm attention block and an MLP; returns ``(logits, hidden_states, past_key_values)``
    with ``past_key_values = (keys, values)``, batch first."""

    def __init__(self, vocab: int = 24, dim: int = 16, max_len: int = 96):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(max_len, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, vocab)

    def forward(self, input_ids, past_key_values=None, use_cache=False, output_hidden_states=False):
        start = 0 if past_key_values is None else past_key_values[0].shape[1]
        length = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos(torch.arange(start, start + length, device=input_ids.device))
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        if past_key_values is not None:
            k, v = torch.cat([past_key_values[0], k], dim=1), torch.cat([past_key_values[1], v], dim=1)
        keys = torch.arange(k.shape[1], device=x.device)
        allowed = keys[None, :] <= (start + torch.arange(length, device=x.device))[:, None]
        scores = (q @ k.transpose(1, 2)) / math.sqrt(q.shape[-1])
        x = x + self.proj(scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v)
        x = x + self.mlp(self.norm2(x))
        h = self.norm3(x)
        return self.head(h), (x, h), ((k, v) if use_cache else None)


@pytest.fixture
def make_tiny_lm():
    """A seeded, eval-mode TinyCausalLM factory."""

    def make(seed: int = 0, **kwargs) -> TinyCausalLM:
        torch.manual_seed(seed)
        return TinyCausalLM(**kwargs).eval()

    return make


@pytest.fixture
def make_gpt2():
    """A seeded, eval-mode, randomly initialised tiny GPT-2 factory (transformers)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    def make(seed: int = 0, vocab: int = 64, n_layer: int = 2) -> GPT2LMHeadModel:
        torch.manual_seed(seed)
        config = GPT2Config(
            vocab_size=vocab,
            n_positions=96,
            n_embd=32,
            n_layer=n_layer,
            n_head=2,
            bos_token_id=None,
            eos_token_id=None,
        )
        return GPT2LMHeadModel(config).eval()

    return make
