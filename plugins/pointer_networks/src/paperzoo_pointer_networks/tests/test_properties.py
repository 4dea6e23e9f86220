"""Exact properties of the pointer attention, the pointer net and its searches."""

import itertools

import pytest
import torch

from paperzoo_pointer_networks.attention import PointerAttention
from paperzoo_pointer_networks.model import IGNORE, PointerNet, greedy, sequence_log_prob
from paperzoo_pointer_networks.search import beam_search


def _net(eos: bool = False, mask_chosen: bool = True, seed: int = 0) -> PointerNet:
    torch.manual_seed(seed)  # a wide init range: distinct, peaked distributions (no near-ties)
    return PointerNet(input_dim=2, hidden=8, eos=eos, mask_chosen=mask_chosen, init_range=1.0).double()


def _points(b: int, n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(b, n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_attention_is_a_distribution_over_input_positions():
    torch.manual_seed(0)
    att = PointerAttention(6).double()
    enc, query = torch.randn(3, 7, 6, dtype=torch.float64), torch.randn(3, 4, 6, dtype=torch.float64)
    logp = att(enc, query)
    assert logp.shape == (3, 4, 7)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 4, dtype=torch.float64), atol=1e-12)
    # u_j = v^T tanh(W1 e_j + W2 d_i) written out for one entry
    u = att.v.weight[0] @ torch.tanh(att.w1.weight @ enc[1].T + (att.w2.weight @ query[1, 2]).unsqueeze(1))
    assert torch.allclose(logp[1, 2], torch.log_softmax(u, 0), atol=1e-12)


def test_masked_positions_get_probability_exactly_zero():
    torch.manual_seed(0)
    att = PointerAttention(6)
    enc, query = torch.randn(2, 5, 6), torch.randn(2, 6)
    mask = torch.tensor([[True, False, True, False, False], [False, False, False, False, True]])
    p = att(enc, query, mask).exp()
    assert torch.all(p[mask] == 0)
    assert torch.allclose(p.sum(-1), torch.ones(2), atol=1e-6)  # float32 softmax rounding
    # the remaining positions keep their relative odds
    free = att(enc, query)[0, [1, 3, 4]]
    assert torch.allclose(p[0, [1, 3, 4]], torch.softmax(free, 0), atol=1e-6)


def test_attention_is_permutation_equivariant_on_fixed_encodings():
    torch.manual_seed(0)
    att = PointerAttention(6).double()
    enc, query = torch.randn(2, 6, 6, dtype=torch.float64), torch.randn(2, 3, 6, dtype=torch.float64)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    assert torch.allclose(att(enc[:, perm], query), att(enc, query)[..., perm], atol=1e-12)


def test_full_net_is_order_dependent():
    """The LSTM encoder reads the input in order: permuting the input does not just permute the first
    step's pointer distribution (as it would for an order-invariant encoder)."""
    net, x = _net(mask_chosen=False), _points(2, 5)
    perm = torch.tensor([4, 2, 0, 3, 1])
    targets = torch.zeros(2, 5, dtype=torch.long)
    permuted = net.teacher_forced(x[:, perm], targets)[:, 0]
    original = net.teacher_forced(x, targets)[:, 0]
    assert (permuted - original[:, perm]).abs().max() > 1e-3


@pytest.mark.parametrize("eos", [False, True])
def test_teacher_forcing_equals_stepwise_decoding(eos):
    net, x = _net(eos=eos), _points(3, 5)
    targets = torch.tensor([[2, 0, 4, 1, 3, 5], [1, 3, 5, IGNORE, IGNORE, IGNORE], [4, 3, 2, 1, 0, 5]])
    targets = targets if eos else targets[:, :5]
    forced = net.teacher_forced(x, targets)
    encoded, state, prev = net.encode(x), None, None
    state = encoded.state
    chosen = torch.zeros(3, forced.shape[-1], dtype=torch.bool)
    for t in range(targets.shape[1]):
        logp, state = net.step(encoded, prev, state, chosen.clone())
        keep = targets[:, t] != IGNORE
        assert torch.allclose(logp[keep], forced[keep, t], atol=1e-12)
        prev = targets[:, t].clamp(min=0)
        real = keep & (targets[:, t] < 5)
        chosen[real, targets[real, t]] = True


def test_greedy_never_repeats_a_masked_position():
    net, x = _net(), _points(4, 6)
    seqs, logp = greedy(net, x, return_log_probs=True)
    assert all(sorted(s.tolist()) == list(range(6)) for s in seqs)
    for t in range(1, 6):
        assert torch.all(logp[torch.arange(4).unsqueeze(1), t, seqs[:, :t]].exp() == 0)


@pytest.mark.parametrize("eos", [False, True])
def test_beam_of_one_is_greedy(eos):
    net, x = _net(eos=eos), _points(5, 6)
    seqs, score = beam_search(net, x, beam_size=1)
    assert torch.equal(seqs, greedy(net, x)[0])
    assert torch.allclose(score, sequence_log_prob(net, x, seqs), atol=1e-12)


def _all_outputs(n: int, eos: bool) -> torch.Tensor:
    """Every valid output: all permutations, or (with a stop) every ordered subset then the stop."""
    if not eos:
        return torch.tensor(list(itertools.permutations(range(n))))
    rows = []
    for k in range(n + 1):
        for sub in itertools.permutations(range(n), k):
            rows.append(list(sub) + [n] + [IGNORE] * (n - k))
    return torch.tensor(rows)


@pytest.mark.parametrize("eos", [False, True])
def test_exhaustive_beam_returns_the_exact_argmax(eos):
    n, b = 4, 3
    net, x = _net(eos=eos, seed=3), _points(b, n, seed=4)
    outputs = _all_outputs(n, eos)
    scores = torch.stack([sequence_log_prob(net, x, o.expand(b, -1)) for o in outputs], 1)
    assert torch.allclose(scores.exp().sum(1), torch.ones(b, dtype=torch.float64), atol=1e-12)
    best = scores.argmax(1)
    seqs, score = beam_search(net, x, beam_size=len(outputs))
    assert torch.equal(seqs, outputs[best])
    assert torch.allclose(score, scores.max(1).values, atol=1e-12)


def test_paper_variant_does_not_mask():
    net, x = _net(mask_chosen=False), _points(2, 5)
    logp = net(x)
    assert torch.isfinite(logp).all()  # nothing set to -inf: the softmax covers every position
    constrained = net.decode(x, constrain=True)
    assert all(sorted(s.tolist()) == list(range(5)) for s in constrained)
