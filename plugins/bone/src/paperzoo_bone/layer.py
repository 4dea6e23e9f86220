"""Bone and Bat adapters around a frozen ``nn.Linear`` (Kang, 2024, arXiv:2409.15371).

Notation: the frozen weight is ``W`` of shape ``(out, in)`` (torch's ``nn.Linear`` layout, so
``y = W x + bias``) and ``r`` is the block size.

* ``variant="bone"`` (block sharing; PEFT's default Bone / MiSS). ``W`` is cut into column blocks
  ``W_j = W[:, j r:(j+1) r]`` of shape ``(out, r)``. One trainable block ``B`` of shape ``(r, out)``
  is shared by all of them::

      W'_j = W_j + B^T                  for every column block j          (merged weight)
      y    = W x + bias + B^T sum_j x_j  with x_j = x[j r:(j+1) r]        (forward, never builds W')

  When ``r`` does not divide ``in``, ``x`` is zero-padded to the next multiple of ``r`` (the last,
  partial block of ``W`` receives the first rows of ``B^T`` only).

* ``variant="bat"`` (block affine transformation with the "weight guide"; the form of the paper's
  first version and of its official code). ``W`` is cut into ``r x r`` blocks ``W_ab`` (``a`` indexes
  row blocks, ``b`` column blocks). A trainable ``B`` of shape ``(out/r, r, r)`` holds one block
  ``B_a`` per row block, shared along the row::

      Delta W_ab = W_ab B_a + B_a,       W'_ab = W_ab (I + B_a) + B_a

  so every update is steered by the frozen weights themselves. Unmerging inverts the affine map:
  ``W_ab = (W'_ab - B_a) (I + B_a)^{-1}``.

Both start from ``B = 0``, so the wrapped layer first computes exactly what the base layer does.
Both train ``r * out`` parameters.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Variant = Literal["bone", "bat"]


def to_blocks(weight: torch.Tensor, r: int) -> torch.Tensor:
    """``(out, in) -> (out/r, in/r, r, r)`` with ``blocks[a, b] = W[a r:(a+1) r, b r:(b+1) r]``."""
    out_features, in_features = weight.shape
    return weight.reshape(out_features // r, r, in_features // r, r).transpose(1, 2)


def from_blocks(blocks: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_blocks`: ``(out/r, in/r, r, r) -> (out, in)``."""
    n_out, n_in, r, _ = blocks.shape
    return blocks.transpose(1, 2).reshape(n_out * r, n_in * r)


def bone_delta(block: torch.Tensor, in_features: int) -> torch.Tensor:
    """Bone's weight update: ``B^T`` repeated along the input dimension, cut to ``in`` columns."""
    r = block.shape[0]
    return block.t().repeat(1, math.ceil(in_features / r))[:, :in_features]


