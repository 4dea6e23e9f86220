"""The token-position check shared by the trainer and the evaluator (range checks of numbers and choices
are the core's :mod:`paperzoo.checks`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paperzoo.errors import ParamError


def check_positions(name: str, value: Any) -> tuple[int, ...]:
    """``value`` must be a list of distinct non-negative integers (token positions)."""
    ok = isinstance(value, Sequence) and not isinstance(value, str)
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    if not ok or len(set(value)) != len(value):
        raise ParamError(name, f"{value!r}; accepted: a list of distinct token positions (integers >= 0)")
    return tuple(value)
