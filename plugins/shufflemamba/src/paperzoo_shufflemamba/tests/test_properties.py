"""Exact properties of the stochastic layer-wise shuffle: identity in evaluation and at probability 0,
an exactly inverted permutation (a token-wise layer is unchanged, a sequence layer sees the permuted
sequence), the paper's linear schedule, and reproducible draws."""

from __future__ import annotations

import pytest
import torch
from paperzoo_tinylm.selective_scan import MambaBlock
from torch import nn

from paperzoo_shufflemamba.model import ShuffleVisionMamba
from paperzoo_shufflemamba.shuffle import StochasticLayerShuffle, apply_layer_shuffle, shuffle_probabilities


class _Causal(nn.Module):
    """A sequence mixer whose output depends on token order (prefix sums)."""

    def forward(self, x):
        return torch.cumsum(x, dim=1)


def _mamba() -> nn.Module:
    torch.manual_seed(0)
    return MambaBlock(8, d_state=4).double()


def test_eval_mode_is_bitwise_the_unwrapped_block():
    block, x = _mamba(), torch.randn(2, 9, 8, dtype=torch.float64)
    wrapped = StochasticLayerShuffle(block, prob=1.0).eval()
    state = torch.get_rng_state()
    assert torch.equal(wrapped(x), block(x)) and wrapped.last_permutation is None
    assert torch.equal(torch.get_rng_state(), state)  # evaluation draws nothing


def test_probability_zero_is_identity_in_training():
    block, x = _mamba(), torch.randn(2, 9, 8, dtype=torch.float64)
    wrapped = StochasticLayerShuffle(block, prob=0.0).train()
    for _ in range(5):
        assert torch.equal(wrapped(x), block(x)) and wrapped.last_permutation is None


def test_token_wise_layer_is_unchanged_by_the_shuffle():
    # An elementwise layer: bitwise unchanged. An MLP: the inversion is exact (bitwise equal to running it on
    # the permuted tokens and un-permuting), and equal to the unshuffled MLP up to the BLAS kernels' row-
    # blocking (a row's rounding can depend on its position in the matrix product: within 1e-15 here).
    elementwise = nn.Sequential(nn.GELU(), nn.LayerNorm(8)).double()
    mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8)).double()
    x = torch.randn(3, 11, 8, dtype=torch.float64)
    for layer in (elementwise, mlp):
        wrapped = StochasticLayerShuffle(layer, prob=1.0, seed=0).train()
        for _ in range(3):
            out = wrapped(x)
            perm = wrapped.last_permutation
            assert perm is not None and not torch.equal(perm, torch.arange(11))
            assert torch.equal(out, layer(x[:, perm])[:, torch.argsort(perm)])
            if layer is elementwise:
                assert torch.equal(out, layer(x))
            assert (out - layer(x)).abs().max() < 1e-15


def test_sequence_layer_sees_the_permuted_sequence_and_output_is_restored():
    wrapped = StochasticLayerShuffle(_Causal(), prob=1.0, seed=3).train()
    x = torch.randn(2, 10, 4, dtype=torch.float64)
    out = wrapped(x)
    perm = wrapped.last_permutation
    assert sorted(perm.tolist()) == list(range(10))
    expected = torch.zeros_like(x)
    expected[:, perm] = torch.cumsum(x[:, perm], dim=1)  # output position j belongs to token perm[j]
    assert torch.equal(out, expected) and not torch.equal(out, torch.cumsum(x, 1))


def test_gradients_flow_through_the_restored_order():
    mlp = nn.Linear(4, 4).double()
    x = torch.randn(2, 6, 4, dtype=torch.float64, requires_grad=True)
    StochasticLayerShuffle(mlp, prob=1.0, seed=1).train()(x).pow(2).sum().backward()
    g_shuffled = x.grad.clone()
    x.grad = None
    mlp(x).pow(2).sum().backward()
    assert torch.equal(g_shuffled, x.grad)


@pytest.mark.parametrize("depth,max_prob", [(1, 0.3), (4, 0.5), (24, 0.1)])
def test_schedule_is_linear_in_depth(depth, max_prob):
    probs = shuffle_probabilities(depth, max_prob)
    assert len(probs) == depth and probs[0] == 0.0
    for i, p in enumerate(probs):
        assert p == pytest.approx(max_prob * i / max(depth - 1, 1) if depth > 1 else 0.0, abs=1e-7)
    wrapped = apply_layer_shuffle([nn.Identity() for _ in range(depth)], max_prob)
    assert [w.prob for w in wrapped] == probs


def test_shuffle_frequency_follows_the_probability():
    wrapped = StochasticLayerShuffle(nn.Identity(), prob=0.3, seed=0).train()
    x = torch.zeros(1, 5, 1)
    hits = 0
    for _ in range(2000):
        wrapped(x)
        hits += wrapped.last_permutation is not None
    assert abs(hits / 2000 - 0.3) < 0.035  # binomial standard deviation ~0.010


def test_seeds_reproduce():
    x = torch.randn(2, 8, 3, dtype=torch.float64)

    def run(seed):
        wrapped = StochasticLayerShuffle(_Causal(), prob=0.7, seed=seed).train()
        return torch.stack([wrapped(x) for _ in range(6)])

    assert torch.equal(run(5), run(5)) and not torch.equal(run(5), run(6))
    torch.manual_seed(0)  # the global generator (seed=None), as the official code
    a = StochasticLayerShuffle(_Causal(), prob=0.7).train()(x)
    torch.manual_seed(0)
    assert torch.equal(a, StochasticLayerShuffle(_Causal(), prob=0.7).train()(x))


def test_vision_model_eval_ignores_the_shuffle_rate():
    images = torch.rand(3, 1, 8, 8)
    torch.manual_seed(0)
    plain = ShuffleVisionMamba(dim=16, depth=3, d_state=4, shuffle_rate=0.0).eval()
    torch.manual_seed(0)
    shuffled = ShuffleVisionMamba(dim=16, depth=3, d_state=4, shuffle_rate=1.0).eval()
    assert [b.prob for b in shuffled.blocks] == [0.0, 0.5, 1.0]
    assert torch.equal(plain(images), shuffled(images))
    shuffled.train()
    torch.manual_seed(1)
    assert not torch.equal(plain(images), shuffled(images))  # the last block always shuffles in training


def test_bad_probability_is_refused():
    with pytest.raises(ValueError, match="prob"):
        StochasticLayerShuffle(nn.Identity(), prob=1.5)
    with pytest.raises(ValueError, match="max_prob"):
        shuffle_probabilities(4, -0.1)
