"""Best-of-N selection over the kit's sampling loop, with a pluggable scorer and an adaptive stopping hook.

Draw up to ``n`` continuations of one prompt with :func:`paperzoo_tinylm.generate.sample`, in rounds
(all at once, doubling batches ``1, 1, 2, 4, ...``, or any list of sizes), score each round with a
callable ``scorer(sequences, prompt_len) -> (k,)`` (higher is better: a reward model, a verifier, the
model's own self-evaluation), and return the best. After every round ``stop(result_so_far)`` may end
sampling early (adaptive best-of-N); the temperature may change from round to round (annealing). Ties
go to the sample drawn first, so the choice is deterministic for a given generator.

The paper-specific parts (what to score, when to stop) live in the plugins that use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .generate import check_prompt, sample

Scorer = Callable[[torch.Tensor, int], torch.Tensor]


@dataclass
class BestOfN:
    """What :func:`best_of_n` drew: every sample (prompt included; rows of a round share one length, a
    finished row padded with ``pad_token_id``), its score, the rounds' sizes and temperatures, and the
    index of the chosen sample."""

    prompt_len: int
    sequences: list[torch.Tensor] = field(default_factory=list)
    scores: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.float64))
    rounds: list[int] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        """Samples drawn so far."""
        return len(self.sequences)

    @property
    def best(self) -> int:
        """Index of the best-scoring sample (ties: the first drawn)."""
        return select_best(self.scores)

    @property
    def best_sequence(self) -> torch.Tensor:
        return self.sequences[self.best]

    @property
    def best_score(self) -> float:
        return float(self.scores[self.best])


def select_best(scores: torch.Tensor) -> int:
    """The index of the largest score; ties go to the lowest index. NaN scores are refused."""
    if scores.numel() == 0:
        raise ValueError("no scores to select from")
    if torch.isnan(scores).any():
        raise ValueError("a score is NaN; accepted: finite or infinite scores")
    top = scores.max()
    return int(torch.nonzero(scores == top)[0, 0])


def round_sizes(n: int, rounds: str | Sequence[int] = "all") -> list[int]:
    """Sizes of the sampling rounds for at most ``n`` samples.

    ``"all"``: one round of ``n``; ``"one"``: ``n`` rounds of one; ``"doubling"``: ``1, 1, 2, 4, ...``
    (each round doubles the samples drawn so far), the last cut to reach ``n``; a list of positive sizes
    is cut the same way (and must reach ``n``).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if rounds == "all":
        sizes = [n]
    elif rounds == "one":
        sizes = [1] * n
    elif rounds == "doubling":
        sizes, drawn = [], 0
        while drawn < n:
            sizes.append(max(1, drawn))
            drawn += sizes[-1]
    elif isinstance(rounds, str):
        raise ValueError(f"rounds {rounds!r}; accepted: 'all', 'one', 'doubling' or a list of sizes")
    else:
        sizes = [int(k) for k in rounds]
        if any(k < 1 for k in sizes) or sum(sizes) < n:
            raise ValueError(f"round sizes {list(rounds)} must be >= 1 and sum to at least n={n}")
    out, drawn = [], 0
    for k in sizes:
        if drawn >= n:
            break
        out.append(min(k, n - drawn))
        drawn += out[-1]
    return out


@torch.no_grad()
def best_of_n(
    model: Any,
    prompt: torch.Tensor,
    n: int,
    scorer: Scorer,
    max_new_tokens: int,
    *,
    rounds: str | Sequence[int] = "all",
    temperature: float | Callable[[int], float] = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    stop: Callable[[BestOfN], bool] | None = None,
) -> BestOfN:
    """Sample up to ``n`` continuations of ``prompt`` and keep the best by ``scorer``.

    :param model: a causal LM following :mod:`paperzoo_tinylm.protocol`, in eval mode.
    :param prompt: one ``(S,)`` prompt (or ``(1, S)``).
    :param scorer: ``scorer(sequences (k, S + L), prompt_len) -> (k,)`` scores, higher is better.
    :param rounds: the sampling rounds (:func:`round_sizes`).
    :param temperature: a float, or ``f(samples drawn so far) -> float`` evaluated at each round's start.
    :param stop: called after each round with the result so far; ``True`` ends sampling (adaptive
        best-of-N). ``None``: draw all ``n``.
    Other parameters as in :func:`paperzoo_tinylm.generate.sample`.
    :returns: a :class:`BestOfN`; ``result.best_sequence`` is the choice.
    """
    ids, _ = check_prompt(prompt, max_new_tokens)
    if ids.shape[0] != 1:
        raise ValueError(f"best_of_n takes one prompt, got a batch of {ids.shape[0]}")
    result = BestOfN(prompt_len=ids.shape[1])
    for size in round_sizes(n, rounds):
        t = float(temperature(result.n_samples) if callable(temperature) else temperature)
        seqs = sample(
            model,
            ids.expand(size, -1),
            max_new_tokens,
            temperature=t,
            top_k=top_k,
            top_p=top_p,
            generator=generator,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
        )
        got = torch.as_tensor(scorer(seqs, result.prompt_len)).to(torch.float64).reshape(-1)
        if got.numel() != size:
            raise ValueError(f"the scorer returned {got.numel()} scores for {size} samples")
        result.sequences.extend(seqs.unbind(0))
        result.scores = torch.cat([result.scores, got.cpu()])
        result.rounds.append(size)
        result.temperatures.append(t)
        if stop is not None and stop(result):
            break
    return result
