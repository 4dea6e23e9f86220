"""The small-scale experiment of the claim test and the example: Pre-LN against LayerNorm Scaling on
byte-level text, compute-matched (same data order, steps, batch and optimizer), then per-layer statistics.

* validation loss (mean next-byte cross-entropy, nats);
* per-layer angular distance between each block's input and output (tinylm's ``layer_stats``) and
  residual variance;
* layer removal: the increase of the validation loss when one block is skipped (its attention and ffn
  outputs patched to zero, so the block passes its input through).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.hooks import patch
from paperzoo_tinylm.layer_stats import layer_stats
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_layernorm_scaling.model import LayerNormScalingDecoder


@dataclass
class RunResult:
    """What one training run measured."""

    val_loss: float
    angle: list[float]
    resid_var: list[float]
    removal: list[float]


def _blocks(text: bytes, seq_len: int) -> torch.Tensor:
    data = torch.tensor(list(text), dtype=torch.long)
    n = (len(data) - 1) // seq_len
    return torch.stack([data[i * seq_len : i * seq_len + seq_len + 1] for i in range(n)])


@torch.no_grad()
def _loss(model: torch.nn.Module, batch: torch.Tensor) -> float:
    logits = model(batch[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten()).item()


def run(
    scaled: bool,
    seed: int,
    n_layers: int = 12,
    d_model: int = 32,
    steps: int = 150,
    batch_size: int = 16,
    seq_len: int = 32,
    lr: float = 3e-3,
    max_bytes: int = 200_000,
) -> RunResult:
    """Train one decoder (LayerNorm Scaling when ``scaled``, else Pre-LN) and measure it."""
    train_text, val_text = stdlib_split(max_bytes)
    train, val = _blocks(train_text, seq_len), _blocks(val_text, seq_len)[:64]
    torch.manual_seed(seed)
    cls = LayerNormScalingDecoder if scaled else TinyLMDecoder
    model = cls(d_model=d_model, n_layers=n_layers, n_heads=2, vocab_size=256, max_seq_len=seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.1 + 0.45 * (1 + math.cos(math.pi * s / steps))
    )
    order = torch.randint(len(train), (steps, batch_size), generator=torch.Generator().manual_seed(seed))
    model.train()
    for s in range(steps):
        batch = train[order[s]]
        logits = model(batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    base = _loss(model, val)
    stats = layer_stats(model, val[:16, :-1], val[:16, 1:])
    removal = []
    for i in range(n_layers):
        with (
            patch(model, f"blocks.{i}.attn.out", torch.zeros_like),
            patch(model, f"blocks.{i}.mlp.out", torch.zeros_like),
        ):
            removal.append(_loss(model, val) - base)
    return RunResult(base, stats.angle, stats.resid_var, removal)
