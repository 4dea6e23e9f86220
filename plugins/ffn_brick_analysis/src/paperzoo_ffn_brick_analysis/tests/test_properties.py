"""Exact properties of the specialisation measure: identical inputs, neuron permutations, hand-built
activations, the tinylm hook path beside the module path, the evaluator's parameters."""

import pytest
import torch
from paperzoo.data import DataBundle
from torch import nn

from paperzoo_ffn_brick_analysis.evaluate import FFNNeuronSpecialization
from paperzoo_ffn_brick_analysis.specialization import jaccard, neuron_statistics, task_overlaps, top_k


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def test_hand_built_frequencies_and_magnitudes():
    a = torch.tensor([[1.0, 0.0, -2.0], [3.0, 0.5, 0.0], [0.0, 0.0, 4.0], [2.0, -1.0, 0.0]])
    stats = neuron_statistics(nn.Sequential(nn.Identity()), [a], module="0")
    freq, mag = stats["0"]
    assert freq.tolist() == [0.75, 0.25, 0.25]
    assert mag.tolist() == [1.5, 0.375, 1.5]
    freq_hi, _ = neuron_statistics(nn.Sequential(nn.Identity()), [a], module="0", threshold=1.0)["0"]
    assert freq_hi.tolist() == [0.5, 0.0, 0.25]


def test_top_k_ties_and_jaccard():
    assert top_k(torch.tensor([0.5, 0.9, 0.5, 0.5]), 2) == {1, 0}
    assert jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    with pytest.raises(ValueError, match="k: got 5"):
        top_k(torch.zeros(4), 5)


def test_identical_task_inputs_overlap_is_one():
    model, x = _mlp(), torch.randn(200, 6)
    stats = neuron_statistics(model, [x])
    assert list(stats) == ["1", "3"]  # every activation module, in forward order
    for rank_by in ("frequency", "magnitude"):
        assert set(task_overlaps(stats, neuron_statistics(model, x.split(7)), 8, rank_by).values()) == {1.0}


def test_overlap_is_invariant_to_a_permutation_of_the_neurons():
    model, xa, xb = _mlp(1), torch.randn(300, 6), torch.randn(300, 6) + 0.7
    perm = torch.randperm(32)
    permuted = _mlp(1)
    with torch.no_grad():  # permute the first hidden layer's neurons: the same function
        permuted[0].weight.copy_(model[0].weight[perm])
        permuted[0].bias.copy_(model[0].bias[perm])
        permuted[2].weight.copy_(model[2].weight[:, perm])
    assert torch.allclose(model(xa), permuted(xa), atol=1e-6)
    base = task_overlaps(neuron_statistics(model, [xa]), neuron_statistics(model, [xb]), 10)
    moved = task_overlaps(neuron_statistics(permuted, [xa]), neuron_statistics(permuted, [xb]), 10)
    assert base == moved
    assert torch.equal(
        neuron_statistics(permuted, [xa])["1"][0], neuron_statistics(model, [xa])["1"][0][perm]
    )


def test_tinylm_hooks_beside_the_module_path():
    from paperzoo_tinylm.model import TinyLMDecoder

    torch.manual_seed(0)
    lm = TinyLMDecoder(
        vocab_size=20, d_model=16, n_layers=2, n_heads=2, max_seq_len=16, ffn="mlp", activation="relu"
    )
    ids = torch.randint(20, (4, 12))
    hooked = neuron_statistics(lm, [ids])
    assert list(hooked) == ["blocks.0.mlp.post", "blocks.1.mlp.post"]
    # the same map read at the output of each block's ReLU module
    by_module = neuron_statistics(lm, [ids], module="blocks.*.mlp.act")
    for (f1, m1), (f2, m2) in zip(hooked.values(), by_module.values()):
        assert torch.equal(f1, f2) and torch.allclose(m1, m2)


def _classes_bundle() -> DataBundle:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=g)
    y = torch.arange(120) % 3
    ds = torch.utils.data.TensorDataset(x, y)
    return DataBundle(train=ds, val=ds, task="classification", num_classes=3, input_shape=(6,))


def test_evaluator_on_classes_and_identical_tasks():
    out = FFNNeuronSpecialization(k=8, layers=2)(_mlp(), _classes_bundle())
    assert set(out) == {"overlap", "random_overlap", "active_fraction", "overlap_layer0", "overlap_layer1"}
    assert 0 <= out["overlap"] <= 1 and 0 < out["active_fraction"] < 1
    same = [{"name": "synthetic_classification", "n_samples": 64, "n_features": 6, "num_classes": 3}] * 2
    assert FFNNeuronSpecialization(k=8, tasks=same)(_mlp(), _classes_bundle())["overlap"] == 1.0


@pytest.mark.parametrize(
    "kwargs", [{"k": 0}, {"rank_by": "mean"}, {"layers": -1}, {"split": "test"}, {"tasks": [{"name": "x"}]}]
)
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        FFNNeuronSpecialization(**kwargs)
