"""The paper's PRepBN claim at small scale: a ViT whose LayerNorms are replaced by PRepBN trains
stably and better than one whose LayerNorms are swapped directly for BatchNorm (the paper: a direct BN
swap collapses or lags; PRepBN matches LN). gamma decays over the first sixth of training (the official
DeiT recipe: 60000 of about 375000 steps). A 2-block ViT (2x2 patches, d=32) on scikit-learn's 8x8
digits, 3 seeds, same steps, optimiser and data order for every variant; the compared metric is the
held-out cross-entropy in eval mode (BatchNorm running statistics, PRepBN's RepBN branch only)."""

from __future__ import annotations

import statistics

import pytest
import torch
from torch import nn

from paperzoo_slab.prepbn import PRepBN

STEPS, BATCH, D = 300, 64, 32


class TokenBN(nn.Module):
    """A direct LayerNorm -> BatchNorm swap: BatchNorm1d over the features of (B, T, C)."""

    def __init__(self, ln: nn.LayerNorm):
        super().__init__()
        self.bn = nn.BatchNorm1d(ln.normalized_shape[-1])

    def forward(self, x):
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class Block(nn.Module):
    def __init__(self, norm):
        super().__init__()
        self.n1, self.n2 = norm(nn.LayerNorm(D)), norm(nn.LayerNorm(D))
        self.attn = nn.MultiheadAttention(D, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))

    def forward(self, x):
        h = self.n1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.n2(x))


class ViT(nn.Module):
    def __init__(self, norm):
        super().__init__()
        self.embed = nn.Linear(4, D)
        self.pos = nn.Parameter(torch.randn(1, 16, D) * 0.02)
        self.blocks = nn.Sequential(Block(norm), Block(norm))
        self.norm = norm(nn.LayerNorm(D))
        self.head = nn.Linear(D, 10)

    def forward(self, img):  # img [B, 8, 8] -> 16 patches of 2x2
        p = img.reshape(-1, 4, 2, 4, 2).permute(0, 1, 3, 2, 4).reshape(-1, 16, 4)
        x = self.blocks(self.embed(p) + self.pos)
        return self.head(self.norm(x).mean(1))


NORMS = {
    "layernorm": lambda ln: ln,
    "prepbn": lambda ln: PRepBN(ln, total_steps=STEPS // 6),
    "batchnorm": TokenBN,
}


def run(name: str, seed: int, data) -> float:
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    model = ViT(NORMS[name])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(STEPS):
        idx = torch.randint(0, len(xtr), (BATCH,), generator=g)
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return nn.functional.cross_entropy(model(xte), yte).item()


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: held-out loss (3-seed mean) BatchNorm 0.30 < LayerNorm 0.46 < "
    "PRepBN 0.67; a direct BN swap is stable and best on an 8x8-digits 2-block ViT",
)
def test_prepbn_beats_direct_batchnorm_swap(record_property):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32).reshape(-1, 8, 8) / 16.0
    y = torch.tensor(y)
    data = (x[:1200], y[:1200], x[1200:], y[1200:])
    res = {n: [run(n, s, data) for s in range(3)] for n in NORMS}
    means = {n: statistics.mean(v) for n, v in res.items()}
    for n, v in means.items():
        record_property(f"test_loss_{n}", round(v, 4))
    print(res)
    assert means["prepbn"] < means["batchnorm"]
