"""Parity with the official implementation (pixeli99/MixLN, ``NORM_TYPE=post_pre``): golden float64 logits
of a 4-layer model with 1 and 2 Post-LN layers (``POST_NUM``), recorded from its decoder layer with the
same weights (``data/mix_ln_official.json`` names the commit and the command)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_mix_ln.model import MixLNTransformer

SIZES = {"d_model": 16, "n_layers": 4, "n_heads": 2, "d_ff": 48, "vocab_size": 64, "max_seq_len": 32}


def _golden() -> tuple[dict[str, torch.Tensor], dict]:
    data = resources.files("paperzoo_mix_ln.tests") / "data"
    tensors = load_file(str(data / "mix_ln_official.safetensors"))
    return tensors, json.loads((data / "mix_ln_official.json").read_text())


@pytest.mark.parametrize("post_num, alpha", [(1, 0.25), (2, 0.5)])
def test_logits_match_the_official_layers(post_num, alpha, record_property):
    golden, meta = _golden()
    prefix = f"post{post_num}."
    state = {k[len(prefix) :]: v for k, v in golden.items() if k.startswith(prefix)}
    ids, expected = state.pop("input_ids"), state.pop("logits")
    model = MixLNTransformer(alpha=alpha, **SIZES).double().eval()
    # alpha picks the same layers as the official POST_NUM (the first post_num layers Post-LN)
    assert model.config.placements() == meta["layers_built"][f"post_num_{post_num}"]
    model.load_state_dict(state)  # strict: the same parameters, final norm included
    with torch.no_grad():
        err = (model(ids).logits - expected).abs().max().item()
    record_property(f"max_abs_diff_float64_post{post_num}", f"{err:.1e}")
    # float64 over 4 layers of logits of magnitude ~4: summation order alone differs
    assert err < 1e-12, err
