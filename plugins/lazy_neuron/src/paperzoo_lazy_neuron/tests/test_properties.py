"""Exact properties of the Top-k activation and the nonzero-fraction measure."""

from __future__ import annotations

import paperzoo
import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo_tinylm.hooks import capture, patch
from paperzoo_tinylm.model import TinyLMDecoder
from torch.utils.data import TensorDataset

from paperzoo_lazy_neuron.sparsity import LazyNeuronSparsity, count_nonzero, nonzero_fractions
from paperzoo_lazy_neuron.topk import LazyNeuronTopK, topk_mask, topk_relu


def reference_topk_relu(z: torch.Tensor, k: int) -> torch.Tensor:
    """Row by row in Python: rank entries by (value descending, index ascending), keep the first k, ReLU."""
    out = torch.zeros_like(z)
    rows, flat_out = z.reshape(-1, z.shape[-1]).tolist(), out.view(-1, z.shape[-1])
    for r, row in enumerate(rows):
        for i in sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]:
            flat_out[r, i] = max(row[i], 0.0)
    return out


@pytest.mark.parametrize("k", [1, 3, 8, 31])
def test_at_most_k_nonzeros_and_equals_the_sorted_reference(k):
    z = torch.randn(4, 7, 32, generator=torch.Generator().manual_seed(k), dtype=torch.float64)
    y = LazyNeuronTopK(k=k)(z)
    assert int((y != 0).sum(-1).max()) <= k
    assert torch.equal(y, reference_topk_relu(z, k))


@pytest.mark.parametrize("k", [32, 33, 1000])
def test_k_at_or_above_width_is_relu_bitwise(k):
    z = torch.randn(3, 5, 32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    g = torch.randn(3, 5, 32, generator=torch.Generator().manual_seed(1))
    y = LazyNeuronTopK(k=k)(z)
    (grad,) = torch.autograd.grad(y, z, g)
    relu = torch.relu(z)
    (grad_relu,) = torch.autograd.grad(relu, z, g)
    assert torch.equal(y, relu)
    assert torch.equal(grad, grad_relu)


def test_ties_keep_the_lower_index_deterministically():
    z = torch.tensor([[2.0, 1.0, 1.0, 1.0, 1.0, -1.0], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]])
    y = topk_relu(z, 3)
    assert torch.equal(y, torch.tensor([[2.0, 1.0, 1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.0, 0.0, 0.0]]))
    assert torch.equal(topk_relu(z.repeat(50, 1), 3), y.repeat(50, 1))  # the same in a large batch


def test_fewer_positives_than_k_keeps_them_all():
    z = torch.tensor([[3.0, -1.0, -2.0, 0.5, -0.1, 0.0]])
    assert torch.equal(topk_relu(z, 4), torch.relu(z))


def test_gradient_flows_through_kept_entries_only():
    z = torch.tensor([[0.3, 2.0, -1.0, 1.5, 0.7]], requires_grad=True)
    topk_relu(z, 2).sum().backward()
    assert torch.equal(z.grad, torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0]]))


def test_gradient_matches_autograd_of_the_masked_relu():
    """The saved-output backward against autograd through ``relu(z) * mask`` (float64, bitwise)."""
    z = torch.randn(
        6, 40, generator=torch.Generator().manual_seed(3), dtype=torch.float64, requires_grad=True
    )
    g = torch.randn(6, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    (ours,) = torch.autograd.grad(topk_relu(z, 5), z, g)
    (plain,) = torch.autograd.grad(torch.relu(z) * topk_mask(z.detach(), 5), z, g)
    assert torch.equal(ours, plain)
    assert torch.autograd.gradcheck(lambda t: topk_relu(t, 5), (z,))


def test_built_by_config_patch_and_rejects_bad_input():
    layer = paperzoo.create("lazy_neuron_topk", torch.nn.ReLU(), k=2)
    assert torch.equal(layer(torch.tensor([[1.0, 3.0, 2.0]])), torch.tensor([[0.0, 3.0, 2.0]]))
    with pytest.raises(TypeError, match="nn.ReLU"):
        LazyNeuronTopK(torch.nn.GELU())
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k: got"):
            LazyNeuronTopK(k=bad)


def _decoder(**kwargs) -> TinyLMDecoder:
    torch.manual_seed(0)
    return TinyLMDecoder(d_model=16, n_layers=2, n_heads=2, d_ff=64, max_seq_len=16, ffn="mlp", **kwargs)


def test_tinylm_activation_slot_gives_at_most_k_per_token():
    model = _decoder(activation="lazy_neuron_topk")  # default k = 16
    with capture(model, "blocks.*.mlp.post") as got:
        model(torch.randint(256, (3, 9)))
    assert len(got) == 2
    for tensor in got.values():
        assert int((tensor != 0).sum(-1).max()) <= 16


def test_count_nonzero_on_a_constructed_tensor():
    a = torch.zeros(2, 3, 10)
    a[0, 0, :4] = 1.0
    a[1, 2, 5] = -2.0
    assert count_nonzero(a) == (5, 60)


def _bundle(x: torch.Tensor) -> DataBundle:
    return DataBundle(TensorDataset(x, x), TensorDataset(x, x), "language_modeling", vocab_size=363)


def test_evaluator_is_exact_on_constructed_activations():
    """Layer 0's activation map replaced (tinylm ``patch``) by one with exactly ``j`` nonzeros in token
    ``t``'s row (``j = t mod 5``), layer 1's by zeros: the fractions are known in closed form."""
    model = _decoder(activation="relu")
    x = torch.randint(256, (5, 7))

    def staircase(a: torch.Tensor) -> torch.Tensor:
        j = torch.arange(a.shape[1]) % 5  # nonzeros per token
        return (torch.arange(a.shape[-1]) < j[:, None]).to(a.dtype).expand_as(a) * 0.5

    evaluator = LazyNeuronSparsity(layers=2, batch_size=2)  # three batches: counts accumulate exactly
    with patch(model, "blocks.0.mlp.post", staircase), patch(model, "blocks.1.mlp.post", torch.zeros_like):
        got = evaluator(model, _bundle(x))
    layer0 = sum(t % 5 for t in range(7)) / (7 * 64)
    assert got == {
        "nonzero_fraction": layer0 / 2,
        "nonzero_fraction_layer0": layer0,
        "nonzero_fraction_layer1": 0.0,
    }


def test_evaluator_matches_a_direct_count_and_checks_layers():
    model = _decoder(activation="relu")
    x = torch.randint(256, (6, 8))
    with capture(model, "blocks.*.mlp.post") as got, torch.no_grad():
        model(x)
    direct = [float((t != 0).double().mean()) for t in got.values()]
    assert list(nonzero_fractions(model, x.split(4)).values()) == pytest.approx(direct, abs=1e-15)
    assert 0.2 < direct[0] < 0.8  # a random ReLU layer: about half nonzero
    with pytest.raises(ValueError, match="layers: got 3"):
        LazyNeuronSparsity(layers=3)(model, _bundle(x))
    with pytest.raises(ValueError, match="split"):
        LazyNeuronSparsity(split="test")
