"""Built-in layers: a baseline MLP model."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ParamError


class MLP(nn.Sequential):
    """``Flatten -> [Linear -> act] * len(hidden) -> Linear``.

    :param in_features: size of one flattened input.
    :param num_classes: outputs (classes, or regression targets).
    :param hidden: widths of the hidden layers.
    :param activation: ``relu``, ``gelu`` or ``tanh``.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: list[int] = [256],  # noqa: B006
        activation: str = "relu",
    ):
        acts = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
        if activation not in acts:
            raise ParamError("activation", f"got {activation!r}; accepted: one of {', '.join(sorted(acts))}")
        for name, value in (("in_features", in_features), ("num_classes", num_classes)):
            if value < 1:
                raise ParamError(name, f"got {value}; accepted: at least 1")
        if any(width < 1 for width in hidden):
            raise ParamError("hidden", f"got {hidden}; accepted: widths of at least 1 (or [] for none)")
        layers: list[nn.Module] = [nn.Flatten()]
        widths = [in_features, *hidden]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), acts[activation]()]
        layers.append(nn.Linear(widths[-1], num_classes))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float())
