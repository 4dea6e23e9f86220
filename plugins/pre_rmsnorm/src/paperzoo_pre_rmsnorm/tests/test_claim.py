"""The paper's claim: Pre-LN and Pre-RMSNorm transformers are equivalent in training and inference.
Trained with the same optimizer from the same parameters, the Pre-LN decoder and its Pre-RMSNorm form
(writers recentred in the forward) follow the same trajectory; after training, the folded Pre-RMSNorm
and Pre-CRMSNorm conversions give the same logits. float64, 3 seeds."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from paperzoo_pre_rmsnorm.convert import convert, trainable
from paperzoo_pre_rmsnorm.tests.helpers import VOCAB, pre_ln, tokens


def _train(model: torch.nn.Module, steps: int, seed: int) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    losses = []
    for step in range(steps):
        x = tokens(seed=1000 * seed + step, batch=4, length=13)
        loss = F.cross_entropy(model(x[:, :-1]).logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.claim
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_trajectories_and_conversion_match(seed, record_property):
    ln = pre_ln(seed=seed)
    rms = trainable(ln)
    steps = 20
    loss_ln, loss_rms = _train(ln, steps, seed), _train(rms, steps, seed)
    assert loss_ln[-1] < loss_ln[0]  # it trains
    loss_gap = max(abs(a - b) for a, b in zip(loss_ln, loss_rms))
    x = tokens(seed=99)
    ref = ln(x).logits
    gaps = {"trajectory": (rms(x).logits - ref).abs().max().item()}
    for target in ("rms_norm", "crms_norm"):
        gaps[target] = (convert(ln.eval(), target)(x).logits - ref).abs().max().item()
    record_property(f"loss_gap_seed{seed}", loss_gap)
    record_property(f"max_logit_gap_seed{seed}", max(gaps.values()))
    assert loss_gap < 1e-10 and max(gaps.values()) < 1e-10, (loss_gap, gaps)
