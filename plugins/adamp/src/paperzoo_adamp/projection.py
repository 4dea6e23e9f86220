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

Everything but the inner products is computed for many weights at once: each inner product of a
weight's rows is one ``torch.linalg.vecdot`` pass over the two tensors (no copies), written into a
shared buffer of row statistics; the tests and coefficients of all weights are then a handful of
vectorised ops on that buffer (segment reductions for per-weight maxima and sums). The decisions
are read on the host once per call, so that ``<w, p>`` and the projection are computed only for the
weights that pass (on a CPU this read costs nothing; on a GPU it is one synchronisation per chunk
of parameters, where the official code synchronises once or twice per parameter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def rows(t: Tensor) -> Tensor:
    """The channel view ``t.reshape(t.size(0), -1)`` (a view unless ``t`` is not contiguous)."""
    return t.reshape(t.shape[0], -1)


def row_dots(pairs: Sequence[tuple[Tensor, Tensor]], out: Tensor) -> None:
    """``out[r0:r1] = <a_r, b_r>`` for the rows of each pair, consecutively (one pass per pair)."""
    start = 0
    for a, b in pairs:
        n = a.shape[0]
        torch.linalg.vecdot(rows(a), rows(b), out=out[start : start + n])
        start += n


def row_norms(tensors: Sequence[Tensor], out: Tensor) -> None:
    """``out[r0:r1] = ||t_r||`` for the rows of each tensor, consecutively (one pass per tensor)."""
    start = 0
    for t in tensors:
        n = t.shape[0]
        torch.linalg.vector_norm(rows(t), dim=1, out=out[start : start + n])
        start += n


def scale_invariance(
    weights: Sequence[Tensor], grads: Sequence[Tensor], delta: float, eps: float
) -> tuple[list[str | None], Tensor]:
    """The cosine test of weights sharing device and dtype (each at least two-dimensional).

    :returns: per weight the view that passed (``"channel"``, ``"layer"``, or ``None`` when the weight
        is not scale-invariant), and ``||w||`` of every row (all weights' rows, consecutively).
    """
    first, device = weights[0], weights[0].device
    lengths_list = [w.shape[0] for w in weights]
    cols = [w[0].numel() for w in weights]
    total = sum(lengths_list)
    # Per row: ||g||, <g, w>, ||w|| (a norm is one pass over one tensor, the inner product one over two).
    stats = torch.empty(3, total, device=device, dtype=first.dtype)
    row_norms(grads, stats[0])
    row_dots(list(zip(grads, weights)), stats[1])
    row_norms(weights, stats[2])
    lengths = torch.tensor(lengths_list, device=device)
    limits = torch.tensor(
        [[delta / math.sqrt(c), delta / math.sqrt(r * c)] for r, c in zip(lengths_list, cols)],
        device=device,
        dtype=first.dtype,
    )

    # Channel view: |cos| < delta / sqrt(row length) must hold for every row (max over the rows).
    g_norm, w_norm = stats[0], stats[2]
    cos_rows = stats[1].abs() / (g_norm.clamp_min(eps) * w_norm.clamp_min(eps))
    channel = torch.segment_reduce(cos_rows, "max", lengths=lengths) < limits[:, 0]

    # Layer view: the same test on the whole flattened tensor (sums of the row statistics).
    squares = torch.stack((stats[0].square(), stats[1], stats[2].square()), dim=1)
    sums = torch.segment_reduce(squares, "sum", lengths=lengths, axis=0)
    g_norm_l, w_norm_l = sums[:, 0].sqrt(), sums[:, 2].sqrt()
    cos_layer = sums[:, 1].abs() / (g_norm_l.clamp_min(eps) * w_norm_l.clamp_min(eps))
    layer = cos_layer < limits[:, 1]

    views = ["channel" if c else "layer" if lay else None for c, lay in zip(channel.tolist(), layer.tolist())]
    return views, stats[2]


def project_(
    updates: Sequence[Tensor],
    weights: Sequence[Tensor],
    views: Sequence[str | None],
    w_norm: Tensor,
    eps: float,
) -> None:
    """``p <- p - c w`` in place for the updates of the weights whose ``views[i]`` is not ``None``,
    with ``c = <w, p> / (||w|| + eps)^2`` per row of that view.

    :param w_norm: ``||w||`` of every row of every weight, consecutively (from ``scale_invariance``).
    """
    starts = [0]
    for w in weights:
        starts.append(starts[-1] + w.shape[0])
    chosen = [i for i, v in enumerate(views) if v is not None]
    if not chosen:
        return
    lengths_list = [weights[i].shape[0] for i in chosen]
    w_norm = torch.cat([w_norm[starts[i] : starts[i + 1]] for i in chosen])
    wp = torch.empty_like(w_norm)  # <w, p> per row
    row_dots([(weights[i], updates[i]) for i in chosen], wp)
    lengths = torch.tensor(lengths_list, device=wp.device)
    per_row = dict(repeats=lengths, output_size=wp.shape[0])
    # Channel view: c per row; layer view: one c from the sums over the rows.
    coef_channel = wp / (w_norm + eps).square()
    sums = torch.segment_reduce(torch.stack((wp, w_norm.square()), dim=1), "sum", lengths=lengths, axis=0)
    coef_layer = (sums[:, 0] / (sums[:, 1].sqrt() + eps).square()).repeat_interleave(**per_row)
    is_channel = torch.tensor([views[i] == "channel" for i in chosen], device=wp.device)
    coef = torch.where(is_channel.repeat_interleave(**per_row), coef_channel, coef_layer)
    coefs = [c.view((-1,) + (1,) * (weights[i].dim() - 1)) for c, i in zip(coef.split(lengths_list), chosen)]
    torch._foreach_addcmul_([updates[i] for i in chosen], coefs, [weights[i] for i in chosen], value=-1)
