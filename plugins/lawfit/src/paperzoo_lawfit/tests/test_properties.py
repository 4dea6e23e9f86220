"""Exact and statistical properties of the fits: planted laws recovered, bad input refused, bootstrap
intervals that cover the planted value."""

import numpy as np
import pytest

from paperzoo_lawfit.fit import fit_curve, fit_power_law, fit_power_law_const, power_law, power_law_const
from paperzoo_lawfit.uncertainty import bootstrap_ci, planted_recovery

X = np.geomspace(1.0, 1e4, 12)


@pytest.mark.parametrize("a,b", [(3.0, -0.5), (0.2, 1.3), (7.5, 0.05)])
def test_power_law_exact(a, b):
    errs = planted_recovery(fit_power_law, power_law, {"a": a, "b": b}, X)
    assert max(errs.values()) < 1e-10
    fitted = fit_power_law(X, power_law(X, a, b))
    assert fitted.r2 == pytest.approx(1.0, abs=1e-12)
    assert fitted.rmse_log < 1e-12


@pytest.mark.parametrize(
    "a,b,c",
    [(4.0, -0.3, 1.7), (2.0, -1.0, 0.05), (0.5, 0.4, 3.0), (3.0, 0.7, -0.2)],
)
def test_power_law_const_recovers_planted(a, b, c):
    errs = planted_recovery(fit_power_law_const, power_law_const, {"a": a, "b": b, "c": c}, X)
    assert max(errs.values()) < 1e-6, errs


def test_robust_loss_resists_an_outlier():
    y = power_law_const(X, 4.0, -0.3, 1.7)
    y[5] *= 3.0
    plain = fit_power_law_const(X, y)
    robust = fit_power_law_const(X, y, loss="soft_l1", f_scale=0.01)
    err = {k: abs(r.params["b"] + 0.3) for k, r in (("plain", plain), ("robust", robust))}
    assert err["robust"] < 0.02 < err["plain"]


def test_noisy_recovery_and_bootstrap_covers_planted():
    errs = planted_recovery(fit_power_law, power_law, {"a": 2.0, "b": -0.4}, X, noise=0.02, seed=3)
    assert errs["b"] < 0.05
    y = power_law(X, 2.0, -0.4) * np.exp(0.02 * np.random.default_rng(3).standard_normal(X.size))
    ci = bootstrap_ci(fit_power_law, X, y, n_boot=100, seed=0)
    assert ci["b"][0] < -0.4 < ci["b"][1] and ci["b"][1] - ci["b"][0] < 0.1
    assert bootstrap_ci(fit_power_law, X, y, n_boot=100, seed=0) == ci  # seeded: reproducible


def test_fit_curve_generic_law():
    def law(x, a, k):
        return a * np.exp(-k * x) + 1.0

    x = np.linspace(0.0, 5.0, 20)
    fitted = fit_curve(law, x + 1e-9, law(x + 1e-9, 2.0, 0.8), [1.0, 0.3], ["a", "k"])
    assert fitted.params["a"] == pytest.approx(2.0, rel=1e-8) and fitted.params["k"] == pytest.approx(
        0.8, rel=1e-8
    )
    assert np.allclose(fitted.predict([0.5]), law(np.array([0.5]), 2.0, 0.8), rtol=1e-8)


@pytest.mark.parametrize(
    "x,y,match",
    [([1, 2], [1, 2, 3], "same number"), ([1, -2, 3], [1, 2, 3], "positive"), ([1, 2], [1, 2], "at least 3")],
)
def test_bad_input_refused(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law_const(x, y)


def test_unknown_loss_refused():
    with pytest.raises(ValueError, match="loss"):
        fit_curve(power_law, [1, 2, 3], [1, 2, 3], [1, 1], ["a", "b"], loss="l3")


def test_evaluator_fits_config_points():
    from paperzoo_lawfit.evaluate import PowerLawFit

    ev = PowerLawFit(x=[1, 2, 4, 8, 16], y=[5, 3, 2, 1.5, 1.25], extrapolate_to=64.0)
    out = ev(None, None)
    assert out["a"] == pytest.approx(4.0, rel=1e-6) and out["b"] == pytest.approx(-1.0, rel=1e-6)
    assert out["extrapolated"] == pytest.approx(4 / 64 + 1, rel=1e-6)
    with pytest.raises(ValueError, match="form"):
        PowerLawFit(x=[1, 2, 3], y=[1, 2, 3], form="exp")
