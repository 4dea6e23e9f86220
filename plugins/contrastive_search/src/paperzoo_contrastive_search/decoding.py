"""Contrastive search (Su et al., 2022, Eq. 5) and greedy decoding for any model following
:mod:`paperzoo_contrastive_search.protocol`.

At step ``t`` contrastive search keeps the ``k`` most probable next tokens ``V^(k)`` and picks

    x_t = argmax_{v in V^(k)} { (1 - alpha) * p(v | x_<t) - alpha * max_{j < t} s(h_v, h_{x_j}) }

where ``h_v`` is the final-layer representation of ``v`` appended to ``x_<t``, ``h_{x_j}`` those of
the prefix (prompt included) and ``s`` the cosine similarity. The first term is model confidence,
the second the degeneration penalty. As in the official code, the ``k`` candidates are run in one
forward pass of batch ``B * k`` on ``k`` copies of the key/value cache; the chosen candidate's cache
row, representation and next-token logits are kept, so every step costs a single one-token forward
pass over ``B * k`` rows.
"""

from __future__ import annotations

from typing import Any

import torch

from .protocol import forward, repeat_cache, select_cache


def _unit(h: torch.Tensor) -> torch.Tensor:
    """``h / ||h||`` along the last dimension, in float32 (cosine similarity becomes a dot product)."""
    h = h.float()
    return h / h.norm(dim=-1, keepdim=True)


def _check(input_ids: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, bool]:
    if input_ids.dim() == 1:
        return input_ids.unsqueeze(0), True
    if input_ids.dim() != 2:
        raise ValueError(
            f"input_ids must be (batch, length) or (length,), got shape {tuple(input_ids.shape)}"
        )
    if input_ids.shape[1] == 0:
        raise ValueError("input_ids needs at least one prompt token")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    return input_ids, False


class _Stopper:
    """End-of-sequence bookkeeping: a finished row emits ``pad_token_id`` from then on."""

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


def _rerank(
    top_probs: torch.Tensor, cand_h: torch.Tensor, context: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Index (in ``0..k-1``) of the candidate maximising Eq. 5.

    :param top_probs: ``(B, k)`` model confidence ``p(v | x_<t)`` of the candidates.
    :param cand_h: ``(B, k, E)`` unit-norm ``h_v``.
    :param context: ``(B, t-1, E)`` unit-norm ``h_{x_j}`` of the prefix.
    """
    # s(h_v, h_{x_j}) for every candidate and prefix position: (B, k, t-1); penalty = max over j.
    penalty = torch.bmm(cand_h, context.transpose(1, 2)).amax(dim=-1)
    score = (1.0 - alpha) * top_probs - alpha * penalty
    return score.argmax(dim=-1)


@torch.no_grad()
def contrastive_search(
    model: Any,
    input_ids: torch.Tensor,
    alpha: float = 0.6,
    k: int = 4,
    max_new_tokens: int = 64,
    use_cache: bool = True,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
) -> torch.Tensor:
    """Decode ``max_new_tokens`` tokens after ``input_ids`` with contrastive search.

    :param model: a causal LM following :mod:`paperzoo_contrastive_search.protocol` (transformers'
        causal LMs do), in eval mode.
    :param input_ids: ``(B, S)`` prompts of equal length (no padding), or one ``(S,)`` prompt.
    :param alpha: degeneration penalty ``alpha`` in ``[0, 1]``; ``0`` is greedy decoding.
    :param k: candidates per step ``|V^(k)|``; ``1`` is greedy decoding.
    :param max_new_tokens: tokens to generate.
    :param use_cache: reuse the key/value cache (one one-token forward of ``B * k`` rows per step);
        ``False`` reruns the whole sequence for every candidate (for models without a cache).
    :param eos_token_id: optional end-of-sequence token; decoding stops once every row emitted it.
    :param pad_token_id: what a finished row emits (default ``eos_token_id``).
    :returns: ``(B, S + generated)`` prompt followed by the continuation (``(S + generated,)`` for a
        1-d prompt), like ``generate``.
    """
    ids, squeeze = _check(input_ids, max_new_tokens)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    batch = ids.shape[0]
    rows = torch.arange(batch, device=ids.device)
    stop = _Stopper(batch, ids.device, eos_token_id, pad_token_id)
    out = forward(model, ids, None, use_cache)
    context = _unit(out.hidden)  # h_{x_j} of the prompt, (B, S, E)
    logits, past = out.logits[:, -1].float(), out.past
    pieces = [ids]
    seq = ids
    for _ in range(max_new_tokens):
        top_probs, top_ids = logits.softmax(dim=-1).topk(k, dim=-1)  # V^(k) and p(v | x_<t): (B, k)
        if use_cache:
            cand = forward(model, top_ids.reshape(-1, 1), repeat_cache(past, k), True)
        else:
            cand_seq = torch.cat([seq.repeat_interleave(k, dim=0), top_ids.reshape(-1, 1)], dim=1)
            cand = forward(model, cand_seq, None, False)
        cand_h = _unit(cand.hidden[:, -1]).view(batch, k, -1)  # h_v, (B, k, E)
        chosen = _rerank(top_probs, cand_h, context, alpha)
        flat = rows * k + chosen  # row of the chosen candidate in the B * k batch
        next_ids, done = stop(top_ids[rows, chosen])
        pieces.append(next_ids.unsqueeze(1))
        context = torch.cat([context, cand_h[rows, chosen].unsqueeze(1)], dim=1)
        logits = cand.logits[:, -1].float().index_select(0, flat)
        if use_cache:
            past = select_cache(cand.past, flat)
        else:
            seq = torch.cat([seq, next_ids.unsqueeze(1)], dim=1)
        if done:
            break
    result = torch.cat(pieces, dim=1)
    return result[0] if squeeze else result


@torch.no_grad()
def greedy_search(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int = 64,
    use_cache: bool = True,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
) -> torch.Tensor:
    """Greedy decoding, ``x_t = argmax_v p(v | x_<t)``, with the same protocol, inputs and output as
    :func:`contrastive_search` (the baseline it is compared with)."""
    ids, squeeze = _check(input_ids, max_new_tokens)
    stop = _Stopper(ids.shape[0], ids.device, eos_token_id, pad_token_id)
    out = forward(model, ids, None, use_cache)
    seq = ids
    for step in range(max_new_tokens):
        next_ids, done = stop(out.logits[:, -1].argmax(dim=-1))
        seq = torch.cat([seq, next_ids.unsqueeze(1)], dim=1)
        if done or step == max_new_tokens - 1:
            break
        out = (
            forward(model, next_ids.unsqueeze(1), out.past, True)
            if use_cache
            else forward(model, seq, None, False)
        )
    return seq[0] if squeeze else seq
