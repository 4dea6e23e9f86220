"""Parity with transformers' Gemma2, whose decoder layer places RMSNorms before and after each sublayer
(``input_layernorm``/``post_attention_layernorm``, ``pre_feedforward_layernorm``/
``post_feedforward_layernorm``): the Peri-LN form, with a final norm.

Where the architectures differ, the reference is configured or the weights are mapped:

* Gemma2's RMSNorm multiplies by ``1 + w`` (weights initialised at zero); ours by ``w``: our gain is set
  to ``1 + w`` (computed as Gemma2 computes it, so it is the same float).
* attention-logit and final-logit soft-capping: off (``None``); sliding windows: every layer is
  ``full_attention``; ``query_pre_attn_scalar = head_dim`` (the usual ``1/sqrt(head_dim)`` scaling);
  ``hidden_activation = silu`` (Gemma2's default is tanh-GELU; ours would be ``gelu_tanh``); untied head.
* Gemma2 multiplies the embedding by ``sqrt(hidden_size)``: our embedding rows are the scaled rows.
* Gemma2 supports only eager attention; ours runs ``attn_impl: eager``.

In float32 the two agree bitwise. In float64 Gemma2's RMSNorm computes in float32 and its softmax in
float32 (a 3e-7 floor): the float64 test runs the reference with both in the input's dtype (the same
formulas without the casts), and then agrees bitwise too.
"""

from __future__ import annotations

import pytest
import torch
from paperzoo.compat import import_transformers
from paperzoo_tinylm.hooks import capture
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_peri_ln.layer import PeriLNBlock

D, FF, HEADS, KV, HEAD_DIM, LAYERS, VOCAB = 32, 48, 4, 2, 8, 2, 64
NORMS = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "attn_out_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "ffn_out_norm",
}


def _gemma2(dtype: torch.dtype):
    transformers = import_transformers()
    config = transformers.Gemma2Config(
        vocab_size=VOCAB,
        hidden_size=D,
        intermediate_size=FF,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV,
        head_dim=HEAD_DIM,
        query_pre_attn_scalar=HEAD_DIM,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        sliding_window=64,
        layer_types=["full_attention"] * LAYERS,
        hidden_activation="silu",
        rms_norm_eps=1e-6,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    torch.manual_seed(0)
    model = transformers.Gemma2ForCausalLM(config).to(dtype).eval()
    with torch.no_grad():  # non-trivial gains (Gemma2 initialises w = 0, a gain of exactly one)
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.normal_(0.0, 0.3)
    return model


def _mapped_state(ref) -> dict[str, torch.Tensor]:
    sd = ref.state_dict()
    scale = ref.model.embed_tokens.embed_scale.to(sd["lm_head.weight"].dtype)
    out = {
        "tok_embed.weight": sd["model.embed_tokens.weight"] * scale,
        "final_norm.weight": 1.0 + sd["model.norm.weight"],
        "lm_head.weight": sd["lm_head.weight"],
    }
    for i in range(LAYERS):
        src = f"model.layers.{i}."
        for theirs, ours in NORMS.items():
            out[f"blocks.{i}.{ours}.weight"] = 1.0 + sd[f"{src}{theirs}.weight"]
        for p in "qkvo":
            out[f"blocks.{i}.attn.{p}_proj.weight"] = sd[f"{src}self_attn.{p}_proj.weight"]
        for p in ("gate", "up", "down"):
            out[f"blocks.{i}.mlp.{p}_proj.weight"] = sd[f"{src}mlp.{p}_proj.weight"]
    return out


def _ours(ref, dtype: torch.dtype) -> TinyLMDecoder:
    model = TinyLMDecoder(
        vocab_size=VOCAB,
        d_model=D,
        n_layers=LAYERS,
        n_heads=HEADS,
        n_kv_heads=KV,
        d_ff=FF,
        norm_placement="peri",
        norm_eps=1e-6,
        attn_impl="eager",
    )
    model = model.to(dtype).eval()
    model.load_state_dict(_mapped_state(ref), strict=True)
    return model


def _uncast_reference(monkeypatch) -> None:
    """Gemma2's RMSNorm and eager attention without their float32 casts (float64 only)."""
    mg = pytest.importorskip("transformers.models.gemma2.modeling_gemma2")

    def norm_forward(self, x):
        return self._norm(x) * (1.0 + self.weight)

    def eager(module, query, key, value, attention_mask, dropout=0.0, scaling=None, softcap=None, **kw):
        key, value = (
            mg.repeat_kv(key, module.num_key_value_groups),
            mg.repeat_kv(value, module.num_key_value_groups),
        )
        weights = torch.matmul(query, key.transpose(2, 3)) * scaling + attention_mask
        weights = torch.softmax(weights, dim=-1)
        return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights

    monkeypatch.setattr(mg.Gemma2RMSNorm, "forward", norm_forward)
    monkeypatch.setattr(mg, "eager_attention_forward", eager)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_decoder_matches_gemma2(dtype, monkeypatch, record_property):
    if dtype == torch.float64:
        _uncast_reference(monkeypatch)
    ref = _gemma2(dtype)
    ours = _ours(ref, dtype)
    ids = torch.randint(VOCAB, (2, 11), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = ref(ids, output_hidden_states=True), ours(ids, output_hidden_states=True)
    err = max(float((a - b).abs().max()) for a, b in zip(want.hidden_states, got.hidden_states))
    err = max(err, float((want.logits - got.logits).abs().max()))
    record_property(f"max_abs_diff_{'float32' if dtype == torch.float32 else 'float64'}", err)
    assert float(want.hidden_states[-1].abs().max()) > 1.0  # not a trivially small signal
    assert err == 0.0  # the same operations in the same order: bitwise equal


@pytest.mark.parametrize("layer", range(LAYERS))
def test_block_matches_gemma2_decoder_layer(layer):
    """One PeriLNBlock with a Gemma2 decoder layer's weights, on the hidden state that enters that layer."""
    ref = _gemma2(torch.float32)
    ours = _ours(ref, torch.float32)
    block = PeriLNBlock(D, HEADS, n_kv_heads=KV, d_ff=FF, norm_eps=1e-6, attn_impl="eager").eval()
    prefix = f"blocks.{layer}."
    block.load_state_dict({k[len(prefix) :]: v for k, v in ours.state_dict().items() if k.startswith(prefix)})
    ids = torch.randint(VOCAB, (3, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), capture(ours, [f"{prefix}resid_pre"]) as got:
        want = ref(ids, output_hidden_states=True).hidden_states
        ours(ids)
        out = block(got[f"{prefix}resid_pre"])
    assert torch.equal(got[f"{prefix}resid_pre"], want[layer])
    if layer < LAYERS - 1:  # the last hidden state is after Gemma2's final norm
        assert torch.equal(out, want[layer + 1])
    else:
        assert torch.equal(ours.final_norm(out), want[layer + 1])
