"""Gradual magnitude pruning of a model's Linear weights, stepped by a :class:`SparsitySchedule`.

The Linears are swapped for the compress kit's :class:`MaskedLinear` (same parameters, a boolean
``mask`` buffer). At each update step the weights of smallest magnitude among the survivors are pruned
until ``int(density * total)`` remain: ``scope="global"`` ranks all pruned Linears together (one
threshold, as the released code does), ``"layerwise"`` each Linear on its own. Masks only shrink. After
every optimizer step the masks are multiplied into the weights again, so a weight pruned while Adam's
moments still move it returns to exactly zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from paperzoo_compress.sparsity import MaskedLinear, sparsify_model
from torch import nn

from .schedule import SparsitySchedule, kept_count

Scope = Literal["global", "layerwise"]


def _keep_top(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the ``k`` largest of the flat ``scores`` (ties: the lower index)."""
    order = torch.argsort(-scores, stable=True)[:k]
    return torch.zeros_like(scores, dtype=torch.bool).index_fill_(0, order, True)


class GradualMagnitudePruner:
    """Masks the Linears of ``model`` (names containing any of ``exclude`` are left dense) and prunes
    them along ``schedule``.

    :param model: the model; its ``nn.Linear`` modules are replaced in place.
    :param schedule: when and how far to prune.
    :param scope: ``global`` (one magnitude ranking over all pruned weights) or ``layerwise``.
    :param exclude: substrings of module names not to prune (e.g. ``["lm_head"]``).
    """

    def __init__(
        self,
        model: nn.Module,
        schedule: SparsitySchedule,
        scope: Scope = "global",
        exclude: Sequence[str] = (),
    ) -> None:
        if scope not in ("global", "layerwise"):
            raise ValueError(f"scope: got {scope!r}; accepted: 'global' or 'layerwise'")
        self.schedule, self.scope, self.exclude = schedule, scope, tuple(exclude)
        existing = {n: m for n, m in model.named_modules() if isinstance(m, MaskedLinear)}
        new = sparsify_model(
            model,
            lambda w: torch.ones_like(w, dtype=torch.bool),
            select=lambda name, _: not any(e in name for e in self.exclude),
        )
        self.layers: dict[str, MaskedLinear] = dict(sorted({**existing, **new}.items()))
        if not self.layers:
            raise ValueError("the model has no nn.Linear to prune (or every one is excluded)")
        self.total = sum(m.weight.numel() for m in self.layers.values())
        self._count = self._mask_sum()

    # -- counts ---------------------------------------------------------------------------------
    def _mask_sum(self) -> int:
        return int(sum(int(m.mask.sum()) for m in self.layers.values()))

    def nonzero(self) -> int:
        """Kept (non-zero) weights of the pruned Linears: the sum of the masks (cached between updates)."""
        return self._count

    def density(self) -> float:
        """Kept fraction of the pruned Linears' weights."""
        return self.nonzero() / self.total

    # -- pruning --------------------------------------------------------------------------------
    @torch.no_grad()
    def prune_to(self, density: float) -> None:
        """Prune the smallest surviving weights until ``int(density * n)`` remain (``n``: all of them
        under ``global``, each layer's under ``layerwise``); a mask never regrows."""
        layers = list(self.layers.values())
        scores = [torch.where(m.mask, m.weight.abs(), torch.full_like(m.weight, -1.0)) for m in layers]
        if self.scope == "global":
            flat = torch.cat([s.flatten().float() for s in scores])
            keep = _keep_top(flat, kept_count(density, flat.numel()))
            masks = keep.split([s.numel() for s in scores])
        else:
            masks = [_keep_top(s.flatten().float(), kept_count(density, s.numel())) for s in scores]
        for m, mask in zip(layers, masks):
            m.set_mask_(mask.view_as(m.weight) & m.mask)
        self._count = self._mask_sum()

    @torch.no_grad()
    def reapply(self) -> None:
        """Multiply every mask into its weight (after an optimizer step)."""
        for m in self.layers.values():
            m.weight.mul_(m.mask)

    def before_step(self, step: int) -> int:
        """Update the masks if ``step`` is an update step; return the non-zero count the forward pass of
        ``step`` will use."""
        if self.schedule.is_update(step):
            self.prune_to(self.schedule.target_density(step))
        return self.nonzero()
