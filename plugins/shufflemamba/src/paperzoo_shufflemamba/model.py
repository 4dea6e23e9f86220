"""A tiny vision Mamba for small images: patch embedding, learned positions, pre-norm Mamba blocks (the
tinylm kit's ``MambaBlock``) each wrapped in the stochastic layer-wise shuffle, a final norm, mean pooling
and a linear classifier."""

from __future__ import annotations

import torch
from paperzoo_tinylm.norms import RMSNorm
from paperzoo_tinylm.selective_scan import MambaBlock
from torch import Tensor, nn

from paperzoo_shufflemamba.shuffle import apply_layer_shuffle


class ShuffleVisionMamba(nn.Module):
    """Images ``[B, C, H, W]`` -> logits ``[B, num_classes]``.

    :param shuffle_rate: the last block's shuffle probability (the paper's ``shuffle_rate``); block ``i``
        of ``depth`` gets ``shuffle_rate * i / (depth - 1)``; 0 is a plain vision Mamba.
    :param patch_size: side of the square, non-overlapping patches (the tokens, in raster order).
    The remaining keywords (``d_state``, ``d_conv``, ``expand``, ``scan``...) go to each ``MambaBlock``.
    """

    def __init__(
        self,
        image_size: int = 8,
        in_chans: int = 1,
        num_classes: int = 10,
        patch_size: int = 2,
        dim: int = 32,
        depth: int = 4,
        shuffle_rate: float = 0.0,
        **block: object,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        n_tokens = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, n_tokens, dim))
        self.blocks = apply_layer_shuffle((MambaBlock(dim, **block) for _ in range(depth)), shuffle_rate)
        self.norm = RMSNorm(dim, eps=1e-5)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        x = self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos_embed  # [B, L, dim]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))
