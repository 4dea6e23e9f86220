"""Shared builders for the tests: causal softmax maps with raised columns, and a tiny decoder."""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder


def causal_map(b: int, h: int, t: int, boost: dict[int, float], seed: int = 0) -> torch.Tensor:
    """``[b, h, t, t]`` float64 causal softmax of normal scores, columns ``boost`` raised."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(b, h, t, t, generator=g, dtype=torch.float64)
    for j, add in boost.items():
        s[..., j] += add
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    return s.masked_fill(~causal, float("-inf")).softmax(-1)


def tiny_decoder(seed: int = 0, **overrides) -> TinyLMDecoder:
    """A 2-layer float64 Llama-form decoder (explicit softmax), weights drawn wider than the init so that
    attention is not near uniform."""
    torch.manual_seed(seed)
    config = {"d_model": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 64, "max_seq_len": 64}
    model = TinyLMDecoder(**{**config, "attn_impl": "eager", **overrides}).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    return model
