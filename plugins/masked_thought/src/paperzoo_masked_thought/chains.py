"""Multi-step addition with a written chain of thought: the synthetic task of the claim test.

``<bos>4+7+2+9=11,13,22<eos>``: ``n_terms`` numbers below ``high``; the response is the running sums
after each addition (the reasoning steps), the last of which is the final answer. The response (chain
and ``<eos>``) is what SFT trains on; the question is only read.
"""

from __future__ import annotations

import random

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import BOS, EOS, PAD, VOCAB_SIZE, decode_bytes
from torch.utils.data import TensorDataset

IGNORE = -100


def chain_example(terms: list[int]) -> tuple[str, str]:
    """``(question, response)`` for ``terms``: ``"4+7+2+9="``, ``"11,13,22"``."""
    sums, total = [], terms[0]
    for t in terms[1:]:
        total += t
        sums.append(str(total))
    return "+".join(map(str, terms)) + "=", ",".join(sums)


def encode_example(question: str, response: str) -> tuple[list[int], list[bool]]:
    """Token ids ``<bos> question response <eos>`` and the response flags (response and ``<eos>``)."""
    q, r = question.encode("ascii"), response.encode("ascii")
    return [BOS, *q, *r, EOS], [False] * (1 + len(q)) + [True] * (len(r) + 1)


def draw_terms(rng: random.Random, n: int, n_terms: int, high: int) -> list[list[int]]:
    return [[rng.randrange(high) for _ in range(n_terms)] for _ in range(n)]


def to_bundle_tensors(examples: list[tuple[list[int], list[bool]]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``seq[:-1]`` and response-only targets ``seq[1:]`` (``IGNORE`` elsewhere), right-padded."""
    width = max(len(t) for t, _ in examples)
    seq = torch.tensor([t + [PAD] * (width - len(t)) for t, _ in examples], dtype=torch.long)
    keep = torch.tensor([f + [False] * (width - len(f)) for _, f in examples], dtype=torch.bool)
    return seq[:, :-1], torch.where(keep[:, 1:], seq[:, 1:], IGNORE)


def addition_chains(
    n_train: int = 512, n_val: int = 512, n_terms: int = 4, high: int = 10, seed: int = 0
) -> DataBundle:
    """The chains as a ``language_modeling`` bundle; validation questions never occur in training."""
    for name, value, low in (
        ("n_train", n_train, 1),
        ("n_val", n_val, 1),
        ("n_terms", n_terms, 2),
        ("high", high, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    if high**n_terms < n_train + n_val:
        raise ParamError(
            "n_train", f"{n_train} + n_val {n_val} exceed the {high**n_terms} distinct questions"
        )
    rng, seen, terms = random.Random(seed), set(), []
    while len(terms) < n_train + n_val:
        t = draw_terms(rng, 1, n_terms, high)[0]
        if tuple(t) not in seen:
            seen.add(tuple(t))
            terms.append(t)
    x, y = to_bundle_tensors([encode_example(*chain_example(t)) for t in terms])
    return DataBundle(
        TensorDataset(x[:n_train], y[:n_train]),
        TensorDataset(x[n_train:], y[n_train:]),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(x.shape[1],),
        name="masked_thought_chains",
    )


def final_answer(ids: list[int]) -> str:
    """The last comma-separated field of a generated response (up to ``<eos>``)."""
    if EOS in ids:
        ids = ids[: ids.index(EOS)]
    return decode_bytes(ids).decode("ascii", errors="replace").split(",")[-1]
