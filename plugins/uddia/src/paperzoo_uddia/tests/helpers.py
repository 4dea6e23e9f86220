"""Small fixtures shared by the tests: a tiny GPT-2-style tinylm decoder and a random classifier."""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_uddia.decoding import LinearAttributeClassifier


def tiny_lm(seed: int = 0, bias: bool = True) -> TinyLMDecoder:
    """A 3-block decoder with biases and LayerNorms (GPT-2 style), in eval mode."""
    torch.manual_seed(seed)
    norm = "layer_norm" if bias else "rms_norm"
    model = TinyLMDecoder(
        d_model=16, n_layers=3, n_heads=2, vocab_size=32, max_seq_len=64, bias=bias, norm=norm
    )
    return model.eval()


def classifier(seed: int = 0, d_model: int = 16) -> LinearAttributeClassifier:
    torch.manual_seed(seed)
    return LinearAttributeClassifier(d_model).eval()
