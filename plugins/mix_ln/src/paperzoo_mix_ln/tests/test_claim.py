"""The paper's headline claims at small scale: a 12-block, 32-wide tinylm decoder trained 120 steps on the
standard library's source (AdamW, lr 3e-3), 3 seeds, Pre-LN vs Mix-LN with alpha = 0.25 (3 Post-LN blocks):
the same model size, data order, steps and seeds; only the norm placement differs. Per-layer statistics
come from tinylm's ``tinylm_layer_stats`` evaluator on 2 validation batches.

* Gradient norms are more uniform across layers with Mix-LN (lower coefficient of variation). Reproduced.
* Training loss is lower with Mix-LN (the paper's perplexity gain). Reproduced (last 10 steps, every seed).
* The deeper half of the blocks changes the representation more with Mix-LN (larger angle between a
  block's input and output, the paper's angular distance in degrees). Not reproduced here (strict xfail):
  at this scale the deep Pre-LN blocks turn the stream as much or more.
"""

from __future__ import annotations

import functools
import statistics

import pytest

from paperzoo_mix_ln.experiment import ALPHAS, train

SEEDS = (0, 1, 2)


@functools.cache
def _runs() -> dict[str, list]:
    return {name: [train(name, seed) for seed in SEEDS] for name in ALPHAS}


@pytest.mark.claim
def test_mix_ln_has_more_uniform_gradient_norms(record_property):
    runs = _runs()
    cv = {n: statistics.fmean(r.grad_norm_cv for r in rs) for n, rs in runs.items()}
    record_property("grad_norm_cv_pre_ln", round(cv["pre_ln"], 3))
    record_property("grad_norm_cv_mix_ln", round(cv["mix_ln"], 3))
    for pre, mix in zip(runs["pre_ln"], runs["mix_ln"]):  # every seed, not only on average
        assert mix.grad_norm_cv < pre.grad_norm_cv, (pre.seed, pre.stats.grad_norm, mix.stats.grad_norm)


@pytest.mark.claim
def test_mix_ln_trains_to_a_lower_loss(record_property):
    runs = _runs()
    loss = {n: statistics.fmean(r.final_loss for r in rs) for n, rs in runs.items()}
    record_property("final_loss_pre_ln", round(loss["pre_ln"], 3))
    record_property("final_loss_mix_ln", round(loss["mix_ln"], 3))
    for pre, mix in zip(runs["pre_ln"], runs["mix_ln"]):
        assert mix.final_loss < pre.final_loss, (pre.seed, pre.final_loss, mix.final_loss)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured: mean angle of blocks 6-11 is larger with Mix-LN for seed 0 only (4.77 vs 3.74 degrees); "
    "seeds 1 and 2 give 3.80 vs 5.22 and 3.77 vs 4.93 (mean 4.11 vs 4.63): after 120 steps the deep "
    "Pre-LN blocks of this 12-block model are not yet idle",
)
def test_mix_ln_deep_layers_change_the_representation_more(record_property):
    runs = _runs()
    angle = {n: statistics.fmean(r.deep_angle for r in rs) for n, rs in runs.items()}
    record_property("deep_angle_deg_pre_ln", round(angle["pre_ln"], 2))
    record_property("deep_angle_deg_mix_ln", round(angle["mix_ln"], 2))
    for pre, mix in zip(runs["pre_ln"], runs["mix_ln"]):
        assert mix.deep_angle > pre.deep_angle, (pre.seed, pre.stats.angle, mix.stats.angle)
