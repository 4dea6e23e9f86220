"""The paper's claim at small scale: a TransNormerLLM language model trains as well as a softmax-attention
transformer of the same size (the paper reports lower loss than a LLaMA-style transformer at 385M-7B).

Setup (fixed before looking at any result): byte-level next-token prediction on tinylm's ``tinylm_stdlib``
text (the first 200 kB, blocks of 64 bytes), 2 layers, width 64, 4 heads, for both models:

* TransNormerLLM: lightning attention (block 16) with LRPE-d and the paper's decays, SGLU (d_ff 152),
  SimpleRMSNorm;
* baseline: tinylm's default decoder (softmax attention, RoPE, SwiGLU d_ff 176, RMSNorm, pre-norm),
  parameters within 2% of the TransNormerLLM's.

AdamW (lr 3e-3, betas 0.9/0.95, no weight decay), batch 16, 150 steps, the same batches for both; seeds 0,
1, 2. The figure: mean validation loss (nats per byte) over 8 validation batches after training.
"Comparable" is decided beforehand as: the TransNormerLLM's mean over the three seeds at most 0.10 nats
above the softmax baseline's.
"""

import pytest
import torch
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_transnormer_llm.model import TransNormerLLM

MARGIN = 0.10
STEPS, BATCH, SEQ = 150, 16, 64


def _models(seed: int) -> dict[str, torch.nn.Module]:
    torch.manual_seed(seed)
    tnl = TransNormerLLM(d_model=64, n_layers=2, n_heads=4, d_ff=152, block_size=16)
    torch.manual_seed(seed)
    soft = TinyLMDecoder(d_model=64, n_layers=2, n_heads=4, max_seq_len=SEQ)
    return {"transnormer_llm": tnl, "softmax": soft}


def _train(model: torch.nn.Module, train: torch.Tensor, val: torch.Tensor, seed: int) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    curve = []
    for _ in range(STEPS):
        ids = train[torch.randint(len(train), (BATCH,), generator=g)]
        loss = lm_loss(model, ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        curve.append(loss.item())
    model.eval()
    with torch.no_grad():
        val_loss = sum(lm_loss(model, val[i * BATCH : (i + 1) * BATCH]).item() for i in range(8)) / 8
    return curve, val_loss


@pytest.mark.claim
def test_transnormer_llm_trains_comparably_to_softmax(record_property):
    bundle = stdlib_bytes(seq_len=SEQ, max_bytes=200_000)
    train = torch.cat([bundle.train.tensors[0], bundle.train.tensors[1][:, -1:]], 1)
    val = torch.cat([bundle.val.tensors[0], bundle.val.tensors[1][:, -1:]], 1)
    finals = {"transnormer_llm": [], "softmax": []}
    for seed in range(3):
        models = _models(seed)
        counts = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
        assert abs(counts["transnormer_llm"] / counts["softmax"] - 1) < 0.02, counts
        for name, model in models.items():
            curve, val_loss = _train(model, train, val, seed)
            assert curve[-1] < curve[0] - 1.0, (name, curve[0], curve[-1])  # both learn
            finals[name].append(val_loss)
    means = {k: sum(v) / 3 for k, v in finals.items()}
    for k, v in finals.items():
        record_property(f"val_loss_{k}", [round(x, 4) for x in v])
        record_property(f"val_loss_{k}_mean", round(means[k], 4))
    record_property("params", counts)
    gap = means["transnormer_llm"] - means["softmax"]
    record_property("gap_nats", round(gap, 4))
    assert gap <= MARGIN, finals
