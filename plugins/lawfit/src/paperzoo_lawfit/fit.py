"""Robust log-space curve fits: ``y = a x^b``, ``y = a x^b + c`` and any positive law given as a function.

Every fit minimises residuals of ``log y - log f(x)`` (relative errors, so points spanning decades weigh
alike) with ``scipy.optimize.least_squares``; ``loss`` chooses the robust loss (``linear``: ordinary least
squares, ``soft_l1``/``huber``/``cauchy``: outliers weigh less, ``f_scale`` their scale in log units).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

Law = Callable[..., np.ndarray]
LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")


@dataclass(frozen=True)
class FitResult:
    """A fitted law: ``params`` (name -> value, in the law's argument order), ``r2`` (coefficient of
    determination of ``log y``), ``rmse_log`` (root mean square log residual), ``n`` (points) and the
    law itself (``predict(x)`` evaluates it at the fitted parameters)."""

    form: str
    params: dict[str, float]
    r2: float
    rmse_log: float
    n: int
    law: Law = field(repr=False, compare=False)

    def predict(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        """The fitted law at ``x``."""
        return self.law(np.asarray(x, dtype=np.float64), *self.params.values())


def power_law(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """``a x^b``."""
    return a * np.power(x, b)


def power_law_const(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """``a x^b + c``."""
    return a * np.power(x, b) + c


def _arrays(x: Sequence[float], y: Sequence[float], need: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x, y: got {x.size} and {y.size} values; accepted: the same number")
    if x.size < need:
        raise ValueError(f"x, y: got {x.size} points; accepted: at least {need}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x, y: got a non-finite value; accepted: finite numbers")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x, y: got a value <= 0; accepted: positive numbers (log-space fit)")
    return x, y


def _result(form: str, law: Law, names: Sequence[str], p: np.ndarray, x: np.ndarray, y: np.ndarray):
    with np.errstate(all="ignore"):
        pred = law(x, *p)
    res = np.log(y) - np.log(np.where(pred > 0, pred, np.nan))
    ly = np.log(y)
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    ss_res = float(np.nansum(res**2)) if np.all(np.isfinite(res)) else float("inf")
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float(ss_res == 0.0)
    params = {n: float(v) for n, v in zip(names, p)}
    return FitResult(form, params, r2, float(np.sqrt(ss_res / x.size)), int(x.size), law)


def fit_curve(
    law: Law,
    x: Sequence[float],
    y: Sequence[float],
    p0: Sequence[float],
    names: Sequence[str],
    *,
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    loss: str = "linear",
    f_scale: float = 0.1,
    form: str = "",
) -> FitResult:
    """Fit a positive law ``law(x, *params)`` to ``(x, y)`` in log space from the start ``p0``.

    :param names: the parameters' names, in ``law``'s argument order.
    :param bounds: ``(lower, upper)`` per parameter (``-inf``/``inf`` for none).
    :raises ValueError: mismatched, too few or non-positive points, or an unknown ``loss``.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: got {loss!r}; accepted: one of {', '.join(LOSSES)}")
    if len(p0) != len(names):
        raise ValueError(f"p0, names: got {len(p0)} and {len(names)}; accepted: one start per name")
    x, y = _arrays(x, y, len(p0))
    ly = np.log(y)

    def residuals(p: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            pred = law(x, *p)
        r = ly - np.log(np.where(pred > 0, pred, np.nan))
        return np.where(np.isfinite(r), r, 1e3)

    lo, hi = bounds if bounds is not None else ([-np.inf] * len(p0), [np.inf] * len(p0))
    start = np.clip(np.asarray(p0, dtype=np.float64), lo, hi)
    sol = least_squares(
        residuals, start, bounds=(lo, hi), loss=loss, f_scale=f_scale, x_scale="jac", xtol=1e-15,
        ftol=1e-15, gtol=1e-15, max_nfev=20000,
    )  # fmt: skip
    return _result(form or getattr(law, "__name__", "law"), law, names, sol.x, x, y)


def fit_power_law(x: Sequence[float], y: Sequence[float], *, loss: str = "linear", f_scale: float = 0.1):
    """``y = a x^b``: ordinary least squares of ``log y`` on ``log x`` (exact for points on the law), then
    refined under a robust ``loss`` when one is given. Returns a :class:`FitResult` with ``a``, ``b``."""
    x, y = _arrays(x, y, 2)
    b, log_a = np.polyfit(np.log(x), np.log(y), 1)
    if loss == "linear":
        return _result("power_law", power_law, ("a", "b"), np.array([np.exp(log_a), b]), x, y)
    return fit_curve(
        power_law, x, y, [np.exp(log_a), b], ("a", "b"), loss=loss, f_scale=f_scale, form="power_law"
    )


def fit_power_law_const(
    x: Sequence[float], y: Sequence[float], *, loss: str = "linear", f_scale: float = 0.1, grid: int = 64
) -> FitResult:
    """``y = a x^b + c`` (``a > 0``: a law that rises or falls to the asymptote ``c``; ``c`` may be
    negative). Start: the best of ``grid`` asymptotes ``c`` below ``min y`` with the exact log-log fit of
    ``y - c``; then all three refined in log space. Returns a :class:`FitResult` with ``a``, ``b``, ``c``."""
    x, y = _arrays(x, y, 3)
    lx, span = np.log(x), float(y.max() - y.min()) or float(y.max())
    best = None
    for c in y.min() - span * np.concatenate([[0.0], np.geomspace(1e-4, 1e2, grid - 1)]):
        z = y - c
        if np.any(z <= 0):
            continue
        b, log_a = np.polyfit(lx, np.log(z), 1)
        with np.errstate(all="ignore"):
            err = float(np.sum((np.log(y) - np.log(np.exp(log_a) * x**b + c)) ** 2))
        if np.isfinite(err) and (best is None or err < best[0]):
            best = (err, np.exp(log_a), b, c)
    _, a0, b0, c0 = best
    lower, upper = [0.0, -np.inf, -np.inf], [np.inf, np.inf, np.inf]
    return fit_curve(
        power_law_const, x, y, [a0, b0, c0], ("a", "b", "c"), bounds=(lower, upper), loss=loss,
        f_scale=f_scale, form="power_law_const",
    )  # fmt: skip
