"""Exact properties of JLCM: codebook membership, the grouping and the function-preserving reorder, the
k-means fixed point, and joint learning lowering the reconstruction error of its k-means init."""

import copy

import pytest
import torch
from paperzoo_compress.fixture import outlier_tinylm, text_blocks
from paperzoo_compress.linear import block_linears
from torch import nn

from paperzoo_jlcm.jlcm import (
    group_rows,
    jlcm_learn,
    jlcm_quantize_weight,
    kmeans_codebooks,
    reconstruction_error,
)
from paperzoo_jlcm.model import jlcm_quantize_, reorder_hidden_


def _weight(seed: int, out: int = 32, inp: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    row_scale = torch.logspace(-2, 0, out, dtype=torch.float64)[torch.randperm(out, generator=g)]
    return torch.randn(out, inp, generator=g, dtype=torch.float64) * row_scale[:, None]


def _hessian(seed: int, inp: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(256, inp, generator=g, dtype=torch.float64) * torch.linspace(
        0.2, 3.0, inp, dtype=torch.float64
    )
    return x.T @ x / 256


@pytest.mark.parametrize("steps", [0, 20])
@pytest.mark.parametrize("bits", [1, 2, 3])
def test_every_weight_is_an_entry_of_its_group_codebook(bits, steps):
    w = _weight(0)
    books = jlcm_quantize_weight(w, bits, 4, _hessian(0), steps=steps)
    q = books.weight()
    for g in range(4):
        rows = books.groups == g
        values = torch.unique(q[rows])
        assert len(values) <= 2**bits
        assert torch.isin(values, books.codebook[g]).all()
    assert torch.all(books.codebook[:, 1:] >= books.codebook[:, :-1])  # sorted: neighbours are adjacent


def test_groups_are_contiguous_chunks_of_rows_sorted_by_spread():
    w = _weight(1)
    perm, groups = group_rows(w, 4)
    assert sorted(perm.tolist()) == list(range(32))
    assert groups[perm].tolist() == [i // 8 for i in range(32)]
    std = w.std(1)
    for g in range(3):  # every row of a group spreads less than every row of the next group
        assert std[groups == g].max() <= std[groups == g + 1].min()
    with pytest.raises(ValueError, match="n_groups"):
        group_rows(w, 33)


def test_kmeans_init_is_a_lloyd_fixed_point():
    w = _weight(2)
    books = kmeans_codebooks(w, group_rows(w, 2)[1], 2)
    for g in range(2):
        x = w[books.groups == g].reshape(-1)
        codes = books.codes[books.groups == g].reshape(-1)
        c = books.codebook[g]
        assert torch.equal(codes, (x[:, None] - c[None]).abs().argmin(1))  # nearest-centre labels
        for j in range(4):
            assert torch.allclose(c[j], x[codes == j].mean(), atol=1e-15, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_joint_learning_lowers_the_reconstruction_error_of_the_kmeans_init(seed):
    w, h = _weight(seed), _hessian(seed)
    init = kmeans_codebooks(w, group_rows(w, 4)[1], 2)
    best, history = jlcm_learn(w, init, h, steps=60)
    err_init = float(reconstruction_error(init.weight(), w, h))
    err_best = float(reconstruction_error(best.weight(), w, h))
    assert history[0] == pytest.approx(err_init, rel=1e-12)
    assert err_best == pytest.approx(min(history), rel=1e-12)
    assert err_best < 0.99 * err_init, (err_init, err_best)  # a real decrease (measured 2-9 %)


def test_assignments_move_at_most_one_codeword_per_step():
    w, h = _weight(3), _hessian(3)
    init = kmeans_codebooks(w, group_rows(w, 4)[1], 3)
    one, _ = jlcm_learn(w, init, h, steps=1, lr=0.5)  # a large step: the proximal rule still limits moves
    assert (one.codes - init.codes).abs().max() <= 1


def test_more_groups_do_not_raise_kmeans_weight_error_on_rows_of_different_spread():
    w = _weight(4)
    errors = [
        float(reconstruction_error(jlcm_quantize_weight(w, 2, n, steps=0).weight(), w, None)) for n in (1, 4)
    ]
    assert errors[1] < errors[0]


def test_reordering_hidden_units_keeps_the_block_function():
    torch.manual_seed(0)
    gate, up, down = nn.Linear(6, 10).double(), nn.Linear(6, 10).double(), nn.Linear(10, 6).double()

    def f(x):
        return down(nn.functional.silu(gate(x)) * up(x))

    x = torch.randn(5, 6, dtype=torch.float64)
    before = f(x)
    perm, _ = group_rows(up.weight, 2)
    w_up = up.weight.detach().clone()
    reorder_hidden_([gate, up], down, perm)
    assert torch.equal(up.weight, w_up[perm])
    torch.testing.assert_close(f(x), before, atol=1e-14, rtol=0)
    _, groups = group_rows(up.weight, 2)
    assert groups.tolist() == [0] * 5 + [1] * 5  # after the reorder every group is contiguous


def test_model_quantisation_uses_each_linears_codebooks():
    model = outlier_tinylm(0)
    quantized = copy.deepcopy(model)
    books = jlcm_quantize_(quantized, text_blocks("train", 2, 32, seed=0), 2, 8, steps=2)
    linears = block_linears(quantized)
    assert set(books) == set(linears)
    for name, linear in linears.items():
        assert torch.equal(linear.weight, books[name].weight())
        for g in range(books[name].codebook.shape[0]):
            assert len(torch.unique(linear.weight[books[name].groups == g])) <= 4
    assert not torch.equal(
        block_linears(model)["blocks.0.mlp.up_proj"].weight, linears["blocks.0.mlp.up_proj"].weight
    )
