"""Sequence transforms: the MLM corruption's rate, split, targets, special tokens and determinism."""

from __future__ import annotations

import math

import pytest
import torch

from paperzoo_tinylm.tokenizer import BOS, EOS, MASK, PAD
from paperzoo_tinylm.transforms import IGNORE, MLMTransform, SequenceTransform, Transformed, mlm_corrupt

B, T = 64, 256  # 16384 tokens, of which 3 specials per row


def _ids(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(256, (B, T), generator=g)
    ids[:, 0], ids[:, -2], ids[:, -1] = BOS, EOS, PAD
    ids[: B // 2, T // 2 :] = PAD  # half the rows right-padded
    return ids


def _within(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """``count`` successes of ``n`` Bernoulli(``p``) trials within ``sigmas`` standard deviations."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_is_a_sequence_transform():
    t = MLMTransform()
    assert isinstance(t, SequenceTransform)
    out = t(_ids(), torch.Generator().manual_seed(0))
    assert isinstance(out, Transformed)
    assert out.inputs.shape == out.targets.shape == out.loss_mask.shape == (B, T)
    assert out.loss_mask.dtype == torch.bool and out.inputs.dtype == out.targets.dtype == torch.long


@pytest.mark.parametrize("rate", [0.15, 0.4])
def test_masked_fraction_matches_rate(rate):
    ids = _ids()
    ordinary = int((ids < 256).sum())
    out = MLMTransform(rate=rate)(ids, torch.Generator().manual_seed(1))
    assert _within(int(out.loss_mask.sum()), ordinary, rate)  # 5 sigma: about 1 in 1.7 million fails


def test_80_10_10_split():
    ids = _ids()
    out = MLMTransform(rate=0.5)(ids, torch.Generator().manual_seed(2))
    chosen = out.loss_mask
    n = int(chosen.sum())
    masked = int((chosen & (out.inputs == MASK)).sum())
    unchanged = int((chosen & (out.inputs == ids)).sum())
    changed_random = int((chosen & (out.inputs != MASK) & (out.inputs != ids)).sum())
    # a random replacement equals the original with probability 1/256: "unchanged" is 0.1 + 0.1/256
    assert _within(masked, n, 0.8)
    assert _within(changed_random, n, 0.1 * 255 / 256)
    assert _within(unchanged, n, 0.1 + 0.1 / 256)
    assert int((out.inputs[chosen & (out.inputs != MASK)] >= 256).sum()) == 0  # random ids are bytes


def test_targets_original_at_chosen_ignored_elsewhere():
    ids = _ids()
    out = MLMTransform()(ids, torch.Generator().manual_seed(3))
    assert torch.equal(out.targets[out.loss_mask], ids[out.loss_mask])
    assert (out.targets[~out.loss_mask] == IGNORE).all()
    assert torch.equal(out.inputs[~out.loss_mask], ids[~out.loss_mask])  # nothing else is touched


def test_special_tokens_never_chosen():
    ids = _ids()
    out = MLMTransform(rate=1.0)(ids, torch.Generator().manual_seed(4))
    assert torch.equal(out.loss_mask, ids < 256)  # rate 1: every ordinary token, no special one
    custom = MLMTransform(rate=1.0, special_ids=(PAD,))(ids, torch.Generator().manual_seed(4))
    assert torch.equal(custom.loss_mask, ids != PAD)


def test_same_seed_same_output_other_seed_differs():
    ids = _ids()
    t = MLMTransform()
    a, b = t(ids, torch.Generator().manual_seed(5)), t(ids, torch.Generator().manual_seed(5))
    c = t(ids, torch.Generator().manual_seed(6))
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))
    assert not torch.equal(a.loss_mask, c.loss_mask)


def test_electra_split_has_no_random_replacement():
    ids = _ids()
    out = MLMTransform(rate=0.5, mask_fraction=0.85, random_fraction=0.0)(
        ids, torch.Generator().manual_seed(7)
    )
    chosen = out.loss_mask
    assert ((out.inputs == MASK) | (out.inputs == ids))[chosen].all()
    assert _within(int((chosen & (out.inputs == MASK)).sum()), int(chosen.sum()), 0.85)


@pytest.mark.parametrize(
    "kwargs", [{"rate": 1.5}, {"mask_fraction": 0.9, "random_fraction": 0.2}, {"random_high": 0}]
)
def test_bad_parameters_refused(kwargs):
    with pytest.raises(ValueError):
        MLMTransform(**kwargs)


def test_mlm_corrupt_touches_exactly_the_given_positions():
    ids = _ids()
    chosen = torch.zeros_like(ids, dtype=torch.bool)
    chosen[:, ::3] = True  # includes BOS and some PAD: the caller's choice is not filtered
    g = torch.Generator().manual_seed(8)
    out = mlm_corrupt(ids, chosen, 1.0, 0.0, generator=g)
    assert torch.equal(out.loss_mask, chosen)
    assert (out.inputs[chosen] == MASK).all() and torch.equal(out.inputs[~chosen], ids[~chosen])
    assert torch.equal(out.targets[chosen], ids[chosen]) and (out.targets[~chosen] == IGNORE).all()
    # all random, drawn below random_high; the stream consumed does not depend on the choice
    rnd = mlm_corrupt(ids, chosen, 0.0, 1.0, random_high=7, generator=torch.Generator().manual_seed(8))
    assert (rnd.inputs[chosen] < 7).all()
    other = torch.Generator().manual_seed(8)
    mlm_corrupt(ids, ~chosen, 0.5, 0.2, generator=other)
    assert torch.equal(g.get_state(), other.get_state())
