"""Exact properties: order invariance of the process block and of read-process-write's encoding,
equivariance of its pointers, and the order-search loss's reductions and arg-max."""

import itertools

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_pointer_networks.model import PointerNet, pointer_loss
from paperzoo_pointer_networks.tasks import make_examples
from paperzoo_pointer_networks.training import PointerNetTraining

from paperzoo_order_matters.model import ReadProcessWrite
from paperzoo_order_matters.order_search import (
    all_orderings,
    best_ordering,
    order_search_loss,
    sampled_orderings,
    uniform_orderings,
)
from paperzoo_order_matters.set2set import OrderMattersSet2Set
from paperzoo_order_matters.training import OrderSearchTraining


def _perms(b: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(n, generator=g) for _ in range(b)])


def _permute(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, 1, perm.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def test_set2set_is_invariant_to_input_permutations():
    torch.manual_seed(0)
    s2s = OrderMattersSet2Set(6, processing_steps=4).double()
    m = torch.randn(4, 9, 6, dtype=torch.float64)
    ref = s2s(m)
    for seed in range(5):
        err = (s2s(_permute(m, _perms(4, 9, seed))) - ref).abs().max().item()
        assert err < 1e-12, err
    # not trivially invariant: another set gives another embedding
    assert (s2s(m + 0.1 * torch.randn_like(m)) - ref).abs().max() > 1e-3


def test_set2set_padding_anywhere_is_ignored():
    torch.manual_seed(1)
    s2s = OrderMattersSet2Set(5, processing_steps=3).double()
    m = torch.randn(2, 4, 5, dtype=torch.float64)
    padded = torch.cat([m, 1e3 * torch.randn(2, 3, 5, dtype=torch.float64)], 1)
    mask = torch.tensor([[True] * 4 + [False] * 3] * 2)
    perm = _perms(2, 7, 3)
    out = s2s(_permute(padded, perm), torch.gather(mask, 1, perm))
    assert (out - s2s(m)).abs().max() < 1e-12


def test_set2set_equations_by_hand():
    """One step from q*_0 = 0: q_1 = LSTM(0) (bias only), r_1 = softmax(<m_i, q_1>)-weighted mean."""
    torch.manual_seed(2)
    s2s = OrderMattersSet2Set(3, processing_steps=1).double()
    m = torch.randn(1, 4, 3, dtype=torch.float64)
    gates = s2s.lstm.bias_ih + s2s.lstm.bias_hh
    i, f, g, o = gates.chunk(4)
    c = torch.sigmoid(i) * torch.tanh(g)
    q = torch.sigmoid(o) * torch.tanh(c)
    a = torch.softmax(m[0] @ q, 0)
    expected = torch.cat([q, a @ m[0]])
    assert (s2s(m)[0] - expected).abs().max() < 1e-14


def _rpw(eos: bool = False, mask_chosen: bool = True) -> ReadProcessWrite:
    torch.manual_seed(3)
    return ReadProcessWrite(
        input_dim=2, hidden=8, processing_steps=3, eos=eos, mask_chosen=mask_chosen
    ).double()


@pytest.mark.parametrize("eos", [False, True])
def test_read_process_write_encoding_invariant_pointers_equivariant(eos):
    model = _rpw(eos=eos, mask_chosen=False)
    x = torch.rand(3, 6, 2, dtype=torch.float64)
    y = torch.stack([torch.randperm(6) for _ in range(3)])
    if eos:
        y = torch.cat([y[:, :4], torch.full((3, 1), 6)], 1)
    perm = _perms(3, 6, 7)
    inv = perm.argsort(1)
    xp = _permute(x, perm)
    enc, encp = model.encode(x), model.encode(xp)
    for a, b in zip(enc.state, encp.state):
        assert (a - b).abs().max() < 1e-12
    assert (_permute(enc.inputs, perm) - encp.inputs).abs().max() < 1e-12
    # targets into the permuted input: the element at position i is now at inv[i] (the stop stays n)
    yp = torch.where(y < 6, torch.gather(inv, 1, y.clamp(max=5)), y)
    logp, logpp = model(x, targets=y), model(xp, targets=yp)
    idx = torch.cat([perm, torch.full((3, 1), 6)], 1) if eos else perm
    expect = torch.gather(logp, 2, idx.unsqueeze(1).expand(-1, logp.shape[1], -1))
    assert (logpp - expect).abs().max() < 1e-12
    dec, decp = model.decode(x, beam_size=3), model.decode(xp, beam_size=3)
    mapped = torch.where((dec >= 0) & (dec < 6), torch.gather(inv, 1, dec.clamp(0, 5)), dec)
    assert torch.equal(decp, mapped)


def test_pointer_net_encoding_is_not_invariant():
    """The baseline's LSTM encoder reads in order: the property above is not vacuous."""
    torch.manual_seed(0)
    net = PointerNet(input_dim=2, hidden=8).double()
    x = torch.rand(3, 6, 2, dtype=torch.float64)
    assert (net.encode(x).state[0] - net.encode(_permute(x, _perms(3, 6, 7))).state[0]).abs().max() > 1e-4


def test_one_candidate_equals_the_pointer_loss():
    x, y = make_examples("sorting", 16, 6, seed=0)
    model = ReadProcessWrite(input_dim=1, hidden=8, processing_steps=2, mask_chosen=True)
    plain = pointer_loss(model(x, targets=y), y)
    assert torch.equal(order_search_loss(model, x, y.unsqueeze(0)), plain)
    trainer = OrderSearchTraining(samples=0, uniform=0, keep_target=True)
    ours = trainer.compute_loss(model, (x, y), "classification")
    assert torch.equal(ours, PointerNetTraining().compute_loss(model, (x, y), "classification"))
    (grad_ours,) = torch.autograd.grad(ours, model.read[0].weight)
    (grad_plain,) = torch.autograd.grad(plain, model.read[0].weight)
    assert torch.equal(grad_ours, grad_plain)


def _brute_log_prob(model, x, seq) -> float:
    """log p(seq | x) by stepping the decoder by hand (independent of the teacher-forced path)."""
    encoded = model.encode(x)
    state, prev, total = encoded.state, None, 0.0
    chosen = torch.zeros(1, encoded.keys.shape[1], dtype=torch.bool)
    for pos in seq:
        logp, state = model.step(encoded, prev, state, chosen if model.mask_chosen else None)
        total += float(logp[0, pos].detach())
        prev = torch.tensor([pos])
        chosen[0, pos] = True
    return total


@pytest.mark.parametrize("mask_chosen", [True, False])
def test_exhaustive_search_picks_the_arg_max_ordering(mask_chosen):
    model = _rpw(mask_chosen=mask_chosen)
    x = torch.rand(2, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.tensor([[2, 0, 3, 1], [1, 3, 0, 2]])
    cands = all_orderings(y, stop=-1)
    assert cands.shape == (24, 2, 4)
    chosen, scores = best_ordering(model, x, cands)
    for b in range(2):
        brute = {
            p: _brute_log_prob(model, x[b : b + 1], [int(y[b, i]) for i in p])
            for p in itertools.permutations(range(4))
        }
        best = max(brute, key=brute.get)
        assert chosen[b].tolist() == [int(y[b, i]) for i in best]
        assert abs(scores.max(0).values[b].item() - brute[best]) < 1e-12
    loss = order_search_loss(model, x, cands)
    assert abs(loss.item() + scores.max(0).values.sum().item() / 8) < 1e-12


def test_orderings_are_orderings_of_the_target():
    model = _rpw(eos=True)
    x = torch.rand(3, 6, 2, dtype=torch.float64)
    stop = 6
    y = torch.tensor([[4, 1, 2, stop, -100, -100, -100], [0, 5, 3, 2, 1, stop, -100], [stop] + [-100] * 6])
    for cands in (sampled_orderings(model, x, y, 5), uniform_orderings(y, 5, stop)):
        assert cands.shape == (5, 3, 7)
        for k in range(5):
            for b in range(3):
                length = int(((y[b] >= 0) & (y[b] != stop)).sum())
                assert sorted(cands[k, b, :length].tolist()) == sorted(y[b, :length].tolist())
                assert torch.equal(cands[k, b, length:], y[b, length:])


def test_sampled_orderings_follow_the_model():
    """Sampling restricted to a full permutation target draws orderings with the model's probabilities."""
    model = _rpw(mask_chosen=True)
    x = torch.rand(1, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    y = torch.tensor([[0, 1, 2]])
    cands = all_orderings(y, -1)
    _, scores = best_ordering(model, x, cands)
    samples = sampled_orderings(model, x, y, 6000, generator=torch.Generator().manual_seed(0))[:, 0]
    freq = torch.stack([(samples == c[0]).all(1).double().mean() for c in cands])
    assert (freq - scores[:, 0].exp()).abs().max() < 0.025  # 6000 draws: 3 sigma of a frequency < 0.02


def test_uniform_steps_and_bad_params():
    trainer = OrderSearchTraining(uniform_steps=2)
    model = ReadProcessWrite(input_dim=1, hidden=8, processing_steps=1, mask_chosen=True)
    x, y = make_examples("sorting", 4, 5, seed=0)
    assert trainer.candidates(model, x, y).shape == (1, 4, 5)
    trainer.state.step = 2
    assert trainer.candidates(model, x, y).shape == (5, 4, 5)  # the target + 4 samples
    with pytest.raises(ParamError):
        OrderSearchTraining(samples=-1)
    with pytest.raises(ParamError):
        OrderSearchTraining(samples=0, uniform=0, keep_target=False)
