"""AWQ's two searches on a tinylm decoder, block by block (Lin et al., 2024, section 3; the official
``auto_scale.py`` / ``auto_clip.py``), and the whole pipeline :func:`awq_quantize_`.

**Scale search.** For a group of Linears reading the same input ``x`` (the norm's output for
``q/k/v_proj`` and ``gate/up_proj``; ``v_proj``'s output for ``o_proj``; ``up_proj``'s for
``down_proj``), with ``s_x`` the per-channel mean ``|x|`` over calibration tokens: for ``alpha`` in
``0, 1/n_grid, ..., (n_grid-1)/n_grid``, ``s = s_x^alpha`` (floored at ``1e-4``, normalised by
``sqrt(max s * min s)``); every Linear's weight becomes ``Q(W diag(s)) diag(s)^-1``; the error is the
mean squared difference of the inspected module's output (attention for ``q/k/v``, the ffn for
``gate/up``, the Linear itself otherwise) from the float output. The best ``s`` is folded into the
producing op (:mod:`paperzoo_compress.fold`), a function-preserving change, and the calibration inputs
are divided by it.

**Clip search.** For every Linear but ``q/k_proj``, per output row and group, the clipping threshold
``max |w| * (1 - i/n_grid)`` for ``i < max_shrink * n_grid`` that minimises the mean squared error of
the group's partial products ``sum_j x_j w_j`` over (at most ``n_sample_token``) calibration tokens.

Finally every block Linear is round-to-nearest quantised. The calibration inputs of every block come
from one float forward pass (as the official code's, whose next-block inputs are the float block's
outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from paperzoo_compress.calib import block_context, block_inputs, check_supported, linear_inputs, mean_abs
from paperzoo_compress.fold import scale_linear_into_linear, scale_norm_into_linears
from paperzoo_compress.ptq import rtn_quantize_
from paperzoo_compress.quant import fake_quantize
from torch import nn

Quantizer = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class AWQResult:
    """What the searches chose: per scaled group ``(block, prev op, linears, alpha, scales)``, and per
    clipped Linear ``(name, max_val [out, n_groups])``."""

    scales: list[tuple[int, str, tuple[str, ...], float, torch.Tensor]] = field(default_factory=list)
    clips: list[tuple[str, torch.Tensor]] = field(default_factory=list)

    def alphas(self) -> list[float]:
        return [a for _, _, _, a, _ in self.scales]


def grid_scales(x_mean: torch.Tensor, alpha: float) -> torch.Tensor:
    """``s = x_mean^alpha`` floored at 1e-4, normalised by ``sqrt(max s * min s)``."""
    s = x_mean.pow(alpha).clamp(min=1e-4).view(-1)
    return s / (s.max() * s.min()).sqrt()


@torch.no_grad()
def search_scale(
    inspect: Callable[[torch.Tensor], torch.Tensor],
    linears: Sequence[nn.Linear],
    x: torch.Tensor,
    quantizer: Quantizer,
    n_grid: int = 20,
) -> tuple[float, torch.Tensor, list[float]]:
    """Grid-search ``alpha``: ``(best alpha, best scales, error per alpha)``. ``inspect(x)`` runs the
    module whose output is compared; the Linears' weights are restored afterwards."""
    reference = inspect(x)
    x_mean = mean_abs(x)
    saved = [lin.weight.detach().clone() for lin in linears]
    best, best_alpha, best_s, history = float("inf"), -1.0, None, []
    for i in range(n_grid):
        alpha = i / n_grid
        s = grid_scales(x_mean, alpha)
        for lin, w in zip(linears, saved):
            lin.weight.copy_(quantizer(w * s.view(1, -1)) / s.view(1, -1))
        err = (reference - inspect(x)).float().pow(2).mean().item()
        history.append(err)
        if err < best:
            best, best_alpha, best_s = err, alpha, s
        for lin, w in zip(linears, saved):
            lin.weight.copy_(w)
    if best_s is None:
        raise FloatingPointError(f"no finite error in the scale search: {history}")
    return best_alpha, best_s, history


