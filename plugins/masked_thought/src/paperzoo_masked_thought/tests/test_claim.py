"""The paper's claim at small scale: masking part of the reasoning during SFT gives a higher held-out
final-answer accuracy than plain SFT at the same number of steps (tiny GPT, addition chains, 3 seeds).

Measured (torch 2.13 CPU, one thread): final-answer exact match on 128 unseen questions, plain SFT
0.250 / 0.289 / 0.352 (mean 0.297) against Masked Thought (p = 0.4) 0.305 / 0.234 / 0.156 (mean 0.232):
ahead on seed 0 only. At this scale (a 2-block GPT, 128 training chains, 1000 steps) the masking mostly
slows fitting; the claim does not reproduce here, so the test is a strict xfail.
"""

import pytest

from paperzoo_masked_thought.experiment import ChainSetup, train_chains

SEEDS = (0, 1, 2)
RATE = 0.4


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at small scale: exact match plain 0.297 vs masked (p=0.4) 0.232, mean of 3 seeds",
)
def test_masked_thought_beats_plain_sft(record_property):
    setup = ChainSetup()
    plain = [train_chains(s, 0.0, setup)["exact_match"] for s in SEEDS]
    masked = [train_chains(s, RATE, setup)["exact_match"] for s in SEEDS]
    mean_plain, mean_masked = sum(plain) / len(plain), sum(masked) / len(masked)
    record_property("exact_match_plain_sft", round(mean_plain, 4))
    record_property("exact_match_masked_thought", round(mean_masked, 4))
    wins = sum(m > p for m, p in zip(masked, plain, strict=True))
    record_property("seeds_masked_thought_ahead", wins)
    assert mean_masked > mean_plain and wins >= 2, f"plain {plain}, masked {masked}"
