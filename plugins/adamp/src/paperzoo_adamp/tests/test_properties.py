"""Exact properties of AdamP and SGDP: orthogonality of the projected update, the channel and layer
views of the cosine test, reductions to Adam/AdamW/SGD, closed forms of the weight decay."""

import pytest
import torch
from torch import nn

from paperzoo_adamp import common
from paperzoo_adamp.adamp import AdamP
from paperzoo_adamp.sgdp import SGDP

DT = torch.float64


def bn_net():
    """Two weights followed by BatchNorm (scale-invariant per output channel) and a plain head."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(),
        nn.Linear(6 * 16, 12, bias=False), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3),
    ).to(DT)  # fmt: skip


def batch(step=0):
    g = torch.Generator().manual_seed(step)
    return torch.randn(20, 1, 4, 4, generator=g, dtype=DT), torch.randint(0, 3, (20,), generator=g)


def step_once(model, opt, step=0):
    x, y = batch(step)
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def rows(t):
    return t.reshape(t.shape[0], -1)


def row_cos(a, b):
    a, b = rows(a), rows(b)
    return (a * b).sum(1).abs() / (a.norm(dim=1) * b.norm(dim=1))


# The official projection divides by (||w|| + eps)^2, which leaves a radial residual of relative
# size ~2 eps / ||w|| (checked in closed form below); eps = 1e-30 makes the update orthogonal up to
# float64 rounding, so the orthogonality tests can be sharp.
TINY = 1e-30
OPTS = {
    "adamp": lambda ps: AdamP(ps, lr=1e-2, eps=TINY),
    "adamp_nesterov": lambda ps: AdamP(ps, lr=1e-2, nesterov=True, eps=TINY),
    "sgdp": lambda ps: SGDP(ps, lr=0.1, momentum=0.9, eps=TINY),
    "sgdp_nesterov": lambda ps: SGDP(ps, lr=0.1, momentum=0.9, nesterov=True, eps=TINY),
}


@pytest.mark.parametrize("name", list(OPTS))
def test_update_of_bn_weights_is_orthogonal_to_each_channel(name):
    """A weight followed by BatchNorm passes the channel test, so each output channel's update is
    orthogonal to that channel of the weight: <w_c, w_c' - w_c> = 0 at every step."""
    model = bn_net()
    opt = OPTS[name](model.parameters())
    for step in range(6):
        before = [model[0].weight.detach().clone(), model[4].weight.detach().clone()]
        step_once(model, opt, step)
        for w0, w1 in zip(before, [model[0].weight, model[4].weight]):
            assert row_cos(w0, w1.detach() - w0).max() < 1e-12


def test_adam_update_of_the_same_weights_is_not_orthogonal():
    """The control for the test above: plain Adam's update has a clear radial component."""
    model = bn_net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    w0 = model[0].weight.detach().clone()
    step_once(model, opt)
    assert row_cos(w0, model[0].weight.detach() - w0).max() > 1e-2


@pytest.mark.parametrize("name", ["adamp", "sgdp"])
def test_norm_of_projected_weights_grows_only_at_second_order(name):
    """With the update q orthogonal to w: ||w - lr q||^2 = ||w||^2 + ||lr q||^2 (Pythagoras), per row."""
    model = bn_net()
    opt = OPTS[name](model.parameters())
    step_once(model, opt)
    w0 = model[0].weight.detach().clone()
    step_once(model, opt, 1)
    w1 = model[0].weight.detach()
    expected = rows(w0).square().sum(1) + rows(w1 - w0).square().sum(1)
    torch.testing.assert_close(rows(w1).square().sum(1), expected, rtol=1e-12, atol=0)


def test_layer_view_projects_weights_scale_invariant_only_as_a_whole():
    """loss(W) = f(W / ||W||_F) is invariant to scaling W as a whole but not row by row: the channel
    test fails, the layer test holds, and the update is orthogonal to W in the Frobenius sense only."""
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(6, 5, dtype=DT))
    target = torch.randn(6, 5, dtype=DT)
    loss_fn = lambda: ((w / w.norm() - target) ** 2).sum()  # noqa: E731
    loss_fn().backward()
    assert row_cos(w.detach(), w.grad).max() > 0.1 / 5**0.5, "channel test must fail here"
    opt = AdamP([w], lr=1e-2, eps=TINY)
    w.grad = None
    for _ in range(5):
        w0 = w.detach().clone()
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
        delta = w.detach() - w0
        assert abs((w0 * delta).sum()) / (w0.norm() * delta.norm()) < 1e-12  # radial part removed
        assert row_cos(w0, delta).max() > 1e-3  # but not channel by channel


