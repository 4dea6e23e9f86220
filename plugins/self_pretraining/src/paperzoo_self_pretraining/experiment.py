"""The claim's experiment: self-pretrained vs from-scratch classifiers at equal total steps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo.trainer import Run

from paperzoo_self_pretraining.data import first_last
from paperzoo_self_pretraining.model import SequenceClassifier
from paperzoo_self_pretraining.trainer import SelfPretraining


@dataclass
class ClaimSetup:
    """Sizes of the claim's runs (a 2-block, 32-wide decoder on 64-token sequences)."""

    length: int = 64
    n_symbols: int = 8
    n_train: int = 1024
    n_val: int = 512
    d_model: int = 32
    n_layers: int = 2
    n_heads: int = 4
    steps: int = 300
    batch_size: int = 32
    lr: float = 3e-3


def train_first_last(seed: int, pretrain_fraction: float, setup: ClaimSetup | None = None) -> dict:
    """Train one classifier for ``setup.steps`` steps (a share ``pretrain_fraction`` of them causal-LM
    self-pretraining) and return its validation accuracy and the trainer's summary."""
    s = setup or ClaimSetup()
    data = first_last(s.n_train, s.n_val, s.length, s.n_symbols, seed=seed)
    torch.manual_seed(seed)
    model = SequenceClassifier(
        d_model=s.d_model, n_layers=s.n_layers, n_heads=s.n_heads, max_seq_len=s.length
    )
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=0.0)
    trainer = SelfPretraining(
        pretrain_fraction=pretrain_fraction,
        max_steps=s.steps,
        batch_size=s.batch_size,
        device="cpu",
        progress=False,
        log_every=10**9,
    )
    summary = trainer.fit(Run(model=model, data=data, optimizer=opt, seed=seed))
    x, y = data.val.tensors
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(-1) == y).float().mean().item()
    return {"accuracy": acc, **summary}
