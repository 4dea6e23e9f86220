"""Tiny seeded models for the tests."""

from __future__ import annotations

import torch

from paperzoo_tinylm.model import TinyLMDecoder

TINY = dict(d_model=32, n_layers=2, n_heads=4, vocab_size=64, max_seq_len=64)


def jitter(model: torch.nn.Module, scale: float = 0.05, seed: int = 1) -> torch.nn.Module:
    """Move every parameter (norm gains and biases too) away from its initialisation, so each one matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def tiny(dtype: torch.dtype = torch.float64, seed: int = 0, **overrides) -> TinyLMDecoder:
    """A seeded 2-layer decoder in eval mode with jittered weights."""
    torch.manual_seed(seed)
    model = TinyLMDecoder(**{**TINY, **overrides}).to(dtype).eval()
    return jitter(model, seed=seed + 1)


def tokens(batch: int, length: int, vocab: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))
