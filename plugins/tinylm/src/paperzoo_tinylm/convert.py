"""Conversion to and from transformers: the default decoder <-> ``LlamaForCausalLM``, the GPT-2
configuration (pre-LN LayerNorm with biases, learned positions, tanh-GELU MLP, tied head) <->
``GPT2LMHeadModel``. Weights are copied exactly; a configuration the target cannot express is refused
with a ``ValueError`` naming the field."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.compat import import_transformers

from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.config import TinyLMConfig
from paperzoo_tinylm.model import TinyLMDecoder

GPT2_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"}


def _require(config: TinyLMConfig, target: str, **wanted: Any) -> None:
    for name, value in wanted.items():
        got = getattr(config, name)
        if got != value:
            raise ValueError(f"{name}: got {got!r}; {target} needs {value!r}")


def _special_ids(vocab_size: int) -> dict[str, int | None]:
    if vocab_size >= tokenizer.VOCAB_SIZE:
        return {"pad_token_id": tokenizer.PAD, "bos_token_id": tokenizer.BOS, "eos_token_id": tokenizer.EOS}
    return {"pad_token_id": None, "bos_token_id": None, "eos_token_id": None}


def _dtype(model: torch.nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def _common_checks(config: TinyLMConfig, target: str) -> None:
    if any(p != "pre" for p in config.placements()):
        raise ValueError(
            f"norm_placement: got {config.norm_placement!r}; {target} needs 'pre' in every block"
        )
    _require(config, target, attention="softmax", attention_params={}, embed_norm=False, has_final_norm=True)


# -- Llama -----------------------------------------------------------------------------------------
def llama_config(config: TinyLMConfig) -> Any:
    """The ``LlamaConfig`` of a tinylm config (refused unless it is the default decoder's form)."""
    LlamaConfig = import_transformers().LlamaConfig
    _common_checks(config, "LlamaForCausalLM")
    _require(
        config, "LlamaForCausalLM", norm="rms_norm", norm_params={}, ffn="gated", activation="silu",
        position="rope", rope_inv_freq=None,
    )  # fmt: skip
    return LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.d_model,
        intermediate_size=config.ffn_dim,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.kv_heads,
        head_dim=config.dim_head,
        max_position_embeddings=config.max_seq_len,
        rms_norm_eps=config.norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
        attention_bias=config.bias,
        mlp_bias=config.bias,
        hidden_act="silu",
        tie_word_embeddings=config.tie_embeddings,
        initializer_range=config.init_std,
        **_special_ids(config.vocab_size),
    )


def _llama_keys(n_layers: int) -> dict[str, str]:
    """tinylm parameter name -> Llama parameter name (weights; biases follow the same map)."""
    keys = {"tok_embed": "model.embed_tokens", "final_norm": "model.norm", "lm_head": "lm_head"}
    for i in range(n_layers):
        ours, theirs = f"blocks.{i}.", f"model.layers.{i}."
        keys[ours + "attn_norm"] = theirs + "input_layernorm"
        keys[ours + "ffn_norm"] = theirs + "post_attention_layernorm"
        for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
            keys[ours + "attn." + p] = theirs + "self_attn." + p
        for p in ("gate_proj", "up_proj", "down_proj"):
            keys[ours + "mlp." + p] = theirs + "mlp." + p
    return keys


def _renamed(state: dict[str, torch.Tensor], keys: dict[str, str]) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in state.items():
        module, _, leaf = name.rpartition(".")
        out[f"{keys[module]}.{leaf}"] = tensor
    return out


def to_llama(model: TinyLMDecoder) -> Any:
    """A ``LlamaForCausalLM`` with ``model``'s weights (eval mode, same dtype)."""
    LlamaForCausalLM = import_transformers().LlamaForCausalLM
    hf = LlamaForCausalLM(llama_config(model.config)).to(_dtype(model)).eval()
    state = _renamed(model.state_dict(), _llama_keys(model.config.n_layers))
    if model.config.tie_embeddings:
        state.pop("lm_head.weight", None)
    hf.load_state_dict(state, strict=not model.config.tie_embeddings)
    return hf


