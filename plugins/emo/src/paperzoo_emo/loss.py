"""EMO's loss: cross-entropy plus the differentiable Earth Mover Distance upper bound (DEMD).

With ``q`` the model's next-token distribution, ``y`` the target and the transport cost
``C(i, j) = 1 - cos(e_i, e_j)`` over the rows ``e`` of a (frozen) LM-head embedding matrix, the paper's
tractable bound is ``DEMD = sum_v q(v) C(v, y)``. Since ``sum_v q(v) = 1``,
``DEMD = 1 - q^T E_hat e_hat_y`` with ``E_hat`` the row-normalised embeddings: the ``V x V`` cost matrix is
never formed, only ``q @ E_hat`` (``[N, d]``).

The official implementation (``emo_patch.py``) computes, per token,
``emo = 1 - e_hat_y . ((q - stopgrad(q_y) one_hot(y)) @ E_hat)``: it removes the target's own mass
from ``q`` with a detached copy. Its value is therefore ``DEMD + stopgrad(q_y)`` and its gradient that of
``DEMD``; the value matters only through the dynamic weighting of the two terms, which uses it:

* mode 1 (MLE emphasised): ``0.5 * (mle + stopgrad(mle / (emo + 1e-10)) * emo)``;
* mode 2 (EMO emphasised): ``stopgrad(emo / (mle + 1e-10)) * mle + emo``;

averaged over the tokens whose label is not ``ignore_index``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def unit_rows(embeddings: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, detached: the frozen transport cost's only input."""
    e = embeddings.detach()
    return e / torch.linalg.vector_norm(e, ord=2, dim=1, keepdim=True)


def cost_matrix(embeddings: torch.Tensor) -> torch.Tensor:
    """The explicit ``V x V`` cost ``C(i, j) = 1 - cos(e_i, e_j)`` (for tests and small vocabularies)."""
    u = unit_rows(embeddings)
    return 1.0 - u @ u.T


def _check(logits: torch.Tensor, targets: torch.Tensor, embeddings: torch.Tensor) -> None:
    if logits.dim() < 2 or targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"logits [..., V] and targets [...] must agree, got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if embeddings.dim() != 2 or embeddings.shape[0] != logits.shape[-1]:
        raise ValueError(f"embeddings must be [V={logits.shape[-1]}, d], got {tuple(embeddings.shape)}")


def demd(logits: torch.Tensor, targets: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    """The paper's ``DEMD = sum_v q(v) (1 - cos(e_v, e_y))`` per position (``[...]``), ``q = softmax``.

    The cost is frozen (``embeddings`` is detached); gradients reach only ``logits``. Targets must be
    valid ids (mask ignored positions yourself or use :func:`emo_token_losses`).
    """
    _check(logits, targets, embeddings)
    u = unit_rows(embeddings).to(logits.dtype)
    q = torch.softmax(logits, dim=-1)
    return 1.0 - ((q @ u) * u[targets]).sum(-1)


def emo_token_losses(
    logits: torch.Tensor,
    targets: torch.Tensor,
    cost_embedding: torch.Tensor,
    ignore_index: int = -100,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token ``(mle, emo, mask)`` as the official code forms them, each ``[N]`` (flattened).

    ``mle`` is the cross-entropy (0 at ignored positions), ``emo`` the official auxiliary term
    ``DEMD + stopgrad(q_y)`` (0 at ignored positions), ``mask`` 1.0 where the label counts.
    """
    _check(logits, targets, cost_embedding)
    logits = logits.reshape(-1, logits.shape[-1])
    targets = targets.reshape(-1)
    mask = (targets != ignore_index).to(logits.dtype)
    logp = torch.log_softmax(logits, dim=-1)  # shared by both terms (cross_entropy = nll of log_softmax)
    mle = F.nll_loss(logp, targets, reduction="none", ignore_index=ignore_index)
    safe = targets.masked_fill(targets == ignore_index, 0)
    u = unit_rows(cost_embedding).to(logits.dtype)
    q = logp.exp()
    u_y = u[safe]
    q_y = q.gather(1, safe[:, None]).squeeze(1).detach()
    # e_hat_y . ((q - q_y one_hot) @ E_hat) = e_hat_y . (q @ E_hat) - q_y |e_hat_y|^2
    transported = ((q @ u) * u_y).sum(-1) - q_y * (u_y * u_y).sum(-1)
    emo = (1.0 - transported) * mask
    return mle, emo, mask


def combine(
    mle: torch.Tensor,
    emo: torch.Tensor,
    mask: torch.Tensor,
    mode: Literal[1, 2] = 1,
    max_ratio: float | None = None,
) -> torch.Tensor:
    """The official dynamic weighting of per-token ``mle`` and ``emo``, averaged over ``mask``.

    :param max_ratio: cap of the detached ratio in mode 1 (``emo_llama.py``'s variant caps it at 3);
        ``None``: no cap (``emo_patch.py``).
    """
    if mode == 1:
        ratio = (mle / (emo + 1e-10)).detach()
        if max_ratio is not None:
            ratio = ratio.clamp(max=max_ratio)
        loss = (ratio * emo + mle) * 0.5
    elif mode == 2:
        loss = (emo / (mle + 1e-10)).detach() * mle + emo
    else:
        raise ValueError(f"mode must be 1 or 2, got {mode!r}")
    return (loss * mask).sum() / (1e-15 + mask.sum())


def emo_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    cost_embedding: torch.Tensor,
    mode: Literal[1, 2] = 1,
    ignore_index: int = -100,
    max_ratio: float | None = None,
) -> torch.Tensor:
    """EMO's training loss (CE and DEMD, dynamically weighted) of ``logits`` ``[..., V]`` against
    ``targets`` ``[...]`` with the transport cost of ``cost_embedding`` ``[V, d]`` (detached)."""
    mle, emo, mask = emo_token_losses(logits, targets, cost_embedding, ignore_index)
    return combine(mle, emo, mask, mode, max_ratio)
