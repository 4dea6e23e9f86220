"""The paper's claim at small scale: sparse pre-training (50% static random masks on the attention and
MLP matrices) followed by dense fine-tuning lands close to dense pre-training + fine-tuning, and beats
sparse pre-training + sparse fine-tuning, at matched fine-tuning steps.

Setup (fixed before measuring): a tinylm decoder (d_model 32, 2 blocks, SwiGLU, head and embeddings
dense) pre-trained from scratch for 200 AdamW steps (lr 3e-3, weight decay 0.1, batch 16 x 64 bytes) on
the standard-library corpus (its first 1,000,000 bytes), then fine-tuned for 60 steps (a fresh AdamW,
lr 1e-3, weight decay 0.1) on a held-out group of modules (the corpus bytes 1,100,000 to 1,350,000:
modules the pre-training never saw), scored by the mean next-byte loss on the following 50,000 bytes.
Same initialisation, data order and masks per seed across the arms; three seeds. "Close": the SPDF loss
within 3% of the dense one (a margin fixed before measuring). Pre-training Linear FLOPs counted by
:func:`paperzoo_spdf.flops.count_flops`."""

from __future__ import annotations

import functools

import pytest
import torch
from paperzoo.builtins.datasets import stdlib_source_bytes
from paperzoo_compress.fixture import text_blocks
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import encode
from paperzoo_tinylm.training import lm_loss

from paperzoo_spdf.flops import Flops, count_flops
from paperzoo_spdf.masks import open_masks_, sparsify_random

PRE_STEPS, FT_STEPS, BATCH, SEQ, SPARSITY, MARGIN, SEEDS = 200, 60, 16, 64, 0.5, 0.03, (0, 1, 2)


@functools.cache
def finetune_text() -> tuple[torch.Tensor, torch.Tensor]:
    """Blocks of the held-out module group: training blocks at random offsets, validation consecutive."""
    ids = torch.tensor(encode(stdlib_source_bytes(1_400_000)[1_100_000:]))
    train, val = ids[:250_000], ids[250_000:]
    starts = torch.randint(len(train) - SEQ - 1, (2000,), generator=torch.Generator().manual_seed(0))
    blocks = torch.stack([train[s : s + SEQ + 1] for s in starts.tolist()])
    n = (len(val) - 1) // (SEQ + 1)
    return blocks, val[: n * (SEQ + 1)].reshape(n, SEQ + 1)


def steps(model: torch.nn.Module, data: torch.Tensor, n: int, lr: float, seed: int) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(n):
        loss = lm_loss(model, data[torch.randint(len(data), (BATCH,), generator=g)])
        opt.zero_grad()
        loss.backward()
        opt.step()


def pretrain(seed: int, sparse: bool) -> tuple[dict[str, torch.Tensor], Flops]:
    torch.manual_seed(seed)
    model = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=SEQ + 1)
    if sparse:
        sparsify_random(model, SPARSITY, seed=seed)
    with count_flops(model) as flops:
        steps(model, text_blocks("train", 4000, SEQ + 1, seed=0), PRE_STEPS, 3e-3, seed)
    return model, flops


@torch.no_grad()
def val_loss(model: torch.nn.Module) -> float:
    return float(lm_loss(model.eval(), finetune_text()[1]))


def finetune(model: torch.nn.Module, dense: bool, seed: int) -> float:
    if dense:
        open_masks_(model)
    steps(model, finetune_text()[0], FT_STEPS, 1e-3, seed + 100)
    return val_loss(model)


@functools.cache
def results() -> dict[str, list[float]]:
    import copy

    out: dict[str, list[float]] = {"dense": [], "spdf": [], "sparse": [], "saved": []}
    for seed in SEEDS:
        dense, _ = pretrain(seed, sparse=False)
        sparse, flops = pretrain(seed, sparse=True)
        out["dense"].append(finetune(dense, True, seed))
        out["spdf"].append(finetune(copy.deepcopy(sparse), True, seed))
        out["sparse"].append(finetune(sparse, False, seed))
        out["saved"].append(1.0 - flops.ratio)
    return out


def record(got: dict[str, list[float]], record_property) -> list[float]:
    """Record the three arms' losses and the FLOPs saved; return SPDF's relative gap to dense + FT."""
    for arm in ("dense", "spdf", "sparse"):
        record_property(f"ft_val_loss_{arm}", [round(v, 4) for v in got[arm]])
    record_property("pretrain_linear_flops_saved", round(got["saved"][0], 4))
    gaps = [(s - d) / d for s, d in zip(got["spdf"], got["dense"])]
    record_property("spdf_relative_gap", [round(g, 4) for g in gaps])
    return gaps


@pytest.mark.claim
def test_spdf_beats_sparse_finetuning(record_property):
    got = results()
    record(got, record_property)
    assert all(s < b for s, b in zip(got["spdf"], got["sparse"])), got


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: SPDF's fine-tuned loss was 2.0%/5.6%/4.4% above dense + FT "
    "(2.256/2.263/2.278 vs 2.211/2.143/2.183 nats), outside the 3% margin in 2 of 3 seeds; 60 dense "
    "fine-tuning steps recover 14-29% of the gap between sparse + sparse FT and dense + FT",
)
def test_spdf_close_to_dense_finetuning(record_property):
    gaps = record(results(), record_property)
    assert all(g <= MARGIN for g in gaps), gaps
