"""Diverse beam search (Vijayakumar et al., 2018, Algorithm 1) over the causal-LM protocol of the tinylm kit.

The ``B`` beams are split into ``G`` groups of ``B / G``. At every step the groups are decoded one after
the other; group ``g`` runs one step of beam search (that of :func:`paperzoo_tinylm.generate.beam_search`)
on ``log p(y | x) - lambda * Delta(y)``, where ``Delta(y)`` counts how often the earlier groups
``0..g-1`` chose ``y`` (Hamming diversity: at this step only; cumulative: at any step so far). The
penalised log-probabilities are what a beam accumulates, as in the paper and in transformers.

Bookkeeping follows transformers 4.55's ``generate(num_beams, num_beam_groups, diversity_penalty)``
token for token: each group keeps its own ``B / G`` finished hypotheses and stops on its own (a stopped
group emits ``pad_token_id`` with score 0, which later groups' Hamming counts see); at the end the running
beams of unfinished groups join their group's hypotheses and the best ``num_return_sequences`` over all
groups are returned. ``G = 1`` is plain beam search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from paperzoo_tinylm.generate import check_prompt, gather_beams, top_entries
from paperzoo_tinylm.processors import Processor, apply
from paperzoo_tinylm.protocol import forward, repeat_cache, select_cache

_NEG = -1.0e9  # the score of a beam that must not be extended at the first step (transformers' constant)

#: ``diversity(previous, vocab) -> (B, vocab)``: how much each next token would overlap with the earlier
#: groups, from ``previous``, the ``(B, n, t)`` generated tokens of the earlier groups' ``n`` beams (the
#: last column is this step's choice).
Diversity = Callable[[torch.Tensor, int], torch.Tensor]


def _counts(tokens: torch.Tensor, vocab: int) -> torch.Tensor:
    """``(B, vocab)`` float32 occurrence counts of the ids in each row of ``tokens`` (``(B, m)``)."""
    tokens = tokens.reshape(tokens.shape[0], -1)
    out = torch.zeros(tokens.shape[0], vocab, device=tokens.device)
    valid = (tokens >= 0) & (tokens < vocab)  # -1 marks an empty position
    return out.scatter_add_(1, tokens.clamp(0, vocab - 1), valid.float())


def hamming_diversity(previous: torch.Tensor, vocab: int) -> torch.Tensor:
    """Hamming diversity: how many earlier-group beams chose each token at this step."""
    return _counts(previous[:, :, -1], vocab)


def cumulative_diversity(previous: torch.Tensor, vocab: int) -> torch.Tensor:
    """Cumulative diversity: how often each token occurs in the earlier groups' generated tokens so far."""
    return _counts(previous, vocab)


DIVERSITIES: dict[str, Diversity] = {"hamming": hamming_diversity, "cumulative": cumulative_diversity}


class _Hypotheses:
    """The finished hypotheses of every (prompt, group): ``(B, G, n)`` sequences, float64 scores
    (``sum log p / length ** length_penalty``; ``-inf`` marks an empty slot), generated lengths."""

    def __init__(self, batch: int, groups: int, size: int, max_len: int, fill: int, device: torch.device):
        self.seqs = torch.full((batch, groups, size, max_len), fill, dtype=torch.long, device=device)
        self.scores = torch.full((batch, groups, size), float("-inf"), dtype=torch.float64, device=device)
        self.lens = torch.zeros(batch, groups, size, dtype=torch.long, device=device)
        self.size = size

    def add(self, g: int, seqs: torch.Tensor, scores: torch.Tensor, lens: torch.Tensor) -> None:
        """Offer ``(B, k)`` candidates (``-inf`` score: not offered) to group ``g``: the ``size`` best of
        the old and new ones stay (an old one wins a tie, as transformers' ``BeamHypotheses.add``)."""
        merged = torch.cat([self.scores[:, g], scores], dim=1)
        keep = top_entries(merged, self.size)[1]
        self.seqs[:, g] = gather_beams(torch.cat([self.seqs[:, g], seqs], dim=1), keep)
        self.lens[:, g] = gather_beams(torch.cat([self.lens[:, g], lens], dim=1), keep)
        self.scores[:, g] = gather_beams(merged, keep)

    def full(self, g: int) -> torch.Tensor:
        return (self.scores[:, g] > float("-inf")).all(dim=-1)


