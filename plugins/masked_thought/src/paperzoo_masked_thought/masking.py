"""Masked Thought's input corruption: random reasoning tokens become a mask token, labels stay.

The official rule (``mask_target_tokens`` of the paper's code): for every sequence and every position
``i`` of the response (from the end of the question to the end of the sequence), draw ``u ~ U[0, 1)`` and
replace the *input* token ``i`` by ``MASK_INDEX`` when ``u < p``. The labels are a copy of the original
tokens taken before masking (question positions ``-100``), and the causal LM shifts them as usual, so the
model still predicts every original reasoning token, now from a context with holes in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo_tinylm.tokenizer import MASK
from paperzoo_tinylm.transforms import IGNORE, Transformed


def mask_reasoning(
    ids: torch.Tensor,
    response_mask: torch.Tensor,
    rate: float,
    mask_id: int = MASK,
    generator: torch.Generator | None = None,
    uniforms: torch.Tensor | None = None,
) -> torch.Tensor:
    """Replace each response token of ``ids`` by ``mask_id`` with probability ``rate``.

    :param ids: ``[B, T]`` long token ids.
    :param response_mask: ``[B, T]`` bool: true at the tokens that may be masked (the reasoning/response).
    :param rate: the masking probability ``p`` in ``[0, 1]``.
    :param generator: the source of the float64 uniforms (``None``: torch's global generator).
    :param uniforms: ``[B, T]`` draws to use instead (only the response positions are read); the rule is
        ``u < rate`` in float64, as the official ``random.random() < p``.
    :returns: the masked ids (a new tensor; question positions and ``rate = 0`` leave ids unchanged).
    """
    if ids.dim() != 2 or ids.dtype != torch.long:
        raise ValueError(f"ids must be a [B, T] long tensor, got {tuple(ids.shape)} {ids.dtype}")
    if response_mask.shape != ids.shape or response_mask.dtype != torch.bool:
        raise ValueError(f"response_mask must be a bool tensor of shape {tuple(ids.shape)}")
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate={rate!r}; accepted: a number in [0, 1]")
    if uniforms is None:
        uniforms = torch.rand(ids.shape, generator=generator, dtype=torch.float64, device=ids.device)
    chosen = response_mask & (uniforms.to(torch.float64) < float(rate))
    return torch.where(chosen, torch.full_like(ids, mask_id), ids)


def response_mask_of_targets(targets: torch.Tensor, ignore_index: int = IGNORE) -> torch.Tensor:
    """The response positions of the *inputs* of a shifted bundle (inputs ``seq[:-1]``, targets
    ``seq[1:]`` with ``ignore_index`` outside the response): input ``t`` is a response token exactly
    when target ``t - 1`` is kept. Column 0 is never one."""
    kept = targets != ignore_index
    out = torch.zeros_like(kept)
    out[:, 1:] = kept[:, :-1]
    return out


def scheduled_rate(rate: float, step: int, warmup_steps: int = 0) -> float:
    """The masking probability at optimizer ``step`` (0-based): ``rate * step / warmup_steps`` during a
    linear warm-up (the official ``warmup_steps`` option), ``rate`` after it or without one."""
    if warmup_steps > 0 and step < warmup_steps:
        return step / warmup_steps * rate
    return rate


@dataclass(frozen=True)
class MaskedThoughtTransform:
    """(tokens, response mask) -> :class:`~paperzoo_tinylm.transforms.Transformed` for causal SFT.

    ``inputs`` are ``masked[:, :-1]``, ``targets`` are the *original* ``tokens[:, 1:]`` where the next
    token is a response token (``IGNORE`` elsewhere) and ``loss_mask`` marks those, so
    ``F.cross_entropy(model(out.inputs).logits.flatten(0, 1), out.targets.flatten())`` is the SFT loss on
    the response. Unlike the kit's ``SequenceTransform`` it takes the response mask as a second argument.

    :param rate: masking probability of each response input token (paper: 0.2 for GSM8K, up to 0.4).
    :param mask_id: the replacing id (the kit's ``MASK``; the paper adds a ``<mask>`` token or uses pad).
    """

    rate: float = 0.2
    mask_id: int = MASK

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate={self.rate!r}; accepted: a number in [0, 1]")

    def __call__(
        self, ids: torch.Tensor, response_mask: torch.Tensor, generator: torch.Generator | None = None
    ) -> Transformed:
        masked = mask_reasoning(ids, response_mask, self.rate, self.mask_id, generator)
        loss_mask = response_mask[:, 1:]
        targets = torch.where(loss_mask, ids[:, 1:], torch.full_like(ids[:, 1:], IGNORE))
        return Transformed(masked[:, :-1], targets, loss_mask)
