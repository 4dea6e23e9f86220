"""Parity with the official code (abhibambhaniya/progressive_gradient_flow_nm_sparsity,
``timm/sparse_pruning/sparse_functions.py``): golden outputs of its mask, MDGF (linear, exp), STE
(``StepDecay``) and SR-STE autograd functions, and of its structure-decay schedules, recorded outside this
project (``data/official_golden.json`` says how). All float32 and computed by the same operations, so the
comparison is bitwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from paperzoo_compress.sparsity import nm_mask
from torch import nn

from paperzoo_nm_progressive_flow.layer import NMSparseLinear
from paperzoo_nm_progressive_flow.schedule import mask_decay, structure_schedule

DATA = Path(__file__).parent / "data"
GOLD = torch.load(DATA / "official_golden.pt")


def weight_grad(beta: float, srste_lambda: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Our layer's effective weight for the golden weight, and the gradient reaching the weight."""
    base = nn.Linear(32, 8, bias=False)
    with torch.no_grad():
        base.weight.copy_(GOLD["weight"])
    layer = NMSparseLinear(base, n=1, m=8, beta=beta, srste_lambda=srste_lambda)
    w = layer.effective_weight()
    w.backward(GOLD["grad_output"])
    return w.detach(), base.weight.grad


@pytest.mark.parametrize(("n", "m"), [(1, 8), (2, 4), (1, 16), (4, 16)])
def test_mask_matches_official(n, m, record_property):
    ours = nm_mask(GOLD["weight"], n, m)
    mismatches = int((ours != GOLD[f"mask_{n}_{m}"].bool()).sum())
    record_property(f"mask_{n}_{m}_mismatches", mismatches)
    assert mismatches == 0


@pytest.mark.parametrize(
    ("name", "beta"),
    [
        ("mdgf_linear", mask_decay(30, "linear", 0.01)),
        ("mdgf_exp", mask_decay(30, "exp", 0.05)),
        ("step", 0.0),
    ],
)
def test_decayed_weight_and_gradient_match_official(name, beta, record_property):
    w, g = weight_grad(beta)
    err = max(float((w - GOLD[f"{name}_out"]).abs().max()), float((g - GOLD[f"{name}_grad"]).abs().max()))
    record_property(f"{name}_max_abs_diff_float32", err)
    assert err == 0.0


def test_srste_matches_official(record_property):
    w, g = weight_grad(0.0, srste_lambda=2e-4)
    err = max(float((w - GOLD["srste_out"]).abs().max()), float((g - GOLD["srste_grad"]).abs().max()))
    record_property("srste_max_abs_diff_float32", err)
    assert err == 0.0


@pytest.mark.parametrize("key", json.loads((DATA / "official_schedules.json").read_text()))
def test_structure_schedule_matches_official(key):
    ref = json.loads((DATA / "official_schedules.json").read_text())[key]
    ours = structure_schedule(
        ref["n"], ref["m"], ref["total"], ref["dense"], ref["fine_tune"], key.split("_")[0]
    )
    assert {str(k): f"{n}:{m}" for k, (n, m) in ours.items()} == ref["schedule"]
