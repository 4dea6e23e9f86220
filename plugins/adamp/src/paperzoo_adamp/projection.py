"""The scale-invariance test and the radial projection shared by AdamP and SGDP.

For a weight ``w`` with gradient ``g`` and a momentum update ``p`` (Heo et al., 2021, the
projection step of Algorithms 1-2), in a view where ``w`` is split into rows (one row per output
channel, or the whole tensor as one row):

* the weight is taken to be scale-invariant when, for every row,
  ``|cos(w, g)| = |<w, g>| / (max(||w||, eps) max(||g||, eps)) < delta / sqrt(dim)``
  with ``dim`` the length of a row;
* its update is then projected onto the tangent space of each row,
  ``Pi_w(p) = p - <w_hat, p> w_hat`` with ``w_hat = w / (||w|| + eps)``, that is
  ``p <- p - c w`` with ``c = <w, p> / (||w|| + eps)^2`` per row,
  and its weight decay is multiplied by ``wd_ratio`` (done by the optimizers).

The channel view (rows = output channels) is tried first and the layer view (one row) only when
the channel view fails, as in the official implementation.

Everything is computed for many weights at once. The gradient, weight and update rows of a group
of weights (same device and dtype) sit in one ``(R, 3, C)`` workspace (``R`` rows in all, ``C``
the longest row, shorter rows zero-padded), and a single batched matrix product ``B B^T`` gives
every inner product a row needs (``<g,g>``, ``<g,w>``, ``<w,w>``, ``<w,p>``) in one pass over the
data. Per-weight maxima and sums over the rows are segment reductions, with no host
synchronisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

# Weights with different row lengths may share a workspace: shorter rows are zero-padded, which
# leaves every inner product unchanged. Weights are grouped while padding at most doubles the
# workspace or adds at most PAD_SLACK elements, so models with many small tensors need few ops.
PAD_SLACK = 1 << 16


def row_length(weight: Tensor) -> int:
    """Length of one row of the channel view ``weight.view(weight.size(0), -1)``."""
    return weight[0].numel()


def workspace_groups(weights: Sequence[Tensor]) -> list[list[int]]:
    """Indices of ``weights`` grouped by device and dtype, then greedily from the longest rows
    down, as long as zero padding to the group's longest row stays within the bound above."""
    kinds: dict[tuple, list[int]] = {}
    for i, w in enumerate(weights):
        kinds.setdefault((w.device, w.dtype), []).append(i)
    groups: list[list[int]] = []
    for idx in kinds.values():
        current: list[int] = []
        width = rows = used = 0
        for i in sorted(idx, key=lambda i: -row_length(weights[i])):
            r, size = weights[i].shape[0], weights[i].numel()
            if current and (rows + r) * width > max(2 * (used + size), used + size + PAD_SLACK):
                groups.append(current)
                current = []
            if not current:
                width, rows, used = row_length(weights[i]), 0, 0
            current.append(i)
            rows, used = rows + r, used + size
        groups.append(current)
    return groups