@torch.no_grad()
def search_clip(
    w: torch.Tensor,
    x: torch.Tensor,
    quantizer: Quantizer,
    group_size: int,
    n_grid: int = 20,
    max_shrink: float = 0.5,
    n_sample_token: int = 512,
) -> torch.Tensor:
    """Per output row and group, the best clipping threshold ``max_val`` ``[out, n_groups]``."""
    g = group_size if group_size > 0 else w.shape[1]
    x = x.reshape(-1, x.shape[-1])
    x = x[:: max(1, x.shape[0] // n_sample_token)]
    xg = x.reshape(1, x.shape[0], -1, g)  # 1, n_token, n_group, g
    wg = w.reshape(w.shape[0], 1, -1, g)  # out, 1, n_group, g
    org_max = wg.abs().amax(dim=-1, keepdim=True)  # out, 1, n_group, 1
    best_max, min_err = org_max.clone(), torch.full_like(org_max, 1e9)
    org_out = (xg * wg).sum(dim=-1)  # out, n_token, n_group
    for i in range(int(max_shrink * n_grid)):
        max_val = org_max * (1 - i / n_grid)
        q = quantizer(torch.clamp(wg, -max_val, max_val).reshape(w.shape)).reshape(wg.shape)
        err = ((xg * q).sum(dim=-1) - org_out).pow(2).mean(dim=1).view(min_err.shape)
        better = err < min_err
        min_err[better], best_max[better] = err[better], max_val[better]
    return best_max.reshape(w.shape[0], -1)


@torch.no_grad()
def apply_clip_(linear: nn.Linear, max_val: torch.Tensor) -> None:
    """In place: each group of ``linear.weight`` clamped to ``[-max_val, max_val]``."""
    w = linear.weight
    m = max_val.to(w).unsqueeze(-1)
    linear.weight.copy_(torch.clamp(w.reshape(*m.shape[:2], -1), -m, m).reshape(w.shape))


def _groups(block: nn.Module, mask, rotary) -> list[tuple[str, nn.Module, list[str], Callable, str]]:
    """``(prev op name, prev op, linear names, inspect fn, input key)`` of one block, in AWQ's order."""
    attn, mlp = block.attn, block.mlp
    ffn_in = ["mlp.gate_proj", "mlp.up_proj"] if hasattr(mlp, "gate_proj") else ["mlp.up_proj"]
    groups = [
        (
            "attn_norm",
            block.attn_norm,
            ["attn.q_proj", "attn.k_proj", "attn.v_proj"],
            lambda x: attn(x, mask, rotary),
            "attn.q_proj",
        ),
    ]
    if attn.v_proj.weight.shape == attn.o_proj.weight.shape:  # no grouped-query attention
        groups.append(("attn.v_proj", attn.v_proj, ["attn.o_proj"], attn.o_proj, "attn.o_proj"))
    groups.append(("ffn_norm", block.ffn_norm, ffn_in, mlp, "mlp.up_proj"))
    if hasattr(mlp, "gate_proj"):  # act(gate) * up is linear in up's output
        groups.append(("mlp.up_proj", mlp.up_proj, ["mlp.down_proj"], mlp.down_proj, "mlp.down_proj"))
    return groups


@torch.no_grad()
def awq_search_block(
    model: nn.Module,
    index: int,
    points: dict[str, torch.Tensor],
    quantizer: Quantizer,
    group_size: int,
    *,
    auto_scale: bool = True,
    auto_clip: bool = True,
    n_grid: int = 20,
    result: AWQResult | None = None,
) -> AWQResult:
    """Search and apply (in place, weights not yet quantised) the scales and clips of block ``index``
    from its captured hook points (see :func:`paperzoo_compress.calib.block_inputs`)."""
    result = result if result is not None else AWQResult()
    block = model.blocks[index]
    feats = linear_inputs(block, points)
    mask, rotary = block_context(model, points["resid_pre"].shape[1], points["resid_pre"].dtype)
    if auto_scale:
        for prev_name, prev, names, inspect, key in _groups(block, mask, rotary):
            linears = [block.get_submodule(n) for n in names]
            alpha, s, _ = search_scale(inspect, linears, feats[key], quantizer, n_grid)
            if isinstance(prev, nn.Linear):
                scale_linear_into_linear(prev, linears[0], s)
            else:
                scale_norm_into_linears(prev, linears, s)
            for n in names:
                feats[n] = feats[n] / s.to(feats[n])
            result.scales.append((index, prev_name, tuple(names), alpha, s))
    if auto_clip:
        for name, x in feats.items():
            if name in ("attn.q_proj", "attn.k_proj"):  # q k^T makes the error hard to measure
                continue
            linear = block.get_submodule(name)
            max_val = search_clip(linear.weight, x, quantizer, group_size, n_grid)
            apply_clip_(linear, max_val)
            result.clips.append((f"blocks.{index}.{name}", max_val))
    return result


@torch.no_grad()
def awq_quantize_(
    model: nn.Module,
    calib_ids: torch.Tensor,
    bits: int = 4,
    group_size: int = 128,
    *,
    auto_scale: bool = True,
    auto_clip: bool = True,
    n_grid: int = 20,
    quantize: bool = True,
) -> AWQResult:
    """AWQ on a pre-norm tinylm decoder, in place: scale search, clip search, then (``quantize``)
    round-to-nearest asymmetric ``bits``-bit quantisation of every block Linear in groups of
    ``group_size`` input channels. Returns the searched scales and clips."""
    check_supported(model)
    was_training = model.training
    model.eval()

    def quantizer(w: torch.Tensor) -> torch.Tensor:
        return fake_quantize(w, bits, group_size)

    points = block_inputs(model, calib_ids)
    result = AWQResult()
    for i in range(len(model.blocks)):
        awq_search_block(
            model,
            i,
            points[i],
            quantizer,
            group_size,
            auto_scale=auto_scale,
            auto_clip=auto_clip,
            n_grid=n_grid,
            result=result,
        )
    if quantize:
        rtn_quantize_(model, bits, group_size)
    model.train(was_training)
    return result
