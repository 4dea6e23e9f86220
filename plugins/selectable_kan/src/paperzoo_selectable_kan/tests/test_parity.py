"""Parity of the B-spline space (one-hot selection) with pykan's ``KANLayer`` (the original KAN)."""

from __future__ import annotations

import pytest
import torch

from paperzoo_selectable_kan.layer import SKANLinear

kan_layer = pytest.importorskip("kan.KANLayer", reason="pykan is in the test extra")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_one_hot_bspline_matches_pykan(dtype, record_property):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        ref = kan_layer.KANLayer(in_dim=4, out_dim=6, num=5, k=3, grid_range=[-1, 1])
        with torch.no_grad():  # move pykan's coefficients off their near-zero initialisation
            ref.coef.add_(0.5 * torch.randn_like(ref.coef))
        ours = SKANLinear(4, 6, grid_size=5, spline_order=3, grid_range=(-1.0, 1.0)).to(dtype)
        space = ours.space("bspline")
        with torch.no_grad():  # pykan: (in, out, ...) layouts; ours: (out, in, ...)
            space.coef.copy_(ref.coef.permute(1, 0, 2))
            space.base_weight.copy_(ref.scale_base.t())
            space.spline_scale.copy_(ref.scale_sp.t())
            ours.selection_logits.normal_()
        ours.set_selection_("bspline")
        x = torch.rand(512, 4) * 2.6 - 1.3  # inside and outside the grid range
        expected = ref(x)[0]
        got = ours(x)
    finally:
        torch.set_default_dtype(previous)
    err = float((got - expected).abs().max().detach())
    record_property(f"max_abs_diff_{str(dtype)[6:]}", err)
    # the same sums in another order (and knots built by a multiply instead of repeated subtraction)
    assert err < (1e-13 if dtype == torch.float64 else 2e-6)
