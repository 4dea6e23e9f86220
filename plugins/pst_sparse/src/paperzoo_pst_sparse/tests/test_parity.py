"""Parity with the official PST code (alibaba/AliceMind S4/PST, ``pst/sparse.py`` ``SparseLinear`` and
``pst/utils.py`` ``schedule_sparsity_ratio``): golden tensors in ``data/pst_golden.pt``, how they were made
in ``data/pst_golden.json``. Same parameters in, same importance, mask, output and gradients out."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
from torch import nn

from paperzoo_pst_sparse.layer import PSTLinear
from paperzoo_pst_sparse.schedule import pst_sparsity

NAMES = ("weight_U", "weight_V", "mask_scores_A", "mask_scores_B", "mask_scores_R", "mask_scores_C")


def golden() -> dict[str, torch.Tensor]:
    with resources.as_file(resources.files("paperzoo_pst_sparse.tests") / "data" / "pst_golden.pt") as path:
        return torch.load(path, weights_only=True)


def ours(gold: dict[str, torch.Tensor], tag: str) -> tuple[PSTLinear, torch.Tensor]:
    """Our layer with the official layer's tensors; returns it and its output on the golden input."""
    w = gold[f"{tag}.weight"]
    linear = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype)
    with torch.no_grad():
        linear.weight.copy_(w)
        linear.bias.copy_(gold[f"{tag}.bias"])
    layer = PSTLinear(linear, weight_rank=3, mask_rank=2, weight_beta=0.5, mask_alpha1=0.7, mask_alpha2=1.3)
    with torch.no_grad():
        for name in NAMES:
            getattr(layer, name).copy_(gold[f"{tag}.{name}"])
    layer.sparsity = 0.7
    y = layer(gold[f"{tag}.x"])
    (y * gold[f"{tag}.g"]).sum().backward()
    return layer, y


@pytest.mark.parametrize("tag", ["f64", "f32"])
def test_layer_matches_official(tag, record_property):
    gold = golden()
    layer, y = ours(gold, tag)
    assert torch.equal(layer.mask(), gold[f"{tag}.mask"].bool())
    # float64 agrees to rounding; float32 within a few ulps (matmul/abs in the same order: measured 0)
    tol = 1e-12 if tag == "f64" else 1e-6
    err = max(
        float((layer.importance().detach() - gold[f"{tag}.scores"]).abs().max()),
        float((y.detach() - gold[f"{tag}.y"]).abs().max()),
        *(float((getattr(layer, n).grad - gold[f"{tag}.grad.{n}"]).abs().max()) for n in NAMES),
    )
    record_property(f"max_abs_diff_{tag}", err)
    assert err <= tol
    assert layer.weight.grad is None  # frozen, as the official code


def test_schedule_matches_official(record_property):
    gold = golden()
    err = 0.0
    for key, values in gold.items():
        if not key.startswith("schedule."):
            continue
        total, iw, fw, si, sf = key.removeprefix("schedule.").split("_")
        ours_ = [
            pst_sparsity(s, int(total), float(sf), float(iw), float(fw), float(si))
            for s in range(len(values))
        ]
        err = max(err, float((torch.tensor(ours_, dtype=torch.float64) - values).abs().max()))
    record_property("schedule_max_abs_diff", err)
    assert err <= 1e-15
