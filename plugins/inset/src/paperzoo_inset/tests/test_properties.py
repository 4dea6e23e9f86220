"""Exact properties of the INSET subset encoder."""

import pytest
import torch

from paperzoo_inset.data import make_subsets
from paperzoo_inset.encoder import InsetSubsetEncoder


def _model(seed: int = 0, **kw) -> InsetSubsetEncoder:
    torch.manual_seed(seed)
    return InsetSubsetEncoder(3, 16, **kw).double()


def _inputs(b: int = 4, n: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, 3, generator=g, dtype=torch.float64)
    s = torch.rand(b, n, generator=g) < 0.5
    s[:, 0] = True
    return x, s


@pytest.mark.parametrize("fusion", ["concat", "product"])
@pytest.mark.parametrize("pool", ["sum", "mean", "max"])
def test_invariant_to_permutations_of_s_and_v(fusion, pool):
    model = _model(fusion=fusion, pool=pool)
    x, s = _inputs()
    ref = model(x, s)
    for seed in range(4):
        perm = torch.randperm(7, generator=torch.Generator().manual_seed(seed))
        assert (model(x[:, perm], s[:, perm]) - ref).abs().max() < 1e-13
    # permuting only within S (swap two members of S) or only within V \ S: the same value again
    x2 = x.clone()
    in_s = s[0].nonzero().flatten()
    if len(in_s) >= 2:
        i, j = in_s[:2].tolist()
        x2[0, [i, j]] = x2[0, [j, i]]
    assert (model(x2, s) - ref).abs().max() < 1e-13


def test_same_subset_in_different_supersets_differs():
    """The subset-only baseline cannot tell these apart; INSET can."""
    x, s = _inputs(b=1, n=6, seed=1)
    s = torch.tensor([[True, True, False, False, False, False]])
    other = x.clone()
    other[0, 2:] = torch.randn(4, 3, dtype=torch.float64)  # same S, other background V \ S
    for fusion in ("concat", "product"):
        model = _model(fusion=fusion)
        assert (model(x, s) - model(other, s)).abs().max() > 1e-6, fusion
    baseline = _model(superset=False)
    assert torch.equal(baseline(x, s), baseline(other, s))


def test_reduces_to_subset_deepsets_when_superset_branch_is_off_concat():
    """Zeroing rho's weights on h_V gives exactly the subset-only DeepSets with the same weights."""
    inset = _model(fusion="concat")
    deepsets = _model(superset=False)
    with torch.no_grad():
        deepsets.phi_s.load_state_dict(inset.phi_s.state_dict())
        for a, b in zip(deepsets.rho, inset.rho):
            if isinstance(a, torch.nn.Linear):
                a.load_state_dict(b.state_dict()) if a.weight.shape == b.weight.shape else None
        first = inset.rho[0]
        first.weight[:, 16:] = 0.0
        deepsets.rho[0].weight.copy_(first.weight[:, :16])
        deepsets.rho[0].bias.copy_(first.bias)
    x, s = _inputs(seed=2)
    assert (inset(x, s) - deepsets(x, s)).abs().max() <= 1e-15


def test_reduces_to_subset_deepsets_when_superset_branch_is_one_product():
    """phi_V = 1/N for every element (N = 4, exact in binary): h_V = 1 and h_S * h_V = h_S bit for bit."""
    inset = _model(fusion="product")
    deepsets = _model(superset=False)
    with torch.no_grad():
        inset.phi_v[-1].weight.zero_()
        inset.phi_v[-1].bias.fill_(0.25)
        deepsets.phi_s.load_state_dict(inset.phi_s.state_dict())
        deepsets.rho.load_state_dict(inset.rho.state_dict())
    x, s = _inputs(n=4, seed=3)
    assert torch.equal(inset(x, s), deepsets(x, s))


def test_formula_by_hand():
    model = _model(fusion="concat")
    x, s = _inputs(b=2, n=5, seed=4)
    h_s = torch.stack([model.phi_s(x[b][s[b]]).sum(0) for b in range(2)])
    h_v = model.phi_v(x).sum(1)
    expected = model.rho(torch.cat([h_s, h_v], -1))
    assert (model(x, s) - expected).abs().max() < 1e-13


def test_padding_of_v_is_ignored_and_subset_channel_matches():
    model = _model()
    x, s = _inputs(b=2, n=5, seed=5)
    padded = torch.cat([x, torch.full((2, 3, 3), 1e6, dtype=torch.float64)], 1)
    mask = torch.tensor([[True] * 5 + [False] * 3] * 2)
    s_pad = torch.cat([s, torch.ones(2, 3, dtype=torch.bool)], 1)  # even "in S": padding never counts
    assert (model(padded, s_pad, mask) - model(x, s)).abs().max() < 1e-12
    packed = torch.cat([x, s.double()[..., None]], -1)
    assert (model(packed) - model(x, s)).abs().max() < 1e-14  # a strided view: another matmul path


def test_dataset_target():
    x, y = make_subsets(64, n=10, features=2, seed=0)
    v, s = x[..., 0], x[..., -1] > 0.5
    assert s.any(1).all()
    expected = torch.stack([v[i][s[i]].max() - v[i].mean() for i in range(64)])
    assert torch.allclose(y[:, 0], expected, atol=1e-6)


def test_bad_params():
    with pytest.raises(ValueError, match="fusion"):
        InsetSubsetEncoder(3, fusion="sum")
    with pytest.raises(ValueError, match="pool"):
        InsetSubsetEncoder(3, pool="median")
