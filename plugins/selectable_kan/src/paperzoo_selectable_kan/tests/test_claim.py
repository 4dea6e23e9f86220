"""The paper's function-fitting claim at small scale: on exp(sin(pi x) + y^2), S-KAN's test MSE is no
worse than the worst single-basis KAN and close to the best, at (about) equal parameter count.

Parameters are matched by width: each single-basis KAN is [2, 16, 1] (401-497 parameters), the S-KAN
[2, 4, 1] with all four spaces (445, selection logits included). Every model: 400 full-batch Adam steps
(lr 1e-2, cosine), 500 train / 500 test points on [-1, 1]^2, seeds 0-2; the S-KAN follows the paper's
stages (full training, then at step 300 each node keeps its highest-weight space). "Close to the best":
within 2x of the best single-basis mean test MSE. It does not reproduce here: see the xfail reason.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from paperzoo_selectable_kan.tests.fitting import SINGLE, fit, make_data, make_model, n_params

STEPS, SELECT_AT, WIDTH_SINGLE, WIDTH_SKAN = 400, 300, 16, 4


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured (3 seeds, mean test MSE): single-basis KANs [2,16,1] bspline 9.0e-4, rbf 1.7e-3, "
    "chebyshev 2.1e-3, fourier 6.4e-3; S-KAN [2,4,1] 8.2e-3 as a trained mixture and 5.8e-1 after the "
    "selection stage: at equal parameters the narrower S-KAN is worse than every single basis on this task",
)
def test_skan_fits_as_well_as_single_basis_kans(record_property):
    results: dict[str, list[float]] = {name: [] for name in (*SINGLE, "skan_mixture", "skan_selected")}
    counts = {}
    for seed in range(3):
        data = make_data(seed)
        for name in SINGLE:
            torch.manual_seed(seed)
            model = make_model((name,), WIDTH_SINGLE)
            counts[name] = n_params(model)
            results[name].append(fit(model, data, STEPS)[1])
        torch.manual_seed(seed)
        model = make_model(SINGLE, WIDTH_SKAN)
        counts["skan"] = n_params(model)
        mixture, selected = fit(model, data, STEPS, select_at=SELECT_AT)
        results["skan_mixture"].append(mixture)
        results["skan_selected"].append(selected)
    means = {name: statistics.mean(v) for name, v in results.items()}
    for name, value in means.items():
        record_property(f"test_mse_{name}", value)
    print({"params": counts, "mean_test_mse": means})
    assert max(abs(counts["skan"] - counts[n]) / counts[n] for n in SINGLE) < 0.15
    best = min(means[n] for n in SINGLE)
    worst = max(means[n] for n in SINGLE)
    skan = min(means["skan_mixture"], means["skan_selected"])
    assert skan <= worst and skan <= 2 * best
