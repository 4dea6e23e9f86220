"""QLLM's efficient error correction: block-wise low-rank tuning of the quantised model (Sec. 3.2).

Each block Linear gets ``W_q + s B A`` (``s = alpha / rank``, ``A`` Kaiming-uniform, ``B`` zero, as
LoRA and the official ``LoRAQuantLinear``) with its quantised weight ``W_q`` frozen; ``A, B`` of one
block are trained with AdamW to match the float block's output on calibration data, the block's input
being the output of the already quantised blocks before it (activations fake-quantised with a
straight-through rounding). After a block is trained, ``s B A`` is merged into the weight:
:func:`merge_lora` computes ``W + s B A`` (exactly the LoRA forward's weight) and the official code
then quantises the merged weight again for inference (``requantize``), which this module follows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from paperzoo_compress.act import fake_quantize_activations
from paperzoo_compress.calib import block_context, check_supported
from paperzoo_compress.linear import set_module
from paperzoo_compress.quant import fake_quantize
from torch import nn

from paperzoo_qllm.reassembly import Plan


class LoRAQuantLinear(nn.Module):
    """``Q_a(R(x)) (W + s B A)^T + b`` with ``W`` (already quantised) frozen; ``R`` the input's
    reassembly (``plan``, optional) and ``Q_a`` per-token fake quantisation with a straight-through
    rounding (``a_bits`` ``None``: none)."""

    def __init__(
        self, linear: nn.Linear, rank: int, alpha: float, plan: Plan | None = None, a_bits: int | None = 4
    ) -> None:
        super().__init__()
        self.linear, self.plan, self.a_bits = linear, plan, a_bits
        self.scaling = alpha / rank
        w = linear.weight
        self.lora_A = nn.Parameter(w.new_empty(rank, w.shape[1]))
        self.lora_B = nn.Parameter(w.new_zeros(w.shape[0], rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def delta(self) -> torch.Tensor:
        """``s B A`` (``[out, in]``)."""
        return self.lora_B @ self.lora_A * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.plan is not None and self.plan.extra:
            x = self.plan.apply_x(x)
        if self.a_bits is not None:
            x = fake_quantize_activations(x, self.a_bits, "token", ste=True)
        w = self.linear.weight.detach() + self.delta()
        return nn.functional.linear(x, w, self.linear.bias)


@torch.no_grad()
def merge_lora(layer: LoRAQuantLinear) -> torch.Tensor:
    """The merged weight ``W + s B A``: ``x`` through it equals the LoRA forward on the same input."""
    return layer.linear.weight + layer.delta()


def tune_blocks_(
    model: nn.Module,
    float_model: nn.Module,
    calib_ids: torch.Tensor,
    plans: dict[str, Plan],
    w_bits: int = 4,
    a_bits: int | None = 4,
    rank: int = 4,
    alpha: float = 1.0,
    steps: int = 20,
    lr: float = 5e-4,
    batch_size: int = 4,
    weight_decay: float = 0.0,
    requantize: bool = True,
    group_size: int = -1,
    seed: int = 0,
    log: Callable[[int, float], None] | None = None,
) -> list[float]:
    """In place, block by block: train LoRA on ``model``'s (reassembled, weight-quantised) block ``i`` to
    map the quantised chain's input to ``float_model``'s block output, then merge (and re-quantise the
    merged weight at ``w_bits`` and ``group_size`` when ``requantize``). ``model`` must carry no input hooks while this
    runs (the layers apply the reassembly and activation quantiser themselves). Returns each block's
    final batch loss."""
    check_supported(model)
    g = torch.Generator().manual_seed(seed)
    mask, rotary = block_context(model, calib_ids.shape[1], model.tok_embed.weight.dtype)
    with torch.no_grad():
        x_fp = float_model.tok_embed(calib_ids)
        x_q = model.tok_embed(calib_ids)
    finals = []
    for i, (block, fblock) in enumerate(zip(model.blocks, float_model.blocks)):
        with torch.no_grad():
            target = fblock(x_fp, mask, rotary)
        layers: dict[str, LoRAQuantLinear] = {}
        for name, linear in list(block.named_modules()):
            if isinstance(linear, nn.Linear):
                layers[name] = LoRAQuantLinear(linear, rank, alpha, plans.get(f"blocks.{i}.{name}"), a_bits)
                set_module(block, name, layers[name])
        params = [p for layer in layers.values() for p in (layer.lora_A, layer.lora_B)]
        for layer in layers.values():
            layer.linear.weight.requires_grad_(False)
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        loss = torch.zeros(())
        for step in range(steps):
            idx = torch.randint(len(calib_ids), (min(batch_size, len(calib_ids)),), generator=g)
            loss = nn.functional.mse_loss(block(x_q[idx], mask, rotary), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if log is not None:
                log(step, float(loss.detach()))
        finals.append(float(loss.detach()))
        with torch.no_grad():
            for name, layer in layers.items():
                w = merge_lora(layer)
                layer.linear.weight.copy_(fake_quantize(w, w_bits, group_size) if requantize else w)
                layer.linear.weight.requires_grad_(True)
                set_module(block, name, layer.linear)
            x_fp = target
            x_q = _hooked_block(block, x_q, mask, rotary, plans, i, a_bits)
    return finals


def _hooked_block(block, x, mask, rotary, plans, i, a_bits):
    from paperzoo_qllm.method import attach_input_hooks

    wrapper = nn.Module()
    wrapper.blocks = nn.ModuleList([block])
    sub = {
        k.replace(f"blocks.{i}.", "blocks.0.", 1): v for k, v in plans.items() if k.startswith(f"blocks.{i}.")
    }
    handles = attach_input_hooks(wrapper, sub, a_bits)
    try:
        return block(x, mask, rotary)
    finally:
        for h in handles:
            h.remove()
