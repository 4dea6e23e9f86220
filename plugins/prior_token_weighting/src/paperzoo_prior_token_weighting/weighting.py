"""PRIOR's token weights: an importance score from a text-only reference LM, normalised per caption.

For a caption token ``y_i`` with reference probability ``p = P_r(y_i | y_<i)`` (the text-only LM, no
image), the importance score is ``w_i = (1 - p) ** alpha`` (Chen et al., 2025, Sec. 3; ``alpha = 1``):
near 0 for tokens the text alone predicts, near 1 for tokens it cannot (the image-related ones). The loss
of a caption of ``k`` tokens is ``L = -sum_i k * w_i / sum_j w_j * log P(y_i | image, y_<i)``: the scores
divided by their mean over that caption, so they average exactly 1 on every caption and the loss keeps
the scale of plain next-token prediction. ``clip_min`` floors the score only to keep a caption whose
every token the reference predicts with probability 1 away from ``0 / 0`` (the paper has no floor).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def prior_scores(p_ref: torch.Tensor, alpha: float = 1.0, clip_min: float = 1e-6) -> torch.Tensor:
    """Importance scores ``clip((1 - p_ref) ** alpha, clip_min, 1)`` of reference probabilities."""
    return (1.0 - p_ref.clamp(0.0, 1.0)).pow(alpha).clamp(min=clip_min, max=1.0)


def prior_weights(
    p_ref: torch.Tensor,
    mask: torch.Tensor | None = None,
    alpha: float = 1.0,
    clip_min: float = 1e-6,
) -> torch.Tensor:
    """Per-token loss weights ``k * w_i / sum_j w_j`` from reference probabilities ``p_ref`` ``[..., T]``:
    each row (one caption, the last dimension) is normalised on its own.

    :param mask: boolean, same shape: the caption's target tokens (others get weight 0 and are left out
        of their row's mean); ``None``: every entry is a target.
    :param alpha: sharpness of the score (``alpha = 0``: constant weights, plain next-token prediction).
    :param clip_min: floor of the score (a guard against ``0 / 0``, not part of the paper's formula).
    :returns: weights with mean exactly 1 over the targets of every row that has one (up to rounding),
        non-increasing in ``p_ref`` within a row.
    """
    scores = prior_scores(p_ref, alpha, clip_min)
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    scores = torch.where(mask, scores, torch.zeros_like(scores))
    k = mask.sum(dim=-1, keepdim=True).to(scores.dtype)
    total = scores.sum(dim=-1, keepdim=True)
    return torch.where(k > 0, scores * k / total.clamp(min=torch.finfo(scores.dtype).tiny), scores)


@torch.no_grad()
def target_probs(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """``softmax(logits)[..., target]`` in float32 per position (0 where the target is ``ignore_index``)."""
    safe = torch.where(targets == ignore_index, torch.zeros_like(targets), targets)
    p = F.softmax(logits.float(), dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(targets == ignore_index, torch.zeros_like(p), p)


def weighted_ntp_loss(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """``sum(w * ce) / sum(w)`` over the targets that are not ``ignore_index`` (cross-entropy in float32;
    no gradient into ``weights``). With weights of one on the targets this is the plain mean loss."""
    keep = targets != ignore_index
    ce = F.cross_entropy(
        logits.flatten(0, -2).float(), targets.flatten(), ignore_index=ignore_index, reduction="none"
    )
    w = torch.where(keep.flatten(), weights.detach().flatten().float(), torch.zeros_like(ce))
    return (w * ce).sum() / w.sum()
