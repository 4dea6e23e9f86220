"""Parity with independent references (no official code exists): transformers' Mistral (every layer
sliding-window attention of span ``sliding_window``) against an all-local MASFormer, and Qwen2 with
``layer_types`` (full attention in the chosen layers, sliding windows in the rest) against MASFormer, with
eager attention on CPU and weights copied (the architectures agree: RMSNorm, Pre-LN, RoPE, SwiGLU,
grouped-query attention; Qwen2's query/key/value biases are set to zero). Both references build their
sliding-window mask themselves (``kv_idx > q_idx - sliding_window``: query ``i`` sees keys
``i - w + 1 .. i``), independently of ours.

float64 throughout. The references' RMSNorm computes in float32 whatever the input dtype, so it is run in
the input dtype here (the same formula without the cast), as tinylm's Llama parity does. With the
references' ``sdpa`` attention the logits agree within 1e-12 (measured: bitwise equal); their ``eager``
attention takes the softmax in float32 whatever the input dtype, a floor near 1e-8, so it is held to 1e-7. The sequences (24 tokens) are longer than the span (5), so the
band cuts keys off in every local layer; a cached continuation is compared too.
"""

from __future__ import annotations

import pytest
import torch
from paperzoo.compat import import_transformers
from paperzoo_tinylm.convert import llama_config, to_llama

from paperzoo_masformer.model import MASFormer

SIZES = dict(d_model=32, n_layers=4, n_heads=4, n_kv_heads=2, vocab_size=80, max_seq_len=64)
WINDOW, T = 5, 24
TOL = {"sdpa": 1e-12, "eager": 1e-7}


def _rmsnorm_in_input_dtype(self, hidden_states):
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


@pytest.fixture
def norms_in_input_dtype(monkeypatch):
    import_transformers()  # makes transformers' optional torchvision import work first
    from transformers.models.mistral import modeling_mistral
    from transformers.models.qwen2 import modeling_qwen2

    monkeypatch.setattr(modeling_mistral.MistralRMSNorm, "forward", _rmsnorm_in_input_dtype)
    monkeypatch.setattr(modeling_qwen2.Qwen2RMSNorm, "forward", _rmsnorm_in_input_dtype)


def _reference(ours: MASFormer, kind: str, impl: str = "sdpa"):
    tf = import_transformers()
    base = llama_config(ours.config).to_dict()
    keep = (
        "vocab_size hidden_size intermediate_size num_hidden_layers num_attention_heads num_key_value_heads "
        "head_dim max_position_embeddings rms_norm_eps rope_parameters tie_word_embeddings"
    ).split()
    args = {k: base[k] for k in keep}
    if kind == "mistral":
        config = tf.MistralConfig(**args, sliding_window=ours.window, attn_implementation=impl)
        hf = tf.MistralForCausalLM(config)
    else:
        types = ["full_attention" if s is None else "sliding_attention" for s in ours.spans]
        config = tf.Qwen2Config(
            **args,
            use_sliding_window=True,
            sliding_window=ours.window,
            layer_types=types,
            attn_implementation=impl,
        )
        hf = tf.Qwen2ForCausalLM(config)
    state = to_llama(ours).state_dict()
    missing, unexpected = hf.double().load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")) for k in missing)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name in missing:
                p.zero_()
    return hf.eval()


@pytest.mark.parametrize(
    ("kind", "n_full", "form", "impl"),
    [
        ("mistral", 0, "sdpa", "sdpa"),
        ("mistral", 0, "blocked", "eager"),
        ("qwen2", 2, "blocked", "sdpa"),
        ("qwen2", 1, "sdpa", "eager"),
    ],
)
def test_parity_with_transformers(kind, n_full, form, impl, norms_in_input_dtype, record_property):
    torch.manual_seed(0)
    ours = MASFormer(window=WINDOW, n_full=n_full, form=form, **SIZES).double().eval()
    with torch.no_grad():
        for p in ours.parameters():  # move the norms off their ones
            p.add_(0.05 * torch.randn_like(p))
    hf = _reference(ours, kind, impl)
    ids = torch.randint(80, (2, T))
    with torch.no_grad():
        want = hf(ids).logits
        got = ours(ids).logits
        out = ours(ids[:, :17], use_cache=True)
        step = ours(ids[:, 17:], past_key_values=out.past_key_values, use_cache=True).logits
    err = max(float((got - want).abs().max()), float((step - want[:, 17:]).abs().max()))
    record_property(f"max_abs_diff_float64_{kind}_{form}_{impl}", err)
    assert err < TOL[impl], err
    # the band matters: the same weights with full attention everywhere give other logits
    wide = MASFormer(window=T, n_full=0, **SIZES).double().eval()
    wide.load_state_dict(ours.state_dict())
    with torch.no_grad():
        assert float((wide(ids).logits - want).abs().max()) > 1e-4
