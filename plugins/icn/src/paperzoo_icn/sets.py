"""``icn_member_sets``: a synthetic "name another member of set S" task whose rows include explored
lists in context.

``n_sets`` sets of ``set_size`` distinct lowercase letters are drawn by ``seed`` (sets may share
letters). A row is ``<bos>S<id>=m_1,m_2,...,m_n,<eos>``: every member of set ``<id>`` once, in a random
order, each closed by ``,``; the targets are every token after ``=`` (members, commas and the end), so a
model learns, for any explored prefix, to name a member not yet listed. The question of a row is
``<bos>S<id>=``; its reference answers are the set's members.
"""

from __future__ import annotations

import random

from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tasks import LOWER, Example, to_tensors
from paperzoo_tinylm.tokenizer import BOS, EOS, VOCAB_SIZE
from torch.utils.data import TensorDataset

SEP = ord(",")


def make_sets(n_sets: int, set_size: int, seed: int = 0) -> list[str]:
    """``n_sets`` sets of ``set_size`` distinct letters, each as a string in drawing order."""
    rng = random.Random(seed)
    return ["".join(rng.sample(LOWER, set_size)) for _ in range(n_sets)]


def question(set_id: int) -> list[int]:
    """``<bos>S<id>=`` as token ids."""
    return [BOS, *f"S{set_id}=".encode("ascii")]


def member_row(set_id: int, members: str) -> Example:
    """One row listing ``members`` in the given order, the listed part flagged as answer tokens."""
    q = question(set_id)
    listed = [t for m in members for t in (ord(m), SEP)] + [EOS]
    return q + listed, [False] * len(q) + [True] * len(listed)


def member_sets(
    n_sets: int = 8, set_size: int = 6, n_samples: int = 2048, val_fraction: float = 0.2, seed: int = 0
):
    """The bundle (train and validation rows are independent random orders of the same sets)."""
    if not 1 <= n_sets <= 10:
        raise ParamError("n_sets", f"got {n_sets}; accepted: from 1 to 10 (one digit per set)")
    if not 1 <= set_size <= len(LOWER):
        raise ParamError("set_size", f"got {set_size}; accepted: from 1 to {len(LOWER)}")
    if n_samples < 2:
        raise ParamError("n_samples", f"got {n_samples}; accepted: at least 2")
    if not 0.0 < val_fraction < 1.0:
        raise ParamError("val_fraction", f"got {val_fraction}; accepted: a fraction strictly between 0 and 1")
    sets = make_sets(n_sets, set_size, seed)
    rng = random.Random(seed + 1)
    rows = []
    for _ in range(n_samples):
        i = rng.randrange(n_sets)
        rows.append(member_row(i, "".join(rng.sample(sets[i], set_size))))
    n_val = min(n_samples - 1, max(1, round(n_samples * val_fraction)))
    x, y = to_tensors(rows)
    n = n_samples - n_val
    return DataBundle(
        TensorDataset(x[:n], y[:n]),
        TensorDataset(x[n:], y[n:]),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(x.shape[1],),
        name="icn_member_sets",
    )
