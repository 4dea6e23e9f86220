"""Parity with the official TensorFlow AttSets unit (Yang7879/AttSets, ``attsets_fc``): golden outputs
recorded from the official code (``data/attsets_official.json`` names the commit and the command)."""

import json
from importlib.resources import files

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_attsets.pool import AttSetsPool

DATA = files("paperzoo_attsets.tests") / "data"
CASES = ("b3_n5_d8", "b2_n1_d8", "b1_n24_d16")


def test_metadata_names_the_source():
    meta = json.loads((DATA / "attsets_official.json").read_text())
    assert meta["repository"].endswith("Yang7879/AttSets") and len(meta["commit"]) == 40


@pytest.mark.parametrize("case", CASES)
def test_matches_official_attsets_fc(case, record_property):
    """The official unit runs in float32; ours, with its weights, in float64 and in float32. The float64
    run differs from TensorFlow's float32 arithmetic by float32 rounding only (inputs of order 1, sums
    of at most 24 terms: at most 2.1e-7 measured); the float32 run by reduction order as well."""
    t = load_file(str(DATA / "attsets_official.safetensors"))
    x, w, b = t[f"{case}_x"], t[f"{case}_W"], t[f"{case}_b"]
    for dtype, tol in ((torch.float64, 1e-6), (torch.float32, 2e-6)):
        pool = AttSetsPool(w.shape[0]).to(dtype)
        with torch.no_grad():
            pool.score.weight.copy_(w.T)  # TensorFlow computes x @ W + b
            pool.score.bias.copy_(b)
        xin = x.to(dtype)
        out, weights = pool(xin), pool.attention(xin)
        err = (out - t[f"{case}_y"].to(dtype)).abs().max().item()
        werr = (weights - t[f"{case}_weights"].to(dtype)).abs().max().item()
        assert err < tol and werr < tol, (dtype, err, werr)
        if dtype == torch.float64:
            record_property(f"max_abs_diff_{case}", err)
