"""Synthetic language-modelling tasks with exact answers, as ``dataset`` components.

Every example is one token sequence ``<bos> question answer <eos>`` in the kit tokenizer's ids, written
with printable bytes so that :func:`paperzoo_tinylm.tokenizer.decode` shows it as text, e.g.
``<bos>dbca=abcd<eos>`` (sorting). A bundle holds inputs ``seq[:-1]`` and targets ``seq[1:]`` in which
only the answer tokens are kept: every other target is ``IGNORE = -100`` (cross-entropy's
``ignore_index``), so the default loss trains on the answers only. Sequences shorter than the
longest (only ``tinylm_pcfg`` has varying lengths) are padded on the right with ``PAD`` inputs and
``IGNORE`` targets. Examples are drawn with ``random.Random(seed)``: the same seed gives the same
bundle. Train and validation examples are drawn independently (they may coincide where a task's space
is small), except in ``tinylm_modular_arithmetic``, which splits the table of all ``p * p`` equations.

:func:`answer_accuracy` scores a model on the answers (a whole answer counts only when every one of
its tokens is right).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset

from .tokenizer import BOS, EOS, PAD, VOCAB_SIZE

IGNORE = -100
LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
SYMBOLS = LOWER + UPPER  # alphabet of copy, reversal, sorting and counting
VALUES = UPPER + DIGITS  # values of associative recall (keys are lowercase letters)

# One example: its tokens, and whether each token is part of the answer.
Example = tuple[list[int], list[bool]]


def _example(question: str, answer: str) -> Example:
    """``<bos> question answer <eos>``, answer tokens flagged."""
    tokens = [BOS, *question.encode("ascii"), *answer.encode("ascii"), EOS]
    flags = [False] * (1 + len(question)) + [True] * len(answer) + [False]
    return tokens, flags


def to_tensors(examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``seq[:-1]`` and answer-only targets ``seq[1:]`` (``IGNORE`` elsewhere), right-padded."""
    width = max(len(tokens) for tokens, _ in examples)
    seq = torch.tensor([tokens + [PAD] * (width - len(tokens)) for tokens, _ in examples], dtype=torch.long)
    keep = torch.tensor([flags + [False] * (width - len(flags)) for _, flags in examples], dtype=torch.bool)
    return seq[:, :-1], torch.where(keep[:, 1:], seq[:, 1:], IGNORE)


def _bundle(train: list[Example], val: list[Example], name: str) -> DataBundle:
    x, y = to_tensors(train + val)  # one width for both splits
    n = len(train)
    return DataBundle(
        TensorDataset(x[:n], y[:n]),
        TensorDataset(x[n:], y[n:]),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(x.shape[1],),
        name=name,
    )


