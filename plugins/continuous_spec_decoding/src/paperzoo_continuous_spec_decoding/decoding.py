"""Continuous speculative decoding (Wang et al., 2024): a draft model proposes ``gamma`` continuous
tokens, the target scores them in one pass and keeps a prefix plus one token of its own.

Per pass, with the current sequence ``s`` (``T`` tokens): the draft draws ``x_1..x_k`` one after the
other from its mixtures ``q_0..q_{k-1}``; one target call gives ``p_0..p_k`` after ``[s, x_1..x_k]``;
the kit's :func:`~paperzoo_tinylm.speculative.density_sampling_accept` keeps ``x_1..x_n`` (each with
probability ``min(1, p_i(x) / q_i(x))``), and the next token is drawn from the residual
``max(0, p_n - q_n) / Z`` by acceptance-rejection from ``p_n`` (``n < k``) or from ``p_k`` (the whole
draft accepted). The accepted tokens are "pre-filled" into the sequence and the next pass starts after
them. Every token then follows the target's distribution exactly. Sequences are decoded one at a time
(rows accept different numbers of tokens per pass, as in batch-1 decoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo_tinylm.speculative import density_residual_sample, density_sampling_accept

from .model import MixtureAR


@dataclass
class SpecStats:
    """Counters of one or more decodes.

    :param target_calls: target forward passes (plain decoding: one per token).
    :param draft_calls: draft forward passes.
    :param generated: tokens generated.
    :param drafted: draft tokens proposed.
    :param accepted: draft tokens accepted.
    :param residual_tries: proposals drawn from ``p`` by the residual's acceptance-rejection.
    """

    target_calls: int = 0
    draft_calls: int = 0
    generated: int = 0
    drafted: int = 0
    accepted: int = 0
    residual_tries: int = 0

    @property
    def target_calls_per_token(self) -> float:
        return self.target_calls / max(self.generated, 1)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


def _check(prompt: torch.Tensor, n_tokens: int, gamma: int) -> None:
    if prompt.dim() != 2 or prompt.shape[0] < 1:
        raise ValueError(f"need a (T >= 1, D) prompt, got {tuple(prompt.shape)}")
    if n_tokens < 0 or gamma < 0:
        raise ValueError(f"need n_tokens >= 0 and gamma >= 0, got {n_tokens} and {gamma}")


@torch.no_grad()
def autoregressive_sample(
    model: MixtureAR,
    prompt: torch.Tensor,
    n_tokens: int,
    generator: torch.Generator | None = None,
    stats: SpecStats | None = None,
) -> torch.Tensor:
    """Plain ancestral sampling: ``n_tokens`` tokens after ``prompt`` ``(T, D)``, one call each.

    :returns: ``(T + n_tokens, D)``.
    """
    _check(prompt, n_tokens, 0)
    seq = prompt[None]
    for _ in range(n_tokens):
        t = seq.shape[1]
        token = model(seq, t - 1, t)[:, 0].sample(generator)
        seq = torch.cat([seq, token[:, None]], dim=1)
    if stats is not None:
        stats.target_calls += n_tokens
        stats.generated += n_tokens
    return seq[0]


@torch.no_grad()
def speculative_sample(
    target: MixtureAR,
    draft: MixtureAR,
    prompt: torch.Tensor,
    n_tokens: int,
    gamma: int = 4,
    generator: torch.Generator | None = None,
    stats: SpecStats | None = None,
    max_tries: int = 1000,
) -> torch.Tensor:
    """Continuous speculative sampling of ``n_tokens`` tokens after ``prompt`` ``(T, D)``.

    :param gamma: draft tokens per pass (0: plain sampling from the target, the same draws).
    :param max_tries: bound of the residual's acceptance-rejection rounds
        (:func:`~paperzoo_tinylm.speculative.density_residual_sample`).
    :returns: ``(T + n_tokens, D)``.
    """
    _check(prompt, n_tokens, gamma)
    stats = SpecStats() if stats is None else stats
    seq = prompt[None]
    done = 0
    while done < n_tokens:
        t = seq.shape[1]
        k = min(gamma, n_tokens - done - 1)  # a pass emits at most k + 1 tokens: never past n_tokens
        q_rows = []
        for _ in range(k):
            s = seq.shape[1]
            q = draft(seq, s - 1, s)[:, 0]
            seq = torch.cat([seq, q.sample(generator)[:, None]], dim=1)
            q_rows.append(q)
        p = target(seq, t - 1, t + k)[0]  # (k + 1) mixtures: p_0..p_k
        stats.target_calls += 1
        stats.draft_calls += k
        n = 0
        if k:
            xs = seq[0, t:]
            log_p = p[:k].log_prob(xs)
            log_q = torch.cat([q.log_prob(x[None]) for q, x in zip(q_rows, xs)])
            n = density_sampling_accept(log_p, log_q, generator)
        if n < k:
            token, tries = density_residual_sample(p[n : n + 1], q_rows[n][0:1], generator, max_tries)
            stats.residual_tries += int(tries.sum())
        else:
            token = p[k : k + 1].sample(generator)
        seq = torch.cat([seq[:, : t + n], token[None]], dim=1)
        stats.drafted += k
        stats.accepted += n
        done += n + 1
    stats.generated += n_tokens
    return seq[0]
