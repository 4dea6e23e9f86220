"""Exact properties: all-neuron selection equals dense, sliced equals masked dense, FLOPs scale."""

import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_coreinfer.ffn import CoreInferFFN, apply_coreinfer
from paperzoo_coreinfer.selection import core_counts, core_neurons


def _decode(model, ids, steps):
    out = model(ids, use_cache=True)
    logits = [out.logits[:, -1]]
    for _ in range(steps):
        nxt = logits[-1].argmax(-1, keepdim=True)
        out = model(nxt, past_key_values=out.past_key_values, use_cache=True)
        logits.append(out.logits[:, -1])
    return torch.stack(logits, 1)


def test_all_neurons_equals_dense():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, vocab_size=64, max_seq_len=32).double().eval()
    ids = torch.randint(64, (1, 10))
    dense = _decode(model, ids, 6)
    apply_coreinfer(model, alpha=1.0, beta=0.0)  # beta 0: every neuron is core
    sparse = _decode(model, ids, 6)
    assert all(
        m.core.numel() == m.up_proj.out_features for m in model.modules() if isinstance(m, CoreInferFFN)
    )
    assert torch.equal(sparse, dense)


def test_sliced_equals_masked_dense():
    torch.manual_seed(1)
    ffn = CoreInferFFN(16, 64, alpha=0.5, beta=0.3).double().eval()
    ffn(torch.randn(1, 12, 16, dtype=torch.float64))
    core = ffn.core
    assert 0 < core.numel() < 64
    x = torch.randn(3, 1, 16, dtype=torch.float64)
    mask = torch.zeros(64, dtype=torch.float64)
    mask[core] = 1.0
    masked = ffn.down_proj(ffn.act(ffn.gate_proj(x)) * ffn.up_proj(x) * mask)
    assert (ffn(x) - masked).abs().max() < 1e-12  # summation order differs: not bitwise


def test_selection_rules():
    act = torch.tensor([[3.0, 2.0, 1.0, -1.0], [0.5, 2.5, 3.5, -2.0], [1.0, -1.0, 4.0, 2.0]])
    # 8 positive over 3 tokens; alpha 0.75 -> k = int(0.75 * 8 / 3) = 2 per token
    assert torch.equal(core_counts(act, 0.75), torch.tensor([1, 2, 2, 1]))
    assert core_neurons(act, 0.75, beta=0.5).tolist() == [1, 2]
    assert core_neurons(act, 0.75, beta=0.3).tolist() == [0, 1, 2, 3]
    assert core_neurons(act, 0.75, n_core=3).tolist() == [0, 1, 2]  # ties: lower index first


def test_flops_scale_with_core():
    ffn = CoreInferFFN(16, 64, alpha=0.5, beta=0.3).eval()
    assert ffn.flops_per_token() == 3 * 16 * 64
    ffn.set_core(torch.arange(0, 64, 4))
    assert ffn.flops_per_token() == 3 * 16 * 16
    assert ffn._sliced[1][0].shape == (16, 16) and ffn._sliced[2].shape == (16, 16)


def test_training_mode_is_dense():
    torch.manual_seed(2)
    ffn = CoreInferFFN(8, 16).train()
    x = torch.randn(2, 5, 8)
    ref = ffn.down_proj(ffn.act(ffn.gate_proj(x)) * ffn.up_proj(x))
    assert torch.equal(ffn(x), ref) and ffn.core is None
