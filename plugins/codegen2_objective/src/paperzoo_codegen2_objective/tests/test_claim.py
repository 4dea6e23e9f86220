"""The paper's claim in direction at small scale: a tiny decoder trained with the CLM / infill mixture
infills held-out middle spans (the argument list ``a,b`` of ``f(a,b)=a+b;``, recoverable only from the
suffix) better than the same decoder trained with plain causal LM for the same steps (which can only be
prompted with the prefix), with a similar left-to-right loss. Three seeds, 400 steps each.

Not reproduced at this budget: at 400 steps the mixture model has not learnt to copy from the suffix
(infill accuracy 0.35 vs 0.36 for the baseline, seed 0: both only get the comma right). Trained 2000 steps
(seed 0, about five times the budget) it reaches 0.51, so the direction appears with more training."""

from __future__ import annotations

import statistics

import pytest

from paperzoo_codegen2_objective.experiment import run


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="at 400 steps the mixture has not learnt to copy the span from the suffix: infill accuracy "
    "about 0.35 for both (only the comma); 0.51 for the mixture after 2000 steps, seed 0",
)
def test_mixture_infills_better_with_similar_left_to_right_loss(record_property):
    results = {name: [run(name, seed) for seed in range(3)] for name in ("mix", "clm")}
    for name, rs in results.items():
        record_property(f"infill_acc_{name}", round(statistics.mean(r["infill_acc"] for r in rs), 3))
        record_property(f"l2r_loss_{name}", round(statistics.mean(r["l2r_loss"] for r in rs), 3))
    for seed in range(3):
        mix, clm = results["mix"][seed], results["clm"][seed]
        assert mix["infill_acc"] > clm["infill_acc"] + 0.05, (seed, results)
        assert mix["l2r_loss"] < 1.1 * clm["l2r_loss"], (seed, results)
