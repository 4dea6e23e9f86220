"""Exact properties of the N:M layer and the schedules: pattern, reductions at beta = 1 and 0, SR-STE's
closed form, the schedules' shapes, and the trainer's step-by-step state."""

from __future__ import annotations

import math

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_compress.sparsity import MaskedLinear
from torch import nn

from paperzoo_nm_progressive_flow.layer import NMSparseLinear
from paperzoo_nm_progressive_flow.schedule import mask_decay, pattern_at, structure_schedule
from paperzoo_nm_progressive_flow.trainer import NMProgressiveGradientFlow

F64 = torch.float64


def make(n=1, m=8, **kw) -> tuple[NMSparseLinear, nn.Linear]:
    torch.manual_seed(0)
    base = nn.Linear(32, 16, dtype=F64)
    return NMSparseLinear(base, n=n, m=m, **kw), base


def grads(layer: nn.Module, x: torch.Tensor, gy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    layer.zero_grad(set_to_none=True)
    y = layer(x)
    y.backward(gy)
    return y.detach(), layer.weight.grad.clone()


@pytest.mark.parametrize(("n", "m"), [(1, 8), (2, 4), (1, 16)])
def test_effective_weight_is_exactly_n_of_m(n, m):
    layer, _ = make(n, m)
    w = layer.effective_weight().detach()
    assert torch.equal((w.reshape(-1, m) != 0).sum(-1), torch.full((w.numel() // m,), n))


def test_forward_decay_one_is_the_dense_linear_bitwise():
    layer, base = make(beta=1.0)
    x, gy = torch.randn(5, 32, dtype=F64), torch.randn(5, 16, dtype=F64)
    ours = grads(layer, x, gy)
    dense = grads(base, x, gy)
    assert torch.equal(ours[0], dense[0]) and torch.equal(ours[1], dense[1])


def test_forward_decay_zero_is_ste():
    """beta = 0: the output of W ⊙ M, and the gradient dL/d(W ⊙ M) passed to every weight."""
    layer, base = make(beta=0.0)
    x, gy = torch.randn(5, 32, dtype=F64), torch.randn(5, 16, dtype=F64)
    y, g = grads(layer, x, gy)
    w_eff = (base.weight.detach() * layer.mask()).requires_grad_(True)
    ref = nn.functional.linear(x, w_eff, base.bias)
    ref.backward(gy)
    assert torch.equal(y, ref.detach()) and torch.equal(g, w_eff.grad)


def test_gradient_decay_one_equals_ste_bitwise():
    ste, _ = make(beta=0.0, decay_on="forward")
    flow, _ = make(beta=1.0, decay_on="gradient")
    x, gy = torch.randn(5, 32, dtype=F64), torch.randn(5, 16, dtype=F64)
    a, b = grads(ste, x, gy), grads(flow, x, gy)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_gradient_decay_zero_equals_fixed_mask_training_bitwise():
    """beta = 0 on the gradient path: pruned weights get no gradient, so AdamW training equals training
    a MaskedLinear with the initial mask, step for step. The pruned weights start tiny (1e-6 of their
    value) so that no kept weight falls below them and the magnitude mask stays the initial one (checked)."""
    flow, _ = make(n=2, m=4, beta=0.0, decay_on="gradient")
    mask0 = flow.mask()
    with torch.no_grad():
        flow.weight.mul_(torch.where(mask0, 1.0, 1e-6))
    ref_base = nn.Linear(32, 16, dtype=F64)
    ref_base.load_state_dict({"weight": flow.weight.detach(), "bias": flow.bias.detach()})
    pruned = ref_base.weight.detach()[~mask0].clone()
    fixed = MaskedLinear(ref_base, mask0)
    opt_a = torch.optim.AdamW(flow.parameters(), lr=1e-3, weight_decay=0.0)
    opt_b = torch.optim.AdamW(fixed.parameters(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        x = torch.randn(8, 32, dtype=F64, generator=g)
        for layer, opt in ((flow, opt_a), (fixed, opt_b)):
            opt.zero_grad()
            layer(x).square().mean().backward()
            opt.step()
        assert torch.equal(flow(x), fixed(x))
    assert torch.equal(flow.mask(), mask0)
    assert torch.equal(flow.weight.detach()[~mask0], pruned)  # pruned weights never moved
    assert torch.equal(flow.weight.detach()[mask0], fixed.weight.detach()[mask0])


def test_srste_gradient_closed_form():
    lam = 2e-4
    layer, base = make(beta=0.0, srste_lambda=lam)
    x, gy = torch.randn(5, 32, dtype=F64), torch.randn(5, 16, dtype=F64)
    _, g = grads(layer, x, gy)
    mask = layer.mask().to(F64)
    w = base.weight.detach()
    ste = x.T.matmul(gy).T  # dL/dW_eff of y = x W_eff^T: gy^T x
    torch.testing.assert_close(g, ste + lam * (1 - mask) * w, rtol=0, atol=1e-13)  # float64 sums of 5 terms


def test_intermediate_decay_scales_pruned_weights():
    layer, base = make(beta=0.25)
    mask = layer.mask()
    w = base.weight.detach()
    assert torch.equal(layer.effective_weight().detach(), torch.where(mask, w, 0.25 * w))


def test_dense_state_is_the_plain_linear():
    layer, base = make()
    layer.set_state(dense=True)
    x = torch.randn(3, 32, dtype=F64)
    assert torch.equal(layer(x), base(x))


def test_mask_decay_formulas():
    assert mask_decay(0, "linear", 0.01) == 1.0 and mask_decay(50, "linear", 0.01) == 0.5
    assert mask_decay(500, "linear", 0.01) == 0.0
    assert mask_decay(100, "exp", 0.01) == math.exp(-1.0) and mask_decay(3, "step", 0.1) == 0.0


def test_structure_schedule_sparsify_1_16_frames():
    s = structure_schedule(1, 16, total=110, dense=10, fine_tune=0, kind="sparsify")
    assert s == {10: (15, 16), 30: (8, 16), 50: (4, 16), 70: (2, 16), 90: (1, 16)}
    assert pattern_at(s, 0) == (15, 16) and pattern_at(s, 49) == (8, 16) and pattern_at(s, 500) == (1, 16)


def test_trainer_schedule_phases():
    t = NMProgressiveGradientFlow(n=1, m=8, method="mdgf", decay_coef=0.1, dense_steps=2, fine_tune_steps=3)
    assert t.schedule_state(1, 20) == {"dense": True}
    assert t.schedule_state(2, 20) == {"beta": 1.0}
    assert t.schedule_state(7, 20) == {"beta": 0.5}
    assert t.schedule_state(17, 20) == {"beta": 0.0}  # fine-tune: binary
    sd = NMProgressiveGradientFlow(n=1, m=8, method="sdgf", dense_steps=0)
    sd.frames = structure_schedule(1, 8, 40, 0, 0, "sparsify")
    assert [sd.schedule_state(s, 40)["n"] for s in (0, 10, 20, 39)] == [7, 4, 2, 1]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"n": 3, "m": 2}, "n"), ({"m": 5}, "m"), ({"beta": 1.5}, "beta"), ({"decay_on": "x"}, "decay_on")],
)
def test_bad_layer_params_name_the_param(kwargs, param):
    with pytest.raises(ParamError) as err:
        NMSparseLinear(nn.Linear(16, 4), **kwargs)
    assert err.value.param == param


def test_trainer_refuses_a_model_whose_layers_cannot_hold_the_pattern():
    """The engine calls ``check_model`` before the run directory exists: a ValueError there is exit 2."""
    model = nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 4))
    NMProgressiveGradientFlow(n=1, m=4, max_steps=1).check_model(model)  # 16 inputs: 4 groups of 4
    with pytest.raises(ValueError, match=r"blocks|0 \(16 inputs\)"):
        NMProgressiveGradientFlow(n=1, m=5, max_steps=1).check_model(model)
    with pytest.raises(ValueError, match="matches no nn.Linear"):
        NMProgressiveGradientFlow(layers="^nothing$", max_steps=1).check_model(model)
