"""Small models shared by the tests."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from paperzoo_tinylm.model import TinyLMDecoder


def tiny_policy(seed: int = 0, dtype: torch.dtype = torch.float32) -> TinyLMDecoder:
    """An untrained 2-layer decoder (random weights give non-trivial, condition-dependent logits)."""
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=32).to(dtype).eval()


class Bigram(torch.nn.Module):
    """A causal LM whose logits at position t depend on token t alone: masking earlier tokens cannot
    change them, so its conditional and condition-masked distributions coincide after the prompt."""

    def __init__(self, vocab: int = 363, seed: int = 0) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(
            torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed))
        )

    def forward(self, input_ids: torch.Tensor, **_: object) -> SimpleNamespace:
        return SimpleNamespace(logits=self.table[input_ids], past_key_values=None)
