"""The scale-invariance test and the radial projection shared by AdamP and SGDP.

For a weight ``w`` with gradient ``g`` and a momentum update ``p`` (Heo et al., 2021, Sec. 3.2 and
Algorithms 1-2), in a view where ``w`` is split into rows (one row per output channel, or the
whole tensor as one row):

* the weight is taken to be scale-invariant when, for every row,
  ``|cos(w, g)| = |<w, g>| / (max(||w||, eps) max(||g||, eps)) < delta / sqrt(dim)``
  with ``dim`` the length of a row;
* its update is then projected onto the tangent space of each row:
  ``Pi_w(p) = p - <w / (||w|| + eps), p> w / (||w|| + eps)``  (Eq. 12),
  and its weight decay is multiplied by ``wd_ratio``.

The channel view (rows = output channels) is tried first and the layer view (one row) only when
the channel view fails, as in the official implementation.

Everything is computed for many weights at once. Weights of one device, dtype and row length
``C`` form a bucket; their gradient, weight and update rows are copied into one ``(R, 3, C)``
workspace (``R`` rows in all), and a single batched matrix product ``B B^T`` gives every inner
product a row needs (``<g,g>``, ``<g,w>``, ``<w,w>``, ``<w,p>``) in one pass over the data.
Per-weight maxima and sums over rows are segment reductions; the projection is one fused
``p -= c w`` over the workspace, whose update rows then serve as the projected updates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def row_length(weight: Tensor) -> int:
    """Length of one row of the channel view ``weight.view(weight.size(0), -1)``."""
    return weight[0].numel()


def project_bucket(
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    updates: Sequence[Tensor],
    delta: float,
    eps: float,
) -> tuple[list[Tensor], Tensor]:
    """Project the updates of weights that share device, dtype and row length.

    :param weights: tensors with at least two dimensions and the same ``weight[0].numel()``.
    :param grads: their gradients (the cosine test uses the raw gradient, not the update).
    :param updates: their momentum updates ``p`` (left untouched).
    :param delta: threshold of the cosine test.
    :param eps: the epsilon of the norms.
    :returns: the (possibly projected) updates, as views into a new workspace, and a boolean
        tensor with one entry per weight, True where the weight was found scale-invariant.
    """
    first = weights[0]
    cols = row_length(first)
    rows = [w.shape[0] for w in weights]
    total = sum(rows)
    work = torch.empty(total, 3, cols, device=first.device, dtype=first.dtype)
    # Views (no copies) of the workspace in the weights' shapes: slots[k][i] is row block i of
    # field k (0: gradient, 1: weight, 2: update).
    slots = [[b.view(w.shape) for b, w in zip(work[:, k].split(rows), weights)] for k in range(3)]
    torch._foreach_copy_(slots[0], list(grads))
    torch._foreach_copy_(slots[1], list(weights))
    torch._foreach_copy_(slots[2], list(updates))

    # One pass: gram[r] = B_r B_r^T holds <g,g>, <g,w>, <w,w>, <w,p> of row r.
    gram = torch.bmm(work, work.transpose(1, 2))
    row_stats = torch.stack((gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1], gram[:, 1, 2]), dim=1)
    lengths = torch.tensor(rows, device=first.device)

    # Channel view: the test must hold for every row (max over the rows of |cos|).
    g_norm, w_norm = row_stats[:, 0].sqrt(), row_stats[:, 2].sqrt()
    cos_rows = row_stats[:, 1].abs() / (g_norm.clamp_min(eps) * w_norm.clamp_min(eps))
    cos_channel = torch.segment_reduce(cos_rows, "max", lengths=lengths)
    channel = cos_channel < delta / math.sqrt(cols)

    # Layer view: the same test on the whole flattened tensor (sums of the row statistics).
    stats = torch.segment_reduce(row_stats, "sum", lengths=lengths, axis=0)
    g_norm_l, w_norm_l = stats[:, 0].sqrt(), stats[:, 2].sqrt()
    cos_layer = stats[:, 1].abs() / (g_norm_l.clamp_min(eps) * w_norm_l.clamp_min(eps))
    layer_threshold = torch.tensor([delta / math.sqrt(r * cols) for r in rows], device=first.device)
    layer = ~channel & (cos_layer < layer_threshold.to(cos_layer.dtype))

    # Eq. 12 with w_hat = w / (||w|| + eps): p <- p - <w_hat, p> w_hat = p - c w per row.
    coef_channel = row_stats[:, 3] / (w_norm + eps).square()
    coef_layer = stats[:, 3] / (w_norm_l + eps).square()
    per_row = dict(repeats=lengths, output_size=total)
    coef = torch.where(
        channel.repeat_interleave(**per_row),
        coef_channel,
        torch.where(layer, coef_layer, torch.zeros_like(coef_layer)).repeat_interleave(**per_row),
    )
    work[:, 2].addcmul_(coef.unsqueeze(1), work[:, 1], value=-1)
    return slots[2], channel | layer


def project(
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    updates: Sequence[Tensor],
    delta: float,
    eps: float,
) -> tuple[list[Tensor], list[Tensor]]:
    """``project_bucket`` over weights of any shapes (each at least two-dimensional).

    :returns: the updates in the input order (projected where the test holds) and, per weight, a
        0-dim boolean tensor telling whether it was projected (no host synchronisation).
    """
    buckets: dict[tuple, list[int]] = {}
    for i, w in enumerate(weights):
        buckets.setdefault((w.device, w.dtype, row_length(w)), []).append(i)
    out_updates: list[Tensor] = list(updates)
    out_flags: list[Tensor] = [torch.empty(0)] * len(weights)
    for idx in buckets.values():
        new, flags = project_bucket(
            [weights[i] for i in idx], [grads[i] for i in idx], [updates[i] for i in idx], delta, eps
        )
        for i, u, f in zip(idx, new, flags.unbind()):
            out_updates[i], out_flags[i] = u, f
    return out_updates, out_flags
