"""The paper's claim at small scale: as the FFN activation of a language model, PolyReLU and PolyNorm
reach a lower training loss than the usual activation at the same parameter count and number of steps
(Zhuo et al. 2025, Figure 1 and Section 4: 1B dense and MoE models against SwiGLU, GELU and ReLU^2).

Setting: the tinylm kit's decoder (``d_model`` 64, 2 layers, 4 heads, RoPE, RMSNorm pre-norm) with
plain MLP feed-forward sublayers ``down(act(up(x)))``, ``d_ff`` 256, trained on the kit's
``tinylm_stdlib`` corpus (standard-library source bytes, blocks of 64) for 200 AdamW steps (batch 16,
learning rate 3e-3, 20 warm-up steps, cosine to a tenth, clip 1.0). The three models differ only in the
activation (GELU: 145,088 parameters; PolyCom adds its 4 coefficients per block: 145,096), start from
the same weights and see the same batches. The metric is the mean training loss over the last 40 steps,
for seeds 0, 1, 2.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

STEPS, BATCH, SEQ, LR, WARMUP, TAIL = 200, 16, 64, 3e-3, 20, 40
SEEDS = (0, 1, 2)


def _train(activation: str, seed: int, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    from paperzoo_tinylm.model import TinyLMDecoder

    torch.manual_seed(seed)
    model = TinyLMDecoder(
        d_model=64, n_layers=2, n_heads=4, max_seq_len=SEQ, ffn="mlp", activation=activation
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.0)
    order = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(STEPS):
        scale = min(1.0, (step + 1) / WARMUP) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / STEPS)))
        for group in optimizer.param_groups:
            group["lr"] = LR * scale
        idx = torch.randint(len(inputs), (BATCH,), generator=order)
        loss = F.cross_entropy(model(inputs[idx]).logits.flatten(0, 1), targets[idx].flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return sum(losses[-TAIL:]) / TAIL


@pytest.mark.claim
def test_polycom_trains_to_lower_loss_than_gelu(record_property):
    from paperzoo_tinylm.data import stdlib_bytes

    torch.set_num_threads(1)
    inputs, targets = stdlib_bytes(seq_len=SEQ, max_bytes=300_000, seed=0).train.tensors
    results = {
        act: [_train(act, s, inputs, targets) for s in SEEDS] for act in ("gelu", "polyrelu", "polynorm")
    }
    for act, losses in results.items():
        print(f"{act:>8}: " + ", ".join(f"{v:.4f}" for v in losses) + f"  mean {sum(losses) / 3:.4f}")
        record_property(f"train_loss_{act}", round(sum(losses) / 3, 4))
    for act in ("polyrelu", "polynorm"):
        # lower on every seed (paired: same initial weights and batches)
        assert all(p < g for p, g in zip(results[act], results["gelu"])), (act, results)
