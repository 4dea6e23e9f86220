"""The paper's claim at small scale: on a graph-structured sequence task (tokens encode a graph's edges;
target: reachability), GIN-Attention has a smaller train-test generalisation gap than standard attention
at equal parameters (directional; 3 seeds)."""

import pytest

from paperzoo_gin_attention.experiment import run

SEEDS = (0, 1, 2)


@pytest.mark.claim
def test_gin_attention_has_a_smaller_generalisation_gap(record_property):
    results = [run(seed) for seed in SEEDS]
    mean = {
        f"{key}_{name}": sum(r[name][key] for r in results) / len(results)
        for name in ("gin", "softmax")
        for key in ("acc_gap", "loss_gap", "train_acc", "test_acc")
    }
    for key, value in mean.items():
        record_property(key, round(value, 4))
    assert all(r["gin"]["params"] <= r["softmax"]["params"] for r in results)  # equal budget, within 0.5%
    assert all(abs(r["gin"]["params"] / r["softmax"]["params"] - 1) < 5e-3 for r in results)
    assert mean["loss_gap_gin"] < mean["loss_gap_softmax"]
    assert mean["acc_gap_gin"] < mean["acc_gap_softmax"]
