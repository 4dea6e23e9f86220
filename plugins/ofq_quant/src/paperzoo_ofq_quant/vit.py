"""The claim's ViT: timm's ``VisionTransformer`` (class token, learned positions, pre-norm blocks with
fused-``qkv`` attention, linear head) shrunk to scikit-learn's digits: 8x8 one-channel images, patches of
2, depth 2, width 32. Flat 64-pixel rows are reshaped to images first."""

from __future__ import annotations

import torch
from paperzoo.compat import import_timm
from torch import nn


class TinyViT(nn.Module):
    """``VisionTransformer(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads)`` of
    timm behind a reshape of flat pixel rows; the transformer is ``self.vit``."""

    def __init__(
        self,
        img_size: int = 8,
        patch_size: int = 2,
        in_chans: int = 1,
        num_classes: int = 10,
        embed_dim: int = 32,
        depth: int = 2,
        num_heads: int = 2,
    ):
        super().__init__()
        import_timm()
        from timm.models.vision_transformer import VisionTransformer

        self.in_chans, self.img_size = in_chans, img_size
        self.vit = VisionTransformer(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            num_classes=num_classes,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(x.reshape(x.shape[0], self.in_chans, self.img_size, self.img_size))


def timm_attention(dim: int, num_heads: int, qkv_bias: bool = True) -> nn.Module:
    """timm's ViT attention (fused ``qkv`` Linear, scaled dot product, ``proj``)."""
    import_timm()
    from timm.models.vision_transformer import Attention

    return Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
