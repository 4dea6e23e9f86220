"""The paper's claim at small scale: self-pretraining on the task's own inputs, then fine-tuning, beats
training from scratch at the same total number of steps (tiny decoder classifier, "is the first token
equal to the last" over 64 tokens, 3 seeds).

Measured (torch 2.13 CPU, one thread, 300 steps, half of them causal-LM self-pretraining): validation
accuracy from scratch 0.783 / 0.590 / 0.588 (mean 0.654) against self-pretrained 0.484 / 0.504 / 0.576
(mean 0.521). On uniformly random sequences the LM objective has almost nothing to learn (one target in
63 carries the first-equals-last signal), and the halved fine-tuning budget costs more than the prior
gives; the claim does not reproduce here, so the test is a strict xfail.
"""

import pytest

from paperzoo_self_pretraining.experiment import train_first_last

SEEDS = (0, 1, 2)
FRACTION = 0.5


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at small scale: accuracy from scratch 0.654 vs self-pretrained 0.521, mean of 3 seeds",
)
def test_self_pretraining_beats_from_scratch(record_property):
    scratch = [train_first_last(s, 0.0)["accuracy"] for s in SEEDS]
    pretrained = [train_first_last(s, FRACTION)["accuracy"] for s in SEEDS]
    mean_scratch, mean_pre = sum(scratch) / len(scratch), sum(pretrained) / len(pretrained)
    record_property("accuracy_from_scratch", round(mean_scratch, 4))
    record_property("accuracy_self_pretrained", round(mean_pre, 4))
    wins = sum(p > s for p, s in zip(pretrained, scratch, strict=True))
    record_property("seeds_self_pretrained_ahead", wins)
    assert mean_pre > mean_scratch and wins >= 2, f"scratch {scratch}, self-pretrained {pretrained}"
