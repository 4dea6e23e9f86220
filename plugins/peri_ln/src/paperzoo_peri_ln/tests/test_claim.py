"""The paper's headline claims at small scale: a 12-block, 32-wide tinylm decoder trained 100 steps on the
standard library's source at a high learning rate (3e-2, AdamW, no clipping), 3 seeds, Pre-LN vs Peri-LN
(the same model, data order and steps; only the norm placement differs).

* Hidden-state variance: under Pre-LN the residual stream's variance explodes (massive activations); under
  Peri-LN it grows moderately with depth. Reproduced.
* Loss spikes / divergence at a high learning rate: neither placement diverges and both spike as rarely in
  this budget, so Pre-LN does not show more of them. Not reproduced (strict xfail).
"""

from __future__ import annotations

import functools
import math

import pytest

from paperzoo_peri_ln.experiment import HIGH_LR, train

SEEDS = (0, 1, 2)


@functools.cache
def _runs() -> dict[str, list]:
    return {p: [train(p, seed, HIGH_LR) for seed in SEEDS] for p in ("pre", "peri")}


def _geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


@pytest.mark.claim
def test_peri_ln_keeps_residual_variance_balanced(record_property):
    runs = _runs()
    growth = {p: _geomean(r.variance_growth for r in rs) for p, rs in runs.items()}
    last = {p: _geomean(r.stats.resid_var[-1] for r in rs) for p, rs in runs.items()}
    record_property("resid_var_last_pre", round(last["pre"], 1))
    record_property("resid_var_last_peri", round(last["peri"], 1))
    record_property("variance_growth_pre", f"{growth['pre']:.3g}")
    record_property("variance_growth_peri", f"{growth['peri']:.3g}")
    for pre, peri in zip(runs["pre"], runs["peri"]):
        assert pre.stats.resid_var[-1] > 100 * peri.stats.resid_var[-1], (pre.seed, pre.stats, peri.stats)
        assert pre.variance_growth > 100 * peri.variance_growth
        # Peri-LN: every increment is bounded by its output-norm gain, so the variance grows gradually
        # with depth rather than jumping in one block
        jumps = [b / a for a, b in zip(peri.stats.resid_var[1:], peri.stats.resid_var[2:])]
        assert max(jumps) < 5.0, jumps


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: at lr 3e-2 over 100 steps Pre-LN and Peri-LN have one loss spike each over 3 seeds (a "
    "batch loss 1 nat above the running minimum), none diverges, final losses 2.83 vs 2.87 nats",
)
def test_pre_ln_spikes_or_diverges_more_at_a_high_lr(record_property):
    runs = _runs()
    spikes = {p: sum(r.spikes() for r in rs) for p, rs in runs.items()}
    diverged = {p: sum(r.diverged for r in rs) for p, rs in runs.items()}
    final = {p: sum(sum(r.losses[-10:]) / 10 for r in rs) / len(rs) for p, rs in runs.items()}
    record_property("spikes_pre", spikes["pre"])
    record_property("spikes_peri", spikes["peri"])
    record_property("final_loss_pre", round(final["pre"], 3))
    record_property("final_loss_peri", round(final["peri"], 3))
    assert spikes["pre"] + 3 * diverged["pre"] >= spikes["peri"] + 3 * diverged["peri"] + 3
