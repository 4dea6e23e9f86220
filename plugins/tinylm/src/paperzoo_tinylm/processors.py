"""Logits processors: callables ``processor(input_ids, scores) -> scores`` applied before each choice.

``input_ids`` is ``(N, T)``, the prompt and what was generated so far (one row per sequence or beam);
``scores`` is ``(N, V)`` float32, the next-token logits (greedy decoding, sampling) or log-probabilities
(beam search). Each processor returns new scores and never edits its inputs. The semantics match
transformers' processors of the same names, so that :func:`paperzoo_tinylm.generate.generate` decodes
token for token like ``transformers.GenerationMixin.generate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def apply(processors: Sequence[Processor], input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """``scores`` passed through ``processors`` in order."""
    for processor in processors:
        scores = processor(input_ids, scores)
    return scores


class RepetitionPenalty:
    """Every token already in ``input_ids`` (prompt included) has its score divided by ``penalty`` when
    positive and multiplied by it when negative (Keskar et al., 2019); ``penalty > 1`` discourages
    repetition."""

    def __init__(self, penalty: float):
        if penalty <= 0:
            raise ValueError(f"repetition penalty must be > 0, got {penalty}")
        self.penalty = float(penalty)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        seen = scores.gather(1, input_ids)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, input_ids, seen)


class NoRepeatNGram:
    """Forbid (score ``-inf``) every token that would complete an ``n``-gram already present in the row."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError(f"no_repeat_ngram_size must be >= 1, got {n}")
        self.n = int(n)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        if length < self.n:
            return scores
        windows = input_ids.unfold(1, self.n, 1)  # every n-gram: (N, T - n + 1, n)
        suffix = input_ids[:, length - self.n + 1 :]  # the n - 1 last tokens (empty for n = 1)
        matches = (windows[..., :-1] == suffix[:, None, :]).all(dim=-1)
        vocab = scores.shape[-1]
        # A window whose first n - 1 tokens equal the suffix bans its last token; others hit a spare column.
        column = torch.where(matches, windows[..., -1].clamp(max=vocab), vocab)
        banned = torch.zeros(scores.shape[0], vocab + 1, dtype=torch.bool, device=scores.device)
        banned = banned.scatter(1, column, True)[:, :vocab]
        return scores.masked_fill(banned, float("-inf"))


class MinNewTokens:
    """``eos_token_id`` is forbidden until ``min_new_tokens`` tokens follow the ``prompt_len``-token
    prompt."""

    def __init__(self, prompt_len: int, min_new_tokens: int, eos_token_id: int):
        self.prompt_len, self.min_new_tokens, self.eos = (
            int(prompt_len),
            int(min_new_tokens),
            int(eos_token_id),
        )

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] - self.prompt_len >= self.min_new_tokens:
            return scores
        scores = scores.clone()
        scores[:, self.eos] = float("-inf")
        return scores


class Temperature:
    """Scores divided by ``temperature > 0`` (sampling: lower is sharper, toward greedy decoding)."""

    def __init__(self, temperature: float):
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores / self.temperature


class TopK:
    """Keep the ``k`` best scores of each row (and any tied with the ``k``-th), ``-inf`` elsewhere."""

    def __init__(self, k: int, min_keep: int = 1):
        if k < 1:
            raise ValueError(f"top_k must be >= 1, got {k}")
        self.k = max(int(k), int(min_keep))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kth = scores.topk(min(self.k, scores.shape[-1]), dim=-1).values[:, -1:]
        return scores.masked_fill(scores < kth, float("-inf"))


class TopP:
    """Nucleus filtering (Holtzman et al., 2020): keep the smallest set of best tokens whose probability
    sums to at least ``p`` (at least ``min_keep`` tokens), ``-inf`` elsewhere."""

    def __init__(self, p: float, min_keep: int = 1):
        if not 0.0 < p <= 1.0:
            raise ValueError(f"top_p must lie in (0, 1], got {p}")
        self.p, self.min_keep = float(p), int(min_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        ascending, order = scores.sort(dim=-1)
        tail_mass = ascending.softmax(dim=-1).cumsum(dim=-1)
        drop = tail_mass <= 1.0 - self.p  # the low tail holding at most 1 - p of the mass
        drop[:, -self.min_keep :] = False
        return scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))


def default_processors(
    prompt_len: int,
    *,
    repetition_penalty: float = 1.0,
    no_repeat_ngram_size: int = 0,
    min_new_tokens: int = 0,
    eos_token_id: int | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    extra: Sequence[Processor] = (),
) -> list[Processor]:
    """The processors that the arguments ask for, in transformers' order: repetition penalty, n-gram
    ban, minimum length, ``extra``, then (sampling only) temperature, top-k, top-p."""
    processors: list[Processor] = []
    if repetition_penalty != 1.0:
        processors.append(RepetitionPenalty(repetition_penalty))
    if no_repeat_ngram_size > 0:
        processors.append(NoRepeatNGram(no_repeat_ngram_size))
    if min_new_tokens > 0 and eos_token_id is not None:
        processors.append(MinNewTokens(prompt_len, min_new_tokens, eos_token_id))
    processors.extend(extra)
    if do_sample:
        if temperature != 1.0:
            processors.append(Temperature(temperature))
        if top_k:
            processors.append(TopK(top_k))
        if top_p is not None and top_p < 1.0:
            processors.append(TopP(top_p))
    return processors
