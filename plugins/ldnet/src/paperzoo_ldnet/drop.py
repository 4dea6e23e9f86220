"""``LabelDrop``: LDNet's label drop on a batch of multi-target instructions.

Each negative label token of the instruction (a relation listed that has no gold triple in the sentence)
is removed from the sequence with probability ``p``; gold labels are never removed. Removal deletes the
token (later tokens move left, the row is right-padded), remaps the pointer targets to the new positions
and drops the slot from the loss. ``p = 0`` returns the batch unchanged, bit for bit, and draws nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.transforms import IGNORE, Transformed

from paperzoo_ldnet.relations import LABEL_BASE, NULL


@dataclass(frozen=True)
class LabelDrop:
    """``drop(ids [B, T], targets [B, T, 2], generator=None) -> Transformed``.

    ``targets`` hold, at every label token, the (head, tail) positions of its gold triple or
    ``(NULL, NULL)`` (position 0) for a negative label, and ``IGNORE`` elsewhere; the output's
    ``loss_mask`` ``[B, T]`` marks the label slots that remain.

    :param p: probability of dropping each negative label (0: identity).
    :param label_low, label_high: the label tokens are the ids in ``[label_low, label_high)``.
    :param pad_id: the padding token appended where tokens were removed.
    """

    p: float = 0.5
    label_low: int = LABEL_BASE
    label_high: int = 256
    pad_id: int = PAD

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, (int, float)) or not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p={self.p!r}; accepted: a number in [0, 1]")

    def label_mask(self, ids: torch.Tensor) -> torch.Tensor:
        """Boolean ``[B, T]``: true at label tokens."""
        return (ids >= self.label_low) & (ids < self.label_high)

    def __call__(
        self, ids: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None = None
    ) -> Transformed:
        if ids.dim() != 2 or targets.shape != (*ids.shape, 2):
            raise ValueError(f"ids [B, T] and targets [B, T, 2] expected, got {ids.shape}, {targets.shape}")
        is_label = self.label_mask(ids)
        if self.p == 0.0:
            return Transformed(ids, targets, is_label)
        negative = is_label & (targets[..., 0] == NULL)
        drop = negative & (torch.rand(ids.shape, generator=generator, device=ids.device) < self.p)
        keep = ~drop
        # kept tokens first, in their order; dropped ones after (then replaced by padding)
        order = torch.sort(drop.to(torch.int8), dim=1, stable=True).indices
        n_keep = keep.sum(dim=1, keepdim=True)
        tail = torch.arange(ids.shape[1], device=ids.device)[None] >= n_keep
        new_ids = ids.gather(1, order).masked_fill(tail, self.pad_id)
        new_targets = targets.gather(1, order[..., None].expand(-1, -1, 2))
        new_targets = new_targets.masked_fill(tail[..., None], IGNORE)
        # pointer values are positions: map each old position to its new one (kept positions only)
        new_pos = keep.long().cumsum(dim=1) - 1
        pointer = new_targets >= 0
        moved = new_pos.gather(1, new_targets.clamp(min=0).flatten(1)).view_as(new_targets)
        new_targets = torch.where(pointer, moved, new_targets)
        return Transformed(new_ids, new_targets, self.label_mask(new_ids) & ~tail)
