"""Exact properties: CRMSNorm(compress(x)) == compress(RMSNorm(x)) on zero-mean x, and the converted
Pre-RMSNorm / Pre-CRMSNorm decoders compute the Pre-LN decoder's logits."""

from __future__ import annotations

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.norms import RMSNorm

from paperzoo_pre_rmsnorm.convert import convert, recentre
from paperzoo_pre_rmsnorm.layer import CRMSNorm, compress, decompress
from paperzoo_pre_rmsnorm.tests.helpers import pre_ln, tokens
from paperzoo_pre_rmsnorm.trainer import PreRMSNormConverter

CONFIGS = [
    {},
    {"bias": True, "position": "learned", "ffn": "mlp", "activation": "gelu_tanh", "tie_embeddings": True},
    {"n_kv_heads": 1, "norm_eps": 1e-3},
]


def test_crmsnorm_of_compressed_is_compressed_rmsnorm():
    x = torch.randn(4, 7, 9, dtype=torch.float64)
    x = x - x.mean(-1, keepdim=True)
    got = CRMSNorm(8).double()(compress(x))
    torch.testing.assert_close(got, compress(RMSNorm(9).double()(x)), rtol=0, atol=1e-14)
    torch.testing.assert_close(decompress(compress(x)), x, rtol=0, atol=1e-14)


@pytest.mark.parametrize("kw", CONFIGS, ids=["default", "gpt2_like", "gqa_eps"])
@pytest.mark.parametrize("target", ["rms_norm", "crms_norm"])
def test_converted_logits_match_float64(kw, target):
    model = pre_ln(**kw)
    x = tokens()
    converted = convert(model, target)
    assert converted.config.norm == target and converted.config.d_model == 16 - (target == "crms_norm")
    ref = model(x).logits
    assert ref.abs().max() > 0.5  # logits of order one: the tolerance is meaningful
    torch.testing.assert_close(converted(x).logits, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("target", ["rms_norm", "crms_norm"])
def test_converted_logits_match_float32(target):
    # float32 rounds the recentring and the LayerNorm mean differently: ~1e-6 on logits of order one
    model = pre_ln(dtype=torch.float32, bias=True)
    x = tokens()
    torch.testing.assert_close(convert(model, target)(x).logits, model(x).logits, rtol=0, atol=1e-5)


def test_recentred_stream_has_zero_mean_and_same_logits():
    model = pre_ln(position="learned")
    x = tokens()
    ref = model(x).logits
    recentre(model)
    out = model(x, output_hidden_states=True)
    for h in out.hidden_states[:-1]:
        assert h.mean(-1).abs().max() < 1e-13
    torch.testing.assert_close(out.logits, ref, rtol=0, atol=1e-12)


def test_conversion_leaves_the_original_and_is_not_identity_without_recentring():
    model = pre_ln()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    convert(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # the same weights under RMSNorm without recentring differ: recentring is what makes it exact
    import dataclasses

    from paperzoo_tinylm.model import TinyLMDecoder

    plain = TinyLMDecoder(dataclasses.replace(model.config, norm="rms_norm")).double()
    plain.load_state_dict({k: v for k, v in before.items() if not k.endswith("norm.bias")})
    assert (plain(tokens()).logits - model(tokens()).logits).abs().max() > 1e-3


@pytest.mark.parametrize(
    "kw,field", [({"norm": "rms_norm"}, "norm"), ({"norm_placement": "post"}, "norm_placement")]
)
def test_refuses_non_pre_ln(kw, field):
    with pytest.raises(ValueError, match=f"model.{field}"):
        convert(pre_ln(**kw))


def test_trainer_rejects_unknown_target():
    with pytest.raises(ParamError, match="target"):
        PreRMSNormConverter(target="layer_norm")
