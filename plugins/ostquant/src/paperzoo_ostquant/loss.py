"""OSTQuant's KL-Top loss: the KL divergence from the float model's next-token distribution to the
quantised model's, summed only over the float model's ``k`` most probable tokens of each position.

``L = mean_tokens sum_{i in top_k(p)} p_i (log p_i - log q_i)`` with ``p = softmax(teacher)``,
``q = softmax(student)`` over the whole vocabulary (no renormalisation over the top ``k``): the long tail
of tiny teacher probabilities, mostly noise on limited calibration data, is left out of the objective.
``k`` equal to the vocabulary size gives the full KL divergence.
"""

from __future__ import annotations

import torch


def kl_top(student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int) -> torch.Tensor:
    """KL-Top of ``[..., V]`` logits (module docstring), averaged over every leading position."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= teacher_logits.shape[-1]:
        raise ValueError(f"k: {k!r}; accepted: an integer in [1, {teacher_logits.shape[-1]}]")
    lp_t = torch.log_softmax(teacher_logits.detach(), -1)
    lp_s = torch.log_softmax(student_logits, -1)
    top_t, idx = lp_t.topk(k, dim=-1)
    terms = top_t.exp() * (top_t - lp_s.gather(-1, idx))
    return terms.sum(-1).mean()
