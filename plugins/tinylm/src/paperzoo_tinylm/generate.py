"""Decoding for any model following :mod:`paperzoo_tinylm.protocol`: greedy search, sampling (temperature,
top-k, top-p, seeded by a ``torch.Generator``) and beam search, with logits processors.

Every function takes ``(B, S)`` prompts of equal length (no padding), or one ``(S,)`` prompt, and returns
the prompt followed by the continuation, like ``transformers``' ``generate``. With ``use_cache=True``
(the default) each step is a one-token forward pass on the key/value cache; ``use_cache=False`` reruns
the whole sequence (same tokens; for models without a cache). Decoding is token for token that of
``transformers.GenerationMixin.generate`` with the same settings (greedy, sampling under the same
global seed when no ``generator`` is given, beam search), which the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .processors import Processor, apply, default_processors
from .protocol import forward, repeat_cache, select_cache

_NEG = -1.0e9  # the score of an impossible beam (transformers' constant: same ties, same choices)


def check_prompt(input_ids: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, bool]:
    """``(B, S)`` prompts and whether the input was one ``(S,)`` prompt; ``ValueError`` otherwise."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    squeeze = input_ids.dim() == 1
    ids = input_ids.unsqueeze(0) if squeeze else input_ids
    if ids.dim() != 2:
        raise ValueError(
            f"input_ids must be (batch, length) or (length,), got shape {tuple(input_ids.shape)}"
        )
    if ids.shape[1] == 0:
        raise ValueError("input_ids needs at least one prompt token")
    return ids, squeeze


