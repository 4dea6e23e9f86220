"""The stdlib byte corpus: a fixed split on bytes, blocks that cover each split once, kit vocabulary."""

import pytest
import torch
from paperzoo.builtins.datasets import stdlib_source_bytes
from paperzoo.errors import ParamError

from paperzoo_tinylm.data import stdlib_bytes, stdlib_split

MAX = 30000


def text_of(split) -> bytes:
    """The bytes a split's blocks cover: the first block's input, then every target in order."""
    x, y = split.tensors
    return bytes(x[0, :1].tolist() + y.flatten().tolist())


def test_split_is_the_tail_of_the_core_corpus():
    corpus = stdlib_source_bytes(MAX)
    train, val = stdlib_split(MAX, 0.1)
    assert train + val == corpus and len(val) == round(0.1 * len(corpus))


@pytest.mark.parametrize("seq_len", [16, 33])
def test_blocks_cover_each_split_in_order(seq_len):
    train_text, val_text = stdlib_split(MAX, 0.1)
    bundle = stdlib_bytes(seq_len=seq_len, max_bytes=MAX, seed=3)
    covered = text_of(bundle.val)
    assert val_text.startswith(covered) and len(val_text) - len(covered) < seq_len  # only the ragged end
    x, y = bundle.train.tensors
    assert torch.equal(x[:, 1:], y[:, :-1])  # targets are the next bytes
    starts = sorted(bytes(row[:8].tolist()) for row in x)
    expected = sorted(train_text[i : i + 8] for i in range(0, len(train_text) - seq_len, seq_len))
    assert starts == expected  # the training blocks, shuffled
    assert bundle.vocab_size == 363 and bundle.input_shape == (seq_len,)


def test_validation_does_not_depend_on_seq_len_or_seed():
    a = text_of(stdlib_bytes(seq_len=16, max_bytes=MAX, seed=0).val)
    b = text_of(stdlib_bytes(seq_len=40, max_bytes=MAX, seed=1).val)
    common = min(len(a), len(b))
    assert a[:common] == b[:common] and common > 2000
    shuffled = stdlib_bytes(seq_len=16, max_bytes=MAX, seed=1).train.tensors[0]
    assert not torch.equal(stdlib_bytes(seq_len=16, max_bytes=MAX, seed=0).train.tensors[0], shuffled)


def test_bad_parameters():
    with pytest.raises(ParamError, match="val_fraction"):
        stdlib_bytes(val_fraction=0.0)
    with pytest.raises(ParamError, match="seq_len"):
        stdlib_bytes(seq_len=5000, max_bytes=MAX)
