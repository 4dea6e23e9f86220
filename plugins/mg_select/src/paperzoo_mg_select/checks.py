"""Parameter checks shared by the trainer, the evaluator and the dataset: a
:class:`~paperzoo.errors.ParamError` naming the parameter and what would be accepted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paperzoo.errors import ParamError


def check_int(name: str, value: Any, low: int) -> None:
    """``value`` must be an integer (not a bool) ``>= low``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")


def check_float(name: str, value: Any, low: float, high: float | None = None, open_low: bool = False) -> None:
    """``value`` must be a number (not a bool) ``>= low`` (``> low`` when ``open_low``) and ``<= high``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bound = f"{'>' if open_low else '>='} {low}" + ("" if high is None else f" and <= {high}")
        raise ParamError(name, f"{value!r}; accepted: a number {bound}")


def check_positions(name: str, value: Any) -> tuple[int, ...]:
    """``value`` must be a list of distinct non-negative integers (token positions)."""
    ok = isinstance(value, Sequence) and not isinstance(value, str)
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    if not ok or len(set(value)) != len(value):
        raise ParamError(name, f"{value!r}; accepted: a list of distinct token positions (integers >= 0)")
    return tuple(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ParamError(name, f"{value!r}; accepted: one of {', '.join(map(repr, choices))}")
    return value
