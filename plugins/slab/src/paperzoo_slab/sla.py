"""Simplified linear attention (SLA), SLAB Sec. 3.2, as a tinylm attention kernel.

``O = phi(Q) (phi(K)^T V) / (phi(Q) sum_j phi(K_j)) + DWC(V)`` with ``phi = ReLU``: linear in the
sequence length. ``DWC`` is a depthwise convolution over tokens, shared by every head (``head_dim``
channels). The official code convolves V laid out as a square 2-D grid (``conv="2d"``, ViTs); for
token sequences the default is a 1-D convolution, causal (left-padded) under a causal mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SimplifiedLinearAttention(nn.Module):
    """Kernel ``(q, k, v, mask, pattern) -> z`` on ``[B, H, T, Dh]`` tensors (``k, v`` default to ``q``).

    :param head_dim: ``Dh`` (the DWC's channels).
    :param kernel_size: DWC kernel size (official: 5).
    :param conv: ``"1d"`` (token sequence) or ``"2d"`` (a square grid of tokens, the official ViT form).
    :param eps: added to the normaliser (official: 1e-6).
    """

    def __init__(self, head_dim: int, kernel_size: int = 5, conv: str = "1d", eps: float = 1e-6):
        super().__init__()
        if conv not in ("1d", "2d"):
            raise ValueError(f"conv must be '1d' or '2d'; got {conv!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive; got {kernel_size}")
        self.conv, self.kernel_size, self.eps = conv, int(kernel_size), float(eps)
        cls = nn.Conv1d if conv == "1d" else nn.Conv2d
        self.dwc = cls(head_dim, head_dim, kernel_size, groups=head_dim, padding=0)

    def _dwc(self, v: torch.Tensor, causal: bool) -> torch.Tensor:
        b, h, t, d = v.shape
        x = v.reshape(b * h, t, d).transpose(1, 2)
        p = self.kernel_size - 1
        if self.conv == "1d":
            x = F.pad(x, (p, 0) if causal else (p // 2, p // 2))
            y = self.dwc(x)
        else:
            if causal:
                raise ValueError("conv='2d' is for bidirectional attention on a square grid")
            n = int(round(t**0.5))
            if n * n != t:
                raise ValueError(f"conv='2d' needs a square number of tokens; got {t}")
            y = self.dwc(F.pad(x.reshape(b * h, d, n, n), (p // 2,) * 4)).reshape(b * h, d, t)
        return y.transpose(1, 2).reshape(b, h, t, d)

    def forward(self, q, k=None, v=None, mask=None, pattern=None) -> torch.Tensor:  # noqa: ARG002
        k = q if k is None else k
        v = k if v is None else v
        if k.shape[1] != q.shape[1]:  # grouped-query attention
            rep = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        causal = bool(mask is not None and mask.causal)
        offset = int(mask.q_offset) if mask is not None else 0
        tq, tk = q.shape[2], k.shape[2]
        q, k = F.relu(q), F.relu(k)
        if mask is not None and mask.key_padding is not None:  # padded keys contribute nothing
            keep = mask.key_padding[:, None, :, None].to(k.dtype)
            k, v_attn = k * keep, v * keep
        else:
            v_attn = v
        if causal:
            kv = torch.einsum("bhjc,bhjd->bhjcd", k, v_attn).cumsum(2)[:, :, offset : offset + tq]
            ks = k.cumsum(2)[:, :, offset : offset + tq]
            num = torch.einsum("bhic,bhicd->bhid", q, kv)
            den = (q * ks).sum(-1, keepdim=True)
        else:
            num = q @ (k.transpose(-1, -2) @ v_attn)
            den = q @ k.sum(2, keepdim=True).transpose(-1, -2)
        z = num / (den + self.eps)
        if mask is not None and getattr(mask, "cross", False):
            return z
        local = self._dwc(v, causal)
        return z + local[:, :, tk - tq :] if causal else z + local[:, :, offset : offset + tq]
