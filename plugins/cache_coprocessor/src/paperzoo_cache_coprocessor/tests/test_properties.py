"""Exact properties: N = 0 is the frozen decoder, the decoder never trains, the latents see only the
prefix, the coprocessor starts as the decoder, and bad parameters are refused."""

import copy

import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_cache_coprocessor.coprocessor import (
    KVCacheCoprocessor,
    crop_cache,
    embeds_forward,
    frozen_ahead_loss,
)

SIZES = {"d_model": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 50, "max_seq_len": 64}


def make(n, dtype=torch.float64, seed=0, **over):
    torch.manual_seed(seed)
    return KVCacheCoprocessor(n, **{**SIZES, **over}).to(dtype)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-13), (torch.float32, 1e-6)])
@pytest.mark.parametrize("over", [{}, {"position": "learned"}, {"attn_impl": "eager", "n_kv_heads": 2}])
def test_zero_latents_is_the_frozen_decoder(dtype, tol, over):
    """N = 0: prefix cache then cached continuation = the decoder's own forward, every split (float
    tolerance, not bitwise: the fused kernel's causal path and its masked path round differently)."""
    model = make(0, dtype, **over)
    ids = torch.randint(50, (3, 14))
    expected = model.decoder(ids).logits
    for split in (1, 5, 14):
        got = model(ids, split=split).logits
        assert got.shape == expected.shape
        assert (got - expected).abs().max() < tol


def test_decoder_gets_no_gradient_and_stays_bitwise():
    model = make(3, torch.float32)
    before = copy.deepcopy(model.decoder.state_dict())
    copro = copy.deepcopy(model.coprocessor.state_dict())
    opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    ids = torch.randint(50, (4, 12))
    for _ in range(3):
        opt.zero_grad()
        model.ahead_loss(ids, ids.roll(-1, 1), [3, 7], 4).backward()
        assert all(p.grad is None for p in model.decoder.parameters())
        assert model.soft_tokens.grad is not None and model.soft_tokens.grad.abs().sum() > 0
        opt.step()
    after = model.decoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert any(not torch.equal(copro[k], v) for k, v in model.coprocessor.state_dict().items())
    trainable = {id(p) for p in model.trainable_parameters()}
    used = [p for n, p in model.coprocessor.named_parameters() if not n.startswith(("tok_embed", "lm_head"))]
    assert trainable == {id(p) for p in used} | {id(model.soft_tokens)}


def test_latents_depend_only_on_the_prefix():
    """Changing tokens from the split on leaves the latents and every logit before the split bitwise
    unchanged; the training path (a crop of the whole sequence's cache) gives the same latents as the
    prefix alone."""
    model = make(4)
    ids = torch.randint(50, (2, 16))
    other = ids.clone()
    other[:, 6:] = torch.randint(50, (2, 10))
    dec = model.decoder
    with torch.no_grad():
        z_prefix = model.latents(dec(ids[:, :6], use_cache=True).past_key_values)
        z_full = model.latents(crop_cache(dec(ids, use_cache=True).past_key_values, 6))
        z_other = model.latents(crop_cache(dec(other, use_cache=True).past_key_values, 6))
        a, b = model(ids, split=6).logits, model(other, split=6).logits
    assert torch.equal(z_full, z_other)
    assert (z_full - z_prefix).abs().max() < 1e-13
    assert torch.equal(a[:, :5], b[:, :5])
    assert not torch.equal(a[:, 5:], b[:, 5:])  # the continuation is read (by the decoder)
    # the latents move when the prefix moves
    changed = ids.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 50
    with torch.no_grad():
        z_changed = model.latents(dec(changed[:, :6], use_cache=True).past_key_values)
    assert not torch.equal(z_changed, z_prefix)


