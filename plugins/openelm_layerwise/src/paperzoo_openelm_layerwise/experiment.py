"""The claim experiment: a layer-wise scaled decoder against a uniform one of (nearly) the same parameter
count, trained alike on tinylm's standard-library text; validation loss is the figure.

Both models: ``d_model`` 64, 8 layers, heads of width 16 (one query head per key/value head), q/k
RMSNorm, tied head, corenet's init. Layer-wise: ``qkv_multipliers`` (0.5, 1.0) and ``ffn_multipliers``
(0.5, 4.0) (OpenELM's defaults), FFN widths multiples of 8: heads 2 to 4 (26 in all), FFN widths 32 to
256, 352,256 parameters. Uniform: 3 heads and FFN width 152 in every layer (``qkv_multipliers`` 0.75, the
mean; ``ffn_multipliers`` 2.375, a little above the mean 2.25 to make up for 2 fewer heads), 356,352
parameters (1.2% more than the layer-wise model). Training: AdamW (lr 3e-3, betas 0.9/0.95, no weight decay), 10 warm-up steps then
cosine decay to 10%, batch 16 x 64 bytes, ``STEPS`` steps, one thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.training import lm_loss

from paperzoo_openelm_layerwise.model import LayerwiseScaledTransformer

BASE = {
    "d_model": 64,
    "n_layers": 8,
    "head_dim": 16,
    "num_gqa_groups": 1,
    "ffn_dim_divisor": 8,
    "max_seq_len": 64,
}
MODELS = {
    "layerwise": {"qkv_multipliers": (0.5, 1.0), "ffn_multipliers": (0.5, 4.0)},
    "uniform": {"qkv_multipliers": 0.75, "ffn_multipliers": 2.375},
}
STEPS, BATCH, SEQ_LEN, LR, MAX_BYTES, VAL_BATCHES = 120, 16, 64, 3e-3, 300_000, 8


@dataclass
class Run:
    """One training run: the model's name, seed, parameter count and mean validation loss (nats/byte)."""

    name: str
    seed: int
    n_params: int
    val_loss: float


def build(name: str, seed: int) -> LayerwiseScaledTransformer:
    torch.manual_seed(seed)
    return LayerwiseScaledTransformer(**BASE, **MODELS[name])


def train(name: str, seed: int, steps: int = STEPS) -> Run:
    """Train model ``name`` with ``seed`` (initialisation and data order) and evaluate it."""
    data = stdlib_bytes(seq_len=SEQ_LEN, max_bytes=MAX_BYTES, seed=seed)
    model = build(name, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.0)
    warmup = 10

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.45 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    x = data.train.tensors[0]
    model.train()
    for step in range(steps):
        i = (step * BATCH) % (len(x) - BATCH)
        ids = torch.cat([x[i : i + BATCH], data.train.tensors[1][i : i + BATCH, -1:]], dim=1)
        loss = lm_loss(model, ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    vx, vy = data.val.tensors
    with torch.no_grad():
        losses = [
            lm_loss(model, torch.cat([vx[j : j + BATCH], vy[j : j + BATCH, -1:]], dim=1)).item()
            for j in range(0, min(len(vx), VAL_BATCHES * BATCH), BATCH)
        ]
    return Run(name, seed, model.num_parameters(), sum(losses) / len(losses))
