"""The paper's claim, in direction and at toy scale: initialising new domain tokens by contextual
distillation gives a lower masked-LM loss over the first steps of continued pre-training than the
mean-of-sub-tokens or random initialisation (3 seeds; setting in ``claim_setup``)."""

import pytest

from paperzoo_contextual_weight_distill.tests.claim_setup import run

SEEDS = (0, 1, 2)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason=(
        "not reproduced at toy scale: distillation halves its own loss and beats mean-of-sub-tokens init in "
        "2 of 3 seeds, but random init (rows near zero) gives the lowest MLM loss over the first 30 continued "
        "steps in all 3; the distilled rows reach about 3x the norm of the byte rows (see README)"
    ),
)
def test_distilled_init_lowers_early_mlm_loss(record_property):
    results = [run(seed) for seed in SEEDS]
    for key in ("distill", "mean", "random", "distill_loss_start", "distill_loss_end"):
        record_property(f"{key}_mean", round(sum(r[key] for r in results) / len(results), 4))
    for r in results:  # the distillation itself works: its loss falls
        assert r["distill_loss_end"] < 0.8 * r["distill_loss_start"]
    assert all(r["distill"] < r["mean"] and r["distill"] < r["random"] for r in results)
