"""Small models shared by the tests."""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder


def tiny(seed: int = 0, dtype: torch.dtype = torch.float64, **kw) -> TinyLMDecoder:
    """A random 4-block tinylm decoder (eval mode) with weights large enough to spread similarities."""
    torch.manual_seed(seed)
    cfg = {"d_model": 32, "n_layers": 4, "n_heads": 4, "vocab_size": 64, "max_seq_len": 32, "init_std": 0.2}
    return TinyLMDecoder(**{**cfg, **kw}).to(dtype).eval()


def ids(n: int = 3, t: int = 12, seed: int = 1) -> torch.Tensor:
    return torch.randint(64, (n, t), generator=torch.Generator().manual_seed(seed))
