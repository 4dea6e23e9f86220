"""Long-context recall tasks as ``dataset`` components, in the conventions of :mod:`paperzoo_tinylm.tasks`.

Every example is ``<bos> ... <eos>`` in the kit tokenizer's printable bytes, exactly ``seq_len + 1``
tokens (inputs ``seq[:-1]`` of ``seq_len`` tokens, targets ``seq[1:]``), and only answer tokens are
targets (every other target is ``IGNORE``). Gaps are filled with ``.``. Examples come from
``random.Random(seed)``: the training examples first, then the validation ones, so a validation split at
another length (``val_seq_len``, e.g. train at 64 and test at 256) leaves the training split unchanged.

* ``tinylm_mqar``: multi-query associative recall (Arora et al., 2023, "Zoology"): ``n_pairs``
  single-token key-value pairs, ``|``, then ``n_queries`` queried keys, each followed by its value (the
  answer), at random places among filler: ``<bos>a4c%b!|..b!...a4.<eos>``.
* ``tinylm_kv_retrieval``: key-value retrieval with multi-token keys and values: ``abc:123,`` pairs, as
  many as fit (or ``n_pairs``), then ``?abc=123`` queries: ``<bos>abc:123,qrs:905,...?qrs=905<eos>``.

Keys are distinct within a sequence unless ``unique_keys=False``; then a key may be written several times
and its answer is the value written last.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset

from .tasks import DIGITS, LOWER, UPPER, Example, _check_counts, to_tensors
from .tokenizer import BOS, EOS, VOCAB_SIZE

MQAR_KEYS = LOWER + UPPER  # 52 single-token keys
MQAR_VALUES = DIGITS + "!#$%&()*+-/:;<>?@[]^_{}~"  # 34 single-token values, disjoint from the keys
FILLER = "."
SEPARATOR = "|"


def _sequence(parts: list[tuple[str, bool]]) -> Example:
    """``<bos>`` + the parts (text, is-answer) + ``<eos>``."""
    tokens, flags = [BOS], [False]
    for text, answer in parts:
        tokens += list(text.encode("ascii"))
        flags += [answer] * len(text)
    return tokens + [EOS], flags + [False]


def _place(rng: random.Random, units: list[list[tuple[str, bool]]], room: int) -> list[tuple[str, bool]]:
    """``units`` in order at random places among filler so that the whole takes ``room`` characters."""
    used = sum(len(text) for unit in units for text, _ in unit)
    slots = room - used + len(units)  # filler characters plus units, each unit one slot
    where = set(rng.sample(range(slots), len(units)))
    parts, queue = [], iter(units)
    for slot in range(slots):
        parts += next(queue) if slot in where else [(FILLER, False)]
    return parts


def _splits(
    make: Callable[[random.Random, int, bool], Example],
    name: str,
    n_samples: int,
    val_fraction: float,
    seed: int,
) -> DataBundle:
    """Draw the training examples (``make(rng, train=True)``), then the validation ones, into a bundle."""
    _check_counts(n_samples=(n_samples, 2))
    if not 0.0 < val_fraction < 1.0:
        raise ParamError("val_fraction", f"got {val_fraction}; accepted: a fraction strictly between 0 and 1")
    n_val = min(n_samples - 1, max(1, round(n_samples * val_fraction)))
    rng = random.Random(seed)
    train = [make(rng, True) for _ in range(n_samples - n_val)]
    val = [make(rng, False) for _ in range(n_val)]
    (xt, yt), (xv, yv) = to_tensors(train), to_tensors(val)
    return DataBundle(
        TensorDataset(xt, yt),
        TensorDataset(xv, yv),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(xt.shape[1],),
        name=name,
    )


def _keys(rng: random.Random, pool: list[str] | str, n: int, unique: bool) -> list[str]:
    return rng.sample(list(pool), n) if unique else [rng.choice(pool) for _ in range(n)]


def mqar(
    n_samples: int = 1024,
    seq_len: int = 64,
    n_pairs: int = 8,
    n_queries: int = 8,
    n_keys: int = 52,
    n_values: int = 34,
    unique_keys: bool = True,
    val_seq_len: int | None = None,
    val_n_pairs: int | None = None,
    val_n_queries: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """Multi-query associative recall at ``seq_len`` input tokens: ``n_pairs`` pairs of a key (the first
    ``n_keys`` of ``a-zA-Z``) and a value (the first ``n_values`` of ``0-9`` and 24 punctuation marks),
    ``|``, then ``n_queries`` distinct pairs' keys, each followed by its value (the answer), in random
    order at random places among ``.`` filler. ``val_*`` (``None``: the training value) set the
    validation split's length and counts."""
    _check_counts(n_keys=(n_keys, 1, len(MQAR_KEYS)), n_values=(n_values, 1, len(MQAR_VALUES)))
    shapes = {}
    for split, (length, pairs, queries) in {
        True: (seq_len, n_pairs, n_queries),
        False: (
            seq_len if val_seq_len is None else val_seq_len,
            n_pairs if val_n_pairs is None else val_n_pairs,
            n_queries if val_n_queries is None else val_n_queries,
        ),
    }.items():
        prefix = "" if split else "val_"
        _check_counts(**{f"{prefix}n_pairs": (pairs, 1, n_keys if unique_keys else 10**9)})
        _check_counts(**{f"{prefix}n_queries": (queries, 1, pairs)})
        least = 2 * pairs + 2 + 2 * queries  # <bos>, pairs, |, queries (<eos> is the last target)
        _check_counts(**{f"{prefix}seq_len": (length, least)})
        shapes[split] = (length, pairs, queries)

    def make(rng: random.Random, train: bool) -> Example:
        length, pairs, queries = shapes[train]
        keys = _keys(rng, MQAR_KEYS[:n_keys], pairs, unique_keys)
        values = [rng.choice(MQAR_VALUES[:n_values]) for _ in keys]
        latest = dict(zip(keys, values))  # a key written twice answers with its last value
        context = [("".join(k + v for k, v in zip(keys, values)) + SEPARATOR, False)]
        asked = [keys[i] for i in rng.sample(range(pairs), queries)]
        units = [[(key, False), (latest[key], True)] for key in asked]
        return _sequence(context + _place(rng, units, length - 2 * pairs - 2))

    return _splits(make, "tinylm_mqar", n_samples, val_fraction, seed)


