"""Contrastive search (Su et al., 2022, Eq. 5) for any model following the tinylm kit's causal-LM
protocol (:mod:`paperzoo_tinylm.protocol`: tinylm's decoder and transformers' causal LMs). Its greedy
baseline, :func:`greedy_search`, is the kit's (:mod:`paperzoo_tinylm.generate`), re-exported here.

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
from paperzoo_tinylm.generate import EosTracker, check_prompt, greedy_search
from paperzoo_tinylm.protocol import forward, repeat_cache, select_cache

__all__ = ["contrastive_search", "greedy_search"]


def _unit(h: torch.Tensor) -> torch.Tensor:
    """``h / ||h||`` along the last dimension, in float32 (cosine similarity becomes a dot product)."""
    h = h.float()
    return h / h.norm(dim=-1, keepdim=True)


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

    :param model: a causal LM following :mod:`paperzoo_tinylm.protocol` (tinylm's decoder and
        transformers' causal LMs do), in eval mode.
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
    ids, squeeze = check_prompt(input_ids, max_new_tokens)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    batch = ids.shape[0]
    rows = torch.arange(batch, device=ids.device)
    stop = EosTracker(batch, ids.device, eos_token_id, pad_token_id)
    out = forward(model, ids, None, use_cache, hidden=True)
    context = _unit(out.hidden)  # h_{x_j} of the prompt, (B, S, E)
    logits, past = out.logits[:, -1].float(), out.past
    pieces = [ids]
    seq = ids
    for _ in range(max_new_tokens):
        top_probs, top_ids = logits.softmax(dim=-1).topk(k, dim=-1)  # V^(k) and p(v | x_<t): (B, k)
        if use_cache:
            cand = forward(model, top_ids.reshape(-1, 1), repeat_cache(past, k), True, hidden=True)
        else:
            cand_seq = torch.cat([seq.repeat_interleave(k, dim=0), top_ids.reshape(-1, 1)], dim=1)
            cand = forward(model, cand_seq, None, False, hidden=True)
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
