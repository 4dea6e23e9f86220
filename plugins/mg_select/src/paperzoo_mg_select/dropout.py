"""Condition dropout: mask the state and the instruction tokens of training rows at random, so that one
policy learns the conditional distribution and the condition-masked ones that MG-Select's reference
reads. Each condition is dropped independently (state with ``p_state``, instruction with ``p_text``),
which yields the paper's four training variants: all conditions, text masked, state masked, both masked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from paperzoo_tinylm.tokenizer import MASK


def drop_conditions(
    inputs: torch.Tensor,
    state_positions: Sequence[int],
    text_positions: Sequence[int],
    p_state: float,
    p_text: float,
    generator: torch.Generator | None = None,
    mask_id: int = MASK,
) -> torch.Tensor:
    """A copy of ``inputs`` ``[B, T]`` in which each row's state tokens are replaced by ``mask_id`` with
    probability ``p_state`` and its instruction tokens with probability ``p_text`` (independent draws,
    state first). With both probabilities 0 nothing is drawn and the rows are returned as they are."""
    if p_state == 0 and p_text == 0:
        return inputs
    out = inputs.clone()
    for positions, p in ((state_positions, p_state), (text_positions, p_text)):
        drop = torch.rand(len(inputs), generator=generator, device=inputs.device) < p
        if len(positions) and p > 0:
            cols = torch.as_tensor(list(positions), device=inputs.device)
            rows = drop.nonzero().flatten()
            out[rows[:, None], cols[None, :]] = mask_id
    return out


def condition_dropout_loss(
    state_positions: Sequence[int],
    text_positions: Sequence[int],
    p_state: float,
    p_text: float,
    generator: torch.Generator | None = None,
    mask_id: int = MASK,
) -> Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """A ``loss_fn(model, x, y)`` for :func:`paperzoo_tinylm.training.fit_targets`: the same cross-entropy
    as its default, on rows whose conditions are dropped by :func:`drop_conditions`."""

    def loss_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = drop_conditions(x, state_positions, text_positions, p_state, p_text, generator, mask_id)
        logits = model(x).logits
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)

    return loss_fn
