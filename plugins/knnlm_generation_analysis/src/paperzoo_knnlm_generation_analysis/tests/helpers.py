"""Shared test fixtures: a tiny random tinylm decoder, random token data and a kNN-LM over them."""

from __future__ import annotations

import torch
from paperzoo_knn_lm.datastore import build_datastore
from paperzoo_knn_lm.knn import KNNLM
from paperzoo_tinylm.model import TinyLMDecoder

VOCAB = 32


def tiny_decoder(seed: int = 0) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=16, n_layers=2, n_heads=2, vocab_size=VOCAB, max_seq_len=32).double().eval()


def tokens(n: int, t: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(VOCAB, (n, t), generator=torch.Generator().manual_seed(seed))


def tiny_knnlm(k: int = 8, temperature: float = 1.0, lam: float = 0.25) -> KNNLM:
    model = tiny_decoder()
    x = tokens(12, 17)
    store = build_datastore(model, x[:, :-1], x[:, 1:])
    return KNNLM(model, store, k=k, temperature=temperature, lam=lam)