def from_llama(hf: Any) -> TinyLMDecoder:
    """A tinylm decoder with the weights of a ``LlamaForCausalLM`` (default RoPE, silu, no sliding
    window)."""
    c = hf.config
    rope = dict(getattr(c, "rope_parameters", None) or {"rope_type": "default", "rope_theta": c.rope_theta})
    if rope.get("rope_type", "default") != "default":
        raise ValueError(f"rope_parameters: got {rope!r}; tinylm converts only default RoPE")
    if c.hidden_act != "silu":
        raise ValueError(f"hidden_act: got {c.hidden_act!r}; tinylm converts only 'silu'")
    if bool(c.attention_bias) != bool(c.mlp_bias):
        raise ValueError("attention_bias and mlp_bias differ; tinylm has one 'bias' switch")
    config = TinyLMConfig(
        vocab_size=c.vocab_size,
        d_model=c.hidden_size,
        n_layers=c.num_hidden_layers,
        n_heads=c.num_attention_heads,
        n_kv_heads=c.num_key_value_heads,
        head_dim=getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
        d_ff=c.intermediate_size,
        max_seq_len=c.max_position_embeddings,
        norm_eps=c.rms_norm_eps,
        rope_theta=float(rope["rope_theta"]),
        bias=bool(c.attention_bias),
        tie_embeddings=bool(c.tie_word_embeddings),
    )
    model = TinyLMDecoder(config).to(_dtype(hf)).eval()
    inverse = {v: k for k, v in _llama_keys(config.n_layers).items()}
    theirs = hf.state_dict()
    if config.tie_embeddings:
        theirs.pop("lm_head.weight", None)
    model.load_state_dict(_renamed(theirs, inverse), strict=not config.tie_embeddings)
    return model


# -- GPT-2 -----------------------------------------------------------------------------------------
def gpt2_config(config: TinyLMConfig) -> Any:
    """The ``GPT2Config`` of a tinylm config in GPT-2 form."""
    GPT2Config = import_transformers().GPT2Config
    _common_checks(config, "GPT2LMHeadModel")
    _require(
        config, "GPT2LMHeadModel", norm="layer_norm", norm_params={}, ffn="mlp", position="learned", bias=True,
        n_kv_heads=None, head_dim=None,
    )  # fmt: skip
    act = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}.get(config.activation)
    if act is None:
        raise ValueError(
            f"activation: got {config.activation!r}; GPT2LMHeadModel needs gelu_tanh, gelu or relu"
        )
    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.max_seq_len,
        n_embd=config.d_model,
        n_layer=config.n_layers,
        n_head=config.n_heads,
        n_inner=config.ffn_dim,
        activation_function=act,
        layer_norm_epsilon=config.norm_eps,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=0.0,
        initializer_range=config.init_std,
        tie_word_embeddings=config.tie_embeddings,
        **_special_ids(config.vocab_size),
    )


def gpt2_style(**overrides: Any) -> TinyLMConfig:
    """The tinylm config in GPT-2 form (override sizes with keywords)."""
    values: dict[str, Any] = dict(
        norm="layer_norm", norm_eps=1e-5, ffn="mlp", activation="gelu_tanh", position="learned", bias=True,
        tie_embeddings=True,
    )  # fmt: skip
    values.update(overrides)
    return TinyLMConfig(**values)


