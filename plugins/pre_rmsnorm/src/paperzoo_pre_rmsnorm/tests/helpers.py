"""Shared test models: small Pre-LN tinylm decoders with random (not identity) LayerNorm affines."""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder

VOCAB = 40


def pre_ln(seed: int = 0, dtype: torch.dtype = torch.float64, **kw) -> TinyLMDecoder:
    """A 2-layer Pre-LN decoder; init_std 0.2 so that logits are of order one."""
    torch.manual_seed(seed)
    params = dict(d_model=16, n_heads=2, n_layers=2, vocab_size=VOCAB, max_seq_len=16, init_std=0.2)
    model = TinyLMDecoder(**{**params, "norm": "layer_norm", **kw}).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
    return model


def tokens(seed: int = 1, batch: int = 3, length: int = 12) -> torch.Tensor:
    return torch.randint(VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))
