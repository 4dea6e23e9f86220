"""The paper's claim at small scale: at (nearly) equal parameters, layer-wise scaling (narrow early layers,
wide late layers) gives a better model than uniform widths. Here: an 8-layer, 64-wide decoder with OpenELM's
default schedules against a uniform one with 1.2% more parameters, 120 steps on the standard library's
source, 3 seeds, same data order and steps (``paperzoo_openelm_layerwise.experiment``); validation loss.
Not reproduced at this scale (strict xfail with the measured numbers).
"""

from __future__ import annotations

import functools
import statistics

import pytest

from paperzoo_openelm_layerwise.experiment import MODELS, train

SEEDS = (0, 1, 2)


@functools.cache
def _runs() -> dict[str, list]:
    return {name: [train(name, seed) for seed in SEEDS] for name in MODELS}


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: mean validation loss 1.738 (layer-wise) vs 1.630 (uniform) nats/byte; per seed "
    "1.803 vs 1.555, 1.785 vs 1.680, 1.627 vs 1.654: layer-wise is better for seed 2 only. At 8 layers of "
    "width 64 and 120 steps the narrow first layers (2 heads, SwiGLU width 32) cost more than the wide last "
    "ones gain; the paper's gain is at 270M-3B parameters and 1.5T tokens",
)
def test_layerwise_scaling_lowers_validation_loss_at_equal_parameters(record_property):
    runs = _runs()
    n_params = {n: rs[0].n_params for n, rs in runs.items()}
    assert n_params["layerwise"] <= n_params["uniform"] <= 1.02 * n_params["layerwise"], n_params
    loss = {n: statistics.fmean(r.val_loss for r in rs) for n, rs in runs.items()}
    record_property("val_loss_layerwise", round(loss["layerwise"], 4))
    record_property("val_loss_uniform", round(loss["uniform"], 4))
    per_seed = [(a.val_loss, b.val_loss) for a, b in zip(runs["layerwise"], runs["uniform"])]
    assert loss["layerwise"] < loss["uniform"], per_seed
