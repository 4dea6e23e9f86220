"""The outlier fixture every quantisation claim uses: a trained tinylm decoder with planted outlier
activation channels, made function-preserving (the float model computes the same function).

``plant_outliers`` multiplies a few channels of each norm's gain by ``magnitude`` and divides the
matching input columns of the Linears that read the norm by it (``q/k/v_proj`` after ``attn_norm``,
``gate/up_proj`` after ``ffn_norm``), and does the same between ``up_proj``'s rows and ``down_proj``'s
columns. The activations entering those Linears then have a few channels ``magnitude`` times larger
(as the outlier features of large LMs), met by weight columns ``magnitude`` times smaller: the case
where round-to-nearest of the weights loses the most and activation-aware scaling helps.
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.tokenizer import encode
from torch import nn

from paperzoo_compress.calib import check_supported
from paperzoo_compress.fold import scale_linear_into_linear, scale_norm_into_linears


def _channel_scales(n: int, k: int, magnitude: float, g: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    s = torch.ones(n, dtype=like.dtype, device=like.device)
    s[torch.randperm(n, generator=g)[:k]] = magnitude
    return s


@torch.no_grad()
def plant_outliers(
    model: nn.Module, n_outliers: int = 4, magnitude: float = 30.0, seed: int = 0
) -> nn.Module:
    """In place: ``n_outliers`` channels per norm (and per ffn hidden layer), chosen by ``seed``, scaled
    up by ``magnitude`` at the activations and down in the reading weights. Returns ``model``."""
    check_supported(model)
    g = torch.Generator().manual_seed(seed)
    for block in model.blocks:
        w = block.attn.q_proj.weight
        attn = [block.attn.q_proj, block.attn.k_proj, block.attn.v_proj]
        scale_norm_into_linears(
            block.attn_norm, attn, 1 / _channel_scales(w.shape[1], n_outliers, magnitude, g, w)
        )
        ffn = [block.mlp.up_proj] + ([block.mlp.gate_proj] if hasattr(block.mlp, "gate_proj") else [])
        scale_norm_into_linears(
            block.ffn_norm, ffn, 1 / _channel_scales(w.shape[1], n_outliers, magnitude, g, w)
        )
        d_ff = block.mlp.down_proj.in_features
        scale_linear_into_linear(
            block.mlp.up_proj, block.mlp.down_proj, 1 / _channel_scales(d_ff, n_outliers, magnitude, g, w)
        )
    return model


def outlier_tinylm(seed: int = 0, n_outliers: int = 4, magnitude: float = 30.0) -> nn.Module:
    """The ``stdlib-small`` checkpoint (float32, eval mode) with outliers planted by ``seed``."""
    import paperzoo_tinylm

    model = paperzoo_tinylm.pretrained("stdlib-small")
    return plant_outliers(model, n_outliers, magnitude, seed).eval()


def text_blocks(split: str, n: int, seq_len: int = 128, seed: int | None = None) -> torch.Tensor:
    """``n`` blocks ``[n, seq_len]`` of byte ids of the standard-library corpus: ``split`` ``train`` or
    ``val`` (the checkpoint's held-out tail); consecutive blocks, or random offsets when ``seed`` is given."""
    train, val = stdlib_split()
    ids = torch.tensor(encode(train if split == "train" else val))
    if seed is None:
        starts = torch.arange(n) * seq_len
    else:
        starts = torch.randint(len(ids) - seq_len, (n,), generator=torch.Generator().manual_seed(seed))
    return torch.stack([ids[s : s + seq_len] for s in starts.tolist()])


@torch.no_grad()
def perplexity(model: nn.Module, ids: torch.Tensor, batch_size: int = 16) -> float:
    """``exp`` of the mean next-token cross-entropy of ``model`` over ``ids`` ``[N, T]``."""
    total, count = 0.0, 0
    for chunk in ids.split(batch_size):
        logits = model(chunk).logits[:, :-1].double()
        nll = nn.functional.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum")
        total, count = total + nll.item(), count + chunk[:, 1:].numel()
    return float(torch.tensor(total / count).exp())
