"""QLLM on a tinylm decoder: adaptive channel reassembly of the Linears' inputs, W-A round-to-nearest,
and the SmoothQuant-style baseline.

Per block, three groups of Linears share one input and one reassembly (as the official code's three
``CRModule``s): ``q/k/v_proj`` (the attention norm's output), ``gate/up_proj`` (the ffn norm's output)
and ``down_proj`` (the ffn hidden activation). ``o_proj`` is not reassembled (nor is it there). The
reassembled weights ``W'`` have the Linear's shape and replace its weight in place; the reassembly of
the input and the activation quantiser run in a forward pre-hook on each Linear.
"""

from __future__ import annotations

import torch
from paperzoo_compress.act import fake_quantize_activations
from paperzoo_compress.calib import block_inputs, check_supported, linear_inputs
from paperzoo_compress.fold import scale_linear_into_linear, scale_norm_into_linears
from paperzoo_compress.linear import block_linears
from paperzoo_compress.quant import fake_quantize
from torch import nn

from paperzoo_qllm.reassembly import Plan, identity_plan, plan_for_theta, search_threshold


def groups(block: nn.Module) -> dict[str, list[str]]:
    """The reassembly groups of a block: group name -> Linear names (relative to the block)."""
    ffn = (["mlp.gate_proj"] if hasattr(block.mlp, "gate_proj") else []) + ["mlp.up_proj"]
    return {"attn": ["attn.q_proj", "attn.k_proj", "attn.v_proj"], "ffn": ffn, "down": ["mlp.down_proj"]}


def quant_output_loss(x: torch.Tensor, w: torch.Tensor, w_bits: int, a_bits: int):
    """``loss(x', w')``: mean squared error between the float ``x w^T`` and the W-A quantised
    ``Q_a(x') Q_w(w')^T`` (per-token activations, per-channel weights): the search's objective (the
    official ``fc1`` form)."""
    ref = x @ w.t()

    def loss(xp: torch.Tensor, wp: torch.Tensor) -> float:
        out = fake_quantize_activations(xp, a_bits, "token") @ fake_quantize(wp, w_bits, -1).t()
        return float(nn.functional.mse_loss(out, ref).detach())

    return loss


def _flat_calib(x: torch.Tensor, max_tokens: int) -> torch.Tensor:
    x = x.reshape(-1, x.shape[-1]).float()
    return x[:max_tokens]


@torch.no_grad()
def find_plans(
    model: nn.Module,
    calib_ids: torch.Tensor,
    w_bits: int = 4,
    a_bits: int = 4,
    channel_ratio: float = 0.1,
    max_tokens: int = 2048,
    adaptive: bool = True,
    theta: float | None = None,
) -> dict[str, Plan]:
    """A reassembly plan per Linear name (``blocks.i.attn.q_proj`` ...), from the float model's inputs
    of each group on ``calib_ids``: the threshold by :func:`search_threshold` (``adaptive``) or the fixed
    ``theta``."""
    check_supported(model)
    points = block_inputs(model, calib_ids)
    plans: dict[str, Plan] = {}
    for i, block in enumerate(model.blocks):
        inputs = linear_inputs(block, points[i])
        for names in groups(block).values():
            x = _flat_calib(inputs[names[0]], max_tokens)
            w = torch.cat([block.get_submodule(n).weight.float() for n in names])
            x_max = x.abs().amax(0)
            if adaptive:
                th, _ = search_threshold(x, w, x_max, channel_ratio, quant_output_loss(x, w, w_bits, a_bits))
            else:
                th = float(theta) if theta is not None else float(x_max.max())
            try:
                plan = plan_for_theta(x, w, x_max, th)
            except ValueError:
                if not adaptive:
                    raise
                plan = identity_plan(x.shape[1])  # the sub-channels fell where they cannot all be merged
            plans.update({f"blocks.{i}.{n}": plan for n in names})
    return plans


@torch.no_grad()
def apply_plans_(model: nn.Module, plans: dict[str, Plan]) -> None:
    """In place: each planned Linear's weight replaced by its reassembled weight ``W'`` (same shape)."""
    for name, plan in plans.items():
        linear = model.get_submodule(name)
        linear.weight.copy_(plan.apply_weight(linear.weight))


def attach_input_hooks(model: nn.Module, plans: dict[str, Plan], a_bits: int | None) -> list:
    """Forward pre-hooks on every block Linear: reassemble its input (planned Linears), then fake-quantise
    it per token at ``a_bits`` (``None``: float activations). Returns the handles."""
    handles = []
    for name, linear in block_linears(model).items():
        plan = plans.get(name)

        def hook(_module, args, plan=plan):
            x = args[0]
            if plan is not None and plan.extra:
                x = plan.apply_x(x)
            if a_bits is not None:
                x = fake_quantize_activations(x, a_bits, "token")
            return (x, *args[1:])

        handles.append(linear.register_forward_pre_hook(hook))
    return handles


@torch.no_grad()
def quantize_weights_(model: nn.Module, w_bits: int, group_size: int = -1) -> None:
    """In place: every block Linear's weight round-to-nearest fake-quantised (asymmetric)."""
    for linear in block_linears(model).values():
        linear.weight.copy_(fake_quantize(linear.weight, w_bits, group_size))


def channel_reassembly_(
    model: nn.Module, calib_ids: torch.Tensor, w_bits: int = 4, a_bits: int = 4, **search
) -> dict[str, Plan]:
    """QLLM's reassembly then W``w_bits``A``a_bits`` round-to-nearest, in place; returns the plans."""
    plans = find_plans(model, calib_ids, w_bits, a_bits, **search)
    apply_plans_(model, plans)
    quantize_weights_(model, w_bits)
    attach_input_hooks(model, plans, a_bits)
    return plans


@torch.no_grad()
def smoothquant_(model: nn.Module, calib_ids: torch.Tensor, alpha: float = 0.5) -> None:
    """SmoothQuant-style migration scaling (Xiao et al. 2023), in place and function-preserving:
    ``s_j = max|X_j|^alpha / max_o |W_oj|^(1 - alpha)`` per input channel of each group above, the
    activations divided by ``s`` (folded into the norm, or into ``up_proj``'s rows for ``down_proj``)
    and the weight columns multiplied by it."""
    check_supported(model)
    points = block_inputs(model, calib_ids)
    for i, block in enumerate(model.blocks):
        inputs = linear_inputs(block, points[i])
        for group, names in groups(block).items():
            linears = [block.get_submodule(n) for n in names]
            x_max = inputs[names[0]].abs().reshape(-1, linears[0].in_features).amax(0)
            w_max = torch.cat([lin.weight for lin in linears]).abs().amax(0)
            s = (x_max.clamp(min=1e-5) ** alpha / w_max.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)
            if group == "attn":
                scale_norm_into_linears(block.attn_norm, linears, s)
            elif group == "ffn":
                scale_norm_into_linears(block.ffn_norm, linears, s)
            else:
                scale_linear_into_linear(block.mlp.up_proj, linears[0], s)
