"""Shared builders of the tests: a GPT-2-style pre-LayerNorm tinylm decoder trained on tinylm_stdlib."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_ln_removal.trainer import LNRemovalFinetune

GPT2_STYLE = dict(norm="layer_norm", bias=True, ffn="mlp", activation="gelu_tanh", position="learned")


def decoder(seed: int = 0, d_model: int = 32, n_layers: int = 2, **kw) -> TinyLMDecoder:
    """A pre-LayerNorm decoder (GPT-2's layout: biases, GELU MLP, learned positions, a final norm)."""
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=d_model, n_layers=n_layers, n_heads=4, max_seq_len=64, **GPT2_STYLE, **kw)


def data(seq_len: int = 32, max_bytes: int = 60_000):
    return stdlib_bytes(seq_len=seq_len, max_bytes=max_bytes)


def fit(trainer: Supervised, model, bundle, run_dir: Path, lr: float, seed: int = 0):
    """Train ``model`` in place with ``trainer`` and AdamW at ``lr``; returns the summary."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    run = Run(model=model, data=bundle, optimizer=opt, run_dir=run_dir, seed=seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    return trainer.fit(run)


def plain(steps: int, batch_size: int = 16) -> Supervised:
    return Supervised(max_steps=steps, batch_size=batch_size, progress=False, device="cpu", log_every=1000)


def removal(steps: int, batch_size: int = 16, **kw) -> LNRemovalFinetune:
    return LNRemovalFinetune(
        max_steps=steps, batch_size=batch_size, progress=False, device="cpu", log_every=1000, **kw
    )


@torch.no_grad()
def val_loss(model, bundle, n: int = 128) -> float:
    """Mean next-token cross-entropy on the first ``n`` validation sequences."""
    x = torch.stack([bundle.val[i][0] for i in range(n)])
    y = torch.stack([bundle.val[i][1] for i in range(n)])
    model.eval()
    return float(F.cross_entropy(model(x).logits.flatten(0, 1), y.flatten()))


def clone(model):
    return copy.deepcopy(model)
