"""Semantic units and their permutation: the data transformation of SPT (Guo et al., 2024).

A sequence of token ids holds *runs* of ordinary tokens (bytes, ids below 256) between special tokens
(``<bos>``, ``<eos>``, padding, ...). Each run (a sentence) is split into *units* that cover it exactly:

- ``phrases``: the words of a run (a word is its leading spaces and the bytes up to the next space) are
  matched greedily, longest first, against a phrase lexicon (entities and relation phrases: the "given
  spans" that stand in for the paper's assistant-LM chunker); a word that starts no phrase is its own unit;
- ``words``: every word is a unit (word-level permutation, which splits multi-word entities);
- ``tokens``: every token is a unit (token-level permutation).

A permutation moves whole units: ``keep`` leaves the order, ``reverse`` reverses the units of every run,
``shuffle`` draws a uniformly random order of the units of every run. Special tokens never move, so the
sequence length, the padding and the multiset of units are preserved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from paperzoo_tinylm.transforms import SPECIAL_START  # special ids (padding, <bos>, ...) never move

SPACE = 0x20
LEVELS = ("phrases", "words", "tokens")
MODES = ("keep", "reverse", "shuffle")


def words_of(tokens: Sequence[int]) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the words of a run of bytes: leading spaces, then up to the next space."""
    spans, start, n = [], 0, len(tokens)
    while start < n:
        end = start
        while end < n and tokens[end] == SPACE:
            end += 1
        while end < n and tokens[end] != SPACE:
            end += 1
        spans.append((start, end))
        start = end
    return spans


@dataclass(frozen=True)
class Lexicon:
    """A phrase lexicon: each phrase (bytes or text) is a sequence of words kept together as one unit."""

    phrases: frozenset[tuple[bytes, ...]] = field(default_factory=frozenset)
    longest: int = 0

    @classmethod
    def of(cls, phrases: Iterable[str | bytes]) -> Lexicon:
        """The lexicon of ``phrases`` (text is UTF-8 encoded; surrounding spaces are part of the words)."""
        keyed = set()
        for p in phrases:
            raw = p.encode("utf-8") if isinstance(p, str) else bytes(p)
            if not raw.strip():
                raise ValueError(f"phrase {p!r} is empty")
            keyed.add(tuple(raw[s:e].strip(b" ") for s, e in words_of(list(raw))))
        return cls(frozenset(keyed), max((len(k) for k in keyed), default=0))


def unit_spans(
    tokens: Sequence[int], level: str = "words", lexicon: Lexicon | None = None
) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans of the units of one run of ordinary tokens, in order, covering it."""
    if level == "tokens":
        return [(i, i + 1) for i in range(len(tokens))]
    words = words_of(tokens)
    if level == "words":
        return words
    if level != "phrases" or lexicon is None:
        raise ValueError(f"level {level!r} needs one of {LEVELS} (phrases with a lexicon)")
    keys = [bytes(tokens[s:e]).strip(b" ") for s, e in words]
    spans, i = [], 0
    while i < len(words):
        size = 1
        for k in range(min(lexicon.longest, len(words) - i), 1, -1):
            if tuple(keys[i : i + k]) in lexicon.phrases:
                size = k
                break
        spans.append((words[i][0], words[i + size - 1][1]))
        i += size
    return spans


def runs_of(row: Sequence[int]) -> list[tuple[int, int]]:
    """``(start, end)`` of every maximal run of ordinary tokens (ids below 256) in ``row``."""
    runs, start = [], None
    for i, t in enumerate(row):
        if t < SPECIAL_START and start is None:
            start = i
        elif t >= SPECIAL_START and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(row)))
    return runs


def order_of_row(
    row: Sequence[int],
    mode: str,
    level: str = "words",
    lexicon: Lexicon | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """The gather index that permutes the units of ``row`` by ``mode``: ``row[order]`` is the new row."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}; accepted: {MODES}")
    order = list(range(len(row)))
    if mode == "keep":
        return order
    for start, end in runs_of(row):
        spans = unit_spans(row[start:end], level, lexicon)
        if mode == "reverse":
            picked = spans[::-1]
        else:
            picked = [spans[i] for i in torch.randperm(len(spans), generator=generator).tolist()]
        order[start:end] = [start + j for s, e in picked for j in range(s, e)]
    return order


def permute_units(
    ids: torch.Tensor,
    modes: Sequence[str],
    level: str = "words",
    lexicon: Lexicon | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The ``[B, T]`` gather index that permutes the units of each row of ``ids`` by its mode.

    Apply it with ``ids.gather(1, index)`` (and the same to any per-token tensor that moves with its
    token, such as a loss mask). Rows in mode ``keep`` get the identity.
    """
    if ids.dim() != 2:
        raise ValueError(f"ids must be [B, T], got {tuple(ids.shape)}")
    if len(modes) != ids.shape[0]:
        raise ValueError(f"{len(modes)} modes for {ids.shape[0]} rows")
    rows = ids.tolist()
    index = [order_of_row(r, m, level, lexicon, generator) for r, m in zip(rows, modes)]
    return torch.tensor(index, dtype=torch.long, device=ids.device).reshape(ids.shape)


def draw_modes(
    n: int, p_reverse: float, p_shuffle: float, generator: torch.Generator | None = None
) -> list[str]:
    """``n`` modes drawn independently: ``reverse`` with ``p_reverse``, ``shuffle`` with ``p_shuffle``,
    ``keep`` otherwise (one uniform draw per row, whatever the probabilities)."""
    u = torch.rand(n, generator=generator).tolist()
    return ["reverse" if v < p_reverse else "shuffle" if v < p_reverse + p_shuffle else "keep" for v in u]
