"""The paper's finding at small scale (functional specialisation of FFN neurons emerges with training):
a tiny ReLU MLP trained on two disjoint synthetic tasks (``claim_setup``), three seeds. The overlap of
the two tasks' top-16 (of 64) most frequently activated neurons, per hidden layer, is lower after
training than at initialisation (the same network, the same inputs)."""

import pytest
import torch

from paperzoo_ffn_brick_analysis.specialization import (
    expected_random_jaccard,
    neuron_statistics,
    task_overlaps,
)
from paperzoo_ffn_brick_analysis.tests.claim_setup import WIDTH, make_model, task_data, train

SEEDS, K = (0, 1, 2), 16


@pytest.mark.claim
def test_task_neuron_sets_overlap_less_after_training(record_property):
    before, after = [], []
    for seed in SEEDS:
        g = torch.Generator().manual_seed(100 + seed)
        xa, _ = task_data(0, 2000, g)
        xb, _ = task_data(1, 2000, g)
        model = make_model(seed)

        def overlap(model=model, xa=xa, xb=xb):
            per_layer = task_overlaps(neuron_statistics(model, [xa]), neuron_statistics(model, [xb]), K)
            return sum(per_layer.values()) / len(per_layer), per_layer

        (b, b_layers), acc = overlap(), train(model, seed)
        a, a_layers = overlap()
        print(
            f"seed {seed}: accuracy {acc:.3f}; overlap init {b:.3f} {b_layers} -> trained {a:.3f} {a_layers}"
        )
        assert acc > 0.9  # both tasks learnt
        assert a < b - 0.1
        before.append(b)
        after.append(a)
    record_property("overlap_init", round(sum(before) / 3, 3))
    record_property("overlap_trained", round(sum(after) / 3, 3))
    record_property("overlap_random_k16_d64", round(expected_random_jaccard(K, WIDTH), 3))
