"""Prior fitting: minimise the bar NLL of held-out query targets over tasks drawn from a prior."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Supervised
from paperzoo_synthtasks.priors import pack

from paperzoo_pfn.model import bar_model

Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class PriorFitting(Supervised):
    """The built-in loop with the PFN loss: each batch is a batch of tasks, the loss the bar NLL of the
    query targets. With ``n_train_range`` the split point between observed and query points is drawn
    uniformly from ``[low, high]`` at every step (the paper's varying ``single_eval_pos``); otherwise it
    is the model's ``n_train``. A dataset of ``num_tasks`` prior draws seen for one epoch is fresh
    samples at every step, as in the paper.

    :param n_train_range: ``[low, high]`` observed points per step, or ``None``.
    Other params: those of the ``supervised`` trainer.
    """

    def __init__(self, n_train_range: list[int] | None = None, **kwargs):
        if n_train_range is not None and (
            len(n_train_range) != 2 or not 1 <= n_train_range[0] <= n_train_range[1]
        ):
            raise ParamError(
                "n_train_range", f"got {n_train_range}; accepted: [low, high] with 1 <= low <= high"
            )
        super().__init__(**kwargs)
        self.n_train_range = n_train_range

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        inputs, y = batch
        pfn = bar_model(model, "prior_fitting")
        n_train = pfn.n_train
        if self.n_train_range is not None:
            low, high = self.n_train_range
            high = min(high, inputs.shape[1] - 1)  # at least one query point
            if low > high:
                raise ParamError(
                    "n_train_range",
                    f"got {self.n_train_range} for tasks of {inputs.shape[1]} points; accepted: "
                    f"low <= {inputs.shape[1] - 1} (each task needs at least one query point)",
                )
            n_train = int(torch.randint(low, high + 1, ()).item())
            inputs = pack(inputs[..., :-1], y, n_train)  # re-hide the y of the (new) query points
        return pfn.dist.nll(model(inputs, n_train=n_train), y[:, n_train:]).mean()


def fit_prior(
    model: torch.nn.Module,
    sampler: Sampler,
    steps: int,
    batch_size: int = 32,
    seq_len: int = 30,
    n_train_range: tuple[int, int] = (1, 20),
    lr: float = 1e-3,
    warmup: int = 0,
    seed: int = 0,
) -> list[float]:
    """Prior fitting with fresh tasks at every step (``sampler(batch_size, generator)`` returns
    ``x (B, seq_len, d)``, ``y (B, seq_len)``), Adam and a cosine schedule after a linear warm-up (the
    paper's schedule). Returns the per-step losses."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    losses = []
    model.train()
    for _ in range(steps):
        x, y = sampler(batch_size, g)
        n_train = int(torch.randint(n_train_range[0], n_train_range[1] + 1, (), generator=g).item())
        loss = model.dist.nll(model(pack(x, y, n_train), n_train=n_train), y[:, n_train:]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    return losses