def _draw(
    make: Callable[[random.Random], Example], n_samples: int, val_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    _check_counts(n_samples=(n_samples, 2))
    if not 0.0 < val_fraction < 1.0:
        raise ParamError("val_fraction", f"got {val_fraction}; accepted: a fraction strictly between 0 and 1")
    n_val = min(n_samples - 1, max(1, round(n_samples * val_fraction)))
    rng = random.Random(seed)
    examples = [make(rng) for _ in range(n_samples)]
    return examples[: n_samples - n_val], examples[n_samples - n_val :]


def _check_counts(**bounds: tuple[int, int] | tuple[int, int, int]) -> None:
    """``name=(value, low)`` or ``name=(value, low, high)``: ParamError outside ``[low, high]``."""
    for name, (value, low, *high) in bounds.items():
        if value < low or (high and value > high[0]):
            accepted = f"from {low} to {high[0]}" if high else f"at least {low}"
            raise ParamError(name, f"got {value}; accepted: {accepted}")


def copy(
    n_samples: int = 2048, length: int = 8, n_symbols: int = 16, val_fraction: float = 0.2, seed: int = 0
):
    """``<bos>kdjw=kdjw<eos>``: repeat ``length`` symbols drawn from the first ``n_symbols`` letters."""
    _check_counts(length=(length, 1), n_symbols=(n_symbols, 1, len(SYMBOLS)))

    def make(rng: random.Random) -> Example:
        s = "".join(rng.choice(SYMBOLS[:n_symbols]) for _ in range(length))
        return _example(s + "=", s)

    return _bundle(*_draw(make, n_samples, val_fraction, seed), "tinylm_copy")


def reversal(
    n_samples: int = 2048, length: int = 8, n_symbols: int = 16, val_fraction: float = 0.2, seed: int = 0
):
    """``<bos>kdjw=wjdk<eos>``: the symbols in reverse order."""
    _check_counts(length=(length, 1), n_symbols=(n_symbols, 1, len(SYMBOLS)))

    def make(rng: random.Random) -> Example:
        s = "".join(rng.choice(SYMBOLS[:n_symbols]) for _ in range(length))
        return _example(s + "=", s[::-1])

    return _bundle(*_draw(make, n_samples, val_fraction, seed), "tinylm_reversal")


def sorting(
    n_samples: int = 2048, length: int = 8, n_symbols: int = 16, val_fraction: float = 0.2, seed: int = 0
):
    """``<bos>dbcab=abbcd<eos>``: the symbols (repeats allowed) in ascending byte order."""
    _check_counts(length=(length, 1), n_symbols=(n_symbols, 1, len(SYMBOLS)))

    def make(rng: random.Random) -> Example:
        s = "".join(rng.choice(SYMBOLS[:n_symbols]) for _ in range(length))
        return _example(s + "=", "".join(sorted(s)))

    return _bundle(*_draw(make, n_samples, val_fraction, seed), "tinylm_sorting")


def associative_recall(
    n_samples: int = 2048,
    n_pairs: int = 8,
    n_queries: int = 4,
    n_keys: int = 26,
    n_values: int = 36,
    val_fraction: float = 0.2,
    seed: int = 0,
):
    """Multi-query associative recall: ``<bos>a4cXbQ|bQa4<eos>``. ``n_pairs`` key-value pairs (distinct
    keys from the first ``n_keys`` lowercase letters, values from the first ``n_values`` of ``A-Z0-9``),
    ``|``, then ``n_queries`` distinct keys of the context, each followed by its value (the answers)."""
    _check_counts(
        n_keys=(n_keys, 1, len(LOWER)),
        n_values=(n_values, 1, len(VALUES)),
        n_pairs=(n_pairs, 1, n_keys),
        n_queries=(n_queries, 1, n_pairs),
    )

    def make(rng: random.Random) -> Example:
        keys = rng.sample(LOWER[:n_keys], n_pairs)
        values = [rng.choice(VALUES[:n_values]) for _ in keys]
        context = "".join(k + v for k, v in zip(keys, values)) + "|"
        tokens, flags = [BOS, *context.encode("ascii")], [False] * (1 + len(context))
        for i in rng.sample(range(n_pairs), n_queries):
            tokens += [ord(keys[i]), ord(values[i])]
            flags += [False, True]
        return tokens + [EOS], flags + [False]

    return _bundle(*_draw(make, n_samples, val_fraction, seed), "tinylm_associative_recall")


def counting(
    n_samples: int = 2048, length: int = 12, n_symbols: int = 4, val_fraction: float = 0.2, seed: int = 0
):
    """``<bos>abacdb?a=03<eos>``: how often the queried symbol occurs in the ``length`` symbols, in two
    decimal digits. The queried symbol is drawn from the alphabet (it may occur zero times)."""
    _check_counts(length=(length, 1, 99), n_symbols=(n_symbols, 1, len(SYMBOLS)))

    def make(rng: random.Random) -> Example:
        alphabet = SYMBOLS[:n_symbols]
        s = "".join(rng.choice(alphabet) for _ in range(length))
        query = rng.choice(alphabet)
        return _example(f"{s}?{query}=", f"{s.count(query):02d}")

    return _bundle(*_draw(make, n_samples, val_fraction, seed), "tinylm_counting")


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


MOD_OPS: dict[str, Callable[[int, int, int], int]] = {
    "+": lambda a, b, p: (a + b) % p,
    "-": lambda a, b, p: (a - b) % p,
    "*": lambda a, b, p: (a * b) % p,
    "/": lambda a, b, p: (a * pow(b, p - 2, p)) % p,  # b^-1 = b^(p-2) mod a prime p (Fermat)
}


def modular_arithmetic(modulus: int = 97, op: str = "+", train_fraction: float = 0.5, seed: int = 0):
    """``<bos>17+85=05<eos>`` (``modulus = 97``): ``a op b mod p`` for every pair ``0 <= a, b < p``
    (``b != 0`` for ``/``, which needs a prime ``p``), operands and result in fixed-width decimal. The
    table is shuffled with ``seed`` and split: ``train_fraction`` for training, the rest for validation
    (disjoint, as in the grokking experiments of Power et al., 2022)."""
    _check_counts(modulus=(modulus, 2, 9999))
    if op not in MOD_OPS:
        raise ParamError("op", f"got {op!r}; accepted: one of {sorted(MOD_OPS)}")
    if op == "/" and not _is_prime(modulus):
        raise ParamError("modulus", f"{modulus} is not prime; accepted: a prime modulus for op '/'")
    if not 0.0 < train_fraction < 1.0:
        raise ParamError(
            "train_fraction", f"got {train_fraction}; accepted: a fraction strictly between 0 and 1"
        )
    width = len(str(modulus - 1))
    pairs = [(a, b) for a in range(modulus) for b in range(modulus) if not (op == "/" and b == 0)]
    random.Random(seed).shuffle(pairs)
    examples = [
        _example(f"{a:0{width}d}{op}{b:0{width}d}=", f"{MOD_OPS[op](a, b, modulus):0{width}d}")
        for a, b in pairs
    ]
    n_train = min(len(examples) - 1, max(1, round(len(examples) * train_fraction)))
    return _bundle(examples[:n_train], examples[n_train:], "tinylm_modular_arithmetic")


RULE_PROBABILITIES = {"E+T": 0.5, "T*F": 0.5, "(E)": 0.3}


def pcfg_expression(rng: random.Random, max_depth: int) -> str:
    """One string of the grammar ``E -> E+T (0.5) | T``, ``T -> T*F (0.5) | F``, ``F -> (E) (0.3) |
    digit`` (uniform digits); rules nest at most ``max_depth`` deep, past which only the last
    alternative is taken."""
    p = RULE_PROBABILITIES

    def expr(depth: int) -> str:
        if depth < max_depth and rng.random() < p["E+T"]:
            return expr(depth + 1) + "+" + term(depth + 1)
        return term(depth)

    def term(depth: int) -> str:
        if depth < max_depth and rng.random() < p["T*F"]:
            return term(depth + 1) + "*" + factor(depth + 1)
        return factor(depth)

    def factor(depth: int) -> str:
        if depth < max_depth and rng.random() < p["(E)"]:
            return "(" + expr(depth + 1) + ")"
        return rng.choice(DIGITS)

    return expr(0)


def pcfg_value(expression: str) -> int:
    """The value mod 10 of a grammar string, by recursive descent (``*`` before ``+``)."""
    pos = 0

    def expr() -> int:
        nonlocal pos
        value = term()
        while pos < len(expression) and expression[pos] == "+":
            pos += 1
            value = (value + term()) % 10
        return value

    def term() -> int:
        nonlocal pos
        value = factor()
        while pos < len(expression) and expression[pos] == "*":
            pos += 1
            value = (value * factor()) % 10
        return value

    def factor() -> int:
        nonlocal pos
        char = expression[pos]
        pos += 1
        if char == "(":
            value = expr()
            pos += 1  # the closing bracket
            return value
        return int(char)

    return expr()


def pcfg(
    n_samples: int = 2048, max_depth: int = 4, min_length: int = 3, val_fraction: float = 0.2, seed: int = 0
):
    """``<bos>(3+4)*2=4<eos>``: an arithmetic expression drawn from a small probabilistic context-free
    grammar (:func:`pcfg_expression`), at least ``min_length`` characters long (shorter draws are
    redrawn), answered with its value mod 10. Lengths vary (right-padded)."""
    # 2 * max_depth + 1 characters are reachable (d+d+...+d); min_length may not ask for more.
    _check_counts(max_depth=(max_depth, 0, 8), min_length=(min_length, 1, 2 * max_depth + 1))

    def make(rng: random.Random) -> Example:
        e = pcfg_expression(rng, max_depth)
        while len(e) < min_length:
            e = pcfg_expression(rng, max_depth)
        return _example(e + "=", str(pcfg_value(e)))

    return _bundle(*_draw(make, n_samples, val_fraction, seed), "tinylm_pcfg")


@torch.no_grad()
def answer_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """``(token accuracy, exact-match accuracy)`` of teacher-forced predictions ``logits.argmax(-1)`` on
    the answer targets (those not ``IGNORE``); an example counts as exact when all its answer tokens are
    right."""
    scored = targets != IGNORE
    right = (logits.argmax(-1) == targets) & scored
    tokens = float(right.sum()) / max(1, int(scored.sum()))
    exact = float(((right | ~scored).all(dim=1)).float().mean())
    return tokens, exact
