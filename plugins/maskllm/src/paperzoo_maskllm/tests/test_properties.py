"""Exact properties of the learnable N:M mask: candidate enumeration, N non-zeros per group, the
temperature limit, gradients to the logits, the prior, the frozen weight, the trainer's objective."""

from __future__ import annotations

import itertools
import math

import paperzoo
import pytest
import torch
from paperzoo_compress.sparsity import MaskedLinear, is_nm_sparse, nm_mask

from paperzoo_maskllm.apply import apply_maskllm, finalize, maskllm_loss
from paperzoo_maskllm.layer import LearnableNMMaskLinear, candidate_masks

F64 = torch.float64


def make(n: int = 2, m: int = 4, dtype: torch.dtype = F64, **kw) -> LearnableNMMaskLinear:
    torch.manual_seed(0)
    base = torch.nn.Linear(16, 8, dtype=dtype)
    return paperzoo.create("learnable_nm_mask_linear", base, n=n, m=m, **kw)


@pytest.mark.parametrize(("n", "m"), [(2, 4), (1, 4), (3, 4), (2, 8), (1, 1)])
def test_candidates_enumerate_every_n_of_m_pattern_once(n, m):
    c = candidate_masks(n, m)
    assert c.shape == (math.comb(m, n), m)
    assert torch.equal(c.sum(-1), torch.full((len(c),), float(n)))
    patterns = {tuple(int(v) for v in row) for row in c}
    assert len(patterns) == len(c)  # no pattern twice
    expected = {tuple(int(j in keep) for j in range(m)) for keep in itertools.combinations(range(m), n)}
    assert patterns == expected


@pytest.mark.parametrize(("n", "m"), [(2, 4), (1, 4), (2, 8)])
def test_every_hard_mask_has_exactly_n_nonzeros_per_group(n, m):
    layer = make(n, m, prior="none")
    with torch.no_grad():
        layer.gate.normal_()
    hard = layer.hard_mask()
    assert hard.dtype == torch.bool and hard.shape == layer.weight.shape
    assert torch.equal(hard.reshape(-1, m).sum(-1), torch.full((hard.numel() // m,), n))
    layer.eval()
    x = torch.randn(3, 16, dtype=F64)
    expected = x @ (layer.weight * hard).T + layer.bias
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-12)


def test_soft_masks_become_one_hot_as_the_temperature_goes_to_zero():
    layer = make(prior="none").train()
    with torch.no_grad():
        layer.gate.normal_(std=0.01)
    gaps = []
    for tau in (4.0, 1.0, 1e-2, 1e-4):
        torch.manual_seed(1)
        probs = layer.candidate_probs(tau).detach()
        gaps.append(float((1 - probs.max(-1).values).max()))
    assert gaps[0] > 0.1  # soft at a high temperature
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-12  # one-hot (float64) at tau -> 0
    torch.manual_seed(1)
    probs = layer.candidate_probs(1e-4)
    mask = (probs @ layer.candidates).reshape(-1, 4)
    assert torch.allclose(mask.sum(-1), torch.full((len(mask),), 2.0, dtype=F64), atol=1e-12)
    assert bool(((mask < 1e-12) | (mask > 1 - 1e-12)).all())  # a candidate mask: 0/1 entries


def test_gradients_reach_the_logits_and_not_the_frozen_weight():
    layer = make().train()
    x = torch.randn(5, 16, dtype=F64)
    layer(x).square().mean().backward()
    assert layer.gate.grad is not None and float(layer.gate.grad.abs().sum()) > 0
    assert not layer.weight.requires_grad and layer.weight.grad is None
    assert [name for name, p in layer.named_parameters() if p.requires_grad] == ["gate"]


def test_a_strong_prior_makes_the_argmax_the_prior_mask():
    layer = make(prior="magnitude", prior_strength=50.0)
    assert torch.equal(layer.hard_mask(), nm_mask(layer.weight, 2, 4))
    other = make(prior="none")  # without a prior the argmax is the random initialisation's
    assert not torch.equal(other.hard_mask(), nm_mask(other.weight, 2, 4))


def test_prior_adds_overlap_minus_one_times_std_times_strength():
    plain, primed = make(prior="none"), make(prior="magnitude", prior_strength=2.0)
    overlap = (plain.candidates * nm_mask(plain.weight, 2, 4).to(F64).reshape(-1, 1, 4)).sum(-1)
    expected = plain.gate + (overlap - 1) * plain.gate.std() * 2.0
    torch.testing.assert_close(primed.gate, expected, rtol=0, atol=1e-15)


def test_temperature_and_scale_follow_linear_schedules():
    layer = make(temperature=[4.0, 0.05], scale=[100.0, 500.0])
    layer.set_progress(0.25)
    assert layer.current_temperature == pytest.approx(4.0 - 0.25 * 3.95, abs=1e-12)
    assert layer.current_scale == pytest.approx(200.0, abs=1e-9)
    layer.set_progress(1.0)
    assert layer.current_temperature == pytest.approx(0.05, abs=1e-12)  # start + (end - start) * 1
    assert layer.current_scale == pytest.approx(500.0, abs=1e-9)


def test_the_regulariser_lowers_the_loss_by_the_annealed_kept_weight_norm():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8, dtype=F64), torch.nn.Linear(8, 2, dtype=F64))
    layers = apply_maskllm(model)
    assert list(layers) == ["0"]  # the output layer is kept dense, as the official code does
    model.train()
    model(torch.randn(2, 8, dtype=F64))
    norm = (layers["0"].weight * layers["0"].last_mask).square().sum()
    got = maskllm_loss(torch.tensor(1.0, dtype=F64), layers, 1e-2, 0.25)
    torch.testing.assert_close(got, 1.0 - 1e-2 * 0.75 * norm, rtol=0, atol=1e-12)


def test_finalize_gives_nm_sparse_masked_linears_computing_like_eval_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    apply_maskllm(model, layers=".", prior="none")
    x = torch.randn(3, 8)
    with torch.no_grad():
        expected = model.eval()(x)
    done = finalize(model)
    assert set(done) == {"0", "2"} and all(isinstance(mod, MaskedLinear) for mod in done.values())
    assert all(is_nm_sparse(mod.weight, 2, 4) for mod in done.values())
    assert torch.equal(model(x), expected)


def test_bad_params_are_refused():
    base = torch.nn.Linear(6, 4)
    with pytest.raises(ValueError, match="m"):
        LearnableNMMaskLinear(base, n=2, m=4)  # 4 does not divide 6
    with pytest.raises(ValueError, match="n"):
        LearnableNMMaskLinear(torch.nn.Linear(8, 4), n=5, m=4)
    with pytest.raises(ValueError, match="temperature"):
        LearnableNMMaskLinear(torch.nn.Linear(8, 4), temperature=[4.0, 0.0])
