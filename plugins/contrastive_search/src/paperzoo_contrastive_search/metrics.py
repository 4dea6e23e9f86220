"""Generation-quality metrics of the papers: rep-n, diversity and the isotropy score.

* ``rep-n = 1 - |unique n-grams| / |total n-grams|`` (Su et al., 2022, Sec. 4.1), with the counts summed
  over all texts before the ratio, as the official evaluation does;
* ``diversity = prod_{n=2}^{4} (1 - rep-n)``;
* self-similarity ``s(x) = 1 / (|x| (|x| - 1)) sum_i sum_{j != i} cos(h_i, h_j)`` of the final-layer
  representations of one sequence, and ``isotropy = 1 - s`` (Su & Collier, 2023, Sec. 3), with the
  pair sums and pair counts added over sequences before the ratio, as the official script does.

Everything is returned as a fraction in ``[0, 1]`` (the papers print rep-n and diversity in percent).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _ngram_counts(sequences: torch.Tensor | Sequence[torch.Tensor], n: int) -> tuple[int, int]:
    """(unique n-grams within each sequence, summed; total n-grams), over token-id sequences."""
    if isinstance(sequences, torch.Tensor):
        if sequences.dim() != 2:
            raise ValueError("a tensor of sequences must be (num_sequences, length)")
        sequences = list(sequences)
    grams = []
    for index, seq in enumerate(sequences):  # one unfold per sequence; sequences may differ in length
        if seq.numel() >= n:
            windows = seq.long().unfold(0, n, 1)  # (L - n + 1, n)
            tag = torch.full((len(windows), 1), index, dtype=torch.long, device=windows.device)
            grams.append(torch.cat([tag, windows], dim=1))
    if not grams:
        return 0, 0
    rows = torch.cat(grams)
    # An n-gram prefixed by its sequence index is unique within that sequence exactly when the row is unique.
    return int(torch.unique(rows, dim=0).shape[0]), int(rows.shape[0])


def rep_n(sequences: torch.Tensor | Sequence[torch.Tensor], n: int) -> float:
    """Fraction of repeated n-grams, ``1 - sum(unique) / sum(total)`` over the sequences."""
    unique, total = _ngram_counts(sequences, n)
    if total == 0:
        raise ValueError(f"no sequence is at least {n} tokens long")
    return 1.0 - unique / total


def repetition_metrics(sequences: torch.Tensor | Sequence[torch.Tensor]) -> dict[str, float]:
    """``rep_2``, ``rep_3``, ``rep_4`` and ``diversity = prod_n (1 - rep_n)``."""
    out = {f"rep_{n}": rep_n(sequences, n) for n in (2, 3, 4)}
    out["diversity"] = (1.0 - out["rep_2"]) * (1.0 - out["rep_3"]) * (1.0 - out["rep_4"])
    return out


def similarity_sums(hidden: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum over sequences and ordered pairs ``i != j`` of ``cos(h_i, h_j)``, and the number of pairs.

    :param hidden: ``(B, S, E)`` representations of ``B`` sequences of length ``S``.

    With unit vectors ``u_i``, ``sum_{i != j} u_i . u_j = ||sum_i u_i||^2 - sum_i ||u_i||^2``, which
    needs ``O(S E)`` work instead of the ``S x S`` cosine matrix.
    """
    if hidden.dim() != 3:
        raise ValueError(f"hidden must be (batch, length, dim), got shape {tuple(hidden.shape)}")
    u = hidden.detach().double()
    u = u / u.norm(dim=-1, keepdim=True)
    total = u.sum(dim=1).square().sum() - u.square().sum()
    batch, length = hidden.shape[:2]
    return total, batch * length * (length - 1)


def isotropy_score(hidden: torch.Tensor) -> float:
    """``1 - s``, with ``s`` the average pairwise cosine similarity of the tokens within each sequence
    (pairs pooled over the batch). ``hidden``: ``(B, S, E)``, ``S >= 2``."""
    total, pairs = similarity_sums(hidden)
    if pairs == 0:
        raise ValueError("isotropy needs sequences of at least two tokens")
    return float(1.0 - total / pairs)


def distinct_n(sequences: torch.Tensor | Sequence[torch.Tensor], n: int) -> float:
    """Distinct-n of a set of texts (Li et al., 2016): distinct n-grams over the whole set divided by the
    total number of n-grams, so an n-gram shared by two texts counts once (unlike :func:`rep_n`, which
    counts uniqueness within each text)."""
    if isinstance(sequences, torch.Tensor):
        if sequences.dim() != 2:
            raise ValueError("a tensor of sequences must be (num_sequences, length)")
        sequences = list(sequences)
    grams = [seq.long().unfold(0, n, 1) for seq in sequences if seq.numel() >= n]
    if not grams:
        raise ValueError(f"no sequence is at least {n} tokens long")
    rows = torch.cat(grams)
    return int(torch.unique(rows, dim=0).shape[0]) / int(rows.shape[0])
