"""Parity with the official AWQ code (mit-han-lab/llm-awq): golden scales, clipping thresholds and final
quantised weights of its ``auto_scale_block``/``apply_scale``, ``auto_clip_block``/``apply_clip`` and
``pseudo_quantize_tensor``, run on the same tiny decoder with planted outliers (see ``data/awq_golden.json``
for the commit and the command)."""

import json
from pathlib import Path

import pytest
import torch
from paperzoo_compress.fixture import plant_outliers
from paperzoo_tinylm.model import TinyLMDecoder
from safetensors.torch import load_file

from paperzoo_awq.search import awq_quantize_

DATA = Path(__file__).parent / "data"
NAMES = {"self_attn.": "attn.", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def _ours(name: str) -> str:
    for a, b in NAMES.items():
        name = name.replace(a, b)
    return name


@pytest.fixture(scope="module")
def run():
    meta = json.loads((DATA / "awq_golden.json").read_text())
    gold = load_file(str(DATA / "awq_golden.safetensors"))
    torch.manual_seed(0)
    model = TinyLMDecoder(**meta["model"]["tinylm_decoder"]).double().eval()
    plant_outliers(model, n_outliers=4, magnitude=30.0, seed=0)
    init_sum = sum(float(p.detach().abs().sum()) for p in model.parameters())
    assert init_sum == pytest.approx(meta["model"]["init_abs_sum"], rel=1e-12), "the seeded init drifted"
    result = awq_quantize_(model, gold["calib_ids"], bits=4, group_size=16)
    return model, result, gold


def test_scales_match_official(run, record_property):
    _, result, gold = run
    ours = {f"scale.{i}.{prev}": s for i, prev, _, _, s in result.scales}
    theirs = {_ours(k): v for k, v in gold.items() if k.startswith("scale.")}
    assert ours.keys() == theirs.keys()
    err = max((ours[k] - theirs[k]).abs().max().item() for k in ours)
    record_property("max_abs_diff_scales_float64", err)
    assert err < 1e-12


def test_clips_match_official(run):
    _, result, gold = run
    ours = {name: mv for name, mv in result.clips}
    theirs = {_ours(k).replace("clip.", "blocks.", 1): v for k, v in gold.items() if k.startswith("clip.")}
    assert ours.keys() == theirs.keys()
    assert max((ours[k] - theirs[k]).abs().max().item() for k in ours) < 1e-12


def test_quantized_weights_match_official(run, record_property):
    model, _, gold = run
    errs = []
    for key, want in gold.items():
        kind, _, rest = key.partition(".")
        if kind == "weight":
            got = model.get_submodule("blocks." + _ours(rest)).weight
        elif kind == "norm":
            got = model.get_submodule("blocks." + rest).weight
        else:
            continue
        errs.append((got.float() - want.float()).abs().max().item())
    err = max(errs)
    record_property("max_abs_diff_weights", err)
    assert err < 1e-6  # the golden weights are stored as float32 (rounding ~6e-8 of |w| < 3)
