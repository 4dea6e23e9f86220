"""Small models for the fast tests."""

import torch
from paperzoo_tinylm.model import TinyLMDecoder


def tiny_decoder(n_layers: int = 3, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.nn.Module:
    """A random pre-norm tinylm decoder (d_model 16, SwiGLU), eval mode."""
    torch.manual_seed(seed)
    model = TinyLMDecoder(d_model=16, n_layers=n_layers, n_heads=2, d_ff=32, vocab_size=40, max_seq_len=16)
    return model.to(dtype).eval()


def tiny_ids(n: int = 8, seq_len: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randint(40, (n, seq_len), generator=torch.Generator().manual_seed(seed))