def bat_delta(block: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Bat's weight update ``Delta W_ab = W_ab B_a + B_a`` for every ``r x r`` block of ``W``."""
    b = block.unsqueeze(1)  # (out/r, 1, r, r): B_a shared by all column blocks of row block a
    return from_blocks(to_blocks(weight, block.shape[-1]) @ b + b)


def bat_inverse(block: torch.Tensor, merged: torch.Tensor) -> torch.Tensor:
    """The weight ``W`` whose Bat merge is ``merged``: ``W_ab = (W'_ab - B_a) (I + B_a)^{-1}``."""
    b = block.unsqueeze(1)
    eye = torch.eye(b.shape[-1], dtype=b.dtype, device=b.device)
    # X (I + B_a) = W'_ab - B_a, solved from the right without forming the inverse.
    return from_blocks(torch.linalg.solve(eye + b, to_blocks(merged, b.shape[-1]) - b, left=False))


class BoneLinear(nn.Module):
    """A frozen ``nn.Linear`` with a trainable Bone (or Bat) block.

    :param base: the ``nn.Linear`` to adapt; its weight and bias are frozen and kept.
    :param r: block size (the paper's rank). Bone needs ``r <= in_features``; Bat needs ``r`` to
        divide both ``in_features`` and ``out_features``.
    :param variant: ``bone`` (block sharing, ``W_j + B^T``) or ``bat`` (weight-guided block affine,
        ``W_ab (I + B_a) + B_a``).
    :param init_weights: ``True`` starts from ``B = 0`` (output equal to the base layer, as in the
        paper); ``False`` draws ``B`` from a Kaiming-uniform law (for tests and ablations).
    :param dropout: dropout on the input of Bone's shared-block path (not supported by Bat, whose
        update lives inside the weight).
    """

    def __init__(
        self,
        base: nn.Linear,
        r: int = 64,
        variant: Variant = "bone",
        init_weights: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"Bone wraps an nn.Linear, got {type(base).__name__}")
        in_features, out_features = base.in_features, base.out_features
        if variant not in ("bone", "bat"):
            raise ValueError(f"variant must be 'bone' or 'bat', got {variant!r}")
        if not 0 < r <= in_features:
            raise ValueError(f"r must be in [1, in_features={in_features}], got {r}")
        if variant == "bat" and (in_features % r or out_features % r):
            raise ValueError(
                f"bat needs r={r} to divide in_features={in_features} and out_features={out_features}"
            )
        if variant == "bat" and dropout > 0:
            raise ValueError("dropout is only defined for the bone variant")
        self.base_layer = base
        self.r, self.variant = r, variant
        self.in_features, self.out_features = in_features, out_features
        for p in base.parameters():
            p.requires_grad_(False)
        shape = (r, out_features) if variant == "bone" else (out_features // r, r, r)
        self.bone_block = nn.Parameter(torch.zeros(shape, dtype=base.weight.dtype, device=base.weight.device))
        if not init_weights:
            nn.init.kaiming_uniform_(self.bone_block, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    # -- the base layer's attributes, for code that reads them from the wrapped module ---------------
    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base_layer.bias

    # -- weights -----------------------------------------------------------------------------------
    def delta_weight(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``Delta W`` such that the adapted layer computes ``(W + Delta W) x + bias``.

        :param weight: the frozen ``W`` that Bat's update is computed from (default: the base
            layer's weight; pass it explicitly only while it is unmerged).
        """
        block = self.bone_block
        if self.variant == "bone":
            return bone_delta(block, self.in_features)
        w = self.base_layer.weight if weight is None else weight
        return bat_delta(block, w.to(block.dtype))

    @torch.no_grad()
    def merge(self) -> None:
        """Write the adapted weight ``W' = W + Delta W`` into the base layer (no-op when merged)."""
        if self.merged:
            return
        w = self.base_layer.weight
        w.copy_((w.to(self.bone_block.dtype) + self.delta_weight()).to(w.dtype))
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Restore the frozen ``W`` from the merged weight (no-op when not merged)."""
        if not self.merged:
            return
        w, block = self.base_layer.weight, self.bone_block
        if self.variant == "bone":
            restored = w.to(block.dtype) - bone_delta(block, self.in_features)
        else:
            work = torch.promote_types(block.dtype, torch.float32)  # solve in at least fp32
            restored = bat_inverse(block.to(work), w.to(work))
        w.copy_(restored.to(w.dtype))
        self.merged = False

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base_layer(x)
        block = self.bone_block
        if self.variant == "bat":
            w = self.base_layer.weight
            weight = w.to(block.dtype) + bat_delta(block, w.to(block.dtype))
            bias = self.base_layer.bias
            out = F.linear(x.to(weight.dtype), weight, None if bias is None else bias.to(weight.dtype))
            return out.to(x.dtype)
        out = self.base_layer(x)
        h = x.to(block.dtype)
        pad = -self.in_features % self.r
        if pad:
            h = F.pad(h, (0, pad))
        h = self.dropout(h)
        # y = W x + bias + B^T sum_j x_j  (x_j: the r-wide chunks of x)
        summed = h.unflatten(-1, (-1, self.r)).sum(dim=-2)
        return (out + summed @ block).to(x.dtype)

    # -- state ---------------------------------------------------------------------------------------
    def get_extra_state(self) -> torch.Tensor:
        """Whether ``W`` holds the merged weight, saved with the state dict (as a tensor, so that
        safetensors can store it)."""
        return torch.tensor(self.merged)

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.merged = bool(state)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, r={self.r}, "
            f"variant={self.variant}, merged={self.merged}"
        )


def BatLinear(base: nn.Linear, r: int = 64, init_weights: bool = True) -> BoneLinear:  # noqa: N802
    """Bone's weight-guided variant: ``BoneLinear(base, r, variant="bat")``."""
    return BoneLinear(base, r=r, variant="bat", init_weights=init_weights)
