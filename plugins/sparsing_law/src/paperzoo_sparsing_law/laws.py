"""The paper's laws of the activation ratio ``A`` (Luo et al., 2024, Sec. 5), fitted in log space with the
lawfit kit's :func:`~paperzoo_lawfit.fit.fit_curve`.

- SiLU, against training data ``D``: a convergent increasing power law ``A(D) = -c D^(-alpha) + A0``.
- ReLU, against training data ``D``: a decreasing logspace power law ``A(D) = exp(-c D^alpha + b) + A0``.
- Against the width-depth ratio ``r``: linear below a bottleneck ``r_b`` and flat above it,
  ``A(r) = k min(r, r_b) + m`` (the paper states the linear rise below the bottleneck; the flat part is
  our reading of its figure).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from paperzoo_lawfit.fit import FitResult, fit_curve


def silu_law(d: np.ndarray, a0: float, c: float, alpha: float) -> np.ndarray:
    """``A(D) = -c D^(-alpha) + A0``."""
    return a0 - c * np.power(d, -alpha)


def relu_law(d: np.ndarray, a0: float, c: float, alpha: float, b: float) -> np.ndarray:
    """``A(D) = exp(-c D^alpha + b) + A0``."""
    return np.exp(b - c * np.power(d, alpha)) + a0


def width_depth_law(r: np.ndarray, k: float, m: float, r_b: float) -> np.ndarray:
    """``A(r) = k min(r, r_b) + m``."""
    return k * np.minimum(r, r_b) + m


def _xy(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()


def fit_silu_law(d: Sequence[float], a: Sequence[float], *, loss: str = "linear") -> FitResult:
    """Fit :func:`silu_law` (``c, alpha > 0``). Start: the best ``A0`` above ``max A`` of a grid, with the
    exact log-log fit of ``A0 - A`` against ``D``."""
    x, y = _xy(d, a)
    span = float(y.max() - y.min()) or float(y.max())
    best = None
    for a0 in y.max() + span * np.geomspace(1e-6, 1e2, 97):
        slope, icpt = np.polyfit(np.log(x), np.log(a0 - y), 1)
        err = float(np.sum((y - silu_law(x, a0, np.exp(icpt), -slope)) ** 2))
        if best is None or err < best[0]:
            best = (err, [a0, np.exp(icpt), -slope])
    bounds = ([0.0, 0.0, 0.0], [np.inf, np.inf, np.inf])
    return fit_curve(silu_law, x, y, best[1], ("a0", "c", "alpha"), bounds=bounds, loss=loss, form="silu_law")


def fit_relu_law(d: Sequence[float], a: Sequence[float], *, loss: str = "linear") -> FitResult:
    """Fit :func:`relu_law` (``c, alpha > 0``, ``A0 >= 0``). Start: the best of a grid over ``A0`` below
    ``min A`` and ``alpha``, with ``log(A - A0)`` linear in ``D^alpha``."""
    x, y = _xy(d, a)
    best = None
    for a0 in y.min() * np.concatenate([[0.0], 1 - np.geomspace(1e-4, 1.0, 40)[::-1]]):
        for alpha in np.geomspace(0.02, 2.0, 41):
            slope, icpt = np.polyfit(np.power(x, alpha), np.log(y - a0), 1)
            if slope >= 0:
                continue
            err = float(np.sum((np.log(y) - np.log(relu_law(x, a0, -slope, alpha, icpt))) ** 2))
            if np.isfinite(err) and (best is None or err < best[0]):
                best = (err, [a0, -slope, alpha, icpt])
    if best is None:
        raise ValueError("a: the activation ratio does not decrease with D; accepted: a decreasing series")
    bounds = ([0.0, 0.0, 0.0, -np.inf], [np.inf, np.inf, np.inf, np.inf])
    names = ("a0", "c", "alpha", "b")
    return fit_curve(relu_law, x, y, best[1], names, bounds=bounds, loss=loss, form="relu_law")


def fit_width_depth_law(r: Sequence[float], a: Sequence[float], *, loss: str = "linear") -> FitResult:
    """Fit :func:`width_depth_law`. Start: for each candidate bottleneck (each ``r`` but the two smallest),
    the least-squares line through the points below it; the best refined with ``r_b`` free."""
    x, y = _xy(r, a)
    order = np.argsort(x)
    x, y = x[order], y[order]
    best = None
    for rb in x[1:]:
        below = x <= rb
        k, m = np.polyfit(x[below], y[below], 1)
        err = float(np.sum((y - width_depth_law(x, k, m, rb)) ** 2))
        if best is None or err < best[0]:
            best = (err, [k, m, rb])
    names = ("k", "m", "r_b")
    bounds = ([-np.inf, -np.inf, float(x.min())], [np.inf, np.inf, float(x.max())])
    return fit_curve(width_depth_law, x, y, best[1], names, bounds=bounds, loss=loss, form="width_depth_law")


FITTERS = {"silu": fit_silu_law, "relu": fit_relu_law, "width_depth": fit_width_depth_law}
