"""The local activation unit of DIN: a weight ``w_i = MLP([e_i, e_a, e_i - e_a, e_i * e_a])`` for each
behaviour embedding ``e_i`` given the candidate ``e_a``, no softmax; the user interest is
``sum_i w_i e_i`` over the real behaviours."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from paperzoo_struct.fields import mlp
from torch import nn

from paperzoo_din.dice import DinDice


def _activation(name: str) -> Callable[[int], nn.Module]:
    """The factory (width -> module) of an activation named dice | sigmoid | relu | prelu."""
    builtins = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "prelu": nn.PReLU}
    if name == "dice":
        return DinDice
    if name not in builtins:
        raise ValueError(f"activation must be one of {sorted([*builtins, 'dice'])}, got {name!r}")
    return lambda width: builtins[name]()


class MaskedMLP(nn.Module):
    """Linear layers of widths ``hidden``, each followed by ``activation`` (dice | sigmoid | relu | prelu);
    the optional row mask of :meth:`forward` reaches every Dice (the other activations ignore it).

    ``layers`` is the struct kit's MLP: ``Linear, activation, Linear, activation, ...``.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], activation: str = "dice"):
        super().__init__()
        self.layers = mlp(in_features, hidden, _activation(activation))

    @property
    def linears(self) -> list[nn.Linear]:
        """The linear layers, in order."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    @property
    def acts(self) -> list[nn.Module]:
        """The activation after each linear layer."""
        return list(self.layers[1::2])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask) if isinstance(layer, DinDice) else layer(x)
        return x


class DinActivationUnit(nn.Module):
    """Attention-pool a behaviour sequence with weights computed from each behaviour and the candidate.

    ``forward(x, mask)`` takes ``x (B, 1 + T, E)`` (row 0: the candidate ``e_a``, rows 1..T: behaviours) and
    an optional boolean ``mask (B, T)`` (``True`` = real behaviour); :meth:`pool` takes them apart. Padded
    behaviours get weight exactly 0 and stay out of Dice's batch statistics.

    :param embedding_dim: ``E``.
    :param hidden: widths of the weight MLP (the paper: 36).
    :param activation: dice | sigmoid | relu | prelu.
    :param weight_normalization: softmax over the real behaviours (off in the paper: the sum of weights
        keeps the intensity of the user's interest).
    """

    def __init__(
        self,
        embedding_dim: int,
        hidden: Sequence[int] = (36,),
        activation: str = "dice",
        weight_normalization: bool = False,
    ):
        super().__init__()
        self.mlp = MaskedMLP(4 * embedding_dim, hidden, activation)
        self.score = nn.Linear(hidden[-1] if hidden else 4 * embedding_dim, 1)
        self.weight_normalization = bool(weight_normalization)

    def weights(
        self, candidate: torch.Tensor, behaviours: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T)`` activation weights (0 at padding)."""
        if mask is None:
            mask = torch.ones(behaviours.shape[:2], dtype=torch.bool, device=behaviours.device)
        query = candidate.unsqueeze(1).expand_as(behaviours)
        feats = torch.cat([behaviours, query, behaviours - query, behaviours * query], dim=-1)
        w = self.score(self.mlp(feats, mask)).squeeze(-1)
        if self.weight_normalization:
            return torch.softmax(w.masked_fill(~mask, float("-inf")), dim=-1).nan_to_num(0.0)
        return w.masked_fill(~mask, 0.0)

    def pool(
        self, candidate: torch.Tensor, behaviours: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, E)`` interest vector ``sum_i w_i e_i``."""
        return torch.einsum("bt,bte->be", self.weights(candidate, behaviours, mask), behaviours)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.pool(x[:, 0], x[:, 1:], mask)
