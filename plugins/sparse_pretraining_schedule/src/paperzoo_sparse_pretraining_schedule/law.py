"""The paper's scaling law with the average parameter count, fitted through lawfit's ``fit_curve``.

``L(N, D) = E + A / N^alpha + B / D^beta`` (Chinchilla's form) with ``N = Nbar``, the average non-zero
parameter count over the run, fitted jointly on dense and sparse runs. ``fit_curve`` takes one abscissa
per point, so the points are indexed ``1..n`` and the law reads ``N`` and ``D`` of each index. When every
run saw the same ``D`` the data term cannot be told from ``E`` and the law ``E + A / N^alpha`` is fitted
(its ``E`` then stands for ``E + B / D^beta``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from paperzoo_lawfit.fit import FitResult, fit_curve

NAMES_ND = ("E", "A", "alpha", "B", "beta")
NAMES_N = ("E", "A", "alpha")


def _points(n: Sequence[float], loss: Sequence[float], d: Sequence[float] | None):
    n_arr, l_arr = np.asarray(n, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    if n_arr.ndim != 1 or n_arr.shape != l_arr.shape:
        raise ValueError(f"n, loss: got {n_arr.size} and {l_arr.size} values; accepted: one loss per run")
    d_arr = None if d is None else np.asarray(d, dtype=np.float64)
    if d_arr is not None and d_arr.shape != n_arr.shape:
        raise ValueError(f"d: got {d_arr.size} values; accepted: one per run ({n_arr.size})")
    for name, arr in (("n", n_arr), ("loss", l_arr), ("d", d_arr)):
        if arr is not None and not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
            raise ValueError(f"{name}: got a value <= 0 or not finite; accepted: positive numbers")
    return n_arr, l_arr, d_arr


def fit_scaling_law(
    n: Sequence[float],
    loss: Sequence[float],
    d: Sequence[float] | None = None,
    *,
    loss_fn: str = "linear",
    alphas: Sequence[float] = (0.1, 0.3, 0.6, 1.0),
) -> FitResult:
    """Fit ``L = E + A / N^alpha (+ B / D^beta)`` to runs ``(n, d, loss)`` in log space (lawfit's
    ``fit_curve``), from a small grid of starting exponents (``alphas``, and the same for ``beta``);
    the start with the smallest residual wins. ``d=None`` or one repeated value fits ``E + A / N^alpha``.

    Returns lawfit's ``FitResult`` (``params``: ``E, A, alpha[, B, beta]``; ``rmse_log``; ``r2``).
    """
    n_arr, l_arr, d_arr = _points(n, loss, d)
    with_d = d_arr is not None and np.ptp(np.log(d_arr)) > 0
    idx = np.arange(1, n_arr.size + 1, dtype=np.float64)
    e0 = 0.5 * float(l_arr.min())

    if with_d:

        def law(x, e, a, alpha, b, beta):
            i = x.astype(np.int64) - 1
            return e + a / n_arr[i] ** alpha + b / d_arr[i] ** beta

        starts = [
            [e0, 0.25 * l_arr.mean() * n_arr.mean() ** al, al, 0.25 * l_arr.mean() * d_arr.mean() ** be, be]
            for al, be in itertools.product(alphas, alphas)
        ]
        names, bounds = NAMES_ND, ([0, 0, 0, 0, 0], [np.inf] * 5)
    else:

        def law(x, e, a, alpha):
            return e + a / n_arr[x.astype(np.int64) - 1] ** alpha

        starts = [[e0, 0.5 * l_arr.mean() * n_arr.mean() ** al, al] for al in alphas]
        names, bounds = NAMES_N, ([0, 0, 0], [np.inf] * 3)
    fits = [
        fit_curve(law, idx, l_arr, p0, names, bounds=bounds, loss=loss_fn, form="avg_param_law")
        for p0 in starts
    ]
    return min(fits, key=lambda r: r.rmse_log)
