"""``avg_param_scaling_law``: a fit step a config can list (its values depend on the given runs only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from paperzoo.checks import check_choice
from paperzoo.errors import ParamError
from paperzoo_lawfit.fit import LOSSES

from .law import fit_scaling_law


class AvgParamScalingLaw:
    """Evaluator: fit ``L = E + A / Nbar^alpha + B / D^beta`` jointly to the runs listed in the config
    (dense and sparse; ``n_avg`` from each run's summary) and report the constants, ``rmse_log`` and
    ``r2``. With ``n_final`` also given, the same law is fitted on the final counts and
    ``rmse_log_final`` and ``rmse_ratio`` (average / final; below 1: the average count fits better) are
    reported. The model and data it is called with are not read.

    :param n_avg: average non-zero parameter count of each run.
    :param loss: final evaluation loss of each run.
    :param tokens: training tokens ``D`` of each run (``None``: all equal, the data term is dropped).
    :param n_final: final non-zero parameter count of each run, for the comparison.
    :param loss_fn: ``linear`` (least squares) or a robust loss of ``scipy.optimize.least_squares``.
    """

    def __init__(
        self,
        n_avg: Sequence[float],
        loss: Sequence[float],
        tokens: Sequence[float] | None = None,
        n_final: Sequence[float] | None = None,
        loss_fn: str = "linear",
    ) -> None:
        check_choice("loss_fn", loss_fn, LOSSES)
        for name, values in (("n_avg", n_avg), ("tokens", tokens), ("n_final", n_final)):
            if values is not None and len(values) != len(loss):
                raise ParamError(
                    name, f"{len(values)} values; accepted: one per run, as many as loss ({len(loss)})"
                )
            if values is not None and not all(math.isfinite(v) and v > 0 for v in values):
                raise ParamError(name, "a value <= 0 or not finite; accepted: positive numbers")
        if len(loss) < 4 or not all(math.isfinite(v) and v > 0 for v in loss):
            raise ParamError("loss", f"{list(loss)!r}; accepted: at least 4 positive numbers (one per run)")
        self.result = fit_scaling_law(n_avg, loss, tokens, loss_fn=loss_fn)
        self.final = None if n_final is None else fit_scaling_law(n_final, loss, tokens, loss_fn=loss_fn)
        self.keys = (*self.result.params, "rmse_log", "r2") + (
            ("rmse_log_final", "rmse_ratio") if self.final is not None else ()
        )

    def __call__(self, model: torch.nn.Module, data: object) -> dict[str, float]:
        out = {**self.result.params, "rmse_log": self.result.rmse_log, "r2": self.result.r2}
        if self.final is not None:
            out["rmse_log_final"] = self.final.rmse_log
            out["rmse_ratio"] = self.result.rmse_log / max(self.final.rmse_log, 1e-300)
        return out
