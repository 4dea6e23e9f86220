"""The paper's claim at small scale: at 90% sparsity, PST's learned importance (|W'| + A B + R 1^T + 1 C^T)
keeps more accuracy than magnitude pruning of ``W + U V`` with the same trainable budget.

Setup (fixed before measuring): a tinylm encoder (d_model 32, 2 blocks, 2 heads) with a class read from
its head's logits at a leading CLS position (class c = token c), first trained densely on a synthetic
sequence classification task (which of 8 marker symbols occurs most often among 31 random symbols of 12):
the "pretrained" model. Then, from that model, sparse fine-tuning of every block Linear on the same task,
embeddings, norms and head frozen: PST with ranks r_w = r_m = 1 against magnitude pruning with a weight
update of rank 3 (both 3 (out + in) trainable parameters per matrix), same steps, batches, optimizer
(AdamW, lr 3e-3) and the official schedule (warmups 0.1 / 0.3, cubic to 0.9). Held-out accuracy with the
final masks. Three seeds (seed of the pretrained model, the data and the order). The task is chosen so
that 90% magnitude pruning loses accuracy against the dense model (checked by its own test)."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMEncoder
from torch import nn

from paperzoo_pst_sparse.schedule import pst_sparsity
from paperzoo_pst_sparse.trainer import convert_pst, set_sparsity

SEQ, CLASSES, VOCAB, BATCH = 32, 8, 16, 64
DENSE_STEPS, SPARSE_STEPS, SPARSITY, SEEDS = 250, 120, 0.9, (0, 1, 2)


def task(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences ``[CLS, 31 symbols of 0..11]`` labelled by the most frequent of symbols 0..7
    (sequences with a tie are dropped)."""
    x = torch.randint(12, (4 * n, SEQ - 1), generator=g)
    counts = torch.stack([(x == c).sum(1) for c in range(CLASSES)], 1)
    top = counts.topk(2, dim=1).values
    keep = top[:, 0] > top[:, 1]
    x, y = x[keep][:n], counts[keep].argmax(1)[:n]
    return torch.cat([torch.full((len(x), 1), VOCAB - 1), x], 1), y


class Classifier(nn.Module):
    """A tinylm encoder whose CLS-position logits over tokens 0..7 are the class logits."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = TinyLMEncoder(d_model=32, n_layers=2, n_heads=2, vocab_size=VOCAB, max_seq_len=SEQ)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).logits[:, 0, :CLASSES]


def train(model: nn.Module, params, steps: int, data, g: torch.Generator, layers=None) -> None:
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=0.0)
    x, y = data
    for step in range(steps):
        if layers is not None:
            set_sparsity(layers, pst_sparsity(step, steps, SPARSITY))
        idx = torch.randint(len(x), (BATCH,), generator=g)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if layers is not None:
        set_sparsity(layers, pst_sparsity(steps, steps, SPARSITY))


@torch.no_grad()
def accuracy(model: nn.Module, data) -> float:
    x, y = data
    return float((model.eval()(x).argmax(1) == y).float().mean())


@functools.cache
def pretrained(seed: int) -> tuple[dict, tuple, tuple, float]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    train_set, val_set = task(4000, g), task(1000, g)
    model = Classifier()
    train(model, model.parameters(), DENSE_STEPS, train_set, g)
    return model.state_dict(), train_set, val_set, accuracy(model, val_set)


def sparse_finetune(method: str, seed: int) -> tuple[float, int]:
    """Held-out accuracy at 90% sparsity and the trainable parameter count."""
    state, train_set, val_set, _ = pretrained(seed)
    torch.manual_seed(seed)
    model = Classifier()
    model.load_state_dict(state)
    ranks = {"weight_rank": 1, "mask_rank": 1} if method == "pst" else {"weight_rank": 3, "mask_rank": 0}
    layers = convert_pst(model, r"blocks\.", structured=method == "pst", **ranks)
    params = [p for p in model.parameters() if p.requires_grad]
    train(model, params, SPARSE_STEPS, train_set, torch.Generator().manual_seed(100 + seed), layers)
    return accuracy(model, val_set), sum(p.numel() for p in params)


@functools.cache
def results() -> dict[str, list[tuple[float, int]]]:
    return {m: [sparse_finetune(m, s) for s in SEEDS] for m in ("pst", "magnitude")}


def mean(xs: list[float]) -> float:
    """The arithmetic mean."""
    return sum(xs) / len(xs)


@pytest.mark.claim
def test_task_separates_magnitude_pruning_from_dense(record_property):
    """The task is informative: 90% magnitude pruning loses at least 3 points of mean held-out accuracy
    against the dense model it starts from."""
    dense = [pretrained(s)[3] for s in SEEDS]
    magnitude = [acc for acc, _ in results()["magnitude"]]
    record_property("acc_dense", [round(a, 4) for a in dense])
    assert mean(magnitude) < mean(dense) - 0.03, (dense, magnitude)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: held-out accuracy at 90% sparsity, PST [0.944, 0.864, 0.931] "
    "(mean 0.913) vs magnitude pruning [0.906, 0.887, 0.950] (mean 0.914), dense [0.972, 0.996, 0.985]: "
    "a tie on the mean, PST ahead in 1/3 seeds",
)
def test_pst_beats_magnitude_at_90_percent_sparsity(record_property):
    """PST beats magnitude pruning on the mean and in most seeds."""
    got = results()
    pst, magnitude = ([acc for acc, _ in got[m]] for m in ("pst", "magnitude"))
    record_property("acc_pst", [round(a, 4) for a in pst])
    record_property("acc_magnitude", [round(a, 4) for a in magnitude])
    assert [n for _, n in got["pst"]] == [n for _, n in got["magnitude"]]  # the same trainable budget
    wins = sum(a > b for a, b in zip(pst, magnitude))
    assert mean(pst) > mean(magnitude) and 2 * wins > len(SEEDS), (pst, magnitude)
