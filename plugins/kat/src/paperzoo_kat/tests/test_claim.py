"""The paper's claim at small scale: replacing ViT's MLP by two GR-KAN layers (KAT) trains stably
(reproduced) and is at least as accurate as the same ViT with its GELU MLP (not reproduced here).

The paper trains KAT-T/S/B on ImageNet-1k from scratch (KAT-T 74.6% vs DeiT-T 72.2% top-1). Here:
scikit-learn's 8x8 digits (1,437 training, 360 validation images; the datasets kit's ``digits`` split),
a two-block transformer of width 32 on 2x2 patches, KAT (``ffn="grkan"``, 8 groups, the paper's
denominator) against the identical model with a GELU MLP (``ffn="mlp"``). Compute-matched: same
widths, depth, optimizer, schedule, epochs and batch order; KAT has 320 more parameters (the rational
coefficients, 2 x 8 x 10 per block) on about 27k. Three seeds.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from paperzoo_kat.model import TinyKAT

EPOCHS, BATCH, LR, WEIGHT_DECAY, SEEDS = 25, 64, 3e-3, 0.05, (0, 1, 2)


def _digits() -> tuple[torch.Tensor, ...]:
    """The datasets kit's ``digits`` bundle: (1, 8, 8) images in [0, 1], the same seeded 80/20 split."""
    from paperzoo.data import split
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    y = torch.tensor(d.target)
    train, val = split(len(x), 0.2, 0)
    return x[train], y[train], x[val], y[val]


def _train(ffn: str, seed: int, data: tuple[torch.Tensor, ...]) -> tuple[float, list[float]]:
    x, y, x_val, y_val = data
    torch.manual_seed(seed)
    model = TinyKAT(image_size=8, patch_size=2, dim=32, depth=2, num_heads=4, ffn=ffn)
    decay = [
        p for n, p in model.named_parameters() if p.ndim == 2 and "numerator" not in n and "denom" not in n
    ]
    rest = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0.0}], lr=LR
    )
    steps = EPOCHS * math.ceil(len(x) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        acc = (model(x_val).argmax(-1) == y_val).float().mean().item()
    return acc, losses


@pytest.fixture(scope="module")
def accuracies() -> dict[str, list[float]]:
    """Validation accuracy of KAT and ViT for each seed (every loss of every run must be finite)."""
    data = _digits()
    acc: dict[str, list[float]] = {"kat": [], "vit": []}
    for seed in SEEDS:
        for name, ffn in (("kat", "grkan"), ("vit", "mlp")):
            a, losses = _train(ffn, seed, data)
            assert all(math.isfinite(v) for v in losses), f"{name} seed {seed}: non-finite loss"
            acc[name].append(a)
    return acc


@pytest.mark.claim
def test_kat_trains_stably(accuracies, record_property):
    """Measured: KAT 96.9 / 94.7 / 95.0% (seeds 0, 1, 2), finite loss throughout."""
    kat = accuracies["kat"]
    record_property("acc_kat_mean", round(sum(kat) / len(kat), 4))
    assert min(kat) > 0.9


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: on 8x8 digits (25 epochs, 3 seeds) KAT averages 95.5% against "
    "ViT's 96.3% (KAT 96.9/94.7/95.0, ViT 95.8/96.1/96.9); the paper's gain is on ImageNet-1k",
)
def test_kat_at_least_as_accurate_as_vit(accuracies, record_property):
    mean = {k: sum(v) / len(v) for k, v in accuracies.items()}
    record_property("acc_vit_mean", round(mean["vit"], 4))
    assert mean["kat"] >= mean["vit"]
