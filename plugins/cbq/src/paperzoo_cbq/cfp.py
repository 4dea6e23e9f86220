"""Coarse-to-fine preprocessing (CFP, CBQ section 3.3): find outliers in two stages, then truncate
outlier weights and scale down outlier activation channels before reconstruction.

**Detection** of outliers among non-negative magnitudes ``v`` (:func:`outlier_threshold`):

* coarse: the interquartile rule, candidates ``v > Q3 + lambda1 (Q3 - Q1)`` (``lambda1 = 1.5``);
* fine: among the sorted candidates, the split into the ``k`` largest (outliers) and the rest
  (``rest_k``: every value outside the top ``k``) that minimises the size-weighted intra-set variance
  ``(k Var(top_k) + (n - k) Var(rest_k)) / n``, which is the same as maximising the inter-set distance
  ``k (n - k) / n^2 (mean(top_k) - mean(rest_k))^2`` (Otsu's split: their sum is the fixed total
  variance); the threshold ``T`` is the largest value kept.

The paper states the fine stage in words (minimise the intra-set variance, maximise the inter-set
distance, weighted by a hyperparameter); the objective above is our transcription, under which the weight
does not change the split.

**Weights**: per Linear, over ``|W|``; outlier entries are truncated to ``sign(w) T`` (not
function-preserving: it trades a little float error for a finer grid).

**Activations**: per input channel, ``c_j = max |x_j|`` over the calibration tokens; outlier channels get
``s_j = (c_j / T)^alpha`` (others 1), the activation is divided by ``s`` and the reading weights'
columns multiplied by it, folded into the producing op (:mod:`paperzoo_compress.fold`: ``attn_norm`` for
``q/k/v_proj``, ``ffn_norm`` for ``gate/up_proj``, ``v_proj`` for ``o_proj``, ``up_proj`` for
``down_proj``): function-preserving.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from paperzoo_compress.calib import block_inputs, check_supported, linear_inputs
from paperzoo_compress.fold import scale_linear_into_linear, scale_norm_into_linears
from paperzoo_compress.linear import block_linears
from torch import nn


@torch.no_grad()
def outlier_threshold(v: torch.Tensor, lambda1: float = 1.5) -> float:
    """The coarse-to-fine threshold ``T`` of the magnitudes ``v`` (any shape): the outliers are
    ``v > T``; ``T = max v`` when the coarse stage finds no candidate."""
    v = v.detach().flatten().double()
    q1, q3 = torch.quantile(v, 0.25).item(), torch.quantile(v, 0.75).item()
    coarse = q3 + lambda1 * (q3 - q1)
    s = torch.sort(v, descending=True).values
    n_cand = int((s > coarse).sum())
    if n_cand == 0:
        return float(s[0])
    n = s.numel()
    csum, csq = torch.cumsum(s, 0), torch.cumsum(s * s, 0)
    k = torch.arange(1, n_cand + 1, dtype=s.dtype)
    top_sum, top_sq = csum[:n_cand], csq[:n_cand]
    rest_n = (n - k).clamp(min=1)
    rest_sum, rest_sq = csum[-1] - top_sum, csq[-1] - top_sq
    # size-weighted intra-set variance (n_top Var(top) + n_rest Var(rest)) / n
    intra = (top_sq - top_sum**2 / k + rest_sq - rest_sum**2 / rest_n) / n
    best = int(torch.argmin(intra))  # the top best + 1 values are the outliers
    return float(s[best + 1]) if best + 1 < n else float(s[-1])


@torch.no_grad()
def truncate_weight_outliers_(linear: nn.Linear, lambda1: float = 1.5) -> int:
    """In place: clamp ``linear.weight`` to ``[-T, T]``; returns how many entries were truncated."""
    w = linear.weight
    t = outlier_threshold(w.abs(), lambda1)
    n = int((w.abs() > t).sum())
    w.clamp_(-t, t)
    return n


@torch.no_grad()
def activation_scales(x: torch.Tensor, alpha: float = 0.5, lambda1: float = 1.5) -> torch.Tensor:
    """Per-channel ``s`` of inputs ``x`` ``[..., C]``: ``(c_j / T)^alpha`` on outlier channels, 1 else."""
    c = x.abs().reshape(-1, x.shape[-1]).amax(0)
    t = outlier_threshold(c, lambda1)
    s = torch.ones_like(c)
    out = c > t
    s[out] = (c[out] / t).pow(alpha)
    return s


@torch.no_grad()
def _scale_block_(
    block: nn.Module, xs: dict[str, torch.Tensor], alpha: float, lambda1: float
) -> dict[str, int]:
    """Scale the outlier channels of every Linear input of ``block`` (``xs``: :func:`linear_inputs`),
    folded into the producing op; returns the number of scaled channels per site."""
    attn, mlp = block.attn, block.mlp
    ffn = [mlp.up_proj] + ([mlp.gate_proj] if hasattr(mlp, "gate_proj") else [])
    counts = {}
    for site, key in (("attn_norm", "attn.q_proj"), ("ffn_norm", "mlp.up_proj"), ("up_proj", "mlp.down_proj"),
                      ("v_proj", "attn.o_proj")):  # fmt: skip
        if site == "v_proj" and attn.v_proj.out_features != attn.o_proj.in_features:
            continue  # grouped-query attention: v_proj's rows do not map one to one to o_proj's columns
        s = activation_scales(xs[key], alpha, lambda1)
        counts[site] = int((s != 1).sum())
        if site == "attn_norm":
            scale_norm_into_linears(block.attn_norm, [attn.q_proj, attn.k_proj, attn.v_proj], s)
        elif site == "ffn_norm":
            scale_norm_into_linears(block.ffn_norm, ffn, s)
        elif site == "up_proj":
            scale_linear_into_linear(mlp.up_proj, mlp.down_proj, s)
        else:
            scale_linear_into_linear(attn.v_proj, attn.o_proj, s)
    return counts


@dataclass
class CFPReport:
    """What CFP changed: outlier activation channels scaled per (block, site), weights truncated per
    Linear name."""

    scaled_channels: dict[str, int] = field(default_factory=dict)
    truncated_weights: dict[str, int] = field(default_factory=dict)


@torch.no_grad()
def cfp_(
    model: nn.Module,
    calib_ids: torch.Tensor,
    alpha: float = 0.5,
    weights: bool = True,
    activations: bool = True,
    lambda1: float = 1.5,
) -> CFPReport:
    """In place on a tinylm decoder: activation outlier scaling (folded), then weight truncation."""
    check_supported(model)
    report = CFPReport()
    if activations:
        points = block_inputs(model, calib_ids)
        for i, block in enumerate(model.blocks):
            for site, s in _scale_block_(block, linear_inputs(block, points[i]), alpha, lambda1).items():
                report.scaled_channels[f"blocks.{i}.{site}"] = s
    if weights:
        for name, linear in block_linears(model).items():
            report.truncated_weights[name] = truncate_weight_outliers_(linear, lambda1)
    return report
