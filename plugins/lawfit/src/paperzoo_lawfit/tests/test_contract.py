"""The testing kit's checks on the registered evaluator, and the frozen public API of the kit."""

import dataclasses
import inspect

from paperzoo.testing import parametrize_with_checks

import paperzoo_lawfit.fit as fit
import paperzoo_lawfit.uncertainty as unc


@parametrize_with_checks("lawfit", require_paper=False)
def test_contract(check):
    check()


def _signature(fn) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in inspect.signature(fn).parameters.values()]


def test_api_frozen():
    kw, pos = "KEYWORD_ONLY", "POSITIONAL_OR_KEYWORD"
    assert _signature(fit.fit_power_law) == [("x", pos), ("y", pos), ("loss", kw), ("f_scale", kw)]
    assert _signature(fit.fit_power_law_const) == [
        ("x", pos), ("y", pos), ("loss", kw), ("f_scale", kw), ("grid", kw),
    ]  # fmt: skip
    assert _signature(fit.fit_curve) == [
        ("law", pos), ("x", pos), ("y", pos), ("p0", pos), ("names", pos),
        ("bounds", kw), ("loss", kw), ("f_scale", kw), ("form", kw),
    ]  # fmt: skip
    assert _signature(unc.bootstrap_ci) == [
        ("fitter", pos), ("x", pos), ("y", pos), ("n_boot", kw), ("level", kw), ("seed", kw),
    ]  # fmt: skip
    assert _signature(unc.planted_recovery) == [
        ("fitter", pos), ("law", pos), ("planted", pos), ("x", pos), ("noise", kw), ("seed", kw),
    ]  # fmt: skip
    fields = [f.name for f in dataclasses.fields(fit.FitResult)]
    assert fields == ["form", "params", "r2", "rmse_log", "n", "law"]
    result = fit.fit_power_law([1, 2, 4], [3, 6, 12])
    assert isinstance(result, fit.FitResult) and list(result.params) == ["a", "b"]
    assert list(fit.fit_power_law_const([1, 2, 4, 8], [4, 3, 2.5, 2.25]).params) == ["a", "b", "c"]
