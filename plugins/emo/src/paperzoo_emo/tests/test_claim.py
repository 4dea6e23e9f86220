"""The paper's claim in direction, at small scale: EMO fine-tuning after MLE makes greedy continuations
less repetitive (lower rep-n) and their byte-bigram statistics closer to the data than continued MLE for
the same steps on the same batches (3 seeds; the pretrained ``stdlib-small`` tinylm as the MLE model)."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm import pretrained
from paperzoo_tinylm.data import stdlib_bytes
from paperzoo_tinylm.tokenizer import VOCAB_SIZE

from paperzoo_emo.experiment import Setup, finetune, greedy_stats, prompts_and_references, val_ce

SEEDS = (0, 1, 2)


@pytest.mark.claim
def test_emo_lowers_repetition_and_brings_bigrams_closer(record_property) -> None:
    torch.manual_seed(0)
    setup = Setup()
    base = pretrained("stdlib-small")
    data = stdlib_bytes(seq_len=64)
    train, val = data.train.tensors, data.val.tensors
    prompts, refs = prompts_and_references(val[0], setup)
    results = {m: [] for m in ("mle", "emo")}
    for seed in SEEDS:
        for method in results:
            model = finetune(base, train, method, seed, setup)
            results[method].append(
                {**greedy_stats(model, prompts, refs, VOCAB_SIZE), "val_ce": val_ce(model, val)}
            )
    mean = {m: {k: sum(r[k] for r in rs) / len(rs) for k in rs[0]} for m, rs in results.items()}
    for method, stats in mean.items():
        for key in ("rep_2", "rep_4", "bigram_tvd", "val_ce"):
            record_property(f"{key}_{method}", round(stats[key], 4))
    for seed in range(len(SEEDS)):  # per seed, not only on average
        mle, emo = results["mle"][seed], results["emo"][seed]
        assert emo["rep_2"] < mle["rep_2"] and emo["rep_4"] < mle["rep_4"], (seed, mle, emo)
        assert emo["bigram_tvd"] < mle["bigram_tvd"], (seed, mle, emo)
