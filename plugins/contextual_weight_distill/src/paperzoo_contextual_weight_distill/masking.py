"""Masking strategies and the curriculum over masking rate and strategy (BIOptimus's continued MLM).

Strategies (each a tinylm ``SequenceTransform``: ids ``[B, T]`` to ``Transformed``):

- ``token``: BERT's token masking (tinylm's ``MLMTransform``): each ordinary token chosen with
  probability ``rate``.
- ``whole_word``: whole-word masking. A word is a maximal run of ordinary, non-whitespace tokens (a new
  domain token is one token of its word); each word is chosen with probability ``rate`` (drawn at its
  first token, as transformers' ``DataCollatorForLanguageModeling(whole_word_mask=True)`` does) and then
  every token of it is masked.
- ``span``: contiguous spans of whole words (SpanBERT): span lengths in words from a geometric
  distribution (``p=0.2``, at most 10 words) until ``rate`` of the row's ordinary tokens are chosen.

Chosen tokens are corrupted BERT's way (tinylm's ``mlm_corrupt``: ``mask_fraction`` to ``MASK``,
``random_fraction`` to a random byte, the rest kept); ``corrupt=False`` (BIOptimus's last phase, "no
corruption") masks them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from paperzoo_tinylm.tokenizer import VOCAB_SIZE
from paperzoo_tinylm.transforms import MLMTransform, Transformed, mlm_corrupt

STRATEGIES = ("token", "whole_word", "span")
WHITESPACE = (9, 10, 11, 12, 13, 32)
RESERVED = tuple(range(256, VOCAB_SIZE))  # PAD, BOS, EOS, MASK, sentinels, modes: never masked


def word_ids(ids: torch.Tensor, reserved: Sequence[int] = RESERVED) -> torch.Tensor:
    """``[B, T]`` long: the index (from 1, per row) of each token's word, ``-1`` at whitespace and
    reserved ids. Ids at or above ``VOCAB_SIZE`` (new domain tokens) are ordinary tokens."""
    skip = torch.isin(ids, torch.tensor(list(WHITESPACE) + list(reserved), device=ids.device))
    prev_skip = torch.ones_like(skip)
    prev_skip[:, 1:] = skip[:, :-1]
    starts = ~skip & prev_skip
    out = torch.cumsum(starts.long(), dim=1)
    return torch.where(skip, torch.full_like(out, -1), out)


def expand_to_words(words: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Every token of a word with at least one chosen token (``words`` from :func:`word_ids`)."""
    valid = words >= 0
    same = (words[:, :, None] == words[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    return (same & chosen[:, None, :]).any(dim=2)


@dataclass(frozen=True)
class MaskingStage:
    """One phase: a strategy, a rate, corruption on or off, and the share of training it ends at.

    :param until: the fraction of training (0, 1] at which this phase ends.
    :param strategy: ``token``, ``whole_word`` or ``span``.
    :param rate: the masking probability (tokens, words) or masked share (spans).
    :param corrupt: BERT's 80/10/10 corruption (``mask_fraction``, ``random_fraction``) or all ``MASK``.
    :param mean_span_p: the geometric parameter of span lengths in words (``span`` only).
    :param max_span: the longest span in words (``span`` only).
    """

    until: float = 1.0
    strategy: str = "token"
    rate: float = 0.15
    corrupt: bool = True
    mask_fraction: float = 0.8
    random_fraction: float = 0.1
    mean_span_p: float = 0.2
    max_span: int = 10

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy={self.strategy!r}; accepted: {', '.join(STRATEGIES)}")
        for name in ("rate", "mask_fraction", "random_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)!r}; accepted: a number in [0, 1]")
        if not 0.0 < self.until <= 1.0:
            raise ValueError(f"until={self.until!r}; accepted: a number in (0, 1]")
        if self.mask_fraction + self.random_fraction > 1.0:
            raise ValueError("mask_fraction + random_fraction exceeds 1")
        if not 0.0 < self.mean_span_p <= 1.0 or self.max_span < 1:
            raise ValueError("mean_span_p must be in (0, 1] and max_span >= 1")

    def __call__(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> Transformed:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a [B, T] long tensor, got {tuple(ids.shape)} {ids.dtype}")
        mask_fraction, random_fraction = (
            (self.mask_fraction, self.random_fraction) if self.corrupt else (1.0, 0.0)
        )
        if self.strategy == "token":  # whitespace is an ordinary token here
            return MLMTransform(self.rate, mask_fraction, random_fraction, special_ids=RESERVED)(
                ids, generator
            )
        words = word_ids(ids)
        if self.strategy == "whole_word":
            prev = torch.full_like(words, -2)
            prev[:, 1:] = words[:, :-1]
            first = (words >= 0) & (words != prev)
            draw = torch.rand(ids.shape, generator=generator, device=ids.device) < self.rate
            chosen = expand_to_words(words, draw & first)
        else:
            chosen = self._spans(words, generator)
        return mlm_corrupt(ids, chosen, mask_fraction, random_fraction, generator=generator)

    def _spans(self, words: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        chosen = torch.zeros(words.shape, dtype=torch.bool, device=words.device)
        n_words = words.max(dim=1).values.clamp(min=0).tolist()
        lengths = torch.arange(1, self.max_span + 1, dtype=torch.float64)
        probs = self.mean_span_p * (1 - self.mean_span_p) ** (lengths - 1)
        for b, n in enumerate(n_words):
            sizes = torch.bincount(words[b].clamp(min=0), minlength=n + 1).tolist()  # [0]: gaps, unused
            budget = round(self.rate * sum(sizes[1:]))
            picked: set[int] = set()
            tokens, tries = 0, 0
            while tokens < budget and n > 0 and tries < 10 * n:
                tries += 1
                span = int(torch.multinomial(probs, 1, generator=generator)) + 1
                start = int(torch.randint(1, n + 1, (1,), generator=generator))
                new = [w for w in range(start, min(n, start + span - 1) + 1) if w not in picked]
                for w in new:
                    picked.add(w)
                    tokens += sizes[w]
            if picked:
                chosen[b] = torch.isin(words[b], torch.tensor(sorted(picked), device=words.device))
        return chosen


#: BIOptimus's curriculum (its released model card): tokens 0.15, whole words 0.15, whole words 0.2,
#: whole words 0.2 without corruption, in four equal phases.
BIOPTIMUS_STAGES = (
    MaskingStage(0.25, "token", 0.15),
    MaskingStage(0.5, "whole_word", 0.15),
    MaskingStage(0.75, "whole_word", 0.2),
    MaskingStage(1.0, "whole_word", 0.2, corrupt=False),
)


@dataclass(frozen=True)
class CurriculumMLM:
    """A masking curriculum: the stage whose ``until`` first exceeds the training progress applies.

    :param stages: phases in order, ``until`` strictly increasing and the last one ``1.0``.
    """

    stages: tuple[MaskingStage, ...] = field(default=BIOPTIMUS_STAGES)

    def __post_init__(self) -> None:
        untils = [s.until for s in self.stages]
        if not untils or untils[-1] != 1.0 or any(a >= b for a, b in zip(untils, untils[1:])):
            raise ValueError(f"stage ends {untils}; accepted: strictly increasing, the last 1.0")

    def stage_at(self, progress: float) -> int:
        """The index of the stage at ``progress`` in [0, 1] (the fraction of steps already taken)."""
        for i, s in enumerate(self.stages):
            if progress < s.until:
                return i
        return len(self.stages) - 1

    def __call__(
        self, ids: torch.Tensor, progress: float, generator: torch.Generator | None = None
    ) -> Transformed:
        return self.stages[self.stage_at(progress)](ids, generator)