def test_huge_delta_projects_every_matrix_channel_wise():
    """With delta large enough every matrix passes the channel test, even one that is not
    scale-invariant (a plain linear layer): every row of its update is orthogonal to its row."""
    torch.manual_seed(0)
    layer = nn.Linear(7, 4).to(DT)
    opt = AdamP(layer.parameters(), lr=1e-2, delta=1e9, eps=TINY)
    x, y = torch.randn(16, 7, dtype=DT), torch.randn(16, 4, dtype=DT)
    w0 = layer.weight.detach().clone()
    ((layer(x) - y) ** 2).mean().backward()
    assert row_cos(w0, layer.weight.grad).max() > 1e-2  # not scale-invariant
    opt.step()
    assert row_cos(w0, layer.weight.detach() - w0).max() < 1e-12


def test_projection_closed_form_with_eps():
    """SGDP without momentum takes p = g; with delta huge every row is projected, and the official
    formula with w_hat = w / (||w|| + eps) gives q = g - <w, g> / (||w|| + eps)^2 w per row."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 3, bias=False).to(DT)
    eps, lr = 0.05, 0.1
    opt = SGDP(layer.parameters(), lr=lr, eps=eps, delta=1e9)
    x, y = torch.randn(8, 5, dtype=DT), torch.randn(8, 3, dtype=DT)
    ((layer(x) - y) ** 2).mean().backward()
    w, g = layer.weight.detach().clone(), layer.weight.grad.clone()
    opt.step()
    norm = w.norm(dim=1, keepdim=True)
    q = g - (w * g).sum(1, keepdim=True) / (norm + eps) ** 2 * w
    torch.testing.assert_close(layer.weight.detach(), w - lr * q, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_delta_zero_is_adamw(weight_decay):
    """delta = 0 never projects (|cos| >= 0), so AdamP is Adam with the official code's decoupled
    weight decay w <- w (1 - lr wd), i.e. torch's AdamW (Adam when wd = 0). The Nesterov
    numerator has no torch counterpart; the next test checks it against its formula."""
    a, b = bn_net(), bn_net()
    ours = AdamP(a.parameters(), lr=1e-2, weight_decay=weight_decay, delta=0.0)
    ref = torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=weight_decay, foreach=False)
    for step in range(20):
        step_once(a, ours, step)
        step_once(b, ref, step)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-13)


def test_delta_zero_nesterov_closed_form():
    """Nesterov AdamP without projection, against its formula written out by hand for one weight:
    p_t = (beta1 m_t + (1 - beta1) g_t) / (sqrt(v_t / (1 - beta2^t)) + eps), w -= lr/(1-beta1^t) p_t."""
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(3, 4, dtype=DT))
    opt = AdamP([w], lr=0.1, betas=(0.8, 0.9), eps=1e-3, delta=0.0, nesterov=True, weight_decay=0.1)
    m = torch.zeros_like(w)
    v = torch.zeros_like(w)
    expected = w.detach().clone()
    for t in range(1, 6):
        g = torch.randn(3, 4, dtype=DT)
        w.grad = g.clone()
        opt.step()
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        p = (0.8 * m + 0.2 * g) / ((v / (1 - 0.9**t)).sqrt() + 1e-3)
        expected = expected * (1 - 0.1 * 0.1) - 0.1 / (1 - 0.8**t) * p
        torch.testing.assert_close(w.detach(), expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgdp_delta_zero_is_sgd(nesterov):
    """delta = 0, no weight decay, no dampening: SGDP is torch's SGD with (Nesterov) momentum."""
    a, b = bn_net(), bn_net()
    ours = SGDP(a.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, delta=0.0)
    ref = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, foreach=False)
    for step in range(20):
        step_once(a, ours, step)
        step_once(b, ref, step)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-13)


def test_sgdp_projects_the_momentum_buffer_without_nesterov():
    """Official-code behaviour: without Nesterov the update is the momentum buffer itself, and it is
    projected in place, so the buffer of a BN weight stays orthogonal to the weight it was used on."""
    for nesterov, orthogonal in ((False, True), (True, False)):
        model = bn_net()
        opt = SGDP(model.parameters(), lr=0.1, momentum=0.9, nesterov=nesterov, eps=TINY)
        step_once(model, opt)
        w0 = model[0].weight.detach().clone()
        step_once(model, opt, 1)
        cos = row_cos(w0, opt.state[model[0].weight]["momentum"]).max()
        assert (cos < 1e-12) == orthogonal