def _resolve(diversity: str | Diversity) -> Diversity:
    if callable(diversity):
        return diversity
    if diversity not in DIVERSITIES:
        raise ValueError(
            f"unknown diversity {diversity!r}: expected one of {sorted(DIVERSITIES)} or a callable"
        )
    return DIVERSITIES[diversity]


def _check(num_beams: int, groups: int, penalty: float, returned: int, early_stopping: Any) -> None:
    if num_beams < 1 or groups < 1 or num_beams % groups:
        raise ValueError(f"need num_beams >= 1 divisible by num_beam_groups >= 1, got {num_beams}, {groups}")
    if not penalty >= 0.0:
        raise ValueError(f"diversity_penalty must be >= 0, got {penalty}")
    if not 1 <= returned <= num_beams:
        raise ValueError(f"need 1 <= num_return_sequences <= num_beams, got {returned}")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")


@torch.no_grad()
def diverse_beam_search(
    model: Any,
    input_ids: torch.Tensor,
    num_beams: int = 4,
    num_beam_groups: int = 2,
    diversity_penalty: float = 0.5,
    max_new_tokens: int = 64,
    diversity: str | Diversity = "hamming",
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    use_cache: bool = True,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    processors: Sequence[Processor] = (),
) -> torch.Tensor:
    """Diverse beam search with transformers' semantics.

    :param model: a causal LM following :mod:`paperzoo_tinylm.protocol`, in eval mode.
    :param input_ids: ``(B, S)`` equal-length prompts, or one ``(S,)`` prompt.
    :param num_beams: beams per prompt, ``B`` in the paper.
    :param num_beam_groups: groups ``G`` (a divisor of ``num_beams``); ``1`` is plain beam search.
    :param diversity_penalty: ``lambda >= 0``; ``0`` makes every group the same beam search of
        ``num_beams / G`` beams.
    :param diversity: ``"hamming"`` (the paper's default), ``"cumulative"`` or a :data:`Diversity`.
    :param length_penalty: finished scores are ``sum log p / generated_length ** length_penalty``.
    :param early_stopping: ``True``, ``False`` or ``"never"``, per group, as in transformers.
    :param num_return_sequences: hypotheses returned per prompt, best first, over all groups.
    :param use_cache: decode on the key/value cache (``False``: rerun the whole sequence each step).
    :param eos_token_id: optional end-of-sequence id.
    :param pad_token_id: what fills shorter results and a stopped group emits (default ``eos_token_id``).
    :param processors: logits processors applied after the diversity penalty (as transformers orders them).
    :returns: ``(B * num_return_sequences, S + L)``; a 1-d prompt with ``num_return_sequences=1`` gives a
        1-d result.
    """
    ids, squeeze = check_prompt(input_ids, max_new_tokens)
    _check(num_beams, num_beam_groups, diversity_penalty, num_return_sequences, early_stopping)
    delta = _resolve(diversity)
    if max_new_tokens == 0:
        return input_ids
    batch, prompt_len = ids.shape
    size, device = num_beams // num_beam_groups, ids.device
    max_len = prompt_len + max_new_tokens
    fill = -1 if eos_token_id is None else (eos_token_id if pad_token_id is None else pad_token_id)
    seqs = torch.full((batch, num_beams, max_len), fill, dtype=torch.long, device=device)
    seqs[:, :, :prompt_len] = ids[:, None]
    scores = torch.full((batch, num_beams), _NEG, device=device)
    scores[:, ::size] = 0.0  # the first step expands each group's first beam only
    hyps = _Hypotheses(batch, num_beam_groups, size, max_len, fill, device)
    done = torch.zeros(batch, num_beam_groups, dtype=torch.bool, device=device)
    rank = torch.arange(2 * size, device=device)
    rows = torch.arange(batch, device=device)[:, None] * num_beams

    out = forward(model, ids, None, use_cache)
    logits = out.logits[:, -1].float().repeat_interleave(num_beams, dim=0)
    past = repeat_cache(out.past, num_beams) if use_cache else None
    cur = prompt_len
    beam_index = torch.arange(num_beams, device=device).repeat(batch, 1)
    while True:
        logp_all = logits.log_softmax(dim=-1).view(batch, num_beams, -1)
        vocab = logp_all.shape[-1]
        new_seqs, new_scores = seqs.clone(), scores.clone()
        parents = beam_index.clone()
        for g in range(num_beam_groups):
            beams = slice(g * size, (g + 1) * size)
            group, logp = seqs[:, beams], logp_all[:, beams]
            if g > 0 and diversity_penalty > 0:
                logp = (
                    logp
                    - diversity_penalty * delta(new_seqs[:, : g * size, prompt_len : cur + 1], vocab)[:, None]
                )
            logp = apply(processors, group[:, :, :cur].reshape(-1, cur), logp.reshape(-1, vocab))
            total = (logp.view(batch, size, vocab) + scores[:, beams, None]).view(batch, -1)
            # torch.topk as transformers calls it: exact ties (frequent under integer penalties) break alike.
            top_scores, top_index = torch.topk(total, 2 * size, dim=1, largest=True, sorted=True)
            source = top_index // vocab
            cand = gather_beams(group, source)
            cand[:, :, cur] = top_index % vocab
            ended = torch.zeros_like(top_index, dtype=torch.bool)
            if eos_token_id is not None:
                ended = cand[:, :, cur] == eos_token_id

            # Candidates ending in eos among the first `size` join the group's hypotheses.
            offered = ended & (rank < size) & ~done[:, g, None]
            norm = top_scores.double() / float(cur + 1 - prompt_len) ** length_penalty
            lens = torch.full_like(top_index, cur + 1 - prompt_len)
            hyps.add(g, cand, norm.masked_fill(~offered, float("-inf")), lens)

            # The first `size` candidates that did not end continue; a finished group emits pad, score 0.
            pick = (ended.long() * 2 * size + rank).argsort(dim=-1)[:, :size]
            stopped = done[:, g, None]
            new_seqs[:, beams] = torch.where(stopped[:, :, None], group, gather_beams(cand, pick))
            new_scores[:, beams] = torch.where(stopped, 0.0, gather_beams(top_scores, pick))
            parents[:, beams] = torch.where(stopped, parents[:, beams], g * size + gather_beams(source, pick))

            # A group stops once full and no running beam can beat its worst hypothesis (transformers'
            # heuristic, from the best candidate of this step).
            if early_stopping is True:
                finished = hyps.full(g)
            else:
                length = max_len if early_stopping == "never" and length_penalty > 0 else cur + 1
                best = top_scores[:, 0].double() / float(length - prompt_len) ** length_penalty
                finished = hyps.full(g) & (hyps.scores[:, g].min(dim=-1).values >= best)
            done[:, g] |= finished
        seqs, scores = new_seqs, new_scores
        cur += 1
        if bool(done.all()) or cur >= max_len:
            break
        if use_cache:
            past = select_cache(past, (rows + parents).reshape(-1))
            out = forward(model, seqs[:, :, cur - 1].reshape(-1, 1), past)
            past = out.past
        else:
            out = forward(model, seqs[:, :, :cur].reshape(batch * num_beams, cur), None, False)
        logits = out.logits[:, -1].float()

    # Unfinished groups offer their running beams, then the best over all groups are returned.
    for g in range(num_beam_groups):
        beams = slice(g * size, (g + 1) * size)
        norm = scores[:, beams].double() / float(cur - prompt_len) ** length_penalty
        norm = norm.masked_fill(done[:, g, None], float("-inf"))
        hyps.add(g, seqs[:, beams], norm, torch.full_like(norm, cur - prompt_len, dtype=torch.long))
    # transformers sorts the pooled hypotheses ascending and pops from the end: a later one wins a tie.
    pooled = hyps.scores.flatten(1).flip(1)
    best = top_entries(pooled, num_return_sequences)[1]
    best = num_beam_groups * size - 1 - best
    chosen, lens = gather_beams(hyps.seqs.flatten(1, 2), best), gather_beams(hyps.lens.flatten(1), best)
    length = prompt_len + int(lens.max())
    result = chosen[:, :, :length].reshape(batch * num_return_sequences, length)
    return result[0] if squeeze and num_return_sequences == 1 else result
