"""T5 span corruption: T5's counts, the layout of a hand-worked example, uniform segmentation, the exact
inverse, and the transform's batch conventions."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch

from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.span_corruption import (
    SpanCorruption,
    corrupt,
    noise_counts,
    random_segmentation,
    random_spans_noise_mask,
    uncorrupt,
)
from paperzoo_tinylm.transforms import IGNORE, SequenceTransform, Transformed

S = tokenizer.sentinel
EOS = tokenizer.EOS


def test_counts_follow_t5():
    # T5: noise = round(L * density) clipped to [1, L-1]; spans = max(round(noise / mean), 1)
    assert noise_counts(100, 0.15, 3.0) == (15, 5)
    assert noise_counts(512, 0.15, 3.0) == (77, 26)  # round(76.8) = 77, round(25.67) = 26
    assert noise_counts(10, 0.01, 3.0) == (1, 1)  # at least one noise token
    assert noise_counts(4, 0.99, 3.0) == (3, 1)  # at least one clean token
    assert noise_counts(64, 0.5, 64.0) == (32, 1)


def test_hand_worked_layout():
    tokens = list(b"abcdefghijk")
    mask = [c in "cdhjk" for c in "abcdefghijk"]
    inputs, targets = corrupt(tokens, mask)
    a, b, e, f, g, i = (ord(c) for c in "abefgi")
    c, d, h, j, k = (ord(c) for c in "cdhjk")
    assert inputs == [a, b, S(0), e, f, g, S(1), i, S(2), EOS]
    assert targets == [S(0), c, d, S(1), h, S(2), j, k, EOS]
    assert tokenizer.decode(inputs) == "ab<extra_id_0>efg<extra_id_1>i<extra_id_2><eos>"
    assert uncorrupt(inputs, targets) == tokens


def test_mask_is_alternating_spans_clean_first():
    gen = torch.Generator().manual_seed(0)
    for length in (2, 3, 17, 64, 200):
        for density, mean in ((0.15, 3.0), (0.5, 3.0), (0.15, 32.0), (0.5, 8.0)):
            mask = random_spans_noise_mask(length, density, mean, gen).tolist()
            n_noise, n_spans = noise_counts(length, density, mean)
            assert len(mask) == length and sum(mask) == n_noise
            starts = sum(1 for t in range(length) if mask[t] and (t == 0 or not mask[t - 1]))
            assert starts == n_spans
            assert not mask[0] and mask[-1]  # starts clean, ends in noise (no random roll)


def test_segmentation_is_uniform_over_compositions():
    # 7 items in 3 non-empty segments: C(6, 2) = 15 compositions, each with probability 1/15
    gen = torch.Generator().manual_seed(1)
    n = 15_000
    counts = Counter(tuple(random_segmentation(7, 3, gen)) for _ in range(n))
    compositions = [c for c in itertools.product(range(1, 6), repeat=3) if sum(c) == 7]
    assert set(counts) == set(compositions) and len(compositions) == 15
    chi2 = sum((counts[c] - n / 15) ** 2 / (n / 15) for c in compositions)
    assert chi2 < 36.1  # chi-square, 14 degrees of freedom, p = 0.001


def test_mask_distribution_matches_t5_definition():
    # length 10, density 0.3, mean 1.5: 3 noise tokens in 2 spans ({1,2} or {2,1}), 7 clean tokens in 2
    # spans (6 ways): T5's definition makes the 12 masks equally likely
    gen = torch.Generator().manual_seed(2)
    n = 12_000
    counts = Counter(tuple(random_spans_noise_mask(10, 0.3, 1.5, gen).tolist()) for _ in range(n))
    expected = set()
    for c0 in range(1, 7):
        for n0 in (1, 2):
            expected.add(tuple([False] * c0 + [True] * n0 + [False] * (7 - c0) + [True] * (3 - n0)))
    assert set(counts) == expected
    chi2 = sum((counts[m] - n / 12) ** 2 / (n / 12) for m in expected)
    assert chi2 < 31.3  # 11 degrees of freedom, p = 0.001


@pytest.mark.parametrize("density, mean", [(0.15, 3.0), (0.15, 8.0), (0.5, 3.0), (0.5, 32.0)])
def test_empirical_rate_and_span_length(density, mean):
    gen = torch.Generator().manual_seed(3)
    length, n = 256, 300
    noise = spans = 0
    for _ in range(n):
        mask = random_spans_noise_mask(length, density, mean, gen).tolist()
        noise += sum(mask)
        spans += sum(1 for t in range(length) if mask[t] and (t == 0 or not mask[t - 1]))
    assert noise / (n * length) == pytest.approx(density, abs=0.5 / length)  # exact count up to rounding
    n_noise, n_spans = noise_counts(length, density, mean)
    assert spans / n == n_spans and noise / spans == pytest.approx(mean, rel=0.5 / n_spans + 0.02)


def test_inverse_is_exact_on_random_rows():
    gen = torch.Generator().manual_seed(4)
    # every id but the sentinels and PAD, so BOS, EOS, MASK and the mode tokens occur inside rows too
    allowed = torch.tensor(
        [i for i in range(tokenizer.VOCAB_SIZE) if i != tokenizer.PAD and not 260 <= i < 360]
    )
    ids = allowed[torch.randint(0, len(allowed), (16, 97), generator=gen)]
    for transform in (SpanCorruption(), SpanCorruption(0.5, 8.0), SpanCorruption(0.15, 32.0, eos=False)):
        out = transform(ids, generator=gen)
        for row, x, y in zip(ids.tolist(), out.inputs.tolist(), out.targets.tolist()):
            assert uncorrupt(x, y, eos=transform.eos) == row


def test_transform_batch_conventions():
    ids = torch.randint(0, 256, (5, 40), generator=torch.Generator().manual_seed(5))
    transform = SpanCorruption(prefix=(tokenizer.MODE_TOKENS["[R]"],))
    assert isinstance(transform, SequenceTransform)
    first = transform(ids, generator=torch.Generator().manual_seed(9))
    again = transform(ids, generator=torch.Generator().manual_seed(9))
    assert isinstance(first, Transformed)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert torch.equal(first.loss_mask, first.targets != IGNORE)
    assert (first.inputs[:, 0] == tokenizer.MODE_TOKENS["[R]"]).all()
    n_noise, n_spans = noise_counts(40, 0.15, 3.0)
    # every row: inputs = mode + clean tokens + one sentinel per span + EOS; targets = noise + spans + EOS
    assert (first.inputs != tokenizer.PAD).sum(1).tolist() == [1 + 40 - n_noise + n_spans + 1] * 5
    assert first.loss_mask.sum(1).tolist() == [n_noise + n_spans + 1] * 5


def test_bad_input_refused():
    with pytest.raises(ValueError):
        SpanCorruption(noise_density=1.0)
    with pytest.raises(ValueError):
        SpanCorruption(0.5, 1.0)(torch.zeros(1, 400, dtype=torch.long))  # 200 spans > 100 sentinels
    with pytest.raises(ValueError):
        uncorrupt([1, S(0), EOS], [S(1), 2, EOS])
    assert math.isclose(SpanCorruption().noise_density, 0.15)
