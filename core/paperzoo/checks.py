"""Range checks for a component's params, raising :class:`~paperzoo.errors.ParamError` (the engine
reports it at the param's dotted path). Types are already checked from the signature's hints; these
say which values of the type are accepted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import ParamError


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


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` must be one of ``choices``; returns it."""
    if value not in choices:
        raise ParamError(name, f"{value!r}; accepted: one of {', '.join(map(repr, choices))}")
    return value