def radial_coefficients(
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    fill: Callable[[list[Tensor]], None],
    delta: float,
    eps: float,
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """The cosine test and the projection coefficients of weights sharing device and dtype.

    :param weights: tensors with at least two dimensions.
    :param grads: their gradients (the cosine test uses the raw gradient, not the update).
    :param fill: writes the momentum updates ``p`` into the list of tensors it is given (views of
        the workspace, in the weights' shapes).
    :param delta: threshold of the cosine test.
    :param eps: the epsilon of the norms.
    :returns: the updates as filled in (workspace views); per weight, the coefficients ``c`` of
        ``p <- p - c w``, shaped ``(rows, 1, ..., 1)`` to broadcast against the weight (zero
        where the weight is not projected); and a boolean tensor, True where a weight was found
        scale-invariant.
    """
    first, device = weights[0], weights[0].device
    rows, cols = [w.shape[0] for w in weights], [row_length(w) for w in weights]
    total, width = sum(rows), max(cols)
    work = torch.empty(total, 3, width, device=device, dtype=first.dtype)
    blocks = work.split(rows)
    # slots[k][i]: the rows of weight i in field k (0: gradient, 1: weight, 2: update), as views.
    slots = [[b[:, k, :c].view(w.shape) for b, c, w in zip(blocks, cols, weights)] for k in range(3)]
    padding = [b[:, :, c:] for b, c in zip(blocks, cols) if c < width]
    if padding:
        torch._foreach_zero_(padding)
    torch._foreach_copy_(slots[0], list(grads))
    torch._foreach_copy_(slots[1], list(weights))
    fill(slots[2])

    # One pass over the data: gram[r] = B_r B_r^T holds <g,g>, <g,w>, <w,w>, <w,p> of row r.
    gram = torch.bmm(work, work.transpose(1, 2))
    row_stats = torch.stack((gram[:, 0, 0], gram[:, 0, 1], gram[:, 1, 1], gram[:, 1, 2]), dim=1)
    lengths = torch.tensor(rows, device=device)
    limits = torch.tensor(
        [[delta / math.sqrt(c), delta / math.sqrt(r * c)] for r, c in zip(rows, cols)],
        device=device,
        dtype=first.dtype,
    )

    # Channel view: |cos| < delta / sqrt(row length) must hold for every row (max over the rows).
    g_norm, w_norm = row_stats[:, 0].sqrt(), row_stats[:, 2].sqrt()
    cos_rows = row_stats[:, 1].abs() / (g_norm.clamp_min(eps) * w_norm.clamp_min(eps))
    channel = torch.segment_reduce(cos_rows, "max", lengths=lengths) < limits[:, 0]

    # Layer view: the same test on the whole flattened tensor (sums of the row statistics).
    stats = torch.segment_reduce(row_stats, "sum", lengths=lengths, axis=0)
    g_norm_l, w_norm_l = stats[:, 0].sqrt(), stats[:, 2].sqrt()
    cos_layer = stats[:, 1].abs() / (g_norm_l.clamp_min(eps) * w_norm_l.clamp_min(eps))
    layer = ~channel & (cos_layer < limits[:, 1])

    # c = <w, p> / (||w|| + eps)^2 with the norm of the view that passed the test.
    coef_channel = row_stats[:, 3] / (w_norm + eps).square()
    coef_layer = torch.where(layer, stats[:, 3] / (w_norm_l + eps).square(), 0.0)
    per_row = dict(repeats=lengths, output_size=total)
    coef = torch.where(
        channel.repeat_interleave(**per_row), coef_channel, coef_layer.repeat_interleave(**per_row)
    )
    coefs = [c.view((-1,) + (1,) * (w.dim() - 1)) for c, w in zip(coef.split(rows), weights)]
    return slots[2], coefs, channel | layer


def project(
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    fill: Callable[[Sequence[int], list[Tensor]], None],
    delta: float,
    eps: float,
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """``radial_coefficients`` over weights of any shapes (each at least two-dimensional).

    :param fill: ``fill(indices, dst)`` writes the updates of ``weights[i] for i in indices`` into
        ``dst``.
    :returns: in the input order, the filled-in updates, the coefficients ``c`` (apply with
        ``p -= c * w``), and a 0-dim boolean tensor per weight telling whether it is projected.
    """
    n = len(weights)
    updates: list[Tensor] = [torch.empty(0)] * n
    coefs: list[Tensor] = [torch.empty(0)] * n
    flags: list[Tensor] = [torch.empty(0)] * n
    for idx in workspace_groups(weights):
        u, c, f = radial_coefficients(
            [weights[i] for i in idx],
            [grads[i] for i in idx],
            lambda dst, idx=idx: fill(idx, dst),
            delta,
            eps,
        )
        for i, ui, ci, fi in zip(idx, u, c, f.unbind()):
            updates[i], coefs[i], flags[i] = ui, ci, fi
    return updates, coefs, flags
