"""Shared helpers of the tests."""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder


def tiny_decoder(seed: int = 0, dtype: torch.dtype = torch.float64, n_kv_heads: int | None = None):
    """A small random pre-norm gated tinylm decoder (RoPE, untied head) with non-unit norm gains."""
    torch.manual_seed(seed)
    model = TinyLMDecoder(
        vocab_size=50, d_model=16, n_layers=2, n_heads=4, n_kv_heads=n_kv_heads, d_ff=24, max_seq_len=32
    ).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 2.0)
    return model.eval()
