"""The paper's claim at toy scale, on long-range key-value retrieval (``tinylm_kv_retrieval``, every answer
beyond the local blocks' reach): an all-local model (``l = 0``, span 4) stays at chance while full
attention learns, and MASFormer with full attention in the bottom 2 of 3 blocks comes close to full
attention in every block. Same sizes, data, steps and batches for all three (compute-matched by tokens).
3 seeds, about four minutes on 2 cores (the runs are shared by the two tests)."""

from functools import lru_cache

import pytest

from paperzoo_masformer.experiment import train_eval

CHANCE = 0.1  # ten digit values
SEEDS = (0, 1, 2)


@lru_cache(maxsize=1)
def runs() -> dict[str, list[float]]:
    """Validation answer (token) accuracy per seed of full attention, MASFormer (l=2) and all-local."""
    return {
        name: [train_eval(seed, n_full=n_full)[0] for seed in SEEDS]
        for name, n_full in (("full", 3), ("masformer_l2", 2), ("local", 0))
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.claim
def test_all_local_fails_where_full_attention_learns(record_property):
    acc = runs()
    record_property("acc_full", round(_mean(acc["full"]), 4))
    record_property("acc_local", round(_mean(acc["local"]), 4))
    assert _mean(acc["local"]) < CHANCE + 0.02, acc["local"]
    assert all(f > lo + 0.1 for f, lo in zip(acc["full"], acc["local"])), acc


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="at this budget (300 steps of 16 x 40 tokens) MASFormer (bottom 2 of 3 blocks full, span 4) "
    "learns the lookup in 2 of 3 seeds only: answer accuracy 0.294 / 0.164 / 0.101 (mean 0.186) against "
    "full attention 0.264 / 0.276 / 0.275 (mean 0.272) and all-local 0.103 / 0.089 / 0.099 (mean 0.097, "
    "chance 0.1): far above all-local on average, not yet within 0.05 of full attention",
)
def test_masformer_close_to_full_attention(record_property):
    acc = runs()
    record_property("acc_masformer_l2", round(_mean(acc["masformer_l2"]), 4))
    assert _mean(acc["masformer_l2"]) > _mean(acc["full"]) - 0.05, acc
    assert all(m > lo + 0.05 for m, lo in zip(acc["masformer_l2"], acc["local"])), acc
