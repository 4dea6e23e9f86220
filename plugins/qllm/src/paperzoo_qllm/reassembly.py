"""QLLM's channel reassembly on plain tensors: channel disassembly, channel assembly and the adaptive
threshold search (Liu et al., ICLR 2024, Sec. 3.1; the official ``ModelTC/QLLM`` routines
``reassembly/cr_module.py`` and ``assembly/ca_module.py``, rewritten).

Activations ``x`` are ``[..., C]``; weights ``w`` are ``[out, C]`` (the Linears reading ``x``,
concatenated by rows when several share it).

* Disassembly: channel ``c`` with ``max |x_c| > theta`` becomes ``T_c = ceil(max |x_c| / theta)``
  sub-channels ``x_c / T_c`` (consecutive), its weight column repeated ``T_c`` times: ``W x`` unchanged.
* Assembly: the channels are split into the even positions (set A) and the odd ones (set B); each A
  channel is matched to its most similar B channel by ``((sum_o w_oa + sum_o w_ob) ||x_a - x_b||)^2``
  (sub-channels of a disassembled channel excluded), and the ``r`` best pairs are merged: the
  activations averaged (over every channel merged into the same B channel), the weight columns summed;
  the A channels of the pairs are dropped. Exact when the merged activations are equal.
* Reassembly: disassembly adding ``r = sum T_c - C`` channels, then assembly of ``r`` pairs: ``C``
  channels again, so the reassembled Linear has its original shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


def disassembly_counts(x_max: torch.Tensor, theta: float) -> torch.Tensor:
    """``T_c = max(ceil(x_max_c / theta), 1)`` (float, as the official code keeps it)."""
    return torch.clamp(torch.ceil(x_max / theta), min=1.0)


def disassemble_x(x: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Each channel ``c`` repeated ``T_c`` times and divided by ``T_c``: ``[..., sum T_c]``."""
    reps = counts.long().to(x.device)
    scale = (1.0 / counts).to(x).repeat_interleave(reps)
    return x.repeat_interleave(reps, dim=-1) * scale


