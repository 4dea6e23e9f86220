"""Parity with the official repository (lmsdss/LayerNorm-Scaling, ``NORM_TYPE=LNS``): golden tensors of
its Llama on tinylm weights, recorded outside this package (``data/reference.json`` names the commit
and the exact script)."""

import json
from importlib import resources

import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder
from safetensors.torch import load_file

from paperzoo_layernorm_scaling.model import LayerNormScalingDecoder

_CFG = {"d_model": 16, "n_layers": 4, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32}
# The reference's RMSNorm computes the variance in float32 whatever the input dtype (tinylm's in the input
# dtype): a float32 rounding of the variance (relative 6e-8) on activations of order one is the floor.
_TOL = 1e-6


def _fixture(mode: str) -> dict[str, torch.Tensor]:
    path = resources.files("paperzoo_layernorm_scaling.tests") / "data" / f"reference_{mode}.safetensors"
    with resources.as_file(path) as p:
        return load_file(str(p))


def _weights() -> dict[str, torch.Tensor]:
    ref = _fixture("lns")
    return {k.removeprefix("weight."): v for k, v in ref.items() if k.startswith("weight.")}


def _run(model: torch.nn.Module, ref: dict[str, torch.Tensor]):
    out = model.eval()(ref["input_ids"], output_hidden_states=True)
    hidden = max((out.hidden_states[i] - ref[f"hidden_{i}"]).abs().max().item() for i in range(5))
    return (out.logits - ref["logits"]).abs().max().item(), hidden


def test_metadata_names_the_reference():
    meta = json.loads(
        (resources.files("paperzoo_layernorm_scaling.tests") / "data" / "reference.json").read_text()
    )
    assert meta["repository"].endswith("lmsdss/LayerNorm-Scaling") and len(meta["commit"]) == 40


@torch.no_grad()
def test_matches_official_lns(record_property):
    ref = _fixture("lns")
    model = LayerNormScalingDecoder(**_CFG).double()
    weights = _weights()
    model.load_state_dict({_scaled_key(k): v for k, v in weights.items()})
    logits, hidden = _run(model, ref)
    record_property("max_abs_diff_logits_float64", logits)
    record_property("max_abs_diff_hidden_float64", hidden)
    assert logits < _TOL and hidden < _TOL


@torch.no_grad()
def test_reference_lns_differs_from_its_pre_ln():
    """The fixture is sensitive: the reference's own Pre-LN output differs from its LNS output far beyond
    the tolerance, and our Pre-LN decoder matches the reference's Pre-LN."""
    lns, pre = _fixture("lns"), _fixture("pre")
    assert (lns["hidden_4"] - pre["hidden_4"]).abs().max() > 1e3 * _TOL
    model = TinyLMDecoder(**_CFG).double()
    model.load_state_dict(_weights())
    logits, hidden = _run(model, pre)
    assert logits < _TOL and hidden < _TOL
    assert _run(model, lns)[1] > 1e3 * _TOL


def _scaled_key(key: str) -> str:
    """A Pre-LN parameter name in the scaled decoder (its sublayer norms are wrapped as ``.base``)."""
    for name in ("attn_norm", "ffn_norm"):
        key = key.replace(f".{name}.", f".{name}.base.")
    return key


@pytest.mark.parametrize(
    "key", ["blocks.0.attn_norm.weight", "blocks.3.ffn_norm.weight", "final_norm.weight"]
)
def test_scaled_key(key):
    assert _scaled_key(key) in LayerNormScalingDecoder(**_CFG).state_dict()
