"""Selection rules: exact kept sets on hand-made scores, complements, ties, offsets, bad input."""

import pytest
import torch

from paperzoo_dataprune.select import kept_count, select_kept

SCORES = torch.tensor([0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0])  # a permutation of 0.0..0.9


def test_hard_and_easy_keep_the_highest_and_lowest_scores():
    assert select_kept(SCORES, 0.7, "hard").tolist() == [2, 4, 6]  # 0.9, 0.7, 0.8
    assert select_kept(SCORES, 0.7, "easy").tolist() == [1, 5, 9]  # 0.1, 0.2, 0.0


def test_hard_and_easy_halves_partition_the_data():
    hard, easy = select_kept(SCORES, 0.5, "hard"), select_kept(SCORES, 0.5, "easy")
    assert sorted(hard.tolist() + easy.tolist()) == list(range(10))


def test_offset_skips_the_extreme_end_of_the_kept_side():
    # hard, offset 0.1: skip 0.9, keep the next three highest 0.8, 0.7, 0.6
    assert select_kept(SCORES, 0.7, "hard", offset_fraction=0.1).tolist() == [4, 6, 8]
    # easy, offset 0.2: skip 0.0 and 0.1, keep 0.2, 0.3, 0.4
    assert select_kept(SCORES, 0.7, "easy", offset_fraction=0.2).tolist() == [3, 5, 7]


def test_ties_break_by_index_and_selection_is_sorted():
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    assert select_kept(scores, 0.6, "hard").tolist() == [2, 4]  # the stable sort puts index 0 first
    assert select_kept(scores, 0.6, "easy").tolist() == [1, 3]


def test_selection_depends_on_scores_not_on_data_order():
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    for keep in ("hard", "easy"):
        kept = select_kept(SCORES, 0.6, keep)
        kept_permuted = select_kept(SCORES[perm], 0.6, keep)
        assert sorted(perm[kept_permuted].tolist()) == kept.tolist()


def test_random_rule_ignores_scores_and_is_seeded():
    a = select_kept(SCORES, 0.5, "random", seed=4)
    assert torch.equal(a, select_kept(-SCORES, 0.5, "random", seed=4))
    assert len(a) == 5 and len(set(a.tolist())) == 5
    draws = {tuple(select_kept(SCORES, 0.5, "random", seed=s).tolist()) for s in range(20)}
    assert len(draws) > 10  # C(10, 5) = 252 subsets


def test_no_pruning_keeps_everything():
    for keep in ("hard", "easy", "random"):
        assert select_kept(SCORES, 0.0, keep).tolist() == list(range(10))


def test_counts_round_and_reject_empty_selections():
    assert kept_count(10, 0.25, 0.14) == (8, 1)  # 10 - round(2.5) = 10 - 2 (half to even), round(1.4)
    with pytest.raises(ValueError):
        select_kept(SCORES, 0.96, "hard")  # keeps round(0.4) = 0
    with pytest.raises(ValueError):
        select_kept(SCORES, 0.5, "hard", offset_fraction=0.6)  # 5 kept + 6 skipped > 10
    with pytest.raises(ValueError):
        select_kept(SCORES, 0.5, "median")
