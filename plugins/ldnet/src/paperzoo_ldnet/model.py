"""``ldnet_extractor``: a tinylm encoder over the instruction and sentence, read by the multi-aspect head."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo_tinylm.model import TinyLMEncoder
from paperzoo_tinylm.tokenizer import PAD
from torch import nn

from paperzoo_ldnet.heads import MultiAspectRelationHead
from paperzoo_ldnet.relations import LABEL_BASE


class LDNetExtractor(nn.Module):
    """``model(ids [B, T]) -> logits [B, T, 2, T]``: head/tail pointer scores for every label token.

    :param n_levels, n_relations, levels: of the :class:`MultiAspectRelationHead`.
    :param label_base: label token of relation ``r`` is ``label_base + r``.
    Other keywords configure the ``TinyLMEncoder`` (``d_model``, ``n_layers``, ``n_heads``, ...).
    """

    def __init__(
        self,
        n_levels: int = 4,
        n_relations: int = 24,
        levels: list[int] | None = None,
        label_base: int = LABEL_BASE,
        **encoder: Any,
    ) -> None:
        super().__init__()
        self.encoder = TinyLMEncoder(**encoder)
        self.encoder.lm_head = nn.Identity()  # only the hidden states are read
        self.head = MultiAspectRelationHead(self.encoder.config.d_model, n_levels, n_relations, levels)
        self.label_base, self.n_relations = label_base, n_relations

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        keys = ids != PAD
        hidden = self.encoder(ids, output_hidden_states=True, attention_mask=keys.long()).hidden_states[-1]
        rel = ids - self.label_base
        rel = torch.where((rel >= 0) & (rel < self.n_relations), rel, torch.full_like(rel, -1))
        return self.head(hidden, rel, keys)
