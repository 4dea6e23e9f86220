"""PoolFormer: a four-stage hierarchical MetaFormer whose token mixer is pooling (Yu et al., 2022).

Input embedding (Eq. 1) is a 7x7 convolution with stride 4 (padding 2); between two stages a 3x3
convolution with stride 2 (padding 1) halves the resolution and changes the width. Each stage is a
stack of MetaFormer blocks (``block.py``). The classifier applies GroupNorm(1, C) to the last feature
map, averages it over space and ends with a linear layer::

    logits = W_fc mean_{h,w} GN(X_L) + b_fc

Sizes of the official models (blocks per stage, widths, LayerScale init):

    S12 [2, 2, 6, 2]   [64, 128, 320, 512]  1e-5      M36 [6, 6, 18, 6]  [96, 192, 384, 768]  1e-6
    S24 [4, 4, 12, 4]  [64, 128, 320, 512]  1e-5      M48 [8, 8, 24, 8]  [96, 192, 384, 768]  1e-6
    S36 [6, 6, 18, 6]  [64, 128, 320, 512]  1e-6

Module names follow timm's ``MetaFormer`` so that a timm PoolFormer state dict loads unchanged.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .block import MetaFormerBlock, group_norm

HeadNorm = Literal["pre_pool", "post_pool"]


class PatchEmbed(nn.Module):
    """A strided convolution that turns a ``(B, C_in, H, W)`` map into ``(B, C_out, H / s, W / s)`` tokens."""

    def __init__(self, in_chans: int, dim: int, patch_size: int, stride: int, padding: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, dim, patch_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Stage(nn.Module):
    """An optional downsampling patch embedding followed by ``len(drop_paths)`` MetaFormer blocks."""

    def __init__(self, downsample: nn.Module, dim: int, drop_paths: list[float], **block: object):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*[MetaFormerBlock(dim, drop_path=p, **block) for p in drop_paths])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class Head(nn.Module):
    """Norm, global average pooling and the linear classifier.

    ``pre_pool`` (the paper's and official code's order): ``fc(mean_hw(GroupNorm(1, C)(x)))``.
    ``post_pool`` (timm's ``MetaFormer`` port): ``fc(LayerNorm(C, eps=1e-6)(mean_hw(x)))``. Both have the
    same parameters, so a state dict loads into either, but they compute different functions.
    """

    def __init__(self, dim: int, num_classes: int, head_norm: HeadNorm = "pre_pool"):
        super().__init__()
        if head_norm not in ("pre_pool", "post_pool"):
            raise ValueError(f"head_norm must be 'pre_pool' or 'post_pool', got {head_norm!r}")
        self.head_norm = head_norm
        self.norm = group_norm(dim) if head_norm == "pre_pool" else nn.LayerNorm(dim, eps=1e-6)
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head_norm == "pre_pool":
            return self.fc(self.norm(x).mean((-2, -1)))
        return self.fc(self.norm(x.mean((-2, -1))))


def drop_path_rates(drop_path_rate: float, depths: tuple[int, ...]) -> list[list[float]]:
    """Stochastic depth rising linearly with the global block index ``i``: ``rate * i / (N - 1)``."""
    total = sum(depths)
    rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
    starts = [sum(depths[:s]) for s in range(len(depths))]
    return [rates[start : start + depth] for start, depth in zip(starts, depths)]


class PoolFormer(nn.Module):
    """A MetaFormer image classifier; the defaults build PoolFormer-S12.

    :param depths: blocks per stage.
    :param dims: channels per stage.
    :param num_classes: classifier outputs; 0 returns the pooled, normalised features.
    :param in_chans: image channels.
    :param token_mixer: ``"pooling"`` (PoolFormer) or ``"identity"`` (the paper's ablation).
    :param pool_size: window of the pooling mixer.
    :param mlp_ratio: channel-MLP hidden width over the stage width.
    :param drop_rate: dropout inside the channel MLPs.
    :param drop_path_rate: stochastic depth of the last block (linear from 0 over all blocks).
    :param layer_scale_init_value: LayerScale initial value; ``None`` turns LayerScale off.
    :param stem_patch_size: kernel of the input embedding (7 in the paper).
    :param stem_stride: stride of the input embedding (4 in the paper).
    :param stem_padding: padding of the input embedding (2 in the paper).
    :param down_patch_size: kernel of the downsampling between stages (3).
    :param down_stride: stride of the downsampling between stages (2).
    :param down_padding: padding of the downsampling between stages (1).
    :param head_norm: ``"pre_pool"`` (official) or ``"post_pool"`` (timm's port), see ``Head``.
    """

    def __init__(
        self,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        dims: tuple[int, ...] = (64, 128, 320, 512),
        num_classes: int = 1000,
        in_chans: int = 3,
        token_mixer: str = "pooling",
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        stem_patch_size: int = 7,
        stem_stride: int = 4,
        stem_padding: int = 2,
        down_patch_size: int = 3,
        down_stride: int = 2,
        down_padding: int = 1,
        head_norm: HeadNorm = "pre_pool",
    ):
        super().__init__()
        depths, dims = tuple(depths), tuple(dims)
        if len(depths) != len(dims) or not depths:
            raise ValueError(f"depths {depths} and dims {dims} must be non-empty and of equal length")
        self.num_classes = num_classes
        self.num_features = dims[-1]
        self.stem = PatchEmbed(in_chans, dims[0], stem_patch_size, stem_stride, stem_padding)
        block = dict(
            token_mixer=token_mixer,
            pool_size=pool_size,
            mlp_ratio=mlp_ratio,
            drop=drop_rate,
            layer_scale_init_value=layer_scale_init_value,
        )
        stages = []
        for i, rates in enumerate(drop_path_rates(drop_path_rate, depths)):
            down = (
                nn.Identity()
                if i == 0
                else PatchEmbed(dims[i - 1], dims[i], down_patch_size, down_stride, down_padding)
            )
            stages.append(Stage(down, dims[i], rates, **block))
        self.stages = nn.Sequential(*stages)
        self.head = Head(dims[-1], num_classes, head_norm)
        if isinstance(self.head.fc, nn.Linear):  # the official classifier initialisation
            nn.init.trunc_normal_(self.head.fc.weight, std=0.02)
            nn.init.zeros_(self.head.fc.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map, ``(B, dims[-1], H / 32, W / 32)`` with the default strides."""
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
