"""Parity: no reference implementation was found (no official INSET code could be located, and no
package implements it), so the paper's formula is written independently here, in loops over plain
tensors, and compared with the module. F(S; V) = rho(fuse(sum_{x in S} phi_S(x), sum_{x in V} phi_V(x)))."""

import pytest
import torch

from paperzoo_inset.encoder import InsetSubsetEncoder


def _mlp_by_hand(layers: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    linears = [m for m in layers if isinstance(m, torch.nn.Linear)]
    for i, lin in enumerate(linears):
        x = x @ lin.weight.T + lin.bias
        if i < len(linears) - 1:
            x = torch.clamp(x, min=0.0)
    return x


def _inset_by_hand(model, elements: list[torch.Tensor], subset: list[int]) -> torch.Tensor:
    h_s = sum(_mlp_by_hand(model.phi_s, elements[i]) for i in subset)
    h_v = sum(_mlp_by_hand(model.phi_v, e) for e in elements)
    fused = torch.cat([h_s, h_v]) if model.fusion == "concat" else h_s * h_v
    return _mlp_by_hand(model.rho, fused)


@pytest.mark.parametrize("fusion", ["concat", "product"])
def test_matches_the_formula(fusion, record_property):
    torch.manual_seed(0)
    model = InsetSubsetEncoder(3, 12, out_features=2, fusion=fusion).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 3, generator=g, dtype=torch.float64)
    subsets = [[0], [1, 3, 5], [0, 1, 2, 3, 4, 5]]
    s = torch.zeros(3, 6, dtype=torch.bool)
    for b, idx in enumerate(subsets):
        s[b, idx] = True
    got = model(x, s)
    want = torch.stack([_inset_by_hand(model, list(x[b]), subsets[b]) for b in range(3)])
    err = (got - want).abs().max().item()
    record_property(f"max_abs_diff_formula_{fusion}_float64", err)
    assert err < 1e-13, err  # float64, summation order only