def _gpt2_state(model: TinyLMDecoder) -> dict[str, torch.Tensor]:
    s, out = model.state_dict(), {}
    out["transformer.wte.weight"] = s["tok_embed.weight"]
    out["transformer.wpe.weight"] = s["pos_embed.weight"]
    for i in range(model.config.n_layers):
        o, t = f"blocks.{i}.", f"transformer.h.{i}."
        for ours, theirs in (("attn_norm", "ln_1"), ("ffn_norm", "ln_2")):
            out[t + theirs + ".weight"] = s[o + ours + ".weight"]
            out[t + theirs + ".bias"] = s[o + ours + ".bias"]
        qkv = [o + f"attn.{p}_proj" for p in "qkv"]
        out[t + "attn.c_attn.weight"] = torch.cat([s[n + ".weight"].t() for n in qkv], dim=1)
        out[t + "attn.c_attn.bias"] = torch.cat([s[n + ".bias"] for n in qkv])
        for ours, theirs in (
            ("attn.o_proj", "attn.c_proj"),
            ("mlp.up_proj", "mlp.c_fc"),
            ("mlp.down_proj", "mlp.c_proj"),
        ):
            out[t + theirs + ".weight"] = s[o + ours + ".weight"].t()
            out[t + theirs + ".bias"] = s[o + ours + ".bias"]
    out["transformer.ln_f.weight"] = s["final_norm.weight"]
    out["transformer.ln_f.bias"] = s["final_norm.bias"]
    out["lm_head.weight"] = s["lm_head.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def to_gpt2(model: TinyLMDecoder) -> Any:
    """A ``GPT2LMHeadModel`` with ``model``'s weights (eval mode, same dtype)."""
    GPT2LMHeadModel = import_transformers().GPT2LMHeadModel
    hf = GPT2LMHeadModel(gpt2_config(model.config)).to(_dtype(model)).eval()
    missing, unexpected = hf.load_state_dict(_gpt2_state(model), strict=False)
    if unexpected or [k for k in missing if not k.endswith(".attn.bias") and k != "lm_head.weight"]:
        raise RuntimeError(f"GPT-2 state mismatch: missing {missing}, unexpected {unexpected}")
    return hf


def from_gpt2(hf: Any) -> TinyLMDecoder:
    """A tinylm decoder with the weights of a ``GPT2LMHeadModel``."""
    c = hf.config
    act = GPT2_ACTIVATIONS.get(c.activation_function)
    if act is None:
        raise ValueError(
            f"activation_function: got {c.activation_function!r}; accepted: {sorted(GPT2_ACTIVATIONS)}"
        )
    if c.scale_attn_by_inverse_layer_idx or not c.scale_attn_weights:
        raise ValueError("GPT-2 attention scaling: tinylm converts only the default 1/sqrt(head_dim)")
    config = gpt2_style(
        vocab_size=c.vocab_size, d_model=c.n_embd, n_layers=c.n_layer, n_heads=c.n_head,
        d_ff=c.n_inner or 4 * c.n_embd, max_seq_len=c.n_positions, norm_eps=c.layer_norm_epsilon,
        activation=act, tie_embeddings=bool(getattr(c, "tie_word_embeddings", True)),
    )  # fmt: skip
    model = TinyLMDecoder(config).to(_dtype(hf)).eval()
    theirs, d = hf.state_dict(), config.d_model
    s: dict[str, torch.Tensor] = {
        "tok_embed.weight": theirs["transformer.wte.weight"],
        "pos_embed.weight": theirs["transformer.wpe.weight"],
        "final_norm.weight": theirs["transformer.ln_f.weight"],
        "final_norm.bias": theirs["transformer.ln_f.bias"],
        "lm_head.weight": theirs["lm_head.weight"],
    }
    for i in range(config.n_layers):
        o, t = f"blocks.{i}.", f"transformer.h.{i}."
        for ours, name in (("attn_norm", "ln_1"), ("ffn_norm", "ln_2")):
            s[o + ours + ".weight"], s[o + ours + ".bias"] = (
                theirs[t + name + ".weight"],
                theirs[t + name + ".bias"],
            )
        w, b = theirs[t + "attn.c_attn.weight"], theirs[t + "attn.c_attn.bias"]
        for j, p in enumerate("qkv"):
            s[o + f"attn.{p}_proj.weight"] = w[:, j * d : (j + 1) * d].t()
            s[o + f"attn.{p}_proj.bias"] = b[j * d : (j + 1) * d]
        for ours, name in (
            ("attn.o_proj", "attn.c_proj"),
            ("mlp.up_proj", "mlp.c_fc"),
            ("mlp.down_proj", "mlp.c_proj"),
        ):
            s[o + ours + ".weight"] = theirs[t + name + ".weight"].t()
            s[o + ours + ".bias"] = theirs[t + name + ".bias"]
    model.load_state_dict({k: v.contiguous() for k, v in s.items()})
    return model
