"""The claim's experiment: a tiny RoPE decoder trained on 64-byte blocks of the standard library's source,
evaluated on 256-byte validation blocks without fine-tuning, under three RoPE extensions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from paperzoo_tinylm.data import stdlib_bytes

from paperzoo_dprope.layer import DPRoPEDecoder
from paperzoo_dprope.scaling import DPRoPEInvFreq

SIZES = {"d_model": 64, "n_layers": 2, "n_heads": 4, "vocab_size": 363, "max_seq_len": 256}
STRATEGIES = ("dprope", "interpolation", "extrapolation")


def train_and_extend(
    seed: int,
    steps: int = 200,
    train_len: int = 64,
    target_len: int = 256,
    max_bytes: int = 300_000,
    batch_size: int = 16,
    lr: float = 3e-3,
    n_val: int = 24,
) -> dict[str, float]:
    """Train one model at ``train_len``; return the validation perplexity at ``target_len`` per strategy
    (the same weights, only the RoPE frequencies differ), and at ``train_len`` with the default ones."""
    torch.manual_seed(seed)
    model = DPRoPEDecoder(train_len=train_len, target_len=target_len, **SIZES)
    train = stdlib_bytes(train_len, max_bytes, seed=seed).train
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        idx = torch.randint(len(train), (batch_size,), generator=g)
        x, y = train[idx]
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = _nll(model(x).logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = {}
    long_val = stdlib_bytes(target_len, max_bytes, seed=seed).val.tensors
    short_val = stdlib_bytes(train_len, max_bytes, seed=seed).val.tensors
    cfg = model.config
    with torch.no_grad():
        for strategy in STRATEGIES:
            inv = DPRoPEInvFreq(train_len, target_len, strategy=strategy)(cfg.dim_head, cfg.rope_theta)
            model.rotary.inv_freq = inv
            out[strategy] = math.exp(float(_nll(model(long_val[0][:n_val]).logits, long_val[1][:n_val])))
        model.rotary.inv_freq = model.train_inv_freq.clone()
        n_short = n_val * target_len // train_len
        out["train_len"] = math.exp(float(_nll(model(short_val[0][:n_short]).logits, short_val[1][:n_short])))
    return out


def _nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
