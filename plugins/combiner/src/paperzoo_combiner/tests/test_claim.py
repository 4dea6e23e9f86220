"""The paper's claim at toy scale: Combiner keeps full-attention quality at sub-quadratic cost. On
``tinylm_kv_retrieval`` (the queried pair lies far before the query), a Combiner-Fixed decoder (regions
of 6 tokens plus summaries of the other regions) reaches the accuracy of full softmax attention and beats
a local-only decoder (the same regions, no summaries), compute-matched (same model, steps, batches and
data). 3 seeds."""

import pytest
import torch

from paperzoo_combiner.attention import attention_flops
from paperzoo_combiner.experiment import KERNELS, REGION, TASK, train_eval


@pytest.mark.claim
def test_combiner_close_to_full_and_above_local(record_property):
    torch.set_num_threads(1)
    acc = {name: [train_eval(seed, name) for seed in range(3)] for name in KERNELS}
    mean = {name: sum(v) / 3 for name, v in acc.items()}
    for name, value in mean.items():
        record_property(f"acc_{name}", round(value, 4))
    t, d = TASK["seq_len"], 12
    record_property(
        "attn_flops_ratio_combiner_to_full",
        attention_flops(t, d, "fixed", REGION) / attention_flops(t, d, "full"),
    )
    assert mean["combiner_fixed"] > mean["local_only"] + 0.1, acc
    assert mean["combiner_fixed"] > mean["softmax"] - 0.05, acc
