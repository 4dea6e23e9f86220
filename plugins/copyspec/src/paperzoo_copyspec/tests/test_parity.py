"""Parity with the official implementation (RazvanDu/CopySpec, ``speculative_copying.py``): golden runs of
its ``SpeculativeDecoder.generate_raw`` at temperature 0 on a tiny random tinylm decoder, recorded outside
this repository (``data/copyspec_golden.json`` names the commit and the command). The same weights and
prompts must give the same tokens, the same number of target forward passes and the same number of
accepted copied tokens: the latter two depend on every detail of the copy table (which gamma-grams are
indexed when, which occurrence is copied, how many tokens, when no copy is tried)."""

import json
from importlib import resources

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_copyspec.decoding import CopySpecStats, copyspec_generate

DATA = resources.files("paperzoo_copyspec.tests") / "data"
META = json.loads((DATA / "copyspec_golden.json").read_text())


@pytest.fixture(scope="module")
def golden():
    from paperzoo_tinylm.model import TinyLMDecoder

    tensors = load_file(str(DATA / "copyspec_golden.safetensors"))
    model = TinyLMDecoder(**META["model_config"]).eval()
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    return model, tensors


def test_golden_runs_match_the_official_implementation(golden, record_property):
    model, tensors = golden
    passes_ours, passes_official = 0, 0
    for run in META["runs"]:
        i, stats = run["run"], CopySpecStats()
        out = copyspec_generate(
            model,
            tensors[f"run{i}.prompt"],
            run["max_new_tokens"],
            gamma=run["gamma"],
            number_copy=run["number_copy"],
            stats=stats,
        )
        assert torch.equal(out, tensors[f"run{i}.output"]), f"run {i}: tokens differ"
        assert stats.passes == run["target_forward_calls"], f"run {i}: forward passes differ"
        assert stats.accepted == run["total_accepted"], f"run {i}: accepted copied tokens differ"
        passes_ours += stats.passes
        passes_official += run["target_forward_calls"]
    record_property("golden_runs", len(META["runs"]))
    record_property("passes_ours_vs_official", f"{passes_ours}/{passes_official}")
