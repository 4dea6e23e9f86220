"""The cubic sparsity schedule: its ends, its closed-form midpoint and monotonicity."""

import pytest

from paperzoo_compress.schedules import cubic_sparsity


def test_zero_before_start_final_from_end_and_closed_form_between():
    assert cubic_sparsity(0, 10, 30, 0.8) == 0.0 and cubic_sparsity(9.99, 10, 30, 0.8) == 0.0
    assert cubic_sparsity(30, 10, 30, 0.8) == 0.8 and cubic_sparsity(1e6, 10, 30, 0.8) == 0.8
    assert cubic_sparsity(20, 10, 30, 0.8) == pytest.approx(0.8 * (1 - 0.5**3), abs=1e-15)  # 0.7
    values = [cubic_sparsity(t, 10, 30, 0.8) for t in range(10, 31)]
    assert all(a < b for a, b in zip(values, values[1:]))
    steps = [b - a for a, b in zip(values, values[1:])]
    assert all(a > b for a, b in zip(steps, steps[1:]))  # fast first, slow near the end


def test_empty_window_is_refused():
    with pytest.raises(ValueError, match="t1 must be greater"):
        cubic_sparsity(5, 10, 10, 0.5)
