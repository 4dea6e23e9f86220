"""Exact properties of the CLM / causal-infilling mixture."""

from __future__ import annotations

import math

import pytest
import torch
from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.span_corruption import random_spans_noise_mask
from paperzoo_tinylm.training import lm_loss
from paperzoo_tinylm.transforms import IGNORE

from paperzoo_codegen2_objective.infill import CLMInfillMix, from_infill, mix_loss, to_infill


def test_infill_is_exactly_invertible_on_random_rows():
    gen = torch.Generator().manual_seed(0)
    for length in (2, 5, 17, 64):
        for density, mu in ((0.15, 3.0), (0.5, 2.0), (0.3, 8.0)):
            row = torch.randint(256, (length,), generator=gen).tolist()
            mask = random_spans_noise_mask(length, density, mu, generator=gen).tolist()
            seq, sep_at = to_infill(row, mask)
            assert seq[sep_at] == tokenizer.EOS
            assert from_infill(seq) == row
            assert from_infill(seq + [tokenizer.PAD] * 3) == row


def test_transform_rows_invert_and_loss_mask_is_the_part_after_the_separator():
    ids = torch.randint(256, (64, 20), generator=torch.Generator().manual_seed(1))
    t = CLMInfillMix(p_clm=0.5)(ids, torch.Generator().manual_seed(2))
    n_infill = 0
    for row, x, y, m in zip(ids.tolist(), t.inputs.tolist(), t.targets.tolist(), t.loss_mask.tolist()):
        # the full sequence of the row: inputs followed by the last target
        seq = [i for i in x if i != tokenizer.PAD]
        seq = seq + [next(v for v in reversed(y) if v != IGNORE)]
        if len(seq) == len(row):  # plain causal LM: every next token counts
            assert seq == row and all(m[: len(row) - 1]) and y[: len(row) - 1] == row[1:]
            continue
        n_infill += 1
        assert from_infill(seq) == row
        sep_at = seq.index(tokenizer.EOS)
        assert m[: len(seq) - 1] == [j + 1 > sep_at for j in range(len(seq) - 1)]
        assert [v for v in y if v != IGNORE] == seq[sep_at + 1 :]
    assert 0 < n_infill < 64


def test_p1_equals_plain_causal_lm_loss_bitwise():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=32)
    ids = torch.randint(256, (4, 12), generator=torch.Generator().manual_seed(3))
    ours = mix_loss(model, ids, CLMInfillMix(p_clm=1.0), torch.Generator().manual_seed(4))
    assert torch.equal(ours, lm_loss(model, ids))


def test_mixture_frequency_matches_p_within_binomial_bound():
    n = 20000
    for p in (0.1, 0.5, 0.9):
        share = CLMInfillMix(p_clm=p).choose(n, torch.Generator().manual_seed(5)).float().mean().item()
        assert abs(share - p) < 5 * math.sqrt(p * (1 - p) / n), (p, share)
    assert CLMInfillMix(p_clm=0.0).choose(100).sum() == 0


def test_deterministic_per_seed():
    ids = torch.randint(256, (16, 24), generator=torch.Generator().manual_seed(6))
    mix = CLMInfillMix(p_clm=0.5)
    a = mix(ids, torch.Generator().manual_seed(7))
    b = mix(ids, torch.Generator().manual_seed(7))
    c = mix(ids, torch.Generator().manual_seed(8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not (a.inputs.shape == c.inputs.shape and torch.equal(a.inputs, c.inputs))


@pytest.mark.parametrize("kwargs", [{"p_clm": 1.5}, {"noise_density": 0.0}, {"mean_noise_span_length": 0.5}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        CLMInfillMix(**kwargs)
