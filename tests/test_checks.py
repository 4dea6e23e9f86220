"""The core's param range checks: accepted values pass, others raise ParamError naming the param."""

import math

import pytest
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.errors import ParamError


def test_check_int_bounds_and_types():
    check_int("n", 3, 3)
    for bad in (2, True, 3.0, "3"):
        with pytest.raises(ParamError, match=r"^n: .*accepted: an integer >= 3$"):
            check_int("n", bad, 3)


def test_check_float_open_and_closed_bounds():
    check_float("p", 0.0, 0.0, 1.0)
    check_float("p", 1, 0.0, 1.0)
    check_float("t", 1e-9, 0.0, open_low=True)
    with pytest.raises(ParamError, match=r"accepted: a number > 0.0$"):
        check_float("t", 0.0, 0.0, open_low=True)
    for bad in (-0.1, 1.5, False, math.nan):
        with pytest.raises(ParamError, match=r"^p: .*accepted: a number >= 0.0 and <= 1.0$"):
            check_float("p", bad, 0.0, 1.0)


def test_check_choice_returns_the_value_or_lists_the_choices():
    assert check_choice("mode", "sum", ("sum", "mean")) == "sum"
    with pytest.raises(ParamError, match=r"^mode: 'max'; accepted: one of 'sum', 'mean'$"):
        check_choice("mode", "max", ("sum", "mean"))
