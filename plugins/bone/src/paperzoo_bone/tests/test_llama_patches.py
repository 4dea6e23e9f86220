"""Bone applied through config ``patches`` to a transformers Llama built from a small config."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
from paperzoo import engine  # noqa: E402
from paperzoo.patches import apply_patches  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from paperzoo_bone.layer import BoneLinear  # noqa: E402

LLAMA = {
    "vocab_size": 256,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
}


def config(variant: str = "bone", r: int = 4) -> dict:
    return {
        "seed": 0,
        "data": {"name": "stdlib_text", "seq_len": 16, "max_bytes": 4000},
        "model": {"name": "hf:LlamaForCausalLM", "config": dict(LLAMA)},
        "patches": [
            {"name": "*.q_proj", "with": {"name": "bone", "r": r, "variant": variant}, "freeze_rest": True},
            {"name": "*.v_proj", "with": {"name": "bone", "r": r, "variant": variant}, "freeze_rest": True},
        ],
        "optimizer": {"name": "adamw", "lr": 1.0e-2, "weight_decay": 0.0},
        "trainer": {"name": "supervised", "max_steps": 2, "batch_size": 4, "progress": False},
    }


def build(raw: dict):
    plan = engine.plan(raw)
    engine.seed_everything(raw["seed"])
    model = engine.build_model(plan)
    original = copy.deepcopy(model)
    built = dict(zip(map(id, plan.config.patches), plan.patches))
    counts = apply_patches(model, plan.config.patches, lambda p, m: engine._build(built[id(p)], m))
    return model, original, counts


@pytest.mark.parametrize("variant", ["bone", "bat"])
def test_patches_wrap_q_and_v_and_freeze_the_rest(variant):
    r = 4
    model, original, counts = build(config(variant, r))
    assert counts == {"patches.0": 2, "patches.1": 2}
    for layer in model.model.layers:
        assert isinstance(layer.self_attn.q_proj, BoneLinear) and isinstance(
            layer.self_attn.v_proj, BoneLinear
        )
        assert not isinstance(layer.self_attn.k_proj, BoneLinear)
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    assert all(n.endswith("bone_block") for n in trainable) and len(trainable) == 4
    head_dim = LLAMA["hidden_size"] // LLAMA["num_attention_heads"]
    q_out, v_out = LLAMA["hidden_size"], LLAMA["num_key_value_heads"] * head_dim
    assert sum(trainable.values()) == LLAMA["num_hidden_layers"] * r * (q_out + v_out)
    ids = torch.randint(256, (2, 12))
    with torch.no_grad():
        assert torch.equal(model(ids).logits, original(ids).logits), "B = 0 must leave the model unchanged"


def test_engine_run_trains_only_the_blocks(tmp_path: Path):
    raw = config()
    raw["output"] = {"dir": str(tmp_path), "name": "run"}
    summary = engine.execute(raw)
    run_dir = Path(summary["run_dir"])
    ckpt = run_dir / "checkpoints" / (run_dir / "checkpoints" / "latest").read_text().strip()
    trained = load_file(str(ckpt / "model.safetensors"))
    engine.seed_everything(raw["seed"])
    fresh = engine.build_model(engine.plan(raw)).state_dict()
    blocks = [k for k in trained if k.endswith("bone_block")]
    assert len(blocks) == 4 and all(trained[k].abs().sum() > 0 for k in blocks), "the blocks did not train"
    for key, value in fresh.items():
        wrapped = key.replace("q_proj.", "q_proj.base_layer.").replace("v_proj.", "v_proj.base_layer.")
        assert torch.equal(trained[wrapped], value), f"frozen weight {key} changed"
