"""Parity with golden tensors recorded from the first author's nanoTransNormer (pure-torch path, float64;
``data/transnormer_official.json`` says how): its weights are copied into :class:`TransNormerLLM` and the
logits of the training path (parallel masked form) and of the recurrent decoding path are compared."""

import json
from importlib.resources import files

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_transnormer_llm.model import TransNormerCache, TransNormerLLM

DATA = files("paperzoo_transnormer_llm.tests") / "data"


def _golden() -> tuple[dict, dict]:
    return load_file(str(DATA / "transnormer_official.safetensors")), json.loads(
        (DATA / "transnormer_official.json").read_text()
    )


def _ours(gold: dict, block_size: int, form: str = "chunked") -> TransNormerLLM:
    model = TransNormerLLM(
        vocab_size=64,
        d_model=16,
        n_layers=2,
        n_heads=2,
        use_lrpe=[False, True],
        block_size=block_size,
        form=form,
        tie_embeddings=True,
    ).double()
    names = {"embed.weight": "transnormer.wte.weight", "lm_head.weight": "lm_head.weight"}
    for i in range(2):
        for ours, theirs in [
            ("token_mixer.qkvu_proj.weight", "token_mixer.qkvu_proj.weight"),
            ("token_mixer.out_proj.weight", "token_mixer.out_proj.weight"),
            ("channel_mixer.l1.weight", "channel_mixer.l1.weight"),
            ("channel_mixer.l2.weight", "channel_mixer.l2.weight"),
            ("channel_mixer.l3.weight", "channel_mixer.l3.weight"),
        ]:
            names[f"blocks.{i}.{ours}"] = f"transnormer.h.{i}.{theirs}"
    names["blocks.1.token_mixer.lrpe.theta"] = "transnormer.h.1.token_mixer.lrpe.theta"
    state = {k: gold["weights." + v] for k, v in names.items()}
    assert set(state) == set(model.state_dict()), "every parameter of ours maps to one of the official model"
    model.load_state_dict(state)
    return model


def test_metadata_names_the_source():
    _, meta = _golden()
    assert meta["repository"].startswith("https://github.com/") and len(meta["commit"]) == 40
    assert "record.py" in meta["command"]


@pytest.mark.parametrize(
    "form,block_size", [("chunked", 5), ("chunked", 64), ("recurrent", 4), ("parallel", 8)]
)
def test_logits_match_official_training_path(form, block_size, record_property):
    gold, _ = _golden()
    model = _ours(gold, block_size, form)
    with torch.no_grad():
        logits = model(gold["input_ids"]).logits
    err = (logits - gold["logits"]).abs().max().item()
    record_property(f"max_abs_diff_float64_{form}_{block_size}", err)
    assert err < 1e-14


def test_decoding_matches_official_inference_path(record_property):
    gold, _ = _golden()
    model = _ours(gold, block_size=3)
    ids = gold["input_ids"]
    with torch.no_grad():
        out = model(ids[:, :8], use_cache=True)
        got, cache = [out.logits[:, -1]], out.past_key_values
        for t in range(8, 12):
            out = model(ids[:, t : t + 1], past_key_values=cache, use_cache=True)
            got.append(out.logits[:, -1])
            cache = out.past_key_values
    assert isinstance(cache, TransNormerCache) and cache.get_seq_length() == 12
    err = (torch.stack(got, 1) - gold["decode_logits"]).abs().max().item()
    state_err = (cache.states[1].kv - gold["decode_state_layer1"]).abs().max().item()
    record_property("max_abs_diff_float64_decoding", err)
    assert err < 1e-14 and state_err < 1e-14
