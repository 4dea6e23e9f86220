"""``self_pretraining_first_last``: is a random sequence's first token equal to its last?"""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import VOCAB_SIZE
from torch.utils.data import TensorDataset

FIRST_SYMBOL = 97  # the byte of "a": symbols are the letters a, b, c, ...


def first_last_tensors(n: int, length: int, n_symbols: int, generator: torch.Generator):
    """``n`` sequences of ``length`` letters drawn uniformly from the first ``n_symbols``; half (label 1)
    end with their first letter, the other half (label 0) with a different one. Returns ``(ids, labels)``."""
    ids = torch.randint(n_symbols, (n, length), generator=generator)
    labels = torch.randint(2, (n,), generator=generator)
    other = (ids[:, 0] + torch.randint(1, n_symbols, (n,), generator=generator)) % n_symbols
    ids[:, -1] = torch.where(labels == 1, ids[:, 0], other)
    return ids + FIRST_SYMBOL, labels


def first_last(n_train: int = 2048, n_val: int = 512, length: int = 64, n_symbols: int = 8, seed: int = 0):
    """The classification bundle (train and validation drawn independently from one seeded generator)."""
    for name, value, low in (("n_train", n_train, 1), ("n_val", n_val, 1), ("length", length, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    if isinstance(n_symbols, bool) or not isinstance(n_symbols, int) or not 2 <= n_symbols <= 26:
        raise ParamError("n_symbols", f"{n_symbols!r}; accepted: an integer in 2..26")
    g = torch.Generator().manual_seed(seed)
    train = first_last_tensors(n_train, length, n_symbols, g)
    val = first_last_tensors(n_val, length, n_symbols, g)
    return DataBundle(
        TensorDataset(*train),
        TensorDataset(*val),
        task="classification",
        num_classes=2,
        input_shape=(length,),
        vocab_size=VOCAB_SIZE,
        name="self_pretraining_first_last",
    )
