"""The long-context recall tasks: an oracle that looks each queried key up in the context (last write
wins) answers every target, lengths are exact, only answers are targets, seeds reproduce, keys are
distinct unless asked otherwise, and a longer validation split leaves the training split unchanged."""

from __future__ import annotations

import inspect
import re

import paperzoo
import pytest
import torch
from paperzoo.errors import ParamError

from paperzoo_tinylm import long_context as lc
from paperzoo_tinylm.tasks import IGNORE, answer_accuracy
from paperzoo_tinylm.tokenizer import BOS, PAD, VOCAB_SIZE, decode


def _context_pairs(text: str, sep: str, pair: str) -> list[tuple[str, str]]:
    if sep == "|":  # mqar: single-character key, value, key, value ...
        ctx = text.split("|")[0]
        return list(zip(ctx[0::2], ctx[1::2]))
    return [tuple(p.split(":")) for p in re.findall(pair, text.split("?")[0])]


def oracle_logits(bundle, split: str, task: str) -> torch.Tensor:
    """One-hot logits that predict, at each answer position, the value of the key queried there, looked
    up in the row's context (the last value written for that key)."""
    x, y = getattr(bundle, split).tensors
    logits = torch.zeros(*x.shape, VOCAB_SIZE)
    for r in range(x.shape[0]):
        text = decode(x[r, 1:])
        pairs = _context_pairs(text, "|" if task == "mqar" else "?", r"[a-z]+:[0-9]+")
        table = {}
        for k, v in pairs:
            table[k] = v
        for p in (y[r] != IGNORE).nonzero().flatten().tolist():
            if task == "mqar":
                key, offset = chr(int(x[r, p])), 0
            else:  # the query '?key=' ends before the answer's first character; later answer characters follow
                start = text.rindex("?", 0, p)  # text index i is input position i + 1
                key, rest = text[start + 1 :].split("=")[0], text[start + 1 :].split("=")[1]
                offset = p - (start + 1 + len(key) + 1)  # position within the answer
                assert offset >= 0 and rest  # the answer follows the query
            logits[r, p, ord(table[key][offset])] = 1.0
    return logits


def _check_rows(bundle, split, length):
    x, y = getattr(bundle, split).tensors
    assert x.shape[1] == y.shape[1] == length
    assert bool((x[:, 0] == BOS).all()) and not bool((x == PAD).any())
    scored = y != IGNORE
    assert torch.equal(y[:, :-1][scored[:, :-1]], x[:, 1:][scored[:, :-1]])  # targets: inputs shifted by one
    return x, y, scored


def test_mqar_oracle_solves_every_answer_at_both_lengths():
    bundle = lc.mqar(n_samples=40, seq_len=64, n_pairs=8, n_queries=6, val_seq_len=256, val_n_pairs=24,
                     val_n_queries=20, seed=3)  # fmt: skip
    for split, length, pairs, queries in (("train", 64, 8, 6), ("val", 256, 24, 20)):
        x, y, scored = _check_rows(bundle, split, length)
        assert bool((scored.sum(1) == queries).all())
        assert answer_accuracy(oracle_logits(bundle, split, "mqar"), y) == (1.0, 1.0)
        for row, target in zip(x, y):
            text = decode(row[1:])
            keys = text.split("|")[0][0::2]
            assert len(keys) == pairs == len(set(keys)) and set(keys) <= set(lc.MQAR_KEYS)
            assert set(text.split("|")[0][1::2]) <= set(lc.MQAR_VALUES)
            asked = [chr(int(row[p])) for p in (target != IGNORE).nonzero().flatten().tolist()]
            assert len(set(asked)) == queries and set(asked) <= set(keys)
            assert set(text.split("|")[1]) - set(keys) - set(lc.MQAR_VALUES) <= {"."}


def test_kv_retrieval_oracle_and_growing_context():
    bundle = lc.kv_retrieval(n_samples=30, seq_len=64, n_queries=2, val_seq_len=256, seed=4)
    counts = {}
    for split, length in (("train", 64), ("val", 256)):
        x, y, scored = _check_rows(bundle, split, length)
        assert bool((scored.sum(1) == 2 * 3).all())
        assert answer_accuracy(oracle_logits(bundle, split, "kv"), y) == (1.0, 1.0)
        pairs = [re.findall(r"([a-z]{3}):([0-9]{3}),", decode(row[1:]).split("?")[0]) for row in x]
        assert all(len({k for k, _ in p}) == len(p) for p in pairs)  # distinct keys
        counts[split] = {len(p) for p in pairs}
    # as many pairs as fit: (64 - 1 - 2 * 8) // 8 = 5 and (256 - 1 - 2 * 8) // 8 = 29
    assert counts == {"train": {5}, "val": {29}}


