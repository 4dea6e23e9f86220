"""Exact properties of PST: the trainable count formula, the schedule followed by every mask at every
step, the frozen weights untouched, reductions to the Linear and to magnitude pruning, invariances."""

from __future__ import annotations

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo.trainer import Run
from paperzoo_compress.sparsity import MaskedLinear, magnitude_mask
from torch import nn
from torch.utils.data import TensorDataset

from paperzoo_pst_sparse.layer import PSTLinear, to_masked_linear
from paperzoo_pst_sparse.trainer import PSTSparseFinetune

STEPS = 20


def official_schedule(step: int, total: int, iw: float, fw: float, si: float, sf: float) -> float:
    """The official ``schedule_sparsity_ratio``, written out independently."""
    if step <= iw * total:
        return si
    if step > total - fw * total:
        return sf
    mul = 1 - (step - iw * total) / (total - (fw + iw) * total)
    return sf + (si - sf) * mul**3


def small_run(seed: int = 0) -> Run:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 24), nn.ReLU(), nn.Linear(24, 4))
    x, y = torch.randn(64, 16), torch.randint(4, (64,))
    data = DataBundle(TensorDataset(x, y), TensorDataset(x, y), "classification", num_classes=4)
    return Run(model, data, make_optimizer=lambda ps: (torch.optim.AdamW(ps, lr=1e-2), None), seed=seed)


def fit_recording(trainer: PSTSparseFinetune, run: Run) -> tuple[dict, dict, list, dict]:
    """Fit; returns the model's parameters before, after, and each PST layer's pruned count per step."""
    before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    pruned: list[dict[str, int]] = []

    original = trainer.compute_loss

    def compute_loss(model, batch, task):
        loss = original(model, batch, task)
        pruned.append({n: int((~layer.mask()).sum()) for n, layer in trainer.pst_layers.items()})
        return loss

    trainer.compute_loss = compute_loss  # type: ignore[method-assign]
    summary = trainer.fit(run)
    after = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    return before, after, pruned, summary


@pytest.mark.parametrize("method", ["pst", "magnitude"])
def test_trainer_counts_schedule_and_frozen_weights(method):
    run = small_run()
    dense = sum(p.numel() for p in run.model.parameters())
    tr = PSTSparseFinetune(
        final_sparsity=0.85,
        initial_sparsity=0.1,
        initial_warmup=0.15,
        final_warmup=0.25,
        method=method,
        weight_rank=3,
        mask_rank=2,
        max_steps=STEPS,
        batch_size=16,
        progress=False,
    )
    before, after, pruned, summary = fit_recording(tr, run)
    # trainable parameters: (r_w + r_m + 1)(out + in) per sparsified Linear (the last one stays dense)
    per = 3 + 2 + 1 if method == "pst" else 3
    formula = per * ((32 + 16) + (24 + 32))
    assert (
        summary["trainable"] == formula == sum(p.numel() for p in run.model.parameters() if p.requires_grad)
    )
    assert summary["trainable"] < dense
    # every step, every layer prunes exactly int(numel * s(t)) weights, s the official schedule
    assert len(pruned) == STEPS
    for step, counts in enumerate(pruned):
        s = official_schedule(step, STEPS, 0.15, 0.25, 0.1, 0.85)
        assert counts == {"0": int(512 * s), "2": int(768 * s)}, step
    assert summary["density"] == (1280 - int(512 * 0.85) - int(768 * 0.85)) / 1280
    # the frozen weights (and every parameter not PST's) are bitwise unchanged; U, V, A, B, R, C moved
    for name, value in before.items():
        if name in after:
            assert torch.equal(value, after[name]), name
    moved = [n for n in after if n not in before and "weight_V" in n]
    assert moved and all(after[n].abs().sum() > 0 for n in moved)


def test_trainable_count_at_bert_base_size_is_far_below_full():
    layer = PSTLinear(nn.Linear(768, 3072))  # BERT-base's FFN, official ranks 8 and 8
    count = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert count == sum(p.numel() for p in layer.trainable()) == (8 + 8 + 1) * (3072 + 768)
    assert count / layer.weight.numel() < 0.03  # 2.8% of the matrix


def test_dense_and_zero_update_is_the_linear():
    torch.manual_seed(0)
    linear = nn.Linear(12, 7, dtype=torch.float64)
    x = torch.randn(3, 12, dtype=torch.float64)
    layer = PSTLinear(linear)  # V = 0, sparsity 0: the Linear itself
    assert torch.equal(layer(x), linear(x))


def test_magnitude_method_is_magnitude_pruning_of_updated_weight():
    torch.manual_seed(1)
    layer = PSTLinear(nn.Linear(16, 8), weight_rank=2, mask_rank=0, structured=False)
    with torch.no_grad():
        layer.weight_V.normal_()
    layer.sparsity = 0.75  # 96 of 128: round((1 - s) n) = n - int(s n)
    assert torch.equal(layer.mask(), magnitude_mask(layer.updated_weight(), 0.25))


def test_structured_shift_and_column_shift_of_all_rows_keep_the_mask():
    torch.manual_seed(2)
    layer = PSTLinear(nn.Linear(16, 8, dtype=torch.float64), weight_rank=2, mask_rank=2)
    with torch.no_grad():
        for p in layer.trainable():
            p.normal_()
    layer.sparsity = 0.6
    mask = layer.mask()
    with torch.no_grad():
        layer.mask_scores_R.add_(3.0)  # every score + alpha2 * 3: the top-k set is the same
    assert torch.equal(layer.mask(), mask)
    with torch.no_grad():
        layer.mask_scores_C[3] += 100.0  # column 3 gets the top scores: fully kept
    assert bool(layer.mask()[:, 3].all())


def test_masked_linear_export_computes_the_same():
    torch.manual_seed(3)
    layer = PSTLinear(nn.Linear(16, 8, dtype=torch.float64), weight_rank=2, mask_rank=2)
    with torch.no_grad():
        for p in layer.trainable():
            p.normal_()
    layer.sparsity = 0.8
    x = torch.randn(5, 16, dtype=torch.float64)
    exported = to_masked_linear(layer)
    assert isinstance(exported, MaskedLinear)
    with torch.no_grad():
        assert float((exported(x) - layer(x)).abs().max()) <= 1e-13
    assert int((exported.masked_weight() == 0).sum()) >= int(128 * 0.8)


@pytest.mark.parametrize(
    "params",
    [
        {"final_sparsity": 1.0},
        {"initial_warmup": 0.6, "final_warmup": 0.4},
        {"method": "movement"},
        {"initial_sparsity": 0.5, "final_sparsity": 0.4},
        {"weight_rank": -1},
        {"layers": "("},
    ],
)
def test_bad_params_raise(params):
    with pytest.raises(ParamError):
        PSTSparseFinetune(**params)
