"""Exact properties of the encoder-decoder."""

from __future__ import annotations

import pytest
import torch

from paperzoo_tinylm.encdec import TinyLMEncoderDecoder
from paperzoo_tinylm.hooks import capture, hook_names, patch
from paperzoo_tinylm.tests.helpers import TINY, jitter, tokens


def _model(**overrides) -> TinyLMEncoderDecoder:
    torch.manual_seed(0)
    return jitter(TinyLMEncoderDecoder(**{**TINY, **overrides}).double().eval())


@pytest.mark.parametrize("overrides", [{}, {"attn_impl": "eager", "position": "learned"}])
def test_decoder_is_causal_and_reads_the_whole_encoder(overrides):
    model = _model(**overrides)
    src, tgt = tokens(2, 7, seed=1), tokens(2, 6, seed=2)
    base = model(src, tgt).logits
    changed = tgt.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 64
    out = model(src, changed).logits
    assert torch.equal(out[:, :3], base[:, :3]) and not torch.equal(out[:, 3:], base[:, 3:])
    src2 = src.clone()
    src2[:, 6] = (src2[:, 6] + 1) % 64  # the last source token reaches every target position
    moved = (model(src2, tgt).logits - base).abs().amax(-1)
    assert (moved > 0).all()


def test_padded_source_tokens_change_nothing():
    model = _model()
    src, tgt = tokens(1, 7, seed=1), tokens(1, 5, seed=2)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0]])
    changed = src.clone()
    changed[:, 5:] = (changed[:, 5:] + 3) % 64
    a, b = model(src, tgt, attention_mask=mask).logits, model(changed, tgt, attention_mask=mask).logits
    assert torch.allclose(a, b, atol=1e-13, rtol=0)


def test_cached_decoding_equals_full_forward():
    model = _model()
    src, tgt = tokens(2, 7, seed=1), tokens(2, 6, seed=2)
    full = model(src, tgt)
    memory = full.encoder_last_hidden_state
    past, pieces = None, []
    for a, b in ((0, 2), (2, 3), (3, 6)):
        out = model(
            decoder_input_ids=tgt[:, a:b], encoder_outputs=memory, past_key_values=past, use_cache=True
        )
        past = out.past_key_values
        pieces.append(out.logits)
    assert torch.allclose(torch.cat(pieces, 1), full.logits, atol=1e-12, rtol=0)


def test_hook_names_and_identity_patches():
    model = _model(n_layers=1)
    names = hook_names(model)
    attn = [f"attn.{n}" for n in ("q", "k", "v", "pattern", "z", "out")]
    block = [*attn, "mlp.pre", "mlp.post", "mlp.out", "resid_pre", "resid_mid", "resid_post"]
    cross = [f"cross_attn.{n}" for n in ("q", "k", "v", "pattern", "z", "out")] + ["resid_cross"]
    assert names == [
        *[f"encoder.blocks.0.{n}" for n in block], "encoder.embed", "encoder.final",
        *[f"decoder.blocks.0.{n}" for n in block + cross], "decoder.embed", "decoder.final",
    ]  # fmt: skip
    src, tgt = tokens(2, 7, seed=1), tokens(2, 6, seed=2)
    expected = model(src, tgt).logits
    with capture(model, "*"):
        assert torch.equal(model(src, tgt).logits, expected)
    for name in names:
        if name.endswith("pattern"):
            continue  # sdpa: patching forms the pattern explicitly (tested on the decoder-only model)
        with patch(model, name, lambda x: x.clone()):
            assert torch.equal(model(src, tgt).logits, expected), name


def test_default_decoder_input_is_the_shifted_source():
    model = _model(vocab_size=363)
    src = tokens(1, 5, vocab=256)
    shifted = torch.cat([torch.tensor([[256]]), src[:, :-1]], 1)
    assert torch.equal(model(src).logits, model(src, shifted).logits)
