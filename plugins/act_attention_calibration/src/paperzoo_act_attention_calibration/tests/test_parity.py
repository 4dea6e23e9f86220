"""Parity: golden outputs of the official calibration functions (tests/data/golden.json names the
repository, commit and command), and transformers' LlamaForCausalLM as the reference for the model the
calibration wraps (float64)."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
import torch
from paperzoo.compat import import_transformers
from paperzoo_tinylm import convert
from safetensors.torch import load_file

from paperzoo_act_attention_calibration.calibration import calibrate
from paperzoo_act_attention_calibration.kernel import calibrated
from paperzoo_act_attention_calibration.llama import calibrated_llama
from paperzoo_act_attention_calibration.tests.helpers import tiny_decoder

DATA = files("paperzoo_act_attention_calibration.tests") / "data"


def golden() -> dict[str, torch.Tensor]:
    return load_file(str(DATA / "golden.safetensors"))


def test_metadata_names_the_source():
    meta = json.loads((DATA / "golden.json").read_text())
    assert len(meta["commit"]) == 40 and meta["repository"] == "https://github.com/GATECH-EIC/ACT"


@pytest.mark.parametrize("case", ["bos_mid", "no_bos"])
def test_single_head_search_path_matches_the_official_function(case, record_property):
    t = golden()
    p = t[f"{case}_p"]
    err = 0.0
    for head in range(p.shape[1]):
        got = calibrate(p, [head])[0, head]
        assert not torch.equal(got, p[0, head])  # the case has sinks in every head
        err = max(err, (got - t[f"{case}_head{head}"]).abs().max().item())
    record_property(f"max_abs_diff_official_{case}_float64", err)
    assert err < 1e-15  # float64: sums over the sink columns in another order


def test_evaluation_path_matches_the_official_function(record_property):
    t = golden()
    got = calibrate(t["eval_p"], t["eval_heads"].tolist())
    err = (got - t["eval_out"]).abs().max().item()
    record_property("max_abs_diff_official_eval_float64", err)
    assert not torch.equal(got, t["eval_p"])
    assert err < 1e-15


def llama_pair(seed: int = 0):
    model = tiny_decoder(seed, n_kv_heads=2)
    hf = convert.to_llama(model).double().eval()
    hf.config._attn_implementation = "sdpa"  # eager attention would take its softmax in float32
    return model, hf


@pytest.fixture
def llama_norm_in_input_dtype(monkeypatch):
    """transformers' LlamaRMSNorm computes in float32 whatever the input: a 1e-7 floor in float64. The
    comparison runs it in the input dtype (the same formula without the cast), as tinylm's parity does."""
    import_transformers()
    from transformers.models.llama import modeling_llama

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

    monkeypatch.setattr(modeling_llama.LlamaRMSNorm, "forward", forward)


def test_uncalibrated_tinylm_equals_transformers_llama(llama_norm_in_input_dtype, record_property):
    model, hf = llama_pair()
    ids = torch.randint(64, (2, 20), generator=torch.Generator().manual_seed(0))
    err = (model(ids).logits - hf(ids).logits).abs().max().item()
    record_property("max_abs_diff_plain_vs_llama_float64", err)
    assert err < 1e-12  # float64: tinylm's explicit softmax vs transformers' fused attention


def test_calibrated_tinylm_equals_calibrated_transformers_llama(llama_norm_in_input_dtype, record_property):
    model, hf = llama_pair()
    ids = torch.randint(64, (2, 20), generator=torch.Generator().manual_seed(1))
    heads = {0: [0, 3], 1: [1, 2]}
    plain = hf(ids).logits
    with calibrated(model, heads), calibrated_llama(hf, heads):
        ours, ref = model(ids).logits, hf(ids).logits
    assert (ref - plain).abs().max() > 1e-3  # calibration changes the output
    err = (ours - ref).abs().max().item()
    record_property("max_abs_diff_calibrated_vs_llama_float64", err)
    assert err < 1e-12
    assert torch.equal(hf(ids).logits, plain)  # the wrapper is removed on exit


def test_llama_wrapper_with_eager_masks_and_an_empty_head_set(llama_norm_in_input_dtype):
    model, hf = llama_pair(1)
    ids = torch.randint(64, (1, 16), generator=torch.Generator().manual_seed(2))
    plain = hf(ids).logits
    with calibrated_llama(hf, {0: []}):
        assert torch.equal(hf(ids).logits, plain)
    hf.config._attn_implementation = "eager"  # the wrapper then receives an additive mask
    heads = {0: [2], 1: [0]}  # every layer wrapped: eager's own softmax is float32
    with calibrated(model, heads), calibrated_llama(hf, heads):
        torch.testing.assert_close(hf(ids).logits, model(ids).logits, rtol=0, atol=1e-12)
