"""The standard library's source as a byte corpus with a fixed train/validation split (``tinylm_stdlib``).

The text is the core's (:func:`paperzoo.builtins.datasets.stdlib_source_bytes`: the first ``max_bytes``
of the standard library's ``.py`` files in sorted path order). The split is made on bytes, before
blocking: the last ``val_fraction`` of the bytes is the validation text, so it depends on neither
``seq_len`` nor the seed, and a bits-per-byte figure on it is comparable across block lengths. Byte
values are the kit tokenizer's ids (:mod:`paperzoo_tinylm.tokenizer`): the bundle declares
``vocab_size = VOCAB_SIZE`` so that a model built from it has the reserved ids too.
"""

from __future__ import annotations

import torch
from paperzoo.builtins.datasets import stdlib_source_bytes
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset

from .tokenizer import VOCAB_SIZE

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_VAL_FRACTION = 0.1


def stdlib_split(
    max_bytes: int = DEFAULT_MAX_BYTES, val_fraction: float = DEFAULT_VAL_FRACTION
) -> tuple[bytes, bytes]:
    """``(train, validation)`` bytes of the corpus: the validation text is its last
    ``round(len * val_fraction)`` bytes."""
    if max_bytes < 2:
        raise ParamError("max_bytes", f"got {max_bytes}; accepted: at least 2")
    if not 0.0 < val_fraction < 1.0:
        raise ParamError("val_fraction", f"got {val_fraction}; accepted: a fraction strictly between 0 and 1")
    text = stdlib_source_bytes(max_bytes)
    n_val = min(len(text) - 1, max(1, round(len(text) * val_fraction)))
    return text[:-n_val], text[-n_val:]


def _blocks(text: bytes, seq_len: int) -> torch.Tensor:
    data = torch.frombuffer(bytearray(text), dtype=torch.uint8).long()
    n = (len(data) - 1) // seq_len  # blocks of seq_len + 1 bytes overlapping by one: every byte a target
    index = torch.arange(n)[:, None] * seq_len + torch.arange(seq_len + 1)[None, :]
    return data[index]


def stdlib_bytes(
    seq_len: int = 128,
    max_bytes: int = DEFAULT_MAX_BYTES,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    seed: int = 0,
) -> DataBundle:
    """Next-byte prediction on the standard library's source, split as :func:`stdlib_split` says.

    Each split is cut into blocks of ``seq_len + 1`` bytes that overlap by one byte (inputs
    ``b[:-1]``, targets ``b[1:]``), so every byte but a split's first is a target exactly once. Training
    blocks are shuffled with ``seed``; validation blocks stay in text order.
    """
    if seq_len < 1:
        raise ParamError("seq_len", f"got {seq_len}; accepted: at least 1")
    train_text, val_text = stdlib_split(max_bytes, val_fraction)
    if len(val_text) <= seq_len:
        raise ParamError(
            "seq_len",
            f"{seq_len} leaves no validation block in {len(val_text)} validation bytes; accepted: a shorter "
            "seq_len or a larger max_bytes/val_fraction",
        )
    train, val = _blocks(train_text, seq_len), _blocks(val_text, seq_len)
    train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))]
    return DataBundle(
        TensorDataset(train[:, :-1], train[:, 1:]),
        TensorDataset(val[:, :-1], val[:, 1:]),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(seq_len,),
        name="tinylm_stdlib",
    )
