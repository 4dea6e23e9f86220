"""The MLM-U objective: mask the path with a rate drawn uniformly per sequence, predict every masked token
from everything visible, in both directions.

Following the official code (``PAST._get_diffusion_masks`` in its ``absorbing`` mode): for a batch
``[B, T]`` draw ``u ~ U[0,1)^{B x T}`` then ``r ~ U[0,1)^{B x 1}``; a token stays visible where ``r > u``
and is masked otherwise, so the masked share ``1 - r`` is uniform too. Only the path (the tokens after
``<PATH_START>``) can be masked: the maze description is always visible. Masked tokens are hidden from
attention (the official encoder-decoder drops them from the keys); here each masked position is a
``MASK`` query that sees itself and the visible tokens. The loss is the cross-entropy summed over the
masked tokens of the batch, divided by their count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo.losses import logits_of
from paperzoo_tinylm.transforms import IGNORE

from paperzoo_mlm_u.mazes import MASK, PAD


def full_sequences(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole sequences ``[B, T + 1]`` from a next-token batch, and the boolean mask of the positions that
    are targets (the path and ``<PATH_END>``). The last token is the last target or ``PAD``."""
    last = torch.where(targets[:, -1:] == IGNORE, PAD, targets[:, -1:])
    seq = torch.cat([inputs, last], 1)
    answer = torch.cat([torch.zeros_like(targets[:, :1], dtype=torch.bool), targets != IGNORE], 1)
    return seq, answer


def uniform_rate_mask(
    answer: torch.Tensor, generator: torch.Generator | None = None, rate: float | None = None
) -> torch.Tensor:
    """The positions to mask ``[B, T]``: inside ``answer``, each masked independently with probability
    ``1 - r``, ``r ~ U[0,1)`` per sequence (the official draw order: positions first, then rates), or with
    the fixed probability ``rate``."""
    b, t = answer.shape
    u = torch.rand(b, t, generator=generator, device=answer.device)
    keep = torch.rand(b, 1, generator=generator, device=answer.device) if rate is None else 1.0 - rate
    visible = keep > u
    visible[:, 0] = True
    return ~visible & answer


def masked_inputs(seq: torch.Tensor, masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, attention_mask)`` for a bidirectional encoder: masked tokens become ``MASK`` and, with the
    padding, are hidden from every other position."""
    ids = seq.masked_fill(masked, MASK)
    attention = (~masked & (seq != PAD)).long()
    return ids, attention


def mlm_u_loss(
    model: torch.nn.Module,
    seq: torch.Tensor,
    answer: torch.Tensor,
    generator: torch.Generator | None = None,
    rate: float | None = None,
) -> torch.Tensor:
    """Mean cross-entropy over the masked path tokens of the batch (zero when none is masked)."""
    masked = uniform_rate_mask(answer, generator, rate)
    ids, attention = masked_inputs(seq, masked)
    return masked_cross_entropy(logits_of(model(ids, attention_mask=attention)), seq, masked)


def masked_cross_entropy(logits: torch.Tensor, seq: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits`` ``[B, T, V]`` against ``seq``, summed over ``masked`` and divided by
    the number of masked tokens in the batch (the official ``get_loss`` without ``scale_loss``)."""
    logits = logits if logits.dtype == torch.float64 else logits.float()
    ce = F.cross_entropy(logits.flatten(0, 1), seq.flatten(), reduction="none").view_as(seq)
    return (ce * masked).sum() / masked.sum().clamp(min=1)
