"""The ``pointer_net_training`` trainer: the built-in supervised loop with a teacher-forced loss.

The built-in ``supervised`` trainer calls ``model(x)`` and applies the task's cross-entropy to the
output; a pointer network's training needs the targets as decoder inputs (teacher forcing) and a loss
over (B, T, n) log-probabilities with padded steps ignored, so this trainer overrides only
``compute_loss``.
"""

from __future__ import annotations

import torch
from paperzoo.trainer import Supervised

from paperzoo_pointer_networks.model import pointer_loss


class PointerNetTraining(Supervised):
    """Minibatch training of a pointer network: the negative log-likelihood of the target positions,
    each decoding step fed the previous target element (teacher forcing). Params: those of
    ``supervised``."""

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        return pointer_loss(model(x, targets=y), y)


def fit_lengths(
    model: torch.nn.Module,
    task: str,
    lengths: tuple[int, int],
    steps: int,
    batch_size: int = 128,
    lr: float = 5e-3,
    clip: float = 2.0,
    seed: int = 0,
) -> float:
    """Train ``model`` with Adam on fresh batches of ``task`` (see ``tasks.make_examples``), each batch
    of one length drawn uniformly from ``lengths`` (inclusive): the variable-length training of the
    paper (e.g. n in [5, 50]) without padding. The gradient norm is clipped at ``clip`` (the paper: 2).
    Returns the last batch's loss."""
    from paperzoo_pointer_networks.tasks import make_examples

    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        n = int(torch.randint(lengths[0], lengths[1] + 1, (1,), generator=generator))
        x, y = make_examples(task, batch_size, n, seed=seed * 1_000_003 + step)
        loss = pointer_loss(model(x, targets=y), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return float(loss)
