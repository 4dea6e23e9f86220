"""Parity with the independent reference: transformers' LlamaForCausalLM (default decoder) and
GPT2LMHeadModel (GPT-2 form), with converted weights, with and without the KV cache.

Tolerances: 1e-5 in float32 and 1e-10 in float64. transformers' LlamaRMSNorm computes in float32 whatever
the input dtype (a choice for half-precision training), which alone puts a 1e-7 floor under any float64
comparison; the float64 Llama comparison therefore runs with that norm computing in the input dtype
(``_rmsnorm_in_input_dtype``: the same formula without the cast). Everything else is the reference as
shipped.
"""

from __future__ import annotations

import pytest
import torch
from paperzoo.compat import import_transformers

from paperzoo_tinylm import convert
from paperzoo_tinylm.tests.helpers import jitter, tiny, tokens

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
PROMPT_LENGTHS = (1, 5, 17)
# after the prompt: one token, two tokens, one token (cached steps of several lengths)
STEPS = (1, 2, 1)


def _rmsnorm_in_input_dtype(self, hidden_states):
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


@pytest.fixture
def float64_llama_norm(monkeypatch):
    import_transformers()  # works beside a torchvision without its C++ operators
    from transformers.models.llama import modeling_llama

    monkeypatch.setattr(modeling_llama.LlamaRMSNorm, "forward", _rmsnorm_in_input_dtype)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def _compare(ours, theirs, dtype, prompt_len: int) -> float:
    """Largest logit/hidden-state difference over an uncached pass and a cached decode of several steps."""
    total = prompt_len + sum(STEPS)
    ids = tokens(2, total, vocab=ours.config.vocab_size, seed=prompt_len)
    worst = 0.0
    with torch.no_grad():
        a = ours(ids, output_hidden_states=True)
        b = theirs(ids, output_hidden_states=True)
        assert len(a.hidden_states) == len(b.hidden_states) == ours.config.n_layers + 1
        worst = max(worst, _max_diff(a.logits, b.logits))
        worst = max(worst, max(_max_diff(x, y) for x, y in zip(a.hidden_states, b.hidden_states)))
        pa = pb = None
        start = 0
        for n in (prompt_len, *STEPS):
            chunk = ids[:, start : start + n]
            a = ours(chunk, past_key_values=pa, use_cache=True)
            b = theirs(chunk, past_key_values=pb, use_cache=True)
            pa, pb = a.past_key_values, b.past_key_values
            worst = max(worst, _max_diff(a.logits, b.logits))
            start += n
        assert pa.get_seq_length() == pb.get_seq_length() == total
    assert worst <= TOL[dtype], f"max abs diff {worst:.3g} > {TOL[dtype]:g}"
    return worst


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_llama_parity(dtype, float64_llama_norm, request, record_property):
    if dtype == torch.float32:  # float32 runs the reference exactly as shipped
        request.getfixturevalue("monkeypatch").undo()
    ours = tiny(dtype, n_kv_heads=2)  # grouped-query heads
    theirs = convert.to_llama(ours)
    worst = max(_compare(ours, theirs, dtype, n) for n in PROMPT_LENGTHS)
    record_property(f"llama_max_abs_diff_{str(dtype)[6:]}", worst)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gpt2_parity(dtype, record_property):
    torch.manual_seed(0)
    ours = jitter(
        convert.TinyLMDecoder(
            convert.gpt2_style(d_model=32, n_layers=2, n_heads=4, vocab_size=64, max_seq_len=64)
        )
        .to(dtype)
        .eval()
    )
    theirs = convert.to_gpt2(ours)
    worst = max(_compare(ours, theirs, dtype, n) for n in PROMPT_LENGTHS)
    record_property(f"gpt2_max_abs_diff_{str(dtype)[6:]}", worst)


def test_from_llama_round_trip(float64_llama_norm):
    """A randomly initialised transformers Llama converts to tinylm with equal logits and back with
    equal weights."""
    t = import_transformers()
    LlamaConfig, LlamaForCausalLM = t.LlamaConfig, t.LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50,
        hidden_size=24,
        intermediate_size=40,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=3,
        max_position_embeddings=64,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0},
        rms_norm_eps=1e-5,
    )
    hf = jitter(LlamaForCausalLM(config).double().eval())
    ours = convert.from_llama(hf)
    assert ours.config.rope_theta == 500.0 and ours.config.n_kv_heads == 3 and ours.config.norm_eps == 1e-5
    _compare(ours, hf, torch.float64, 7)
    back = convert.to_llama(ours).state_dict()
    for name, tensor in hf.state_dict().items():
        assert torch.equal(back[name], tensor), name


def test_from_gpt2_round_trip():
    t = import_transformers()
    GPT2Config, GPT2LMHeadModel = t.GPT2Config, t.GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_positions=64, n_embd=24, n_layer=2, n_head=3, n_inner=40)
    hf = jitter(GPT2LMHeadModel(config).double().eval())
    ours = convert.from_gpt2(hf)
    assert ours.config.d_ff == 40 and ours.config.activation == "gelu_tanh"
    _compare(ours, hf, torch.float64, 7)
    back = convert.to_gpt2(ours).state_dict()
    for name, tensor in hf.state_dict().items():
        if not name.endswith(".attn.bias"):  # GPT-2's causal-mask buffer, when it keeps one
            assert torch.equal(back[name], tensor), name


@pytest.mark.parametrize(
    "field, value",
    [
        ("norm_placement", "post"),
        ("position", "learned"),
        ("ffn", "mlp"),
        ("norm", "layer_norm"),
        ("rope_inv_freq", [1.0, 0.5, 0.25, 0.125]),
    ],
)
def test_to_llama_refuses_what_llama_cannot_express(field, value):
    with pytest.raises(ValueError, match=field):
        convert.llama_config(tiny(**{field: value}).config)


def test_to_gpt2_refuses_the_default_decoder():
    with pytest.raises(ValueError, match="norm"):
        convert.gpt2_config(tiny().config)
