"""Exact properties: the labelling rule, the loss's composition, no gradient through sampling into the
generator, shared embeddings, Gumbel sampling's distribution, determinism."""

from __future__ import annotations

import math

import torch

from paperzoo_electra.model import (
    ElectraGeneratorDiscriminator,
    discriminator_loss,
    gumbel_sample,
    replaced_labels,
)

PAD, MASK = 256, 259


def _model(**kw) -> ElectraGeneratorDiscriminator:
    torch.manual_seed(0)
    return ElectraGeneratorDiscriminator(d_model=16, n_layers=1, n_heads=2, max_seq_len=32, **kw).double()


def _ids(seed: int = 0) -> torch.Tensor:
    ids = torch.randint(97, 123, (4, 24), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = 257
    ids[2, 15:] = PAD
    return ids


def test_labelling_rule_on_constructed_examples():
    original = torch.tensor([[5, 6, 7, 8, PAD]])
    corrupted = torch.tensor([[5, 9, 7, 3, PAD]])
    chosen = torch.tensor([[True, True, True, False, False]])
    # chosen & sampled == original -> 0 (position 0 and 2); chosen & differs -> 1; not chosen -> 0 even if
    # it differs (position 3 cannot happen in a forward, the rule still ignores it)
    assert replaced_labels(original, corrupted, chosen).tolist() == [[0, 1, 0, 0, 0]]


def test_forward_labels_corruption_and_loss_composition():
    model = _model()
    ids = _ids()
    out = model(ids, generator=torch.Generator().manual_seed(1))
    changed = out.corrupted != ids
    assert torch.equal(out.labels.bool(), changed)  # replaced exactly where the sample differs
    assert not changed[ids >= 256].any()  # specials and padding are never replaced
    assert 0 < int(out.labels.sum()) < int((ids < 256).sum())
    torch.testing.assert_close(out.loss, out.mlm_loss + 50.0 * out.disc_loss, rtol=0, atol=1e-14)


def test_disc_loss_averages_over_non_padding_tokens():
    logits = torch.tensor([[0.0, 2.0, -50.0]], dtype=torch.float64)
    labels = torch.tensor([[1, 0, 1]])
    mask = torch.tensor([[1, 1, 0]])
    expected = (math.log(2.0) + math.log1p(math.exp(2.0))) / 2  # padding's huge loss left out
    assert abs(float(discriminator_loss(logits, labels, mask)) - expected) < 1e-15


def test_no_gradient_from_discriminator_into_generator():
    model = _model(generator_size=0.5)
    ids = _ids()
    own = [(n, p) for n, p in model.generator.named_parameters() if "tok_embed.0" not in n]
    out = model(ids, generator=torch.Generator().manual_seed(2))
    full = torch.autograd.grad(out.loss, [p for _, p in own], retain_graph=True, allow_unused=True)
    mlm = torch.autograd.grad(out.mlm_loss, [p for _, p in own], allow_unused=True)
    for (name, _), a, b in zip(own, full, mlm, strict=True):
        assert a is not None and b is not None, name
        assert torch.equal(a, b), name
    # the shared token embeddings do receive the discriminator's gradient
    emb = model.discriminator.tok_embed.weight
    out = model(ids, generator=torch.Generator().manual_seed(2))
    g_full = torch.autograd.grad(out.loss, emb, retain_graph=True)[0]
    g_mlm = torch.autograd.grad(out.mlm_loss, emb)[0]
    assert (g_full - g_mlm).abs().max() > 1e-6


def test_embeddings_shared_with_projection_when_widths_differ():
    narrow, same = _model(generator_size=0.5), _model(generator_size=1.0)
    assert narrow.generator.tok_embed[0] is narrow.discriminator.tok_embed
    assert narrow.generator.tok_embed[1].in_features == 16 and narrow.generator.config.d_model == 8
    assert same.generator.tok_embed is same.discriminator.tok_embed
    assert narrow.generator.lm_head.embedding is narrow.discriminator.tok_embed  # tied MLM output


def test_gumbel_sampling_follows_softmax():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    n = 40000
    logits = probs.log().expand(n, 4)
    counts = torch.bincount(gumbel_sample(logits, torch.Generator().manual_seed(3)), minlength=4)
    for c, p in zip(counts.tolist(), probs.tolist(), strict=True):
        assert abs(c - n * p) <= 5 * math.sqrt(n * p * (1 - p))


def test_same_seed_same_output():
    model = _model()
    ids = _ids()
    a = model(ids, generator=torch.Generator().manual_seed(4))
    b = model(ids, generator=torch.Generator().manual_seed(4))
    c = model(ids, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.corrupted, b.corrupted) and torch.equal(a.loss, b.loss)
    assert not torch.equal(a.corrupted, c.corrupted)


def test_bad_generator_size_refused():
    import pytest

    with pytest.raises(ValueError):
        ElectraGeneratorDiscriminator(generator_size=1.5, d_model=16, n_layers=1, n_heads=2)
