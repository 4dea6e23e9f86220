"""Parity with golden tensors of the official OFQ code (nbasyl/OFQ; see data/ofq_golden.json for the
commit and the command): StatsQ's forward, CGA's freeze mask and the oscillation counter."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_ofq_quant.cga import cga_freeze_mask
from paperzoo_ofq_quant.oscillation import OscillationTracker
from paperzoo_ofq_quant.quant import StatsQuantizer

DATA = files("paperzoo_ofq_quant.tests") / "data"
GOLDEN = load_file(str(DATA / "ofq_golden.safetensors"))


def test_metadata_names_the_commit():
    meta = json.loads((DATA / "ofq_golden.json").read_text())
    assert meta["repository"].endswith("nbasyl/OFQ") and len(meta["commit"]) == 40


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_statsq_matches_official(bits, record_property):
    ours = StatsQuantizer(bits)(GOLDEN["w"])
    err = (ours - GOLDEN[f"statsq_b{bits}"]).abs().max().item()
    record_property(f"statsq_b{bits}_max_abs_diff", float(err))
    # same float32 ops in the same order (w / s, clamp, round, (k + 0.5) / n * s): bit-identical
    assert err == 0.0


@pytest.mark.parametrize("bits", [2, 3])
@pytest.mark.parametrize("boundary", [0.005, 0.05])
def test_cga_mask_matches_official(bits, boundary, record_property):
    mask = cga_freeze_mask(GOLDEN["w_cga"], bits, boundary)
    expected = GOLDEN[f"freeze_b{bits}_r{boundary}"]
    assert expected.min() < 1 or boundary == 0.005  # the wide band leaves some weights trainable
    mismatches = int((mask != expected).sum())
    record_property(f"cga_mask_b{bits}_r{boundary}_mismatches", float(mismatches))
    assert mismatches == 0


def test_oscillation_counter_matches_official(record_property):
    tracker = OscillationTracker(momentum=0.01)
    for step in GOLDEN["traj"]:
        tracker.update(step)
    assert GOLDEN["osc_total"].sum() > 0  # the trajectory does oscillate
    assert torch.equal(tracker.total, GOLDEN["osc_total"])
    err = (tracker.ema - GOLDEN["osc_ema"]).abs().max().item()
    record_property("oscillation_ema_max_abs_diff", float(err))
    assert err == 0.0
