"""Parity of the core-neuron selection with golden selections from the reference repository's
``get_core_neurons`` (see ``data/golden_selection.json``)."""

import json
from importlib.resources import files

import torch
from safetensors.torch import load_file

from paperzoo_coreinfer.selection import core_neurons, token_topk

DATA = files("paperzoo_coreinfer.tests") / "data"


def test_golden_selection(record_property):
    meta = json.loads((DATA / "golden_selection.json").read_text())
    golden = load_file(str(DATA / "golden_selection.safetensors"))
    mismatched = 0
    for i, case in enumerate(meta["cases"]):
        x = golden[f"x{i}"]
        assert token_topk(x, case["token_sparsity"]) == case["per_token_k"]
        ours = core_neurons(x, case["token_sparsity"], n_core=int(case["d_ff"] * case["sparsity"]))
        mismatched += int(not torch.equal(ours, golden[f"core{i}"]))
    record_property("selection_cases_mismatched", mismatched)
    assert mismatched == 0