def test_coprocessor_starts_as_the_decoder():
    """At initialisation the latents are the decoder's own last hidden states over the soft tokens placed
    after the prefix (times the latent scale), bitwise."""
    model = make(3)
    ids = torch.randint(50, (2, 7))
    with torch.no_grad():
        cache = model.decoder(ids, use_cache=True).past_key_values
        z = model.latents(cache)
        soft = model.soft_tokens[None].expand(2, -1, -1)
        ref = embeds_forward(model.decoder, soft, cache, output_hidden_states=True).hidden_states[-1]
    assert torch.equal(z, ref * model.latent_scale)
    assert cache.get_seq_length() == 10  # embeds_forward extended the cache given to it, latents() did not


def test_embeds_forward_of_token_embeddings_is_the_token_forward():
    for over in ({}, {"position": "learned", "embed_norm": True}):
        model = make(0, **over)
        ids = torch.randint(50, (2, 9))
        dec = model.decoder
        assert torch.equal(embeds_forward(dec, dec.tok_embed(ids)).logits, dec(ids).logits)


def test_ahead_loss_of_zero_latents_is_the_frozen_loss():
    model = make(0)
    ids = torch.randint(50, (3, 12))
    y = ids.roll(-1, 1)
    y[:, :4] = -100
    for splits in ([2], [5, 9, 11]):
        got = model.ahead_loss(ids, y, splits, 3)
        ref = frozen_ahead_loss(model.decoder, ids, y, splits, 3)
        assert abs(float(got - ref)) < 1e-13


def test_soft_tokens_only_control_ignores_the_prefix():
    model = make(3, soft_tokens_only=True)
    assert model.coprocessor is None
    assert [id(p) for p in model.trainable_parameters()] == [id(model.soft_tokens)]
    ids = torch.randint(50, (2, 8))
    with torch.no_grad():
        z1 = model.latents(model.decoder(ids[:, :4], use_cache=True).past_key_values)
        z2 = model.latents(model.decoder(ids[:, 1:6], use_cache=True).past_key_values)
    assert torch.equal(z1, z2)


def test_given_decoder_is_frozen_not_copied():
    dec = TinyLMDecoder(**SIZES)
    model = KVCacheCoprocessor(2, decoder=dec, latent_scale=1.0)
    assert model.decoder is dec and not any(p.requires_grad for p in dec.parameters())
    assert float(model.latent_scale) == 1.0
    model.train()
    assert not model.decoder.training and model.coprocessor.training


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_latents": -1}, "n_latents"),
        ({"n_latents": 2, "latent_scale": 0.0}, "latent_scale"),
        ({"n_latents": 2, "decoder": TinyLMDecoder(**SIZES), "d_model": 8}, "decoder"),
    ],
)
def test_bad_parameters_are_refused(params, match):
    with pytest.raises(ValueError, match=match):
        KVCacheCoprocessor(**params)


def test_bad_split_is_refused():
    model = make(1)
    with pytest.raises(ValueError, match="split"):
        model(torch.randint(50, (1, 5)), split=0)


def test_greedy_generation_with_zero_latents_is_plain_greedy():
    from paperzoo_tinylm.generate import generate

    from paperzoo_cache_coprocessor.coprocessor import greedy_generate

    model = make(0, torch.float32)
    prompt = torch.randint(50, (2, 5))
    assert torch.equal(greedy_generate(model, prompt, 6), generate(model.decoder, prompt, 6))
    augmented = make(3, torch.float32)
    out = greedy_generate(augmented, prompt, 6)
    assert out.shape == (2, 11) and torch.equal(out[:, :5], prompt)


def test_trainer_refuses_bad_params_and_other_models():
    from paperzoo.errors import ParamError

    from paperzoo_cache_coprocessor.trainer import CoprocessorTraining, sample_splits

    for bad in ({"ahead": 0}, {"n_splits": 0}, {"decoder_steps": -1}, {"min_prefix": True}):
        with pytest.raises(ParamError):
            CoprocessorTraining(**bad)
    with pytest.raises(ValueError, match="kv_cache_coprocessor"):
        CoprocessorTraining().check_model(TinyLMDecoder(**SIZES))
    import random

    splits = sample_splits(random.Random(0), 18, 200, 13)
    assert set(splits) == {13, 14, 15, 16, 17}
