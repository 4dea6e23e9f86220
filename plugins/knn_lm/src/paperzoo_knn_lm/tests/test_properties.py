"""Exact properties: lambda = 0 is the base LM, tau -> 0 is the nearest neighbour's token, exact search is
brute force, the key is the FFN's input, and the layer's reductions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from paperzoo_knn_lm.datastore import Datastore, FlatIndex, build_datastore, extract_keys
from paperzoo_knn_lm.evaluate import KNNLMInterpolation, perplexities
from paperzoo_knn_lm.knn import KNNLM, interpolate, knn_log_probs, target_log_probs
from paperzoo_knn_lm.layer import KNNInspiredSoftmax
from paperzoo_knn_lm.tests.helpers import tiny_decoder, tokens


def _store_and_model():
    model = tiny_decoder()
    x = tokens(6, 17)
    return model, build_datastore(model, x[:, :-1], x[:, 1:])


def test_lambda_zero_is_the_base_lm_exactly():
    model, store = _store_and_model()
    q = tokens(2, 9, seed=5)
    got = KNNLM(model, store, k=8, temperature=0.3, lam=0.0).log_probs(q)
    assert torch.equal(got, model(q).logits.log_softmax(-1).double())
    knnlm = KNNLM(model, store, k=8, lam=0.0)
    ppl = perplexities(knnlm, q[:, :-1], q[:, 1:])
    assert ppl["ppl_knnlm"] == ppl["ppl_lm"]


def test_target_log_probs_score_every_kept_target_once_whatever_the_batching():
    model, store = _store_and_model()
    knnlm = KNNLM(model, store, k=8, lam=0.4)
    q = tokens(5, 9, seed=6)
    x, y = q[:, :-1], q[:, 1:].clone()
    y[1, :3] = -100
    mixed = knnlm.log_probs(x)
    lm = model(x).logits.log_softmax(-1).double()
    keep = y >= 0
    got = target_log_probs(knnlm, x, y, batch_size=2)
    assert got.lm.shape == got.knnlm.shape == got.covered.shape == (int(keep.sum()),)
    assert torch.equal(got.knnlm, mixed.gather(-1, y.clamp_min(0)[..., None]).squeeze(-1)[keep])
    assert torch.equal(got.lm, lm.gather(-1, y.clamp_min(0)[..., None]).squeeze(-1)[keep])
    # a target no neighbour carries has p_kNN = 0: exactly the LM's share (1 - lam) of the mixture
    lost = ~got.covered
    assert lost.any() and got.covered.any()
    assert torch.allclose(got.knnlm[lost], got.lm[lost] + math.log(0.6), atol=1e-12, rtol=0)
    assert bool((got.knnlm[got.covered] > got.lm[got.covered] + math.log(0.6)).all())
    whole = target_log_probs(knnlm, x, y, batch_size=16)
    assert all(torch.equal(a, b) for a, b in zip(got, whole))


def test_interpolation_is_the_probability_mixture():
    lm = torch.randn(5, 7, dtype=torch.float64).log_softmax(-1)
    knn = torch.randn(5, 7, dtype=torch.float64).log_softmax(-1)
    got = interpolate(lm, knn, 0.3).exp()
    assert torch.allclose(got, 0.3 * knn.exp() + 0.7 * lm.exp(), atol=1e-15, rtol=0)
    assert torch.equal(interpolate(lm, knn, 1.0), knn)


def test_knn_distribution_closed_form():
    d = torch.tensor([[1.0, 2.0, 4.0]], dtype=torch.float64)
    v = torch.tensor([[3, 1, 3]])
    tau = 2.0
    w = torch.tensor([math.exp(-0.5), math.exp(-1.0), math.exp(-2.0)], dtype=torch.float64)
    expect = torch.zeros(1, 5, dtype=torch.float64)
    expect[0, 3] = (w[0] + w[2]) / w.sum()
    expect[0, 1] = w[1] / w.sum()
    got = knn_log_probs(d, v, 5, tau).exp()
    assert torch.allclose(got, expect, atol=1e-15, rtol=0)
    assert torch.isneginf(knn_log_probs(d, v, 5, tau)[0, [0, 2, 4]]).all()


def test_small_tau_concentrates_on_the_nearest_neighbours_token_large_tau_counts():
    g = torch.Generator().manual_seed(0)
    d = torch.rand(50, 8, generator=g, dtype=torch.float64).sort(-1).values + 0.1
    d[:, 1:] += 0.05  # a gap after the nearest
    v = torch.randint(6, (50, 8), generator=g)
    p = knn_log_probs(d, v, 6, temperature=1e-4).exp()
    assert (p.gather(-1, v[:, :1]).squeeze(-1) > 1 - 1e-12).all()
    counts = (
        torch.zeros(50, 6, dtype=torch.float64).scatter_add_(-1, v, torch.ones(50, 8, dtype=torch.float64))
        / 8
    )
    assert torch.allclose(knn_log_probs(d, v, 6, temperature=1e9).exp(), counts, atol=1e-8, rtol=0)


@pytest.mark.parametrize("chunk", [7, 64, 100000])
def test_exact_search_equals_brute_force(chunk):
    g = torch.Generator().manual_seed(3)
    keys = torch.randn(300, 12, generator=g, dtype=torch.float64)
    q = torch.randn(20, 12, generator=g, dtype=torch.float64)
    d, i = FlatIndex(keys, chunk=chunk).search(q, 10)
    full = ((q[:, None, :] - keys[None]) ** 2).sum(-1)
    bd, bi = full.sort(-1)
    assert torch.equal(i, bi[:, :10])
    assert torch.allclose(d, bd[:, :10], atol=1e-12, rtol=0)


def test_ffn_input_key_is_what_the_last_ffn_reads():
    model = tiny_decoder()
    x = tokens(2, 9)
    seen = {}
    handle = model.blocks[-1].mlp.register_forward_pre_hook(lambda m, a: seen.setdefault("x", a[0]))
    try:
        h, logits = extract_keys(model, x)
    finally:
        handle.remove()
    assert torch.equal(h, seen["x"])
    assert torch.equal(logits, model(x).logits)


def test_datastore_pairs_every_key_with_its_next_token():
    model = tiny_decoder()
    x = tokens(5, 11)
    store = build_datastore(model, x[:, :-1], x[:, 1:], key="final", batch_size=2)
    out = model(x[2:4, :-1], output_hidden_states=True)  # the same batch of two as the datastore's
    assert len(store) == 50 and torch.equal(store.values, x[:, 1:].reshape(-1))
    assert torch.equal(store.keys[30:40], out.hidden_states[-1][1])
    with pytest.raises(ValueError, match="keys"):
        Datastore(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))


def test_layer_reduces_to_a_linear_head():
    layer = KNNInspiredSoftmax(8, 11).double()
    h = torch.randn(2, 5, 8, dtype=torch.float64)
    assert torch.equal(layer(h), F.linear(h, layer.weight))


def test_layer_aggregates_embeddings_per_token_with_temperature():
    layer = KNNInspiredSoftmax(8, 11, n_per_token=3, temperature=0.5, similarity="l2").double()
    h = torch.randn(4, 8, dtype=torch.float64)
    sq = ((h[:, None] - layer.weight) ** 2).sum(-1)  # token-major rows: token v owns rows 3v..3v+2
    expect = torch.log(torch.exp(-sq / 0.5).reshape(4, 11, 3).sum(-1))
    assert torch.allclose(layer(h), expect, atol=1e-10, rtol=0)


def test_learned_temperature_gets_a_gradient():
    layer = KNNInspiredSoftmax(8, 11, n_per_token=2, learn_temperature=True)
    layer(torch.randn(3, 8)).logsumexp(-1).sum().backward()
    assert layer.log_temperature.grad is not None and layer.log_temperature.grad != 0


@pytest.mark.parametrize(
    "kwargs", [{"split": "test"}, {"index": "hnsw"}, {"k": 0}, {"lam": 1.5}, {"temperature": 0.0}]
)
def test_evaluator_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        KNNLMInterpolation(**kwargs)
