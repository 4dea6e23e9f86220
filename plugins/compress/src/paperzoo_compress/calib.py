"""Calibration activations through tinylm's hook names: the input of every Linear of a pre-norm block.

The hook points give the residual stream and the sublayers' internals; the Linears' inputs follow from
them: ``q/k/v_proj`` read ``attn_norm(resid_pre)``, ``o_proj`` reads ``attn.z`` (heads concatenated),
``gate/up_proj`` (or ``up_proj`` of an ``mlp``) read ``ffn_norm(resid_mid)`` and ``down_proj`` reads
``mlp.post``.
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.hooks import capture
from torch import nn

POINTS = ("resid_pre", "attn.z", "resid_mid", "mlp.post", "resid_post")


def check_supported(model: nn.Module) -> None:
    """Raise ``ValueError`` for a model these helpers cannot read: only ``pre``-norm tinylm decoders with a
    dense ffn (``gated`` or ``mlp``) and no out-norms."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not hasattr(model, "tok_embed"):
        raise ValueError("model: accepted: a tinylm decoder (tinylm_decoder)")
    for i, block in enumerate(blocks):
        if block.placement != "pre":
            raise ValueError(f"model.norm_placement: block {i} is {block.placement!r}; accepted: 'pre'")
        if not hasattr(block.mlp, "down_proj") or not hasattr(block.mlp, "up_proj"):
            raise ValueError(f"model.ffn: block {i} has no dense ffn; accepted: 'gated' or 'mlp'")


@torch.no_grad()
def block_inputs(model: nn.Module, input_ids: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Per block, the hook-point tensors of one forward pass over ``input_ids`` ``[B, T]``:
    ``resid_pre``, ``attn.z`` (as ``[B, T, H*Dh]``), ``resid_mid``, ``mlp.post``, ``resid_post``."""
    check_supported(model)
    names = [f"blocks.{i}.{p}" for i in range(len(model.blocks)) for p in POINTS]
    with capture(model, names) as got:
        model(input_ids)
    out = []
    for i in range(len(model.blocks)):
        d = {p: got[f"blocks.{i}.{p}"] for p in POINTS}
        z = d["attn.z"]
        d["attn.z"] = z.transpose(1, 2).reshape(z.shape[0], z.shape[2], -1)
        out.append(d)
    return out


@torch.no_grad()
def linear_inputs(block: nn.Module, points: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The input ``[B, T, in]`` of each Linear of ``block`` (names relative to the block)."""
    x_attn = block.attn_norm(points["resid_pre"])
    x_ffn = block.ffn_norm(points["resid_mid"])
    out = {f"attn.{n}": x_attn for n in ("q_proj", "k_proj", "v_proj")}
    out["attn.o_proj"] = points["attn.z"]
    out["mlp.up_proj"] = x_ffn
    if hasattr(block.mlp, "gate_proj"):
        out["mlp.gate_proj"] = x_ffn
    out["mlp.down_proj"] = points["mlp.post"]
    return out


def block_context(model: nn.Module, seq_len: int, dtype: torch.dtype):
    """``(mask, rotary)`` to call a block (or its attention) on an uncached, unpadded ``[B, seq_len]``
    input, as the model's forward builds them (positions on the device of the model's embedding)."""
    mask = AttentionMask(model.causal, 0, None)
    rotary = None
    if model.config.position == "rope":
        positions = torch.arange(seq_len, device=model.tok_embed.weight.device)
        rotary = model.rotary(positions[None], dtype)
    return mask, rotary


def mean_abs(x: torch.Tensor) -> torch.Tensor:
    """Per input channel mean magnitude ``mean |x|`` over every token (AWQ's activation statistic)."""
    return x.abs().reshape(-1, x.shape[-1]).mean(0)