def disassemble_weight(w: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Each weight column ``c`` repeated ``T_c`` times: ``[out, sum T_c]``."""
    return w.repeat_interleave(counts.long().to(w.device), dim=1)


def pair_scores(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``[ceil(C/2), floor(C/2)]`` dissimilarity of even channel ``a`` and odd channel ``b``:
    ``((sum_o w[o, a]) d_ab + (sum_o w[o, b]) d_ab)^2`` with ``d_ab = ||x_a - x_b||_2`` over tokens (the
    official score; for odd ``C`` the last even channel's weight term is left out, as there)."""
    x = x.reshape(-1, x.shape[-1]).float()
    xa, xb = x[:, ::2], x[:, 1::2]
    dist = torch.cdist(xa.t(), xb.t(), p=2.0)
    wa, wb = w[:, ::2].sum(0).float(), w[:, 1::2].sum(0).float()
    sa = wa[:, None] * dist
    sa[wb.numel() :] = 0.0
    return (sa + wb[None, :] * dist).pow(2)


def mask_split(scores: torch.Tensor, split: torch.Tensor) -> torch.Tensor:
    """``scores`` with the rows (even channels) and columns (odd channels) of ``split`` channels set to
    the dtype's maximum: sub-channels of a disassembled channel are never merged."""
    big = torch.finfo(scores.dtype).max
    out = scores.clone()
    out[split[::2]] = big
    out[:, split[1::2]] = big
    return out


def match_pairs(scores: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``r`` best matches ``(src, dst)`` (indices into the even / odd channels): each even channel's
    most similar odd channel, the ``r`` smallest scores kept (at most half the channels)."""
    r = min(r, (scores.shape[0] + scores.shape[1]) // 2)
    best, dst_all = scores.min(dim=-1)
    src = best.argsort(stable=True)[:r]
    return src, dst_all[src]


def _positions(
    src: torch.Tensor, dst: torch.Tensor, c: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    src_pos, dst_pos = 2 * src, 2 * dst + 1
    keep = torch.ones(c, dtype=torch.bool, device=src.device)
    keep[src_pos] = False
    return src_pos, dst_pos, keep


def assemble_x(x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Merge the matched channels: each odd channel ``2 dst + 1`` becomes the mean of itself and every
    even channel ``2 src`` matched to it; those even channels are dropped (order otherwise kept)."""
    c = x.shape[-1]
    src_pos, dst_pos, keep = _positions(src.to(x.device), dst.to(x.device), c)
    size = torch.ones(c, dtype=x.dtype, device=x.device).index_add(
        0, dst_pos, torch.ones_like(src_pos, dtype=x.dtype)
    )
    total = x.index_add(-1, dst_pos, x.index_select(-1, src_pos))
    return (total / size)[..., keep]


def assemble_weight(w: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The weight side of :func:`assemble_x`: matched columns summed into the odd channel's column."""
    src_pos, dst_pos, keep = _positions(src.to(w.device), dst.to(w.device), w.shape[1])
    return w.index_add(1, dst_pos, w.index_select(1, src_pos))[:, keep]


@dataclass
class Plan:
    """One reassembly: ``counts`` ``[C]`` (sub-channels per channel), the matched ``src``/``dst``
    (indices into the even / odd channels of the disassembled activation) and the threshold."""

    counts: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    theta: float

    @property
    def extra(self) -> int:
        """Channels added by disassembly (and merged back by assembly)."""
        return int(self.counts.sum().item()) - self.counts.numel()

    def apply_x(self, x: torch.Tensor) -> torch.Tensor:
        return assemble_x(disassemble_x(x, self.counts), self.src, self.dst)

    def apply_weight(self, w: torch.Tensor) -> torch.Tensor:
        return assemble_weight(disassemble_weight(w, self.counts), self.src, self.dst)

    def state(self) -> dict:
        return {
            "counts": self.counts.cpu(),
            "src": self.src.cpu(),
            "dst": self.dst.cpu(),
            "theta": self.theta,
        }


def identity_plan(c: int) -> Plan:
    """No reassembly (``C`` channels, nothing matched)."""
    empty = torch.zeros(0, dtype=torch.long)
    return Plan(torch.ones(c), empty, empty.clone(), float("inf"))


def plan_for_theta(x: torch.Tensor, w: torch.Tensor, x_max: torch.Tensor, theta: float) -> Plan:
    """Disassemble at ``theta``, then match ``r`` pairs on the disassembled activations and weights (the
    official order at the final step)."""
    counts = disassembly_counts(x_max, theta)
    r = int(counts.sum().item()) - counts.numel()
    if r == 0:
        return identity_plan(counts.numel())
    xd, wd = disassemble_x(x, counts), disassemble_weight(w, counts)
    split = (1.0 / counts).repeat_interleave(counts.long()) != 1.0
    if int((~split[::2]).sum()) < r or not bool((~split[1::2]).any()):
        raise ValueError(
            f"theta: {theta!r} adds {r} channels but only {int((~split[::2]).sum())} can be merged back; "
            "accepted: a larger threshold (fewer sub-channels)"
        )
    src, dst = match_pairs(mask_split(pair_scores(xd, wd), split), r)
    return Plan(counts, src, dst, float(theta))


Loss = Callable[[torch.Tensor, torch.Tensor], float]


def search_threshold(
    x: torch.Tensor, w: torch.Tensor, x_max: torch.Tensor, channel_ratio: float, loss: Loss
) -> tuple[float, list[float]]:
    """The adaptive threshold (official ``find_threshold``): from ``max x_max`` down in
    ``max(100, int(max / 0.5))`` equal steps to ``min x_max``, stopping once disassembly would add more
    than ``int(C channel_ratio)`` channels (or more than half the channels left whole, so that every
    added channel can be merged back); at each new channel count, assemble first (on the original
    channels, outlier channels excluded) and then disassemble, and score ``loss(x', w')`` (the quantised
    output error). Returns the threshold of the smallest loss (``max x_max``, i.e. no reassembly, when
    no count was evaluated) and the losses seen."""
    c = x_max.numel()
    hi, lo = float(x_max.max()), float(x_max.min())
    steps = max(100, int(hi / 0.5))
    step = (hi - lo) / steps
    budget = int(c * channel_ratio)
    scores = pair_scores(x, w)
    th, best_th, best_loss, prev, losses, cnt = hi, hi, 100000.0, 0, [], 0
    while th >= lo and cnt < steps:
        counts = disassembly_counts(x_max, th)
        r = int(counts.sum().item()) - c
        if r > budget or r > int((counts == 1.0).sum()) // 2:  # never more than can be merged back
            break
        if r != prev:
            src, dst = match_pairs(mask_split(scores, counts > 1.0), r)
            xa, wa = assemble_x(x, src, dst), assemble_weight(w, src, dst)
            ca = assemble_x(counts[None], src, dst)[0]
            value = loss(disassemble_x(xa, ca), disassemble_weight(wa, ca))
            losses.append(value)
            if value < best_loss:
                best_loss, best_th = value, th
            prev = r
        cnt += 1
        th -= step
    return best_th, losses
