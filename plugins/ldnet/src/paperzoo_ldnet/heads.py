"""``multi_aspect_relation_head``: LDNet's multi-aspect relation modelling as per-level span-pointer heads.

Each relation type is assigned to one decision *level* (aspect). A label token of the instruction is the
query of its relation's slot; the level of that relation owns the projections that score every position
of the sequence as the slot's head-entity pointer and its tail-entity pointer. Relations of different
levels therefore decide with separate parameters (the paper's remedy for decision confusion between
relations); ``n_levels = 1`` is one shared pointer head for every relation.
"""

from __future__ import annotations

import math

import torch
from paperzoo.errors import ParamError
from torch import nn


class MultiAspectRelationHead(nn.Module):
    """Per-level bilinear span pointers.

    ``forward(hidden [B, T, d], relation_ids [B, T] long = None, key_mask [B, T] bool = None)`` returns
    logits ``[B, T, 2, T]``: for the query at position ``i`` (a relation label token), scores over key
    positions ``j`` for the head pointer (``[..., 0, :]``) and the tail pointer (``[..., 1, :]``),
    computed with the projections of the level of ``relation_ids[b, i]``. Positions whose relation id is
    negative (not a label) use level 0; their rows are meaningless and ignored by the loss. Keys where
    ``key_mask`` is false (padding) get the dtype's lowest finite value.

    :param d_model: width of ``hidden``.
    :param n_levels: number of decision levels (separate pointer heads); 1 is a shared head.
    :param n_relations: relation types; relation ``r`` sits on level ``levels[r]``.
    :param levels: the level of each relation (default ``r % n_levels``).
    :param d_head: width of the query/key projections (default ``d_model``).
    """

    def __init__(
        self,
        d_model: int,
        n_levels: int = 4,
        n_relations: int = 24,
        levels: list[int] | None = None,
        d_head: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("n_levels", n_levels), ("n_relations", n_relations)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParamError(name, f"{value!r}; accepted: an integer >= 1")
        if levels is None:
            levels = [r % n_levels for r in range(n_relations)]
        if len(levels) != n_relations or any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n_levels for v in levels
        ):
            raise ParamError("levels", f"{levels!r}; accepted: {n_relations} integers in [0, {n_levels})")
        d_head = d_model if d_head is None else d_head
        self.d_model, self.n_levels, self.d_head = d_model, n_levels, d_head
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.long), persistent=False)
        # [levels, 3 (query, head key, tail key), d_model, d_head]
        self.proj = nn.Parameter(torch.randn(n_levels, 3, d_model, d_head) / math.sqrt(d_model))
        self.bias = nn.Parameter(torch.zeros(n_levels, 3, d_head))

    def level_of(self, relation_ids: torch.Tensor) -> torch.Tensor:
        """The level of each position (level 0 where the relation id is negative)."""
        valid = relation_ids >= 0
        return torch.where(valid, self.levels[relation_ids.clamp(min=0)], torch.zeros_like(relation_ids))

    def forward(
        self,
        hidden: torch.Tensor,
        relation_ids: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, t, _ = hidden.shape
        # every level's projections of every position: [B, L, 3, T, d_head]
        z = torch.einsum("btd,lkde->blkte", hidden, self.proj) + self.bias[None, :, :, None, :]
        lvl = (
            torch.zeros(b, t, dtype=torch.long, device=hidden.device)
            if relation_ids is None
            else self.level_of(relation_ids)
        )
        # the query of position i comes from its own level; it scores the keys of that level
        q = z[:, :, 0].gather(1, lvl[:, None, :, None].expand(b, 1, t, self.d_head)).squeeze(1)  # [B, T, e]
        keys = z[:, :, 1:]  # [B, L, 2, T, e]
        scores = torch.einsum("bie,blpje->blipj", q, keys) / math.sqrt(self.d_head)  # [B, L, T, 2, T]
        idx = lvl[:, None, :, None, None].expand(b, 1, t, 2, t)
        out = scores.gather(1, idx).squeeze(1)  # [B, T, 2, T]
        if key_mask is not None:
            out = out.masked_fill(~key_mask[:, None, None, :], torch.finfo(out.dtype).min)
        return out
