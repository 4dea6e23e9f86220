"""Exact properties: equivalence of the transformations, orthogonality of Cayley SGD, QSUR and KL-Top in
closed form, parameter errors."""

import copy
import math

import pytest
import torch
from paperzoo.errors import ParamError

from paperzoo_ostquant.loss import kl_top
from paperzoo_ostquant.method import ostquant_
from paperzoo_ostquant.orth import CayleySGD, cayley_step, hadamard, random_hadamard, random_orthogonal
from paperzoo_ostquant.qsur import log_qsur, qsur
from paperzoo_ostquant.tests.helpers import tiny_decoder
from paperzoo_ostquant.trainer import OSTQuantPTQ
from paperzoo_ostquant.transform import OSTParams, apply_


def _ids(n=3, t=12, seed=0):
    return torch.randint(0, 50, (n, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n_kv_heads", [None, 2])
def test_transformed_float_model_equals_original(n_kv_heads):
    model = tiny_decoder(0, n_kv_heads=n_kv_heads)
    ids = _ids()
    ref = model(ids).logits
    ost = OSTParams(model, "identity").double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ost.r_res.copy_(random_orthogonal(16, g))
        ost.r_ov.copy_(torch.stack([random_orthogonal(4, g) for _ in range(2)]))
        for p in ost.scales():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    out = apply_(copy.deepcopy(model), ost)
    assert (out(ids).logits - ref).abs().max() < 1e-10
    # the transformation changed the weights (the check is not vacuous)
    assert (out.blocks[0].attn.q_proj.weight - model.blocks[0].attn.q_proj.weight).abs().max() > 0.1


def test_learnt_transformations_preserve_function_and_stay_orthogonal():
    model = tiny_decoder(1)
    ids = _ids(4, 16, seed=2)
    ref = model(ids).logits
    quant = copy.deepcopy(model)
    result = ostquant_(quant, ids, w_bits=3, a_bits=3, steps=4, batch_size=2, top_k=8, lr_scale=0.1)
    eye = torch.eye(16, dtype=torch.float64)
    assert (result.ost.r_res @ result.ost.r_res.T - eye).abs().max() < 1e-12
    assert (
        result.ost.r_ov @ result.ost.r_ov.transpose(1, 2) - torch.eye(4, dtype=torch.float64)
    ).abs().max() < 1e-12
    assert result.ost.log_s_ud.abs().max() > 0  # the scales moved
    assert (quant(ids).logits - ref).abs().max() < 1e-10


def test_hadamard_matrices_are_orthogonal():
    h = hadamard(8)
    assert (h.abs() - 8**-0.5).abs().max() < 1e-16  # entries +-1/sqrt(8)
    assert (h @ h.T - torch.eye(8, dtype=torch.float64)).abs().max() < 1e-15
    r = random_hadamard(16, torch.Generator().manual_seed(0))
    assert (r @ r.T - torch.eye(16, dtype=torch.float64)).abs().max() < 1e-14
    with pytest.raises(ValueError, match="power of two"):
        hadamard(12)


def test_cayley_sgd_stays_orthogonal_and_solves_procrustes():
    g = torch.Generator().manual_seed(0)
    target = random_orthogonal(6, g)
    x = torch.nn.Parameter(torch.eye(6, dtype=torch.float64).repeat(2, 1, 1))
    opt = CayleySGD([x], lr=0.2, momentum=0.5)
    for _ in range(300):
        opt.zero_grad()
        ((x - target) ** 2).sum().backward()
        opt.step()
    eye = torch.eye(6, dtype=torch.float64)
    assert (x @ x.transpose(1, 2) - eye).abs().max() < 1e-12
    # Procrustes: the orthogonal matrix nearest an orthogonal target is the target itself (if reachable:
    # det +1 from the identity)
    if torch.linalg.det(target) > 0:
        assert (x.detach() - target).abs().max() < 1e-6
    # a single step is the closed-form Cayley transform and decreases the loss
    y = random_orthogonal(6, g)
    grad = 2 * (y - target)
    step = cayley_step(y, grad, 0.01)
    a = grad @ y.T - y @ grad.T
    closed = torch.linalg.inv(eye + 0.005 * a) @ (eye - 0.005 * a) @ y
    assert (step - closed).abs().max() < 1e-13
    assert ((step - target) ** 2).sum() < ((y - target) ** 2).sum()


def _c(d):
    return (d / 2) * math.log(math.pi) - math.lgamma(d / 2 + 1) - d * math.log(2)


def test_qsur_closed_forms():
    d = 8
    zero = torch.zeros(d, dtype=torch.float64)
    iso = log_qsur(zero, 3.0 * torch.eye(d, dtype=torch.float64))
    assert abs(iso - _c(d)) < 1e-12  # the ball-to-cube ratio, whatever the variance
    lam = torch.tensor([100.0, 1, 1, 1, 1, 1, 1, 25.0], dtype=torch.float64)  # two outlier channels
    out = log_qsur(zero, torch.diag(lam))
    assert abs(out - (_c(d) + 0.5 * float(lam.log().sum()) - (d / 2) * math.log(100.0))) < 1e-12
    h = random_hadamard(d, torch.Generator().manual_seed(0))
    rot = log_qsur(zero, h.T @ torch.diag(lam) @ h)
    assert abs(rot - (_c(d) + 0.5 * float(lam.log().sum()) - (d / 2) * math.log(float(lam.mean())))) < 1e-12
    assert iso > rot > out  # isotropic is the maximum; a Hadamard rotation raises QSUR
    # the radius cancels for a zero mean, not otherwise: mu = (1, 0), Sigma = I, r = 1 -> pi / 3^2
    assert abs(log_qsur(zero, torch.diag(lam), radius=0.3) - out) < 1e-12
    mean2 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert abs(qsur(mean2, torch.eye(2, dtype=torch.float64), radius=1.0) - math.pi / 9) < 1e-14


def test_kl_top_closed_form():
    p = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    q = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    got = kl_top(q.log()[None], p.log()[None], 2)
    assert abs(float(got) - (0.7 * math.log(0.7 / 0.5) + 0.2 * math.log(0.2 / 0.3))) < 1e-15
    full = kl_top(q.log()[None], p.log()[None], 3)
    assert abs(float(full) - float((p * (p / q).log()).sum())) < 1e-15
    assert float(kl_top(p.log()[None], p.log()[None], 2)) == 0.0
    with pytest.raises(ValueError, match="accepted"):
        kl_top(q[None], p[None], 4)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"a_bits": 1}, "a_bits"),
        ({"ost_steps": -1}, "ost_steps"),
        ({"top_k": 0}, "top_k"),
        ({"lr_rotation": 0.0}, "lr_rotation"),
        ({"init": "random"}, "init"),
        ({"bits": 20}, "bits"),
    ],
)
def test_trainer_rejects_bad_params(params, name):
    with pytest.raises(ParamError, match=name):
        OSTQuantPTQ(**params)
