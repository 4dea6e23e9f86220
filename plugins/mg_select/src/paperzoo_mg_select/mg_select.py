"""MG-Select: the condition-masking KL confidence of candidate action-token sequences, and best-of-N by it.

For a candidate ``a`` sampled after a prompt that holds the conditions (state ``q``, instruction ``I``):

``C(a) = sum_i KL(Q_i || P_i)``, ``P_i = pi(. | q, I, a_<i)``, ``Q_i = pi(. | mask(q, I), a_<i)``

where ``mask`` replaces the chosen condition tokens by a mask id (``state``, ``text`` or ``both``) and
``i`` runs over the candidate's action tokens (up to and including its first end-of-sequence token).
The candidate with the largest ``C`` is chosen: the one whose conditional distributions deviate most
from the condition-blind reference. The KL direction (reference first) and the sum over action tokens
follow the paper's Eq. for ``KL_text``, ``KL_state``, ``KL_both`` and ``C``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from paperzoo_tinylm.best_of_n import BestOfN, Scorer, best_of_n
from paperzoo_tinylm.tokenizer import MASK

MASKINGS = ("both", "state", "text")


def masked_positions(
    masking: str, state_positions: Sequence[int], text_positions: Sequence[int]
) -> tuple[int, ...]:
    """The prompt positions the reference masks: the state's, the instruction's, or both."""
    if masking not in MASKINGS:
        raise ValueError(f"masking {masking!r}; accepted: one of {MASKINGS}")
    state = tuple(state_positions) if masking in ("both", "state") else ()
    text = tuple(text_positions) if masking in ("both", "text") else ()
    return state + text


def mask_conditions(ids: torch.Tensor, positions: Sequence[int], mask_id: int = MASK) -> torch.Tensor:
    """A copy of ``ids`` ``[B, T]`` with the tokens at ``positions`` replaced by ``mask_id``."""
    out = ids.clone()
    if len(positions):
        out[:, list(positions)] = mask_id
    return out


def token_kl(reference_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(reference) || softmax(logits))`` over the last dimension, in at least float32."""
    dtype = torch.promote_types(logits.dtype, torch.float32)
    log_q = reference_logits.to(dtype).log_softmax(-1)
    log_p = logits.to(dtype).log_softmax(-1)
    return (log_q.exp() * (log_q - log_p)).sum(-1)


def action_mask(sequences: torch.Tensor, prompt_len: int, eos_token_id: int | None = None) -> torch.Tensor:
    """``[B, L]`` booleans over the generated tokens: True up to and including the first ``eos_token_id``
    (every token when it is ``None``); the padding a finished row carries afterwards is False."""
    gen = sequences[:, prompt_len:]
    if eos_token_id is None:
        return torch.ones_like(gen, dtype=torch.bool)
    is_eos = (gen == eos_token_id).long()
    before = is_eos.cumsum(1) - is_eos  # eos tokens strictly before each position
    return before == 0


@torch.no_grad()
def mg_select_scores(
    model: Any,
    sequences: torch.Tensor,
    prompt_len: int,
    positions: Sequence[int],
    *,
    mask_id: int = MASK,
    aggregate: str = "sum",
    eos_token_id: int | None = None,
) -> torch.Tensor:
    """The confidence ``C`` of each candidate ``[B, S + L]`` (prompt included): the per-token KL from the
    masked-condition reference to the conditional policy along the candidate, summed (``aggregate="sum"``,
    the paper's) or averaged (``"mean"``) over its action tokens. Float64 ``[B]``."""
    if aggregate not in ("sum", "mean"):
        raise ValueError(f"aggregate {aggregate!r}; accepted: 'sum' or 'mean'")
    if len(positions) and max(positions) >= prompt_len:
        raise ValueError(f"masked positions {list(positions)} must lie in the prompt (length {prompt_len})")
    cond = model(sequences).logits[:, prompt_len - 1 : -1]
    ref = model(mask_conditions(sequences, positions, mask_id)).logits[:, prompt_len - 1 : -1]
    kl = token_kl(ref, cond).double()
    keep = action_mask(sequences, prompt_len, eos_token_id)
    total = (kl * keep).sum(1)
    return total / keep.sum(1).clamp_min(1) if aggregate == "mean" else total


def mg_select_scorer(
    model: Any,
    positions: Sequence[int],
    *,
    mask_id: int = MASK,
    aggregate: str = "sum",
    eos_token_id: int | None = None,
) -> Scorer:
    """A :func:`paperzoo_tinylm.best_of_n.best_of_n` scorer: :func:`mg_select_scores` of a batch."""

    def scorer(sequences: torch.Tensor, prompt_len: int) -> torch.Tensor:
        return mg_select_scores(
            model,
            sequences,
            prompt_len,
            positions,
            mask_id=mask_id,
            aggregate=aggregate,
            eos_token_id=eos_token_id,
        )

    return scorer


def mg_select(
    model: Any,
    prompt: torch.Tensor,
    n: int,
    max_new_tokens: int,
    positions: Sequence[int],
    *,
    mask_id: int = MASK,
    aggregate: str = "sum",
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
) -> BestOfN:
    """Sample ``n`` candidates of one prompt with the kit's best-of-N and keep the most confident by
    MG-Select; ``result.best_sequence`` is the choice, ``result.scores`` the confidences."""
    scorer = mg_select_scorer(
        model, positions, mask_id=mask_id, aggregate=aggregate, eos_token_id=eos_token_id
    )
    return best_of_n(
        model,
        prompt,
        n,
        scorer,
        max_new_tokens,
        temperature=temperature,
        generator=generator,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
    )
