"""The DIN model: field embeddings, the behaviour sequence pooled by the local activation unit with the
candidate item as query, concatenated into an MLP with Dice."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from paperzoo_struct.fields import FieldEmbedding, two_class_logits
from torch import nn

from paperzoo_din.attention import DinActivationUnit, MaskedMLP


class DinModel(nn.Module):
    """Deep Interest Network over packed ids ``[f_0, ..., f_{F-1}, h_0, ..., h_{T-1}]`` (``0`` = padding; the
    behaviours share field ``query_field``'s table, the candidate item). Returns 2-class logits ``[0, z]``.

    :param vocab_sizes: ids per field.
    :param embedding_dim: embedding width.
    :param query_field: the candidate-item field (query of the attention, table of the behaviours).
    :param hidden: MLP widths (the paper: 200, 80).
    :param attention_hidden: activation-unit widths (the paper: 36).
    :param activation: MLP activation (dice | prelu | relu | sigmoid).
    :param attention_activation: activation-unit activation.
    :param weight_normalization: softmax the activation weights (off in the paper).
    """

    def __init__(
        self,
        vocab_sizes: Sequence[int],
        embedding_dim: int = 8,
        query_field: int = 1,
        hidden: Sequence[int] = (200, 80),
        attention_hidden: Sequence[int] = (36,),
        activation: str = "dice",
        attention_activation: str = "dice",
        weight_normalization: bool = False,
    ):
        super().__init__()
        self.embedding = FieldEmbedding(vocab_sizes, embedding_dim, query_field)
        self.query_field = query_field
        self.attention = DinActivationUnit(
            embedding_dim, attention_hidden, attention_activation, weight_normalization
        )
        width = (len(vocab_sizes) + 1) * embedding_dim
        self.mlp = MaskedMLP(width, hidden, activation)
        self.out = nn.Linear(hidden[-1] if hidden else width, 1)

    def click_logit(self, x: torch.Tensor) -> torch.Tensor:
        """``(B,)`` click logits."""
        fields, behaviours, mask = self.embedding(x)
        interest = self.attention.pool(fields[:, self.query_field], behaviours, mask)
        h = torch.cat([fields.flatten(1), interest], dim=-1)
        return self.out(self.mlp(h)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return two_class_logits(self.click_logit(x))
