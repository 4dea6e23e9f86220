"""Exact properties of UnifiedNorm: closed forms of the forward and backward, the eval-mode fold into
the next Linear, and the outlier filter on an injected extreme batch (float64, 1e-12)."""

import pytest
import torch
from paperzoo_tinylm.fold import fold_affine_into_linear, fold_norm
from torch import nn

from paperzoo_unified_norm.unified_norm import UnifiedNorm

D = torch.float64


def affine_layer(c: int = 8, **params) -> UnifiedNorm:
    layer = UnifiedNorm(c, **params).double()
    with torch.no_grad():
        layer.weight.copy_(torch.linspace(0.5, 1.5, c, dtype=D))
        layer.bias.copy_(torch.linspace(-0.2, 0.3, c, dtype=D))
    return layer


def batches(n: int, seed: int = 0, shape=(4, 6, 8), drift: float = 0.2) -> list[torch.Tensor]:
    """``n`` Gaussian batches whose scale grows by ``drift`` over the sequence."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen, dtype=D) * (1 + drift * i / n) for i in range(n)]


def test_built_from_layernorm_keeps_its_affine():
    ln = nn.LayerNorm(8).double()
    with torch.no_grad():
        ln.weight.uniform_(0.5, 2.0)
        ln.bias.uniform_(-1.0, 1.0)
    un = UnifiedNorm(ln)
    assert un.num_features == 8 and un.weight.dtype == D
    assert torch.equal(un.weight, ln.weight) and torch.equal(un.bias, ln.bias)
    with pytest.raises(ValueError):
        UnifiedNorm(nn.LayerNorm((4, 8)))
    with pytest.raises(ValueError):
        UnifiedNorm(8, window=0)


def test_window_one_is_exact_quadratic_mean_normalisation_with_its_true_gradient():
    """W=1: y = w x / sqrt(mean_rows(x^2) + eps) + b, and the backward is that formula's exact gradient."""
    layer = affine_layer(window=1, warmup_iters=0)
    for x in batches(5):
        g = torch.randn_like(x)
        x1 = x.clone().requires_grad_(True)
        layer(x1).backward(g)
        x2 = x.clone().requires_grad_(True)
        ms = x2.square().reshape(-1, 8).mean(0)
        want = layer.weight.detach() * x2 / torch.sqrt(ms + layer.eps) + layer.bias.detach()
        want.backward(g)
        assert (x1.grad - x2.grad).abs().max() < 1e-12


def test_forward_normalises_by_geometric_mean_of_the_window():
    """After the warm-up, the statistic is the geometric mean of the last W batch quadratic means."""
    w = 3
    layer = affine_layer(window=w, warmup_iters=2)
    seen = []
    for t, x in enumerate(batches(9), start=1):
        seen.append(x.square().reshape(-1, 8).mean(0))
        y = layer(x)
        if t > w:
            gm = torch.stack(seen[-w:]).log().mean(0).exp()
        else:
            gm = seen[-1]
        want = layer.weight * x / torch.sqrt(gm + layer.eps) + layer.bias
        assert (y - want).abs().max() < 1e-12, t
        assert layer.training


def test_eval_mode_folds_exactly_into_the_next_linear():
    layer = affine_layer(window=3, warmup_iters=2)
    for x in batches(8):
        layer(x).sum().backward()
    layer.eval()
    linear = nn.Linear(8, 5).double()
    x = batches(1, seed=3)[0]
    with torch.no_grad():
        reference = linear(layer(x))
        scale, shift = layer.eval_affine()
        fused = fold_affine_into_linear(nn.Linear(8, 5).double().requires_grad_(False), scale, shift)
        fused.load_state_dict(linear.state_dict())
        fused = fold_affine_into_linear(fused, scale, shift)
        assert (fused(x) - reference).abs().max() < 1e-12  # the layer vanishes: Linear(x) alone
        # the kit's fold_norm moves gamma and beta, leaving the pure scaling by the running statistic
        kept = fold_norm(layer, linear)
        assert (linear(kept(x)) - reference).abs().max() < 1e-12
        assert not torch.allclose(scale, torch.ones_like(scale))  # the fold was not trivial


def test_outlier_filter_triggers_on_an_injected_extreme_batch():
    layer = affine_layer(window=4, warmup_iters=5, outlier_filtration=True)
    # channels of different scales, as in a trained network: the threshold is W times the variance of the
    # square roots of every window entry (across channels too), so identical channels make it tiny
    scales = torch.linspace(0.5, 3.0, 8, dtype=D)
    normal = [x * scales for x in batches(12, shape=(8, 32, 8), drift=0.0)]
    for x in normal[:10]:
        layer(x)
    assert int(layer.outliers) == 0
    running = layer.running_var.clone()
    extreme = normal[10] * 100.0
    y = layer(extreme)
    assert int(layer.outliers) == 1
    # an outlier is normalised by its own statistic, and the running statistic takes its window slot
    ms = extreme.square().reshape(-1, 8).mean(0)
    assert (y - (layer.weight * extreme / torch.sqrt(ms + layer.eps) + layer.bias)).abs().max() < 1e-9
    assert torch.equal(layer.window_x2[int(layer.iters) % 4], running)
    layer(normal[11])
    assert int(layer.outliers) == 1
    off = affine_layer(window=4, warmup_iters=5, outlier_filtration=False)
    for x in normal[:10] + [extreme]:
        off(x)
    assert int(off.outliers) == 0


def test_gradient_compensation_scales_the_weight_gradient_after_ratio_warmup():
    """dL/dgamma = sum dL/dy * rho * z; with rho fixed at 1 (long ratio warm-up) it is the plain sum."""
    grads = {}
    for warm in (0, 10**6):
        layer = affine_layer(window=2, warmup_iters=0, ratio_warmup=warm)
        for x in batches(6):
            layer.weight.grad = None
            layer(x * 3.0).sum().backward()
        grads[warm] = layer.weight.grad.clone()
    assert not torch.allclose(grads[0], grads[10**6])
