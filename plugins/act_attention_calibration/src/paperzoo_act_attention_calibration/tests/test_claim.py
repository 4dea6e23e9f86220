"""The paper's claim at toy scale: calibrating the heads chosen on a calibration set raises accuracy
without training. Here: the ``stdlib-small`` checkpoint's next-byte accuracy on held-out blocks of its
corpus (3 seeds: 3 random calibration/evaluation splits of the validation blocks), heads searched one at a
time over all 16 heads with the official beta 0.4 and threshold 0.1.

Measured (torch 2.13 CPU): calibrated accuracy is below the plain model's in every seed (see the README);
the held-out effect is within a few tenths of a percent and negative, so the claim is a strict xfail."""

from __future__ import annotations

import pytest

from paperzoo_act_attention_calibration.experiment import head_sinks, run, validation_blocks

SEEDS = (0, 1, 2)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced on stdlib-small: held-out next-byte accuracy with the searched heads calibrated "
    "is 0.08-0.24 points below the plain model's in every seed (calibrating all 16 heads: -1.4 to -1.5)",
)
def test_calibrated_heads_raise_heldout_accuracy(record_property):
    import paperzoo_tinylm

    stats = head_sinks(paperzoo_tinylm.pretrained("stdlib-small"), validation_blocks()[:64])
    n_sinks = [x for layer in stats.values() for x in layer["n_sinks"]]
    first_bos = [x for layer in stats.values() for x in layer["first_is_bos"]]
    record_property("mean_sinks_per_head", round(sum(n_sinks) / len(n_sinks), 3))
    record_property("share_first_detected_is_position_0", round(sum(first_bos) / len(first_bos), 3))
    results = [run(seed) for seed in SEEDS]
    for r in results:
        record_property(f"acc_plain_seed{r['seed']}", round(r["acc_plain"], 5))
        record_property(f"acc_act_seed{r['seed']}", round(r["acc_act"], 5))
        record_property(f"acc_all_heads_seed{r['seed']}", round(r["acc_all_heads"], 5))
        record_property(f"heads_kept_seed{r['seed']}", r["n_heads_kept"])
    assert sum(n_sinks) > 0  # the checkpoint has hidden sinks for ACT to act on
    assert all(r["acc_act"] > r["acc_plain"] for r in results), [
        (r["acc_plain"], r["acc_act"]) for r in results
    ]
