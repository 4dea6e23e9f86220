"""``lawfit_power_law``: a fit step a config can list (its values depend on the given points only)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from paperzoo_lawfit.fit import fit_power_law, fit_power_law_const


class PowerLawFit:
    """Evaluator: fit ``y = a x^b`` (``form: power``) or ``y = a x^b + c`` (``form: power_const``) to the
    points ``x``, ``y`` of the config (e.g. losses measured at several sizes by earlier runs) and report
    the parameters, ``r2`` (of ``log y``) and, with ``extrapolate_to``, the law's value there. The model
    and data it is called with are not read.

    :param x: positive abscissae.
    :param y: positive values, one per ``x``.
    :param form: ``power`` or ``power_const``.
    :param loss: ``linear`` or a robust loss (``soft_l1``...).
    :param extrapolate_to: an ``x`` at which to report the fitted law's value (``None``: none).
    """

    def __init__(
        self,
        x: Sequence[float],
        y: Sequence[float],
        form: str = "power_const",
        loss: str = "linear",
        extrapolate_to: float | None = None,
    ) -> None:
        if form not in ("power", "power_const"):
            raise ValueError(f"form: got {form!r}; accepted: 'power' or 'power_const'")
        fitter = fit_power_law if form == "power" else fit_power_law_const
        self.result = fitter(x, y, loss=loss)
        self.extrapolate_to = extrapolate_to
        self.keys = (*self.result.params, "r2") + (("extrapolated",) if extrapolate_to is not None else ())

    def __call__(self, model: torch.nn.Module, data: object) -> dict[str, float]:
        out = {**self.result.params, "r2": self.result.r2}
        if self.extrapolate_to is not None:
            out["extrapolated"] = float(self.result.predict([self.extrapolate_to])[0])
        return out
