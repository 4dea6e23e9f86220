"""The Matryoshka classification head: linear classifiers on nested prefixes of one embedding."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from paperzoo_nested.loss import check_dims, nested_dims
from paperzoo_nested.views import prefix_linear
from torch import nn


def mlp_encoder(in_features: int, hidden: Sequence[int], out_features: int) -> nn.Sequential:
    """``Flatten``, then ``Linear -> ReLU`` blocks from ``in_features`` through ``hidden`` to the
    ``out_features``-d embedding (the last block keeps its ReLU: the embedding is a penultimate
    activation). Images ``(N, C, H, W)`` are flattened to ``(N, C H W)``."""
    sizes = [in_features, *hidden, out_features]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class MatryoshkaHead(nn.Module):
    """Classifiers ``W_m z[:m] + b_m`` for each nested dim ``m`` of a ``d``-dim embedding ``z``.

    :param in_features: ``d``, the embedding size.
    :param num_classes: classes of each classifier.
    :param dims: the nested dims ``M`` (strictly increasing, ending at ``d``; default
        ``8, 16, 32, ..., d``).
    :param efficient: MRL-E: one ``Linear(d, C)`` whose views ``W[:, :m]`` are every ``W_m`` (shared
        storage, shared bias); otherwise MRL: one ``Linear(m, C)`` per dim.
    :param bias: classifiers with a bias.
    :param encoder_in_features: when set, an MLP encoder (flatten, then ``encoder_hidden`` widths, ReLU) maps
        the input to ``z``; otherwise the input is ``z``.
    :param truncation: the dim whose logits ``forward`` returns (default ``d``); settable.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        dims: Sequence[int] | None = None,
        efficient: bool = True,
        bias: bool = True,
        encoder_in_features: int | None = None,
        encoder_hidden: Sequence[int] = (),
        truncation: int | None = None,
    ):
        super().__init__()
        d = int(in_features)
        self.dims = check_dims(nested_dims(d) if dims is None and d >= 8 else dims or [d], d)
        if self.dims[-1] != d:
            raise ValueError(f"dims must end at in_features={d}, got {self.dims}")
        self.in_features, self.num_classes, self.efficient = d, int(num_classes), bool(efficient)
        self.encoder: nn.Module = (
            nn.Identity()
            if encoder_in_features is None
            else mlp_encoder(encoder_in_features, encoder_hidden, d)
        )
        if self.efficient:
            self.classifier = nn.Linear(d, num_classes, bias=bias)
        else:
            self.classifiers = nn.ModuleList(nn.Linear(m, num_classes, bias=bias) for m in self.dims)
        self.truncation = d if truncation is None else int(truncation)
        self._check_dim(self.truncation)

    def _check_dim(self, m: int) -> None:
        if self.efficient and not 1 <= m <= self.in_features:
            raise ValueError(f"truncation dim must be in [1, {self.in_features}], got {m}")
        if not self.efficient and m not in self.dims:
            raise ValueError(
                f"an MRL head (efficient=false) has classifiers for dims {self.dims} only, got {m}"
            )

    def classifier_at(self, m: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(W_m, b_m)``: for MRL-E the view ``W[:, :m]`` of the shared weight (no copy)."""
        self._check_dim(m)
        lin = self.classifier if self.efficient else self.classifiers[self.dims.index(m)]
        return lin.weight.narrow(1, 0, m), lin.bias

    def logits_at(self, z: torch.Tensor, m: int) -> torch.Tensor:
        """``W_m z[..., :m] + b_m``."""
        self._check_dim(m)
        if self.efficient:
            return prefix_linear(z, self.classifier, m)
        return self.classifiers[self.dims.index(m)](z[..., :m])

    def nested_logits(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The logits at every dim of ``self.dims``, smallest first."""
        return [self.logits_at(z, m) for m in self.dims]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits at ``self.truncation`` of the embedding ``encoder(x)``."""
        return self.logits_at(self.encoder(x), self.truncation)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, num_classes={self.num_classes}, efficient={self.efficient}"
