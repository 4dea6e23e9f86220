"""The language-model loss of a tinylm model and one training step of it (for benchmarks and tests)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def lm_loss(model: torch.nn.Module, ids: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token cross-entropy of ``model`` on ``ids`` ``[B, T]``: the logits of positions ``0..T-2``
    (computed in float32) against the tokens ``1..T-1``, averaged.

    :param weights: optional per-token loss weights, ``[B, T]`` aligned with ``ids`` (the weight of token
        ``t`` as a target; column 0 is never a target and is unused) or ``[B, T - 1]`` aligned with the
        targets ``ids[:, 1:]``. The loss is then ``sum(w * ce) / sum(w)``: weights of ones give the plain
        loss bit for bit, a zero weight drops that target. Gradients do not flow into ``weights``; the
        weighted path holds one more ``[B * (T - 1), V]`` tensor (the weighted log-probabilities).
    """
    logits = model(ids).logits
    if weights is None:
        return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten())
    b, t = ids.shape
    if weights.shape == (b, t):
        weights = weights[:, 1:]
    elif weights.shape != (b, t - 1):
        raise ValueError(
            f"weights must be [B, T] = {(b, t)} or [B, T - 1] = {(b, t - 1)}, got {tuple(weights.shape)}"
        )
    logp = F.log_softmax(logits[:, :-1].flatten(0, 1).float(), dim=-1)
    w = weights.detach().flatten().to(logp.dtype)
    # The weights scale the log-probabilities inside the same reduction as the unweighted loss (a mean
    # over all targets), then the mean is rescaled by n / sum(w): exactly 1.0 for weights of ones.
    scale = torch.tensor(float(w.numel()), dtype=w.dtype, device=w.device) / w.sum()  # tensor / tensor: IEEE
    return F.nll_loss(logp * w[:, None], ids[:, 1:].flatten()) * scale


def lm_step(model: torch.nn.Module, ids: torch.Tensor) -> None:
    """One forward and backward pass of :func:`lm_loss`; the gradients are released afterwards."""
    lm_loss(model, ids).backward()
    model.zero_grad(set_to_none=True)


def fit_targets(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    steps: int,
    batch: int,
    lr: float = 3e-3,
    seed: int = 0,
    pct_start: float = 0.1,
    loss_fn: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> torch.nn.Module:
    """Train ``model`` on a task's ``(inputs, targets)`` (``targets`` ``IGNORE`` = -100 off the answers,
    as :func:`paperzoo_tinylm.tasks.to_tensors` makes them) and return it in eval mode: ``steps`` AdamW
    steps (no weight decay) with a one-cycle schedule peaking at ``lr``, each on ``batch`` rows drawn
    with replacement by a generator seeded with ``seed``; the loss is the cross-entropy at every target
    position. The short training runs of the claim tests use it, so that runs of different models differ
    in the model only.

    :param loss_fn: optional ``loss_fn(model, x, y) -> loss`` on a drawn batch ``x = inputs[idx]``,
        ``y = targets[idx]``, for runs that differ in the objective only (a masked objective, a label
        transform); it may draw from its own generators. Default: the cross-entropy above."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=pct_start)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(inputs), (batch,), generator=g)
        if loss_fn is None:
            logits = model(inputs[idx]).logits
            loss = F.cross_entropy(logits.flatten(0, 1), targets[idx].flatten(), ignore_index=-100)
        else:
            loss = loss_fn(model, inputs[idx], targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()
