"""A bootstrap confidence interval for fitted parameters, and a planted-recovery helper for tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from paperzoo_lawfit.fit import FitResult, Law

Fitter = Callable[[np.ndarray, np.ndarray], FitResult]


def bootstrap_ci(
    fitter: Fitter,
    x: Sequence[float],
    y: Sequence[float],
    *,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap: refit ``fitter(x, y)`` on ``n_boot`` resamples of the points (with
    replacement; a resample with fewer than 3 distinct ``x`` or a failed fit is skipped) and return each
    parameter's ``((1 - level)/2, (1 + level)/2)`` quantiles."""
    if not 0 < level < 1:
        raise ValueError(f"level: got {level}; accepted: 0 < level < 1")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws: list[dict[str, float]] = []
    for _ in range(n_boot):
        idx = rng.integers(0, x.size, x.size)
        if np.unique(x[idx]).size < 3:
            continue
        try:
            draws.append(fitter(x[idx], y[idx]).params)
        except (ValueError, RuntimeError):
            continue
    if not draws:
        raise ValueError("bootstrap_ci: no resample could be fitted")
    q = [(1 - level) / 2, (1 + level) / 2]
    return {k: tuple(float(v) for v in np.quantile([d[k] for d in draws], q)) for k in draws[0]}


def planted_recovery(
    fitter: Fitter,
    law: Law,
    planted: Mapping[str, float],
    x: Sequence[float],
    *,
    noise: float = 0.0,
    seed: int = 0,
) -> dict[str, float]:
    """Generate ``y = law(x, *planted) * exp(noise * N(0, 1))``, fit it with ``fitter`` and return each
    parameter's relative error ``|fitted - planted| / max(|planted|, 1e-12)``."""
    x = np.asarray(x, dtype=np.float64)
    y = law(x, *planted.values())
    if noise:
        y = y * np.exp(noise * np.random.default_rng(seed).standard_normal(x.size))
    fitted = fitter(x, y).params
    return {k: abs(fitted[k] - v) / max(abs(v), 1e-12) for k, v in planted.items()}
