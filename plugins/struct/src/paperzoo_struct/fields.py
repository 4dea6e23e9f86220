"""CTR inputs as one packed id tensor, the field embeddings over it, and the sum-pooling Embedding&MLP
baseline.

Packed layout: an input row is ``[f_0, ..., f_{F-1}, h_0, ..., h_{T-1}]`` of integer ids: ``F`` categorical
fields (user, candidate item, candidate category, ...) and a behaviour sequence of ``T`` past item ids.
Id ``0`` means missing/padding in every column; field ``k`` takes ids ``1..vocab_sizes[k]``. The behaviour
sequence shares the embedding table of one field (``sequence_field``, the candidate item), so a past item
and the candidate are embedded alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


def split_packed(x: torch.Tensor, n_fields: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fields (B, F), behaviours (B, T))`` of a packed id tensor ``(B, F + T)``."""
    if x.dim() != 2 or x.shape[1] < n_fields:
        raise ValueError(f"packed input must be (batch, {n_fields} + sequence length), got {tuple(x.shape)}")
    return x[:, :n_fields], x[:, n_fields:]


def behaviour_mask(behaviours: torch.Tensor) -> torch.Tensor:
    """``True`` where a behaviour id is a real item (not padding ``0``)."""
    return behaviours != 0


def two_class_logits(z: torch.Tensor) -> torch.Tensor:
    """``(B,)`` click logits as ``(B, 2)`` class logits ``[0, z]``: softmax gives ``sigmoid(z)`` for class 1,
    so the default cross-entropy of a 2-class task is the binary log loss."""
    return torch.stack([torch.zeros_like(z), z], dim=-1)


def click_logit(logits: torch.Tensor) -> torch.Tensor:
    """The click logit ``z`` of a model output: ``(B, 2)`` class logits give ``l1 - l0``; ``(B,)`` or ``(B, 1)``
    is ``z`` itself."""
    if logits.dim() == 2 and logits.shape[-1] == 2:
        return logits[:, 1] - logits[:, 0]
    if logits.dim() == 2 and logits.shape[-1] == 1:
        return logits[:, 0]
    if logits.dim() == 1:
        return logits
    raise ValueError(f"expected click logits (B,), (B, 1) or (B, 2), got {tuple(logits.shape)}")


class FieldEmbedding(nn.Module):
    """One embedding table per categorical field (row 0: the zero padding vector, never trained).

    :param vocab_sizes: ids per field (field ``k`` takes ``1..vocab_sizes[k]``).
    :param embedding_dim: width of every field's embedding.
    :param sequence_field: the field whose table also embeds the behaviour sequence.
    :param init_std: standard deviation of the normal initialisation.
    """

    def __init__(
        self, vocab_sizes: Sequence[int], embedding_dim: int, sequence_field: int = 1, init_std: float = 0.1
    ):
        super().__init__()
        if not vocab_sizes or min(vocab_sizes) < 1:
            raise ValueError(f"vocab_sizes must be a non-empty list of sizes >= 1, got {list(vocab_sizes)}")
        if not 0 <= sequence_field < len(vocab_sizes):
            raise ValueError(
                f"sequence_field must index a field in [0, {len(vocab_sizes)}), got {sequence_field}"
            )
        self.vocab_sizes = [int(v) for v in vocab_sizes]
        self.embedding_dim, self.sequence_field = int(embedding_dim), int(sequence_field)
        self.tables = nn.ModuleList(
            nn.Embedding(v + 1, embedding_dim, padding_idx=0) for v in self.vocab_sizes
        )
        with torch.no_grad():
            for table in self.tables:
                table.weight.normal_(0.0, init_std)
                table.weight[0].zero_()

    @property
    def n_fields(self) -> int:
        return len(self.tables)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(fields (B, F, E), behaviours (B, T, E), mask (B, T))`` of a packed id tensor."""
        fields, behaviours = split_packed(x, self.n_fields)
        embedded = torch.stack([table(fields[:, k]) for k, table in enumerate(self.tables)], dim=1)
        return embedded, self.tables[self.sequence_field](behaviours), behaviour_mask(behaviours)


def mlp(
    in_features: int, hidden: Sequence[int], activation: str | Callable[[int], nn.Module] = "relu"
) -> nn.Sequential:
    """Linear layers of widths ``hidden``, each followed by ``activation``: relu | sigmoid | prelu, or a
    factory called with the layer's width that returns the activation module."""
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "prelu": nn.PReLU}
    if not callable(activation) and activation not in acts:
        raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [
            nn.Linear(in_features, width),
            activation(width) if callable(activation) else acts[activation](),
        ]
        in_features = width
    return nn.Sequential(*layers)


class SumPoolingMLP(nn.Module):
    """The Embedding&MLP baseline: field embeddings, the behaviour embeddings summed over real behaviours
    (padding masked), concatenated and fed to an MLP; returns ``(B, 2)`` class logits ``[0, z]``.

    :param vocab_sizes: ids per field.
    :param embedding_dim: embedding width.
    :param sequence_field: the field whose table embeds the behaviours (the candidate item).
    :param hidden: MLP widths.
    :param activation: relu | sigmoid | prelu.
    """

    def __init__(
        self,
        vocab_sizes: Sequence[int],
        embedding_dim: int = 8,
        sequence_field: int = 1,
        hidden: Sequence[int] = (64, 32),
        activation: str = "relu",
    ):
        super().__init__()
        self.embedding = FieldEmbedding(vocab_sizes, embedding_dim, sequence_field)
        width = (len(vocab_sizes) + 1) * embedding_dim
        self.mlp = mlp(width, hidden, activation)
        self.out = nn.Linear(hidden[-1] if hidden else width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fields, behaviours, mask = self.embedding(x)
        pooled = (behaviours * mask.unsqueeze(-1).to(behaviours.dtype)).sum(dim=1)
        h = torch.cat([fields.flatten(1), pooled], dim=-1)
        return two_class_logits(self.out(self.mlp(h)).squeeze(-1))
