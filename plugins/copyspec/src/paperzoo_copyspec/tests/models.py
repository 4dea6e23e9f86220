"""Small causal LMs for the tests: a tinylm decoder, tiny random transformers GPT-2 and Llama, and a
cycling LM whose greedy output is known in closed form."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from paperzoo.compat import import_transformers
from torch import nn


def tinylm(seed: int = 0, vocab: int = 40) -> nn.Module:
    """A float64 tinylm decoder with a sharpened head (its greedy output repeats itself soon)."""
    from paperzoo_tinylm.model import TinyLMDecoder

    torch.manual_seed(seed)
    model = TinyLMDecoder(vocab_size=vocab, d_model=32, n_layers=2, n_heads=4, max_seq_len=160)
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model.double().eval()


def gpt2(seed: int = 0, vocab: int = 40) -> nn.Module:
    transformers = import_transformers()
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=160,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=None,
        eos_token_id=None,
    )
    return transformers.GPT2LMHeadModel(config).double().eval()


def llama(seed: int = 0, vocab: int = 40) -> nn.Module:
    transformers = import_transformers()
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=160,
    )
    return transformers.LlamaForCausalLM(config).double().eval()


class CyclingLM(nn.Module):
    """Greedy continuation ``x_{t+1} = (x_t + 1) mod period`` (logits: 1 on that token, 0 elsewhere).

    Its cache is a tuple holding the ids seen so far as a ``(B, 1, T, 1)`` tensor; each call records the
    cached ids of row 0 it was given in ``seen`` (so a test can check that they are the accepted tokens:
    a missing rollback leaves rejected draft tokens there) and counts itself in ``calls``."""

    def __init__(self, period: int, vocab: int | None = None):
        super().__init__()
        self.period, self.vocab, self.calls, self.seen = period, vocab or period, 0, []

    def forward(self, input_ids, past_key_values=None, use_cache=False, output_hidden_states=False):
        self.calls += 1
        ids = input_ids[:, None, :, None].double()
        if past_key_values is not None:
            self.seen.append(past_key_values[0][0, 0, :, 0].long().tolist())
            ids = torch.cat([past_key_values[0], ids], dim=2)
        logits = nn.functional.one_hot((input_ids + 1) % self.period, self.vocab).double()
        return SimpleNamespace(logits=logits, past_key_values=(ids,) if use_cache else None)
