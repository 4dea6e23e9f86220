"""Exact properties: mask counts, masked weights exactly zero through AdamW steps, the FLOP closed form,
the switch to dense fine-tuning (function unchanged bit for bit, formerly masked weights then get
gradients and move), and the trainer's phases and FLOP report."""

from __future__ import annotations

import copy

import pytest
import torch
from paperzoo_compress.sparsity import MaskedLinear
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_spdf.flops import count_flops, linear_flops
from paperzoo_spdf.masks import densify_, open_masks_, random_mask, sparsify_random

D, L, FF, V = 32, 2, 96, 363


def tiny(seed: int = 0) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(d_model=D, n_layers=L, n_heads=4, d_ff=FF, max_seq_len=16)


def ids(seed: int = 0, batch: int = 4, t: int = 16) -> torch.Tensor:
    return torch.randint(256, (batch, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.75, 0.3])
def test_random_mask_drops_exactly_round_s_numel(sparsity):
    w = torch.empty(7, 13)
    mask = random_mask(w, sparsity, torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == w.shape
    assert int((~mask).sum()) == round(sparsity * 91)


def test_random_mask_is_uniform_over_positions():
    """Each entry is dropped with probability s: counts over 2000 masks within 5 binomial sd."""
    g, w = torch.Generator().manual_seed(1), torch.empty(4, 5)
    drops = torch.stack([~random_mask(w, 0.5, g) for _ in range(2000)]).double().sum(0)
    assert (drops - 1000).abs().max() < 5 * (2000 * 0.25) ** 0.5


def test_sparsify_selects_block_matrices_only():
    model = tiny()
    masked = sparsify_random(model, 0.75, seed=0)
    assert len(masked) == 7 * L and all(name.startswith("blocks.") for name in masked)
    assert type(model.lm_head) is torch.nn.Linear  # head dense, embeddings untouched
    for mod in masked.values():
        assert int((~mod.mask).sum()) == round(0.75 * mod.weight.numel())
        assert bool((mod.weight[~mod.mask] == 0).all())


def test_masked_weights_stay_exactly_zero_through_adamw():
    model = tiny()
    masked = sparsify_random(model, 0.5, seed=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.5)
    before = {n: m.weight.detach().clone() for n, m in masked.items()}
    for step in range(10):
        opt.zero_grad()
        lm_loss(model, ids(step)).backward()
        opt.step()
    for name, mod in masked.items():
        assert bool((mod.weight[~mod.mask] == 0).all()), name
        assert not torch.equal(mod.weight[mod.mask], before[name][mod.mask]), name  # the kept ones learn


def test_flops_closed_form_of_a_tinylm_decoder():
    """Dense: 2 x 3 x tokens x (per block 4 d^2 + 3 d d_ff, plus the head d V); sparse: the block part
    times (1 - s) (exact here: every matrix's size times s is an integer)."""
    model, tokens = tiny(), 4 * 16
    blocks, head = L * (4 * D * D + 3 * D * FF), D * V
    dense = 6 * tokens * (blocks + head)
    assert linear_flops(model, tokens).dense == dense
    assert linear_flops(model, tokens).sparse == dense  # no masks: dense
    sparsify_random(model, 0.75, seed=0)
    got = linear_flops(model, tokens)
    assert got.dense == dense and got.sparse == 6 * tokens * (blocks // 4 + head)
    assert linear_flops(model, tokens, training=False).sparse * 3 == got.sparse
    with count_flops(model) as counted:
        model(ids())
    assert (counted.dense, counted.sparse) == (got.dense, got.sparse)


def test_switch_keeps_function_bitwise_and_unmasked_weights_learn():
    model = tiny()
    masked = sparsify_random(model, 0.5, seed=0)
    x = ids(5)
    before = model(x).logits
    grads_sparse = torch.autograd.grad(lm_loss(model, x), [m.weight for m in masked.values()])
    assert all(bool((g[~m.mask] == 0).all()) for g, m in zip(grads_sparse, masked.values()))
    was_masked = {n: ~m.mask.clone() for n, m in masked.items()}
    plain = copy.deepcopy(model)
    assert open_masks_(model) == sum(int(w.sum()) for w in was_masked.values())
    densify_(plain)
    assert not any(isinstance(m, MaskedLinear) for m in plain.modules())
    assert torch.equal(model(x).logits, before) and torch.equal(plain(x).logits, before)
    grads = torch.autograd.grad(lm_loss(model, x), [m.weight for m in masked.values()])
    for g, (name, w) in zip(grads, was_masked.items()):
        assert float((g[w] != 0).double().mean()) > 0.99, name  # they get gradients now
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    opt.zero_grad()
    lm_loss(model, x).backward()
    opt.step()
    moved = [float((masked[n].weight[w] != 0).float().mean()) for n, w in was_masked.items()]
    assert min(moved) > 0.99  # formerly masked weights left zero after one step


def test_trainer_phases_and_flop_report(tmp_path):
    from paperzoo import engine

    config = {
        "seed": 0,
        "data": {"name": "stdlib_text", "seq_len": 16, "max_bytes": 4000},
        "model": {
            "name": "tinylm_decoder",
            "d_model": D,
            "n_layers": L,
            "n_heads": 4,
            "d_ff": FF,
            "vocab_size": 256,
            "max_seq_len": 16,
        },
        "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.1},
        "output": {"dir": str(tmp_path), "name": "run"},
    }
    trainer = {"name": "sparse_pretrain_dense_finetune", "batch_size": 4, "max_steps": 5, "progress": False}
    dense = engine.execute({**config, "trainer": {**trainer, "sparsity": 0.75, "pretrain_steps": 3}})
    sparse = engine.execute(
        {
            **config,
            "output": {"dir": str(tmp_path), "name": "run2"},
            "trainer": {**trainer, "sparsity": 0.75, "pretrain_steps": 3, "finetune": "sparse"},
        }
    )
    tokens = 4 * 16
    blocks, head = L * (4 * D * D + 3 * D * FF), D * 256
    assert dense["pretrain_flops_dense"] == 3 * 6 * tokens * (blocks + head)
    assert dense["pretrain_flops_sparse"] == 3 * 6 * tokens * (blocks // 4 + head)
    assert dense["finetune_flops"] == 2 * 6 * tokens * (blocks + head)
    assert sparse["finetune_flops"] == 2 * 6 * tokens * (blocks // 4 + head)
    assert dense["pretrain_density"] == (blocks // 4 + head) / (blocks + head)
    assert dense["final_density"] == 1.0 and sparse["final_density"] == dense["pretrain_density"]
