"""Exact properties: one-hot selection reduces S-KAN to each single-basis KAN, S-ConvKAN is S-KAN on every
patch with conv output shapes, selection mechanics, and the basis functions against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from paperzoo_selectable_kan.bases import (
    bspline_basis,
    chebyshev_basis,
    fourier_basis,
    rbf_basis,
    uniform_grid,
)
from paperzoo_selectable_kan.layer import SConvKAN, SKANLinear
from paperzoo_selectable_kan.spaces import SPACES

DTYPE = torch.float64


def _perturbed(layer: nn.Module, seed: int = 0) -> nn.Module:
    """``layer`` in float64 with every parameter moved off its initialisation (selection logits too)."""
    layer = layer.to(DTYPE)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=DTYPE))
    return layer


@pytest.mark.parametrize("space", SPACES)
def test_one_hot_selection_is_the_single_basis_kan(space):
    torch.manual_seed(0)
    skan = _perturbed(SKANLinear(5, 7))
    single = SKANLinear(5, 7, spaces=(space,)).to(DTYPE)
    single.space(space).load_state_dict(skan.space(space).state_dict())
    skan.set_selection_(space)
    x = 1.5 * torch.randn(64, 5, dtype=DTYPE)
    assert torch.equal(skan(x), single(x))
    assert torch.equal(skan(x), skan.space(space)(x))
    # a different space gives a different function (the selection matters)
    other = SPACES[(SPACES.index(space) + 1) % len(SPACES)]
    assert not torch.allclose(skan(x), skan.space(other)(x))


def test_per_node_one_hot_selection_picks_each_nodes_space():
    torch.manual_seed(1)
    skan = _perturbed(SKANLinear(4, 8))
    choice = [0, 1, 2, 3, 3, 2, 1, 0]
    skan.set_selection_(choice)
    x = torch.randn(32, 4, dtype=DTYPE)
    y = skan(x)
    for j, k in enumerate(choice):
        assert torch.equal(y[:, j], skan.space(SPACES[k])(x)[:, j])


def test_mixture_is_the_softmax_weighted_sum_of_spaces():
    torch.manual_seed(2)
    skan = _perturbed(SKANLinear(3, 6))
    x = torch.randn(40, 3, dtype=DTYPE)
    w = torch.softmax(skan.selection_logits, dim=-1)
    expected = sum(w[:, k] * skan.space(s)(x) for k, s in enumerate(SPACES))
    torch.testing.assert_close(skan(x), expected, rtol=0, atol=1e-13)
    torch.testing.assert_close(skan.selection_weights().sum(-1), torch.ones(6, dtype=DTYPE))


def test_select_keeps_each_nodes_highest_weight_space_and_prunes_unused():
    skan = SKANLinear(3, 4)
    with torch.no_grad():
        skan.selection_logits.copy_(
            torch.tensor([[3.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 1.0], [5.0, 0, 0, 1]])
        )
    skan.select_(1)
    assert skan.active.tolist() == [
        [True, False, False, False],
        [False, True, False, False],
        [False, False, False, True],
        [True, False, False, False],
    ]
    w = skan.selection_weights()
    assert torch.equal(w, skan.active.to(w.dtype))
    # chebyshev is used by no node: it is no longer evaluated, so it receives no gradient
    skan(torch.randn(5, 3)).sum().backward()
    assert skan.space("chebyshev").coef.grad is None
    assert skan.space("fourier").coef.grad is not None


def test_leading_dims_and_linear_replacement():
    linear = nn.Linear(6, 3)
    layer = SKANLinear(linear)
    x = torch.randn(2, 5, 6)
    y = layer(x)
    assert y.shape == (2, 5, 3)
    # a batch of 10 rows and a single row may reduce in a different order: float32 rounding only
    torch.testing.assert_close(y[1, 2], layer(x[1, 2].unsqueeze(0))[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [(3, 1, 0, 1), (3, 2, 1, 1), ((2, 3), (1, 2), (1, 0), (2, 1))],
)
def test_convkan_is_skan_per_patch_with_conv_shapes(kernel, stride, padding, dilation):
    torch.manual_seed(3)
    conv = SConvKAN(2, 4, kernel, stride=stride, padding=padding, dilation=dilation)
    _perturbed(conv)
    x = torch.randn(2, 2, 7, 8, dtype=DTYPE)
    y = conv(x)
    ref_conv = nn.Conv2d(2, 4, kernel, stride=stride, padding=padding, dilation=dilation)
    assert y.shape == ref_conv(x.float()).shape
    kh, kw = nn.modules.utils._pair(kernel)
    sh, sw = nn.modules.utils._pair(stride)
    ph, pw = nn.modules.utils._pair(padding)
    dh, dw = nn.modules.utils._pair(dilation)
    xp = nn.functional.pad(x, (pw, pw, ph, ph))
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            patch = xp[
                :, :, i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw
            ]
            torch.testing.assert_close(y[:, :, i, j], conv.kan(patch.reshape(2, -1)), rtol=0, atol=1e-13)


def test_convkan_from_conv2d_takes_its_geometry():
    base = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    layer = SConvKAN(base)
    x = torch.randn(1, 3, 9, 9)
    assert layer(x).shape == base(x).shape == (1, 5, 5, 5)


def test_chebyshev_closed_form():
    t = torch.linspace(0, math.pi, 101, dtype=DTYPE)
    basis = chebyshev_basis(torch.cos(t), 9)
    n = torch.arange(10, dtype=DTYPE)
    torch.testing.assert_close(basis, torch.cos(t[:, None] * n), rtol=0, atol=1e-12)


def test_bspline_partition_of_unity_and_support():
    grid = uniform_grid(6, 3, (-1.0, 1.0)).to(DTYPE)
    x = torch.linspace(-1, 1 - 1e-9, 257, dtype=DTYPE)
    basis = bspline_basis(x, grid, 3)
    assert basis.shape == (257, 9)
    torch.testing.assert_close(basis.sum(-1), torch.ones(257, dtype=DTYPE), rtol=0, atol=1e-13)
    assert (basis >= 0).all()
    # each cubic B-spline is zero outside its four intervals [t_i, t_{i+4})
    inside = (x[:, None] >= grid[:-4]) & (x[:, None] < grid[4:])
    assert (basis[~inside] == 0).all()


def test_bspline_cubic_closed_form():
    # the uniform cubic B-spline on knots 0..4 (unit spacing): its value at the middle knot is 2/3
    grid = torch.arange(0.0, 5.0, dtype=DTYPE)
    x = torch.tensor([0.5, 1.0, 2.0, 2.5, 3.5], dtype=DTYPE)
    got = bspline_basis(x, grid, 3)[:, 0]
    expected = torch.tensor([0.5**3 / 6, 1 / 6, 2 / 3, 23 / 48, 0.5**3 / 6], dtype=DTYPE)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-15)


def test_rbf_and_fourier_closed_forms():
    x = torch.tensor([-0.7, 0.0, 1.3], dtype=DTYPE)
    centers = torch.tensor([-1.0, 0.5], dtype=DTYPE)
    expected = torch.exp(-(((x[:, None] - centers) / 0.8) ** 2))
    torch.testing.assert_close(rbf_basis(x, centers, 0.8), expected, rtol=0, atol=0)
    f = fourier_basis(x, 3)
    assert f.shape == (3, 6)
    torch.testing.assert_close(f[:, 2], torch.cos(3 * x), rtol=0, atol=1e-15)
    torch.testing.assert_close(f[:, 4], torch.sin(2 * x), rtol=0, atol=1e-15)


def test_bad_spaces_are_rejected():
    with pytest.raises(ValueError, match="spaces"):
        SKANLinear(2, 3, spaces=("bspline", "wavelet"))
