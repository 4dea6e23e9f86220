"""The paper's claim in direction at small scale: a tiny encoder-decoder trained with the Mixture of
Denoisers beats the same model trained, for the same steps, with span corruption alone or with prefix LM
alone, on the union (mean loss) of an infilling and a continuation evaluation. Three seeds; about a
minute and a half on two loaded cores."""

from __future__ import annotations

import statistics

import pytest

from paperzoo_ul2_mod.experiment import run


@pytest.mark.claim
def test_mod_beats_single_objectives_on_union(record_property):
    results = {name: [run(name, seed) for seed in range(3)] for name in ("mod", "span", "prefix")}
    union = {name: [r["union_loss"] for r in rs] for name, rs in results.items()}
    for name, rs in results.items():
        record_property(f"union_loss_{name}", round(statistics.mean(union[name]), 3))
        record_property(f"infill_loss_{name}", round(statistics.mean(r["infill_loss"] for r in rs), 3))
        record_property(
            f"continuation_loss_{name}", round(statistics.mean(r["continuation_loss"] for r in rs), 3)
        )
    for seed in range(3):  # every seed, against both baselines
        assert union["mod"][seed] < union["span"][seed], (seed, union)
        assert union["mod"][seed] < union["prefix"][seed], (seed, union)
