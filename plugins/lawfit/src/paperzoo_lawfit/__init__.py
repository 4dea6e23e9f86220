"""lawfit: robust log-space fits of scaling laws (``a x^b``, ``a x^b + c``, any positive law), bootstrap
confidence intervals and planted-recovery checks. Registration only: nothing heavy is imported here."""

from paperzoo import hookimpl

_POINTS = {"x": [1.0, 2.0, 4.0, 8.0, 16.0], "y": [5.0, 3.0, 2.0, 1.5, 1.25]}  # y = 4 / x + 1


@hookimpl
def register_evaluators(register):
    register(
        "lawfit_power_law",
        "paperzoo_lawfit.evaluate:PowerLawFit",
        "Fit y = a x^b or y = a x^b + c in log space to the config's points (a fit step; the model is "
        "not read): parameters, r2 and an optional extrapolation.",
        tags=("metric", "scaling_law", "fit"),
        example={**_POINTS, "form": "power_const", "extrapolate_to": 64.0},
    )
