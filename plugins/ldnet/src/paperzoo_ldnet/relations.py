"""A synthetic relation-extraction task with multi-target instructions (the claim's task).

Row layout: ``<bos> sentence <eos> l_1 ... l_k <pad>...``. The sentence holds ``n_words`` tokens: filler
words, and for each planted relation of type ``r`` the triple ``head r-trigger tail`` (entity tokens
around the relation's trigger token), plus triples of relations the instruction does not list. The
instruction lists every gold relation and ``n_distractors`` negative relation labels, shuffled. Targets
``[T, 2]``: at each label token, the positions of its relation's head and tail entity, or ``(NULL, NULL)``
(position 0, the ``<bos>``) for a negative label; ``IGNORE`` elsewhere. Token ids (all bytes, < 256):
entities ``0..59``, filler ``60..119``, triggers ``120 + r``, labels ``LABEL_BASE + r``.
"""

from __future__ import annotations

import random

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import BOS, EOS, PAD, VOCAB_SIZE
from paperzoo_tinylm.transforms import IGNORE
from torch.utils.data import TensorDataset

N_ENTITIES, FILLER_BASE, TRIGGER_BASE, LABEL_BASE = 60, 60, 120, 184
MAX_RELATIONS = 256 - LABEL_BASE  # 72
NULL = 0  # the pointer value of "no triple": the <bos> position


def make_row(
    rng: random.Random, n_relations: int, n_words: int, n_gold: int, n_distractors: int, n_other: int
) -> tuple[list[int], list[list[int]]]:
    """One row's ids and ``[T, 2]`` targets (unpadded)."""
    rels = rng.sample(range(n_relations), n_gold + n_other)
    gold = rels[:n_gold]
    words = [FILLER_BASE + rng.randrange(60) for _ in range(n_words)]
    starts = rng.sample(range(n_words // 3), len(rels))
    where: dict[int, tuple[int, int]] = {}
    for r, s in zip(rels, starts):
        i = 3 * s
        words[i : i + 3] = [rng.randrange(N_ENTITIES), TRIGGER_BASE + r, rng.randrange(N_ENTITIES)]
        where[r] = (1 + i, 1 + i + 2)  # positions in the row (after <bos>)
    negatives = [r for r in range(n_relations) if r not in gold]
    labels = gold + rng.sample(negatives, min(n_distractors, len(negatives)))
    rng.shuffle(labels)
    ids = [BOS, *words, EOS, *(LABEL_BASE + r for r in labels)]
    targets = [[IGNORE, IGNORE]] * (n_words + 2) + [
        list(where[r]) if r in gold else [NULL, NULL] for r in labels
    ]
    return ids, targets


def make_split(
    n: int,
    rng: random.Random,
    n_relations: int,
    n_words: int,
    n_distractors: int,
    max_gold: int,
    n_other: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` rows, right-padded to a common width: ids ``[n, T]`` and targets ``[n, T, 2]``."""
    rows = [
        make_row(rng, n_relations, n_words, rng.randint(1, max_gold), n_distractors, n_other)
        for _ in range(n)
    ]
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((n, width), PAD, dtype=torch.long)
    targets = torch.full((n, width, 2), IGNORE, dtype=torch.long)
    for k, (i, t) in enumerate(rows):
        ids[k, : len(i)] = torch.tensor(i)
        targets[k, : len(t)] = torch.tensor(t)
    return ids, targets


def relation_task(
    n_train: int = 2048,
    n_val: int = 512,
    n_relations: int = 24,
    n_words: int = 18,
    n_distractors: int = 23,
    val_distractors: int | None = None,
    max_gold: int = 2,
    n_other: int = 1,
    seed: int = 0,
) -> DataBundle:
    """The task as a bundle of ``(ids, targets)`` (``val_distractors`` defaults to ``n_distractors``)."""
    checks = (("n_train", n_train, 1), ("n_val", n_val, 1), ("n_relations", n_relations, 2),
              ("n_words", n_words, 3), ("n_distractors", n_distractors, 0), ("max_gold", max_gold, 1),
              ("n_other", n_other, 0))  # fmt: skip
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    if n_relations > MAX_RELATIONS:
        raise ParamError("n_relations", f"{n_relations}; accepted: at most {MAX_RELATIONS}")
    if max_gold + n_other > min(n_words // 3, n_relations):
        raise ParamError("max_gold", f"{max_gold} + n_other {n_other} triples do not fit {n_words} words")
    rng = random.Random(seed)
    x, y = make_split(n_train, rng, n_relations, n_words, n_distractors, max_gold, n_other)
    vd = n_distractors if val_distractors is None else val_distractors
    xv, yv = make_split(n_val, rng, n_relations, n_words, vd, max_gold, n_other)
    return DataBundle(
        TensorDataset(x, y),
        TensorDataset(xv, yv),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(x.shape[1],),
        name="ldnet_relations",
    )


def relation_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the head and tail pointers over the label slots (float32)."""
    return torch.nn.functional.cross_entropy(
        logits.float().flatten(0, 2), targets.flatten(), ignore_index=IGNORE
    )


def relation_counts(logits: torch.Tensor, targets: torch.Tensor) -> tuple[int, int, int]:
    """``(true positives, false positives, false negatives)`` of the decoded triples: a slot predicts a
    triple unless its head pointer is ``NULL``; a triple is right when both pointers are."""
    slot = targets[..., 0] != IGNORE
    pred = logits.argmax(-1)  # [B, T, 2]
    has_pred = slot & (pred[..., 0] != NULL)
    has_gold = slot & (targets[..., 0] != NULL)
    exact = (pred == targets).all(-1)
    tp = int((has_pred & has_gold & exact).sum())
    return tp, int(has_pred.sum()) - tp, int(has_gold.sum()) - tp


def f1_of(tp: int, fp: int, fn: int) -> float:
    """``2 tp / (2 tp + fp + fn)`` (0 when there is nothing to find and nothing found)."""
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
