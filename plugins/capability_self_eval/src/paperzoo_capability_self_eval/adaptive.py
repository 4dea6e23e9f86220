"""The paper's inference procedures on top of the kit's best-of-N selector
(:mod:`paperzoo_tinylm.best_of_n`):

* adaptive sampling: draw in rounds ``1, 1, 2, 4, ...`` (``"doubling"``), score every sample by its
  self-evaluation, and stop as soon as the chosen sample's P(better) is below ``threshold`` (so
  P(better) = 0 draws exactly one sample, P(better) = 1 draws all ``n_max``);
* selection: the sample with the lowest P(better) (score ``-P(better)``; ties: the first drawn);
* temperature annealing across samples (:func:`annealed_temperature`);
* early pruning (:func:`prune_and_finish`): sample ``n`` partial responses of ``prune_after`` tokens,
  keep the ``keep`` with the lowest P(better) mid-generation, finish only those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from paperzoo_tinylm.best_of_n import BestOfN, best_of_n, round_sizes
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.tokenizer import EOS

from paperzoo_capability_self_eval.self_eval import SelfEval, strip_padding

PBetter = Callable[[torch.Tensor, int], torch.Tensor]


def annealed_temperature(
    t_min: float = 0.2, t_max: float = 1.0, decay: float = 0.5
) -> Callable[[int], float]:
    """``T(i) = t_max - (t_max - t_min) * decay ** i`` for the sample drawn after ``i`` others: the first
    sample (the one most often kept alone) is the most conservative, later ones explore more."""
    if not 0 < t_min <= t_max or not 0 <= decay < 1:
        raise ValueError(f"need 0 < t_min <= t_max and 0 <= decay < 1, got {t_min}, {t_max}, {decay}")

    def temperature(drawn: int) -> float:
        return t_max - (t_max - t_min) * decay**drawn

    return temperature


def self_eval_scorer(model: torch.nn.Module, self_eval: SelfEval, eos_token_id: int = EOS) -> PBetter:
    """``(sequences, prompt_len) -> P(better)`` of each sampled sequence under ``self_eval``."""

    def p_better(sequences: torch.Tensor, prompt_len: int) -> torch.Tensor:
        rows = [strip_padding(s, prompt_len, eos_token_id) for s in sequences]
        return self_eval.p_better(model, rows).double()

    return p_better


def adaptive_best_of_n(
    model: Any,
    prompt: torch.Tensor,
    p_better: PBetter,
    n_max: int,
    max_new_tokens: int,
    threshold: float = 0.5,
    rounds: str = "doubling",
    temperature: float | Callable[[int], float] = 1.0,
    generator: torch.Generator | None = None,
    eos_token_id: int | None = EOS,
) -> BestOfN:
    """Adaptive best-of-N: stop when the chosen sample's P(better) < ``threshold``.

    Scores are ``-P(better)``, so ``result.best_sequence`` is the sample the model least expects to beat
    and ``-result.best_score`` its P(better). ``threshold=0`` never stops early (fixed best-of-``n_max``).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")

    def scorer(seqs: torch.Tensor, prompt_len: int) -> torch.Tensor:
        return -p_better(seqs, prompt_len)

    def stop(result: BestOfN) -> bool:
        return -result.best_score < threshold

    return best_of_n(
        model,
        prompt,
        n_max,
        scorer,
        max_new_tokens,
        rounds=rounds,
        temperature=temperature,
        generator=generator,
        eos_token_id=eos_token_id,
        stop=stop,
    )


def prune_and_finish(
    model: Any,
    prompt: torch.Tensor,
    p_better: PBetter,
    n: int,
    keep: int,
    prune_after: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    eos_token_id: int = EOS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Early pruning: ``n`` partial samples of ``prune_after`` tokens, the ``keep`` with the lowest
    mid-generation P(better) (ties: the first drawn) finished to ``max_new_tokens``.

    :returns: ``(finished (keep, S + max_new_tokens), kept indices (keep,), partial P(better) (n,))``;
        a partial sample that already ended is kept as it is (padded with ``eos_token_id``).
    """
    if not 1 <= keep <= n or not 0 <= prune_after <= max_new_tokens:
        raise ValueError(f"need 1 <= keep <= n and 0 <= prune_after <= max_new_tokens, got {keep}, {n}")
    ids = prompt.reshape(1, -1)
    s = ids.shape[1]
    partial = sample(
        model, ids.expand(n, -1), prune_after, temperature, generator=generator, eos_token_id=eos_token_id
    )
    if partial.shape[1] < s + prune_after:  # every row ended early
        partial = torch.nn.functional.pad(
            partial, (0, s + prune_after - partial.shape[1]), value=eos_token_id
        )
    scores = p_better(partial, s)
    kept = scores.sort(stable=True).indices[:keep]  # ascending; ties keep the order drawn
    rows = partial[kept]
    done = (rows[:, s:] == eos_token_id).any(1)
    out = torch.full((keep, s + max_new_tokens), eos_token_id, dtype=rows.dtype, device=rows.device)
    out[:, : rows.shape[1]] = rows
    rest = max_new_tokens - prune_after
    if rest > 0 and (~done).any():
        cont = sample(model, rows[~done], rest, temperature, generator=generator, eos_token_id=eos_token_id)
        out[~done, : cont.shape[1]] = cont
    return out, kept, scores


def expected_samples(p_stop: float, n_max: int, rounds: str = "doubling") -> float:
    """Expected samples of adaptive sampling when each round independently ends sampling with
    probability ``p_stop`` (a closed form for the mock tests): ``sum_r P(reach r) * size_r``."""
    total, reach = 0.0, 1.0
    for size in round_sizes(n_max, rounds):
        total += reach * size
        reach *= 1.0 - p_stop
    return total


__all__ = [
    "adaptive_best_of_n",
    "annealed_temperature",
    "expected_samples",
    "prune_and_finish",
    "self_eval_scorer",
]
