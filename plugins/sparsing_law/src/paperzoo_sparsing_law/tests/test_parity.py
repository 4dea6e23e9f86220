"""Parity with the official repository's search functions (golden outputs, see data/golden_search.json)."""

import json
from importlib.resources import files

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_sparsing_law.pplp import cett_threshold, search_cett

DATA = files("paperzoo_sparsing_law.tests") / "data"
META = json.loads((DATA / "golden_search.json").read_text())
TENSORS = load_file(str(DATA / "golden_search.safetensors"))


def test_thresholds_match_reference(record_property):
    worst = 0.0
    for cett, expected in META["thresholds"].items():
        for layer, want in enumerate(expected):
            got = cett_threshold(TENSORS[f"acts.{layer}"], TENSORS[f"down_weight.{layer}"], float(cett))
            worst = max(worst, abs(got - want) / want)
    record_property("threshold_max_rel_diff", worst)
    assert worst < 1e-7  # both pick one float32 linspace candidate: equal when the same one is picked


CURVES = {
    "quad": lambda c: 1 + 0.3 * c * c,
    "exp": lambda c: float(torch.exp(torch.tensor(2.0 * c, dtype=torch.float64))) ** 0.5,
}


@pytest.mark.parametrize("key", sorted(META["cett"]))
def test_cett_search_matches_reference(key):
    name, target = key.split("@")
    assert search_cett(CURVES[name], float(target)) == META["cett"][key]  # same bisection: bitwise
