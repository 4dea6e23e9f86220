"""Shared test fixtures: a tiny random tinylm decoder and random token data."""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder


def tiny_decoder(seed: int = 0, dtype: torch.dtype = torch.float64) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=16, n_layers=2, n_heads=2, vocab_size=32, max_seq_len=32).to(dtype).eval()


def tokens(n: int, t: int, seed: int = 1, vocab: int = 32) -> torch.Tensor:
    return torch.randint(vocab, (n, t), generator=torch.Generator().manual_seed(seed))
