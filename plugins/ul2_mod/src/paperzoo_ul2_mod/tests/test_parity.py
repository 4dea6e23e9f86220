"""Parity with T5's span-corruption conventions. No CPU-installable package implements them without
TensorFlow (t5, seqio) or JAX (levanter), so the reference is the written definition of T5's
``random_spans_noise_mask`` / ``noise_span_to_unique_sentinel`` / ``nonnoise_span_to_unique_sentinel``
(google-research/text-to-text-transfer-transformer, ``t5/data/preprocessors.py``):

    num_noise_tokens = round(length * noise_density), clipped to [1, length - 1]
    num_noise_spans  = max(round(num_noise_tokens / mean_noise_span_length), 1)
    noise_span_lengths    = _random_segmentation(num_noise_tokens, num_noise_spans)       # drawn first
    nonnoise_span_lengths = _random_segmentation(length - num_noise_tokens, num_noise_spans)
    spans interleave nonnoise, noise, nonnoise, noise, ...; _random_segmentation shuffles an indicator of
    num_segments - 1 segment starts among the num_items - 1 gaps, so every composition is equally likely

and the layouts are worked out by hand from it below."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from paperzoo_tinylm import span_corruption, tokenizer

from paperzoo_ul2_mod.denoisers import MixtureOfDenoisers, R, X

S = tokenizer.sentinel
EOS = tokenizer.EOS


def test_hand_worked_t5_example(monkeypatch, record_property):
    # length 12, density 0.25, mean 1.5: T5 gives round(3.0) = 3 noise tokens in round(2.0) = 2 spans.
    # Fix the two segmentations T5 draws (noise first): noise [1, 2], non-noise [4, 5]. By hand:
    #   mask     0 0 0 0 1 0 0 0 0 0 1 1        (4 clean, 1 noise, 5 clean, 2 noise)
    #   inputs   [R] a b c d <extra_id_0> f g h i j <extra_id_1> <eos>
    #   targets  <extra_id_0> e <extra_id_1> k l <eos>
    draws = iter([[1, 2], [4, 5]])
    calls = []

    def fixed(num_items, num_segments, generator=None):
        calls.append((num_items, num_segments))
        return next(draws)

    monkeypatch.setattr(span_corruption, "random_segmentation", fixed)
    ids = torch.tensor([list(b"abcdefghijkl")])
    out = MixtureOfDenoisers((R(1.5, 0.25),))(ids, generator=torch.Generator().manual_seed(0))
    a, b, c, d, e, f, g, h, i, j, k, l = b"abcdefghijkl"  # noqa: E741
    want_inputs = [tokenizer.MODE_TOKENS["[R]"], a, b, c, d, S(0), f, g, h, i, j, S(1), EOS]
    want_targets = [S(0), e, S(1), k, l, EOS]
    assert calls == [(3, 2), (9, 2)]  # T5's order and arguments: noise tokens first
    got_inputs, got_targets = out.inputs[0].tolist(), out.targets[0].tolist()
    mismatches = sum(x != y for x, y in zip(got_inputs, want_inputs)) + sum(
        x != y for x, y in zip(got_targets, want_targets)
    )
    record_property("t5_layout_mismatches", mismatches)
    assert got_inputs == want_inputs and got_targets == want_targets


def _first_span_pmf(n: int, k: int) -> dict[int, float]:
    """T5's segmentation: P(first of k segments of n items has length s) = C(n-s-1, k-2) / C(n-1, k-1)."""
    return {s: math.comb(n - s - 1, k - 2) / math.comb(n - 1, k - 1) for s in range(1, n - k + 2)}


def test_span_length_distribution_matches_t5(record_property):
    # length 64, density 0.5, mean 8: 32 noise tokens in 4 spans and 32 clean tokens in 4 spans. The first
    # noise span's length and the first clean span's length follow the closed form above.
    gen = torch.Generator().manual_seed(0)
    n = 6000
    noise_first, clean_first = Counter(), Counter()
    for _ in range(n):
        mask = span_corruption.random_spans_noise_mask(64, 0.5, 8.0, gen).tolist()
        c0 = mask.index(True)
        clean_first[c0] += 1
        noise_first[mask[c0:].index(False) if False in mask[c0:] else 64 - c0] += 1
    pmf = _first_span_pmf(32, 4)
    worst = 0.0
    for counts in (noise_first, clean_first):
        worst = max(worst, max(abs(counts[s] / n - p) for s, p in pmf.items()))
        # binned chi-square (bins with expected count >= 5), p = 0.001 threshold
        bins = [s for s, p in pmf.items() if p * n >= 5]
        chi2 = sum((counts[s] - n * pmf[s]) ** 2 / (n * pmf[s]) for s in bins)
        assert chi2 < _chi2_999(len(bins) - 1)
    record_property("span_length_pmf_max_abs_diff", round(worst, 4))
    assert worst < 0.02


def _chi2_999(df: int) -> float:
    """The 0.999 quantile of chi-square with ``df`` degrees of freedom (Wilson-Hilferty, within 1%)."""
    z = 3.0902
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def test_counts_of_the_paper_denoisers_follow_t5():
    # by hand, on 512 tokens: R(3, .15): 77 tokens / round(25.67) = 26 spans; R(8, .15): 77 / 10;
    # X(3, .5): 256 / 85; X(8, .5): 256 / 32; X(64, .15): 77 / 1; X(64, .5): 256 / 4
    want = {(3.0, 0.15): (77, 26), (8.0, 0.15): (77, 10), (3.0, 0.5): (256, 85), (8.0, 0.5): (256, 32)}
    want.update({(64.0, 0.15): (77, 1), (64.0, 0.5): (256, 4)})
    for (mu, r), counts in want.items():
        assert span_corruption.noise_counts(512, r, mu) == counts


@pytest.mark.parametrize("denoiser", [X(3.0, 0.5), X(64.0, 0.5)])
def test_sentinels_number_spans_in_order(denoiser):
    out = MixtureOfDenoisers((denoiser,))(
        torch.randint(0, 256, (4, 256), generator=torch.Generator().manual_seed(1)),
        generator=torch.Generator().manual_seed(2),
    )
    for x, y in zip(out.inputs.tolist(), out.targets.tolist()):
        sx = [t for t in x if 260 <= t < 360]
        sy = [t for t in y if 260 <= t < 360]
        assert sx == sy == [S(i) for i in range(len(sx))]  # <extra_id_0>, <extra_id_1>, ... as T5
        assert x[-2] == sx[-1]  # the sequence ends in a noise span: the last input before EOS is a sentinel
