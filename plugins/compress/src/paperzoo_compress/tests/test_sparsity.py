"""Exact properties of the sparsity pieces: N:M and magnitude masks, MaskedLinear, density helpers."""

from __future__ import annotations

import pytest
import torch
from paperzoo.errors import ParamError
from torch import nn

from paperzoo_compress.sparsity import (
    MaskedLinear,
    check_nm,
    density,
    is_nm_sparse,
    magnitude_mask,
    model_density,
    nm_mask,
    sparsify_model,
)


@pytest.mark.parametrize(("n", "m"), [(1, 4), (2, 4), (1, 8), (3, 8), (1, 16), (16, 16)])
def test_nm_mask_keeps_exactly_n_largest_per_group(n, m):
    w = torch.randn(6, 32, generator=torch.Generator().manual_seed(n * 100 + m))
    mask = nm_mask(w, n, m)
    groups, kept = w.abs().reshape(-1, m), mask.reshape(-1, m)
    assert mask.dtype == torch.bool and mask.shape == w.shape
    assert torch.equal(kept.sum(-1), torch.full((groups.shape[0],), n))
    if n < m:  # every kept magnitude is >= every dropped one in its group
        low_kept = groups.masked_fill(~kept, float("inf")).min(-1).values
        high_dropped = groups.masked_fill(kept, -1.0).max(-1).values
        assert bool((low_kept >= high_dropped).all())
    assert is_nm_sparse(w * mask, n, m)


def test_nm_mask_groups_run_along_input_channels():
    w = torch.tensor([[1.0, 4.0, 3.0, 2.0, 0.5, 0.1, 0.2, 9.0]])
    assert nm_mask(w, 1, 4).tolist() == [[False, True, False, False, False, False, False, True]]


def test_nm_mask_ties_keep_the_lower_index():
    w = torch.tensor([[2.0, -2.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
    expected = [[True, True, False, False, True, True, False, False]]
    assert nm_mask(w, 2, 4).tolist() == expected


def test_magnitude_mask_keeps_the_k_largest_overall():
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    mask = magnitude_mask(w, 0.25)
    assert int(mask.sum()) == 16
    assert float(w.abs()[mask].min()) >= float(w.abs()[~mask].max())
    assert magnitude_mask(w, 0.0).sum() == 0 and bool(magnitude_mask(w, 1.0).all())
    assert magnitude_mask(torch.zeros(2, 3), 0.5).tolist() == [[True, True, True], [False, False, False]]


def test_density_helpers():
    assert density(torch.tensor([0.0, 1.0, 0.0, 2.0])) == 0.5
    assert density(torch.tensor([True, False, False, False])) == 0.25
    assert not is_nm_sparse(torch.ones(1, 4), 2, 4) and is_nm_sparse(torch.tensor([[0.0, 1, 0, 1]]), 2, 4)


@pytest.mark.parametrize(
    ("n", "m", "width", "message"),
    [
        (0, 4, 8, r"^n: 0; accepted: an integer >= 1$"),
        (5, 4, 8, r"^n: 5; accepted: an integer <= m \(4\)$"),
        (1, 3, 8, r"^m: 3; accepted: a divisor of in_features \(8\)$"),
        (True, 4, 8, r"^n: True; accepted"),
    ],
)
def test_bad_nm_arguments_are_rejected(n, m, width, message):
    with pytest.raises(ParamError, match=message):
        check_nm(n, m, width)
    with pytest.raises(ValueError):
        nm_mask(torch.ones(2, width), n, m)


def test_masked_linear_equals_linear_with_masked_weight():
    torch.manual_seed(0)
    lin = nn.Linear(16, 8, dtype=torch.float64)
    dense = lin.weight.detach().clone()
    mask = nm_mask(dense, 2, 4)
    layer = MaskedLinear(lin, mask)
    x = torch.randn(5, 16, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ (dense * mask).T + lin.bias, rtol=0, atol=1e-13)
    assert layer.weight is lin.weight and bool((lin.weight[~mask] == 0).all())


def test_masked_zeros_stay_zero_under_adamw_weight_decay():
    torch.manual_seed(0)
    layer = MaskedLinear(nn.Linear(16, 8), torch.ones(8, 16, dtype=torch.bool))
    layer.set_mask_(nm_mask(layer.weight, 1, 8))
    opt = torch.optim.AdamW(layer.parameters(), lr=0.1, weight_decay=0.5)
    for _ in range(20):
        opt.zero_grad()
        layer(torch.randn(4, 16)).square().sum().backward()
        opt.step()
    assert bool((layer.weight[~layer.mask] == 0).all())  # the parameter itself, exactly
    assert bool((layer.weight[layer.mask] != 0).all())  # the kept weights did train
    assert density(layer.weight) == 1 / 8


def test_sparsify_model_and_model_density():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    swapped = sparsify_model(model, lambda w: nm_mask(w, 1, 4), select=lambda name, lin: name == "0")
    assert list(swapped) == ["0"] and isinstance(model[0], MaskedLinear) and type(model[2]) is nn.Linear
    assert model_density(model) == (16 * 8 / 4 + 16 * 4) / (16 * 8 + 16 * 4)
