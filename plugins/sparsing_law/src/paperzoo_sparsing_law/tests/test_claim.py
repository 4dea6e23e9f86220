"""The paper's headline contrast at small scale: after equal training on text, a ReLU-activated tiny LM
has a higher PPL-1% sparsity than its SiLU-activated twin (same sizes, data, seed, steps). Both use the
paper's gated FFN, act(gate(x)) * up(x) (ReGLU vs SwiGLU)."""

import pytest
import torch
from paperzoo.builtins.datasets import stdlib_text
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_sparsing_law.pplp import ppl_p_sparsity

STEPS, BATCH, SEQ = 150, 16, 64


def _train(activation: str, seed: int, data) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = TinyLMDecoder(d_model=48, n_layers=2, n_heads=4, d_ff=128, vocab_size=256, max_seq_len=SEQ,
                          ffn="gated", activation=activation)  # fmt: skip
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    x_all = data.train.tensors[0]
    for _ in range(STEPS):
        idx = torch.randint(len(x_all), (BATCH,), generator=g)
        lm_loss(model, x_all[idx]).backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


@pytest.mark.claim
def test_relu_sparser_than_silu_at_ppl_1(record_property):
    data = stdlib_text(seq_len=SEQ, max_bytes=200_000)
    x, y = data.val.tensors[0][:8], data.val.tensors[1][:8]
    rows = []
    for seed in range(3):
        s = {a: ppl_p_sparsity(_train(a, seed, data), x, y, p=1.0, tol=1e-4, num_thresholds=4096)
             for a in ("relu", "silu")}  # fmt: skip
        rows.append((s["relu"].sparsity, s["silu"].sparsity, s["relu"].loss_dense, s["silu"].loss_dense))
    relu = [r[0] for r in rows]
    silu = [r[1] for r in rows]
    record_property("ppl1_sparsity_relu_mean", sum(relu) / 3)
    record_property("ppl1_sparsity_silu_mean", sum(silu) / 3)
    record_property("val_loss_relu_silu", [(round(r[2], 3), round(r[3], 3)) for r in rows])
    assert all(r > s for r, s in zip(relu, silu)), rows
