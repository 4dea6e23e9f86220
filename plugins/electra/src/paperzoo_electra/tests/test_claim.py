"""The paper's headline claim at toy scale: at equal pre-training compute (FLOPs of the training steps,
counted by ``torch.utils.flop_counter``), ELECTRA's discriminator is a better encoder than an MLM-trained
encoder of the same size, here measured by a linear probe of each token's bracket depth on a grammar of
arithmetic expressions (3 seeds)."""

from __future__ import annotations

import statistics

import pytest

from paperzoo_electra.tests.claim_setup import (
    corpus,
    electra_loss,
    electra_model,
    features,
    mlm_loss,
    mlm_model,
    pretrain,
    probe_accuracy,
    step_flops,
)

ELECTRA_STEPS = 200


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: 200 ELECTRA steps (1.10x the FLOPs of an MLM step, so 220 MLM "
    "steps), depth-probe accuracy over 3 seeds: discriminator 0.710 (0.707, 0.762, 0.659), MLM encoder 0.803 "
    "(0.802, 0.831, 0.778), untrained encoder 0.690; the 16-wide generator's samples stay easy to detect "
    "this early, so the discriminator learns little context",
)
def test_electra_discriminator_probes_better_than_mlm_at_equal_flops(record_property):
    ids, depth = corpus(2048, 0)
    test_ids, test_depth = corpus(512, 1)
    ratio = step_flops(electra_model(0), electra_loss, ids[:16]) / step_flops(
        mlm_model(0), mlm_loss, ids[:16]
    )
    mlm_steps = round(ELECTRA_STEPS * ratio)
    acc: dict[str, list[float]] = {"electra": [], "mlm": [], "random": []}
    for seed in range(3):
        electra = pretrain(electra_model(seed), electra_loss, ids, ELECTRA_STEPS, seed).discriminator
        mlm = pretrain(mlm_model(seed), mlm_loss, ids, mlm_steps, seed)
        for name, enc, head_free in (
            ("electra", electra, True),
            ("mlm", mlm, False),
            ("random", mlm_model(seed + 100).eval(), False),
        ):
            tr, te = features(enc, ids[:512], head_free), features(enc, test_ids, head_free)
            acc[name].append(probe_accuracy(tr, depth[:512], te, test_depth))
    means = {k: statistics.mean(v) for k, v in acc.items()}
    record_property("flops_ratio_electra_over_mlm_step", round(ratio, 3))
    for name, value in means.items():
        record_property(f"probe_acc_{name}", round(value, 4))
    assert means["random"] < means["mlm"]  # the probe measures something pre-training adds
    assert means["electra"] > means["mlm"]
