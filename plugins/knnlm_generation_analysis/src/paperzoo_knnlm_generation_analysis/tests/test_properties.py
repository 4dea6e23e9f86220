"""Exact properties: the delta split adds up, entropies' closed forms, lam = 0 reduces to the LM, the
generation loop and the per-position entropies agree, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from paperzoo_knnlm_generation_analysis.analysis import (
    entropy,
    least_squares_slope,
    split_deltas,
    token_deltas,
)
from paperzoo_knnlm_generation_analysis.generation import entropies_by_position, generate, next_log_probs
from paperzoo_knnlm_generation_analysis.tests.helpers import VOCAB, tiny_knnlm, tokens


def _scored(lam: float = 0.25):
    knnlm = tiny_knnlm(lam=lam)
    x = tokens(4, 17, seed=7)
    lm, d, i = knnlm.neighbours(x[:, :-1])
    return lm, knnlm.log_probs_from(lm, knnlm.knn_from(d, i, lm.shape[-1])), x[:, 1:]


def test_split_sums_to_total_log_likelihood_change():
    lm, mixed, y = _scored()
    deltas = token_deltas(lm, mixed, y)
    s = split_deltas(deltas)
    total = float(mixed.gather(-1, y[..., None]).sum() - lm.double().gather(-1, y[..., None]).sum())
    assert s.n == y.numel() and s.n_improved + s.n_worsened <= s.n
    assert s.n_improved > 0 and s.n_worsened > 0  # both parts are exercised
    # fsum is correctly rounded: the only error is the final addition and the reference's own sums
    assert abs((s.improved + s.worsened) - s.total) <= 4 * math.ulp(abs(s.total))
    assert s.total == pytest.approx(total, rel=1e-12, abs=1e-12)
    d = s.as_dict()
    assert d["delta_improved"] + d["delta_worsened"] == pytest.approx(d["delta_total"], abs=1e-15)
    assert d["delta_improved"] > 0 > d["delta_worsened"]


def test_ignored_targets_are_dropped():
    lm, mixed, y = _scored()
    y2 = y.clone()
    y2[0, :5] = -100
    assert token_deltas(lm, mixed, y2).numel() == y.numel() - 5
    assert torch.equal(token_deltas(lm, mixed, y2), token_deltas(lm, mixed, y)[5:])


def test_lam_zero_changes_no_token():
    lm, mixed, y = _scored(lam=0.0)
    s = split_deltas(token_deltas(lm, mixed, y))
    assert (s.n_improved, s.n_worsened, s.total) == (0, 0, 0.0)
    assert math.isnan(s.gain_concentration)


def test_gain_concentration_closed_form():
    # one token gains 3, two lose 0.5 each, one gains 0.1: net 2.1, reached by the top token alone
    s = split_deltas(torch.tensor([3.0, -0.5, -0.5, 0.1], dtype=torch.float64))
    assert s.gain_concentration == 0.25 and (s.n_improved, s.n_worsened) == (2, 2)
    s = split_deltas(torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64))
    assert s.gain_concentration == 1.0  # an evenly spread gain needs every token


def test_entropy_closed_forms():
    k = 5
    uniform = torch.full((1, VOCAB), -math.log(VOCAB), dtype=torch.float64)
    assert float(entropy(uniform)) == pytest.approx(math.log(VOCAB), abs=1e-12)
    one_hot = torch.full((1, VOCAB), float("-inf"), dtype=torch.float64)
    one_hot[0, 3] = 0.0
    assert float(entropy(one_hot)) == 0.0
    from paperzoo_knn_lm.knn import knn_log_probs

    # k equidistant neighbours with distinct tokens: p_kNN uniform over k tokens -> log k
    lp = knn_log_probs(torch.ones(1, k, dtype=torch.float64), torch.arange(k)[None], VOCAB, 2.0)
    assert float(entropy(lp)) == pytest.approx(math.log(k), abs=1e-12)
    # the same neighbours all carrying one token -> 0, whatever the distances
    lp = knn_log_probs(torch.rand(1, k, dtype=torch.float64), torch.full((1, k), 4), VOCAB, 2.0)
    assert float(entropy(lp)) == pytest.approx(0.0, abs=1e-12)


def test_least_squares_slope_closed_form():
    assert least_squares_slope(torch.tensor([1.0, 3.0, 5.0, 7.0])) == pytest.approx(2.0, abs=1e-12)
    assert least_squares_slope(torch.tensor([2.0, 2.0, 2.0])) == 0.0


def test_generation_matches_one_pass_scoring_and_shapes():
    knnlm = tiny_knnlm()
    prompts = tokens(3, 4, seed=3)
    ids = generate(knnlm, prompts, 6, generator=torch.Generator().manual_seed(0))
    assert ids.shape == (3, 10) and torch.equal(ids[:, :4], prompts)
    ent = entropies_by_position(knnlm, ids, 4)
    assert {k: tuple(v.shape) for k, v in ent.items()} == {"knn": (3, 6), "lm": (3, 6), "knnlm": (3, 6)}
    # the one-pass entropies are those of the distributions each step sampled from
    for j in range(6):
        step = next_log_probs(knnlm, ids[:, : 4 + j])
        assert torch.allclose(entropy(step), ent["knnlm"][:, j], atol=1e-10, rtol=0)
        assert torch.allclose(
            entropy(next_log_probs(knnlm, ids[:, : 4 + j], "lm")), ent["lm"][:, j], atol=1e-10
        )
    assert bool((ent["knn"] >= 0).all()) and bool((ent["knn"] <= math.log(knnlm.k) + 1e-12).all())


def test_greedy_follows_argmax_and_sampling_is_seeded():
    knnlm = tiny_knnlm()
    prompts = tokens(2, 4, seed=5)
    ids = generate(knnlm, prompts, 5, decoding="greedy")
    for j in range(5):
        assert torch.equal(next_log_probs(knnlm, ids[:, : 4 + j]).argmax(-1), ids[:, 4 + j])
    a = generate(knnlm, prompts, 5, generator=torch.Generator().manual_seed(1))
    b = generate(knnlm, prompts, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_tiny_top_p_is_greedy():
    knnlm = tiny_knnlm()
    prompts = tokens(2, 4, seed=5)
    greedy = generate(knnlm, prompts, 5, decoding="greedy")
    nucleus = generate(knnlm, prompts, 5, top_p=1e-9, generator=torch.Generator().manual_seed(3))
    assert torch.equal(greedy, nucleus)


@pytest.mark.parametrize("kw", [{"source": "both"}, {"decoding": "beam"}, {"top_p": 0.0}])
def test_bad_generation_settings_are_refused(kw):
    with pytest.raises(ValueError):
        generate(tiny_knnlm(), tokens(1, 3), 2, **kw)
