"""The paper's claim at small scale: at high N:M sparsity (1:8), progressive gradient flow (MDGF, linear
mask decay) trains a transformer to a held-out loss no worse than SR-STE, with lower gradient-norm noise.

Setup (fixed before measuring): a tinylm decoder (d_model 32, 2 blocks, SwiGLU) trained from scratch on
byte blocks of the standard-library corpus, every block Linear 1:8 sparse (head and embeddings dense),
200 AdamW steps (lr 3e-3, batch 16 x 64 tokens), the last 40 with the binary mask for both methods;
MDGF's beta = max(1 - 0.008 s, 0) reaches 0 at step 125; SR-STE with lambda = 2e-4 (paper). Same steps,
same data order, same initialisation per seed; held-out loss with the binary 1:8 mask. Gradient-norm
noise: ``0.5 mean((g_t - g_{t-1})^2)`` of the global gradient norm of the sparse weights (the variance
of its step-to-step fluctuation, insensitive to its slow trend). Three seeds."""

from __future__ import annotations

import functools

import pytest
import torch
from paperzoo_compress.fixture import text_blocks
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_nm_progressive_flow.trainer import NMProgressiveGradientFlow, sparsify_linears

STEPS, BATCH, SEQ, SEEDS = 200, 16, 64, (0, 1, 2)


def train(method: str, seed: int) -> tuple[float, float]:
    """Held-out loss (binary 1:8 mask) and gradient-norm noise of one run."""
    torch.manual_seed(seed)
    model = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=SEQ)
    sched = NMProgressiveGradientFlow(n=1, m=8, method=method, decay_coef=0.008, fine_tune_steps=STEPS // 5)
    lam = 2e-4 if method == "srste" else 0.0
    layers = sparsify_linears(model, r"^blocks\.", 8, n=1, m=8, srste_lambda=lam)
    data = text_blocks("train", 2000, SEQ, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    norms = []
    for step in range(STEPS):
        for layer in layers.values():
            layer.set_state(**sched.schedule_state(step, STEPS))
        loss = lm_loss(model, data[torch.randint(len(data), (BATCH,), generator=g)])
        opt.zero_grad()
        loss.backward()
        norms.append(torch.stack([layer.weight.grad.norm() for layer in layers.values()]).norm())
        opt.step()
    for layer in layers.values():
        layer.set_state(beta=0.0)
    with torch.no_grad():
        held_out = float(lm_loss(model.eval(), text_blocks("val", 64, SEQ, seed=1)))
    diffs = torch.stack(norms).double().diff()
    return held_out, float(0.5 * diffs.square().mean())


@functools.cache
def results() -> dict[str, list[tuple[float, float]]]:
    return {method: [train(method, seed) for seed in SEEDS] for method in ("mdgf", "srste")}


@pytest.mark.claim
def test_mdgf_loss_no_worse_than_srste_at_1_8(record_property):
    got = results()
    for method in ("mdgf", "srste"):
        record_property(f"val_loss_{method}", [round(loss, 4) for loss, _ in got[method]])
    wins = [a[0] <= b[0] for a, b in zip(got["mdgf"], got["srste"])]
    assert all(wins), got


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: MDGF's gradient-norm noise was higher than SR-STE's in 3/3 seeds "
    "(0.037/0.037/0.104 vs 0.021/0.035/0.083)",
)
def test_mdgf_gradient_norm_noise_lower_than_srste(record_property):
    got = results()
    for method in ("mdgf", "srste"):
        record_property(f"grad_norm_noise_{method}", [round(v, 4) for _, v in got[method]])
    assert all(a[1] < b[1] for a, b in zip(got["mdgf"], got["srste"])), got
