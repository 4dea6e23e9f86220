"""GR-KAN feed-forward layer, the KAT block and a tiny KAT/ViT image classifier.

A GR-KAN layer is ``Linear(GroupRational(x))``; KAT's channel mixer is two of them,
``fc2(rational_gelu(fc1(rational_identity(x))))``. Variance-preserving initialisation: each Linear is
drawn from ``N(0, 1 / (fan_in * E[F(x)^2]))`` with ``E[F(x)^2]`` the second moment of the rational
before it under a standard normal input, so a unit-variance input keeps unit second moment.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from paperzoo_kat.rational import GroupRational


def variance_preserving_(linear: nn.Linear, second_moment: float) -> nn.Linear:
    """``W ~ N(0, 1 / (fan_in * second_moment))``, bias zero."""
    with torch.no_grad():
        linear.weight.normal_(0.0, 1.0 / math.sqrt(linear.in_features * second_moment))
        if linear.bias is not None:
            linear.bias.zero_()
    return linear


class GRKANFFN(nn.Module):
    """Two GR-KAN layers replacing a transformer MLP: ``fc2(act2(fc1(act1(x))))``.

    Args:
        dim: input and output width.
        hidden: hidden width (default ``4 * dim``).
        num_groups: groups of each rational (shared coefficients within a group).
        m, n: rational degrees. act1 starts as the identity, act2 as GELU (needs m=5, n=4; with
            other degrees act2 starts as the identity too).
        denominator: ``"abs_sum"`` (paper) or ``"abs_terms"`` (official kernels).
        share_numerator: one numerator per rational, as the official code.
        variance_init: the variance-preserving init above; off, the Linears keep PyTorch's default.
    """

    def __init__(
        self,
        dim: int,
        hidden: int | None = None,
        num_groups: int = 8,
        m: int = 5,
        n: int = 4,
        denominator: str = "abs_sum",
        share_numerator: bool = False,
        variance_init: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        hidden = hidden or 4 * dim
        kw = {"num_groups": num_groups, "m": m, "n": n, "denominator": denominator}
        second = "gelu" if (m, n) == (5, 4) else "identity"
        self.act1 = GroupRational(dim, init="identity", share_numerator=share_numerator, **kw)
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.act2 = GroupRational(hidden, init=second, share_numerator=share_numerator, **kw)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        if variance_init:
            variance_preserving_(self.fc1, self.act1.second_moment())
            variance_preserving_(self.fc2, self.act2.second_moment())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act2(self.fc1(self.act1(x))))


class GELUMLP(nn.Module):
    """The ViT channel MLP the GR-KAN layer replaces: ``fc2(GELU(fc1(x)))``."""

    def __init__(self, dim: int, hidden: int | None = None, bias: bool = True) -> None:
        super().__init__()
        hidden = hidden or 4 * dim
        self.fc1, self.act, self.fc2 = (
            nn.Linear(dim, hidden, bias=bias),
            nn.GELU(),
            nn.Linear(hidden, dim, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class KATBlock(nn.Module):
    """Pre-norm transformer block on ``(B, L, dim)``: ``x + Attn(LN(x))``, then ``x + FFN(LN(x))`` with
    FFN the GR-KAN layer (``ffn="grkan"``, KAT) or the GELU MLP (``ffn="mlp"``, ViT)."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        ffn: str = "grkan",
        num_groups: int = 8,
        denominator: str = "abs_sum",
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        if ffn == "grkan":
            self.mlp: nn.Module = GRKANFFN(dim, hidden, num_groups=num_groups, denominator=denominator)
        elif ffn == "mlp":
            self.mlp = GELUMLP(dim, hidden)
        else:
            raise ValueError(f"ffn: got {ffn!r}; accepted: 'grkan' or 'mlp'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TinyKAT(nn.Module):
    """A small vision transformer for ``(B, C, H, W)`` images: patch embedding, a class token, learned
    positions, ``depth`` blocks, a final LayerNorm and a linear head on the class token. ``ffn="grkan"``
    is KAT, ``ffn="mlp"`` the matching ViT."""

    def __init__(
        self,
        image_size: int = 8,
        patch_size: int = 2,
        in_chans: int = 1,
        num_classes: int = 10,
        dim: int = 32,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        ffn: str = "grkan",
        num_groups: int = 8,
        denominator: str = "abs_sum",
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"patch_size: got {patch_size}; accepted: a divisor of image_size={image_size}")
        tokens = (image_size // patch_size) ** 2
        self.patch = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(
            *(KATBlock(dim, num_heads, mlp_ratio, ffn, num_groups, denominator) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])