def test_repeated_keys_answer_with_the_last_value():
    bundle = lc.mqar(n_samples=60, seq_len=40, n_pairs=12, n_queries=6, n_keys=4, unique_keys=False, seed=1)
    x, y = bundle.train.tensors
    repeats = sum(len(set(decode(row[1:]).split("|")[0][0::2])) < 12 for row in x)
    assert repeats == x.shape[0]  # 12 keys from 4: every row repeats one
    assert answer_accuracy(oracle_logits(bundle, "train", "mqar"), y) == (1.0, 1.0)
    # the first value written would be wrong somewhere: last-write-wins is what the targets hold
    first_wrong = 0
    for r in range(x.shape[0]):
        ctx = decode(x[r, 1:]).split("|")[0]
        first = {}
        for k, v in zip(ctx[0::2], ctx[1::2]):
            first.setdefault(k, v)
        for p in (y[r] != IGNORE).nonzero().flatten().tolist():
            first_wrong += first[chr(int(x[r, p]))] != chr(int(y[r, p]))
    assert first_wrong > 0
    kv = lc.kv_retrieval(n_samples=40, seq_len=64, key_len=1, unique_keys=False, n_queries=3, seed=2)
    assert answer_accuracy(oracle_logits(kv, "train", "kv"), kv.train.tensors[1]) == (1.0, 1.0)


def test_seeds_reproduce_and_val_length_leaves_train_unchanged():
    for make in (lc.mqar, lc.kv_retrieval):
        a, b, c = (make(n_samples=20, seed=s) for s in (0, 0, 1))
        for split in ("train", "val"):
            assert all(
                torch.equal(u, v) for u, v in zip(getattr(a, split).tensors, getattr(b, split).tensors)
            )
        assert not torch.equal(a.train.tensors[0], c.train.tensors[0])
        longer = make(n_samples=20, seed=0, val_seq_len=128)
        assert torch.equal(longer.train.tensors[0], a.train.tensors[0])
        assert longer.val.tensors[0].shape[1] == 128 and a.val.tensors[0].shape[1] == 64
        assert len(a.train) == 16 and len(a.val) == 4


def test_bad_parameters():
    with pytest.raises(ParamError, match="seq_len"):
        lc.mqar(seq_len=20, n_pairs=8, n_queries=8)
    with pytest.raises(ParamError, match="val_seq_len"):
        lc.mqar(seq_len=64, n_pairs=8, n_queries=8, val_seq_len=16)
    with pytest.raises(ParamError, match="n_pairs"):
        lc.mqar(n_pairs=10, n_keys=8)
    with pytest.raises(ParamError, match="n_queries"):
        lc.mqar(n_pairs=4, n_queries=5)
    with pytest.raises(ParamError, match="seq_len"):
        lc.kv_retrieval(seq_len=16, n_pairs=4)


def test_long_context_api_is_frozen():
    assert str(inspect.signature(lc.mqar)) == (
        "(n_samples: 'int' = 1024, seq_len: 'int' = 64, n_pairs: 'int' = 8, n_queries: 'int' = 8, "
        "n_keys: 'int' = 52, n_values: 'int' = 34, unique_keys: 'bool' = True, val_seq_len: 'int | None' = None, "
        "val_n_pairs: 'int | None' = None, val_n_queries: 'int | None' = None, val_fraction: 'float' = 0.2, "
        "seed: 'int' = 0) -> 'DataBundle'"
    )
    assert str(inspect.signature(lc.kv_retrieval)) == (
        "(n_samples: 'int' = 1024, seq_len: 'int' = 64, key_len: 'int' = 3, value_len: 'int' = 3, "
        "n_pairs: 'int | None' = None, n_queries: 'int' = 1, unique_keys: 'bool' = True, "
        "val_seq_len: 'int | None' = None, val_fraction: 'float' = 0.2, seed: 'int' = 0) -> 'DataBundle'"
    )
    assert (lc.MQAR_KEYS, lc.MQAR_VALUES, lc.FILLER, lc.SEPARATOR) == (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789!#$%&()*+-/:;<>?@[]^_{}~", ".", "|",
    )  # fmt: skip
    for name, target in (("tinylm_mqar", "mqar"), ("tinylm_kv_retrieval", "kv_retrieval")):
        assert paperzoo.get(name, "dataset").target == f"paperzoo_tinylm.long_context:{target}"
    assert paperzoo.get("tinylm_linear_attention", "layer").target == (
        "paperzoo_tinylm.linear_attention:LinearAttention"
    )