def kv_retrieval(
    n_samples: int = 1024,
    seq_len: int = 64,
    key_len: int = 3,
    value_len: int = 3,
    n_pairs: int | None = None,
    n_queries: int = 1,
    unique_keys: bool = True,
    val_seq_len: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """Key-value retrieval at ``seq_len`` input tokens: pairs ``key:value,`` (keys of ``key_len``
    lowercase letters, values of ``value_len`` digits), as many as fit (``n_pairs=None``; else that many
    and ``.`` filler after them), then ``n_queries`` queries ``?key=value`` of distinct pairs, the value
    being the answer. ``val_seq_len`` sets the validation split's length (with ``n_pairs=None`` its
    pair count grows with it)."""
    _check_counts(key_len=(key_len, 1, 8), value_len=(value_len, 1, 8), n_queries=(n_queries, 1))
    pair = key_len + value_len + 2  # key, ':', value, ','
    query = key_len + value_len + 2  # '?', key, '=', value
    if unique_keys:
        _check_counts(n_pairs=(n_pairs or 1, 1, 26**key_len))
    counts = {}
    for split, length in {True: seq_len, False: seq_len if val_seq_len is None else val_seq_len}.items():
        name = "seq_len" if split else "val_seq_len"
        room = length - 1 - n_queries * query  # <bos>, pairs, queries; <eos> is the last target
        fits = min(room // pair, 26**key_len if unique_keys else room)
        pairs = fits if n_pairs is None else n_pairs
        if pairs < n_queries or pairs > fits:
            least = 1 + n_queries * query + max(n_queries, n_pairs or 0) * pair
            raise ParamError(name, f"got {length}; accepted: at least {least} for these pairs and queries")
        counts[split] = (length, pairs)

    def word(rng: random.Random, alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    def make(rng: random.Random, train: bool) -> Example:
        length, pairs = counts[train]
        keys: list[str] = []
        while len(keys) < pairs:
            key = word(rng, LOWER, key_len)
            if not (unique_keys and key in keys):
                keys.append(key)
        values = [word(rng, DIGITS, value_len) for _ in keys]
        latest = dict(zip(keys, values))
        text = "".join(f"{k}:{v}," for k, v in zip(keys, values))
        parts = [(text + FILLER * (length - 1 - n_queries * query - len(text)), False)]
        for i in rng.sample(range(pairs), n_queries):
            parts += [(f"?{keys[i]}=", False), (latest[keys[i]], True)]
        return _sequence(parts)

    return _splits(make, "tinylm_kv_retrieval", n_samples, val_fraction, seed)