class EosTracker:
    """End-of-sequence bookkeeping: a finished row emits ``pad_token_id`` (default ``eos_token_id``)
    from then on."""

    def __init__(self, batch: int, device: torch.device, eos_token_id: int | None, pad_token_id: int | None):
        self.eos, self.pad = eos_token_id, eos_token_id if pad_token_id is None else pad_token_id
        self.finished = torch.zeros(batch, dtype=torch.bool, device=device)

    def __call__(self, next_ids: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """The tokens to append, and whether every row has now finished."""
        if self.eos is None:
            return next_ids, False
        next_ids = torch.where(self.finished, torch.full_like(next_ids, self.pad), next_ids)
        self.finished |= next_ids == self.eos
        return next_ids, bool(self.finished.all())


def _decode(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    choose,
    processors: Sequence[Processor],
    use_cache: bool,
    eos_token_id: int | None,
    pad_token_id: int | None,
) -> torch.Tensor:
    """The loop shared by greedy search and sampling: ``choose(scores) -> (B,)`` picks each token."""
    ids, squeeze = check_prompt(input_ids, max_new_tokens)
    if max_new_tokens == 0:
        return input_ids
    stop = EosTracker(ids.shape[0], ids.device, eos_token_id, pad_token_id)
    out = forward(model, ids, None, use_cache)
    seq = ids
    for step in range(max_new_tokens):
        scores = apply(processors, seq, out.logits[:, -1].float())
        next_ids, done = stop(choose(scores))
        seq = torch.cat([seq, next_ids.unsqueeze(1)], dim=1)
        if done or step == max_new_tokens - 1:
            break
        out = (
            forward(model, next_ids.unsqueeze(1), out.past, True)
            if use_cache
            else forward(model, seq, None, False)
        )
    return seq[0] if squeeze else seq


@torch.no_grad()
def greedy_search(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int = 64,
    use_cache: bool = True,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    processors: Sequence[Processor] = (),
) -> torch.Tensor:
    """Greedy decoding, ``x_t = argmax_v score(v | x_<t)`` after ``processors`` (ties: the lowest id).

    :param model: a causal LM following :mod:`paperzoo_tinylm.protocol`, in eval mode.
    :param input_ids: ``(B, S)`` prompts, or one ``(S,)`` prompt.
    :param max_new_tokens: tokens to generate.
    :param use_cache: decode on the key/value cache (``False``: rerun the whole sequence each step).
    :param eos_token_id: optional end-of-sequence id; decoding stops once every row emitted it.
    :param pad_token_id: what a finished row emits (default ``eos_token_id``).
    :param processors: logits processors (:mod:`paperzoo_tinylm.processors`), applied to the logits.
    :returns: ``(B, S + generated)`` (``(S + generated,)`` for a 1-d prompt).
    """

    def choose(scores: torch.Tensor) -> torch.Tensor:
        return scores.argmax(dim=-1)

    return _decode(
        model, input_ids, max_new_tokens, choose, processors, use_cache, eos_token_id, pad_token_id
    )


@torch.no_grad()
def sample(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    processors: Sequence[Processor] = (),
) -> torch.Tensor:
    """Ancestral sampling from ``softmax(processed scores)``: ``processors`` first, then the temperature,
    top-k and top-p filters (in that order, as transformers does).

    :param temperature: ``> 0``; toward ``0`` sampling becomes greedy decoding.
    :param top_k: keep the ``k`` most probable tokens (``None`` or ``0``: all).
    :param top_p: nucleus mass in ``(0, 1]`` (``None``: no filter).
    :param generator: the random source (seed it for reproducible samples); ``None`` draws from torch's
        global generator, as transformers' ``generate(do_sample=True)`` does.
    Other parameters and the result as in :func:`greedy_search`.
    """
    prompt_len = input_ids.shape[-1]
    chain = default_processors(
        prompt_len, do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p, extra=processors
    )

    def choose(scores: torch.Tensor) -> torch.Tensor:
        return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(1)

    return _decode(model, input_ids, max_new_tokens, choose, chain, use_cache, eos_token_id, pad_token_id)


def top_entries(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best entries of each row, best first; ties go to the lower index (deterministic)."""
    values, index = scores.sort(dim=-1, descending=True, stable=True)
    return values[:, :k], index[:, :k]


def gather_beams(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tensor[b, index[b, j], ...]`` for ``(B, n, ...)`` tensors and a ``(B, k)`` index."""
    while index.dim() < tensor.dim():
        index = index.unsqueeze(-1)
    return tensor.take_along_dim(index, dim=1)


@torch.no_grad()
def beam_search(
    model: Any,
    input_ids: torch.Tensor,
    num_beams: int = 4,
    max_new_tokens: int = 64,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    use_cache: bool = True,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    processors: Sequence[Processor] = (),
) -> torch.Tensor:
    """Beam search with transformers' semantics (``generate(num_beams=..., do_sample=False)``).

    Each step scores ``log p`` (after ``processors``) plus the beam's running sum for all ``num_beams * V``
    continuations and keeps the ``2 * num_beams`` best (ties: lower beam, then lower token id). Those
    ending in ``eos_token_id`` among the first ``num_beams`` become finished hypotheses, scored
    ``sum log p / generated_length ** length_penalty``; the ``num_beams`` best others continue. Decoding
    stops at ``max_new_tokens``, when all rows have ``num_beams`` finished hypotheses and
    ``early_stopping=True``, or when no running beam can still beat the worst finished one (the
    heuristic of transformers: ``False`` bounds a beam by its current length, ``"never"`` by the maximum
    length when ``length_penalty > 0``).

    :returns: ``(B * num_return_sequences, S + L)``, the best hypotheses of each prompt, best first;
        ``L`` is the longest returned continuation and shorter ones are filled with ``pad_token_id``
        (default ``eos_token_id``). A 1-d prompt with ``num_return_sequences=1`` gives a 1-d result.
    """
    ids, squeeze = check_prompt(input_ids, max_new_tokens)
    if num_beams < 1 or not 1 <= num_return_sequences <= num_beams:
        raise ValueError(
            f"need num_beams >= 1 and 1 <= num_return_sequences <= num_beams, got {num_beams}, "
            f"{num_return_sequences}"
        )
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    if max_new_tokens == 0:
        return input_ids
    batch, prompt_len = ids.shape
    device, max_len = ids.device, prompt_len + max_new_tokens
    keep = 2 * num_beams  # enough that num_beams continue even if num_beams candidates end in eos
    fill = -1 if eos_token_id is None else (eos_token_id if pad_token_id is None else pad_token_id)
    running = torch.full((batch, num_beams, max_len), fill, dtype=torch.long, device=device)
    running[:, :, :prompt_len] = ids[:, None]
    running_scores = torch.zeros(batch, num_beams, device=device)
    running_scores[:, 1:] = _NEG  # the first step expands beam 0 only (all beams are the same prompt)
    done_seqs, done_scores = running.clone(), torch.full((batch, num_beams), _NEG, device=device)
    done_lens = torch.zeros(batch, num_beams, dtype=torch.long, device=device)
    done_flags = torch.zeros(batch, num_beams, dtype=torch.bool, device=device)
    improvable = torch.ones(batch, 1, dtype=torch.bool, device=device)
    first_k = torch.arange(keep, device=device) < num_beams
    rows = torch.arange(batch, device=device)[:, None] * num_beams

    out = forward(model, ids, None, use_cache)  # the prompt once; each beam starts from a copy
    logits = out.logits[:, -1].float().repeat_interleave(num_beams, dim=0)
    past = repeat_cache(out.past, num_beams) if use_cache else None
    cur = prompt_len
    while True:
        flat = running[:, :, :cur].reshape(batch * num_beams, cur)
        logp = apply(processors, flat, logits.log_softmax(dim=-1))
        vocab = logp.shape[-1]
        total = (logp.view(batch, num_beams, vocab) + running_scores[:, :, None]).view(batch, -1)
        top_scores, top_index = top_entries(total, keep)
        source = top_index // vocab  # the beam each candidate extends, (B, keep)
        cand = gather_beams(running, source)
        cand[:, :, cur] = top_index % vocab
        ends = torch.full_like(top_index, cur + 1 >= max_len, dtype=torch.bool)
        if eos_token_id is not None:
            ends |= cand[:, :, cur] == eos_token_id

        # The num_beams best candidates that did not end continue.
        live_scores = top_scores + ends.float() * _NEG
        pick = top_entries(live_scores, num_beams)[1]
        running, running_scores = gather_beams(cand, pick), gather_beams(live_scores, pick)
        parent = gather_beams(source, pick)

        # Ended candidates among the first num_beams join the finished hypotheses if they rank.
        new = ends & first_k[None]
        scores = top_scores / ((cur + 1 - prompt_len) ** length_penalty)
        full = done_flags.all(dim=-1, keepdim=True) & (early_stopping is True)
        scores = scores + full.float() * _NEG + (~improvable).float() * _NEG + (~new) * _NEG
        merged = top_entries(torch.cat([done_scores, scores], dim=1), num_beams)[1]
        done_seqs = gather_beams(torch.cat([done_seqs, cand], dim=1), merged)
        done_scores = gather_beams(torch.cat([done_scores, scores], dim=1), merged)
        done_flags = gather_beams(torch.cat([done_flags, new], dim=1), merged)
        new_lens = torch.full_like(new, cur + 1 - prompt_len, dtype=torch.long)
        done_lens = gather_beams(torch.cat([done_lens, new_lens], dim=1), merged)

        cur += 1
        best_len = (
            max_len - prompt_len if early_stopping == "never" and length_penalty > 0 else cur - prompt_len
        )
        best_possible = running_scores[:, :1] / (best_len**length_penalty)
        worst_done = torch.where(done_flags, done_scores.min(dim=1, keepdim=True).values, _NEG)
        improvable = improvable & (best_possible > worst_done).any(dim=-1, keepdim=True)
        all_full = bool(done_flags.all()) and early_stopping is True
        if not bool(improvable.any()) or all_full or bool(ends.all()):
            break
        if use_cache:
            out = forward(
                model, running[:, :, cur - 1].reshape(-1, 1), select_cache(past, (rows + parent).reshape(-1))
            )
            past = out.past
        else:
            out = forward(model, running[:, :, :cur].reshape(batch * num_beams, cur), None, False)
        logits = out.logits[:, -1].float()

    length = prompt_len + int(done_lens[:, :num_return_sequences].max())
    result = done_seqs[:, :num_return_sequences, :length].reshape(batch * num_return_sequences, length)
    return result[0] if squeeze and num_return_sequences == 1 else result


@torch.no_grad()
def generate(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int = 32,
    *,
    do_sample: bool = False,
    num_beams: int = 1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    no_repeat_ngram_size: int = 0,
    min_new_tokens: int = 0,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    length_penalty: float = 1.0,
    early_stopping: bool | str = False,
    num_return_sequences: int = 1,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    processors: Sequence[Processor] = (),
) -> torch.Tensor:
    """One entry point with transformers' argument names: greedy search (default), sampling
    (``do_sample=True``) or beam search (``num_beams > 1``; not combined with sampling), after the
    repetition penalty, n-gram ban, minimum length and ``processors`` (see
    :func:`paperzoo_tinylm.processors.default_processors`)."""
    if do_sample and num_beams > 1:
        raise ValueError("beam sampling is not supported: use do_sample=True or num_beams > 1, not both")
    chain = default_processors(
        input_ids.shape[-1],
        repetition_penalty=repetition_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size,
        min_new_tokens=min_new_tokens,
        eos_token_id=eos_token_id,
        extra=processors,
    )
    common = {"use_cache": use_cache, "eos_token_id": eos_token_id, "pad_token_id": pad_token_id}
    if num_beams > 1:
        return beam_search(
            model,
            input_ids,
            num_beams,
            max_new_tokens,
            length_penalty=length_penalty,
            early_stopping=early_stopping,
            num_return_sequences=num_return_sequences,
            processors=chain,
            **common,
        )
    if num_return_sequences != 1:
        raise ValueError("num_return_sequences > 1 needs beam search (num_beams >= num_return_sequences)")
    if do_sample:
        return sample(
            model, input_ids, max_new_tokens, temperature, top_k, top_p, generator, processors=chain, **common
        )
    return greedy_search(model, input_ids, max_new_tokens, processors=chain, **common)
