"""Sequence transforms: the inputs and targets a pre-training objective makes from a batch of token ids.

A transform maps token ids ``[B, T]`` (and a ``torch.Generator`` for its randomness) to a
:class:`Transformed` ``(inputs, targets, loss_mask)``: what the model reads, what it predicts, and where
the loss counts. Every objective of the kit (masked LM here; span corruption, masked diffusion, label
drop later) is one such callable, so trainers and probes take any of them::

    from paperzoo_tinylm.transforms import MLMTransform

    out = MLMTransform(rate=0.15)(ids, generator=torch.Generator().manual_seed(0))
    loss = F.cross_entropy(model(out.inputs).logits.flatten(0, 1), out.targets.flatten())  # -100 ignored

Conventions: ``targets`` hold ``IGNORE`` (-100, cross-entropy's ``ignore_index``) where ``loss_mask`` is
false, so ``F.cross_entropy`` needs no mask; random draws come only from ``generator`` (same generator
state, same output) and are made on the ids' device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from paperzoo_tinylm.tokenizer import MASK, VOCAB_SIZE

IGNORE = -100
# bytes are the only ordinary tokens: every reserved id (PAD, BOS, EOS, MASK, sentinels, modes) is special
SPECIAL_START = 256


@dataclass
class Transformed:
    """A transform's output.

    :param inputs: ``[B, T]`` long: what the model reads.
    :param targets: ``[B, T]`` long: what it predicts; ``IGNORE`` where ``loss_mask`` is false.
    :param loss_mask: ``[B, T]`` bool: the positions the loss counts.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    loss_mask: torch.Tensor


@runtime_checkable
class SequenceTransform(Protocol):
    """``transform(ids [B, T], generator=None) -> Transformed``; ``generator=None`` draws from torch's
    global generator."""

    def __call__(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> Transformed: ...


def special_mask(ids: torch.Tensor, special_ids: Sequence[int] | None = None) -> torch.Tensor:
    """Boolean ``[B, T]``: true at special tokens (``special_ids``, default every id >= 256)."""
    if special_ids is None:
        return ids >= SPECIAL_START
    return torch.isin(ids, torch.as_tensor(list(special_ids), device=ids.device))


@dataclass(frozen=True)
class MLMTransform:
    """BERT's masked-language-model corruption (Devlin et al., 2018).

    Each ordinary token is chosen independently with probability ``rate`` (special tokens never); a
    chosen token becomes ``mask_id`` with probability ``mask_fraction``, a uniformly random ordinary
    token (``0..random_high-1``, possibly itself) with probability ``random_fraction``, and stays as it
    is otherwise. Targets are the original ids at chosen positions, ``IGNORE`` elsewhere.

    :param rate: share of ordinary tokens chosen (BERT: 0.15).
    :param mask_fraction, random_fraction: the split of chosen tokens (BERT: 0.8, 0.1; the rest keep
        their token). ELECTRA's generator input uses 0.85, 0.0.
    :param mask_id: the mask token (the kit's ``MASK``).
    :param random_high: random replacements are drawn from ``[0, random_high)`` (default: the 256 bytes).
    :param special_ids: ids never chosen; ``None``: every reserved id (>= 256: PAD, BOS, EOS, MASK, ...).
    """

    rate: float = 0.15
    mask_fraction: float = 0.8
    random_fraction: float = 0.1
    mask_id: int = MASK
    random_high: int = SPECIAL_START
    special_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("rate", "mask_fraction", "random_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value!r}; accepted: a number in [0, 1]")
        if self.mask_fraction + self.random_fraction > 1.0:
            raise ValueError("mask_fraction + random_fraction exceeds 1")
        if not 0 < self.random_high <= VOCAB_SIZE:
            raise ValueError(f"random_high={self.random_high!r}; accepted: 1..{VOCAB_SIZE}")

    def __call__(self, ids: torch.Tensor, generator: torch.Generator | None = None) -> Transformed:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a [B, T] long tensor, got {tuple(ids.shape)} {ids.dtype}")
        chosen = (torch.rand(ids.shape, generator=generator, device=ids.device) < self.rate) & ~special_mask(
            ids, self.special_ids
        )
        return mlm_corrupt(
            ids, chosen, self.mask_fraction, self.random_fraction, self.mask_id, self.random_high, generator
        )


def mlm_corrupt(
    ids: torch.Tensor,
    chosen: torch.Tensor,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    mask_id: int = MASK,
    random_high: int = SPECIAL_START,
    generator: torch.Generator | None = None,
) -> Transformed:
    """BERT's corruption of already chosen positions (:class:`MLMTransform`'s second step).

    Each chosen position becomes ``mask_id`` with probability ``mask_fraction``, a uniformly random id of
    ``[0, random_high)`` with probability ``random_fraction``, and keeps its token otherwise; targets are
    the original ids at chosen positions, ``IGNORE`` elsewhere. Draws one uniform and one random id per
    position from ``generator`` (whether chosen or not), so the stream does not depend on ``chosen``.

    :param ids: ``[B, T]`` long token ids.
    :param chosen: ``[B, T]`` bool: the positions to corrupt and predict (becomes ``loss_mask``).
    """
    dev = ids.device
    split = torch.rand(ids.shape, generator=generator, device=dev)
    random_ids = torch.randint(random_high, ids.shape, generator=generator, device=dev)
    to_mask = chosen & (split < mask_fraction)
    to_random = chosen & (split >= mask_fraction) & (split < mask_fraction + random_fraction)
    inputs = torch.where(to_mask, torch.full_like(ids, mask_id), ids)
    inputs = torch.where(to_random, random_ids, inputs)
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    return Transformed(inputs, targets, chosen)