@pytest.mark.parametrize("cls,kwargs,factor", [
    (AdamP, dict(lr=0.1, weight_decay=0.2, wd_ratio=0.3), lambda lr, wd, r: 1 - lr * wd * r),
    (SGDP, dict(lr=0.1, weight_decay=0.2, wd_ratio=0.3, momentum=0.5),
     lambda lr, wd, r: 1 - lr * wd * r / (1 - 0.5)),
])  # fmt: skip
def test_weight_decay_closed_form_with_zero_gradient(cls, kwargs, factor):
    """With a zero gradient the update is zero and |cos| = 0 < delta/sqrt(dim): a matrix counts as
    scale-invariant and decays by 1 - lr wd wd_ratio (SGDP: / (1 - momentum)); a vector decays by
    the full 1 - lr wd."""
    torch.manual_seed(0)
    matrix = nn.Parameter(torch.randn(4, 3, 2, dtype=DT))
    vector = nn.Parameter(torch.randn(5, dtype=DT))
    opt = cls([matrix, vector], **kwargs)
    m0, v0 = matrix.detach().clone(), vector.detach().clone()
    matrix.grad, vector.grad = torch.zeros_like(matrix), torch.zeros_like(vector)
    opt.step()
    lr, wd, r = kwargs["lr"], kwargs["weight_decay"], kwargs["wd_ratio"]
    torch.testing.assert_close(matrix.detach(), m0 * factor(lr, wd, r), rtol=1e-15, atol=0)
    torch.testing.assert_close(vector.detach(), v0 * factor(lr, wd, 1.0), rtol=1e-15, atol=0)


def test_weight_not_scale_invariant_keeps_full_update_and_decay():
    """loss = ||W - T||^2 / 2 with T = 2W: the gradient is -W, |cos| = 1, so the weight is not
    projected and AdamP's step equals AdamW's (full weight decay)."""
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(4, 6, dtype=DT))
    w_ref = nn.Parameter(w.detach().clone())
    target = 2 * w.detach()
    ours = AdamP([w], lr=1e-2, weight_decay=0.1)
    ref = torch.optim.AdamW([w_ref], lr=1e-2, weight_decay=0.1, foreach=False)
    for param, opt in ((w, ours), (w_ref, ref)):
        ((param - target) ** 2 / 2).sum().backward()
        opt.step()
    torch.testing.assert_close(w, w_ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "cls,kwargs",
    [(AdamP, dict(lr=1e-2, weight_decay=1e-2)), (SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-3))],
)
def test_result_does_not_depend_on_how_parameters_are_batched(cls, kwargs, monkeypatch):
    """Chunks are an implementation detail: one parameter per chunk gives the same result, bit for
    bit, as all parameters batched together (the statistics of every weight's rows are computed on
    their own, and reduced per weight)."""
    a, b = bn_net(), bn_net()
    opt_a = cls(a.parameters(), **kwargs)
    for step in range(5):
        step_once(a, opt_a, step)
    monkeypatch.setattr(common, "CHUNK_ELEMENTS", 1)
    assert len(common.chunks(list(b.parameters()))) == len(list(b.parameters()))
    opt_b = cls(b.parameters(), **kwargs)
    for step in range(5):
        step_once(b, opt_b, step)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    "cls,kwargs", [(AdamP, dict(lr=0.1, weight_decay=0.1)), (SGDP, dict(lr=0.1, momentum=0.9))]
)
def test_empty_and_scalar_parameters(cls, kwargs):
    """Empty tensors are left alone and 0-dim parameters get the plain (never projected) update."""
    empty = nn.Parameter(torch.zeros(0, 3, dtype=DT))
    scalar = nn.Parameter(torch.tensor(2.0, dtype=DT))
    opt = cls([empty, scalar], **kwargs)
    empty.grad, scalar.grad = torch.zeros(0, 3, dtype=DT), torch.tensor(1.0, dtype=DT)
    opt.step()
    assert empty.shape == (0, 3) and scalar.item() < 2.0


def test_state_is_kept_per_parameter_with_the_official_keys():
    model = bn_net()
    adam, sgd = AdamP(model.parameters(), lr=1e-3), SGDP(model.parameters(), lr=0.1, momentum=0.9)
    for opt in (adam, sgd):
        step_once(model, opt)
        step_once(model, opt, 1)
    state = adam.state[model[0].weight]
    assert state["step"] == 2 and set(state) == {"step", "exp_avg", "exp_avg_sq"}
    assert set(sgd.state[model[0].weight]) == {"momentum"}


@pytest.mark.parametrize("cls,kwargs", [
    (AdamP, dict(lr=-1.0)), (AdamP, dict(betas=(1.0, 0.9))), (AdamP, dict(delta=-0.1)),
    (SGDP, dict(lr=0.1, momentum=1.0)), (SGDP, dict(lr=0.1, wd_ratio=-1.0)),
])  # fmt: skip
def test_invalid_hyperparameters_are_rejected(cls, kwargs):
    with pytest.raises(ValueError):
        cls([nn.Parameter(torch.zeros(2))], **kwargs)
