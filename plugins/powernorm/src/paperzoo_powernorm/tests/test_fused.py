"""The fused layer against the same layer written op by op, over several training steps, in float64.

Covers what the closed-form tests do not combine: GroupScaling with the running statistic and the
correction, the warm-up hand-over, padding masks, no affine map, eval-mode gradients, and the
device path of the running-statistic update (tensor ops instead of a host-side iteration count).
Tolerance 1e-12: the two differ only in summation order and in how the same per-feature arithmetic is
grouped (float64 round-off of sums over at most a few hundred terms).
"""

import copy

import pytest
import torch

from paperzoo_powernorm.fused import Config, advance_running_phi
from paperzoo_powernorm.power_norm import PowerNorm
from paperzoo_powernorm.tests.unfused import unfused_forward

TOL = {"rtol": 1e-12, "atol": 1e-12}
BUFFERS = ("running_phi", "ema_gz", "iters")


def _pair(**params):
    fused = PowerNorm(8, **params).double()
    if fused.affine:
        with torch.no_grad():
            fused.weight.copy_(torch.linspace(0.5, 2.0, 8))
            fused.bias.copy_(torch.linspace(-1.0, 1.0, 8))
    return fused, copy.deepcopy(fused)


def _inputs(step: int, shape=(3, 7, 8)):
    gen = torch.Generator().manual_seed(step)
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * torch.linspace(0.3, 4.0, shape[-1])
    return x.requires_grad_(), torch.randn(shape, generator=gen, dtype=torch.float64)


def _step(norm, forward, x, upstream, pad_mask=None):
    x = x.detach().clone().requires_grad_()
    y = forward(norm, x, pad_mask)
    params = [p for p in norm.parameters()]
    grads = torch.autograd.grad(y, [x, *params], upstream)
    return [y.detach(), *grads]


def _fused(norm, x, pad_mask):
    return norm(x, pad_mask=pad_mask)


@pytest.mark.parametrize(
    "params",
    [
        {"group_num": 2, "warmup_iters": 2, "alpha_bkw": 0.7},
        {"group_num": None, "warmup_iters": 3, "alpha_fwd": 0.8},
        {"group_num": 4, "warmup_iters": 0, "affine": False},
        {"group_num": 1, "warmup_iters": 1, "alpha_bkw": 1.0},
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_training_steps_match_the_unfused_layer(params, masked, record_property):
    fused, reference = _pair(**params)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[0, 5:], pad[2, 3:] = True, True
    worst = 0.0
    for step in range(5):  # warm-up, hand-over and steps with the running statistic and correction
        x, upstream = _inputs(step)
        mask = pad if masked else None
        got = _step(fused.train(), _fused, x, upstream, mask)
        want = _step(reference.train(), unfused_forward, x, upstream, mask)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, **TOL)
            worst = max(worst, float((a - b).abs().max()))
        for name in BUFFERS:
            torch.testing.assert_close(getattr(fused, name), getattr(reference, name), **TOL)
    assert fused.ema_gz.abs().min() > 0 and int(fused.iters) == 5
    record_property("max_abs_diff_float64", worst)


@pytest.mark.parametrize("group_num", [None, 2])
def test_eval_gradients_match_the_unfused_layer(group_num):
    fused, reference = _pair(group_num=group_num)
    for norm in (fused, reference):
        norm.running_phi.copy_(torch.linspace(0.5, 3.0, 8))
        norm.eval()
    x, upstream = _inputs(0)
    got = _step(fused, _fused, x, upstream)
    want = _step(reference, unfused_forward, x, upstream)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **TOL)
    assert not fused.ema_gz.any() and int(fused.iters) == 0


def test_device_path_of_the_running_statistic_matches_the_host_path():
    # on an accelerator the warm-up branches are tensor ops (no sync); both paths give one recursion
    phi = {path: torch.ones(6, dtype=torch.float64) for path in (True, False)}
    iters = {path: torch.zeros((), dtype=torch.long) for path in (True, False)}
    for t in range(1, 7):
        batch_sq = torch.rand(6, generator=torch.Generator().manual_seed(t), dtype=torch.float64) + t
        inv = {}
        for host in (True, False):
            cfg = Config(None, 1e-5, 0.8, 0.9, 3, phi[host], torch.zeros(6), iters[host])
            inv[host] = advance_running_phi(cfg, batch_sq, host_count=host)[0]
        torch.testing.assert_close(inv[True], inv[False], **TOL)
        torch.testing.assert_close(phi[True], phi[False], **TOL)
        assert int(iters[True]) == int(iters[False]) == t
