"""The frozen API: every component's contract, slot names, config fields, hook names, the model-call
protocol, the cache interface and the checkpoint's recipe, key and parameter names. A change to any of
these fails here on purpose: change the test only together with the README and every plugin that relies
on the name."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import torch
from paperzoo.testing import parametrize_with_checks

from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.checkpoints import RECIPES, checkpoint_key
from paperzoo_tinylm.config import SLOTS, TinyLMConfig
from paperzoo_tinylm.hooks import hook_names
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMOutput
from paperzoo_tinylm.tests.helpers import tiny, tokens


# A kit: its corpus and synthetic tasks implement no paper, so a spec need not name one (as in the
# datasets kit); every other contract check still runs for every component.
@parametrize_with_checks("tinylm", require_paper=False)
def test_contract(check):
    check()


def test_slot_names():
    assert SLOTS == {
        "norm": ("rms_norm", "layer_norm", "identity"),
        "output_norm": ("rms_norm", "layer_norm", "identity"),
        "norm_placement": ("pre", "post", "peri", "sandwich"),
        "attention": ("softmax",),
        "ffn": ("gated", "mlp", "moe"),
        "activation": ("silu", "gelu", "gelu_tanh", "relu", "relu2", "identity"),
        "position": ("rope", "learned", "none"),
    }


def test_config_fields_and_defaults():
    defaults = {
        f.name: (f.default_factory() if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(TinyLMConfig)
    }
    assert defaults == {
        "vocab_size": 363, "d_model": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": None, "head_dim": None,
        "d_ff": None, "max_seq_len": 1024, "norm": "rms_norm", "norm_eps": 1e-06, "norm_params": {},
        "output_norm": None, "norm_placement": "pre", "final_norm": None, "embed_norm": False,
        "attention": "softmax", "attention_params": {}, "attn_impl": "sdpa", "ffn": "gated", "ffn_params": {},
        "activation": "silu", "n_experts": 4, "moe_top_k": 2, "moe_expert": "gated", "position": "rope",
        "rope_theta": 10000.0, "rope_inv_freq": None, "bias": False, "tie_embeddings": False, "dropout": 0.0,
        "init_std": 0.02,
    }  # fmt: skip


def _block_hooks(i: int, mlp: list[str]) -> list[str]:
    attn = [f"blocks.{i}.attn.{n}" for n in ("q", "k", "v", "pattern", "z", "out")]
    return (
        attn
        + [f"blocks.{i}.mlp.{n}" for n in mlp]
        + [f"blocks.{i}.{n}" for n in ("resid_pre", "resid_mid", "resid_post")]
    )


def test_hook_names():
    assert hook_names(tiny()) == [
        *_block_hooks(0, ["pre", "post", "out"]),
        *_block_hooks(1, ["pre", "post", "out"]),
        "embed",
        "final",
    ]
    experts = [f"experts.{e}.{n}" for e in range(2) for n in ("pre", "post", "out")]
    moe = ["router_logits", "out", *experts]
    names = hook_names(tiny(ffn="moe", n_experts=2, moe_top_k=1, n_layers=1))
    assert sorted(names) == sorted([*_block_hooks(0, moe), "embed", "final"])


def test_causal_lm_protocol():
    model = tiny()
    ids = tokens(2, 6)
    out = model(ids)
    assert isinstance(out, TinyLMOutput) and out.hidden_states is None and out.past_key_values is None
    assert out.logits.shape == (2, 6, 64)
    out = model(ids, past_key_values=None, use_cache=True, output_hidden_states=True)
    assert len(out.hidden_states) == 3 and all(h.shape == (2, 6, 32) for h in out.hidden_states)
    assert isinstance(out.past_key_values, KVCache)
    assert out.past_key_values.keys[0].shape == (2, 4, 6, 8)  # [B, H_kv, T, Dh]
    step = model(ids[:, :1], past_key_values=out.past_key_values, use_cache=True)
    assert step.logits.shape == (2, 1, 64) and step.past_key_values.get_seq_length() == 7
    for method in ("update", "get_seq_length", "select", "repeat_interleave", "crop",
                   "batch_select_indices", "batch_repeat_interleave"):  # fmt: skip
        assert callable(getattr(KVCache, method)), method


def test_default_decoder_and_vocab():
    model = TinyLMDecoder(n_layers=1)
    assert model.config.vocab_size == 363 and model.lm_head.out_features == 363


def test_checkpoint_recipe_is_frozen():
    assert RECIPES == {
        "stdlib-small": {
            "model": {
                "d_model": 128, "n_layers": 4, "n_heads": 4, "d_ff": 384, "max_seq_len": 256,
                "tie_embeddings": False,
            },
            "data": {"seq_len": 128, "max_bytes": 1_000_000, "val_fraction": 0.1, "seed": 0},
            "train": {
                "steps": 300, "batch_size": 16, "lr": 3e-3, "min_lr": 3e-4, "warmup": 30, "betas": [0.9, 0.95],
                "weight_decay": 0.1, "clip": 1.0, "seed": 0, "threads": 1,
            },
        }
    }  # fmt: skip


def test_checkpoint_key_formula():
    recipe, corpus, versions = {"a": 1}, b"abc", {"v": "1"}
    h = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    h.update(hashlib.sha256(corpus).digest())
    h.update(json.dumps(versions, sort_keys=True).encode())
    assert checkpoint_key(recipe, corpus, versions) == h.hexdigest()[:16] == "9473ca74838522d5"
    assert checkpoint_key({"a": 2}, corpus, versions) != checkpoint_key(recipe, corpus, versions)
    assert checkpoint_key(recipe, b"abd", versions) != checkpoint_key(recipe, corpus, versions)


def test_checkpoint_parameter_names():
    model = TinyLMDecoder(**RECIPES["stdlib-small"]["model"])
    per_block = ["attn_norm.weight", *[f"attn.{p}_proj.weight" for p in "qkvo"], "ffn_norm.weight",
                 *[f"mlp.{p}_proj.weight" for p in ("gate", "up", "down")]]  # fmt: skip
    expected = ["tok_embed.weight", *[f"blocks.{i}.{n}" for i in range(4) for n in per_block],
                "final_norm.weight", "lm_head.weight"]  # fmt: skip
    assert list(model.state_dict()) == expected
    assert sum(p.numel() for p in model.parameters()) == 946_048
    assert torch.get_default_dtype() == torch.float32
