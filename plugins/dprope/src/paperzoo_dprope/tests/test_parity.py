"""Parity with the authors' code (golden tensors recorded from it, see ``data/dprope_official.json``) and
with scipy's KL divergence on the same histograms."""

import json
from importlib import resources

import numpy as np
import pytest
import torch
from paperzoo_tinylm.positions import default_inv_freq
from safetensors.torch import load_file
from scipy.special import rel_entr
from scipy.stats import entropy

from paperzoo_dprope.scaling import (
    angle_histogram,
    dprope_inv_freq,
    dprope_scaling_factors,
    strategy_divergences,
)

DATA = resources.files("paperzoo_dprope.tests") / "data"


def _golden():
    meta = json.loads((DATA / "dprope_official.json").read_text())
    with resources.as_file(DATA / "dprope_official.safetensors") as path:
        return meta, load_file(str(path))


@pytest.mark.parametrize("k", [0, 1, 2])
def test_official_choice_and_frequencies(k, record_property):
    meta, g = _golden()
    case = meta["cases"][k]
    base = default_inv_freq(case["head_dim"], case["rope_theta"])
    train_len = case["origin_max_position"]
    target_len = train_len * case["scaling_factor"]
    assert torch.equal(dprope_scaling_factors(base, train_len, target_len), g[f"case{k}.scaling_factors"])
    assert torch.equal(dprope_inv_freq(base, train_len, target_len), g[f"case{k}.inv_freq"])
    # the official KL is float32 and averaged over the 360 bins ('mean'); ours is float64 and summed.
    # Its float32 sum of +-terms loses digits: relative agreement 1e-3, absolute 1e-8 of the mean.
    ours = strategy_divergences(base, train_len, target_len) / case["intervals"]
    theirs = g[f"case{k}.similarities"].double()
    err = (ours - theirs).abs().max().item()
    record_property(f"kl_max_abs_diff_case{k}", err)
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-8)


def test_official_histograms_bitwise(record_property):
    """Our float64 histograms rounded to float32 equal the official float32 ones (whose counts are exact:
    below 2**9 an added one keeps the 2**-14 start exact)."""
    _, g = _golden()
    base = default_inv_freq(16, 10000.0)
    origin = angle_histogram(base, 64)
    extra = angle_histogram(base, 256)
    inter = angle_histogram(base / 4, 256)
    for ours, key in ((origin, "origin"), (extra, "extrapolation"), (inter, "interpolation")):
        theirs = g[f"case0.{key}_distribution"]
        assert torch.equal(ours.float(), theirs), key
    record_property("histogram_mismatches", 0)


def test_kl_matches_scipy(record_property):
    base = default_inv_freq(32, 10000.0)
    origin = angle_histogram(base, 128).numpy()
    worst = 0.0
    for factor in (1.0, 2.0):
        cand = angle_histogram(base / factor, 256).numpy()
        ours = strategy_divergences(base, 128, 256)[0 if factor == 1.0 else 1].numpy()
        # unnormalised histograms: scipy's elementwise relative entropy, summed
        raw = rel_entr(origin, cand).sum(-1)
        np.testing.assert_allclose(ours, raw, rtol=1e-12, atol=1e-15)
        # normalised: scipy.stats.entropy(p, q) = D_KL(p || q) after normalising both
        p = origin / origin.sum(-1, keepdims=True)
        q = cand / cand.sum(-1, keepdims=True)
        from paperzoo_dprope.scaling import kl_divergence

        mine = kl_divergence(torch.from_numpy(p), torch.from_numpy(q)).numpy()
        ref = entropy(p, q, axis=-1)
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-15)
        worst = max(worst, float(np.abs(mine - ref).max()), float(np.abs(ours - raw).max()))
    record_property("kl_max_abs_diff_scipy", worst)
