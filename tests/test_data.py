"""The core's data helpers."""

import pytest
import torch
from paperzoo.data import spread_indices


def test_spread_indices_takes_both_ends_and_even_steps():
    assert spread_indices(10, 4).tolist() == [0, 3, 6, 9]
    assert spread_indices(10, 1).tolist() == [0]
    assert spread_indices(1, 5).tolist() == [0]
    assert spread_indices(10, 3).tolist() == [0, 4, 9]  # 4.5 rounds half to even, as Python's round


def test_spread_indices_is_capped_at_the_size_without_repeats():
    # More wanted than there are: every index once, in order (rounding i * 9 / 11 repeated indices).
    assert spread_indices(10, 12).tolist() == list(range(10))
    assert spread_indices(7, 7).tolist() == list(range(7))


@pytest.mark.parametrize("n_total", [2, 5, 48, 97, 615, 100_003])
@pytest.mark.parametrize("n", [2, 3, 23, 32, 64])
def test_spread_indices_are_distinct_sorted_and_nearest_to_the_even_grid(n_total, n):
    got = spread_indices(n_total, n)
    k = min(n, n_total)
    assert got.dtype == torch.long and got.shape == (k,)
    assert got[0] == 0 and got[-1] == n_total - 1
    assert bool((got.diff() >= 1).all())
    exact = [i * (n_total - 1) / (k - 1) for i in range(k)]
    assert all(abs(g - e) <= 0.5 for g, e in zip(got.tolist(), exact))


def test_spread_indices_refuses_an_empty_request():
    with pytest.raises(ValueError, match="n >= 1"):
        spread_indices(10, 0)
    with pytest.raises(ValueError, match="n_total >= 1"):
        spread_indices(0, 3)
