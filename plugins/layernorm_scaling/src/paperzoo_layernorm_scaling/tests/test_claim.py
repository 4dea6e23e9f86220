"""The paper's claims at small scale: a 12-block byte-level decoder on the standard library's source,
Pre-LN against LayerNorm Scaling, compute-matched (same seed, data order, steps, optimizer), 3 seeds,
about a minute on two CPU cores in all (``paperzoo_layernorm_scaling.experiment``)."""

import pytest

from paperzoo_layernorm_scaling.experiment import run

SEEDS = (0, 1, 2)
N_LAYERS = 12


@pytest.fixture(scope="module")
def runs():
    return {(scaled, s): run(scaled, s, n_layers=N_LAYERS) for scaled in (False, True) for s in SEEDS}


def _mean(xs):
    return sum(xs) / len(xs)


@pytest.mark.claim
def test_loss_not_worse_and_variance_tamed(runs, record_property):
    """Final loss <= Pre-LN (mean of 3 seeds) and the residual variance grows less with depth, in every
    seed (last block's output variance over the embedding's)."""
    loss_pre = _mean([runs[False, s].val_loss for s in SEEDS])
    loss_lns = _mean([runs[True, s].val_loss for s in SEEDS])
    growth = {k: r.resid_var[-1] / r.resid_var[0] for k, r in runs.items()}
    record_property("val_loss_pre_ln", round(loss_pre, 4))
    record_property("val_loss_lns", round(loss_lns, 4))
    record_property("resid_var_growth_pre_ln", round(_mean([growth[False, s] for s in SEEDS]), 1))
    record_property("resid_var_growth_lns", round(_mean([growth[True, s] for s in SEEDS]), 1))
    assert loss_lns <= loss_pre
    assert all(growth[True, s] < growth[False, s] for s in SEEDS)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="at this scale (12 blocks, 150 steps) Pre-LN's deep blocks are not yet near-identity: measured "
    "mean angle of blocks 7-12 2.8 deg (LNS) vs 5.2 deg (Pre-LN), removal cost -0.0004 vs 0.0027 nats; the "
    "1/sqrt(l) factor shrinks the deep blocks' updates, as the paper's analysis predicts early in training",
)
def test_deep_layers_contribute_more(runs, record_property):
    """Deep blocks (second half) turn their input further (angular distance) and removing one costs more
    validation loss under LayerNorm Scaling than under Pre-LN (means over blocks and seeds)."""
    half = N_LAYERS // 2
    angle = {k: _mean([_mean(runs[k, s].angle[half:]) for s in SEEDS]) for k in (False, True)}
    removal = {k: _mean([_mean(runs[k, s].removal[half:]) for s in SEEDS]) for k in (False, True)}
    record_property("deep_angle_deg_pre_ln", round(angle[False], 2))
    record_property("deep_angle_deg_lns", round(angle[True], 2))
    record_property("deep_removal_cost_pre_ln", round(removal[False], 4))
    record_property("deep_removal_cost_lns", round(removal[True], 4))
    assert angle[True] > angle[False]
    assert removal[True] > removal[False]
