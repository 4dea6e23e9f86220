"""Folding an eval-mode affine into the next Linear is exact: the folded network computes the same
function (float64: within 1e-12, the rounding of reassociating one product and one sum)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from paperzoo_tinylm.fold import fold_affine_into_linear, fold_norm, norm_affine
from paperzoo_tinylm.norms import RMSNorm


def _randomised(norm: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in norm.parameters():
            p.copy_(torch.randn_like(p))
    return norm


def _linears(d: int, n: int, bias: bool) -> list[nn.Linear]:
    return [nn.Linear(d, 5 + i, bias=bias).double() for i in range(n)]


@pytest.mark.parametrize(
    "make",
    [
        lambda d: nn.LayerNorm(d, eps=1e-5),
        lambda d: nn.LayerNorm(d, eps=1e-5, bias=False),
        lambda d: RMSNorm(d, eps=1e-6),
    ],
    ids=["layer_norm", "layer_norm_no_bias", "rms_norm"],
)
def test_fold_norm_gain_and_bias_into_several_linears(make):
    torch.manual_seed(0)
    d = 8
    norm = _randomised(make(d).double())
    linears = _linears(d, 3, bias=True)
    x = torch.randn(4, 6, d, dtype=torch.float64)
    before = [lin(norm(x)) for lin in linears]
    kept = fold_norm(norm, *linears)
    assert kept is norm and torch.equal(norm.weight, torch.ones(d, dtype=torch.float64))
    if getattr(norm, "bias", None) is not None:
        assert torch.equal(norm.bias, torch.zeros(d, dtype=torch.float64))
    for lin, ref in zip(linears, before):
        torch.testing.assert_close(lin(kept(x)), ref, rtol=0, atol=1e-12)


def test_fold_eval_batchnorm_replaces_it_by_identity():
    torch.manual_seed(1)
    bn = _randomised(nn.BatchNorm1d(6).double())
    bn.running_mean.copy_(torch.randn(6))
    bn.running_var.copy_(torch.rand(6) + 0.5)
    bn.eval()
    lin = _linears(6, 1, bias=False)[0]
    x = torch.randn(10, 6, dtype=torch.float64)
    ref = lin(bn(x))
    kept = fold_norm(bn, lin, add_bias=True)
    assert isinstance(kept, nn.Identity) and lin.bias is not None
    torch.testing.assert_close(lin(x), ref, rtol=0, atol=1e-12)


def test_affine_of_batchnorm_is_its_closed_form():
    bn = nn.BatchNorm1d(3, eps=0.0).double().eval()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([2.0, 1.0, -1.0]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, 3.0]))
        bn.running_mean.copy_(torch.tensor([1.0, 2.0, 0.0]))
        bn.running_var.copy_(torch.tensor([4.0, 1.0, 0.25]))
    scale, shift = norm_affine(bn)
    assert scale.tolist() == [1.0, 1.0, -2.0]
    assert shift.tolist() == [-1.0, -1.0, 3.0]


def test_refuses_what_cannot_fold():
    with pytest.raises(ValueError, match="training mode"):
        norm_affine(nn.BatchNorm1d(4))
    lin = nn.Linear(4, 2, bias=False)
    with pytest.raises(ValueError, match="no bias"):
        fold_affine_into_linear(lin, torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="shape"):
        fold_affine_into_linear(lin, torch.ones(3))
    with pytest.raises(ValueError, match="gain"):
        norm_affine(nn.Identity())
