"""Parity with the official implementation's norms and zero-mean output Linear (golden tensors recorded
from its repository; see data/reference_norms.json), float64."""

from __future__ import annotations

from pathlib import Path

import torch
from paperzoo_tinylm.norms import RMSNorm

from paperzoo_pre_rmsnorm.layer import CRMSNorm, compress

REF = torch.load(Path(__file__).parent / "data" / "reference_norms.pt")
EPS = 1e-6


def test_norms_match_the_official_functions(record_property):
    x = REF["x"]
    x0 = x - x.mean(-1, keepdim=True)
    crms = CRMSNorm(7, EPS).double()(compress(x0))
    errs = [
        (RMSNorm(8, EPS).double()(x) - REF["rms_norm"]).abs().max(),
        (torch.nn.LayerNorm(8, EPS).double()(x) - REF["layer_norm"]).abs().max(),
        (crms - REF["crms_norm_of_compressed"]).abs().max(),
    ]
    record_property("max_abs_diff_norms_float64", float(max(errs)))
    assert max(errs) < 1e-12


def test_recentred_writer_matches_official_zero_mean_linear():
    lin = torch.nn.Linear(6, 8).double()
    with torch.no_grad():
        lin.weight.copy_(REF["linear_weight"] - REF["linear_weight"].mean(0, keepdim=True))
        lin.bias.copy_(REF["linear_bias"] - REF["linear_bias"].mean())
    torch.testing.assert_close(lin(REF["linear_input"]), REF["linear_zero_mean_output"], rtol=0, atol=1e-12)
