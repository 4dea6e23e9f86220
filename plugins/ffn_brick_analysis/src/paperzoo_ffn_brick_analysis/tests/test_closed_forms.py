"""The closed-form reference (no package implements the measure): the expected Jaccard index of two
independent random k-subsets, checked by enumeration and against random activations."""

import itertools
import math

import pytest
import torch

from paperzoo_ffn_brick_analysis.specialization import expected_random_jaccard, jaccard, top_k


@pytest.mark.parametrize("k, d", [(1, 5), (2, 6), (3, 7), (4, 8), (8, 8)])
def test_expected_jaccard_matches_enumeration(k, d):
    subsets = [set(s) for s in itertools.combinations(range(d), k)]
    brute = sum(jaccard(a, b) for a in subsets for b in subsets) / len(subsets) ** 2
    assert expected_random_jaccard(k, d) == pytest.approx(brute, rel=1e-12)


def test_expected_jaccard_limits():
    assert expected_random_jaccard(1, 50) == pytest.approx(1 / 50, rel=1e-12)  # same item with prob 1/d
    assert expected_random_jaccard(64, 64) == 1.0
    # about k / (2d - k) for k << d (the intersection concentrates at k^2 / d)
    assert expected_random_jaccard(16, 4096) == pytest.approx(16 / (2 * 4096 - 16), rel=0.1)


def test_random_independent_activations_overlap_as_the_closed_form(record_property):
    # two tasks whose neurons fire independently at random: the top-k sets are uniform random subsets
    g = torch.Generator().manual_seed(0)
    k, d, trials = 8, 64, 2000
    values = []
    for _ in range(trials):
        fa = (torch.rand(500, d, generator=g) > 0.5).double().mean(0)
        fb = (torch.rand(500, d, generator=g) > 0.5).double().mean(0)
        values.append(jaccard(top_k(fa, k), top_k(fb, k)))
    v = torch.tensor(values, dtype=torch.float64)
    expect, sem = expected_random_jaccard(k, d), float(v.std()) / math.sqrt(trials)
    record_property("random_overlap_measured_vs_closed_form", f"{float(v.mean()):.4f} vs {expect:.4f}")
    assert abs(float(v.mean()) - expect) < 3 * sem
