"""The paper's claim at small scale: the stochastic layer-wise shuffle makes a vision Mamba overfit less
(a smaller train-test gap, a better test accuracy) than the same model trained without it.

Setup: scikit-learn's 8x8 digits, 200 training images (so that the plain model overfits: it reaches
97-100% training accuracy) and the other 1,597 as the test set; a tiny vision Mamba (2x2 patches: 16
tokens, width 16, 4 blocks, state 4, mean pooling) trained 40 epochs (batch 32, AdamW 3e-3, cosine) with
``shuffle_rate`` 0.5 (blocks shuffle with probability 0, 1/6, 1/3, 1/2) against 0. Compute-matched: the
same initialisation, data order, steps and optimizer per seed (the shuffle costs no extra FLOPs).

Measured (3 seeds, one thread): without the shuffle, training accuracy 1.000 / 0.970 / 1.000 and test
accuracy 0.817 / 0.802 / 0.840 (gap 0.18 / 0.17 / 0.16); with it, training 0.945 / 0.915 / 0.915 and test
0.768 / 0.695 / 0.744 (gap 0.18 / 0.22 / 0.17). The shuffle lowers training accuracy but lowers test
accuracy as much or more: at this scale it acts as a harmful augmentation (a causal, unidirectional
Mamba over 16 raster-ordered patches loses the 2-D layout it needs), not as a regulariser. The paper's
gains are for large (ViM-B/L, 24-48 layers) models on ImageNet that overfit; it does not reproduce here,
hence a strict xfail with these numbers.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from paperzoo_shufflemamba.model import ShuffleVisionMamba

N_TRAIN, EPOCHS, BATCH, LR, RATE, SEEDS = 200, 40, 32, 3e-3, 0.5, (0, 1, 2)


def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x, torch.tensor(d.target), order


def _train(seed: int, rate: float, data) -> tuple[float, float]:
    """Training and test accuracy after training with ``shuffle_rate = rate``."""
    x, y, order = data
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    torch.manual_seed(seed)
    model = ShuffleVisionMamba(dim=16, depth=4, d_state=4, shuffle_rate=rate, scan="sequential")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS * math.ceil(N_TRAIN / BATCH))
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        perm = train[torch.randperm(N_TRAIN, generator=g)]
        for i in range(0, N_TRAIN, BATCH):
            b = perm[i : i + BATCH]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        return tuple((model(x[s]).argmax(1) == y[s]).float().mean().item() for s in (train, test))


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: shuffle lowers test accuracy (mean 0.736 vs 0.819) without shrinking the train-test "
    "gap (0.19 vs 0.17) on 8x8 digits with a 4-block, 16-wide vision Mamba (3 seeds)",
)
def test_shuffle_reduces_overfitting(record_property):
    data = _digits()
    plain = [_train(s, 0.0, data) for s in SEEDS]
    shuffled = [_train(s, RATE, data) for s in SEEDS]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    test_plain, test_shuffled = mean([t for _, t in plain]), mean([t for _, t in shuffled])
    gap_plain, gap_shuffled = mean([a - t for a, t in plain]), mean([a - t for a, t in shuffled])
    record_property("test_acc_plain", round(test_plain, 4))
    record_property("test_acc_shuffle", round(test_shuffled, 4))
    record_property("gap_plain", round(gap_plain, 4))
    record_property("gap_shuffle", round(gap_shuffled, 4))
    assert mean([a for a, _ in plain]) > 0.95  # the plain model does overfit its 200 images
    assert test_shuffled > test_plain and gap_shuffled < gap_plain
