"""Shared test helpers: a ``Run`` of the grokking_ticket trainer on in-memory tensors."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import DataBundle
from paperzoo.trainer import Run
from torch.utils.data import TensorDataset

from paperzoo_grokking_tickets.trainer import GrokkingTicket


def addition_bundle(train_x: torch.Tensor, test_x: torch.Tensor, p: int) -> DataBundle:
    """``(a, b) -> (a + b) mod p`` on given pairs."""
    return DataBundle(
        TensorDataset(train_x, (train_x[:, 0] + train_x[:, 1]) % p),
        TensorDataset(test_x, (test_x[:, 0] + test_x[:, 1]) % p),
        task="classification",
        num_classes=p,
    )


def adamw(lr: float = 1e-2, weight_decay: float = 1.0):
    """The official optimizer: AdamW, betas (0.9, 0.98)."""
    return lambda params: (
        torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98)),
        None,
    )


class Recording(GrokkingTicket):
    """The trainer, keeping a copy of the weights at the end of every stage."""

    def end_stage(self, run: Run, name: str) -> None:
        self.stage_weights = getattr(self, "stage_weights", {})
        self.stage_weights[name] = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        super().end_stage(run, name)


def fit(
    model: torch.nn.Module, data: DataBundle, seed: int = 0, lr: float = 1e-2, **params: Any
) -> Recording:
    """Run the trainer (no run directory) and return it."""
    trainer = Recording(device="cpu", progress=False, **params)
    trainer.summary = trainer.fit(Run(model=model, data=data, seed=seed, make_optimizer=adamw(lr)))
    return trainer
