"""Vocabulary extension of a byte-level tinylm encoder: new domain tokens beyond the existing vocabulary.

A :class:`DomainVocab` gives each domain word (a byte string) one new id, ``base_vocab_size + i``. The
old tokenization of the word is its bytes (its *sub-tokens*); :meth:`DomainVocab.retokenize` replaces
every occurrence of a word's bytes by its new id (leftmost-longest match, left to right) and reports where
each new token came from, so that the teacher (the old tokenization) and the student (the new one) can be
compared on the same text. :func:`extend_vocab` grows a model's embedding (and an untied head) by the new
rows, and :func:`init_new_rows` fills them by the two baselines (mean of sub-tokens, random).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from paperzoo_tinylm.tokenizer import PAD, VOCAB_SIZE


@dataclass(frozen=True)
class Occurrence:
    """One new token in a retokenized batch: row ``row``, position ``new_pos`` in the new ids, and the
    sub-token span ``old_start .. old_start + length - 1`` in the old ids; ``word`` indexes the vocab."""

    row: int
    new_pos: int
    old_start: int
    length: int
    word: int


class DomainVocab:
    """New tokens for domain words, numbered from ``base_vocab_size``.

    :param words: the domain words (``str`` are UTF-8 encoded), distinct and non-empty.
    :param base_vocab_size: the existing vocabulary (the kit tokenizer's 363 ids).
    """

    def __init__(self, words: Sequence[str | bytes], base_vocab_size: int = VOCAB_SIZE) -> None:
        encoded = [w.encode() if isinstance(w, str) else bytes(w) for w in words]
        if not encoded or any(len(w) == 0 for w in encoded):
            raise ValueError("words must be a non-empty list of non-empty strings")
        if len(set(encoded)) != len(encoded):
            raise ValueError("words must be distinct")
        self.words: list[bytes] = encoded
        self.base_vocab_size = int(base_vocab_size)
        # longest first, so that a word containing another is matched whole
        self._order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def vocab_size(self) -> int:
        """The extended vocabulary: ``base_vocab_size + len(words)``."""
        return self.base_vocab_size + len(self.words)

    def new_id(self, word: int) -> int:
        return self.base_vocab_size + word

    def subtokens(self, word: int) -> list[int]:
        """The old ids of word ``word`` (its bytes)."""
        return list(self.words[word])

    def retokenize_row(self, ids: Sequence[int]) -> tuple[list[int], list[tuple[int, int, int, int]]]:
        """One row: the new ids and ``(new_pos, old_start, length, word)`` per replaced occurrence."""
        ids = list(ids)
        out: list[int] = []
        occ: list[tuple[int, int, int, int]] = []
        i, n = 0, len(ids)
        while i < n:
            for w in self._order:
                sub = self.words[w]
                if ids[i] == sub[0] and tuple(ids[i : i + len(sub)]) == tuple(sub):
                    occ.append((len(out), i, len(sub), w))
                    out.append(self.new_id(w))
                    i += len(sub)
                    break
            else:
                out.append(ids[i])
                i += 1
        return out, occ

    def retokenize(self, ids: torch.Tensor, pad_id: int = PAD) -> tuple[torch.Tensor, list[Occurrence]]:
        """``ids [B, T]`` in the old vocabulary to ``[B, T]`` in the new one (right-padded with
        ``pad_id``: each replacement shortens its row by ``length - 1``) and the occurrences."""
        if ids.dim() != 2:
            raise ValueError(f"ids must be [B, T], got {tuple(ids.shape)}")
        rows, occs = [], []
        for b, row in enumerate(ids.tolist()):
            new, occ = self.retokenize_row(row)
            rows.append(new + [pad_id] * (ids.shape[1] - len(new)))
            occs += [Occurrence(b, p, s, n, w) for p, s, n, w in occ]
        return torch.tensor(rows, dtype=torch.long, device=ids.device).reshape(ids.shape), occs

    def detokenize(self, ids: Sequence[int]) -> list[int]:
        """New ids back to old ids (each new token to its bytes)."""
        out: list[int] = []
        for t in ids:
            out += self.subtokens(t - self.base_vocab_size) if t >= self.base_vocab_size else [t]
        return out


def _is_tied(model: torch.nn.Module) -> bool:
    return model.lm_head.weight is model.tok_embed.weight


@torch.no_grad()
def extend_vocab(model: torch.nn.Module, n_new: int) -> torch.nn.Module:
    """A copy of a tinylm model with ``n_new`` more token rows (embedding and head; a tied head stays
    tied). Existing rows are copied bitwise; the new rows are zero until :func:`init_new_rows`."""
    new = copy.deepcopy(model)
    old_w = model.tok_embed.weight
    v, d = old_w.shape
    new.tok_embed = torch.nn.Embedding(v + n_new, d, device=old_w.device, dtype=old_w.dtype)
    new.tok_embed.weight.zero_()
    new.tok_embed.weight[:v] = old_w
    if _is_tied(model):
        new.lm_head.weight = new.tok_embed.weight
    else:
        head = torch.nn.Linear(d, v + n_new, bias=model.lm_head.bias is not None, device=old_w.device)
        head = head.to(old_w.dtype)
        head.weight.zero_()
        head.weight[:v] = model.lm_head.weight
        if head.bias is not None:
            head.bias.zero_()
            head.bias[:v] = model.lm_head.bias
        new.lm_head = head
    new.config = copy.copy(model.config)
    new.config.vocab_size = v + n_new
    return new


@torch.no_grad()
def init_new_rows(
    model: torch.nn.Module,
    vocab: DomainVocab,
    method: str = "mean",
    std: float = 0.02,
    generator: torch.Generator | None = None,
    head: str | None = None,
) -> None:
    """Fill the new token rows in place.

    ``mean``: each new row is the mean of its sub-tokens' rows (embedding, and an untied head's weight and
    bias alike). ``random``: normal with standard deviation ``std`` (the model's init), drawn from
    ``generator`` (an untied head's new rows too; a bias gets zeros). ``head`` sets an untied head's new
    rows by another method than the embedding's (``None``: the same), so that inits of the embedding can
    be compared with the same output rows.
    """
    head = method if head is None else head
    if method not in ("mean", "random") or head not in ("mean", "random"):
        raise ValueError(f"method={method!r}, head={head!r}; accepted: 'mean', 'random'")
    emb = model.tok_embed.weight
    if emb.shape[0] < vocab.vocab_size:
        raise ValueError(f"the model has {emb.shape[0]} token rows; the vocabulary needs {vocab.vocab_size}")
    # an untied head first: its random rows are then the same whatever the embedding's method
    tables = [(emb, method)] if _is_tied(model) else [(model.lm_head.weight, head), (emb, method)]
    bias = None if _is_tied(model) else model.lm_head.bias
    for table, how in tables:
        for w in range(len(vocab)):
            row, subs = vocab.new_id(w), vocab.subtokens(w)
            if how == "mean":
                table[row] = table[subs].mean(0)
            else:
                draw = torch.randn(table.shape[1], generator=generator, dtype=table.dtype)
                table[row] = (draw * std).to(table.device)
    if bias is not None:
        for w in range(len(vocab)):
            row, subs = vocab.new_id(w), vocab.subtokens(w)
            bias[row] = bias[subs].mean() if head == "mean" else 0.0
