"""The synthetic tasks: every answer recomputed from the decoded question, independently of the
generator; targets are the inputs shifted by one with only answers kept; seeds reproduce."""

from collections import Counter

import pytest
import torch
from paperzoo.errors import ParamError

from paperzoo_tinylm import tasks
from paperzoo_tinylm.tokenizer import BOS, EOS, PAD, decode

N = 300


def examples(bundle, split="train"):
    """``(question, answer)`` strings of every example, read back from the tensors."""
    x, y = getattr(bundle, split).tensors
    out = []
    for inputs, targets in zip(x, y):
        assert int(inputs[0]) == BOS
        scored = targets != tasks.IGNORE
        # targets are inputs shifted by one wherever they are kept
        assert torch.equal(targets[:-1][scored[:-1]], inputs[1:][scored[:-1]])
        text = decode(inputs[1:], skip_special=True)
        answer = decode(targets[scored])
        # the answer is followed by <eos> (the last token, not an input, in the longest rows), then padding
        after = inputs[int(scored.nonzero()[-1]) + 2 :].tolist()
        assert after[:1] in ([], [EOS]) and set(after[1:]) <= {PAD}
        out.append((text, answer))
    return out


def test_copy_reversal_sorting():
    for make, rule in (
        (tasks.copy, lambda s: s),
        (tasks.reversal, lambda s: "".join(s[i] for i in range(len(s) - 1, -1, -1))),
        (tasks.sorting, None),
    ):
        bundle = make(n_samples=N, length=7, n_symbols=5, seed=1)
        for text, answer in examples(bundle) + examples(bundle, "val"):
            question, shown = text.split("=")
            assert shown == answer and len(question) == 7 and set(question) <= set("abcde")
            if rule is None:  # sorted: non-decreasing and a permutation of the question
                assert all(a <= b for a, b in zip(answer, answer[1:])) and Counter(answer) == Counter(
                    question
                )
            else:
                assert answer == rule(question)


def test_associative_recall_answers_each_query_with_its_value():
    bundle = tasks.associative_recall(n_samples=N, n_pairs=6, n_queries=3, n_keys=8, n_values=5, seed=2)
    for text, answer in examples(bundle):
        context, queries = text.split("|")
        keys, values = context[0::2], context[1::2]
        assert len(set(keys)) == 6 and set(keys) <= set("abcdefgh") and set(values) <= set("ABCDE")
        table = dict(zip(keys, values))
        asked = queries[0::2]
        assert len(set(asked)) == 3
        assert answer == "".join(table[k] for k in asked) == queries[1::2]


def test_counting():
    bundle = tasks.counting(n_samples=N, length=15, n_symbols=3, seed=3)
    counts = []
    for text, answer in examples(bundle):
        string, rest = text.split("?")
        symbol = rest[0]
        counts.append(sum(1 for c in string if c == symbol))
        assert answer == str(counts[-1]).zfill(2)
    assert len(set(counts)) > 5  # the answers vary


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_modular_arithmetic_covers_the_table_disjointly(op):
    p = 11
    bundle = tasks.modular_arithmetic(modulus=p, op=op, train_fraction=0.4, seed=4)
    seen = {}
    for split in ("train", "val"):
        for text, answer in examples(bundle, split):
            a, b = int(text[0:2]), int(text[3:5])
            assert text[2] == op and text[5:] == "=" + answer
            c = int(answer)
            if op == "/":
                assert b != 0 and (c * b) % p == a  # c = a / b: c * b = a (mod p)
            else:
                assert c == {"+": a + b, "-": a - b + p, "*": a * b}[op] % p
            assert (a, b) not in seen, "an equation appears twice"
            seen[(a, b)] = split
    assert len(seen) == p * p - (p if op == "/" else 0)
    assert round(len(bundle.train) / len(seen), 2) == 0.4


def test_pcfg_answers_are_the_python_values_mod_10():
    bundle = tasks.pcfg(n_samples=N, max_depth=4, seed=5)
    lengths = []
    for text, answer in examples(bundle):
        expression = text[: -1 - len(answer)]  # "<expression>=<answer>"
        assert text[len(expression)] == "=" and set(expression) <= set("0123456789+*()")
        assert int(answer) == eval(expression) % 10  # the string is digits, + * and brackets only
        lengths.append(len(expression))
    assert min(lengths) >= 3 and max(lengths) > 10


def test_pcfg_value_by_hand():
    assert tasks.pcfg_value("2+3*4") == 4  # 14
    assert tasks.pcfg_value("(2+3)*4") == 0  # 20
    assert tasks.pcfg_value("((7))*(9+1)") == 0


@pytest.mark.parametrize(
    "make", [tasks.copy, tasks.reversal, tasks.sorting, tasks.associative_recall, tasks.counting, tasks.pcfg]
)
def test_seeded_and_shaped(make):
    first, again, other = make(n_samples=40, seed=0), make(n_samples=40, seed=0), make(n_samples=40, seed=1)
    for split in ("train", "val"):
        for a, b in zip(getattr(first, split).tensors, getattr(again, split).tensors):
            assert torch.equal(a, b)
    assert not torch.equal(first.train.tensors[0], other.train.tensors[0])
    assert (len(first.train), len(first.val)) == (32, 8)
    assert first.task == "language_modeling" and first.vocab_size == 363


def test_answer_accuracy():
    targets = torch.tensor([[-100, 5, 6], [-100, 7, -100]])
    logits = torch.zeros(2, 3, 10)
    logits[0, 1, 5] = logits[0, 2, 1] = logits[1, 1, 7] = 1.0  # row 0: one of two right; row 1: right
    assert tasks.answer_accuracy(logits, targets) == (2 / 3, 0.5)


def test_bad_parameters():
    with pytest.raises(ParamError, match="n_queries"):
        tasks.associative_recall(n_pairs=4, n_queries=5)
    with pytest.raises(ParamError, match="modulus"):
        tasks.modular_arithmetic(modulus=12, op="/")
    with pytest.raises(ParamError, match="op"):
        tasks.modular_arithmetic(op="^")
    with pytest.raises(ParamError, match="n_symbols"):
        tasks.copy(n_symbols=53)
    with pytest.raises(ParamError, match="val_fraction"):
        tasks.sorting(val_fraction=1.0)
    with pytest.raises(ParamError, match="min_length"):
        tasks.pcfg(max_depth=1, min_length=4)
