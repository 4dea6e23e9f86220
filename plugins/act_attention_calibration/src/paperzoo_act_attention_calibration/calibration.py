"""Attention calibration (ACT, Yu et al. 2024, arXiv:2406.15765) on attention probabilities.

For one head with probabilities ``A`` ``[Tq, Tk]`` (rows: queries, columns: keys):

1. received attention of key ``j``: ``r_j = sum_i A_ij / n_j``, ``n_j`` the number of queries that may
   see key ``j`` (``T - j`` for a causal prefill, as the official code's ``arange(T, 0, -1)``);
2. the detected keys ``{j : r_j > threshold}``, in position order, less the first one (the official
   ``indices[1:]``: the first detected token, usually the initial one, is the sink kept) are the sinks
   ``S``;
3. every row keeps ``beta`` of its attention to ``S``; the removed mass ``(1 - beta) sum_{j in S} A_ij``
   goes to the row's other keys in proportion to their attention:
   ``A'_ij = beta A_ij`` (``j in S``), ``A_ij + (1 - beta) m_i A_ij / sum_{l not in S} A_il`` (else).

Rows keep summing to one and masked keys stay zero. Heads not selected, and heads where no key is a
sink, are returned bitwise unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

BETA = 0.4  # the official scripts' BETA
THRESHOLD = 0.1  # the official scripts' THRES


def check_params(beta: float, threshold: float) -> None:
    """Refuse values outside the method's range with a message naming what is accepted."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(
            f"beta: got {beta}; accepted: a number in [0, 1] (the share of a sink's attention kept)"
        )
    if not 0.0 <= threshold < 1.0:
        raise ValueError(
            f"threshold: got {threshold}; accepted: a number in [0, 1) (mean received attention)"
        )


def causal_allowed(tq: int, tk: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean ``[1, 1, Tq, Tk]``: query ``i`` is position ``Tk - Tq + i`` and sees keys up to it."""
    q_pos = torch.arange(tq, device=device)[:, None] + (tk - tq)
    return (torch.arange(tk, device=device)[None, :] <= q_pos)[None, None]


def received_attention(p: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """``[..., Tk]``: each key's attention summed over queries, divided by how many queries may see it
    (0 for a key no query sees). ``allowed``: boolean, broadcastable to ``p`` (``None``: causal)."""
    if allowed is None:
        allowed = causal_allowed(p.shape[-2], p.shape[-1], p.device)
    n = allowed.sum(-2).to(p.dtype)
    total = p.sum(-2)
    return torch.where(n > 0, total / n.clamp_min(1), torch.zeros_like(total))


def sink_mask(received: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """Boolean ``[..., Tk]``: keys whose received attention exceeds ``threshold``, except the first such
    key of each head."""
    over = received > threshold
    return over & (over.long().cumsum(-1) > 1)


def redistribute(p: torch.Tensor, sinks: torch.Tensor, beta: float = BETA) -> torch.Tensor:
    """Scale the columns ``sinks`` (boolean ``[..., Tk]``) of ``p`` ``[..., Tq, Tk]`` by ``beta`` and
    give each row's removed mass to its other keys in proportion. A row with no mass outside the sinks
    is left unchanged (nowhere to move it)."""
    s = sinks[..., None, :]
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    removed = torch.where(s, p, zero).sum(-1, keepdim=True) * (1 - beta)
    rest = torch.where(s, zero, p)
    denom = rest.sum(-1, keepdim=True)
    ratios = rest / torch.where(denom > 0, denom, torch.ones_like(denom))
    out = torch.where(s, p * beta, p) + removed * ratios
    return torch.where(denom > 0, out, p)


def calibrate(
    p: torch.Tensor,
    heads: Sequence[int] | None = None,
    beta: float = BETA,
    threshold: float = THRESHOLD,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Calibrated probabilities ``[B, H, Tq, Tk]`` (a new tensor; ``p`` itself when ``heads`` is empty).

    :param heads: head indices to calibrate (``None``: every head).
    :param beta: the share of a sink's attention kept (official 0.4).
    :param threshold: mean received attention above which a key is detected (official 0.1).
    :param allowed: boolean mask broadcastable to ``p`` (True: the query may see the key); ``None``:
        causal, the last query being the last key (a prefill, or cached steps).
    """
    check_params(beta, threshold)
    if heads is not None and len(heads) == 0:
        return p
    index = list(range(p.shape[1])) if heads is None else [int(h) for h in heads]
    sel = p[:, index]
    if allowed is None:
        allowed = causal_allowed(p.shape[-2], p.shape[-1], p.device)
    sinks = sink_mask(received_attention(sel, allowed), threshold)
    out = p.clone()
    out[:, index] = redistribute(sel, sinks, beta)
    return out


def sink_statistics(
    p: torch.Tensor, threshold: float = THRESHOLD, allowed: torch.Tensor | None = None
) -> dict:
    """Per head ``[H]`` (averaged over the batch): ``n_sinks`` (keys ACT would scale), ``first_is_bos``
    (share of sequences whose first detected key is position 0) and ``sink_mass`` (mean attention a query
    gives the sinks)."""
    if allowed is None:
        allowed = causal_allowed(p.shape[-2], p.shape[-1], p.device)
    received = received_attention(p, allowed)
    over = received > threshold
    sinks = over & (over.long().cumsum(-1) > 1)
    mass = torch.where(sinks[..., None, :], p, torch.zeros((), dtype=p.dtype)).sum(-1).mean(-1)
    return {
        "n_sinks": sinks.sum(-1).to(p.dtype).mean(0),
        "first_is_bos": over[..., 0].to(p.dtype).mean(0),
        "sink_mass": mass.mean(0),
    }
