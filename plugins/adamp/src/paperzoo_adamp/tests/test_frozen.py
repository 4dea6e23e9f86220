"""The vectorised step against a frozen copy of its arithmetic, written plainly: one loop over the
parameters, one formula at a time, in the order the official code applies them.

Before every step the loop gets a copy of the optimizer's parameters, gradients and state, so each
step is compared on its own. Everything but the projection's inner products is computed op for op
as in the loop, so it must agree bitwise: the moments, the update of every parameter that is not
projected, and the decisions of the cosine test. The projected weights may differ in the last bit:
the vectorised step computes the same norms and inner products of the rows, but the projection
coefficient of a layer-view weight sums its rows' terms in another order (one segment reduction for
all weights), and a coefficient one ulp off can round the new weight to its neighbouring float.
"""

import copy
import math

import pytest
import torch

from paperzoo_adamp.adamp import AdamP
from paperzoo_adamp.tests.test_parity import CASES, Net, data, groups

# --- the frozen arithmetic ----------------------------------------------------------------------


def channel_view(t):
    return t.reshape(t.shape[0], -1)


def layer_view(t):
    return t.reshape(1, -1)


def projected(p, w, g, delta, eps):
    """``(q, True)`` with the radial component of ``p`` removed when ``w`` is scale-invariant in the
    channel view, else in the layer view; ``(p, False)`` when it is in neither."""
    for view in (channel_view, layer_view):
        wv, gv = view(w), view(g)
        w_norm = torch.linalg.vector_norm(wv, dim=1)
        g_norm = torch.linalg.vector_norm(gv, dim=1)
        cos = torch.linalg.vecdot(gv, wv).abs() / (g_norm.clamp_min(eps) * w_norm.clamp_min(eps))
        if cos.max() < delta / math.sqrt(wv.shape[1]):
            if view is channel_view:
                wp, w_norm_ = torch.linalg.vecdot(wv, view(p)), w_norm
            else:  # the row sums of the channel view, as the optimizers reduce them
                cv = channel_view(w)
                wp = torch.linalg.vecdot(cv, channel_view(p)).sum(0, keepdim=True)
                w_norm_ = torch.linalg.vector_norm(cv, dim=1).square().sum(0, keepdim=True).sqrt()
            c = wp / (w_norm_ + eps).square()
            return p.addcmul(c.view((-1,) + (1,) * (w.dim() - 1)), w, value=-1), True
    return p, False


def adamp_step(params, states, group):
    """One step of the loop; returns the number of weights projected."""
    count = 0
    beta1, beta2 = group["betas"]
    lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
    for w, state in zip(params, states):
        if w.grad is None:
            continue
        g = w.grad
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(w), exp_avg_sq=torch.zeros_like(w))
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
        p = (m * beta1 + g * (1 - beta1)) / denom if group["nesterov"] else m / denom
        ratio = 1.0
        if w.dim() > 1 and w.numel() > 0:
            p, invariant = projected(p, w, g, group["delta"], eps)
            ratio, count = (group["wd_ratio"], count + 1) if invariant else (1.0, count)
        if wd > 0:
            w.mul_(1 - lr * wd * ratio)
        w.add_(p, alpha=-lr / (1 - beta1**t))
    return count


def sgdp_step(params, states, group):
    """One step of the loop; returns the number of weights projected."""
    count = 0
    lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
    for w, state in zip(params, states):
        if w.grad is None:
            continue
        g = w.grad
        if not state:
            state["momentum"] = torch.zeros_like(w)
        buf = state["momentum"]
        buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])
        p = buf * momentum + g if group["nesterov"] else buf
        ratio = 1.0
        if w.dim() > 1 and w.numel() > 0:
            q, invariant = projected(p, w, g, group["delta"], group["eps"])
            if not group["nesterov"]:
                buf.copy_(q)  # the official code projects the momentum buffer itself
            p, ratio, count = q, group["wd_ratio"] if invariant else 1.0, count + invariant
        if wd > 0:
            w.mul_(1 - lr * wd * ratio / (1 - momentum))
        w.add_(p, alpha=-lr)
    return count


# --- the comparison -----------------------------------------------------------------------------


def frozen_step(opt):
    """Copies of the parameters and state of ``opt`` after one step of the plain loop, per param
    group, and the number of weights it projected."""
    run = adamp_step if isinstance(opt, AdamP) else sgdp_step
    out, count = [], 0
    for group in opt.param_groups:
        params, states = [], []
        for p in group["params"]:
            q = p.detach().clone()
            q.grad = None if p.grad is None else p.grad.clone()
            params.append(q)
            states.append(copy.deepcopy(opt.state[p]) if p in opt.state else {})
        count += run(params, states, group)
        out.append((params, states))
    return out, count


def close_to_rounding(a, b):
    """A projected update ``p - c w`` may cancel to far below ``p``: its error is bounded by a few
    roundings of the terms, not of the result."""
    return (a - b).abs().max().item() <= 4 * torch.finfo(a.dtype).eps * a.abs().max().item()


def ulps(a, b):
    """Largest difference of ``a`` and ``b`` in units of the spacing of floats at ``a``."""
    spacing = torch.nextafter(a.abs(), torch.tensor(math.inf, dtype=a.dtype)) - a.abs()
    return ((a - b).abs() / spacing).max().item() if a.numel() else 0.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name,ours_cls,ref_cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_step_matches_the_frozen_loop(name, ours_cls, ref_cls, kwargs, dtype, record_property):
    """6 steps of the parity net (conv, linear and BatchNorm parameters, one head without gradients
    on odd steps, two param groups with weight decay), each against the frozen loop."""
    torch.manual_seed(0)
    model = Net().to(dtype)
    opt = ours_cls(groups(model, "_wd" in name), **kwargs)
    worst, projections = 0.0, 0
    for step in range(6):
        x, y = data(step, dtype)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x, step % 2 == 0), y).backward()
        expected, count = frozen_step(opt)
        projections += count
        opt.step()
        for group, (params, states) in zip(opt.param_groups, expected):
            for p, q, state in zip(group["params"], params, states):
                for key, value in state.items():
                    got = opt.state[p][key]
                    if isinstance(value, int):
                        assert got == value, key
                    elif key == "momentum" and p.dim() > 1 and not group["nesterov"]:
                        assert close_to_rounding(value, got), key  # the projected buffer
                    else:
                        assert torch.equal(got, value), key
                same = torch.equal(p.detach(), q)
                if p.dim() > 1 and not same:
                    worst = max(worst, ulps(q, p.detach()))
                else:
                    assert same, f"step {step}: a parameter of shape {tuple(p.shape)} differs"
    record_property(f"max_ulps_projected_{str(dtype)[6:]}", worst)
    assert worst <= 1
    assert projections >= 6, "the projection must be exercised"
