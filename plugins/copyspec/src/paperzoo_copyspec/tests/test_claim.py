"""The paper's claim at small scale: on prompts whose continuation repeats earlier text, CopySpec needs
fewer target forward passes than tokens (greedy decoding needs exactly one per token) while producing
greedy decoding's output; the acceptance rate of the copied drafts is reported. Model: the tinylm kit's
pretrained ``stdlib-small`` (byte-level, trained on the standard library's source); prompts: 3 seeds of a
96-byte validation span, a newline, and the span's first 16 bytes again."""

import random

import pytest
import torch
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.generate import greedy_search

from paperzoo_copyspec.decoding import CopySpecStats, copyspec_generate


def repeated_span_prompt(val: bytes, seed: int, span: int = 96, again: int = 16) -> torch.Tensor:
    """A validation span, a newline, then its first ``again`` bytes (the model is led into repeating)."""
    start = random.Random(seed).randrange(len(val) - span)
    text = list(val[start : start + span])
    return torch.tensor([*text, 10, *text[:again]])


@pytest.mark.claim
def test_copyspec_needs_fewer_passes_than_tokens_with_greedy_output(record_property):
    import paperzoo_tinylm

    model = paperzoo_tinylm.pretrained("stdlib-small")
    _, val = stdlib_split()
    per_seed, acceptance = [], []
    for seed in range(3):
        prompt = repeated_span_prompt(val, seed)
        stats = CopySpecStats()
        out = copyspec_generate(model, prompt, 64, gamma=3, number_copy=10, stats=stats)
        assert torch.equal(out, greedy_search(model, prompt, 64)), f"seed {seed}: output differs from greedy"
        per_seed.append(stats.passes_per_token)
        acceptance.append(stats.acceptance_rate)
    record_property("passes_per_token_copyspec", round(sum(per_seed) / 3, 3))
    record_property("passes_per_token_greedy", 1.0)
    record_property("acceptance_rate", round(sum(acceptance) / 3, 3))
    # The paper's speed-ups (up to ~3x) come from the same count: each accepted copy saves passes.
    assert max(per_seed) < 0.8, per_seed
    assert min(acceptance) > 0.5, acceptance
