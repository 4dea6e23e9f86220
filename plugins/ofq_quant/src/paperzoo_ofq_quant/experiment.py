"""The claim's experiment: a tiny ViT on scikit-learn's digits (8x8), pretrained in float, then 2-bit
weight QAT for the same number of steps with (a) LSQ's learnable per-row scale (the baseline) or (b)
StatsQ with CGA over the second half. Oscillation frequency is counted over that second half in both
runs (same steps, same optimizer, same cosine schedule); the classifier head stays float in both."""

from __future__ import annotations

import copy
import functools
import math

import torch
from torch import nn

from paperzoo_ofq_quant.cga import CGA
from paperzoo_ofq_quant.oscillation import OscillationTracker
from paperzoo_ofq_quant.quant import quant_linears, quantize_linears
from paperzoo_ofq_quant.vit import TinyViT

PRETRAIN_STEPS, QAT_STEPS, BATCH = 1000, 300, 64
PRETRAIN_LR, QAT_LR = 3e-3, 1e-3
BITS, BOUNDARY = 2, 0.005


@functools.cache
def digits() -> tuple[torch.Tensor, ...]:
    """Train/test split (1400/397) of scikit-learn's digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = torch.tensor(d.data, dtype=torch.float32) / 16, torch.tensor(d.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]


def accuracy(model: nn.Module) -> float:
    _, _, xte, yte = digits()
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    model.train()
    return acc


def _batches(seed: int, steps: int):
    xtr, ytr, _, _ = digits()
    g = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        for idx in torch.randperm(len(xtr), generator=g).split(BATCH):
            if done == steps:
                return
            yield xtr[idx], ytr[idx]
            done += 1


@functools.cache
def pretrained(seed: int) -> TinyViT:
    """The float model of ``seed`` (shared by both QAT runs of that seed)."""
    torch.manual_seed(seed)
    model = TinyViT()
    opt = torch.optim.AdamW(model.parameters(), lr=PRETRAIN_LR, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, PRETRAIN_STEPS)
    for x, y in _batches(seed, PRETRAIN_STEPS):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return model


def qat(seed: int, method: str, steps: int = QAT_STEPS) -> dict[str, float]:
    """2-bit QAT from the seed's float model; ``method`` is ``lsq`` or ``ofq`` (StatsQ + CGA)."""
    model = copy.deepcopy(pretrained(seed))
    quantize_linears(model, BITS, "lsq" if method == "lsq" else "statsq", skip=("head",))
    modules = quant_linears(model)
    opt = torch.optim.AdamW(model.parameters(), lr=QAT_LR, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    cga = CGA(modules, BITS, BOUNDARY) if method == "ofq" else None
    trackers = {n: OscillationTracker() for n in modules}
    start = math.ceil(steps / 2)
    for step, (x, y) in enumerate(_batches(seed + 1000, steps)):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        if cga is not None and step >= start:
            cga.after_backward()
        opt.step()
        sched.step()
        if cga is not None:
            cga.after_step()
        if step + 1 == start:
            for t in trackers.values():
                t.reset_counts()
        for n, m in modules.items():
            trackers[n].update(m.weight_int())
    numel = sum(t.total.numel() for t in trackers.values())
    osc = sum(float(t.total.sum()) for t in trackers.values()) / (
        numel * trackers[next(iter(trackers))].steps
    )
    return {"accuracy": accuracy(model), "oscillation": osc, "float_accuracy": accuracy(pretrained(seed))}
