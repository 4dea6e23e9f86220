"""The MetaFormer block (Yu et al., 2022, Eqs. 2-3) with its training aids.

On a ``(B, C, H, W)`` feature map ``X``::

    Y = X + DropPath(s1 * TokenMixer(Norm(X)))          (Eq. 2, with LayerScale s1)
    Z = Y + DropPath(s2 * W2 sigma(W1 Norm(Y)))         (Eq. 3, the channel MLP, ratio 4)

``Norm`` is GroupNorm with one group, i.e. statistics over ``(C, H, W)`` of each sample with a
per-channel affine map; ``W1``/``W2`` are 1x1 convolutions (a per-token linear map) and ``sigma`` is
GELU. ``s1``/``s2`` are per-channel LayerScale vectors (Touvron et al., 2021) initialised to a small
constant, and DropPath is stochastic depth (Huang et al., 2016): during training it zeroes the whole
residual branch of a sample with probability ``p`` and rescales the kept ones by ``1 / (1 - p)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .mixer import Pooling


def group_norm(dim: int) -> nn.GroupNorm:
    """The paper's ``Norm``: GroupNorm with a single group over ``(C, H, W)``, eps 1e-5."""
    return nn.GroupNorm(1, dim)


class DropPath(nn.Module):
    """Stochastic depth on a residual branch: ``x * Bernoulli(1 - p) / (1 - p)``, one draw per sample.

    :param p: probability of dropping the branch of a sample.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerScale(nn.Module):
    """``x * s`` with a learnable per-channel ``s`` (initialised to ``init_value``) on ``(B, C, H, W)``."""

    def __init__(self, dim: int, init_value: float = 1e-5):
        super().__init__()
        self.scale = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.view(-1, 1, 1)


class ConvMlp(nn.Module):
    """The channel MLP ``fc2(drop(GELU(fc1(x))))`` with 1x1 convolutions, then dropout.

    :param dim: input and output channels.
    :param hidden: hidden channels (``mlp_ratio * dim``).
    :param drop: dropout after the activation and after ``fc2``.
    """

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)
        for conv in (self.fc1, self.fc2):  # the official initialisation of the MLP
            nn.init.trunc_normal_(conv.weight, std=0.02)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def make_token_mixer(token_mixer: str | nn.Module, pool_size: int) -> nn.Module:
    """``"pooling"`` (PoolFormer), ``"identity"`` (the paper's ablation), or a module used as given."""
    if isinstance(token_mixer, nn.Module):
        return token_mixer
    if token_mixer == "pooling":
        return Pooling(pool_size)
    if token_mixer == "identity":
        return nn.Identity()
    raise ValueError(f"token_mixer must be 'pooling', 'identity' or an nn.Module, got {token_mixer!r}")


class MetaFormerBlock(nn.Module):
    """One MetaFormer block on ``(B, C, H, W)``; with the default pooling mixer, a PoolFormer block.

    :param dim: channels ``C``.
    :param token_mixer: ``"pooling"``, ``"identity"``, or any module mapping ``(B, C, H, W)`` to itself.
    :param pool_size: window of the pooling mixer.
    :param mlp_ratio: hidden width of the channel MLP over ``dim`` (4 in every PoolFormer).
    :param drop: dropout inside the channel MLP.
    :param drop_path: stochastic-depth probability of both residual branches.
    :param layer_scale_init_value: initial LayerScale value (1e-5 for S12/S24, 1e-6 for S36/M36/M48);
        ``None`` turns LayerScale off.
    """

    def __init__(
        self,
        dim: int,
        token_mixer: str | nn.Module = "pooling",
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
    ):
        super().__init__()

        def scale() -> nn.Module:
            return (
                nn.Identity() if layer_scale_init_value is None else LayerScale(dim, layer_scale_init_value)
            )

        self.norm1 = group_norm(dim)
        self.token_mixer = make_token_mixer(token_mixer, pool_size)
        self.layer_scale1 = scale()
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = group_norm(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop)
        self.layer_scale2 = scale()
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.layer_scale1(self.token_mixer(self.norm1(x))))  # Eq. 2
        return x + self.drop_path2(self.layer_scale2(self.mlp(self.norm2(x))))  # Eq. 3
