"""AUC, log loss and group AUC of click scores, and evaluators that compute them over a split."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo.data import DataBundle, batches
from paperzoo.losses import logits_of

from paperzoo_struct.fields import click_logit


def _ranks(scores: torch.Tensor) -> torch.Tensor:
    """1-based ranks of ``scores`` with ties given their mean rank."""
    uniq, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)
    mid = ends - (counts.to(torch.float64) - 1) / 2
    return mid[inverse]


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve: the probability that a random positive outranks a random negative (ties
    count one half), by the Mann-Whitney rank sum. Needs both classes."""
    scores, labels = scores.detach().flatten().double(), labels.detach().flatten().bool()
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both positive and negative labels")
    rank_sum = float(_ranks(scores)[labels].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def logloss(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean binary cross-entropy of click logits (computed from logits, so it is finite at any logit)."""
    return float(F.binary_cross_entropy_with_logits(logits.double().flatten(), labels.double().flatten()))


def group_auc(scores: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> float:
    """Impression-weighted mean of per-group AUC, ``sum_u n_u AUC_u / sum_u n_u``, over the groups (users)
    that have both classes (the GAUC of the DIN paper)."""
    scores, labels, groups = scores.flatten(), labels.flatten(), groups.flatten()
    total = weight = 0.0
    for g in torch.unique(groups):
        sel = groups == g
        lab = labels[sel]
        if 0 < int(lab.sum()) < lab.numel():
            total += lab.numel() * auc(scores[sel], lab)
            weight += lab.numel()
    if weight == 0:
        raise ValueError("group AUC needs a group with both positive and negative labels")
    return total / weight


class _ClickEvaluator:
    keys: tuple[str, ...] = ()

    def __init__(self, batch_size: int = 1024, split: str = "val", group_column: int = 0):
        """:param batch_size: examples per forward pass.
        :param split: ``val`` or ``train``.
        :param group_column: input column holding the group (user) id, for group AUC."""
        if split not in ("val", "train"):
            raise ValueError("split must be 'val' or 'train'")
        self.batch_size, self.split, self.group_column = batch_size, split, group_column

    @torch.no_grad()
    def _collect(
        self, model: torch.nn.Module, data: DataBundle
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Click logits, labels and group ids over the split (eval mode, restored after)."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        zs, ys, gs = [], [], []
        for x, y in batches(getattr(data, self.split), self.batch_size):
            zs.append(click_logit(logits_of(model(x.to(device)))).float().cpu())
            ys.append(y.flatten())
            gs.append(x[:, self.group_column] if x.dim() == 2 else torch.zeros(len(y)))
        model.train(was_training)
        return torch.cat(zs), torch.cat(ys), torch.cat(gs)


class AUC(_ClickEvaluator):
    """ROC AUC of the click logit over the split."""

    keys = ("auc",)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        z, y, _ = self._collect(model, data)
        return {"auc": auc(z, y)}


class LogLoss(_ClickEvaluator):
    """Mean binary log loss of the click logit over the split."""

    keys = ("logloss",)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        z, y, _ = self._collect(model, data)
        return {"logloss": logloss(z, y)}


class GroupAUC(_ClickEvaluator):
    """Impression-weighted per-user AUC over the split (users read from ``group_column``)."""

    keys = ("group_auc",)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        z, y, g = self._collect(model, data)
        return {"group_auc": group_auc(z, y, g)}
