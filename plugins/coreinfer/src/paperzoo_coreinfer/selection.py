"""CoreInfer's core-neuron selection (Wang et al., 2024, Section 4.1).

Token-wise core neurons: for each prompt token, its ``k`` largest FFN activations (signed activation
values, the down projection's input), with ``k = int(alpha * P / T)``, ``P`` the number of positive
activations over the ``T`` prompt tokens (the paper's "top alpha of the positive activations", as the
reference code counts it). Sentence-wise core neurons: the neurons in the top sets of at least a
``beta`` fraction of the tokens (the paper's rule), or, with ``n_core``, the ``n_core`` most frequent
ones among those in any top set (the reference code's rule; ties broken by the lower index).
"""

from __future__ import annotations

import torch


def token_topk(act: torch.Tensor, alpha: float) -> int:
    """Per-token count ``k = int(alpha * positives / tokens)`` of an activation map ``[T, d_ff]``."""
    return int(alpha * int((act > 0).sum()) / act.shape[0])


def core_counts(act: torch.Tensor, alpha: float) -> torch.Tensor:
    """How many prompt tokens have each neuron in their top-``k`` set: ``[d_ff]`` integers."""
    act = act.reshape(-1, act.shape[-1])
    k = token_topk(act, alpha)
    top = act.topk(k, dim=-1).indices if k > 0 else act.new_zeros((act.shape[0], 0), dtype=torch.long)
    return torch.bincount(top.reshape(-1), minlength=act.shape[-1])


def core_neurons(
    act: torch.Tensor, alpha: float, beta: float | None = None, n_core: int | None = None
) -> torch.Tensor:
    """Sorted indices of the sentence's core neurons from prompt activations ``[..., T, d_ff]``.

    Exactly one of ``beta`` (keep neurons in at least ``beta * T`` token top sets; ``beta = 0`` keeps
    all) and ``n_core`` (keep the ``n_core`` most frequent) must be given.
    """
    if (beta is None) == (n_core is None):
        raise ValueError("give exactly one of beta and n_core")
    act = act.reshape(-1, act.shape[-1])
    counts = core_counts(act, alpha)
    if beta is not None:
        return (counts >= beta * act.shape[0]).nonzero().squeeze(-1)
    order = torch.sort(counts, descending=True, stable=True).indices
    order = order[counts[order] > 0]  # as the reference: only neurons in some token's top set
    return order[:n_core].sort().values
